//! Retry chains: which requests are retries, and how clients back off.
//!
//! A request is a retry when the same client repeats the same operation
//! (method + route) within the retry window after a failed attempt (401,
//! 403, 408, 429, 499 or 5xx), or when it carries an explicit attempt
//! number of 2 or more. Consecutive retries form a chain; when a chain ends
//! its gaps are classified (`none` for a tight loop, `fixed`, `exponential`,
//! `exponential_jitter`, or `single` for a lone retry) and its statistics
//! are added to the cube, keyed by the cell of its first retry.
//!
//! The stage runs per input file, over chunks in file order, so labels do
//! not depend on threads or chunking. State is one small record per client
//! (about 100 bytes): every 8,192 requests, clients quiet for longer than
//! the retry window are folded away, so it holds at most the clients seen
//! in the window plus those of one such period.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, CellKey, HotKey};
use crate::classify::TokenState;
use crate::time::{MICROS_PER_SEC, Micros};

pub const DEFAULT_WINDOW_US: i64 = 60 * MICROS_PER_SEC;
/// Quiet clients are folded away every this many requests of a file. Tied
/// to the request sequence, never to chunk boundaries, so labels do not
/// depend on how the file was cut.
const EVICT_EVERY: u64 = 8192;
/// Gaps kept per chain for classification; longer chains keep the first ones.
const MAX_GAPS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// Tight loop: median gap of at most one second.
    None,
    Fixed,
    Exponential,
    ExponentialJitter,
    /// One retry: no pattern to classify.
    Single,
}

impl Backoff {
    pub fn name(self) -> &'static str {
        match self {
            Backoff::None => "none",
            Backoff::Fixed => "fixed",
            Backoff::Exponential => "exponential",
            Backoff::ExponentialJitter => "exponential_jitter",
            Backoff::Single => "single",
        }
    }
}

/// Statistics of finished chains; mergeable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainStats {
    pub chains: u64,
    /// Requests in chains (the first attempt included).
    pub attempts: u64,
    pub max_attempts: u64,
    pub by_backoff: BTreeMap<Backoff, u64>,
    /// Chains in which an expired token was sent again after a 401 said so.
    pub expired_resends: u64,
}

impl ChainStats {
    pub fn merge(&mut self, o: &ChainStats) {
        self.chains += o.chains;
        self.attempts += o.attempts;
        self.max_attempts = self.max_attempts.max(o.max_attempts);
        for (k, v) in &o.by_backoff {
            *self.by_backoff.entry(*k).or_default() += v;
        }
        self.expired_resends += o.expired_resends;
    }

    fn add(&mut self, c: &Chain, b: Backoff) {
        self.chains += 1;
        self.attempts += c.attempts;
        self.max_attempts = self.max_attempts.max(c.attempts);
        *self.by_backoff.entry(b).or_default() += 1;
        if c.expired_resend {
            self.expired_resends += 1;
        }
    }
}

/// Retry behaviour of one client (only clients that retried are kept).
/// The app and version are those of its last retry: names in the cube,
/// interned ids (`N`) in a scan's partial aggregates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientRetries<N = String> {
    pub app: N,
    pub version: N,
    pub retries: u64,
    #[serde(flatten)]
    pub chains: ChainStats,
    pub first_retry: Micros,
    pub last_retry: Micros,
}

impl<N: Clone> ClientRetries<N> {
    pub fn merge(&mut self, o: &ClientRetries<N>) {
        if o.last_retry >= self.last_retry {
            self.app.clone_from(&o.app);
            self.version.clone_from(&o.version);
        }
        if self.retries == 0 {
            self.first_retry = o.first_retry;
        } else if o.retries > 0 {
            self.first_retry = self.first_retry.min(o.first_retry);
        }
        self.retries += o.retries;
        self.chains.merge(&o.chains);
        self.last_retry = self.last_retry.max(o.last_retry);
    }
}

/// What the retry stage needs of one request, recorded during parsing.
#[derive(Debug, Clone)]
pub struct RetryEvent {
    pub client: u64,
    pub ts: Micros,
    /// Hash of `METHOD route`, stable across chunks.
    pub op: u64,
    pub status: Option<u16>,
    pub token: TokenState,
    pub attempt: Option<u32>,
    pub key: HotKey,
}

pub fn is_failure(status: Option<u16>) -> bool {
    matches!(status, Some(401 | 403 | 408 | 429 | 499 | 500..=599))
}

#[derive(Debug, Clone)]
struct Chain {
    start_key: CellKey,
    attempts: u64,
    gaps: Vec<f64>,
    expired_resend: bool,
}

