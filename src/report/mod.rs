//! The report model: everything a run found (inputs, totals, cohorts,
//! endpoints, the timeline, `--by` groups, episodes), built from the cube
//! and the file reports. Its JSON form (schema `authstorm/report/v2`) is
//! the contract for scripts; `output` renders it for people.

mod clients;
pub mod compare;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aggregate::{ByAgg, Cell, CellKey, Cube, SketchSum};
use crate::classify::{TokenState, Version};
use crate::detect::Storm;
use crate::format::SkipReason;
use crate::scan::FileReport;
use crate::status::is_timeout;
use crate::time::{Micros, rfc3339};
use clients::{BIT_BUDGET, ClientIds, IdSet};

pub const REPORT_SCHEMA: &str = "authstorm/report/v2";
pub const STORMS_SCHEMA: &str = "authstorm/storms/v1";

/// What `authstorm storms --json` writes: the episodes, and enough of the
/// input to tell an empty result from an empty input.
#[derive(Debug, Clone, Serialize)]
pub struct StormsDoc<'r> {
    pub schema: &'static str,
    pub generator: &'r str,
    pub input: StormsInput<'r>,
    pub storms: &'r [Storm],
}

#[derive(Debug, Clone, Serialize)]
pub struct StormsInput<'r> {
    pub files: usize,
    pub lines: u64,
    pub parsed: u64,
    pub skipped: u64,
    pub requests: u64,
    pub time_range: &'r TimeRange,
}

impl Report {
    /// The `storms --json` document of this report.
    pub fn storms_doc(&self) -> StormsDoc<'_> {
        StormsDoc {
            schema: STORMS_SCHEMA,
            generator: &self.generator,
            input: StormsInput {
                files: self.input.files.len(),
                lines: self.input.lines,
                parsed: self.input.parsed,
                skipped: self.input.skipped,
                requests: self.totals.requests,
                time_range: &self.input.time_range,
            },
            storms: &self.storms,
        }
    }
}
/// Above this many buckets the timeline lists only non-empty ones.
const MAX_DENSE_BUCKETS: i64 = 100_000;

