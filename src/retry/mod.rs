//! The one stage that reads each client's requests in time order: retry
//! chains, credential resends, loops, and the token state a request is
//! counted under.
//!
//! - A **retry** is a request whose operation (method + route) the same
//!   client sent within the retry window before, and that failed then (401,
//!   403, 408, 425, 429, 499, 5xx, or a 400 naming a bad token); or a request
//!   carrying an explicit attempt number of 2 or more. Every (client,
//!   operation) has its own chain, so a client that cycles through several
//!   failing endpoints retries each of them, whatever it sent in between.
//! - A **resend**: after the service rejected a client's credentials (a 401,
//!   or a 400/403 naming an expired, invalid or missing token), every later
//!   failing request from that client on any endpoint, until one succeeds or
//!   the client stays quiet for the window. Going to a login or token route
//!   right after the rejection is the healthy reaction, not a resend.
//! - A **loop**: a chain or a run of resends of at least `loop_attempts`
//!   requests that keeps coming back quickly ([`backoff::steady`]). Loops are
//!   what a storm is made of; a client that backs off is not looping.
//! - The **token state** a request is counted under is the one the server
//!   named. An answer that names none (429, 5xx, a timeout, a proxy's own
//!   error) carries the client's last known state, so a looping client stays
//!   `expired` through the overload; a 401 that names no reason carries only
//!   a state that was itself a rejection.
//!
//! Requests of one client with the same timestamp form a group: each is
//! labelled against the client's state before the group, and the group's
//! updates are applied together in a canonical order. Labels therefore never
//! depend on the order of lines within one timestamp, which differs between
//! one file and the same requests spread over several.
//!
//! State is one record per client seen within `memory` (its operations only
//! within the window); clients quiet for longer are folded away at each
//! multiple of the window in log time, so memory follows the active clients
//! and never the number of lines.

pub mod backoff;

use std::collections::BTreeMap;

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

pub use backoff::{Backoff, classify_backoff};

use crate::classify::TokenState;
use crate::time::{MICROS_PER_SEC, Micros};

pub const DEFAULT_WINDOW_US: i64 = 60 * MICROS_PER_SEC;
/// Gaps kept per chain for its backoff class; longer chains keep the first.
const MAX_GAPS: usize = 64;

/// The stage's settings (`[detect]` in the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// A repeat within this long after a failure is a retry.
    pub window_us: i64,
    /// Requests a chain or resend run needs to be a loop (gRPC caps a call
    /// at 5 attempts; a sixth is past any sane retry policy).
    pub loop_attempts: u32,
    /// No gap among a loop's last attempts is longer than this.
    pub loop_gap_us: i64,
    /// How long a quiet client's last known token state is remembered.
    pub memory_us: i64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            window_us: DEFAULT_WINDOW_US,
            loop_attempts: 6,
            loop_gap_us: 10 * MICROS_PER_SEC,
            memory_us: 600 * MICROS_PER_SEC,
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
    /// Chains that became loops.
    #[serde(default)]
    pub loops: u64,
}

impl ChainStats {
    pub fn merge(&mut self, o: &ChainStats) {
        self.chains += o.chains;
        self.attempts += o.attempts;
        self.max_attempts = self.max_attempts.max(o.max_attempts);
        for (k, v) in &o.by_backoff {
            *self.by_backoff.entry(*k).or_default() += v;
        }
        self.loops += o.loops;
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

/// What the stage needs of one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub ts: Micros,
    pub client: u64,
    /// Hash of `METHOD route`, the same in every file and chunk.
    pub op: u64,
    pub status: Option<u16>,
    /// The token state the request itself shows (`Unknown` when none).
    pub token: TokenState,
    /// A login or token route (a refresh, a sign-in).
    pub auth_route: bool,
    pub attempt: Option<u32>,
}

/// What the stage says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// The token state to count the request under.
    pub token: TokenState,
    pub retry: bool,
    pub resend: bool,
    /// A retry or resend of a client in a loop.
    pub looping: bool,
    /// Set on the request that made a chain or resend run a loop: when its
    /// first repeat was sent.
    pub loop_start: Option<Micros>,
}

impl Default for Label {
    fn default() -> Self {
        Label {
            token: TokenState::Unknown,
            retry: false,
            resend: false,
            looping: false,
            loop_start: None,
        }
    }
}

/// Where finished chains go, keyed by what the caller gave for the
/// request that started them (the cell of its first retry).
pub trait ChainSink<K> {
    fn chain(&mut self, client: u64, key: K, stats: &ChainStats);
}

