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
//! seen within the retry window: clients quiet for longer are folded away.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, CellKey, HotKey};
use crate::classify::TokenState;
use crate::time::{MICROS_PER_SEC, Micros};

pub const DEFAULT_WINDOW_US: i64 = 60 * MICROS_PER_SEC;
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientRetries {
    pub app: String,
    pub version: String,
    pub retries: u64,
    #[serde(flatten)]
    pub chains: ChainStats,
    pub first_retry: Micros,
    pub last_retry: Micros,
}

impl ClientRetries {
    pub fn merge(&mut self, o: &ClientRetries) {
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
        for e in events {
            self.max_ts = self.max_ts.max(e.ts);
            let prev = self.clients.get_mut(&e.client);
            let heuristic = prev.as_ref().is_some_and(|p| {
                p.op == e.op && p.failed && e.ts >= p.ts && e.ts - p.ts <= self.window_us
            });
            let retry = match e.attempt {
                Some(a) => a >= 2,
                None => heuristic,
            };
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
                    p.ts = e.ts;
                    p.op = e.op;
                    p.failed = is_failure(e.status);
                    p.expired_401 = e.status == Some(401) && e.token == TokenState::Expired;
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
        self.evict(agg);
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
            if let Some(s) = self.clients.remove(&c) {
                if let Some(ch) = s.chain {
                    close(c, ch, agg);
                }
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
