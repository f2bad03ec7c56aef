//! The meeting point of all inputs: every file's chunks arrive here in
//! file order, and their requests go through the one retry stage in time
//! order across files, so a client whose requests are spread over several
//! files (nodes behind a load balancer, a rotation mid-incident) is one
//! client with one history.
//!
//! Each file (a lane) says how far in time it has got: its frontier, the
//! latest timestamp of its chunks so far, less a slack for lines written
//! out of order. Requests up to the smallest frontier of the lanes still
//! being read are safe to label; the rest wait. A file that starts later
//! than that is not read yet (see [`Merger::due`]), so memory follows the
//! overlap of the inputs in time, not their size.

use std::collections::VecDeque;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::{Batch, Pool, Row, RowSink, StageEvent};
use crate::aggregate::{Aggregate, CellKey};
use crate::retry::{ChainSink, ChainStats, Request, RetryConfig, RetryStage};
use crate::time::Micros;

/// Finished chains go to the run's accumulator.
struct Chains<'a>(&'a mut Aggregate);

impl ChainSink<CellKey> for Chains<'_> {
    fn chain(&mut self, client: u64, key: CellKey, stats: &ChainStats) {
        self.0.add_chain(client, key, stats);
    }
}

struct Lane {
    path: String,
    /// Earliest timestamp seen at the start of the file, if any.
    t0: Option<Micros>,
    started: bool,
    finished: bool,
    /// Latest timestamp of the chunks received so far.
    frontier: Micros,
    /// How far behind the frontier a line of this file may still be.
    slack: i64,
    queue: VecDeque<(Batch, usize)>,
}

struct State<'s> {
    stage: RetryStage<CellKey>,
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
                slack: cfg.window_us,
                queue: VecDeque::new(),
            })
            .collect();
        Merger {
            state: Mutex::new(State {
                stage: RetryStage::new(cfg),
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
    /// being read have reached its first timestamp.
    fn due(st: &State<'_>, i: usize) -> bool {
        let Some(t0) = st.lanes[i].t0 else {
            return true;
        };
        let reading = st
            .lanes
            .iter()
            .filter(|l| l.started && !l.finished)
            .map(|l| l.frontier.saturating_sub(l.slack))
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
        if let (Some(first), Some(last)) = (batch.min_ts, batch.max_ts) {
            // Lines older than what the file already showed: widen the
            // slack so that later chunks' stragglers still arrive in time.
            let behind = lane.frontier.saturating_sub(first).max(batch.disorder);
            lane.slack = lane.slack.max(behind.saturating_mul(2));
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
        let State { stage, mut acc, .. } = st;
        let peak = stage.finish(&mut Chains(&mut acc));
        Ok((acc, peak))
    }
}

impl State<'_> {
    /// The time up to which every lane has delivered its requests.
    fn horizon(&self) -> Micros {
        self.lanes
            .iter()
            .filter(|l| !l.finished)
            .map(|l| {
                if l.started {
                    l.frontier.saturating_sub(l.slack)
                } else {
                    l.t0.map_or(Micros::MIN, |t| t.saturating_sub(self.window))
                }
            })
            .min()
            .unwrap_or(Micros::MAX)
    }

    /// Labels requests in time order up to the horizon (all with `all`).
    fn release(&mut self, all: bool) -> io::Result<()> {
        let horizon = if all { Micros::MAX } else { self.horizon() };
        loop {
            // The lane whose next request is earliest (ties: lane order).
            let mut best: Option<(Micros, usize)> = None;
            for (i, l) in self.lanes.iter().enumerate() {
                if let Some((b, at)) = l.queue.front() {
                    let ts = b.events[*at].ts;
                    if best.is_none_or(|(t, _)| ts < t) {
                        best = Some((ts, i));
                    }
                }
            }
            let Some((ts, i)) = best else { break };
            if ts > horizon {
                break;
            }
            self.label_next(i);
        }
        self.flush_rows()
    }

    fn label_next(&mut self, i: usize) {
        let State {
            stage,
            lanes,
            acc,
            rows,
            sink,
            emptied,
            ..
        } = self;
        let lane = &mut lanes[i];
        let Some((batch, at)) = lane.queue.front_mut() else {
            return;
        };
        let e = batch.events[*at];
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
                |l| agg.cell_key(&(e.key.0, e.key.1, e.key.2, l.token, e.key.4)),
                &mut Chains(acc),
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
        if *at == batch.events.len() {
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
