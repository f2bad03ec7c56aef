//! Storm detection, episodes and attribution, computed from the cube alone.
//!
//! 1. Series per bucket: all client traffic, and each app × version × token
//!    state cohort with enough traffic.
//! 2. Each series is scanned against a robust baseline ([`baseline`]);
//!    runs of `min_buckets` anomalous buckets (robust z ≥ 3.5 and ≥ 1.25×
//!    the forecast) are alerts. Alerts closer than `merge_gap` merge.
//! 3. Each merged alert is attributed ([`attribution`]); the top culprit's
//!    own series gives the episode's times: `start` is the CUSUM change
//!    point, `peak` the bucket of largest excess in all traffic,
//!    `mitigation` the first bucket where the culprit app + versions get a
//!    jump in 429/403 answers (share or count), `end` the first bucket after
//!    which the culprit stays near its baseline (z < 2, or under a tenth of
//!    its peak excess) for `end_quiet`.
//! 4. The kind: `storm` when the culprit is a client cohort (it names an
//!    app) with a retry signature (retry ratio ≥ 0.10 and one of: requests
//!    per client ≥ 3× before, attempts per operation > 4, a majority of
//!    tight-loop or fixed-interval chains) and its chains do not mostly back
//!    off exponentially; `outage` when the excess is retries of failing
//!    requests (or 5xx ≥ 20%) without that; `surge` otherwise, reported only
//!    when all traffic is anomalous too.

pub mod attribution;
pub mod baseline;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use crate::aggregate::{Cell, CellKey, Cube, SketchSum};
use crate::classify::{TokenState, Version};
use crate::report::is_timeout;
use crate::retry::{Backoff, ChainStats};
use crate::time::rfc3339;
use attribution::{Combo, Leaf};
use baseline::{Grid, Params};

/// Thresholds; every one can be set in the config's `[detect]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Robust z-score for an anomalous bucket (Iglewicz–Hoaglin: 3.5).
    pub z: f64,
    /// Consecutive anomalous buckets for an alert.
    pub min_buckets: usize,
    /// Baseline buckets.
    pub baseline_buckets: usize,
    /// Minimum excess ratio over the forecast for an anomalous bucket.
    pub min_ratio: f64,
    /// Minimum requests in an anomalous bucket.
    pub min_bucket_requests: f64,
    /// Retry ratio (retries / originals) of a retry signature (Google SRE's 10% budget).
    pub retry_ratio: f64,
    /// Requests-per-client amplification of a retry signature.
    pub amplification: f64,
    /// Attempts per operation of a retry signature (SRE: 3 attempts; gRPC caps at 5).
    pub attempts_per_op: f64,
    /// Share of tight-loop or fixed chains (of ≥3 attempts) of a retry signature.
    pub tight_share: f64,
    /// Alerts closer than this merge into one episode.
    pub merge_gap: String,
    /// The culprit must stay near baseline this long for the episode to end.
    pub end_quiet: String,
    /// Cohorts with fewer requests in all are not scanned on their own.
    pub min_cohort_requests: u64,
    /// Route substrings that mark login endpoints, for the impact figures.
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
            attempts_per_op: 4.0,
            tight_share: 0.5,
            merge_gap: "10m".into(),
            end_quiet: "10m".into(),
            min_cohort_requests: 50,
            login_routes: ["/token", "login", "signin", "sign-in", "authorize"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl DetectConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("merge_gap", &self.merge_gap),
            ("end_quiet", &self.end_quiet),
        ] {
            crate::time::parse_duration(v).map_err(|e| format!("[detect] {name}: {e}"))?;
        }
        if self.min_buckets == 0 || self.baseline_buckets < 4 {
            return Err("[detect]: min_buckets must be >= 1 and baseline_buckets >= 4".into());
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
    pub expired_resends: u64,
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
    pub start: String,
    pub peak: String,
    pub mitigation: Option<String>,
    pub end: String,
    /// True when the data ends before the culprit settled.
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

/// (app, version, token state, endpoint) of an attribution leaf.
type LeafKey<'a> = (&'a str, &'a str, TokenState, &'a str);
/// Mean requests per client per bucket over some buckets, for some cells.
type RequestsPerClient<'a> = dyn Fn(&[usize], &dyn Fn(&CellKey) -> bool) -> Option<f64> + 'a;

