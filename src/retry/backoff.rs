//! How a chain of retries spaces its attempts: the backoff class of a
//! finished chain, and whether a chain still going is a loop.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// Tight loop: median gap of at most one second.
    None,
    /// No growth: a constant interval, jittered or not.
    Fixed,
    Exponential,
    ExponentialJitter,
    /// Exponential growth up to a ceiling, then constant gaps.
    Capped,
    /// One retry: no pattern to classify.
    Single,
}

impl Backoff {
    pub fn name(self) -> &'static str {
        match self {
            Backoff::None => "none",
            Backoff::Fixed => "fixed",
            Backoff::Exponential => "exponential",
            Backoff::ExponentialJitter => "exponential_jitter",
            Backoff::Capped => "capped",
            Backoff::Single => "single",
        }
    }

    /// Whether the chain kept widening its gaps (a client that backs off).
    pub fn grows(self) -> bool {
        matches!(self, Backoff::Exponential | Backoff::ExponentialJitter)
    }
}

/// ln(gap), with gaps under half a second counted as half a second, so
/// that one-second timestamps (gaps of 0 and 1 s) do not fake growth.
pub fn log_gap(g: f64) -> f64 {
    g.max(0.5).ln()
}

/// The least-squares slope of `y` against 0, 1, 2, ...
fn slope(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        sxy += (i as f64 - mx) * (v - my);
        sxx += (i as f64 - mx).powi(2);
    }
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

/// Growth multiplier per attempt (exp of the slope of ln(gap) against the
/// attempt number) and the spread of ln(gap) around that fit.
fn multiplier(gaps: &[f64]) -> (f64, f64) {
    if gaps.len() < 2 {
        return (1.0, 0.0);
    }
    let logs: Vec<f64> = gaps.iter().map(|g| log_gap(*g)).collect();
    let n = logs.len() as f64;
    let b = slope(&logs);
    let (mx, my) = ((n - 1.0) / 2.0, logs.iter().sum::<f64>() / n);
    let resid: f64 = logs
        .iter()
        .enumerate()
        .map(|(i, y)| (y - (my + b * (i as f64 - mx))).powi(2))
        .sum::<f64>()
        / n;
    (b.exp(), resid.sqrt())
}

fn median(gaps: &[f64]) -> f64 {
    let mut sorted = gaps.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Classifies a finished chain from its gaps (seconds).
pub fn classify_backoff(gaps: &[f64]) -> Backoff {
    if gaps.len() < 2 {
        return Backoff::Single;
    }
    // Logs with one-second timestamps (CLF) show a sub-second loop as gaps
    // of 0 and 1 s, so "tight" means a median gap of at most one second.
    if median(gaps) <= 1.0 {
        return Backoff::None;
    }
    // A capped backoff ends on a plateau; the growth is fitted before it.
    let last = gaps[gaps.len() - 1];
    let plateau = gaps
        .iter()
        .rev()
        .take_while(|g| (*g - last).abs() <= 0.05 * last)
        .count();
    let capped = plateau >= 2 && gaps.len() - plateau + 1 >= 3;
    let growth = if capped {
        &gaps[..gaps.len() - plateau + 1]
    } else {
        gaps
    };
    let (mult, resid) = multiplier(growth);
    if mult < 1.3 {
        Backoff::Fixed
    } else if capped {
        Backoff::Capped
    } else if resid < 0.15 {
        Backoff::Exponential
    } else {
        Backoff::ExponentialJitter
    }
}

/// Whether the last gaps of a chain (seconds, oldest first, up to
/// [`RECENT`]) describe a client that keeps coming back quickly: no gap
/// longer than `max_gap` and no growth. A backoff that widens its gaps
/// fails this as soon as the gaps grow, even while they are still short; a
/// backoff capped at a short ceiling passes once it reaches the ceiling;
/// a client that gives up after a few quick retries and tries again later
/// (each new attempt after a failure is a retry of the operation) pauses,
/// and a pause is no loop.
pub fn steady(recent: &[f64], max_gap: f64) -> bool {
    let logs: Vec<f64> = recent.iter().map(|g| log_gap(*g)).collect();
    steady_logs(recent, &logs, max_gap)
}

/// [`steady`], with each gap's [`log_gap`] given.
pub fn steady_logs(recent: &[f64], logs: &[f64], max_gap: f64) -> bool {
    if recent.is_empty() || recent.iter().any(|g| *g > max_gap) {
        return false;
    }
    // ln(1.3): the growth of a backoff, as in `classify_backoff`.
    recent.len() < 3 || slope(logs) < 0.262_364_264_467_491_1
}

/// Gaps a chain keeps for [`steady`].
pub const RECENT: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_classes() {
        assert_eq!(classify_backoff(&[0.3, 0.5, 0.4, 0.6]), Backoff::None);
        assert_eq!(
            classify_backoff(&[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]),
            Backoff::None,
            "CLF seconds"
        );
        assert_eq!(classify_backoff(&[5.0, 5.1, 4.9, 5.0]), Backoff::Fixed);
        assert_eq!(
            classify_backoff(&[3.0, 1.2, 4.1, 2.2, 3.9, 1.5]),
            Backoff::Fixed,
            "a jittered constant interval does not back off"
        );
        assert_eq!(
            classify_backoff(&[1.0, 2.0, 4.0, 8.0, 16.0]),
            Backoff::Exponential
        );
        assert_eq!(
            classify_backoff(&[2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]),
            Backoff::Capped
        );
        assert_eq!(
            classify_backoff(&[1.2, 1.5, 4.4, 5.0, 14.0, 20.0]),
            Backoff::ExponentialJitter
        );
        assert_eq!(classify_backoff(&[3.0]), Backoff::Single);
        assert_eq!(classify_backoff(&[0.2]), Backoff::Single);
        // Full jitter: random(0, cap) with a doubling cap.
        assert_eq!(
            classify_backoff(&[0.6, 1.9, 2.2, 7.5, 9.0, 30.0]),
            Backoff::ExponentialJitter
        );
    }

    #[test]
    fn steady_loops() {
        assert!(steady(&[0.4, 0.6, 0.5, 0.3, 0.7], 10.0), "tight");
        assert!(
            steady(&[0.0, 1.0, 0.0, 1.0, 1.0], 10.0),
            "tight, CLF seconds"
        );
        assert!(steady(&[2.0, 2.0, 2.0, 2.0, 2.0], 10.0), "capped at 2 s");
        assert!(steady(&[1.1, 1.9, 1.4, 1.7, 1.2], 10.0), "jittered 1-2 s");
        assert!(!steady(&[1.0, 2.0, 4.0, 8.0, 16.0], 10.0), "exponential");
        assert!(
            !steady(&[0.5, 1.0, 2.0, 4.0, 8.0], 10.0),
            "still short, growing"
        );
        assert!(!steady(&[30.0, 30.0, 30.0, 30.0, 30.0], 10.0), "slow poll");
        assert!(
            !steady(&[2.0, 12.0, 2.0, 2.0, 2.0], 10.0),
            "quick retries, a pause, quick retries: a client giving up and trying again"
        );
        assert!(!steady(&[], 10.0));
    }
}
