//! Aggregation: per-chunk partials ([`Aggregate`], interned for speed on
//! the hot path) that merge associatively and commutatively, and turn into
//! the serializable [`Cube`] at the end of a scan.

pub mod by;
pub mod cube;
pub mod sketch;

use rustc_hash::{FxHashMap, FxHashSet};

pub use by::{ByAgg, ByField};
pub use cube::{Cell, CellKey, Cube};
pub use sketch::{BinCache, LatencySketch, SketchSum};

use std::collections::BTreeMap;

use crate::classify::{Classified, MemoSlots, TokenState};
use crate::event::Event;
use crate::retry::{ChainStats, ClientRetries};
use crate::time::Micros;

/// Strings interned to dense ids, local to one partial.
#[derive(Debug, Default, Clone)]
struct Interner {
    ids: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), i);
        i
    }

    fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }

    /// Each id's position among the names in sorted order.
    fn ranks(&self) -> Vec<u32> {
        let mut by_name: Vec<u32> = (0..self.names.len() as u32).collect();
        by_name.sort_unstable_by(|a, b| self.names[*a as usize].cmp(&self.names[*b as usize]));
        let mut rank = vec![0; by_name.len()];
        for (r, i) in by_name.into_iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        rank
    }
}

type MethodId = (Box<str>, u32);

/// Interned ids by [`MemoSlots`]: a user agent's app and version ids, and a
/// path's endpoint ids per method, found once per distinct string of the
/// worker's memo instead of hashing three strings on every line.
#[derive(Debug, Default, Clone)]
struct SlotIds {
    memo: (u64, u32),
    ua: Vec<Option<(u32, u32)>>,
    /// Per path slot: (method, endpoint id).
    route: Vec<smallvec::SmallVec<[MethodId; 2]>>,
}

impl SlotIds {
    fn sync(&mut self, memo: (u64, u32)) {
        if self.memo != memo {
            self.memo = memo;
            self.ua.clear();
            self.route.clear();
        }
    }
}

fn slot<T: Default>(v: &mut Vec<T>, i: u32) -> &mut T {
    let i = i as usize;
    if v.len() <= i {
        v.resize_with(i + 1, T::default);
    }
    &mut v[i]
}

/// A cell key with interned ids, valid within one partial.
pub type HotKey = (i64, u32, u32, TokenState, u32);

/// Where [`Aggregate::add`] put a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    /// Its cell, with the token state the request itself showed.
    pub key: HotKey,
    /// Not counted in a cell yet (see [`Aggregate::add_deferred`]).
    pub deferred: bool,
    /// Its latency's sketch bin.
    pub bin: Option<i16>,
}

#[derive(Debug, Default, Clone)]
struct HotCell {
    requests: u64,
    errors: u64,
    retries: u64,
    status: Vec<(u16, u64)>,
    latency: LatencySketch,
    clients: ClientSet,
    /// What the retry stage said of the cell's requests; most cells have
    /// none of it.
    loops: Option<Box<LoopCell>>,
}

/// Resends and loop requests of one cell.
#[derive(Debug, Default, Clone)]
struct LoopCell {
    resends: u64,
    loop_requests: u64,
    loopers: ClientSet,
    first_loop: Option<Micros>,
}

impl LoopCell {
    fn merge(&mut self, o: LoopCell) {
        self.resends += o.resends;
        self.loop_requests += o.loop_requests;
        self.loopers.extend(o.loopers);
        self.first_loop = cube::min_opt(self.first_loop, o.first_loop);
    }
}

/// Distinct client hashes of one cell. Most cells (one minute of one
/// cohort) see a handful of clients: those stay in an inline list, with no
/// allocation or hashing; a busy cell switches to a hash set.
#[derive(Debug, Clone)]
enum ClientSet {
    Few(smallvec::SmallVec<[u64; 8]>),
    Many(FxHashSet<u64>),
}

impl Default for ClientSet {
    fn default() -> Self {
        ClientSet::Few(Default::default())
    }
}

impl ClientSet {
    const FEW: usize = 32;

    fn insert(&mut self, c: u64) {
        match self {
            ClientSet::Few(v) if contains(v, c) => {}
            ClientSet::Few(v) if v.len() < Self::FEW => v.push(c),
            ClientSet::Few(v) => {
                let mut set: FxHashSet<u64> = v.drain(..).collect();
                set.insert(c);
                *self = ClientSet::Many(set);
            }
            ClientSet::Many(set) => {
                set.insert(c);
            }
        }
    }