pub fn is_success(status: Option<u16>) -> bool {
    matches!(status, Some(100..=399))
}

/// A failed attempt, worth retrying or not.
pub fn is_failure(status: Option<u16>, token: TokenState) -> bool {
    match status {
        Some(401 | 403 | 408 | 425 | 429 | 499 | 500..=599) => true,
        Some(400) => token.is_rejected(),
        _ => false,
    }
}

/// The service turned the client's credentials down.
fn is_rejection(r: &Request) -> bool {
    match r.status {
        Some(401) => true,
        Some(400 | 403) => r.token.is_rejected(),
        _ => false,
    }
}

/// The state to count `r` under, given the client's last known state.
fn effective(r: &Request, known: TokenState) -> TokenState {
    if r.token != TokenState::Unknown {
        return r.token;
    }
    match r.status {
        // The token was checked and turned down for a reason not named:
        // only an earlier rejection can say which.
        Some(401) if known.is_rejected() => known,
        Some(401) => TokenState::Unknown,
        _ => known,
    }
}

/// The last [`backoff::RECENT`] gaps of a chain or run, in seconds, with
/// their logarithms (computed once, at the gap's arrival).
#[derive(Debug, Clone, Copy, Default)]
struct Recent {
    gaps: [f64; backoff::RECENT],
    logs: [f64; backoff::RECENT],
    n: usize,
}

impl Recent {
    fn push(&mut self, g: f64) {
        let l = backoff::log_gap(g);
        if self.n == backoff::RECENT {
            self.gaps.copy_within(1.., 0);
            self.logs.copy_within(1.., 0);
            self.gaps[backoff::RECENT - 1] = g;
            self.logs[backoff::RECENT - 1] = l;
        } else {
            self.gaps[self.n] = g;
            self.logs[self.n] = l;
            self.n += 1;
        }
    }

    fn with(&self, g: f64) -> Recent {
        let mut r = *self;
        r.push(g);
        r
    }

    fn steady(&self, cfg: &RetryConfig) -> bool {
        backoff::steady_logs(
            &self.gaps[..self.n],
            &self.logs[..self.n],
            secs(cfg.loop_gap_us),
        )
    }
}

fn secs(us: i64) -> f64 {
    us.max(0) as f64 / MICROS_PER_SEC as f64
}

#[derive(Debug, Clone)]
struct Chain<K> {
    key: K,
    first_retry: Micros,
    attempts: u64,
    gaps: Vec<f64>,
    recent: Recent,
    looping: bool,
}

#[derive(Debug, Clone)]
struct OpState<K> {
    op: u64,
    ts: Micros,
    failed: bool,
    chain: Option<Box<Chain<K>>>,
}

/// Resends since the last rejection.
#[derive(Debug, Clone)]
struct Run {
    first: Micros,
    attempts: u32,
    recent: Recent,
    looping: bool,
}

#[derive(Debug, Clone, Copy)]
struct Rejection {
    /// The rejection, or the last resend after it.
    ts: Micros,
    on_auth_route: bool,
}

/// A request of the group being gathered (its time is the group's),
/// packed: every client holds one.
#[derive(Debug, Clone)]
struct Pending<K> {
    op: u64,
    /// The caller's key, for a retry that may start a chain.
    key: Option<K>,
    /// The explicit attempt number; [`NONE`] for none (an attempt of 0 is
    /// no retry either).
    attempt: u32,
    /// The status; [`NONE16`] for none.
    status: u16,
    token: TokenState,
    /// [`AUTH_ROUTE`], [`RETRY`], [`RESEND`], [`LOOPING`].
    bits: u8,
}

const NONE: u32 = 0;
const NONE16: u16 = 0;

const AUTH_ROUTE: u8 = 1;
const RETRY: u8 = 2;
const RESEND: u8 = 4;
const LOOPING: u8 = 8;

impl<K> Pending<K> {
    fn new(r: &Request, label: &Label, key: Option<K>) -> Self {
        let bit = |on: bool, b: u8| if on { b } else { 0 };
        Pending {
            op: r.op,
            attempt: r.attempt.unwrap_or(NONE),
            status: r.status.unwrap_or(NONE16),
            token: r.token,
            bits: bit(r.auth_route, AUTH_ROUTE)
                | bit(label.retry, RETRY)
                | bit(label.resend, RESEND)
                | bit(label.looping, LOOPING),
            key,
        }
    }

