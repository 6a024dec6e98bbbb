//! `ZxidMap`: an ordered map keyed by zxid for the simulator's bookkeeping (a node's shadow
//! log, the checkers' records of what was committed, acknowledged, digested).
//!
//! Every such map is filled almost always in ascending zxid order (a log appends, replicas
//! apply in order) and read near its end, so a sorted `VecDeque` does what a `BTreeMap` did
//! with an append instead of a tree insert (no node allocation, no key comparisons down the
//! tree) and binary searches over contiguous keys. An out-of-order insert (rare: a lagging
//! replica's first application of an old zxid) falls back to a positional insert. The API is
//! the subset of `BTreeMap` the simulator uses, with the same results, so the swap changes no
//! check (pinned against a `BTreeMap` by the tests below).

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};

use arbor_core::types::Zxid;

#[derive(Clone, Debug)]
pub struct ZxidMap<V> {
    entries: VecDeque<(Zxid, V)>,
}

impl<V> Default for ZxidMap<V> {
    fn default() -> Self {
        ZxidMap {
            entries: VecDeque::new(),
        }
    }
}

impl<V> ZxidMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// First index whose key fails `below` (a predicate true on a prefix of the keys).
    /// Queries land near the end almost always, so the search gallops back from the end
    /// (1, 2, 4, … entries) and then bisects only the last window: a few probes on hot,
    /// adjacent entries instead of a bisection over the whole run's history.
    fn partition(&self, below: impl Fn(&Zxid) -> bool) -> usize {
        let len = self.entries.len();
        let mut hi = len;
        let mut step = 1;
        let lo = loop {
            if hi == 0 {
                break 0;
            }
            let i = hi.saturating_sub(step);
            if below(&self.entries[i].0) {
                break i + 1;
            }
            hi = i;
            step *= 2;
        };
        // The answer lies in [lo, hi]: keys before lo are below, the key at hi is not.
        let (mut a, mut b) = (lo, hi);
        while a < b {
            let m = a + (b - a) / 2;
            if below(&self.entries[m].0) {
                a = m + 1;
            } else {
                b = m;
            }
        }
        a
    }

    /// Index of the entry at `z` (`Ok`) or where it would go (`Err`).
    fn find(&self, z: Zxid) -> Result<usize, usize> {
        let i = self.partition(|k| *k < z);
        match self.entries.get(i) {
            Some((k, _)) if *k == z => Ok(i),
            _ => Err(i),
        }
    }

    /// First index whose key is not below `b`'s start.
    fn lower(&self, b: Bound<&Zxid>) -> usize {
        match b {
            Bound::Unbounded => 0,
            Bound::Included(z) => self.partition(|k| k < z),
            Bound::Excluded(z) => self.partition(|k| k <= z),
        }
    }

    /// One past the last index whose key is within `b`'s end.
    fn upper(&self, b: Bound<&Zxid>) -> usize {
        match b {
            Bound::Unbounded => self.entries.len(),
            Bound::Included(z) => self.partition(|k| k <= z),
            Bound::Excluded(z) => self.partition(|k| k < z),
        }
    }

    pub fn get(&self, z: &Zxid) -> Option<&V> {
        self.find(*z).ok().map(|i| &self.entries[i].1)
    }

    /// Inserts `v` at `z`, returning the value it replaces.
    pub fn insert(&mut self, z: Zxid, v: V) -> Option<V> {
        match self.find(z) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, v)),
            Err(i) if i == self.entries.len() => {
                self.entries.push_back((z, v));
                None
            }
            Err(i) => {
                self.entries.insert(i, (z, v));
                None
            }
        }
    }

    /// The value at `z`, inserted by `make` first if absent.
    pub fn get_or_insert_with(&mut self, z: Zxid, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(z) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (z, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// The entries whose keys lie in `r`, in key order.
    pub fn range(&self, r: impl RangeBounds<Zxid>) -> impl Iterator<Item = (&Zxid, &V)> {
        let lo = self.lower(r.start_bound());
        let hi = self.upper(r.end_bound()).max(lo);
        self.entries.range(lo..hi).map(|(k, v)| (k, v))
    }

    /// Splits off the entries at or above `z` (returned), keeping those below.
    pub fn split_off(&mut self, z: &Zxid) -> Self {
        let at = self.lower(Bound::Included(z));
        ZxidMap {
            entries: self.entries.split_off(at),
        }
    }

    /// Drops every entry below `z`.
    pub fn remove_below(&mut self, z: Zxid) {
        let at = self.lower(Bound::Included(&z));
        self.entries.drain(..at);
    }

    /// The first entry above `z` (one search, where `range((Excluded(z), ..)).next()`
    /// bounds both ends).
    pub fn first_above(&self, z: Zxid) -> Option<(&Zxid, &V)> {
        self.entries
            .get(self.partition(|k| *k <= z))
            .map(|(k, v)| (k, v))
    }

    pub fn first_key_value(&self) -> Option<(&Zxid, &V)> {
        self.entries.front().map(|(k, v)| (k, v))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Zxid, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl<V> FromIterator<(Zxid, V)> for ZxidMap<V> {
    fn from_iter<I: IntoIterator<Item = (Zxid, V)>>(iter: I) -> Self {
        let mut m = ZxidMap::new();
        for (z, v) in iter {
            m.insert(z, v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ops::Bound::{Excluded, Included, Unbounded};

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn same(m: &ZxidMap<u64>, b: &BTreeMap<Zxid, u64>, seed: u64) {
        let a: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
        let e: Vec<_> = b.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(a, e, "seed {seed}");
    }

    /// Random operation sequences (mostly ascending keys, some out of order, repeats) give
    /// the same answers as a `BTreeMap`.
    #[test]
    fn behaves_as_a_btree_map() {
        for seed in 0..200u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut m = ZxidMap::new();
            let mut b = BTreeMap::new();
            let mut next = 1i64;
            for step in 0..300u64 {
                let z = if rng.gen_bool(0.7) {
                    next += rng.gen_range(1..4);
                    Zxid(next)
                } else {
                    Zxid(rng.gen_range(0..next + 3))
                };
                match rng.gen_range(0..9) {
                    0..=3 => assert_eq!(m.insert(z, step), b.insert(z, step), "seed {seed}"),
                    4 => {
                        *m.get_or_insert_with(z, || step) += 1;
                        *b.entry(z).or_insert(step) += 1;
                    }
                    5 => {
                        let lo = Zxid(rng.gen_range(0..next + 2));
                        let hi = Zxid(rng.gen_range(0..next + 2));
                        let bounds = [
                            (Included(lo), Included(hi)),
                            (Excluded(lo), Excluded(hi)),
                            (Included(lo), Excluded(hi)),
                            (Excluded(lo), Unbounded),
                            (Unbounded, Included(hi)),
                        ];
                        for r in bounds {
                            // BTreeMap panics on an empty range with start > end; both
                            // answer nothing for such a range here.
                            let expect: Vec<_> = if r_is_empty(r) {
                                Vec::new()
                            } else {
                                b.range(r).map(|(k, v)| (*k, *v)).collect()
                            };
                            let got: Vec<_> = m.range(r).map(|(k, v)| (*k, *v)).collect();
                            assert_eq!(got, expect, "seed {seed} range {r:?}");
                        }
                    }
                    6 if rng.gen_bool(0.2) => {
                        let mut tail = m.split_off(&z);
                        let btail = b.split_off(&z);
                        same(&tail, &btail, seed);
                        if rng.gen_bool(0.5) {
                            // Put it back to keep the maps growing.
                            for (k, v) in btail {
                                b.insert(k, v);
                            }
                            for (k, v) in tail.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>() {
                                m.insert(k, v);
                            }
                        }
                        tail.clear();
                        assert!(tail.is_empty(), "seed {seed}");
                    }
                    7 if rng.gen_bool(0.2) => {
                        m.remove_below(z);
                        b = b.split_off(&z);
                    }
                    8 => assert_eq!(
                        m.first_above(z).map(|(k, v)| (*k, *v)),
                        b.range((Excluded(z), Unbounded))
                            .next()
                            .map(|(k, v)| (*k, *v)),
                        "seed {seed}"
                    ),
                    _ => assert_eq!(m.get(&z), b.get(&z), "seed {seed}"),
                }
                same(&m, &b, seed);
                assert_eq!(m.len(), b.len(), "seed {seed}");
                assert_eq!(
                    m.first_key_value().map(|(k, v)| (*k, *v)),
                    b.first_key_value().map(|(k, v)| (*k, *v)),
                    "seed {seed}"
                );
            }
        }
    }

    fn r_is_empty(r: (Bound<Zxid>, Bound<Zxid>)) -> bool {
        match r {
            (Included(a) | Excluded(a), Included(b) | Excluded(b)) => {
                a > b || (a == b && matches!(r, (Excluded(_), Excluded(_))))
            }
            _ => false,
        }
    }

    #[test]
    fn collects_out_of_order_input_sorted() {
        let m: ZxidMap<u8> = [(Zxid(5), 1), (Zxid(2), 2), (Zxid(9), 3), (Zxid(2), 4)]
            .into_iter()
            .collect();
        let got: Vec<_> = m.iter().map(|(k, v)| (k.0, *v)).collect();
        assert_eq!(got, vec![(2, 4), (5, 1), (9, 3)]);
    }
}