    fn extend(&mut self, o: ClientSet) {
        if matches!(self, ClientSet::Few(v) if v.is_empty()) {
            *self = o;
            return;
        }
        match o {
            ClientSet::Few(v) => v.into_iter().for_each(|c| self.insert(c)),
            ClientSet::Many(set) => set.into_iter().for_each(|c| self.insert(c)),
        }
    }

    fn into_sorted(self) -> Vec<u64> {
        let mut v: Vec<u64> = match self {
            ClientSet::Few(v) => v.into_vec(),
            ClientSet::Many(set) => set.into_iter().collect(),
        };
        v.sort_unstable();
        v
    }
}

/// `v.contains(&c)`, without the early exit that keeps the compiler from
/// comparing several entries per instruction (a cell's list holds up to
/// [`ClientSet::FEW`]).
#[inline(always)]
fn contains(v: &[u64], c: u64) -> bool {
    let mut words = v.chunks_exact(4);
    let mut found = false;
    for w in words.by_ref() {
        found |= (w[0] == c) | (w[1] == c) | (w[2] == c) | (w[3] == c);
        if found {
            return true;
        }
    }
    words.remainder().contains(&c)
}

impl HotCell {
    fn merge(&mut self, o: HotCell) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.retries += o.retries;
        for (s, n) in o.status {
            add_status(&mut self.status, s, n);
        }
        self.latency.merge(&o.latency);
        self.clients.extend(o.clients);
        match (&mut self.loops, o.loops) {
            (Some(a), Some(b)) => a.merge(*b),
            (a @ None, b) => *a = b,
            (_, None) => {}
        }
    }
}

fn add_status(v: &mut Vec<(u16, u64)>, s: u16, n: u64) {
    match v.iter_mut().find(|(k, _)| *k == s) {
        Some((_, c)) => *c += n,
        None => v.push((s, n)),
    }
}

/// A name interned in a partial aggregate, for [`ClientRetries`]: a retry
/// then stores two numbers instead of comparing and copying names. The
/// default stands for the empty name of a client whose chains, but no
/// retries, were seen.
#[derive(Debug, Clone, Copy, PartialEq)]
struct NameId(u32);

impl Default for NameId {
    fn default() -> Self {
        NameId(u32::MAX)
    }
}

impl NameId {
    fn name(self, names: &Interner) -> String {
        if self == NameId::default() {
            String::new()
        } else {
            names.name(self.0).to_string()
        }
    }

    /// The id in the partial that `ours` maps the other partial's ids to.
    fn mapped(self, ours: &[u32]) -> NameId {
        if self == NameId::default() {
            self
        } else {
            NameId(ours[self.0 as usize])
        }
    }
}

/// A mergeable partial aggregate.
#[derive(Debug, Clone)]
pub struct Aggregate {
    bucket_us: i64,
    apps: Interner,
    versions: Interner,
    endpoints: Interner,
    cells: FxHashMap<HotKey, HotCell>,
    health: FxHashMap<i64, u64>,
    /// Requests by status, at `status - 100` (statuses are 100..=999).
    status: Box<[u64; 900]>,
    token_states: [u64; 5],
    requests: u64,
    time_min: Option<Micros>,
    time_max: Option<Micros>,
    chains: FxHashMap<CellKey, ChainStats>,
    retry_clients: FxHashMap<u64, ClientRetries<NameId>>,
    pub by: Option<ByAgg>,
    /// Per endpoint id, its operation hash ([`Aggregate::op_of`]).
    ops: Vec<u64>,
    /// Scratch space for endpoint keys.
    scratch: String,
    bins: BinCache,
    slot_ids: SlotIds,
}

impl Aggregate {
    pub fn new(bucket_us: i64, by: &[ByField]) -> Self {
        Self::with_privacy(bucket_us, by, Default::default())
    }

