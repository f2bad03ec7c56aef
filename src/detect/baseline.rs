//! Robust baselines for per-bucket count series.
//!
//! The forecast for bucket `i` is the larger of (a) a robust local trend
//! over the last `window` observed, non-anomalous buckets (medians of the
//! two halves give level and slope; the slope is never negative, so a
//! falling series raises no alarm) and (b) the median of the same time of
//! day (±2 buckets) on up to seven earlier days, or, with two weeks of
//! history, of the same weekday on up to four earlier weeks when that is
//! higher. The scale is 1.4826 × the
//! MAD of the trend residuals, floored at √forecast (Poisson noise) and 1.
//! Buckets found anomalous are masked out of later trend baselines, so a
//! long episode is measured against the traffic before it.

/// Which buckets have any data at all (overnight gaps do not count).
pub struct Grid {
    pub observed: Vec<bool>,
    /// Buckets per day, when the series spans more than a day.
    pub day: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Params {
    pub window: usize,
    pub z: f64,
    /// An anomalous bucket must also exceed the forecast by this ratio.
    pub min_ratio: f64,
    /// ... and hold at least this many requests (z-scores of tiny counts mean little).
    pub min_count: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub forecast: Vec<f64>,
    /// Robust scale (one "sigma") of each forecast.
    pub scale: Vec<f64>,
    pub z: Vec<f64>,
    pub anomalous: Vec<bool>,
}

/// The median (0 for none). Reorders `v`.
pub fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    // A selection, not a sort: the same middle values in linear time (the
    // detector takes several medians per bucket of every series).
    let (below, mid, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let mid = *mid;
    if n % 2 == 1 {
        return mid;
    }
    let lower = below.iter().copied().max_by(f64::total_cmp).unwrap_or(mid);
    (lower + mid) / 2.0
}

/// The median of values already in ascending order.
fn sorted_median(v: impl ExactSizeIterator<Item = f64> + Clone) -> f64 {
    let n = v.len();
    let mut at = v.skip(n.saturating_sub(1) / 2);
    match (n, at.next(), at.next()) {
        (0, ..) => 0.0,
        (n, Some(a), Some(b)) if n % 2 == 0 => (a + b) / 2.0,
        (_, Some(a), _) => a,
        _ => 0.0,
    }
}

/// Buffers reused across the buckets of one series: a forecast takes
/// several medians, and allocating for each would be most of its cost.
#[derive(Default)]
struct Scratch {
    pts: Vec<(f64, f64)>,
    vals: Vec<f64>,
    resid: Vec<f64>,
}

/// Forecast and scale for bucket `i`, or `None` without enough history.
#[allow(clippy::needless_range_loop)] // indexes parallel series
fn forecast(
    x: &[f64],
    grid: &Grid,
    masked: &[bool],
    i: usize,
    p: &Params,
    s: &mut Scratch,
) -> Option<(f64, f64)> {
    let lookback = i.saturating_sub(6 * p.window);
    let pts = &mut s.pts;
    pts.clear();
    pts.extend(
        (lookback..i)
            .rev()
            .filter(|&j| grid.observed[j] && !masked[j])
            .take(p.window)
            .map(|j| (j as f64, x[j])),
    );
    pts.reverse();
    let scratch = &mut s.vals;
    let trend = if pts.len() >= p.window / 2 && pts.len() >= 4 {
        let half = pts.len() / 2;
        let (a, b) = pts.split_at(half);
        // Bucket indexes are in ascending order already.
        let (ta, tb) = (
            sorted_median(a.iter().map(|p| p.0)),
            sorted_median(b.iter().map(|p| p.0)),
        );
        scratch.clear();
        scratch.extend(a.iter().map(|p| p.1));
        let ma = median(scratch);
        scratch.clear();
        scratch.extend(b.iter().map(|p| p.1));
        let mb = median(scratch);
        let slope = if tb > ta {
            ((mb - ma) / (tb - ta)).max(0.0)
        } else {
            0.0
        };
        let level = mb + slope * (i as f64 - tb);
        let resid = &mut s.resid;
        resid.clear();
        resid.extend(pts.iter().map(|(t, v)| v - (mb + slope * (t - tb))));
        scratch.clear();
        scratch.extend_from_slice(resid);
        let med = median(scratch);
        scratch.clear();
        scratch.extend(resid.iter().map(|r| (*r - med).abs()));
        let mad = median(scratch);
        Some((level.max(0.0), 1.4826 * mad))
    } else {
        None
    };
    let seasonal = grid.day.and_then(|day| {
        let v = &mut s.vals;
        v.clear();
        for k in 1..=7 {
            let Some(c) = i.checked_sub(k * day) else {
                break;
            };
            // Earlier days are not masked: a pattern that recurs daily is
            // expected, whatever it looked like the first time.
            for j in c.saturating_sub(2)..=(c + 2).min(x.len() - 1) {
                if grid.observed[j] {
                    v.push(x[j]);
                }
            }
        }
        let daily = (!v.is_empty()).then(|| median(v));
        // The same weekday up to four weeks back, once there are two: a
        // Monday peak after a quiet weekend is judged against Mondays.
        if i < 14 * day {
            return daily;
        }
        v.clear();
        for k in 1..=4 {
            let Some(c) = i.checked_sub(k * 7 * day) else {
                break;
            };
            for j in c.saturating_sub(2)..=(c + 2).min(x.len() - 1) {
                if grid.observed[j] {
                    v.push(x[j]);
                }
            }
        }
        let weekly = (!v.is_empty()).then(|| median(v));
        match (daily, weekly) {
            (Some(d), Some(w)) => Some(d.max(w)),
            (d, w) => d.or(w),
        }
    });
    let (f, spread) = match (trend, seasonal) {
        (Some((t, s)), Some(se)) => (t.max(se), s),
        (Some((t, s)), None) => (t, s),
        (None, Some(se)) => (se, 0.0),
        (None, None) => return None,
    };
    Some((f, spread.max(f.sqrt()).max(1.0)))
}

/// Scans a series in time order, masking anomalous buckets as it goes.
pub fn scan(x: &[f64], grid: &Grid, p: &Params) -> Scan {
    let n = x.len();
    let mut s = Scan {
        forecast: vec![0.0; n],
        scale: vec![0.0; n],
        z: vec![0.0; n],
        anomalous: vec![false; n],
    };
    let mut scratch = Scratch::default();
    for i in 0..n {
        if !grid.observed[i] {
            continue;
        }
        if let Some((f, scale)) = forecast(x, grid, &s.anomalous, i, p, &mut scratch) {
            s.forecast[i] = f;
            s.scale[i] = scale;
            s.z[i] = (x[i] - f) / scale;
            s.anomalous[i] = is_anomalous(x[i], f, s.z[i], p);
        } else {
            s.forecast[i] = x[i];
        }
    }
    s
}

/// Whether a bucket of `v` requests, forecast `f` and z-score `z` is
/// anomalous.
fn is_anomalous(v: f64, f: f64, z: f64, p: &Params) -> bool {
    z >= p.z && v >= p.min_ratio * f + 2.0 && v >= p.min_count
}

/// [`scan`]'s `anomalous` alone, which is all a cohort's alerts need: a
/// bucket of fewer than [`Params::min_count`] (or 2) requests cannot be
/// anomalous whatever its forecast (forecasts are never negative), so its
/// forecast, whose only effect is that flag, is not computed. Most of a
/// small cohort's buckets are such.
pub fn anomalies(x: &[f64], grid: &Grid, p: &Params) -> Vec<bool> {
    let mut anomalous = vec![false; x.len()];
    let mut scratch = Scratch::default();
    for i in 0..x.len() {
        if !grid.observed[i] || x[i] < p.min_count || x[i] < 2.0 {
            continue;
        }
        if let Some((f, scale)) = forecast(x, grid, &anomalous, i, p, &mut scratch) {
            anomalous[i] = is_anomalous(x[i], f, (x[i] - f) / scale, p);
        }
    }
    anomalous
}

/// Runs of at least `min_len` consecutive anomalous observed buckets, as
/// inclusive index ranges. Unobserved buckets neither break nor extend a run.
pub fn runs(anomalous: &[bool], grid: &Grid, min_len: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, usize, usize)> = None;
    for (i, (&a, &seen)) in anomalous.iter().zip(&grid.observed).enumerate() {
        if !seen {
            continue;
        }
        if a {
            cur = Some(match cur {
                Some((a, _, n)) => (a, i, n + 1),
                None => (i, i, 1),
            });
        } else if let Some((a, b, n)) = cur.take()
            && n >= min_len
        {
            out.push((a, b));
        }
    }
    if let Some((a, b, n)) = cur
        && n >= min_len
    {
        out.push((a, b));
    }
    out
}

