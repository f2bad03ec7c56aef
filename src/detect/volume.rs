//! Outages and surges: episodes seen in volume, not in loops (see
//! [`super`]). An outage is a run of buckets where server errors and
//! timeouts rise far above their baseline and reach a real share of
//! traffic; a surge is a run where all client traffic does, without that.

use std::collections::BTreeMap;

use super::attribution::Leaf;
use super::*;

pub(super) fn episodes(ctx: &Ctx) -> Vec<Storm> {
    let cfg = ctx.cfg;
    let gap = cfg.buckets(&cfg.merge_gap, ctx.cube.bucket_seconds);
    let failures: Vec<f64> = ctx
        .by_bucket
        .iter()
        .map(|cells| cells.iter().map(|(_, c)| failed(c) as f64).sum())
        .collect();
    let f_scan = baseline::scan(&failures, &ctx.grid, &ctx.params);
    // Failures that are news: anomalous, and a real part of the traffic.
    let failing: Vec<bool> = (0..ctx.n)
        .map(|i| f_scan.anomalous[i] && failures[i] >= 0.05 * ctx.total[i])
        .collect();
    let mut out: Vec<Storm> = merge(baseline::runs(&failing, &ctx.grid, cfg.min_buckets), gap)
        .into_iter()
        .filter_map(|(a, b)| episode(ctx, StormKind::Outage, &failures, &f_scan, a, b))
        .collect();
    let surges: Vec<Storm> = merge(
        baseline::runs(&ctx.total_scan.anomalous, &ctx.grid, cfg.min_buckets),
        gap,
    )
    .into_iter()
    .filter_map(|(a, b)| episode(ctx, StormKind::Surge, &ctx.total, &ctx.total_scan, a, b))
    .filter(|s| {
        !out.iter()
            .any(|o| s.times.start < o.times.end && o.times.start < s.times.end)
    })
    .collect();
    out.extend(surges);
    out
}

/// Server errors and timeouts of a cell.
pub(super) fn failed(c: &Cell) -> u64 {
    c.count_status(|s| (500..600).contains(&s) || is_timeout(s))
}

fn merge(runs: Vec<(usize, usize)>, gap: usize) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (a, b) in runs {
        match spans.last_mut() {
            Some(last) if a <= last.1 + gap => last.1 = last.1.max(b),
            _ => spans.push((a, b)),
        }
    }
    spans
}

/// The episode of anomalous buckets `a..=b` of `x` (failures for an
/// outage, requests for a surge), attributed to what explains its excess.
fn episode(
    ctx: &Ctx,
    kind: StormKind,
    x: &[f64],
    scan: &baseline::Scan,
    a: usize,
    b: usize,
) -> Option<Storm> {
    let cfg = ctx.cfg;
    let before = ctx.before(a, &scan.anomalous);
    if before.len() < cfg.baseline_buckets / 2 {
        return None; // no history to compare with (the start of the data)
    }
    let window = ctx.observed_in(a, b + 1);
    let scale = window.len() as f64 / before.len() as f64;
    let count = |c: &Cell| match kind {
        StormKind::Outage => failed(c) as f64,
        _ => c.requests as f64,
    };
    // Leaves: observed in the window vs forecast from before it.
    let mut leaves: BTreeMap<(&str, &str, TokenState, &str), (f64, f64)> = BTreeMap::new();
    for (idx, weight, side) in [(&window, 1.0, 0), (&before, scale, 1)] {
        for &i in idx.iter() {
            for (k, c) in &ctx.by_bucket[i] {
                let e = leaves
                    .entry((&k.app, &k.version, k.token_state, &k.endpoint))
                    .or_default();
                if side == 0 {
                    e.0 += count(c) * weight;
                } else {
                    e.1 += count(c) * weight;
                }
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

    let peak = window
        .iter()
        .copied()
        .max_by(|&i, &j| {
            (x[i] - scan.forecast[i])
                .total_cmp(&(x[j] - scan.forecast[j]))
                .then(j.cmp(&i))
        })
        .unwrap_or(a);
    let end = b + 1;
    let quiet = cfg.buckets(&cfg.end_quiet, ctx.cube.bucket_seconds);
    let ongoing = end + quiet > ctx.n;
    let during = window;
    let versions = culprit_versions(ctx.cube, &lead, a, end, ctx.b0);
    let app_versions = |k: &CellKey| {
        lead.app.as_deref().is_none_or(|ap| ap == k.app)
            && (lead.app.is_none() || versions.contains(&k.version))
    };
    let mitigation = mitigation(ctx, &app_versions, &before, a, end);
    let amplification = amplification(ctx, &app_versions, &before, &during);
    let rpc = |idx: &[usize], pred: &dyn Fn(&CellKey) -> bool| ctx.requests_per_client(idx, pred);
    let culprits: Vec<Culprit> = top
        .iter()
        .map(|s| {
            culprit(
                ctx,
                &s.combo,
                s.share_of_excess,
                s.surprise,
                &during,
                a,
                end,
                &rpc,
            )
        })
        .collect();
    let impact = impact(ctx, &lead, &before, &during);
    let times = EpisodeTimes {
        start: ctx.time(a),
        peak: ctx.time(peak),
        mitigation: mitigation.map(|i| ctx.time(i)),
        end: ctx.time(end),
    };
    Some(ctx.storm(kind, times, peak, ongoing, amplification, culprits, impact))
}
