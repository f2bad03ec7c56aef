//! Ground truth, contract version 2: computed from the requests the
//! simulator actually wrote (a corrupted line is not a request), not from
//! its plan.
//!
//! Every written request of a client goes through a per-client run
//! tracker. A *run* is a sequence of failed requests (status 400 and up)
//! of one client with no success (status below 400) in between, where
//! each failure after the first is a *repeat*: the same operation
//! (method and path) as the run's first failure, or, once the server told
//! the client its token is expired or invalid (`token_expired`,
//! `invalid_token`, `invalid_grant`), any request that is not a token
//! request (`/oauth/...`: asking for a new token is the cure, not a
//! repeat). A token failure after failures that named no token state
//! starts a new run: the loop is driven by the token failure. A run with
//! at least [`LOOP_MIN_REPEATS`] repeats is a *loop*; its repeats are
//! *loop requests*.
//!
//! A loop belongs to a storm when its client has that storm's bug and the
//! run was driven by that storm's token state; every other loop (a
//! monitor, one stuck client, retries in an outage) is counted in
//! `other_looping_clients` and is never a storm.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use chrono::{SecondsFormat, TimeZone, Utc};

use crate::time::Micros;

use super::{EPOCH_DAY0, MIN, SEC};

/// Repeats that make a run a loop.
pub const LOOP_MIN_REPEATS: u32 = 6;
/// A version is named in a culprit when one of its clients looped at
/// least this long (first repeat to last repeat of one loop).
pub const LOOP_MIN_SPAN: Micros = 60 * SEC;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    Expired,
    Invalid,
}

impl Told {
    pub fn name(self) -> &'static str {
        match self {
            Told::Expired => "expired",
            Told::Invalid => "invalid",
        }
    }
}

/// The token state the server named in an auth error, if any.
pub fn told(auth_error: &str) -> Option<Told> {
    match auth_error {
        "token_expired" => Some(Told::Expired),
        "invalid_token" | "invalid_grant" => Some(Told::Invalid),
        _ => None,
    }
}