    fn has(&self, b: u8) -> bool {
        self.bits & b != 0
    }

    fn request(&self, client: u64, ts: Micros) -> Request {
        Request {
            ts,
            client,
            op: self.op,
            status: (self.status != NONE16).then_some(self.status),
            token: self.token,
            auth_route: self.has(AUTH_ROUTE),
            attempt: (self.attempt != NONE).then_some(self.attempt),
        }
    }
}

/// One client's state. Every request looks its client up, so the record is
/// kept small (hot fields inline, the rest boxed): the map of clients is
/// what the stage's speed depends on.
#[derive(Debug, Clone)]
struct ClientState<K> {
    /// Timestamp of the group being gathered; labels read the state as it
    /// was before it. Also the client's last request, so the memory period
    /// it was last queued for folding in.
    group_ts: Micros,
    /// The group's first request; the others are in `cold.more` (a list
    /// that stays empty but for clients with several requests in one
    /// timestamp).
    first: Option<Pending<K>>,
    /// `cold.more` holds requests (checked here: most clients' groups are
    /// one request, and their cold part is best left unread).
    grouped: bool,
    known: TokenState,
    /// Operations, rejections and larger groups: only clients that failed
    /// (or sent several requests in one timestamp) have them.
    cold: Option<Box<Cold<K>>>,
}

/// The parts of a client's state that only some clients need.
#[derive(Debug, Clone)]
struct Cold<K> {
    /// Operations that failed within the window, or have an open chain.
    ops: SmallVec<[OpState<K>; 2]>,
    more: Vec<Pending<K>>,
    rejection: Option<Rejection>,
    run: Option<Run>,
}

impl<K> ClientState<K> {
    fn new(ts: Micros) -> Self {
        ClientState {
            group_ts: ts,
            first: None,
            grouped: false,
            known: TokenState::Unknown,
            cold: None,
        }
    }

    fn rejection(&self) -> Option<Rejection> {
        self.cold.as_ref().and_then(|c| c.rejection)
    }

    fn run(&self) -> Option<&Run> {
        self.cold.as_ref().and_then(|c| c.run.as_ref())
    }

    fn cold(&mut self) -> &mut Cold<K> {
        self.cold.get_or_insert_with(|| {
            Box::new(Cold {
                ops: SmallVec::new(),
                more: Vec::new(),
                rejection: None,
                run: None,
            })
        })
    }

    fn ops(&self) -> &[OpState<K>] {
        self.cold.as_ref().map_or(&[], |c| &c.ops)
    }

    /// Forgets the rejection and the resends after it.
    fn clear_rejection(&mut self) {
        if let Some(c) = &mut self.cold {
            c.rejection = None;
            c.run = None;
        }
    }
}

/// The retry stage. Feed it requests in time order (a late request is
/// labelled but changes no state).
pub struct RetryStage<K> {
    cfg: RetryConfig,
    /// Client → its place in `slab`. Small, so it stays in cache; the
    /// states, larger, are fetched ahead of need ([`RetryStage::prefetch`]).
    clients: FxHashMap<u64, u32>,
    slab: Vec<ClientState<K>>,
    /// Places in `slab` of folded clients, for new ones.
    free: Vec<u32>,
    /// (memory period, client) for each period a client was seen in, in
    /// log order: folding looks at the clients of old periods only, never
    /// at the whole map.
    seen: std::collections::VecDeque<(i64, u64)>,
    /// Log time at which quiet clients are next folded away.
    next_fold: Micros,
    /// Start of the memory period of the last request (a division saved
    /// per request).
    period_start: Micros,
    /// Peak number of clients held, for the memory bound.
    pub peak_clients: usize,
}

impl<K: Clone> RetryStage<K> {
    pub fn new(cfg: RetryConfig) -> Self {
        RetryStage {
            cfg: RetryConfig {
                window_us: cfg.window_us.max(1),
                ..cfg
            },
            clients: FxHashMap::default(),
            slab: Vec::new(),
            free: Vec::new(),
            seen: std::collections::VecDeque::new(),
            next_fold: Micros::MIN,
            period_start: 0,
            peak_clients: 0,
        }
    }

