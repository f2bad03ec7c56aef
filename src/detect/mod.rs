//! Detection, computed from the cube alone.
//!
//! - **Storms** ([`loops`]): clients of one app caught in loops (retries
//!   and resends that keep coming back quickly, see [`crate::retry`]). Per
//!   app, buckets with loop requests form spans (gaps up to `merge_gap`
//!   bridged). A span is a storm when at least `min_clients` distinct
//!   clients loop in it and its loop requests above the app's own baseline
//!   of loops reach `min_share` of all client traffic in some bucket, and
//!   the culprit's clients send at least `amplification` times what they
//!   sent before: one client, a tiny cohort, a ratio on a small
//!   denominator or clients retrying through an outage never make a storm.
//!   The culprit is the app, the versions carrying at least
//!   `version_share` of its loop requests, and the token state (and
//!   endpoint) carrying at least `state_share` of them, else any. The storm
//!   starts when its first looping client sent its first repeat.
//! - **Outages and surges** ([`volume`]): runs of anomalous buckets (robust
//!   z ≥ `z` against a local and seasonal baseline, [`baseline`]) in all
//!   traffic or in a cohort, attributed to the combination that explains
//!   the excess ([`attribution`]): an outage when the service failed
//!   (server errors and timeouts up markedly), a surge when all traffic
//!   rose without that. An episode overlapping a storm is part of that
//!   storm's incident (its impact), not a finding of its own.

pub mod attribution;
pub mod baseline;
mod loops;
mod volume;

use crate::error::SettingError;
use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Cell, CellKey, Cube, SketchSum};
use crate::classify::{TokenState, Version};
use crate::retry::{Backoff, ChainStats};
use crate::status::is_timeout;
use attribution::Combo;
use baseline::{Grid, Params};

/// Thresholds; every one can be set in the config's `[detect]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Robust z-score for an anomalous bucket (Iglewicz–Hoaglin: 3.5).
    pub z: f64,
    /// Consecutive anomalous buckets for an outage or surge.
    pub min_buckets: usize,
    /// Baseline buckets.
    pub baseline_buckets: usize,
    /// Minimum excess ratio over the forecast for an anomalous bucket.
    pub min_ratio: f64,
    /// Minimum requests in an anomalous bucket.
    pub min_bucket_requests: f64,
    /// Retry ratio (retries / originals) that marks an outage's retrying
    /// clients (Google SRE's 10% budget).
    pub retry_ratio: f64,
    /// Requests per client of a storm's culprit (app and versions), during
    /// against before: a storm multiplies what its clients send; clients
    /// retrying through an outage do not.
    pub amplification: f64,
    /// Distinct looping clients a storm needs.
    pub min_clients: usize,
    /// Share of all client traffic a storm's loops must reach in a bucket.
    pub min_share: f64,
    /// Share of a storm's loop requests a version needs to be a culprit.
    pub version_share: f64,
    /// Share of a storm's loop requests that names its token state (and
    /// endpoint); below it the culprit says "any".
    pub state_share: f64,
    /// Episodes (and loops) closer than this merge into one.
    pub merge_gap: String,
    /// Loops of a storm's culprit this close before it are its first
    /// clients: the storm began with them.
    pub precursor_gap: String,
    /// How long an episode must stay quiet to be over.
    pub end_quiet: String,
    /// Cohorts with fewer requests in all are not scanned on their own.
    pub min_cohort_requests: u64,
    /// Route substrings that mark login and token endpoints.
    pub login_routes: Vec<String>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            z: 3.5,
            min_buckets: 3,
            baseline_buckets: 30,
            min_ratio: 1.25,
            min_bucket_requests: 10.0,
            retry_ratio: 0.10,
            amplification: 3.0,
            min_clients: 3,
            min_share: 0.05,
            version_share: 0.01,
            state_share: 0.8,
            merge_gap: "10m".into(),
            precursor_gap: "1h".into(),
            end_quiet: "10m".into(),
            min_cohort_requests: 50,
            login_routes: crate::classify::default_auth_routes(),
        }
    }
}