struct Ctx<'c> {
    cube: &'c Cube,
    cfg: &'c DetectConfig,
    b0: i64,
    n: usize,
    grid: Grid,
    params: Params,
    /// Cells by bucket index, for window sums.
    by_bucket: Vec<Vec<(&'c CellKey, &'c Cell)>>,
}

impl<'c> Ctx<'c> {
    fn series(&self, pred: impl Fn(&CellKey) -> bool) -> Vec<f64> {
        let mut x = vec![0.0; self.n];
        for (i, cells) in self.by_bucket.iter().enumerate() {
            x[i] = cells
                .iter()
                .filter(|(k, _)| pred(k))
                .map(|(_, c)| c.requests as f64)
                .sum();
        }
        x
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
}

pub fn detect(cube: &Cube, cfg: &DetectConfig) -> Vec<Storm> {
    let Some((b0, b1)) = cube.bucket_range() else {
        return Vec::new();
    };
    let n = (b1 - b0 + 1) as usize;
    if n > 2_000_000 {
        return Vec::new(); // a time range this wide is a clock problem, not traffic
    }
    let mut by_bucket: Vec<Vec<(&CellKey, &Cell)>> = vec![Vec::new(); n];
    for (k, c) in &cube.cells {
        by_bucket[(k.bucket - b0) as usize].push((k, c));
    }
    let mut observed: Vec<bool> = by_bucket.iter().map(|c| !c.is_empty()).collect();
    for b in cube.health.keys() {
        observed[(b - b0) as usize] = true;
    }
    let day = (86_400 / cube.bucket_seconds.max(1)) as usize;
    let ctx = Ctx {
        cube,
        cfg,
        b0,
        n,
        grid: Grid {
            observed,
            day: (n > day).then_some(day),
        },
        params: cfg.params(),
        by_bucket,
    };

    // 1-2. Alerts on all traffic and on each cohort.
    let total = ctx.series(|_| true);
    let total_scan = baseline::scan(&total, &ctx.grid, &ctx.params);
    let mut alerts = baseline::runs(&total_scan.anomalous, &ctx.grid, cfg.min_buckets);
    let mut masked = total_scan.anomalous.clone();
    // Each cell's cohort, numbered as first seen, and their totals.
    let mut numbers: FxHashMap<(&str, &str, TokenState), usize> = FxHashMap::default();
    let mut totals: Vec<u64> = Vec::new();
    let cohort_of: Vec<usize> = cube
        .cells
        .iter()
        .map(|(k, c)| {
            let next = totals.len();
            let j = *numbers
                .entry((&k.app, &k.version, k.token_state))
                .or_insert(next);
            if j == next {
                totals.push(0);
            }
            totals[j] += c.requests;
            j
        })
        .collect();
    // Series of the cohorts big enough to alert on, in one pass over the
    // cells (a filtered pass per cohort costs cohorts × cells).
    let mut series_of = vec![None; totals.len()];
    let mut series: Vec<Vec<f64>> = Vec::new();
    for (j, total) in totals.iter().enumerate() {
        if *total >= cfg.min_cohort_requests {
            series_of[j] = Some(series.len());
            series.push(vec![0.0; n]);
        }
    }
    for ((k, c), j) in cube.cells.iter().zip(cohort_of) {
        if let Some(s) = series_of[j] {
            series[s][(k.bucket - b0) as usize] += c.requests as f64;
        }
    }
    let scans: Vec<_> = series
        .par_iter()
        .map(|x| baseline::anomalies(x, &ctx.grid, &ctx.params))
        .collect();
    for s in scans {
        alerts.extend(baseline::runs(&s, &ctx.grid, cfg.min_buckets));
        for (m, a) in masked.iter_mut().zip(&s) {
            *m |= *a;
        }
    }
    alerts.sort_unstable();
    let gap = cfg.buckets(&cfg.merge_gap, cube.bucket_seconds);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (a, b) in alerts {
        match spans.last_mut() {
            Some(last) if a <= last.1 + gap => last.1 = last.1.max(b),
            _ => spans.push((a, b)),
        }
    }
    let total_runs = baseline::runs(&total_scan.anomalous, &ctx.grid, cfg.min_buckets);

    // 3-4. Episodes.
    let mut storms: Vec<Storm> = spans
        .into_iter()
        .filter_map(|(a, b)| episode(&ctx, &total, &total_scan, &masked, a, b))
        // A surge must show in all traffic; a cohort alone moving without a
        // retry signature is ordinary churn.
        .filter(|s| {
            s.kind != StormKind::Surge
                || total_runs.iter().any(|&(x, y)| {
                    let (t0, t1) = (ctx.time(x), ctx.time(y + 1));
                    t0 < s.times.end && t1 > s.times.start
                })
        })
        .collect();
    storms.sort_by_key(|s| s.times.start);
    // Refined episodes that now overlap with the same culprit are one.
    let mut merged: Vec<Storm> = Vec::new();
    for s in storms {
        if let Some(last) = merged.last_mut() {
            let same = last.culprits.first().map(|c| (&c.app, &c.token_state))
                == s.culprits.first().map(|c| (&c.app, &c.token_state));
            if same && s.times.start <= last.times.end + gap as i64 * cube.bucket_us() {
                last.times.end = last.times.end.max(s.times.end);
                last.end = rfc3339(last.times.end);
                last.ongoing |= s.ongoing;
                continue;
            }
        }
        merged.push(s);
    }
    merged
}

/// Requests and retries of some cells.
fn sum_cells<'a>(cells: impl Iterator<Item = (&'a CellKey, &'a Cell)>) -> (u64, u64) {
    cells.fold((0, 0), |(req, retries), (_, c)| {
        (req + c.requests, retries + c.retries)
    })
}