    /// Labels one request. `key` is asked (at most once, with the label)
    /// for a retry that may start a chain; finished chains go to `sink`.
    pub fn label(
        &mut self,
        r: &Request,
        key: impl FnOnce(&Label) -> K,
        sink: &mut impl ChainSink<K>,
    ) -> Label {
        let memory = self.cfg.memory_us.max(self.cfg.window_us);
        if r.ts >= self.next_fold {
            // Only frees memory (a client quiet for longer than the memory
            // starts afresh below, whenever it is folded), so it may run
            // rarely: at whole multiples of the memory in log time.
            if self.next_fold != Micros::MIN {
                self.fold_quiet(r.ts, sink);
            }
            self.next_fold = (r.ts.div_euclid(memory) + 1) * memory;
        }
        let cfg = self.cfg;
        // A client is queued for folding once per memory period it is seen
        // in: when new, or when its last request came before the period.
        if !(self.period_start..self.period_start.saturating_add(memory)).contains(&r.ts) {
            self.period_start = r.ts.div_euclid(memory) * memory;
        }
        let period_start = self.period_start;
        let period = || period_start / memory;
        let slab = &mut self.slab;
        let at = match self.clients.entry(r.client) {
            Entry::Occupied(e) => {
                let at = *e.get() as usize;
                if slab[at].group_ts < period_start {
                    self.seen.push_back((period(), r.client));
                }
                at
            }
            Entry::Vacant(e) => {
                self.seen.push_back((period(), r.client));
                let cs = ClientState::new(r.ts);
                let at = match self.free.pop() {
                    Some(at) => {
                        slab[at as usize] = cs;
                        at as usize
                    }
                    None => {
                        slab.push(cs);
                        slab.len() - 1
                    }
                };
                e.insert(at as u32);
                at
            }
        };
        let cs = &mut slab[at];
        if cs.group_ts < r.ts.saturating_sub(memory) {
            // Quiet for longer than the memory: what it was told then no
            // longer says anything about this request.
            apply_group(r.client, cs, sink);
            close_all(r.client, cs, sink);
            *cs = ClientState::new(r.ts);
        }
        if r.ts > cs.group_ts {
            apply_group(r.client, cs, sink);
            prune_ops(r.client, cs, r.ts, &cfg, sink);
            cs.group_ts = r.ts;
        } else if r.ts < cs.group_ts {
            // A line older than what the client already sent: counted
            // under its known state, marked by its explicit attempt only.
            return Label {
                token: effective(r, cs.known),
                retry: r.attempt.is_some_and(|a| a >= 2),
                ..Label::default()
            };
        }
        let (label, starts_chain) = label_of(cs, r, &cfg);
        let p = Pending::new(r, &label, starts_chain.then(|| key(&label)));
        match cs.first {
            None => cs.first = Some(p),
            Some(_) => {
                cs.grouped = true;
                cs.cold().more.push(p);
            }
        }
        label
    }

    /// Asks the memory for the states of clients about to be labelled:
    /// `far`'s record, and the operations of `near` (whose record was asked
    /// for earlier). Only a hint: it changes no result. Labelling goes from
    /// client to client at random, and waiting for each record from memory
    /// cost more than the rest of the stage.
    #[inline]
    pub fn prefetch(&self, near: u64, far: u64) {
        let state = |c: u64| {
            self.clients
                .get(&c)
                .and_then(|&at| self.slab.get(at as usize))
        };
        if let Some(cs) = state(far) {
            prefetch(cs);
        }
        if let Some(cold) = state(near).and_then(|cs| cs.cold.as_deref()) {
            prefetch(cold);
            if let Some(op) = cold.ops.first() {
                prefetch(op);
            }
        }
    }

    /// Applies every pending group and closes every chain (the end of the
    /// input). Returns the peak number of clients held.
    pub fn finish(mut self, sink: &mut impl ChainSink<K>) -> usize {
        self.peak_clients = self.peak_clients.max(self.clients.len());
        let mut all: Vec<(u64, u32)> = self.clients.drain().collect();
        all.sort_unstable_by_key(|(c, _)| *c);
        for (client, at) in all {
            let cs = &mut self.slab[at as usize];
            apply_group(client, cs, sink);
            close_all(client, cs, sink);
        }
        self.peak_clients
    }

