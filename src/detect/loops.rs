//! Storms: spans of loop activity per app, kept when enough clients loop
//! and their loops matter against all traffic (see [`super`]).

use std::collections::BTreeMap;

use rustc_hash::FxHashSet;

use super::baseline::median;
use super::*;
use crate::time::Micros;

pub(super) fn storms(ctx: &Ctx) -> Vec<Storm> {
    let cfg = ctx.cfg;
    let gap = cfg.buckets(&cfg.merge_gap, ctx.cube.bucket_seconds);
    let lead = cfg.buckets(&cfg.precursor_gap, ctx.cube.bucket_seconds);
    let mut out = Vec::new();
    for (app, l) in loop_series(ctx) {
        // Spans whose loops matter against all traffic, with lulls shorter
        // than the precursor gap between them, are one candidate: clients
        // of a cohort often loop a few minutes each, one after another
        // (they restart the app), and together they are the storm. It is
        // one when enough distinct clients loop in it; the app's previous
        // storm bounds where its precursors are looked for.
        let spans: Vec<(usize, usize)> = spans(&l, gap)
            .into_iter()
            .filter(|&(a, b)| matters(ctx, &l, a, b))
            .collect();
        let mut floor = 0;
        let mut i = 0;
        while i < spans.len() {
            let (a, mut b) = spans[i];
            let mut j = i + 1;
            while j < spans.len() && spans[j].0 - b - 1 <= lead {
                b = spans[j].1;
                j += 1;
            }
            if loopers(ctx, app, &spans[i..j]) >= cfg.min_clients
                && let Some((s, end)) = storm(ctx, app, a, b, floor)
            {
                floor = end;
                out.push(s);
            }
            i = j;
        }
    }
    out
}

/// Distinct clients of `app` looping in `spans`.
fn loopers(ctx: &Ctx, app: &str, spans: &[(usize, usize)]) -> usize {
    spans
        .iter()
        .flat_map(|&(a, b)| (a..=b).flat_map(|i| ctx.by_bucket[i].iter()))
        .filter(|(k, _)| k.app == app)
        .flat_map(|(_, c)| c.loopers.iter().copied())
        .collect::<FxHashSet<u64>>()
        .len()
}

/// Whether the loops `l` of span `a..=b`, above what the app shows anyway,
/// reach a real share of all traffic in some bucket.
fn matters(ctx: &Ctx, l: &[f64], a: usize, b: usize) -> bool {
    let before_span = ctx.before(a, &ctx.total_scan.anomalous);
    let local = median(&mut before_span.iter().map(|&j| l[j]).collect::<Vec<_>>());
    ctx.observed_in(a, b + 1).into_iter().any(|i| {
        (l[i] - loop_baseline(ctx, l, a, i, local)).max(0.0) / ctx.total[i].max(1.0)
            >= ctx.cfg.min_share
    })
}

/// Loop requests by bucket, per app that has any.
fn loop_series<'c>(ctx: &Ctx<'c>) -> BTreeMap<&'c str, Vec<f64>> {
    let mut m: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (k, c) in &ctx.cube.cells {
        if c.loop_requests > 0 {
            m.entry(k.app.as_str()).or_insert_with(|| vec![0.0; ctx.n])
                [(k.bucket - ctx.b0) as usize] += c.loop_requests as f64;
        }
    }
    m
}

/// Runs of buckets with loops, with up to `gap` buckets without between.
fn spans(l: &[f64], gap: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, &v) in l.iter().enumerate() {
        if v <= 0.0 {
            continue;
        }
        match out.last_mut() {
            Some(last) if i - last.1 - 1 <= gap => last.1 = i,
            _ => out.push((i, i)),
        }
    }
    out
}

/// The loops an app shows anyway at bucket `i`: the larger of its median
/// over the buckets before the span starting at `a` and its median at the
/// same time of day on earlier days (a job that loops every night is not
/// news).
fn loop_baseline(ctx: &Ctx, l: &[f64], a: usize, i: usize, local: f64) -> f64 {
    let Some(day) = ctx.grid.day else {
        return local;
    };
    let mut v = Vec::new();
    for d in 1..=7 {
        let Some(c) = i.checked_sub(d * day) else {
            break;
        };
        let (lo, hi) = (c.saturating_sub(2), (c + 2).min(a.saturating_sub(1)));
        if lo <= hi {
            let observed = &ctx.grid.observed[lo..=hi];
            v.extend(
                observed
                    .iter()
                    .zip(&l[lo..=hi])
                    .filter(|(o, _)| **o)
                    .map(|(_, x)| *x),
            );
        }
    }
    if v.is_empty() {
        local
    } else {
        local.max(median(&mut v))
    }
}

