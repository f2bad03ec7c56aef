//! The cohort × time cube: the boundary between scanning and analysis.
//!
//! One cell per (time bucket, app, version, token state, endpoint) with
//! counts, status codes, a latency sketch and the set of client-key hashes.
//! It is serializable (JSON, schema `authstorm/cube/v2`) and mergeable, so
//! runs over different files or by other engines can be combined, and every
//! report and detection works from it alone. Distinct clients are exact:
//! cells keep sorted 64-bit client hashes, so memory grows with
//! (client, bucket, endpoint) triples that occur, never with lines.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sketch::LatencySketch;
use crate::classify::TokenState;
use crate::retry::{ChainStats, ClientRetries};
use crate::time::Micros;

/// v2 added the retry stage's resends and loops to each cell; a v1 cube
/// has none, so detection would find no storm in it.
pub const CUBE_SCHEMA: &str = "authstorm/cube/v2";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CellKey {
    /// Bucket index: bucket start = index × bucket_seconds (UTC epoch).
    pub bucket: i64,
    pub app: String,
    pub version: String,
    pub token_state: TokenState,
    pub endpoint: String,
}

impl CellKey {
    /// A key that names no cell, for a slot waiting to be reused.
    pub fn placeholder() -> Self {
        CellKey {
            bucket: 0,
            app: String::new(),
            version: String::new(),
            token_state: TokenState::Unknown,
            endpoint: String::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub requests: u64,
    /// Status >= 400.
    pub errors: u64,
    /// Requests the retry-chain stage labelled as retries.
    #[serde(default)]
    pub retries: u64,
    /// Requests that presented credentials the service had rejected.
    #[serde(default)]
    pub resends: u64,
    /// Retries and resends of clients in a loop.
    #[serde(default)]
    pub loop_requests: u64,
    /// Sorted client-key hashes of the clients looping in this cell.
    #[serde(default)]
    pub loopers: Vec<u64>,
    /// When the first loop counted here began (its first repeat).
    #[serde(default)]
    pub first_loop: Option<Micros>,
    pub status: BTreeMap<u16, u64>,
    pub latency: LatencySketch,
    /// Sorted, deduplicated client-key hashes.
    pub clients: Vec<u64>,
}

impl Cell {
    pub fn merge(&mut self, o: &Cell) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.retries += o.retries;
        self.resends += o.resends;
        self.loop_requests += o.loop_requests;
        if !o.loopers.is_empty() {
            self.loopers = union(&self.loopers, &o.loopers);
        }
        self.first_loop = min_opt(self.first_loop, o.first_loop);
        for (k, v) in &o.status {
            *self.status.entry(*k).or_default() += v;
        }
        self.latency.merge(&o.latency);
        self.clients = union(&self.clients, &o.clients);
    }

    pub fn count_status(&self, pred: impl Fn(u16) -> bool) -> u64 {
        self.status
            .iter()
            .filter(|(s, _)| pred(**s))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Union of two sorted, deduplicated slices.
pub fn union(a: &[u64], b: &[u64]) -> Vec<u64> {
    merge_sorted(a, b, |x| *x, |x, _| *x)
}

/// Merges two slices sorted by `key` into one sorted vector; items with
/// equal keys (one from each side) become `both(a, b)`.
pub fn merge_sorted<T: Copy, K: Ord>(
    a: &[T],
    b: &[T],
    key: impl Fn(&T) -> K,
    both: impl Fn(&T, &T) -> T,
) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match key(&a[i]).cmp(&key(&b[j])) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(both(&a[i], &b[j]));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cube {
    pub schema: String,
    pub bucket_seconds: u64,
    /// Every parsed, in-range request, health checks included.
    pub requests: u64,
    pub status: BTreeMap<u16, u64>,
    pub token_states: BTreeMap<TokenState, u64>,
    /// Health-check requests per bucket index (not in `cells`).
    pub health: BTreeMap<i64, u64>,
    pub time_min: Option<Micros>,
    pub time_max: Option<Micros>,
    #[serde(with = "rows")]
    pub cells: BTreeMap<CellKey, Cell>,
    /// Finished retry chains, by the cell of their first retry.
    #[serde(default, with = "pairs")]
    pub chains: BTreeMap<CellKey, ChainStats>,
    /// Per-client retry summaries (clients that retried), by client hash.
    #[serde(default)]
    pub retry_clients: BTreeMap<u64, ClientRetries>,
}

/// A map with structured keys as a list of `[key, value]` pairs.
mod pairs {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<CellKey, ChainStats>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<CellKey, ChainStats>, D::Error> {
        let v: Vec<(CellKey, ChainStats)> = Vec::deserialize(d)?;
        let mut m: BTreeMap<CellKey, ChainStats> = BTreeMap::new();
        for (k, c) in v {
            m.entry(k).or_default().merge(&c);
        }
        Ok(m)
    }
}

mod rows {
    use super::*;
    use serde::{Deserializer, Serializer};

    /// One cell as a flat record, the shape other engines write too.
    #[derive(Serialize, Deserialize)]
    struct Row {
        bucket: i64,
        app: String,
        version: String,
        token_state: TokenState,
        endpoint: String,
        requests: u64,
        errors: u64,
        #[serde(default)]
        retries: u64,
        #[serde(default)]
        resends: u64,
        #[serde(default)]
        loop_requests: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        loopers: Vec<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_loop: Option<Micros>,
        status: BTreeMap<u16, u64>,
        latency: LatencySketch,
        clients: Vec<u64>,
    }

    pub fn serialize<S: Serializer>(m: &BTreeMap<CellKey, Cell>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter().map(|(k, c)| Row {
            bucket: k.bucket,
            app: k.app.clone(),
            version: k.version.clone(),
            token_state: k.token_state,
            endpoint: k.endpoint.clone(),
            requests: c.requests,
            errors: c.errors,
            retries: c.retries,
            resends: c.resends,
            loop_requests: c.loop_requests,
            loopers: c.loopers.clone(),
            first_loop: c.first_loop,
            status: c.status.clone(),
            latency: c.latency.clone(),
            clients: c.clients.clone(),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<CellKey, Cell>, D::Error> {
        let rows: Vec<Row> = Vec::deserialize(d)?;
        let mut m: BTreeMap<CellKey, Cell> = BTreeMap::new();
        for r in rows {
            let mut clients = r.clients;
            clients.sort_unstable();
            clients.dedup();
            let mut loopers = r.loopers;
            loopers.sort_unstable();
            loopers.dedup();
            let key = CellKey {
                bucket: r.bucket,
                app: r.app,
                version: r.version,
                token_state: r.token_state,
                endpoint: r.endpoint,
            };
            let cell = Cell {
                requests: r.requests,
                errors: r.errors,
                retries: r.retries,
                resends: r.resends,
                loop_requests: r.loop_requests,
                loopers,
                first_loop: r.first_loop,
                status: r.status,
                latency: r.latency,
                clients,
            };
            m.entry(key).or_default().merge(&cell);
        }
        Ok(m)
    }
}

impl Cube {
    pub fn new(bucket_seconds: u64) -> Self {
        Cube {
            schema: CUBE_SCHEMA.into(),
            bucket_seconds,
            requests: 0,
            status: BTreeMap::new(),
            token_states: BTreeMap::new(),
            health: BTreeMap::new(),
            time_min: None,
            time_max: None,
            cells: BTreeMap::new(),
            chains: BTreeMap::new(),
            retry_clients: BTreeMap::new(),
        }
    }

    pub fn bucket_us(&self) -> i64 {
        self.bucket_seconds as i64 * 1_000_000
    }

    pub fn bucket_start(&self, bucket: i64) -> Micros {
        bucket * self.bucket_us()
    }

    /// Merges another cube built with the same bucket width.
    pub fn merge(&mut self, o: &Cube) -> crate::Result<()> {
        if o.bucket_seconds != self.bucket_seconds {
            return Err(crate::Error::BucketMismatch {
                a: self.bucket_seconds,
                b: o.bucket_seconds,
            });
        }
        self.requests += o.requests;
        for (k, v) in &o.status {
            *self.status.entry(*k).or_default() += v;
        }
        for (k, v) in &o.token_states {
            *self.token_states.entry(*k).or_default() += v;
        }
        for (k, v) in &o.health {
            *self.health.entry(*k).or_default() += v;
        }
        self.time_min = min_opt(self.time_min, o.time_min);
        self.time_max = max_opt(self.time_max, o.time_max);
        for (k, c) in &o.cells {
            self.cells.entry(k.clone()).or_default().merge(c);
        }
        for (k, c) in &o.chains {
            self.chains.entry(k.clone()).or_default().merge(c);
        }
        for (k, c) in &o.retry_clients {
            self.retry_clients.entry(*k).or_default().merge(c);
        }
        Ok(())
    }

    /// This cube cut into UTC days (day index = days since the epoch), for
    /// a store that keeps one cube per day. Cells, chains and health checks
    /// go to the day of their bucket (a bucket never spans midnight: widths
    /// divide a day). Cube-wide counts are recomputed from each day's cells;
    /// what cells do not hold (the status codes and token states of health
    /// checks) and each client's retry summary, which is not kept per day,
    /// go to the day of the client's last retry or to the last day. Merging
    /// the days gives this cube back exactly.
    pub fn split_days(&self) -> BTreeMap<i64, Cube> {
        const DAY_US: i64 = 86_400 * 1_000_000;
        let bucket_us = self.bucket_us().max(1);
        let day_of_bucket = |b: i64| (b * bucket_us).div_euclid(DAY_US);
        let mut days: BTreeMap<i64, Cube> = BTreeMap::new();
        let width = self.bucket_seconds;
        fn day(days: &mut BTreeMap<i64, Cube>, d: i64, width: u64) -> &mut Cube {
            days.entry(d).or_insert_with(|| Cube::new(width))
        }
        for (k, c) in &self.cells {
            let d = day(&mut days, day_of_bucket(k.bucket), width);
            d.requests += c.requests;
            for (s, n) in &c.status {
                *d.status.entry(*s).or_default() += n;
            }
            *d.token_states.entry(k.token_state).or_default() += c.requests;
            d.cells.insert(k.clone(), c.clone());
        }
        for (b, n) in &self.health {
            let d = day(&mut days, day_of_bucket(*b), width);
            d.requests += n;
            *d.health.entry(*b).or_default() += n;
        }
        for (k, c) in &self.chains {
            day(&mut days, day_of_bucket(k.bucket), width)
                .chains
                .insert(k.clone(), c.clone());
        }
        for (client, r) in &self.retry_clients {
            day(&mut days, r.last_retry.div_euclid(DAY_US), width)
                .retry_clients
                .insert(*client, r.clone());
        }
        // Each day's time range: from the start of its first bucket to the
        // end of its last, within the cube's own (so the days' ranges merge
        // back into it, and a day read alone has the hours it holds).
        for c in days.values_mut() {
            let buckets = c
                .cells
                .keys()
                .map(|k| k.bucket)
                .chain(c.health.keys().copied());
            let (first, last) =
                buckets.fold((i64::MAX, i64::MIN), |(a, b), x| (a.min(x), b.max(x)));
            if first > last {
                continue;
            }
            let (lo, hi) = (first * bucket_us, (last + 1) * bucket_us - 1);
            c.time_min = self.time_min.map(|t| t.clamp(lo, hi));
            c.time_max = self.time_max.map(|t| t.clamp(lo, hi));
        }
        // What no cell holds goes to the last day.
        if let Some((_, last)) = days.iter_mut().next_back() {
            let held: u64 =
                self.cells.values().map(|c| c.requests).sum::<u64>() + self.health_checks();
            last.requests += self.requests.saturating_sub(held);
        }
        let mut rest_status = self.status.clone();
        let mut rest_tokens = self.token_states.clone();
        for c in days.values() {
            for (s, n) in &c.status {
                if let Some(r) = rest_status.get_mut(s) {
                    *r = r.saturating_sub(*n);
                }
            }
            for (t, n) in &c.token_states {
                if let Some(r) = rest_tokens.get_mut(t) {
                    *r = r.saturating_sub(*n);
                }
            }
        }
        if let Some((_, last)) = days.iter_mut().next_back() {
            for (s, n) in rest_status.into_iter().filter(|(_, n)| *n > 0) {
                *last.status.entry(s).or_default() += n;
            }
            for (t, n) in rest_tokens.into_iter().filter(|(_, n)| *n > 0) {
                *last.token_states.entry(t).or_default() += n;
            }
        }
        days
    }

    pub fn health_checks(&self) -> u64 {
        self.health.values().sum()
    }

    /// First and last bucket index, if any traffic.
    pub fn bucket_range(&self) -> Option<(i64, i64)> {
        let b = |t: Micros| t.div_euclid(self.bucket_us());
        Some((b(self.time_min?), b(self.time_max?)))
    }
}

pub fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

pub fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(req: u64, clients: &[u64]) -> Cell {
        let mut c = Cell {
            requests: req,
            clients: clients.to_vec(),
            ..Default::default()
        };
        c.status.insert(200, req);
        c
    }

    #[test]
    fn union_sorted() {
        assert_eq!(union(&[1, 3, 5], &[2, 3, 6]), vec![1, 2, 3, 5, 6]);
        assert_eq!(union(&[], &[1]), vec![1]);
    }

    #[test]
    fn merge_and_roundtrip() {
        let key = CellKey {
            bucket: 5,
            app: "a".into(),
            version: "1".into(),
            token_state: TokenState::Valid,
            endpoint: "GET /".into(),
        };
        let mut a = Cube::new(60);
        a.cells.insert(key.clone(), cell(2, &[1, 2]));
        a.requests = 2;
        let mut b = Cube::new(60);
        b.cells.insert(key.clone(), cell(3, &[2, 3]));
        b.requests = 3;
        a.merge(&b).unwrap();
        assert_eq!(a.cells[&key].requests, 5);
        assert_eq!(a.cells[&key].clients, vec![1, 2, 3]);
        let json = serde_json::to_string(&a).unwrap();
        let back: Cube = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        assert!(a.merge(&Cube::new(300)).is_err());
    }
}