impl DetectConfig {
    pub fn validate(&self) -> Result<(), SettingError> {
        let bad =
            |key: &str, why: &str| Err(SettingError::value(why).at(format!("[detect] {key}")));
        for (name, v) in [
            ("merge_gap", &self.merge_gap),
            ("precursor_gap", &self.precursor_gap),
            ("end_quiet", &self.end_quiet),
        ] {
            crate::time::parse_duration(v).map_err(|e| e.at(format!("[detect] {name}")))?;
        }
        if self.min_buckets == 0 {
            return bad("min_buckets", "must be at least 1");
        }
        if self.baseline_buckets < 4 {
            return bad("baseline_buckets", "must be at least 4");
        }
        if self.min_clients == 0 {
            return bad("min_clients", "must be at least 1");
        }
        for (name, v) in [
            ("min_share", self.min_share),
            ("version_share", self.version_share),
            ("state_share", self.state_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(name, "must be between 0 and 1");
            }
        }
        Ok(())
    }

    /// The baseline parameters these thresholds imply.
    pub fn params(&self) -> Params {
        Params {
            window: self.baseline_buckets,
            z: self.z,
            min_ratio: self.min_ratio,
            min_count: self.min_bucket_requests,
        }
    }

    fn buckets(&self, s: &str, bucket_seconds: u64) -> usize {
        let d = crate::time::parse_duration(s)
            .map(|d| d.as_secs())
            .unwrap_or(600);
        (d / bucket_seconds.max(1)).max(1) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StormKind {
    Storm,
    Surge,
    Outage,
}

impl StormKind {
    pub fn name(self) -> &'static str {
        match self {
            StormKind::Storm => "storm",
            StormKind::Surge => "surge",
            StormKind::Outage => "outage",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Culprit {
    pub app: Option<String>,
    /// Every version of the culprit cohort (semantic order); empty means any.
    pub versions: Vec<String>,
    /// The versions as people read them: contiguous ones as a range.
    #[serde(skip)]
    pub versions_display: String,
    pub token_state: Option<TokenState>,
    pub endpoint: Option<String>,
    pub share_of_excess: f64,
    pub surprise: f64,
    pub requests: u64,
    pub retry_ratio: f64,
    /// Requests per distinct client per bucket, during the episode.
    pub requests_per_client: f64,
    /// The same per second.
    pub rps_per_client: f64,
    pub attempts_per_op: f64,
    pub backoff: BTreeMap<Backoff, u64>,
    /// Requests that presented credentials the service had rejected.
    pub resends: u64,
    /// Distinct clients looping during the episode.
    pub looping_clients: u64,
    /// Retries and resends of looping clients.
    pub loop_requests: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Impact {
    /// Requests by everyone but the culprit, during the episode.
    pub others_requests: u64,
    pub login_attempts: u64,
    pub login_timeouts: u64,
    pub login_failures: u64,
    pub error_5xx_share_before: f64,
    pub error_5xx_share_during: f64,
    pub p95_latency_ms_before: Option<f64>,
    pub p95_latency_ms_during: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Storm {
    pub kind: StormKind,
    /// A storm: when its first looping client sent its first repeat (to
    /// the microsecond the log gives); others: the first bucket.
    pub start: String,
    pub peak: String,
    pub mitigation: Option<String>,
    pub end: String,
    /// True when the data ends before the episode settled.
    pub ongoing: bool,
    pub peak_rps: f64,
    pub baseline_rps: f64,
    /// Requests per client of the culprit app + versions, during vs before.
    pub amplification: Option<f64>,
    pub culprits: Vec<Culprit>,
    pub impact: Impact,
    #[serde(skip)]
    pub times: EpisodeTimes,
}

/// Episode times as UTC microseconds, for rendering.
#[derive(Debug, Clone, Default)]
pub struct EpisodeTimes {
    pub start: i64,
    pub peak: i64,
    pub mitigation: Option<i64>,
    pub end: i64,
}

/// Mean requests per client per bucket over some buckets, for some cells.
type RequestsPerClient<'a> = dyn Fn(&[usize], &dyn Fn(&CellKey) -> bool) -> Option<f64> + 'a;

/// The cube laid out by bucket, and what every detector needs of it.
struct Ctx<'c> {
    cube: &'c Cube,
    cfg: &'c DetectConfig,
    b0: i64,
    n: usize,
    grid: Grid,
    params: Params,
    /// Cells by bucket index, for window sums.
    by_bucket: Vec<Vec<(&'c CellKey, &'c Cell)>>,
    /// All client traffic per bucket, and its baseline scan.
    total: Vec<f64>,
    total_scan: baseline::Scan,
}

impl<'c> Ctx<'c> {
    /// The report entry of an episode: its times as text (the start exact,
    /// the others bucket starts) and the traffic of its peak bucket.
    #[allow(clippy::too_many_arguments)]
    fn storm(
        &self,
        kind: StormKind,
        times: EpisodeTimes,
        peak: usize,
        ongoing: bool,
        amplification: Option<f64>,
        culprits: Vec<Culprit>,
        impact: Impact,
    ) -> Storm {
        let bucket_s = self.bucket_seconds();
        Storm {
            kind,
            start: crate::time::rfc3339_exact(times.start),
            peak: crate::time::rfc3339(times.peak),
            mitigation: times.mitigation.map(crate::time::rfc3339),
            end: crate::time::rfc3339(times.end),
            ongoing,
            peak_rps: round(self.total[peak] / bucket_s, 2),
            baseline_rps: round(self.total_scan.forecast[peak] / bucket_s, 2),
            amplification,
            culprits,
            impact,
            times,
        }
    }

    fn new(cube: &'c Cube, cfg: &'c DetectConfig) -> Option<Self> {
        let (b0, b1) = cube.bucket_range()?;
        let n = (b1 - b0 + 1) as usize;
        if n > 2_000_000 {
            return None; // a time range this wide is a clock problem, not traffic
        }
        let mut by_bucket: Vec<Vec<(&CellKey, &Cell)>> = vec![Vec::new(); n];
        for (k, c) in &cube.cells {
            by_bucket[(k.bucket - b0) as usize].push((k, c));
        }
        let mut observed: Vec<bool> = by_bucket.iter().map(|c| !c.is_empty()).collect();
        for b in cube.health.keys() {
            if let Some(o) = observed.get_mut((b - b0) as usize) {
                *o = true;
            }
        }
        let day = (86_400 / cube.bucket_seconds.max(1)) as usize;
        let grid = Grid {
            observed,
            day: (n > day).then_some(day),
        };
        let params = cfg.params();
        let total: Vec<f64> = by_bucket
            .iter()
            .map(|cells| cells.iter().map(|(_, c)| c.requests as f64).sum())
            .collect();
        let total_scan = baseline::scan(&total, &grid, &params);
        Some(Ctx {
            cube,
            cfg,
            b0,
            n,
            grid,
            params,
            by_bucket,
            total,
            total_scan,
        })
    }

    fn series(&self, pred: impl Fn(&CellKey) -> bool) -> Vec<f64> {
        self.by_bucket
            .iter()
            .map(|cells| {
                cells
                    .iter()
                    .filter(|(k, _)| pred(k))
                    .map(|(_, c)| c.requests as f64)
                    .sum()
            })
            .collect()
    }

    fn time(&self, i: usize) -> i64 {
        self.cube.bucket_start(self.b0 + i as i64)
    }

    /// Observed, non-anomalous buckets just before `a` (the "before" window).
    fn before(&self, a: usize, masked: &[bool]) -> Vec<usize> {
        let mut v: Vec<usize> = (a.saturating_sub(6 * self.cfg.baseline_buckets)..a)
            .rev()
            .filter(|&j| self.grid.observed[j] && !masked[j])
            .take(self.cfg.baseline_buckets)
            .collect();
        v.reverse();
        v
    }

    fn observed_in(&self, a: usize, b: usize) -> Vec<usize> {
        (a..b.min(self.n))
            .filter(|&i| self.grid.observed[i])
            .collect()
    }

    fn bucket_seconds(&self) -> f64 {
        self.cube.bucket_seconds as f64
    }

    /// Mean requests per distinct client per bucket, over `idx`, of the
    /// cells `pred` accepts.
    fn requests_per_client(&self, idx: &[usize], pred: &dyn Fn(&CellKey) -> bool) -> Option<f64> {
        let mut per = Vec::new();
        let mut clients: FxHashSet<u64> = FxHashSet::default();
        for &i in idx {
            let mut r = 0;
            clients.clear();
            for (_, c) in self.by_bucket[i].iter().filter(|(k, _)| pred(k)) {
                r += c.requests;
                clients.extend(&c.clients);
            }
            if !clients.is_empty() {
                per.push(r as f64 / clients.len() as f64);
            }
        }
        (!per.is_empty()).then(|| per.iter().sum::<f64>() / per.len() as f64)
    }
}

pub fn detect(cube: &Cube, cfg: &DetectConfig) -> Vec<Storm> {
    let Some(ctx) = Ctx::new(cube, cfg) else {
        return Vec::new();
    };
    let storms = loops::storms(&ctx);
    let mut all: Vec<Storm> = volume::episodes(&ctx)
        .into_iter()
        .filter(|e| {
            !storms
                .iter()
                .any(|s| e.times.start < s.times.end && s.times.start < e.times.end)
        })
        .collect();
    all.extend(storms);
    all.sort_by_key(|s| (s.times.start, s.times.end));
    all
}

fn round(x: f64, d: i32) -> f64 {
    let m = 10f64.powi(d);
    (x * m).round() / m
}

/// The culprit's versions: its explicit set, or every version of its app
/// seen during the episode.
fn culprit_versions(cube: &Cube, c: &Combo, start: usize, end: usize, b0: i64) -> Vec<String> {
    if let Some(v) = &c.versions {
        return v.clone();
    }
    if c.app.is_none() {
        return Vec::new(); // any version of any app
    }
    let mut set: BTreeSet<&str> = BTreeSet::new();
    for k in cube.cells.keys() {
        let i = k.bucket - b0;
        if i >= start as i64
            && i < end as i64
            && c.matches(&k.app, &k.version, k.token_state, &k.endpoint)
        {
            set.insert(&k.version);
        }
    }
    let mut v: Vec<String> = set.into_iter().map(String::from).collect();
    v.sort_by(|a, b| Version(a).cmp(&Version(b)));
    v
}

/// What a culprit did during an episode, as the report shows it.
#[allow(clippy::too_many_arguments)]
fn culprit(
    ctx: &Ctx,
    combo: &Combo,
    share_of_excess: f64,
    surprise: f64,
    during: &[usize],
    start: usize,
    end: usize,
    rpc: &RequestsPerClient,
) -> Culprit {
    let m = |k: &CellKey| combo.matches(&k.app, &k.version, k.token_state, &k.endpoint);
    let (mut req, mut retries, mut resends, mut loop_requests) = (0, 0, 0, 0);
    let mut loopers: FxHashSet<u64> = FxHashSet::default();
    for &i in during {
        for (k, c) in &ctx.by_bucket[i] {
            if m(k) {
                req += c.requests;
                retries += c.retries;
                resends += c.resends;
                loop_requests += c.loop_requests;
                loopers.extend(&c.loopers);
            }
        }
    }
    let originals = req.saturating_sub(retries);
    let mut chains = ChainStats::default();
    for (k, c) in &ctx.cube.chains {
        let i = k.bucket - ctx.b0;
        if i >= start as i64 && i < end as i64 && m(k) && c.max_attempts >= 3 {
            chains.merge(c);
        }
    }
    let per_bucket = rpc(during, &m).unwrap_or(0.0);
    let versions = culprit_versions(ctx.cube, combo, start, end, ctx.b0);
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { a as f64 };
    Culprit {
        app: combo.app.clone(),
        versions_display: version_ranges(ctx.cube, combo.app.as_deref(), &versions),
        versions,
        token_state: combo.token_state,
        endpoint: combo.endpoint.clone(),
        share_of_excess: round(share_of_excess.clamp(0.0, 1.0), 3),
        surprise: round(surprise, 3),
        requests: req,
        retry_ratio: round(ratio(retries, originals), 3),
        requests_per_client: round(per_bucket, 2),
        rps_per_client: round(per_bucket / ctx.bucket_seconds(), 3),
        attempts_per_op: round(ratio(req, originals), 2),
        backoff: chains.by_backoff,
        resends,
        looping_clients: loopers.len() as u64,
        loop_requests,
    }
}

/// The first bucket in `from..=to` (the limit that ends a storm answers in
/// the bucket after its last) that opens a run of 429/403 answers to the
/// cells `cohort` accepts: at least three in the five minutes from it, and
/// five times what the `before` buckets had, in share or in count. A rate
/// limit rolls out gradually and the loop it stops often thins out first, so
/// one bucket alone rarely holds enough of them to be evidence.
fn mitigation(
    ctx: &Ctx,
    cohort: &dyn Fn(&CellKey) -> bool,
    before: &[usize],
    from: usize,
    to: usize,
) -> Option<usize> {
    let limited = |c: &Cell| c.count_status(|s| s == 429 || s == 403);
    let sums = |idx: &mut dyn Iterator<Item = usize>| -> (u64, u64) {
        let (mut r, mut l) = (0u64, 0u64);
        for i in idx {
            for (k, c) in &ctx.by_bucket[i] {
                if cohort(k) {
                    r += c.requests;
                    l += limited(c);
                }
            }
        }
        (r, l)
    };
    let (r, l) = sums(&mut before.iter().copied());
    let base_share = if r > 0 { l as f64 / r as f64 } else { 0.0 };
    let base_count = l as f64 / before.len().max(1) as f64;
    let span = ((300.0 / ctx.bucket_seconds()).ceil() as usize).max(1);
    ctx.observed_in(from, to + 1).into_iter().find(|&i| {
        let window = ctx.observed_in(i, i + span);
        let (_, first_l) = sums(&mut std::iter::once(i));
        let (r, l) = sums(&mut window.iter().copied());
        let share = if r > 0 { l as f64 / r as f64 } else { 0.0 };
        let expected = base_count * window.len() as f64;
        first_l as f64 > base_count
            && l >= 3
            && (share >= (5.0 * base_share).max(0.05) || l as f64 >= (5.0 * expected).max(3.0))
    })
}

/// Requests per client of `cohort` during vs before.
fn amplification(
    ctx: &Ctx,
    cohort: &dyn Fn(&CellKey) -> bool,
    before: &[usize],
    during: &[usize],
) -> Option<f64> {
    match (
        ctx.requests_per_client(during, cohort),
        ctx.requests_per_client(before, cohort),
    ) {
        (Some(d), Some(b)) if b > 0.0 => Some(round(d / b, 2)),
        _ => None,
    }
}

/// How everyone but the culprit fared.
fn impact(ctx: &Ctx, lead: &Combo, before: &[usize], during: &[usize]) -> Impact {
    let others = |k: &CellKey| !lead.matches(&k.app, &k.version, k.token_state, &k.endpoint);
    let login = |k: &CellKey| {
        ctx.cfg
            .login_routes
            .iter()
            .any(|r| k.endpoint.contains(r.as_str()))
    };
    let stats = |idx: &[usize]| {
        let (mut req, mut e5, mut lat) = (0u64, 0u64, SketchSum::default());
        let (mut la, mut lt, mut lf) = (0u64, 0u64, 0u64);
        for &i in idx {
            for (k, c) in &ctx.by_bucket[i] {
                if !others(k) {
                    continue;
                }
                req += c.requests;
                e5 += c.count_status(|s| (500..600).contains(&s));
                lat.add(&c.latency);
                if login(k) {
                    la += c.requests;
                    lt += c.count_status(is_timeout);
                    lf += c.count_status(|s| (500..600).contains(&s));
                }
            }
        }
        (req, e5, lat, la, lt, lf)
    };
    let (rb, eb, lb, ..) = stats(before);
    let (rd, ed, ld, la, lt, lf) = stats(during);
    let share = |e: u64, r: u64| {
        if r > 0 {
            round(e as f64 / r as f64, 4)
        } else {
            0.0
        }
    };
    Impact {
        others_requests: rd,
        login_attempts: la,
        login_timeouts: lt,
        login_failures: lf,
        error_5xx_share_before: share(eb, rb),
        error_5xx_share_during: share(ed, rd),
        p95_latency_ms_before: lb.quantile(0.95).map(|v| round(v, 1)),
        p95_latency_ms_during: ld.quantile(0.95).map(|v| round(v, 1)),
    }
}

/// Versions as shown to people: contiguous runs (in the order of all
/// versions of the app seen in the cube) collapse to `first–last`.
pub fn version_ranges(cube: &Cube, app: Option<&str>, versions: &[String]) -> String {
    if versions.is_empty() {
        return "all versions".into();
    }
    let mut all: Vec<&str> = cube
        .cells
        .keys()
        .filter(|k| app.is_none_or(|a| a == k.app))
        .map(|k| k.version.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    all.sort_by(|a, b| Version(a).cmp(&Version(b)));
    let pos: Vec<Option<usize>> = versions
        .iter()
        .map(|v| all.iter().position(|a| a == v))
        .collect();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < versions.len() {
        let mut j = i;
        while j + 1 < versions.len()
            && matches!((pos[j], pos[j + 1]), (Some(a), Some(b)) if b == a + 1)
        {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}–{}", versions[i], versions[j])
        } else {
            versions[i].clone()
        });
        i = j + 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests;
