//! The meeting point of all inputs: every file's chunks arrive here in
//! file order, and their requests go through the one retry stage, merged
//! across files by time, so a client whose requests are spread over
//! several files (nodes behind a load balancer, a rotation mid-incident) is
//! one client with one history.
//!
//! The merge is a k-way merge of the files' requests, each file in line
//! order: the next request labelled is the earliest of the files' next
//! requests, and a file being read that has none buffered yet holds the
//! merge until it has. Its result therefore depends on the lines alone,
//! never on chunk sizes, threads or timing. A file that starts later than
//! the files being read have got to is not read yet (see
//! [`Merger::wait_until_due`]), so memory follows the overlap of the inputs
//! in time, not their size.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::{Batch, Pool, Row, RowSink, StageEvent};
use crate::aggregate::{Aggregate, CellKey};
use crate::retry::{ChainSink, ChainStats, Request, RetryConfig, RetryStage};
use crate::time::Micros;

/// The cells of open chains' first retries, by number: the retry stage
/// keeps a small number per chain rather than the cell's names.
#[derive(Default)]
struct Keys {
    keys: Vec<CellKey>,
    free: Vec<u32>,
}

impl Keys {
    fn put(&mut self, k: CellKey) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.keys[i as usize] = k;
                i
            }
            None => {
                self.keys.push(k);
                (self.keys.len() - 1) as u32
            }
        }
    }

    fn take(&mut self, i: u32) -> CellKey {
        self.free.push(i);
        std::mem::replace(&mut self.keys[i as usize], CellKey::placeholder())
    }
}

/// Finished chains go to the run's accumulator.
struct Chains<'a> {
    acc: &'a mut Aggregate,
    keys: &'a RefCell<Keys>,
}

impl ChainSink<u32> for Chains<'_> {
    fn chain(&mut self, client: u64, key: u32, stats: &ChainStats) {
        let key = self.keys.borrow_mut().take(key);
        self.acc.add_chain(client, key, stats);
    }
}

/// How many requests ahead the stage is asked to fetch client states.
const PREFETCH: usize = 8;

struct Lane {
    path: String,
    /// The time of its first request, if any.
    t0: Option<Micros>,
    started: bool,
    finished: bool,
    /// Latest timestamp of the chunks received so far.
    frontier: Micros,
    queue: VecDeque<(Batch, usize)>,
}

struct State<'s> {
    stage: RetryStage<u32>,
    keys: RefCell<Keys>,
    lanes: Vec<Lane>,
    acc: Aggregate,
    window: i64,
    sink: Option<&'s mut dyn RowSink>,
    /// Labelled rows waiting for the sink: (lane, row).
    rows: Vec<(usize, Row)>,
    /// Event buffers of labelled batches, for the workers to reuse.
    emptied: Vec<Vec<StageEvent>>,
    failed: Option<io::ErrorKind>,
}

pub(super) struct Merger<'s> {
    state: Mutex<State<'s>>,
    changed: Condvar,
    spare: Pool<Vec<StageEvent>>,
}