#[derive(Debug, Clone)]
struct ClientState {
    ts: Micros,
    op: u64,
    failed: bool,
    expired_401: bool,
    chain: Option<Chain>,
}

/// Classifies a chain from its gaps (seconds). See the README for the rules.
pub fn classify_backoff(gaps: &[f64]) -> Backoff {
    // Logs with one-second timestamps (CLF) show a sub-second loop as gaps
    // of 0 and 1 s, so "tight" means a median gap of at most one second.
    if gaps.len() < 2 {
        return Backoff::Single;
    }
    let mut sorted = gaps.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if median <= 1.0 {
        return Backoff::None;
    }
    // A capped backoff ends on a plateau; fit the growth before it.
    let last = gaps[gaps.len() - 1];
    let plateau = gaps
        .iter()
        .rev()
        .take_while(|g| (*g - last).abs() <= 0.05 * last)
        .count();
    let full = gaps;
    let gaps = if plateau >= 2 && gaps.len() - plateau + 1 >= 3 {
        &gaps[..gaps.len() - plateau + 1]
    } else {
        gaps
    };
    // Slope of log(gap) against attempt number: the backoff multiplier.
    let n = gaps.len() as f64;
    let logs: Vec<f64> = gaps.iter().map(|g| g.max(0.5).ln()).collect();
    let mx = (n - 1.0) / 2.0;
    let my = logs.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in logs.iter().enumerate() {
        sxy += (i as f64 - mx) * (y - my);
        sxx += (i as f64 - mx).powi(2);
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let multiplier = slope.exp();
    let resid: f64 = logs
        .iter()
        .enumerate()
        .map(|(i, y)| (y - (my + slope * (i as f64 - mx))).powi(2))
        .sum::<f64>()
        / n;
    let fnn = full.len() as f64;
    let mean = full.iter().sum::<f64>() / fnn;
    let cv = (full.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / fnn).sqrt() / mean;
    if multiplier >= 1.3 {
        if resid.sqrt() < 0.15 {
            Backoff::Exponential
        } else {
            Backoff::ExponentialJitter
        }
    } else if cv < 0.35 {
        Backoff::Fixed
    } else {
        Backoff::ExponentialJitter
    }
}

/// The per-file retry stage. Feed it each chunk's events in file order.
#[derive(Default)]
pub struct RetryStage {
    window_us: i64,
    clients: FxHashMap<u64, ClientState>,
    max_ts: Micros,
    seen: u64,
    /// Peak number of clients held, for the memory bound.
    pub peak_clients: usize,
}

impl RetryStage {
    pub fn new(window_us: i64) -> Self {
        RetryStage {
            window_us,
            ..Default::default()
        }
    }

    /// Labels `events` (one chunk, in order), counting retries into `agg`,
    /// whose ids the events' keys refer to. Finished chains go to `agg` too.
    pub fn apply(&mut self, events: &[RetryEvent], agg: &mut Aggregate) {
        self.apply_flags(events, agg, None);
    }

    /// As [`apply`](Self::apply), also recording each event's retry label.
    pub fn apply_flags(
        &mut self,
        events: &[RetryEvent],
        agg: &mut Aggregate,
        mut flags: Option<&mut Vec<bool>>,
    ) {
        for e in events {
            self.seen += 1;
            if self.seen.is_multiple_of(EVICT_EVERY) {
                self.peak_clients = self.peak_clients.max(self.clients.len());
                self.evict(agg);
            }
            self.max_ts = self.max_ts.max(e.ts);
            let prev = self.clients.get_mut(&e.client);
            let heuristic = prev.as_ref().is_some_and(|p| {
                p.op == e.op && p.failed && e.ts >= p.ts && e.ts - p.ts <= self.window_us
            });
            let retry = match e.attempt {
                Some(a) => a >= 2,
                None => heuristic,
            };
            if let Some(f) = flags.as_deref_mut() {
                f.push(retry);
            }
            match prev {
                Some(p) => {
                    if retry {
                        agg.count_retry(&e.key);
                        let gap = (e.ts - p.ts).max(0) as f64 / MICROS_PER_SEC as f64;
                        let resend = p.expired_401 && e.token == TokenState::Expired;
                        match &mut p.chain {
                            Some(c) => {
                                c.attempts += 1;
                                if c.gaps.len() < MAX_GAPS {
                                    c.gaps.push(gap);
                                }
                                c.expired_resend |= resend;
                            }
                            None => {
                                p.chain = Some(Chain {
                                    start_key: agg.cell_key(&e.key),
                                    attempts: 2,
                                    gaps: vec![gap],
                                    expired_resend: resend,
                                });
                            }
                        }
                        agg.client_retry(e.client, &e.key, e.ts);
                    } else if let Some(c) = p.chain.take() {
                        close(e.client, c, agg);
                    }
                    // A late, older line does not replace a newer state.
                    if e.ts >= p.ts {
                        p.ts = e.ts;
                        p.op = e.op;
                        p.failed = is_failure(e.status);
                        p.expired_401 = e.status == Some(401) && e.token == TokenState::Expired;
                    }
                }
                None => {
                    if retry {
                        // An explicit attempt number on the first request seen.
                        agg.count_retry(&e.key);
                        agg.client_retry(e.client, &e.key, e.ts);
                    }
                    self.clients.insert(
                        e.client,
                        ClientState {
                            ts: e.ts,
                            op: e.op,
                            failed: is_failure(e.status),
                            expired_401: e.status == Some(401) && e.token == TokenState::Expired,
                            chain: None,
                        },
                    );
                }
            }
        }
        self.peak_clients = self.peak_clients.max(self.clients.len());
    }

    /// Folds away clients quiet for longer than the window.
    fn evict(&mut self, agg: &mut Aggregate) {
        let horizon = self.max_ts - self.window_us;
        let stale: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, s)| s.ts < horizon)
            .map(|(c, _)| *c)
            .collect();
        for c in stale {
            if let Some(s) = self.clients.remove(&c)
                && let Some(ch) = s.chain
            {
                close(c, ch, agg);
            }
        }
    }

    /// Closes every open chain (end of the file).
    pub fn finish(mut self, agg: &mut Aggregate) -> usize {
        let mut open: Vec<(u64, ClientState)> = self.clients.drain().collect();
        open.sort_by_key(|(c, _)| *c);
        for (c, s) in open {
            if let Some(ch) = s.chain {
                close(c, ch, agg);
            }
        }
        self.peak_clients
    }
}