    /// Folds away clients quiet for longer than the memory horizon.
    fn fold_quiet(&mut self, now: Micros, sink: &mut impl ChainSink<K>) {
        self.peak_clients = self.peak_clients.max(self.clients.len());
        let memory = self.cfg.memory_us.max(self.cfg.window_us);
        let horizon = now - memory;
        // Clients seen in periods that ended before the horizon, and not
        // since (a client seen later has a later entry, kept).
        let mut quiet = Vec::new();
        while let Some(&(period, c)) = self.seen.front()
            && (period + 1).saturating_mul(memory) <= horizon
        {
            self.seen.pop_front();
            if self.clients.get(&c).is_some_and(|&at| {
                let s = &self.slab[at as usize];
                s.group_ts < horizon && s.group_ts.div_euclid(memory) == period
            }) {
                quiet.push(c);
            }
        }
        quiet.sort_unstable();
        for c in quiet {
            if let Some(at) = self.clients.remove(&c) {
                let mut cs = std::mem::replace(&mut self.slab[at as usize], ClientState::new(0));
                apply_group(c, &mut cs, sink);
                close_all(c, &mut cs, sink);
                self.free.push(at);
            }
        }
    }
}

/// Starts loading `*v`'s cache line; no effect on any value.
#[inline(always)]
fn prefetch<T>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never
    // faults or reads into the program: it only warms the cache line of a
    // valid reference.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((v as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// The label of `r` against the client's state before its group; also
/// whether it may start a chain.
fn label_of<K>(cs: &ClientState<K>, r: &Request, cfg: &RetryConfig) -> (Label, bool) {
    let op = cs.ops().iter().find(|o| o.op == r.op);
    let heuristic = op.is_some_and(|o| o.failed && r.ts - o.ts <= cfg.window_us);
    let retry = match r.attempt {
        Some(a) => a >= 2,
        None => heuristic,
    };
    let mut label = Label {
        token: effective(r, cs.known),
        retry,
        ..Label::default()
    };
    let mut starts_chain = false;
    // A success ends a loop; it is not part of it.
    let failed = !is_success(r.status);
    if retry {
        match op.and_then(|o| o.chain.as_deref()) {
            Some(c) => {
                let since = op.map_or(0, |o| r.ts - o.ts);
                let recent = c.recent.with(secs(since));
                let looping =
                    failed && c.attempts + 1 >= u64::from(cfg.loop_attempts) && recent.steady(cfg);
                label.looping |= looping;
                if looping && !c.looping {
                    label.loop_start = Some(c.first_retry);
                }
            }
            None => starts_chain = true,
        }
    }
    let rejected = cs
        .rejection()
        .filter(|j| r.ts - j.ts <= cfg.window_us)
        .filter(|j| !r.auth_route || j.on_auth_route);
    if let Some(j) = rejected
        && failed
    {
        label.resend = true;
        let (attempts, recent, first, was) = match cs.run() {
            Some(run) => (run.attempts, &run.recent, run.first, run.looping),
            None => (1, &Recent::default(), r.ts, false),
        };
        let recent = recent.with(secs(r.ts - j.ts));
        let looping = attempts + 1 >= cfg.loop_attempts && recent.steady(cfg);
        label.looping |= looping;
        if looping && !was {
            label.loop_start = Some(label.loop_start.map_or(first, |s| s.min(first)));
        }
    }
    (label, starts_chain)
}

/// Applies the client's pending group: successes last (a loop that ends in
/// a success within one second has ended), then by operation, status and
/// token, so the result does not depend on the order within the group.
fn apply_group<K: Clone>(client: u64, cs: &mut ClientState<K>, sink: &mut impl ChainSink<K>) {
    let Some(first) = cs.first.take() else {
        return;
    };
    let ts = cs.group_ts;
    if !cs.grouped {
        apply(client, cs, ts, first, sink);
        return;
    }
    cs.grouped = false;
    let mut group = std::mem::take(&mut cs.cold().more);
    group.push(first);
    group.sort_by_key(|p| {
        (
            is_success(Some(p.status)),
            p.op,
            p.status,
            p.token,
            p.attempt,
        )
    });
    for p in group.drain(..) {
        apply(client, cs, ts, p, sink);
    }
    // The list's room, for the client's next group.
    cs.cold().more = group;
}

