//! A mergeable latency sketch with bounded relative error (DDSketch-style
//! logarithmic bins, γ = 1.02: quantiles within ±1% of the true value).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

const GAMMA: f64 = 1.02;
/// Values at or below this (ms) share one bin.
const MIN_MS: f64 = 0.001;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LatencySketch {
    bins: BTreeMap<i16, u64>,
}

fn index(ms: f64) -> i16 {
    let v = ms.max(MIN_MS);
    (v.ln() / GAMMA.ln())
        .ceil()
        .clamp(i16::MIN as f64, i16::MAX as f64) as i16
}

fn value(i: i16) -> f64 {
    2.0 * GAMMA.powi(i as i32) / (GAMMA + 1.0)
}

impl LatencySketch {
    pub fn add(&mut self, ms: f64) {
        *self.bins.entry(index(ms)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &LatencySketch) {
        for (k, v) in &other.bins {
            *self.bins.entry(*k).or_default() += v;
        }
    }

    pub fn count(&self) -> u64 {
        self.bins.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// The q-quantile (0..=1) in ms, or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (n - 1) as f64).floor() as u64;
        let mut seen = 0;
        for (k, c) in &self.bins {
            seen += c;
            if seen > rank {
                return Some(value(*k));
            }
        }
        self.bins.keys().next_back().map(|k| value(*k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_error() {
        let mut s = LatencySketch::default();
        for i in 1..=1000 {
            s.add(i as f64);
        }
        for (q, want) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = s.quantile(q).unwrap();
            assert!((got - want).abs() / want < 0.02, "q{q}: {got} vs {want}");
        }
        assert_eq!(LatencySketch::default().quantile(0.5), None);
    }

    #[test]
    fn merge_equals_single() {
        let (mut a, mut b, mut all) = Default::default();
        for i in 0..100 {
            let v = (i * 7 % 97) as f64 + 0.5;
            if i % 2 == 0 {
                LatencySketch::add(&mut a, v)
            } else {
                LatencySketch::add(&mut b, v)
            }
            LatencySketch::add(&mut all, v);
        }
        a.merge(&b);
        assert_eq!(a, all);
    }
}