fn close(client: u64, c: Chain, agg: &mut Aggregate) {
    let b = classify_backoff(&c.gaps);
    let mut one = ChainStats::default();
    one.add(&c, b);
    agg.add_chain(client, c.start_key, &one);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_classes() {
        assert_eq!(classify_backoff(&[0.3, 0.5, 0.4, 0.6]), Backoff::None);
        assert_eq!(
            classify_backoff(&[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]),
            Backoff::None,
            "CLF seconds"
        );
        assert_eq!(classify_backoff(&[5.0, 5.1, 4.9, 5.0]), Backoff::Fixed);
        assert_eq!(
            classify_backoff(&[1.0, 2.0, 4.0, 8.0, 16.0]),
            Backoff::Exponential
        );
        assert_eq!(
            classify_backoff(&[2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]),
            Backoff::Exponential,
            "capped"
        );
        assert_eq!(
            classify_backoff(&[1.2, 1.5, 4.4, 5.0, 14.0, 20.0]),
            Backoff::ExponentialJitter
        );
        assert_eq!(classify_backoff(&[3.0]), Backoff::Single);
        assert_eq!(classify_backoff(&[0.2]), Backoff::Single);
        // Full jitter: random(0, cap) with a doubling cap.
        assert_eq!(
            classify_backoff(&[0.6, 1.9, 2.2, 7.5, 9.0, 30.0]),
            Backoff::ExponentialJitter
        );
    }

    use crate::aggregate::Aggregate;
    use crate::classify::Classified;
    use crate::event::Event;
    use std::borrow::Cow;

    fn ev(ts_ms: i64) -> Event<'static> {
        Event {
            ts: ts_ms * 1000,
            ..Default::default()
        }
    }

    /// Feeds `(client, ms, status, token, attempt)` requests through
    /// `chunks` chunks and returns the resulting cube.
    fn run(
        reqs: &[(u64, i64, u16, TokenState, Option<u32>)],
        chunks: usize,
    ) -> crate::aggregate::Cube {
        let mut stage = RetryStage::new(DEFAULT_WINDOW_US);
        let mut total = Aggregate::new(60_000_000, &[]);
        for part in reqs.chunks(reqs.len().div_ceil(chunks)) {
            let mut agg = Aggregate::new(60_000_000, &[]);
            let mut events = Vec::new();
            for &(client, ms, status, token, attempt) in part {
                let e = ev(ms);
                let c = Classified {
                    ts: e.ts,
                    app: Cow::Borrowed("app"),
                    version: Cow::Borrowed("1.0"),
                    token_state: token,
                    method: "GET",
                    route: Cow::Borrowed("/s"),
                    status: Some(status),
                    latency_ms: None,
                    client,
                    health: false,
                    attempt,
                    slots: Default::default(),
                };
                let key = agg.add(&e, &c).unwrap();
                events.push(RetryEvent {
                    client,
                    ts: e.ts,
                    op: 7,
                    status: Some(status),
                    token,
                    attempt,
                    key,
                });
            }
            stage.apply(&events, &mut agg);
            total.merge(agg);
        }
        stage.finish(&mut total);
        total.into_cube()
    }

    fn retries(c: &crate::aggregate::Cube) -> u64 {
        c.cells.values().map(|c| c.retries).sum()
    }

    #[test]
    fn chains_tight_loop_and_resend() {
        use TokenState::*;
        // Client 1: a tight loop of expired-token 401s, then success.
        // Client 2: one failure, retried after 90 s (outside the window).
        let mut reqs = vec![(2, 0, 503, Valid, None), (2, 90_000, 200, Valid, None)];
        for i in 0..10 {
            reqs.push((1, 1_000 + i * 400, 401, Expired, None));
        }
        reqs.push((1, 5_500, 200, Valid, None));
        reqs.sort_by_key(|r| r.1);
        let cube = run(&reqs, 1);
        assert_eq!(
            retries(&cube),
            10,
            "9 resends of the 401 plus the final success"
        );
        let chains: Vec<&ChainStats> = cube.chains.values().collect();
        assert_eq!(chains.len(), 1);
        assert_eq!(chains[0].attempts, 11);
        assert_eq!(chains[0].by_backoff.get(&Backoff::None), Some(&1));
        assert_eq!(chains[0].expired_resends, 1);
        let c1 = &cube.retry_clients[&1];
        assert_eq!(c1.retries, 10);
        assert!(!cube.retry_clients.contains_key(&2));
        // Chunk boundaries do not change anything.
        for n in 2..6 {
            let other = run(&reqs, n);
            assert_eq!(other.chains, cube.chains, "{n} chunks");
            assert_eq!(retries(&other), 10);
        }
    }

    #[test]
    fn explicit_markers_and_backoff() {
        use TokenState::*;
        // Attempt numbers mark retries even after successes.
        let reqs = vec![
            (5, 0, 200, Valid, Some(1)),
            (5, 100, 200, Valid, Some(2)),
            (5, 200, 200, Valid, Some(3)),
        ];
        assert_eq!(retries(&run(&reqs, 1)), 2);
        // Exponential backoff on 503s: 1, 2, 4, 8, 16 s.
        let mut t = 0;
        let mut reqs = vec![(9, 0, 503, Unknown, None)];
        for g in [1_000, 2_000, 4_000, 8_000, 16_000] {
            t += g;
            reqs.push((9, t, 503, Unknown, None));
        }
        let cube = run(&reqs, 1);
        let c = cube.chains.values().next().unwrap();
        assert_eq!(c.by_backoff.get(&Backoff::Exponential), Some(&1));
        assert_eq!(c.max_attempts, 6);
    }

    #[test]
    fn quiet_clients_are_folded_away() {
        use TokenState::*;
        let mut stage = RetryStage::new(DEFAULT_WINDOW_US);
        let mut agg = Aggregate::new(60_000_000, &[]);
        // 20000 clients, each seen once, one a second.
        for client in 0..20_000u64 {
            let e = ev(client as i64 * 1_000);
            let c = Classified {
                ts: e.ts,
                app: Cow::Borrowed("a"),
                version: Cow::Borrowed("1"),
                token_state: Valid,
                method: "GET",
                route: Cow::Borrowed("/"),
                status: Some(200),
                latency_ms: None,
                client,
                health: false,
                attempt: None,
                slots: Default::default(),
            };
            let key = agg.add(&e, &c).unwrap();
            stage.apply(
                &[RetryEvent {
                    client,
                    ts: e.ts,
                    op: 1,
                    status: Some(200),
                    token: Valid,
                    attempt: None,
                    key,
                }],
                &mut agg,
            );
        }
        // At most the clients of one eviction period plus the window.
        let bound = EVICT_EVERY as usize + 2 * 61;
        assert!(
            stage.peak_clients <= bound,
            "state held: {}",
            stage.peak_clients
        );
    }

    #[test]
    fn failures() {
        for s in [401, 403, 429, 499, 500, 503] {
            assert!(is_failure(Some(s)));
        }
        for s in [200, 204, 304, 404] {
            assert!(!is_failure(Some(s)));
        }
        assert!(!is_failure(None));
    }
}