/// Applies one request of a group to the client's state.
fn apply<K: Clone>(
    client: u64,
    cs: &mut ClientState<K>,
    ts: Micros,
    mut p: Pending<K>,
    sink: &mut impl ChainSink<K>,
) {
    {
        let r = &p.request(client, ts);
        let failed = is_failure(r.status, r.token);
        // The operation's chain. Only failed operations, and open chains,
        // need remembering: a success of an operation that did not fail
        // changes nothing.
        let at = cs.ops().iter().position(|o| o.op == r.op);
        let i = match at {
            Some(i) => Some(i),
            None if failed || (p.has(RETRY) && p.key.is_some()) => {
                let ops = &mut cs.cold().ops;
                ops.push(OpState {
                    op: r.op,
                    ts: r.ts,
                    failed,
                    chain: None,
                });
                Some(ops.len() - 1)
            }
            None => None,
        };
        if let Some(i) = i {
            let ops = &mut cs.cold().ops;
            let o = &mut ops[i];
            if p.has(RETRY) {
                let gap = secs(r.ts - o.ts);
                let looping = p.has(LOOPING);
                match (&mut o.chain, p.key.take()) {
                    (Some(c), _) => {
                        c.attempts += 1;
                        if c.gaps.len() < MAX_GAPS {
                            c.gaps.push(gap);
                        }
                        c.recent.push(gap);
                        c.looping |= looping;
                    }
                    (None, Some(key)) => {
                        let mut recent = Recent::default();
                        recent.push(gap);
                        o.chain = Some(Box::new(Chain {
                            key,
                            first_retry: r.ts,
                            attempts: 2,
                            gaps: vec![gap],
                            recent,
                            looping: false,
                        }));
                    }
                    (None, None) => {}
                }
            } else if let Some(c) = o.chain.take() {
                close(client, *c, sink);
            }
            o.ts = r.ts;
            o.failed = failed;
            if !failed && o.chain.is_none() {
                ops.swap_remove(i);
            }
        }
        // What the client was told about its token.
        if r.token != TokenState::Unknown {
            cs.known = r.token;
        } else if r.status == Some(401) && !cs.known.is_rejected() {
            cs.known = TokenState::Unknown;
        }
        // Rejections and resends.
        if is_success(r.status) {
            cs.clear_rejection();
        } else if p.has(RESEND) {
            let cold = cs.cold();
            let last = cold.rejection.map_or(r.ts, |j| j.ts);
            let gap = secs(r.ts - last);
            let looping = p.has(LOOPING);
            match &mut cold.run {
                Some(run) => {
                    run.attempts += 1;
                    run.recent.push(gap);
                    run.looping |= looping;
                }
                None => {
                    let mut recent = Recent::default();
                    recent.push(gap);
                    cold.run = Some(Run {
                        first: r.ts,
                        attempts: 2,
                        recent,
                        looping,
                    });
                }
            }
            // A resend keeps the rejection alive for another window.
            if let Some(j) = &mut cold.rejection {
                j.ts = r.ts;
            }
        } else if is_rejection(r) {
            let cold = cs.cold();
            cold.rejection = Some(Rejection {
                ts: r.ts,
                on_auth_route: r.auth_route,
            });
            cold.run = None;
        }
    }
}

/// Drops operations last seen longer than the window ago, closing their
/// chains; a rejection not followed up within the window lapses.
fn prune_ops<K>(
    client: u64,
    cs: &mut ClientState<K>,
    now: Micros,
    cfg: &RetryConfig,
    sink: &mut impl ChainSink<K>,
) {
    if cs.rejection().is_some_and(|j| now - j.ts > cfg.window_us) {
        cs.clear_rejection();
    }
    let Some(cold) = &mut cs.cold else {
        return;
    };
    let ops = &mut cold.ops;
    if ops.iter().all(|o| now - o.ts <= cfg.window_us) {
        return;
    }
    let mut i = 0;
    while i < ops.len() {
        if now - ops[i].ts > cfg.window_us {
            let o = ops.swap_remove(i);
            if let Some(c) = o.chain {
                close(client, *c, sink);
            }
        } else {
            i += 1;
        }
    }
}

fn close_all<K>(client: u64, cs: &mut ClientState<K>, sink: &mut impl ChainSink<K>) {
    let Some(cold) = &mut cs.cold else {
        return;
    };
    cold.ops.sort_unstable_by_key(|o| o.op);
    for o in cold.ops.drain(..) {
        if let Some(c) = o.chain {
            close(client, *c, sink);
        }
    }
}

fn close<K>(client: u64, c: Chain<K>, sink: &mut impl ChainSink<K>) {
    let b = classify_backoff(&c.gaps);
    let mut one = ChainStats {
        chains: 1,
        attempts: c.attempts,
        max_attempts: c.attempts,
        loops: u64::from(c.looping),
        ..Default::default()
    };
    one.by_backoff.insert(b, 1);
    sink.chain(client, c.key, &one);
}

#[cfg(test)]
mod tests;