fn lock<'a, 's>(m: &'a Mutex<State<'s>>) -> MutexGuard<'a, State<'s>> {
    // A poisoned lock means a worker panicked; the scope re-raises it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<'s> Merger<'s> {
    /// Lanes in the order given (the scan sorts them by start time).
    pub fn new(
        lanes: Vec<(String, Option<Micros>)>,
        cfg: RetryConfig,
        acc: Aggregate,
        sink: Option<&'s mut dyn RowSink>,
    ) -> Self {
        let lanes = lanes
            .into_iter()
            .map(|(path, t0)| Lane {
                path,
                t0,
                started: false,
                finished: false,
                frontier: t0.unwrap_or(Micros::MIN),
                queue: VecDeque::new(),
            })
            .collect();
        Merger {
            state: Mutex::new(State {
                stage: RetryStage::new(cfg),
                keys: RefCell::default(),
                lanes,
                acc,
                window: cfg.window_us,
                sink,
                rows: Vec::new(),
                emptied: Vec::new(),
                failed: None,
            }),
            changed: Condvar::new(),
            spare: Pool::default(),
        }
    }

    /// Emptied event buffers for the chunks still to parse.
    pub fn spare_events(&self) -> &Pool<Vec<StageEvent>> {
        &self.spare
    }

    /// Lane `i` is being read.
    pub fn start(&self, i: usize) {
        lock(&self.state).lanes[i].started = true;
    }

    /// Whether lane `i` (the next not started) should start now: the lanes
    /// being read have reached its first timestamp (less the window, so
    /// that chains crossing into it find their start).
    fn due(st: &State<'_>, i: usize) -> bool {
        let Some(t0) = st.lanes[i].t0 else {
            return true;
        };
        let reading = st
            .lanes
            .iter()
            .filter(|l| l.started && !l.finished)
            .map(|l| l.frontier)
            .min()
            .unwrap_or(Micros::MAX);
        reading >= t0.saturating_sub(st.window)
    }

    /// Blocks until lane `next` is due (see [`Merger::due`]).
    pub fn wait_until_due(&self, next: usize) {
        let mut st = lock(&self.state);
        while !Self::due(&st, next) {
            st = self
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Takes the next chunk of lane `i` (chunks arrive in file order) and
    /// labels every request that is now safe to label.
    pub fn push(&self, i: usize, batch: Batch) -> io::Result<()> {
        let mut st = lock(&self.state);
        if let Some(kind) = st.failed {
            return Err(kind.into());
        }
        let lane = &mut st.lanes[i];
        if let Some(last) = batch.max_ts {
            lane.frontier = lane.frontier.max(last);
        }
        if !batch.events.is_empty() {
            lane.queue.push_back((batch, 0));
        } else {
            st.acc.merge(batch.agg);
        }
        let r = st.release(false);
        let emptied = std::mem::take(&mut st.emptied);
        drop(st);
        self.changed.notify_all();
        for v in emptied {
            self.spare.give(v);
        }
        r
    }

    /// Lane `i` has no more chunks.
    pub fn finish_lane(&self, i: usize) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.lanes[i].finished = true;
        st.lanes[i].started = true;
        let r = if st.failed.is_none() {
            st.release(false)
        } else {
            Ok(())
        };
        drop(st);
        self.changed.notify_all();
        r
    }

    /// Labels what is left, closes every chain and returns the run's
    /// aggregate and the retry stage's peak number of clients.
    pub fn finish(self) -> io::Result<(Aggregate, usize)> {
        let mut st = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(kind) = st.failed {
            return Err(kind.into());
        }
        st.release(true)?;
        let State {
            stage,
            mut acc,
            keys,
            ..
        } = st;
        let peak = stage.finish(&mut Chains {
            acc: &mut acc,
            keys: &keys,
        });
        Ok((acc, peak))
    }
}

impl State<'_> {
    /// Labels the requests that are next in time order across lanes, as
    /// far as every lane still being read has delivered (all, with `all`).
    fn release(&mut self, all: bool) -> io::Result<()> {
        // When a lane may still deliver a request: its next one, or (not
        // read yet) its first, or (being read, nothing buffered) any time.
        let next = |l: &Lane| -> Option<Micros> {
            match l.queue.front() {
                Some((b, at)) => Some(b.events[*at].ts),
                None if all || l.finished => None,
                None if l.started => Some(Micros::MIN),
                None => Some(l.t0.unwrap_or(Micros::MIN)),
            }
        };
        // The lane whose next request is earliest (ties: lane order).
        while let Some((ts, i)) = self
            .lanes
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.queue.is_empty())
            .filter_map(|(i, l)| next(l).map(|t| (t, i)))
            .min()
        {
            // It may go on up to the time of any other lane (ties: order).
            let limit = self
                .lanes
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .filter_map(|(j, l)| next(l).map(|t| (t, j)))
                .min()
                .unwrap_or((Micros::MAX, usize::MAX));
            if (ts, i) > limit {
                break;
            }
            self.label_run(i, limit);
        }
        self.flush_rows()
    }

    /// Labels lane `i`'s requests in line order while they come before
    /// `limit`, the time and number of the lane that may deliver next.
    fn label_run(&mut self, i: usize, limit: (Micros, usize)) {
        let State {
            stage,
            keys,
            lanes,
            acc,
            rows,
            sink,
            emptied,
            ..
        } = self;
        let lane = &mut lanes[i];
        let ok = |ts: Micros| (ts, i) < limit;
        while let Some((batch, at)) = lane.queue.front_mut() {
            while *at < batch.events.len() && ok(batch.events[*at].ts) {
                let e = batch.events[*at];
                // The states of the clients a few requests ahead, asked for
                // now so that they are in cache when their turn comes.
                let ahead = |d: usize| batch.events.get(*at + d).map_or(0, |e| e.client);
                stage.prefetch(ahead(PREFETCH / 2), ahead(PREFETCH));
                *at += 1;
                let agg = &mut batch.agg;
                if !e.health {
                    let req = Request {
                        ts: e.ts,
                        client: e.client,
                        op: e.op,
                        status: e.status,
                        token: e.key.3,
                        auth_route: e.auth_route,
                        attempt: e.attempt,
                    };
                    let label = stage.label(
                        &req,
                        |l| {
                            let k = agg.cell_key(&(e.key.0, e.key.1, e.key.2, l.token, e.key.4));
                            keys.borrow_mut().put(k)
                        },
                        &mut Chains { acc, keys },
                    );
                    let key = (e.key.0, e.key.1, e.key.2, label.token, e.key.4);
                    if e.deferred {
                        agg.add_deferred(key, e.status, e.bin, e.client);
                    }
                    agg.add_label(&key, e.client, &label);
                    if label.retry {
                        agg.client_retry(e.client, &key, e.ts);
                    }
                    if let Some(r) = batch.rows.get_mut(e.row as usize) {
                        r.retry = label.retry;
                        r.resend = label.resend;
                        r.looping = label.looping;
                        r.token_state = label.token;
                    }
                }
                if sink.is_some()
                    && let Some(r) = batch.rows.get_mut(e.row as usize)
                {
                    rows.push((i, std::mem::take(r)));
                }
            }
            if *at < batch.events.len() {
                return;
            }
            let (done, _) = lane.queue.pop_front().expect("the batch just labelled");
            acc.merge(done.agg);
            let mut events = done.events;
            events.clear();
            emptied.push(events);
        }
    }

    /// Hands labelled rows to the sink, a run of one file at a time.
    fn flush_rows(&mut self) -> io::Result<()> {
        let Some(sink) = self.sink.as_deref_mut() else {
            return Ok(());
        };
        let mut rows = std::mem::take(&mut self.rows);
        let mut start = 0;
        let mut out: Vec<Row> = Vec::new();
        while start < rows.len() {
            let lane = rows[start].0;
            let end = rows[start..]
                .iter()
                .position(|(l, _)| *l != lane)
                .map_or(rows.len(), |n| start + n);
            out.clear();
            out.extend(rows[start..end].iter_mut().map(|(_, r)| std::mem::take(r)));
            if let Err(e) = sink.write(&self.lanes[lane].path, &out) {
                self.failed = Some(e.kind());
                return Err(e);
            }
            start = end;
        }
        rows.clear();
        self.rows = rows;
        Ok(())
    }
}