    /// `privacy` applies to the values of `--by` groups.
    pub fn with_privacy(bucket_us: i64, by: &[ByField], privacy: crate::privacy::Privacy) -> Self {
        Aggregate {
            bucket_us: bucket_us.max(1),
            apps: Interner::default(),
            versions: Interner::default(),
            endpoints: Interner::default(),
            cells: FxHashMap::default(),
            health: FxHashMap::default(),
            status: Box::new([0; 900]),
            token_states: [0; 5],
            requests: 0,
            time_min: None,
            time_max: None,
            chains: FxHashMap::default(),
            retry_clients: FxHashMap::default(),
            by: (!by.is_empty()).then(|| ByAgg::new(by.to_vec(), privacy)),
            ops: Vec::new(),
            scratch: String::new(),
            bins: BinCache::default(),
            slot_ids: SlotIds::default(),
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Adds one classified request; returns where it goes (nothing for
    /// health checks). With `defer` its cell is left to
    /// [`add_deferred`](Self::add_deferred): the retry stage decides the
    /// token state it is counted under.
    pub fn add(&mut self, e: &Event<'_>, c: &Classified<'_>, defer: bool) -> Option<Placed> {
        self.requests += 1;
        self.time_min = cube::min_opt(self.time_min, Some(c.ts));
        self.time_max = cube::max_opt(self.time_max, Some(c.ts));
        if let Some(s) = c.status {
            self.status[usize::from(s).saturating_sub(100).min(899)] += 1;
        }
        let bucket = c.ts.div_euclid(self.bucket_us);
        if c.health {
            self.token_states[c.token_state.index()] += 1;
            *self.health.entry(bucket).or_default() += 1;
            return None;
        }
        let (app, version) = self.cohort_ids(c);
        let key = (bucket, app, version, c.token_state, self.endpoint_id_of(c));
        let bin = c.latency_ms.map(|l| self.bins.bin(l));
        if let Some(by) = &mut self.by {
            by.add(e, c);
        }
        if defer {
            return Some(Placed {
                key,
                deferred: true,
                bin,
            });
        }
        self.add_cell(key, c.status, bin, c.client);
        Some(Placed {
            key,
            deferred: false,
            bin,
        })
    }

    /// Adds a request whose cell [`add`](Self::add) deferred, now that its
    /// token state (`key.3`) is known.
    pub fn add_deferred(
        &mut self,
        key: HotKey,
        status: Option<u16>,
        bin: Option<i16>,
        client: u64,
    ) {
        self.add_cell(key, status, bin, client);
    }

    fn add_cell(&mut self, key: HotKey, status: Option<u16>, bin: Option<i16>, client: u64) {
        self.token_states[key.3.index()] += 1;
        let cell = self.cells.entry(key).or_default();
        cell.requests += 1;
        if let Some(s) = status {
            add_status(&mut cell.status, s, 1);
            if s >= 400 {
                cell.errors += 1;
            }
        }
        if let Some(b) = bin {
            cell.latency.add_bin(b);
        }
        cell.clients.insert(client);
    }

    /// Counts what the retry stage said of one request of cell `key`
    /// (whose token state is the one the stage chose).
    pub fn add_label(&mut self, key: &HotKey, client: u64, label: &crate::retry::Label) {
        if !(label.retry || label.resend || label.looping) {
            return;
        }
        let Some(c) = self.cells.get_mut(key) else {
            return;
        };
        c.retries += u64::from(label.retry);
        if label.resend || label.looping {
            let l = c.loops.get_or_insert_with(Default::default);
            l.resends += u64::from(label.resend);
            if label.looping {
                l.loop_requests += 1;
                l.loopers.insert(client);
            }
            if let Some(t) = label.loop_start {
                l.first_loop = cube::min_opt(l.first_loop, Some(t));
            }
        }
    }

    pub fn cell_key(&self, k: &HotKey) -> CellKey {
        CellKey {
            bucket: k.0,
            app: self.apps.name(k.1).to_string(),
            version: self.versions.name(k.2).to_string(),
            token_state: k.3,
            endpoint: self.endpoints.name(k.4).to_string(),
        }
    }

    /// Records one retry by `client` in the per-client summaries.
    pub fn client_retry(&mut self, client: u64, k: &HotKey, ts: Micros) {
        let r = self.retry_clients.entry(client).or_default();
        if r.retries == 0 {
            r.first_retry = ts;
        }
        if r.retries == 0 || ts >= r.last_retry {
            (r.app, r.version) = (NameId(k.1), NameId(k.2));
            r.last_retry = ts;
        }
        r.retries += 1;
        r.first_retry = r.first_retry.min(ts);
    }

    /// Adds a finished chain, attributed to the cell of its first retry.
    pub fn add_chain(&mut self, client: u64, start: CellKey, stats: &ChainStats) {
        self.chains.entry(start).or_default().merge(stats);
        self.retry_clients
            .entry(client)
            .or_default()
            .chains
            .merge(stats);
    }

    /// Ids of `c`'s app and version, by its user agent's memo slot when it
    /// has one.
    fn cohort_ids(&mut self, c: &Classified<'_>) -> (u32, u32) {
        let MemoSlots { memo, ua, .. } = c.slots;
        let Some(ua) = ua else {
            return (self.apps.id(&c.app), self.versions.id(&c.version));
        };
        self.slot_ids.sync(memo);
        if let Some(ids) = *slot(&mut self.slot_ids.ua, ua) {
            return ids;
        }
        let ids = (self.apps.id(&c.app), self.versions.id(&c.version));
        *slot(&mut self.slot_ids.ua, ua) = Some(ids);
        ids
    }

    /// Id of `c`'s endpoint, by its path's memo slot when it has one.
    fn endpoint_id_of(&mut self, c: &Classified<'_>) -> u32 {
        let MemoSlots { memo, route, .. } = c.slots;
        let Some(route) = route else {
            return self.endpoint_id(c.method, &c.route);
        };
        self.slot_ids.sync(memo);
        let known = slot(&mut self.slot_ids.route, route);
        if let Some((_, id)) = known.iter().find(|(m, _)| crate::text::eq(m, c.method)) {
            return *id;
        }
        let id = self.endpoint_id(c.method, &c.route);
        slot(&mut self.slot_ids.route, route).push((c.method.into(), id));
        id
    }

    /// The retry stage's operation of an endpoint id: a hash of
    /// `METHOD route`, the same in every partial.
    pub fn op_of(&mut self, endpoint: u32) -> u64 {
        let i = endpoint as usize;
        if self.ops.len() <= i {
            let start = self.ops.len();
            self.ops.extend((start..=i).map(|j| {
                use std::hash::{Hash, Hasher};
                let mut h = rustc_hash::FxHasher::default();
                self.endpoints.name(j as u32).hash(&mut h);
                h.finish()
            }));
        }
        self.ops[i]
    }

    fn endpoint_id(&mut self, method: &str, route: &str) -> u32 {
        // A reused buffer: no allocation when the endpoint is interned.
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.push_str(method);
        buf.push(' ');
        buf.push_str(route);
        let id = self.endpoints.id(&buf);
        self.scratch = buf;
        id
    }

    /// Merges `o` into `self`; the result does not depend on merge order.
    pub fn merge(&mut self, o: Aggregate) {
        self.requests += o.requests;
        self.time_min = cube::min_opt(self.time_min, o.time_min);
        self.time_max = cube::max_opt(self.time_max, o.time_max);
        for (n, m) in self.status.iter_mut().zip(o.status.iter()) {
            *n += m;
        }
        for i in 0..5 {
            self.token_states[i] += o.token_states[i];
        }
        for (k, v) in o.health {
            *self.health.entry(k).or_default() += v;
        }
        // `o`'s ids to ours, once per name rather than once per cell.
        let to_ours = |ours: &mut Interner, theirs: &Interner| -> Vec<u32> {
            theirs.names.iter().map(|n| ours.id(n)).collect()
        };
        let apps = to_ours(&mut self.apps, &o.apps);
        let versions = to_ours(&mut self.versions, &o.versions);
        let endpoints = to_ours(&mut self.endpoints, &o.endpoints);
        for ((b, a, v, t, e), cell) in o.cells {
            let key = (
                b,
                apps[a as usize],
                versions[v as usize],
                t,
                endpoints[e as usize],
            );
            // Chunks cover successive times, so most cells are new here:
            // moved in whole, not merged into an empty one client by client.
            match self.cells.entry(key) {
                std::collections::hash_map::Entry::Occupied(mut c) => c.get_mut().merge(cell),
                std::collections::hash_map::Entry::Vacant(c) => {
                    c.insert(cell);
                }
            }
        }
        for (k, v) in o.chains {
            self.chains.entry(k).or_default().merge(&v);
        }
        for (k, mut v) in o.retry_clients {
            v.app = v.app.mapped(&apps);
            v.version = v.version.mapped(&versions);
            self.retry_clients.entry(k).or_default().merge(&v);
        }
        match (&mut self.by, o.by) {
            (Some(a), Some(b)) => a.merge(b),
            (None, Some(b)) => self.by = Some(b),
            _ => {}
        }
    }

    pub fn into_cube(self) -> Cube {
        let mut cube = Cube::new((self.bucket_us / 1_000_000).max(1) as u64);
        cube.requests = self.requests;
        cube.status = (100..)
            .zip(self.status.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s, *n))
            .collect();
        cube.token_states = TokenState::ALL
            .iter()
            .filter(|t| self.token_states[t.index()] > 0)
            .map(|t| (*t, self.token_states[t.index()]))
            .collect();
        cube.health = self.health.into_iter().collect();
        cube.time_min = self.time_min;
        cube.time_max = self.time_max;
        cube.chains = self.chains.into_iter().collect::<BTreeMap<_, _>>();
        cube.retry_clients = self
            .retry_clients
            .into_iter()
            .map(|(k, r)| {
                let r = ClientRetries {
                    app: r.app.name(&self.apps),
                    version: r.version.name(&self.versions),
                    retries: r.retries,
                    chains: r.chains,
                    first_retry: r.first_retry,
                    last_retry: r.last_retry,
                };
                (k, r)
            })
            .collect();
        // Cells are put in key order by their ids first: ranking the few
        // distinct names once is far cheaper than comparing strings in a
        // sort of every cell. Keys are unique, so cells then convert
        // independently (in parallel), and the sorted list builds the map
        // in one pass.
        use rayon::prelude::*;
        let (apps, versions, endpoints) = (&self.apps, &self.versions, &self.endpoints);
        let (ra, rv, re) = (apps.ranks(), versions.ranks(), endpoints.ranks());
        let mut hot: Vec<(HotKey, HotCell)> = self.cells.into_iter().collect();
        hot.par_sort_unstable_by_key(|((b, a, v, t, e), _)| {
            (*b, ra[*a as usize], rv[*v as usize], *t, re[*e as usize])
        });
        let cells: Vec<(CellKey, Cell)> = hot
            .into_par_iter()
            .map(|((b, a, v, t, e), hc)| {
                let key = CellKey {
                    bucket: b,
                    app: apps.name(a).to_string(),
                    version: versions.name(v).to_string(),
                    token_state: t,
                    endpoint: endpoints.name(e).to_string(),
                };
                let loops = hc.loops.map(|l| *l).unwrap_or_default();
                let cell = Cell {
                    requests: hc.requests,
                    errors: hc.errors,
                    retries: hc.retries,
                    resends: loops.resends,
                    loop_requests: loops.loop_requests,
                    loopers: loops.loopers.into_sorted(),
                    first_loop: loops.first_loop,
                    status: hc.status.into_iter().collect(),
                    latency: hc.latency,
                    clients: hc.clients.into_sorted(),
                };
                (key, cell)
            })
            .collect();
        debug_assert!(cells.windows(2).all(|w| w[0].0 < w[1].0));
        cube.cells = cells.into_iter().collect();
        cube
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Classifier, Memo};

    #[test]
    fn contains_finds_each_entry_and_nothing_else() {
        for n in 0..=ClientSet::FEW as u64 + 3 {
            let v: Vec<u64> = (0..n).map(|i| i * 7 + 1).collect();
            for c in 0..n * 7 + 3 {
                assert_eq!(contains(&v, c), v.contains(&c), "{n} {c}");
            }
        }
    }

    /// Ids found through memo slots give the cube that interning the
    /// strings gives: with the memo starting over (more user agents than
    /// it holds) and with two memos feeding one aggregate.
    #[test]
    fn memo_slot_ids_equal_interned_ids() {
        let classifier = Classifier::default();
        let (mut fast, mut slow) = (
            Aggregate::new(60_000_000, &[]),
            Aggregate::new(60_000_000, &[]),
        );
        let (mut m1, mut m2) = (Memo::default(), Memo::default());
        for i in 0..40_000u32 {
            let ua = format!("app{}/{}.{}", i % 3, i % 20_000, i % 7);
            let path = format!("/v1/x{}", i % 5);
            let method = ["GET", "POST"][i as usize % 2];
            let e = Event {
                ts: i as i64 * 10_000_000,
                client_ip: Some("10.0.0.1"),
                client_id: None,
                user: None,
                method: Some(method),
                path: Some(&path),
                status: Some(200),
                user_agent: Some(&ua),
                client_app: None,
                client_version: (i % 11 == 0).then_some("9.9"),
                token_state: None,
                token_detail: None,
                latency_ms: None,
                token: None,
                attempt: None,
            };
            let memo = if i % 3 == 0 { &mut m2 } else { &mut m1 };
            let c = classifier.classify(&e, memo);
            assert!(c.slots.route.is_some());
            fast.add(&e, &c, false);
            let mut c = c.clone();
            c.slots = Default::default();
            slow.add(&e, &c, false);
        }
        assert_eq!(fast.into_cube(), slow.into_cube());
    }

    #[test]
    fn client_sets_count_each_client_once_at_any_size() {
        for n in [0u64, 1, 31, 32, 33, 200] {
            let (mut a, mut b) = (ClientSet::default(), ClientSet::default());
            for c in 0..n {
                a.insert(c * 7 % (n + 1));
                a.insert(c * 7 % (n + 1));
                b.insert(c + n / 2);
            }
            a.extend(b);
            let mut want: Vec<u64> = (0..n).map(|c| c * 7 % (n + 1)).collect();
            want.extend((0..n).map(|c| c + n / 2));
            want.sort_unstable();
            want.dedup();
            assert_eq!(a.into_sorted(), want, "n = {n}");
        }
    }
}