#[allow(clippy::needless_range_loop)] // indexes several parallel series
fn episode(
    ctx: &Ctx,
    total: &[f64],
    total_scan: &baseline::Scan,
    masked: &[bool],
    a: usize,
    b: usize,
) -> Option<Storm> {
    let cfg = ctx.cfg;
    let cube = ctx.cube;
    let before = ctx.before(a, masked);
    if before.len() < cfg.baseline_buckets / 2 {
        return None; // no history to compare with (the start of the data)
    }
    let window: Vec<usize> = (a..=b).filter(|&i| ctx.grid.observed[i]).collect();
    let scale = window.len() as f64 / before.len() as f64;

    // Leaves: observed in the alert window vs forecast from before it (and
    // from the same window on earlier days, whichever is larger).
    let mut leaves: BTreeMap<(&str, &str, TokenState, &str), (f64, f64)> = BTreeMap::new();
    for &i in &window {
        for (k, c) in &ctx.by_bucket[i] {
            leaves
                .entry((&k.app, &k.version, k.token_state, &k.endpoint))
                .or_default()
                .0 += c.requests as f64;
        }
    }
    for &i in &before {
        for (k, c) in &ctx.by_bucket[i] {
            leaves
                .entry((&k.app, &k.version, k.token_state, &k.endpoint))
                .or_default()
                .1 += c.requests as f64 * scale;
        }
    }
    if let Some(day) = ctx.grid.day {
        let mut daily: Vec<FxHashMap<LeafKey, f64>> = Vec::new();
        for d in 1..=7 {
            if a < d * day {
                break;
            }
            let mut m = FxHashMap::default();
            for &i in &window {
                for (k, c) in &ctx.by_bucket[i - d * day] {
                    *m.entry((
                        k.app.as_str(),
                        k.version.as_str(),
                        k.token_state,
                        k.endpoint.as_str(),
                    ))
                    .or_insert(0.0) += c.requests as f64;
                }
            }
            daily.push(m);
        }
        if !daily.is_empty() {
            for (key, (_, f)) in leaves.iter_mut() {
                let mut v: Vec<f64> = daily
                    .iter()
                    .map(|m| m.get(key).copied().unwrap_or(0.0))
                    .collect();
                *f = f.max(baseline::median(&mut v));
            }
        }
    }
    let leaf_list: Vec<Leaf> = leaves
        .iter()
        .map(|((app, version, t, e), (v, f))| Leaf {
            app: app.to_string(),
            version: version.to_string(),
            token_state: *t,
            endpoint: e.to_string(),
            v: *v,
            f: *f,
        })
        .collect();
    let top = attribution::attribute(&leaf_list, 3);
    let lead = top.first()?.combo.clone();

    // The culprit's own series sets the episode's times.
    let cx = ctx.series(|k| lead.matches(&k.app, &k.version, k.token_state, &k.endpoint));
    let cs = baseline::scan(&cx, &ctx.grid, &ctx.params);
    let from = before.first().copied().unwrap_or(a);
    let start = baseline::cusum_onset(&cs.z, &ctx.grid.observed, from, b)
        .unwrap_or(a)
        .min(a);
    let quiet = cfg.buckets(&cfg.end_quiet, cube.bucket_seconds);
    let last_alert = (a..=b).rev().find(|&i| cs.anomalous[i]).unwrap_or(b);
    let peak = (start..=last_alert.max(start))
        .filter(|&i| ctx.grid.observed[i])
        .max_by(|&i, &j| {
            (total[i] - total_scan.forecast[i])
                .total_cmp(&(total[j] - total_scan.forecast[j]))
                .then(j.cmp(&i))
        })
        .unwrap_or(start);
    // Back under threshold: near its baseline, or below a tenth of the
    // culprit's peak excess (stray failures after a storm are not the storm).
    let peak_excess = (start..=last_alert.max(start))
        .map(|i| cx[i] - cs.forecast[i])
        .fold(0.0, f64::max);
    let (end, ongoing) = {
        let mut run = 0;
        let mut found = None;
        for i in peak..ctx.n {
            if !ctx.grid.observed[i] {
                continue;
            }
            if cs.z[i] < 2.0 || cx[i] - cs.forecast[i] < 0.1 * peak_excess {
                run += 1;
                if run == 1 {
                    found = Some(i);
                }
                if run >= quiet {
                    break;
                }
            } else {
                run = 0;
                found = None;
            }
        }
        match found {
            Some(i) if run >= quiet => (i, false),
            _ => (ctx.n, true),
        }
    };

    // Culprit app + versions across token states and endpoints: 429/403
    // responses to a rate limit carry no token verdict.
    let versions = culprit_versions(cube, &lead, start, end, ctx.b0);
    let app_versions = |k: &CellKey| {
        lead.app.as_deref().is_none_or(|a| a == k.app) && versions.contains(&k.version)
    };
    let limited = |c: &Cell| c.count_status(|s| s == 429 || s == 403);
    let share = |i: usize| -> (f64, u64) {
        let (mut r, mut l) = (0u64, 0u64);
        for (k, c) in &ctx.by_bucket[i] {
            if app_versions(k) {
                r += c.requests;
                l += limited(c);
            }
        }
        (if r > 0 { l as f64 / r as f64 } else { 0.0 }, l)
    };
    let base_share = {
        let (mut r, mut l) = (0u64, 0u64);
        for &i in &before {
            for (k, c) in &ctx.by_bucket[i] {
                if app_versions(k) {
                    r += c.requests;
                    l += limited(c);
                }
            }
        }
        if r > 0 { l as f64 / r as f64 } else { 0.0 }
    };
    // A rate limit often rolls out gradually while the loop still runs, so
    // a jump in the count of 429/403 answers counts as well as in their share.
    let base_count =
        before.iter().map(|&i| share(i).1 as f64).sum::<f64>() / before.len().max(1) as f64;
    let mitigation = (start..end.min(ctx.n))
        .filter(|&i| ctx.grid.observed[i])
        .find(|&i| {
            let (s, n) = share(i);
            n >= 3 && (s >= (5.0 * base_share).max(0.05) || n as f64 >= 5.0 * base_count.max(1.0))
        });

    let during: Vec<usize> = (start..end.min(ctx.n))
        .filter(|&i| ctx.grid.observed[i])
        .collect();
    let rpc = |idx: &[usize], pred: &dyn Fn(&CellKey) -> bool| -> Option<f64> {
        let mut per = Vec::new();
        let mut clients: FxHashSet<u64> = FxHashSet::default();
        for &i in idx {
            let mut r = 0;
            clients.clear();
            for (_, c) in ctx.by_bucket[i].iter().filter(|(k, _)| pred(k)) {
                r += c.requests;
                clients.extend(&c.clients);
            }
            if !clients.is_empty() {
                per.push(r as f64 / clients.len() as f64);
            }
        }
        (!per.is_empty()).then(|| per.iter().sum::<f64>() / per.len() as f64)
    };
    let amplification = match (rpc(&during, &app_versions), rpc(&before, &app_versions)) {
        (Some(d), Some(b)) if b > 0.0 => Some(d / b),
        _ => None,
    };

    let bucket_s = cube.bucket_seconds as f64;
    let culprits: Vec<Culprit> = top
        .iter()
        .map(|s| culprit(ctx, s, &during, start, end, bucket_s, &rpc))
        .collect();
    let lead_c = culprits.first()?;
    let share_of = |kinds: &[Backoff]| {
        let long: u64 = lead_c.backoff.values().sum();
        let n: u64 = kinds
            .iter()
            .map(|k| lead_c.backoff.get(k).copied().unwrap_or(0))
            .sum();
        if long > 0 {
            n as f64 / long as f64
        } else {
            0.0
        }
    };
    let chains_tight = share_of(&[Backoff::None, Backoff::Fixed]) > cfg.tight_share;
    let backs_off = share_of(&[Backoff::Exponential, Backoff::ExponentialJitter]) > 0.5;
    let signature = lead_c.retry_ratio >= cfg.retry_ratio
        && (amplification.is_some_and(|x| x >= cfg.amplification)
            || lead_c.attempts_per_op > cfg.attempts_per_op
            || chains_tight);
    // A storm is driven by a client cohort that does not back off; failing
    // requests from everyone, retried with exponential backoff, are an outage.
    let storm = signature && lead_c.app.is_some() && !backs_off;
    let impact = impact(ctx, &lead, &before, &during);
    let kind = if storm {
        StormKind::Storm
    } else if lead_c.retry_ratio >= cfg.retry_ratio || impact.error_5xx_share_during >= 0.2 {
        StormKind::Outage
    } else {
        StormKind::Surge
    };
    let t = |i: usize| ctx.time(i.min(ctx.n));
    let times = EpisodeTimes {
        start: t(start),
        peak: t(peak),
        mitigation: mitigation.map(t),
        end: t(end),
    };
    Some(Storm {
        kind,
        start: rfc3339(times.start),
        peak: rfc3339(times.peak),
        mitigation: times.mitigation.map(rfc3339),
        end: rfc3339(times.end),
        ongoing,
        peak_rps: round(total[peak] / bucket_s, 2),
        baseline_rps: round(total_scan.forecast[peak] / bucket_s, 2),
        amplification: amplification.map(|x| round(x, 2)),
        culprits,
        impact,
        times,
    })
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

fn culprit(
    ctx: &Ctx,
    s: &attribution::Scored,
    during: &[usize],
    start: usize,
    end: usize,
    bucket_s: f64,
    rpc: &RequestsPerClient,
) -> Culprit {
    let m = |k: &CellKey| {
        s.combo
            .matches(&k.app, &k.version, k.token_state, &k.endpoint)
    };
    let (req, retries) = sum_cells(
        during
            .iter()
            .flat_map(|&i| ctx.by_bucket[i].iter().copied())
            .filter(|(k, _)| m(k)),
    );
    let originals = req.saturating_sub(retries);
    let mut chains = ChainStats::default();
    for (k, c) in &ctx.cube.chains {
        let i = k.bucket - ctx.b0;
        if i >= start as i64 && i < end as i64 && m(k) && c.max_attempts >= 3 {
            chains.merge(c);
        }
    }
    let per_bucket = rpc(during, &m).unwrap_or(0.0);
    let versions = culprit_versions(ctx.cube, &s.combo, start, end, ctx.b0);
    Culprit {
        app: s.combo.app.clone(),
        versions_display: version_ranges(ctx.cube, s.combo.app.as_deref(), &versions),
        versions,
        token_state: s.combo.token_state,
        endpoint: s.combo.endpoint.clone(),
        share_of_excess: round(s.share_of_excess.min(1.0), 3),
        surprise: round(s.surprise, 3),
        requests: req,
        retry_ratio: round(
            if originals > 0 {
                retries as f64 / originals as f64
            } else {
                retries as f64
            },
            3,
        ),
        requests_per_client: round(per_bucket, 2),
        rps_per_client: round(per_bucket / bucket_s, 3),
        attempts_per_op: round(
            if originals > 0 {
                req as f64 / originals as f64
            } else {
                req as f64
            },
            2,
        ),
        backoff: chains.by_backoff,
        expired_resends: chains.expired_resends,
    }
}

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