/// CUSUM change point: the start of the positive excursion that first
/// raises the alarm (k = 0.5, h = 5) at or after `from`; back-dated to the
/// last bucket where the sum was zero.
pub fn cusum_onset(z: &[f64], observed: &[bool], from: usize, to: usize) -> Option<usize> {
    let (k, h) = (0.5, 5.0);
    let mut s = 0.0;
    let mut zero_at = from;
    for i in from..=to.min(z.len().saturating_sub(1)) {
        if !observed[i] {
            continue;
        }
        s = f64::max(0.0, s + z[i] - k);
        if s == 0.0 {
            zero_at = i + 1;
        } else if s > h {
            return Some(zero_at.min(i));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_are_sorted_middles() {
        let sorted_mid = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            let n = v.len();
            match n {
                0 => 0.0,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        };
        let mut seed = 7u64;
        for n in 0..40 {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 33) % 9) as f64 * 0.5
                })
                .collect();
            let want = sorted_mid(&v);
            assert_eq!(median(&mut v.clone()).to_bits(), want.to_bits(), "{v:?}");
            let mut s = v.clone();
            s.sort_by(f64::total_cmp);
            assert_eq!(
                sorted_median(s.iter().copied()).to_bits(),
                want.to_bits(),
                "{s:?}"
            );
        }
    }

    fn grid(n: usize) -> Grid {
        Grid {
            observed: vec![true; n],
            day: None,
        }
    }

    const P: Params = Params {
        window: 30,
        z: 3.5,
        min_ratio: 1.25,
        min_count: 10.0,
    };

    #[test]
    fn flat_with_spike() {
        let mut x: Vec<f64> = (0..120)
            .map(|i| 100.0 + ((i * 7) % 11) as f64 - 5.0)
            .collect();
        for v in &mut x[60..70] {
            *v *= 4.0;
        }
        let s = scan(&x, &grid(120), &P);
        assert_eq!(runs(&s.anomalous, &grid(120), 3), vec![(60, 69)]);
        assert!(
            s.forecast[65] < 120.0,
            "masked: the baseline stays pre-spike"
        );
    }

    #[test]
    fn linear_ramp_is_not_anomalous() {
        let x: Vec<f64> = (0..200)
            .map(|i| 20.0 + 3.0 * i as f64 + ((i * 13) % 7) as f64)
            .collect();
        let s = scan(&x, &grid(200), &P);
        assert!(runs(&s.anomalous, &grid(200), 3).is_empty());
    }

    #[test]
    fn seasonal_peak_is_expected() {
        // Three days of 100 buckets with a sharp peak at 40..50 every day.
        let day = 100;
        let x: Vec<f64> = (0..3 * day)
            .map(|i| {
                if (40..50).contains(&(i % day)) {
                    600.0
                } else {
                    100.0
                }
            })
            .collect();
        let g = Grid {
            observed: vec![true; 3 * day],
            day: Some(day),
        };
        let s = scan(&x, &g, &P);
        let r = runs(&s.anomalous, &g, 3);
        assert_eq!(r, vec![(40, 49)], "only the first day's peak is news");
    }

    #[test]
    fn cusum_backdates() {
        let mut z = vec![0.0; 50];
        for v in &mut z[20..30] {
            *v = 2.0;
        }
        let obs = vec![true; 50];
        assert_eq!(cusum_onset(&z, &obs, 0, 49), Some(20));
        assert_eq!(cusum_onset(&[0.0; 10], &[true; 10], 0, 9), None);
    }

    #[test]
    fn tiny_counts_are_not_news() {
        let x: Vec<f64> = (0..100)
            .map(|i| if (50..53).contains(&i) { 6.0 } else { 0.0 })
            .collect();
        assert!(runs(&scan(&x, &grid(100), &P).anomalous, &grid(100), 3).is_empty());
    }

    #[test]
    fn gaps_are_skipped() {
        let x = vec![0.0; 10];
        let g = Grid {
            observed: vec![false; 10],
            day: None,
        };
        assert!(runs(&scan(&x, &g, &P).anomalous, &g, 3).is_empty());
    }

    /// `anomalies` flags the buckets `scan` flags, on series of small and
    /// large counts, spikes, gaps and days.
    #[test]
    fn anomalies_are_scans_flags() {
        let mut seed = 11u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        let mut flagged = 0;
        for case in 0..60 {
            let n = 50 + (next() % 400) as usize;
            let scale = [1.0, 5.0, 12.0, 40.0, 300.0][case % 5];
            let x: Vec<f64> = (0..n)
                .map(|_| {
                    let v = (next() % 100) as f64 / 100.0 * scale;
                    let spike = if next() % 23 == 0 { 8.0 } else { 1.0 };
                    (v * spike).floor()
                })
                .collect();
            let g = Grid {
                observed: (0..n).map(|_| next() % 9 != 0).collect(),
                day: (case % 3 == 0).then_some(48),
            };
            let full = scan(&x, &g, &P);
            assert_eq!(anomalies(&x, &g, &P), full.anomalous, "case {case}");
            flagged += full.anomalous.iter().filter(|a| **a).count();
        }
        // The series do have anomalies to agree on.
        assert!(flagged > 20, "{flagged}");
    }
}