/// RFC 3339, UTC, milliseconds: how the v2 truth writes instants.
pub fn rfc3339_ms(t: Micros) -> String {
    match Utc.timestamp_micros(t).single() {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => t.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Owner {
    #[default]
    Unknown,
    Plan(usize),
    Other,
}

#[derive(Debug, Default, Clone)]
struct Run {
    active: bool,
    op: u64,
    token_op: bool,
    told: Option<Told>,
    repeats: u32,
    first_repeat: Micros,
    /// Repeats seen before the run was a loop: (time, operation).
    pending: Vec<(Micros, u64)>,
    owner: Owner,
}

/// Who sent a request, as the truth needs it.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    /// The storm whose bug this client has.
    pub plan: Option<usize>,
    pub version: &'static str,
    pub app: &'static str,
}

/// One storm's loops as written.
#[derive(Debug, Default)]
pub struct StormTruth {
    pub minutes: BTreeMap<i64, u64>,
    pub first_repeat: Option<Micros>,
    pub first_limit: Option<Micros>,
    pub loop_requests: u64,
    pub clients: u64,
    pub versions: BTreeSet<&'static str>,
    pub apps: BTreeMap<&'static str, u64>,
    pub told: BTreeMap<&'static str, u64>,
    op: Option<u64>,
    pub multi_op: bool,
}

impl StormTruth {
    pub fn endpoint(&self, names: &HashMap<u64, String>) -> Option<String> {
        if self.multi_op {
            return None;
        }
        self.op.and_then(|o| names.get(&o).cloned())
    }
}

pub struct Tracker {
    runs: Vec<Run>,
    /// The token state each storm's loops are driven by.
    storm_told: Vec<Told>,
    pub storms: Vec<StormTruth>,
    /// Per client: counted among a storm's looping clients / the others.
    counted: Vec<(bool, bool)>,
    pub other_looping_clients: u64,
    /// All written requests per minute since day 0.
    total: Vec<u32>,
    pub names: HashMap<u64, String>,
    pub outage_first: Option<Micros>,
    pub outage_last: Option<Micros>,
}

fn op_of(method: &str, path: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    method.hash(&mut h);
    path.hash(&mut h);
    h.finish()
}

impl Tracker {
    pub fn new(clients: usize, storm_told: Vec<Told>, days: u32) -> Self {
        Tracker {
            runs: vec![Run::default(); clients],
            storms: storm_told.iter().map(|_| StormTruth::default()).collect(),
            storm_told,
            counted: vec![(false, false); clients],
            other_looping_clients: 0,
            total: vec![0; days as usize * 1440 + 1],
            names: HashMap::new(),
            outage_first: None,
            outage_last: None,
        }
    }

    fn minute(t: Micros) -> i64 {
        t.div_euclid(MIN)
    }

    /// All requests written in the minute starting at `m` (minutes since
    /// the Unix epoch).
    pub fn total_in(&self, m: i64) -> u64 {
        let i = m - EPOCH_DAY0 / MIN;
        usize::try_from(i)
            .ok()
            .and_then(|i| self.total.get(i))
            .map_or(0, |n| *n as u64)
    }

    /// Counts a written line that is not a client's request (health check).
    pub fn count(&mut self, t: Micros) {
        let i = Self::minute(t) - EPOCH_DAY0 / MIN;
        if let Some(n) = usize::try_from(i).ok().and_then(|i| self.total.get_mut(i)) {
            *n += 1;
        }
    }

    /// A written request of client `ci`.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        ci: usize,
        who: Who,
        t: Micros,
        method: &str,
        path: &str,
        status: u16,
        auth_error: &str,
    ) {
        self.count(t);
        if status == 429
            && let Some(p) = who.plan
        {
            self.storms[p].first_limit.get_or_insert(t);
        }
        if status < 400 {
            self.runs[ci].active = false;
            return;
        }
        let op = op_of(method, path);
        let token_op = path.starts_with("/oauth/");
        let tok = told(auth_error);
        let r = &mut self.runs[ci];
        let extends = r.active
            && !(r.told.is_none() && tok.is_some())
            && (op == r.op || (r.told.is_some() && !token_op && !r.token_op));
        if !extends {
            *r = Run {
                active: true,
                op,
                token_op,
                told: tok,
                repeats: 0,
                first_repeat: 0,
                pending: std::mem::take(&mut r.pending),
                owner: Owner::Unknown,
            };
            r.pending.clear();
            return;
        }
        r.repeats += 1;
        if r.repeats == 1 {
            r.first_repeat = t;
        }
        self.names
            .entry(op)
            .or_insert_with(|| format!("{method} {path}"));
        let r = &mut self.runs[ci];
        if r.owner == Owner::Unknown {
            r.pending.push((t, op));
            if r.repeats < LOOP_MIN_REPEATS {
                return;
            }
            r.owner = match who.plan {
                Some(p) if r.told == Some(self.storm_told[p]) => Owner::Plan(p),
                _ => Owner::Other,
            };
            let pending = std::mem::take(&mut r.pending);
            let (owner, first, told) = (r.owner, r.first_repeat, r.told);
            match owner {
                Owner::Plan(p) => {
                    let s = &mut self.storms[p];
                    if !self.counted[ci].0 {
                        self.counted[ci].0 = true;
                        s.clients += 1;
                        *s.apps.entry(who.app).or_default() += 1;
                    }
                    if let Some(k) = told {
                        *s.told.entry(k.name()).or_default() += 1;
                    }
                    s.first_repeat = Some(s.first_repeat.map_or(first, |f| f.min(first)));
                    for (pt, pop) in &pending {
                        Self::attribute(s, who, first, *pt, *pop);
                    }
                }
                Owner::Other => {
                    if !self.counted[ci].1 {
                        self.counted[ci].1 = true;
                        self.other_looping_clients += 1;
                    }
                }
                Owner::Unknown => unreachable!(),
            }
            self.runs[ci].pending = pending;
            self.runs[ci].pending.clear();
            return;
        }
        if let Owner::Plan(p) = r.owner {
            let first = r.first_repeat;
            Self::attribute(&mut self.storms[p], who, first, t, op);
        }
    }

    fn attribute(s: &mut StormTruth, who: Who, first: Micros, t: Micros, op: u64) {
        *s.minutes.entry(Self::minute(t)).or_default() += 1;
        s.loop_requests += 1;
        match s.op {
            None => s.op = Some(op),
            Some(o) if o != op => s.multi_op = true,
            _ => {}
        }
        if t - first >= LOOP_MIN_SPAN {
            s.versions.insert(who.version);
        }
    }

    /// A written 503 of the outage.
    pub fn outage_503(&mut self, t: Micros) {
        self.outage_first.get_or_insert(t);
        self.outage_last = Some(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: Who = Who {
        plan: Some(0),
        version: "4.2.1",
        app: "acme-desktop",
    };

    #[test]
    fn a_loop_needs_six_repeats_and_starts_at_the_first() {
        let mut tr = Tracker::new(2, vec![Told::Expired], 1);
        let t0 = EPOCH_DAY0 + 9 * 60 * MIN;
        tr.observe(0, WHO, t0, "GET", "/v1/session", 401, "token_expired");
        for i in 1..=5 {
            tr.observe(
                0,
                WHO,
                t0 + i * SEC,
                "GET",
                "/v1/session",
                401,
                "token_expired",
            );
        }
        assert_eq!(tr.storms[0].loop_requests, 0, "five repeats are no loop");
        tr.observe(0, WHO, t0 + 6 * SEC, "GET", "/v1/me", 401, "token_expired");
        let s = &tr.storms[0];
        assert_eq!(s.loop_requests, 6);
        assert_eq!(s.first_repeat, Some(t0 + SEC));
        assert!(s.multi_op);
        assert!(s.versions.is_empty(), "looped for 5 s only");
        // A refresh is not a repeat; its success ends the run.
        tr.observe(0, WHO, t0 + 7 * SEC, "POST", "/oauth/token", 200, "-");
        tr.observe(
            0,
            WHO,
            t0 + 8 * SEC,
            "GET",
            "/v1/session",
            401,
            "token_expired",
        );
        assert_eq!(tr.storms[0].loop_requests, 6);
        assert_eq!(tr.storms[0].clients, 1);
    }

    #[test]
    fn retries_without_a_token_state_are_not_the_storm() {
        let mut tr = Tracker::new(1, vec![Told::Expired], 1);
        let t0 = EPOCH_DAY0 + 9 * 60 * MIN;
        for i in 0..20 {
            tr.observe(0, WHO, t0 + i * SEC, "GET", "/v1/session", 503, "-");
        }
        assert_eq!(tr.storms[0].loop_requests, 0);
        assert_eq!(tr.other_looping_clients, 1);
    }
}
