//! The report: everything a run found, built from the cube and the file
//! reports. Its JSON form (schema `authstorm/report/v1`) is the contract
//! for scripts; [`table`] renders it for the terminal.

pub mod postmortem;
pub mod table;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aggregate::{ByAgg, Cell, Cube, SketchSum};
use crate::classify::{TokenState, Version};
use crate::detect::Storm;
use crate::format::SkipReason;
use crate::scan::FileReport;
use crate::time::{Micros, rfc3339};

pub const REPORT_SCHEMA: &str = "authstorm/report/v1";
/// Above this many buckets the timeline lists only non-empty ones.
const MAX_DENSE_BUCKETS: i64 = 100_000;

pub fn status_class(s: Option<u16>) -> &'static str {
    match s {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "-",
    }
}

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

/// Status codes that mean the client gave up or the gateway timed out.
pub fn is_timeout(s: u16) -> bool {
    matches!(s, 499 | 504 | 408)
}

#[derive(Default)]
struct Acc {
    requests: u64,
    errors: u64,
    retries: u64,
    clients: rustc_hash::FxHashSet<u64>,
    latency: SketchSum,
}

impl Acc {
    fn add(&mut self, c: &Cell) {
        self.add_counts(c);
        self.clients.extend(&c.clients);
    }

    /// [`Acc::add`] but for the clients.
    fn add_counts(&mut self, c: &Cell) {
        self.requests += c.requests;
        self.errors += c.errors;
        self.retries += c.retries;
        self.latency.add(&c.latency);
    }
}

impl Report {
    pub fn build(
        files: Vec<FileReport>,
        errors: Vec<InputError>,
        cube: &Cube,
        by: Option<&ByAgg>,
        storms: Vec<Storm>,
    ) -> Report {
        let mut skipped_by_reason = BTreeMap::new();
        for f in &files {
            for (k, v) in &f.skipped_by_reason {
                *skipped_by_reason.entry(*k).or_default() += v;
            }
        }
        let input = InputSummary {
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
        };

        // Three independent passes over the cells, run in parallel: the
        // report is built while detection runs, and should not outlast it.
        let by_cohort = || {
            let mut cohorts: BTreeMap<(&str, &str, TokenState), Acc> = BTreeMap::new();
            for (k, c) in &cube.cells {
                cohorts
                    .entry((&k.app, &k.version, k.token_state))
                    .or_default()
                    .add(c);
            }
            cohorts
        };
        let by_endpoint = || {
            let mut endpoints: BTreeMap<&str, Acc> = BTreeMap::new();
            for (k, c) in &cube.cells {
                endpoints.entry(&k.endpoint).or_default().add(c);
            }
            endpoints
        };
        // Cells are in bucket order: a bucket's clients are counted in one
        // set, emptied for the next bucket, rather than kept per bucket.
        let by_bucket = || {
            let mut buckets: BTreeMap<i64, (Acc, BucketRow)> = BTreeMap::new();
            let mut clients = rustc_hash::FxHashSet::<u64>::default();
            let mut cells = cube.cells.iter().peekable();
            while let Some((k, c)) = cells.next() {
                let (acc, row) = buckets
                    .entry(k.bucket)
                    .or_insert_with(|| (Acc::default(), empty_bucket(cube, k.bucket)));
                acc.add_counts(c);
                clients.extend(&c.clients);
                if cells.peek().is_none_or(|(next, _)| next.bucket != k.bucket) {
                    row.clients = clients.len() as u64;
                    clients.clear();
                }
                *row.by_token_state.entry(k.token_state).or_default() += c.requests;
                for (s, n) in &c.status {
                    *row.by_status_class
                        .entry(status_class(Some(*s)))
                        .or_default() += n;
                    match *s {
                        401 => row.status_401 += n,
                        429 => row.status_429 += n,
                        s if is_timeout(s) => row.timeouts += n,
                        _ => {}
                    }
                }
            }
            buckets
        };
        let (mut buckets, (cohorts, endpoints)) =
            rayon::join(by_bucket, || rayon::join(by_cohort, by_endpoint));
        // Each cell has one endpoint: all clients are those of the endpoints.
        let mut all_clients = rustc_hash::FxHashSet::<u64>::default();
        for a in endpoints.values() {
            all_clients.extend(&a.clients);
        }
        for (b, n) in &cube.health {
            buckets
                .entry(*b)
                .or_insert_with(|| (Acc::default(), empty_bucket(cube, *b)))
                .1
                .health_checks += n;
        }
        let mut rows: Vec<BucketRow> = buckets
            .into_values()
            .map(|(acc, mut row)| {
                row.requests = acc.requests;
                row.errors = acc.errors;
                row.retries = acc.retries;
                let originals = acc.requests - acc.retries;
                row.retry_ratio = if originals > 0 {
                    (acc.retries as f64 / originals as f64 * 1000.0).round() / 1000.0
                } else {
                    0.0
                };
                row.requests_per_client = if row.clients > 0 {
                    (acc.requests as f64 / row.clients as f64 * 100.0).round() / 100.0
                } else {
                    0.0
                };
                row.p95_latency_ms = round1(acc.latency.quantile(0.95));
                row
            })
            .collect();
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            let bu = cube.bucket_us();
            let (a, z) = (first.start_us / bu, last.start_us / bu);
            if z - a < MAX_DENSE_BUCKETS && (z - a + 1) as usize > rows.len() {
                let mut dense = Vec::with_capacity((z - a + 1) as usize);
                let mut it = rows.into_iter().peekable();
                for b in a..=z {
                    match it.peek() {
                        Some(r) if r.start_us / bu == b => dense.push(it.next().expect("peeked")),
                        _ => dense.push(empty_bucket(cube, b)),
                    }
                }
                rows = dense;
            }
        }