/// Loop requests of cells by one of their dimensions.
fn by<'c, K: Ord>(
    cells: &[(&'c CellKey, &'c Cell)],
    key: impl Fn(&'c CellKey) -> K,
) -> BTreeMap<K, u64> {
    let mut m = BTreeMap::new();
    for (k, c) in cells {
        *m.entry(key(k)).or_default() += c.loop_requests;
    }
    m
}

/// The value carrying at least `share` of the total, if one does.
fn dominant<K: Clone>(m: &BTreeMap<K, u64>, share: f64) -> Option<K> {
    let total: u64 = m.values().sum();
    m.iter()
        .max_by_key(|(_, n)| **n)
        .filter(|(_, n)| total > 0 && **n as f64 >= share * total as f64)
        .map(|(k, _)| k.clone())
}

/// The storm of span `a..=b` of `app`'s loops, if it is one, and the
/// bucket it ends at. Precursors are looked for from `floor` on.
fn storm(ctx: &Ctx, app: &str, a: usize, b: usize, floor: usize) -> Option<(Storm, usize)> {
    let cfg = ctx.cfg;
    let looped: Vec<(&CellKey, &Cell)> = (a..=b)
        .flat_map(|i| ctx.by_bucket[i].iter().copied())
        .filter(|(k, c)| k.app == app && c.loop_requests > 0)
        .collect();

    // The culprit: the versions carrying the loops, then the token state
    // and endpoint carrying most of theirs.
    let by_version = by(&looped, |k| k.version.as_str());
    let all: u64 = by_version.values().sum();
    let mut versions: Vec<String> = by_version
        .iter()
        .filter(|(_, n)| **n as f64 >= cfg.version_share * all as f64)
        .map(|(v, _)| v.to_string())
        .collect();
    versions.sort_by(|x, y| Version(x).cmp(&Version(y)));
    let theirs: Vec<(&CellKey, &Cell)> = looped
        .iter()
        .copied()
        .filter(|(k, _)| versions.contains(&k.version))
        .collect();
    // The cohort (app, versions, token state) is what the storm is about;
    // the endpoint is named when one carries its loops, but clients of one
    // cohort may each loop on another endpoint.
    let cohort = Combo {
        app: Some(app.to_string()),
        versions: Some(versions.clone()),
        token_state: dominant(&by(&theirs, |k| k.token_state), cfg.state_share),
        endpoint: None,
    };
    let endpoint = dominant(&by(&theirs, |k| k.endpoint.as_str()), cfg.state_share);
    let matches = |k: &CellKey| cohort.matches(&k.app, &k.version, k.token_state, &k.endpoint);
    let their_loopers: FxHashSet<u64> = theirs
        .iter()
        .filter(|(k, _)| matches(k))
        .flat_map(|(_, c)| c.loopers.iter().copied())
        .collect();
    if their_loopers.len() < cfg.min_clients {
        return None;
    }
    // Clients whose token is fine that repeat requests the server failed
    // are answering an outage, not causing a storm: the outage is reported
    // (by `volume`), with these retries in its evidence.
    if !cohort.token_state.is_some_and(TokenState::is_rejected) {
        let (n, failed) = theirs
            .iter()
            .filter(|(k, _)| matches(k))
            .fold((0, 0), |(n, f), (_, c)| {
                (n + c.requests, f + super::volume::failed(c))
            });
        if 2 * failed >= n {
            return None;
        }
    }
    // The culprit's loops, from the previous storm on.
    let mut c = vec![0.0; ctx.n];
    let mut first_loop: Vec<Option<Micros>> = vec![None; ctx.n];
    for i in floor..=b {
        for (k, cell) in &ctx.by_bucket[i] {
            if cell.loop_requests > 0 && matches(k) {
                c[i] += cell.loop_requests as f64;
                first_loop[i] = crate::aggregate::cube::min_opt(first_loop[i], cell.first_loop);
            }
        }
    }

    // Times: from the first repeat of its first looping client, to the
    // last bucket with a tenth of the peak's loops. Clients of the culprit
    // that looped alone shortly before are the storm's first.
    let peak = (a..=b)
        .max_by(|&i, &j| c[i].total_cmp(&c[j]).then(j.cmp(&i)))
        .unwrap_or(a);
    let last = (a..=b)
        .rev()
        .find(|&i| c[i] >= 0.1 * c[peak])
        .unwrap_or(peak);
    let lead = cfg.buckets(&cfg.precursor_gap, ctx.cube.bucket_seconds);
    let mut first_bucket = (a..=b).find(|&i| c[i] > 0.0).unwrap_or(a);
    while let Some(j) = (floor..first_bucket).rev().find(|&j| c[j] > 0.0)
        && first_bucket - j - 1 <= lead
    {
        first_bucket = j;
    }
    let start_ts = first_loop[first_bucket].unwrap_or_else(|| ctx.time(first_bucket));
    let start =
        ((start_ts.div_euclid(ctx.cube.bucket_us()) - ctx.b0).max(0) as usize).min(first_bucket);
    let end = last + 1;
    let quiet = cfg.buckets(&cfg.end_quiet, ctx.cube.bucket_seconds);
    let ongoing = end + quiet > ctx.n;

    let before = ctx.before(start, &ctx.total_scan.anomalous);
    let during = ctx.observed_in(start, end);
    let app_versions = |k: &CellKey| k.app == app && versions.contains(&k.version);
    let mitigation = mitigation(ctx, &app_versions, &before, start, end);
    // While the loops ran: the lulls between clients' loops are not what
    // the cohort's clients did to the service.
    let active: Vec<usize> = during
        .iter()
        .copied()
        .filter(|&i| c[i] >= 0.1 * c[peak])
        .collect();
    let amplification = amplification(ctx, &app_versions, &before, &active);
    if amplification.is_some_and(|x| x < cfg.amplification) {
        return None;
    }
    let impact = impact(ctx, &cohort, &before, &during);

    // How much of the excess over the baseline the culprit's own requests
    // are, and how much its share of traffic moved.
    let cx = ctx.series(matches);
    let forecast = baseline::scan(&cx, &ctx.grid, &ctx.params).forecast;
    let excess =
        |x: &[f64], f: &[f64]| -> f64 { during.iter().map(|&i| (x[i] - f[i]).max(0.0)).sum() };
    let total_excess = excess(&ctx.total, &ctx.total_scan.forecast);
    let share = if total_excess > 0.0 {
        excess(&cx, &forecast) / total_excess
    } else {
        1.0
    };
    let part = |idx: &[usize]| {
        let (m, t) = idx
            .iter()
            .fold((0.0, 0.0), |(m, t), &i| (m + cx[i], t + ctx.total[i]));
        if t > 0.0 { m / t } else { 0.0 }
    };
    let surprise = attribution::js(part(&before), part(&during));
    let rpc = |idx: &[usize], pred: &dyn Fn(&CellKey) -> bool| ctx.requests_per_client(idx, pred);
    let mut culprit = culprit(ctx, &cohort, share, surprise, &during, start, end, &rpc);
    culprit.endpoint = endpoint.map(String::from);

    let times = EpisodeTimes {
        start: start_ts,
        peak: ctx.time(peak),
        mitigation: mitigation.map(|i| ctx.time(i)),
        end: ctx.time(end),
    };
    let storm = ctx.storm(
        StormKind::Storm,
        times,
        peak,
        ongoing,
        amplification,
        vec![culprit],
        impact,
    );
    Some((storm, end))
}

#[cfg(test)]
mod tests {
    use super::spans;

    #[test]
    fn spans_bridge_short_gaps() {
        let l = [0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(spans(&l, 2), vec![(1, 5), (9, 9)]);
        assert_eq!(spans(&l, 3), vec![(1, 9)]);
        assert_eq!(spans(&[0.0; 4], 3), vec![]);
    }
}