#[derive(Debug, Clone, Serialize)]
pub struct TimeRange {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    pub files: Vec<FileReport>,
    pub lines: u64,
    pub parsed: u64,
    pub filtered: u64,
    pub skipped: u64,
    pub skipped_by_reason: BTreeMap<SkipReason, u64>,
    pub time_range: TimeRange,
    /// Inputs that could not be opened at all (missing paths, loops...).
    pub errors: Vec<InputError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputError {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub requests: u64,
    pub clients: u64,
    pub health_checks: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_token_state: BTreeMap<TokenState, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CohortRow {
    pub app: String,
    pub version: String,
    pub token_state: TokenState,
    pub requests: u64,
    pub clients: u64,
    pub errors: u64,
    pub retries: u64,
    pub p50_latency_ms: Option<f64>,
    pub p95_latency_ms: Option<f64>,
    pub p99_latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointRow {
    pub endpoint: String,
    pub requests: u64,
    pub clients: u64,
    pub errors: u64,
    pub p95_latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BucketRow {
    pub start: String,
    #[serde(skip)]
    pub start_us: Micros,
    pub requests: u64,
    pub clients: u64,
    pub errors: u64,
    pub retries: u64,
    /// retries / (requests − retries)
    pub retry_ratio: f64,
    /// requests / distinct clients
    pub requests_per_client: f64,
    pub health_checks: u64,
    pub by_status_class: BTreeMap<&'static str, u64>,
    pub by_token_state: BTreeMap<TokenState, u64>,
    pub status_401: u64,
    pub status_429: u64,
    pub timeouts: u64,
    pub p95_latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub bucket_seconds: u64,
    pub buckets: Vec<BucketRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    pub key: Vec<String>,
    pub requests: u64,
    pub clients: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Groups {
    pub fields: Vec<&'static str>,
    pub rows: Vec<GroupRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub generator: String,
    pub input: InputSummary,
    pub totals: Totals,
    pub cohorts: Vec<CohortRow>,
    pub endpoints: Vec<EndpointRow>,
    pub timeline: Timeline,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Groups>,
    pub storms: Vec<Storm>,
}

fn round1(v: Option<f64>) -> Option<f64> {
    v.map(|x| (x * 10.0).round() / 10.0)
}

#[derive(Default)]
struct Acc {
    requests: u64,
    errors: u64,
    retries: u64,
    latency: SketchSum,
}

impl Acc {
    fn add(&mut self, c: &Cell) {
        self.requests += c.requests;
        self.errors += c.errors;
        self.retries += c.retries;
        self.latency.add(&c.latency);
    }
}

/// Status classes as [`crate::status::status_class`] names them, by
/// [`class_index`].
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

fn class_index(s: u16) -> usize {
    match s {
        100..=599 => usize::from(s / 100 - 1),
        _ => 5,
    }
}

/// Sums the cells by `key`, in order of first appearance, with their
/// distinct clients (`ids` holds the cells' client ids in cell order).
fn group<'c, K: Copy + Eq + std::hash::Hash>(
    cube: &'c Cube,
    ids: &ClientIds,
    budget: usize,
    key: impl Fn(&'c CellKey) -> K,
) -> Vec<(K, Acc, IdSet)> {
    let mut index: rustc_hash::FxHashMap<K, usize> = Default::default();
    let mut groups: Vec<(K, Acc, IdSet)> = Vec::new();
    for (i, (k, c)) in cube.cells.iter().enumerate() {
        let k = key(k);
        let g = *index.entry(k).or_insert_with(|| {
            let set = IdSet::new(groups.len(), ids.distinct(), budget);
            groups.push((k, Acc::default(), set));
            groups.len() - 1
        });
        let (_, acc, set) = &mut groups[g];
        acc.add(c);
        set.extend(ids.cell(i));
    }
    groups
}

impl Report {
    pub fn build(
        files: Vec<FileReport>,
        errors: Vec<InputError>,
        cube: &Cube,
        by: Option<&ByAgg>,
        storms: Vec<Storm>,
    ) -> Report {
        Self::build_with(files, errors, cube, by, storms, BIT_BUDGET)
    }

    /// [`Report::build`] with the bit budget of each grouping's client sets.
    fn build_with(
        files: Vec<FileReport>,
        errors: Vec<InputError>,
        cube: &Cube,
        by: Option<&ByAgg>,
        storms: Vec<Storm>,
        budget: usize,
    ) -> Report {
        let input = input_summary(files, errors, cube);
        let (mut buckets, ids) = timeline_buckets(cube);
        // Cohorts and endpoints count the ids the timeline gave out.
        let (cohorts, endpoints) = rayon::join(
            || {
                group(cube, &ids, budget, |k| {
                    (&*k.app, &*k.version, k.token_state)
                })
            },
            || group(cube, &ids, budget, |k| &*k.endpoint),
        );
        for (b, n) in &cube.health {
            buckets
                .entry(*b)
                .or_insert_with(|| empty_bucket(cube, *b))
                .health_checks += n;
        }
        let rows = fill_gaps(buckets.into_values().collect(), cube);
        Report {
            schema: REPORT_SCHEMA,
            generator: format!("authstorm {}", env!("CARGO_PKG_VERSION")),
            input,
            totals: Totals {
                requests: cube.requests,
                clients: ids.distinct() as u64,
                health_checks: cube.health_checks(),
                by_status: cube
                    .status
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
                by_token_state: cube.token_states.clone(),
            },
            cohorts: cohort_rows(cohorts),
            endpoints: endpoint_rows(endpoints),
            timeline: Timeline {
                bucket_seconds: cube.bucket_seconds,
                buckets: rows,
            },
            groups: by.map(by_groups),
            storms,
        }
    }
}

/// What was read: the files' counts summed, and the time range.
fn input_summary(files: Vec<FileReport>, errors: Vec<InputError>, cube: &Cube) -> InputSummary {
    let mut skipped_by_reason = BTreeMap::new();
    for f in &files {
        for (k, v) in &f.skipped_by_reason {
            *skipped_by_reason.entry(*k).or_default() += v;
        }
    }
    InputSummary {
        lines: files.iter().map(|f| f.lines).sum(),
        parsed: files.iter().map(|f| f.parsed).sum(),
        filtered: files.iter().map(|f| f.filtered).sum(),
        skipped: files.iter().map(|f| f.skipped).sum(),
        skipped_by_reason,
        time_range: TimeRange {
            start: cube.time_min.map(rfc3339),
            end: cube.time_max.map(rfc3339),
        },
        files,
        errors,
    }
}

/// The timeline's rows of the buckets with cells, and every client's id.
/// Cells are in bucket order, so each bucket is summed and closed in
/// turn, and its clients get their ids as it is summed.
fn timeline_buckets(cube: &Cube) -> (BTreeMap<i64, BucketRow>, ClientIds) {
    let entries = cube.cells.values().map(|c| c.clients.len()).sum();
    let mut ids = ClientIds::with_capacity(cube.cells.len(), entries);
    let mut buckets: BTreeMap<i64, BucketRow> = BTreeMap::new();
    let mut acc = Acc::default();
    let (mut clients, mut stamp) = (0, 1);
    let mut classes = [None::<u64>; CLASSES.len()];
    let mut tokens = [None::<u64>; TokenState::ALL.len()];
    let mut cells = cube.cells.iter().peekable();
    while let Some((k, c)) = cells.next() {
        acc.add(c);
        clients += ids.add(&c.clients, stamp);
        *tokens[k.token_state.index()].get_or_insert(0) += c.requests;
        let row = buckets
            .entry(k.bucket)
            .or_insert_with(|| empty_bucket(cube, k.bucket));
        for (&s, &n) in &c.status {
            *classes[class_index(s)].get_or_insert(0) += n;
            match s {
                401 => row.status_401 += n,
                429 => row.status_429 += n,
                s if is_timeout(s) => row.timeouts += n,
                _ => {}
            }
        }
        if cells
            .peek()
            .is_some_and(|(next, _)| next.bucket == k.bucket)
        {
            continue;
        }
        close_bucket(row, &acc, clients, &mut classes, &mut tokens);
        (acc.requests, acc.errors, acc.retries, clients) = (0, 0, 0, 0);
        acc.latency.clear();
        stamp += 1;
    }
    (buckets, ids)
}

/// Writes a bucket's sums into its row, and empties the per-class and
/// per-token-state counts for the next bucket.
fn close_bucket(
    row: &mut BucketRow,
    acc: &Acc,
    clients: u64,
    classes: &mut [Option<u64>; CLASSES.len()],
    tokens: &mut [Option<u64>; TokenState::ALL.len()],
) {
    row.requests = acc.requests;
    row.errors = acc.errors;
    row.retries = acc.retries;
    row.clients = clients;
    let originals = acc.requests - acc.retries;
    row.retry_ratio = if originals > 0 {
        (acc.retries as f64 / originals as f64 * 1000.0).round() / 1000.0
    } else {
        0.0
    };
    row.requests_per_client = if clients > 0 {
        (acc.requests as f64 / clients as f64 * 100.0).round() / 100.0
    } else {
        0.0
    };
    row.p95_latency_ms = round1(acc.latency.quantile(0.95));
    for (name, n) in CLASSES.iter().zip(classes) {
        if let Some(n) = n.take() {
            row.by_status_class.insert(name, n);
        }
    }
    for (t, n) in TokenState::ALL.iter().zip(tokens) {
        if let Some(n) = n.take() {
            row.by_token_state.insert(*t, n);
        }
    }
}

/// `rows` with an empty row for every bucket between the first and the
/// last that has none, unless that would make more than
/// [`MAX_DENSE_BUCKETS`].
fn fill_gaps(rows: Vec<BucketRow>, cube: &Cube) -> Vec<BucketRow> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return rows;
    };
    let bu = cube.bucket_us();
    let (a, z) = (first.start_us / bu, last.start_us / bu);
    if z - a >= MAX_DENSE_BUCKETS || (z - a + 1) as usize <= rows.len() {
        return rows;
    }
    let mut dense = Vec::with_capacity((z - a + 1) as usize);
    let mut it = rows.into_iter().peekable();
    for b in a..=z {
        match it.peek() {
            Some(r) if r.start_us / bu == b => dense.push(it.next().expect("peeked")),
            _ => dense.push(empty_bucket(cube, b)),
        }
    }
    dense
}

/// Cohort rows, the busiest first.
fn cohort_rows(cohorts: Vec<((&str, &str, TokenState), Acc, IdSet)>) -> Vec<CohortRow> {
    let mut rows: Vec<CohortRow> = cohorts
        .into_iter()
        .map(|((app, version, token_state), a, clients)| CohortRow {
            app: app.to_string(),
            version: version.to_string(),
            token_state,
            requests: a.requests,
            clients: clients.len(),
            errors: a.errors,
            retries: a.retries,
            p50_latency_ms: round1(a.latency.quantile(0.5)),
            p95_latency_ms: round1(a.latency.quantile(0.95)),
            p99_latency_ms: round1(a.latency.quantile(0.99)),
        })
        .collect();
    rows.sort_by(|x, y| {
        y.requests
            .cmp(&x.requests)
            .then_with(|| x.app.cmp(&y.app))
            .then_with(|| Version(&x.version).cmp(&Version(&y.version)))
            .then_with(|| x.token_state.cmp(&y.token_state))
            .then_with(|| x.version.cmp(&y.version))
    });
    rows
}

/// The 100 busiest endpoints' rows, the busiest first.
fn endpoint_rows(endpoints: Vec<(&str, Acc, IdSet)>) -> Vec<EndpointRow> {
    let mut rows: Vec<EndpointRow> = endpoints
        .into_iter()
        .map(|(e, a, clients)| EndpointRow {
            endpoint: e.to_string(),
            requests: a.requests,
            clients: clients.len(),
            errors: a.errors,
            p95_latency_ms: round1(a.latency.quantile(0.95)),
        })
        .collect();
    rows.sort_by(|x, y| {
        y.requests
            .cmp(&x.requests)
            .then_with(|| x.endpoint.cmp(&y.endpoint))
    });
    rows.truncate(100);
    rows
}

/// The `--by` groups, the busiest first.
fn by_groups(b: &ByAgg) -> Groups {
    let mut rows: Vec<GroupRow> = b
        .groups
        .iter()
        .map(|(k, g)| GroupRow {
            key: k.clone(),
            requests: g.requests,
            clients: g.clients.len() as u64,
            errors: g.errors,
        })
        .collect();
    rows.sort_by(|x, y| y.requests.cmp(&x.requests).then_with(|| x.key.cmp(&y.key)));
    Groups {
        fields: b.fields.iter().map(|f| f.name()).collect(),
        rows,
    }
}

fn empty_bucket(cube: &Cube, b: i64) -> BucketRow {
    let t = cube.bucket_start(b);
    BucketRow {
        start: rfc3339(t),
        start_us: t,
        requests: 0,
        clients: 0,
        errors: 0,
        retries: 0,
        retry_ratio: 0.0,
        requests_per_client: 0.0,
        health_checks: 0,
        by_status_class: BTreeMap::new(),
        by_token_state: BTreeMap::new(),
        status_401: 0,
        status_429: 0,
        timeouts: 0,
        p95_latency_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::LatencySketch;
    use std::collections::BTreeSet;

    /// Cells over a few buckets, cohorts and endpoints, sharing clients.
    fn cube() -> Cube {
        let mut cube = Cube::new(60);
        let mut seed = 11u64;
        let mut next = move |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for bucket in [100, 101, 103] {
            for app in ["desk", "web"] {
                for version in ["1.2", "1.10"] {
                    for token_state in [TokenState::Valid, TokenState::Expired] {
                        for endpoint in ["GET /a", "POST /b"] {
                            if next(4) == 0 {
                                continue;
                            }
                            let mut cell = Cell::default();
                            let mut latency = LatencySketch::default();
                            for _ in 0..1 + next(20) {
                                cell.requests += 1;
                                let s = [200, 401, 429, 504, 503][next(5) as usize];
                                *cell.status.entry(s).or_default() += 1;
                                cell.errors += u64::from(s >= 400);
                                cell.retries += u64::from(s == 401);
                                latency.add(next(5000) as f64 / 10.0);
                                cell.clients
                                    .push(next(40).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                            }
                            cell.clients.sort_unstable();
                            cell.clients.dedup();
                            cell.latency = latency;
                            cube.requests += cell.requests;
                            let key = CellKey {
                                bucket,
                                app: app.into(),
                                version: version.into(),
                                token_state,
                                endpoint: endpoint.into(),
                            };
                            cube.cells.insert(key, cell);
                        }
                    }
                }
            }
        }
        cube.time_min = Some(cube.bucket_start(100));
        cube.time_max = Some(cube.bucket_start(103));
        cube.health.insert(102, 3);
        cube
    }

    fn distinct<'a>(cells: impl Iterator<Item = &'a Cell>) -> u64 {
        cells
            .flat_map(|c| &c.clients)
            .collect::<BTreeSet<_>>()
            .len() as u64
    }

    /// Client counts are the distinct clients of each group's cells,
    /// whether the sets are bits or hashed.
    #[test]
    fn clients_are_distinct_per_group() {
        let cube = cube();
        let report = Report::build(Vec::new(), Vec::new(), &cube, None, Vec::new());
        let hashed = Report::build_with(Vec::new(), Vec::new(), &cube, None, Vec::new(), 0);
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            serde_json::to_string(&hashed).unwrap()
        );
        assert_eq!(report.totals.clients, distinct(cube.cells.values()));
        for row in &report.cohorts {
            let cells = cube.cells.iter().filter(|(k, _)| {
                (&*k.app, &*k.version, k.token_state) == (&*row.app, &*row.version, row.token_state)
            });
            assert_eq!(row.clients, distinct(cells.map(|(_, c)| c)), "{row:?}");
        }
        for row in &report.endpoints {
            let cells = cube
                .cells
                .iter()
                .filter(|(k, _)| k.endpoint == row.endpoint);
            assert_eq!(row.clients, distinct(cells.map(|(_, c)| c)), "{row:?}");
        }
        let buckets = &report.timeline.buckets;
        assert_eq!(
            buckets.len(),
            4,
            "103 - 100 + 1, the health-only one included"
        );
        for row in buckets {
            let b = row.start_us / cube.bucket_us();
            let cells: Vec<&Cell> = cube
                .cells
                .range(..)
                .filter(|(k, _)| k.bucket == b)
                .map(|(_, c)| c)
                .collect();
            assert_eq!(row.clients, distinct(cells.iter().copied()), "{row:?}");
            assert_eq!(row.requests, cells.iter().map(|c| c.requests).sum::<u64>());
            let status = |s: u16| {
                cells
                    .iter()
                    .map(|c| c.status.get(&s).copied().unwrap_or(0))
                    .sum::<u64>()
            };
            assert_eq!(row.status_401, status(401));
            assert_eq!(row.timeouts, status(504));
            assert_eq!(
                row.by_status_class.get("5xx").copied().unwrap_or(0),
                status(503) + status(504)
            );
        }
        assert_eq!(buckets[2].health_checks, 3);
        assert_eq!(buckets[2].requests, 0);
    }

    #[test]
    fn status_classes_are_named_by_index() {
        for s in 0..=1000u16 {
            assert_eq!(
                CLASSES[class_index(s)],
                crate::status::status_class(Some(s)),
                "{s}"
            );
        }
    }
}
