//! A mergeable latency sketch with bounded relative error (DDSketch-style
//! logarithmic bins, γ = 1.02: quantiles within ±1% of the true value).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

const GAMMA: f64 = 1.02;
/// Values at or below this (ms) share one bin.
const MIN_MS: f64 = 0.001;

/// Bins as a sorted `(index, count)` list: a cell holds a few dozen bins,
/// where a vector beats a tree for both adding and merging. Serialized as
/// a map from bin index to count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySketch {
    bins: Vec<(i16, u64)>,
}

impl Serialize for LatencySketch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.bins.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for LatencySketch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = BTreeMap::<i16, u64>::deserialize(d)?;
        Ok(LatencySketch {
            bins: m.into_iter().collect(),
        })
    }
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

/// Bin indexes of recently seen values. Logs write latencies with a few
/// digits, so a stream repeats the same values, and the logarithm is the
/// costly part of adding one.
#[derive(Debug, Clone)]
pub struct BinCache {
    slots: Box<[(u64, i16); 256]>,
}

impl Default for BinCache {
    fn default() -> Self {
        // NaN bits: never a latency (they are finite), so every slot starts empty.
        BinCache {
            slots: Box::new([(u64::MAX, 0); 256]),
        }
    }
}

impl BinCache {
    /// The bin of `ms`, as [`LatencySketch::add`] would compute it.
    #[inline]
    pub fn bin(&mut self, ms: f64) -> i16 {
        let bits = ms.to_bits();
        let slot = &mut self.slots[(bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize];
        if slot.0 != bits {
            *slot = (bits, index(ms));
        }
        slot.1
    }
}

impl LatencySketch {
    pub fn add(&mut self, ms: f64) {
        self.add_n(index(ms), 1);
    }

    /// Adds one value of bin `bin` (from [`BinCache::bin`]).
    pub fn add_bin(&mut self, bin: i16) {
        self.add_n(bin, 1);
    }

    fn add_n(&mut self, i: i16, n: u64) {
        match self.bins.binary_search_by_key(&i, |b| b.0) {
            Ok(at) => self.bins[at].1 += n,
            Err(at) => self.bins.insert(at, (i, n)),
        }
    }

    pub fn merge(&mut self, other: &LatencySketch) {
        if other.bins.len() <= 4 {
            for &(i, n) in &other.bins {
                self.add_n(i, n);
            }
            return;
        }
        self.bins =
            super::cube::merge_sorted(&self.bins, &other.bins, |b| b.0, |x, y| (x.0, x.1 + y.1));
    }

    pub fn count(&self) -> u64 {
        self.bins.iter().map(|b| b.1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// The q-quantile (0..=1) in ms, or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        quantile(self.bins.iter().copied(), q)
    }
}

/// The sum of many sketches (the report adds every cell into a few totals):
/// bins in a dense array, so adding a sketch costs only its own bins.
#[derive(Debug, Clone, Default)]
pub struct SketchSum {
    /// Bin index of `counts[0]`.
    base: i32,
    counts: Vec<u64>,
}

impl SketchSum {
    pub fn add(&mut self, s: &LatencySketch) {
        let (Some(lo), Some(hi)) = (s.bins.first(), s.bins.last()) else {
            return;
        };
        let (lo, hi) = (lo.0 as i32, hi.0 as i32);
        if self.counts.is_empty() {
            self.base = lo;
        }
        if lo < self.base {
            // Grown by at least its length, so a sum fed lower and lower
            // bins moves its counts a few times, not once per sketch.
            let base = (lo - self.counts.len() as i32).max(i16::MIN as i32);
            let grow = (self.base - base) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.base = base;
        }
        let top = (hi - self.base) as usize + 1;
        if top > self.counts.len() {
            self.counts.resize(top, 0);
        }
        for &(i, n) in &s.bins {
            self.counts[(i as i32 - self.base) as usize] += n;
        }
    }

    /// Empties the sum, keeping its space.
    pub fn clear(&mut self) {
        self.counts.fill(0);
    }

    /// As [`LatencySketch::quantile`] of the merged sketches.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let bins = self.counts.iter().enumerate();
        quantile(bins.map(|(k, c)| ((self.base + k as i32) as i16, *c)), q)
    }
}

/// The q-quantile of `(bin, count)` pairs in bin order, or `None` when the
/// counts sum to 0.
fn quantile(bins: impl Iterator<Item = (i16, u64)> + Clone, q: f64) -> Option<f64> {
    let n: u64 = bins.clone().map(|b| b.1).sum();
    if n == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * (n - 1) as f64).floor() as u64;
    let mut seen = 0;
    for (k, c) in bins {
        seen += c;
        if seen > rank {
            return Some(value(k));
        }
    }
    None
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
    fn cached_bins_are_bins() {
        let mut cache = BinCache::default();
        // Enough distinct values that slots are overwritten, each seen twice.
        for round in 0..2 {
            for i in 0..5000 {
                let v = [0.0, -0.0, 1e-9, 0.001, 1e300][i % 5] + (i / 5) as f64 * 0.013;
                assert_eq!(cache.bin(v), index(v), "{v} round {round}");
            }
        }
    }

    #[test]
    fn sum_equals_merge() {
        let mut merged = LatencySketch::default();
        let mut sum = SketchSum::default();
        for k in 0..50u32 {
            let mut s = LatencySketch::default();
            for i in 0..(k % 7) {
                // Later sketches reach both below and above the first ones.
                s.add(((k * 37 + i * 11) % 200) as f64 * 0.7 + 0.0001 * (k % 3) as f64);
            }
            merged.merge(&s);
            sum.add(&s);
            for q in [0.0, 0.5, 0.95, 0.99, 1.0] {
                assert_eq!(sum.quantile(q), merged.quantile(q), "after {k}, q{q}");
            }
        }
        assert_eq!(SketchSum::default().quantile(0.5), None);
        // Cleared, it sums afresh.
        sum.clear();
        assert_eq!(sum.quantile(0.5), None);
        let mut one = LatencySketch::default();
        one.add(0.002);
        one.add(7.5);
        sum.add(&one);
        for q in [0.0, 0.5, 1.0] {
            assert_eq!(sum.quantile(q), one.quantile(q));
        }
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
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.starts_with('{'), "a map, as in cube v1: {json}");
        assert_eq!(serde_json::from_str::<LatencySketch>(&json).unwrap(), a);
    }
}