        let mut cohort_rows: Vec<CohortRow> = cohorts
            .into_iter()
            .map(|((app, version, token_state), a)| CohortRow {
                app: app.to_string(),
                version: version.to_string(),
                token_state,
                requests: a.requests,
                clients: a.clients.len() as u64,
                errors: a.errors,
                retries: a.retries,
                p50_latency_ms: round1(a.latency.quantile(0.5)),
                p95_latency_ms: round1(a.latency.quantile(0.95)),
                p99_latency_ms: round1(a.latency.quantile(0.99)),
            })
            .collect();
        cohort_rows.sort_by(|x, y| {
            y.requests
                .cmp(&x.requests)
                .then_with(|| x.app.cmp(&y.app))
                .then_with(|| Version(&x.version).cmp(&Version(&y.version)))
                .then_with(|| x.token_state.cmp(&y.token_state))
        });
        let mut endpoint_rows: Vec<EndpointRow> = endpoints
            .into_iter()
            .map(|(e, a)| EndpointRow {
                endpoint: e.to_string(),
                requests: a.requests,
                clients: a.clients.len() as u64,
                errors: a.errors,
                p95_latency_ms: round1(a.latency.quantile(0.95)),
            })
            .collect();
        endpoint_rows.sort_by(|x, y| {
            y.requests
                .cmp(&x.requests)
                .then_with(|| x.endpoint.cmp(&y.endpoint))
        });
        endpoint_rows.truncate(100);

        let groups = by.map(|b| {
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
        });

        Report {
            schema: REPORT_SCHEMA,
            generator: format!("authstorm {}", env!("CARGO_PKG_VERSION")),
            input,
            totals: Totals {
                requests: cube.requests,
                clients: all_clients.len() as u64,
                health_checks: cube.health_checks(),
                by_status: cube
                    .status
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
                by_token_state: cube.token_states.clone(),
            },
            cohorts: cohort_rows,
            endpoints: endpoint_rows,
            timeline: Timeline {
                bucket_seconds: cube.bucket_seconds,
                buckets: rows,
            },
            groups,
            storms,
        }
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
