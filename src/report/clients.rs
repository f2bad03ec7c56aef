//! Distinct clients of the report's groups: buckets, cohorts, endpoints.
//!
//! Every client hash of every cell gets a dense id once, in the pass over
//! the buckets (which counts a bucket's clients by stamping ids with the
//! bucket). Cohorts and endpoints then count ids in bit sets: one hash
//! lookup per client of a cell, instead of one per group it counts in.

use rustc_hash::{FxHashMap, FxHashSet};

/// Bits that the bit sets of one grouping may take in all; groups past it
/// use hash sets, so memory stays bounded by the clients a group has.
pub(super) const BIT_BUDGET: usize = 1 << 28;

/// Dense client ids of cells, cell after cell.
#[derive(Default)]
pub(super) struct ClientIds {
    by_hash: FxHashMap<u64, u32>,
    /// Per id, the stamp of the last group that counted it.
    stamps: Vec<u32>,
    ids: Vec<u32>,
    /// Where each added cell's ids start in `ids`.
    starts: Vec<usize>,
}

impl ClientIds {
    pub fn with_capacity(cells: usize, entries: usize) -> Self {
        ClientIds {
            ids: Vec::with_capacity(entries),
            starts: Vec::with_capacity(cells + 1),
            ..Default::default()
        }
    }

    /// Adds the next cell's clients; returns how many of them no earlier
    /// cell with the same `stamp` had (stamps are nonzero and change
    /// between groups).
    pub fn add(&mut self, clients: &[u64], stamp: u32) -> u64 {
        self.starts.push(self.ids.len());
        let mut new = 0;
        for h in clients {
            let next = self.stamps.len() as u32;
            let id = *self.by_hash.entry(*h).or_insert(next);
            if id == next {
                self.stamps.push(0);
            }
            let s = &mut self.stamps[id as usize];
            new += u64::from(*s != stamp);
            *s = stamp;
            self.ids.push(id);
        }
        new
    }

    /// Number of distinct clients added.
    pub fn distinct(&self) -> usize {
        self.stamps.len()
    }

    /// Ids of the `i`-th added cell.
    pub fn cell(&self, i: usize) -> &[u32] {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.ids.len());
        &self.ids[self.starts[i]..end]
    }
}

/// A set of client ids: a bit per possible id, or hashed when a grouping
/// has spent its [`BIT_BUDGET`].
pub(super) enum IdSet {
    Bits(Vec<u64>),
    Hashed(FxHashSet<u32>),
}

impl IdSet {
    /// A set for ids below `distinct`, the `n`-th set of its grouping.
    pub fn new(n: usize, distinct: usize, budget: usize) -> Self {
        let words = distinct.div_ceil(64);
        if (n + 1).saturating_mul(words * 64) <= budget {
            IdSet::Bits(vec![0; words])
        } else {
            IdSet::Hashed(FxHashSet::default())
        }
    }

    pub fn extend(&mut self, ids: &[u32]) {
        match self {
            IdSet::Bits(w) => {
                for &id in ids {
                    w[id as usize / 64] |= 1 << (id % 64);
                }
            }
            IdSet::Hashed(s) => s.extend(ids),
        }
    }

    pub fn len(&self) -> u64 {
        match self {
            IdSet::Bits(w) => w.iter().map(|x| u64::from(x.count_ones())).sum(),
            IdSet::Hashed(s) => s.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_count_each_stamp_once() {
        let mut ids = ClientIds::default();
        assert_eq!(ids.add(&[10, 20, 30], 1), 3);
        assert_eq!(ids.add(&[20, 40], 1), 1);
        assert_eq!(ids.add(&[20, 40], 2), 2);
        assert_eq!(ids.add(&[], 2), 0);
        assert_eq!(ids.add(&[10], 3), 1);
        assert_eq!(ids.distinct(), 4);
        assert_eq!(ids.cell(0), &[0, 1, 2]);
        assert_eq!(ids.cell(1), &[1, 3]);
        assert_eq!(ids.cell(2), &[1, 3]);
        assert_eq!(ids.cell(3), &[] as &[u32]);
        assert_eq!(ids.cell(4), &[0]);
    }

    #[test]
    fn bits_and_hashed_sets_agree() {
        let ids: Vec<u32> = (0..500).map(|i| (i * 37 % 211) as u32).collect();
        let mut bits = IdSet::new(0, 211, BIT_BUDGET);
        let mut hashed = IdSet::new(0, 211, 0);
        assert!(matches!(bits, IdSet::Bits(_)) && matches!(hashed, IdSet::Hashed(_)));
        for part in ids.chunks(7) {
            bits.extend(part);
            hashed.extend(part);
        }
        assert_eq!(bits.len(), 211);
        assert_eq!(hashed.len(), 211);
        // The budget covers the first sets of a grouping, not the later ones.
        assert!(matches!(IdSet::new(1, 64, 128), IdSet::Bits(_)));
        assert!(matches!(IdSet::new(2, 64, 128), IdSet::Hashed(_)));
    }
}
