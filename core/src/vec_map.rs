//! A map kept as one vector of entries sorted by key: for maps that hold a handful of
//! entries (a leader's learners: one per other server) and are walked on every message.
//! Walking a `BTreeMap` costs a node descent per entry; walking this is a slice iteration.
//! Same iteration order as `BTreeMap` (ascending keys), so swapping one for the other
//! changes no output.
//!
//! Invariant: `entries` is strictly increasing by key.

use std::ops::Index;

/// A small ordered map (see the module doc). Lookups are binary searches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match self.find(key) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// The value under `key`, inserting `V::default()` first if there is none (as
    /// `BTreeMap::entry(key).or_default()`).
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        match self.find(key) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in ascending key order.
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator + Clone + '_ {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Entries in ascending key order, values mutable.
    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + ExactSizeIterator + '_ {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Values in ascending key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + Clone + '_ {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl<K: Ord, V> Index<&K> for VecMap<K, V> {
    type Output = V;

    /// The value under `key`; panics when there is none (as `BTreeMap` does).
    fn index(&self, key: &K) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};

    use super::VecMap;

    /// Random inserts, overwrites, removals and mutations on a `VecMap` and a `BTreeMap`
    /// side by side: every answer and the full iteration order (both ways) agree.
    #[test]
    fn behaves_as_a_btree_map() {
        for seed in 0..40u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut v: VecMap<u8, u32> = VecMap::new();
            let mut b: BTreeMap<u8, u32> = BTreeMap::new();
            for step in 0..400 {
                let k = (rng.next_u32() % 24) as u8;
                match rng.next_u32() % 5 {
                    0 | 1 => {
                        let x = rng.next_u32();
                        assert_eq!(v.insert(k, x), b.insert(k, x), "seed {seed} step {step}");
                    }
                    2 => assert_eq!(v.remove(&k), b.remove(&k), "seed {seed} step {step}"),
                    3 => {
                        *v.get_or_default(k) += 7;
                        *b.entry(k).or_default() += 7;
                        if let (Some(a), Some(c)) = (v.get_mut(&k), b.get_mut(&k)) {
                            *a += 1;
                            *c += 1;
                        }
                    }
                    _ => {
                        for ((_, x), (_, y)) in v.iter_mut().zip(b.iter_mut()) {
                            *x = x.wrapping_mul(3);
                            *y = y.wrapping_mul(3);
                        }
                    }
                }
                assert_eq!(v.get(&k), b.get(&k), "seed {seed} step {step}");
                assert_eq!(v.len(), b.len(), "seed {seed} step {step}");
                assert_eq!(v.is_empty(), b.is_empty(), "seed {seed} step {step}");
                assert!(
                    v.iter().eq(b.iter()),
                    "seed {seed} step {step}: iteration order differs"
                );
                assert!(
                    v.values().rev().eq(b.values().rev()),
                    "seed {seed} step {step}"
                );
                assert!((&v).into_iter().eq(&b), "seed {seed} step {step}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "no entry found")]
    fn indexing_a_missing_key_panics() {
        let mut v: VecMap<u8, u8> = VecMap::new();
        v.insert(1, 2);
        assert_eq!(v[&1], 2);
        let _ = v[&3];
    }
}
