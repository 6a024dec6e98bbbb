//! A fixed, cheap hasher for the simulator's membership-only hash sets (never iterated, so
//! no run can depend on their order). SipHash (std's `DefaultHasher`) costs ~150
//! instructions per small key; this multiply–rotate fold (the `FxHasher` scheme) costs a
//! few. Keys here are simulator-made integers, not attacker input, so flooding is moot.

use std::hash::{BuildHasherDefault, Hasher};

/// `BuildHasher` for [`FastHasher`].
pub type FastBuild = BuildHasherDefault<FastHasher>;

const K: u64 = 0x517c_c1b7_2722_0a95;

/// One fold step, `(h.rotl(5) ^ w) * K` (also the trace hash's mixing step).
#[inline]
pub(crate) fn fold(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(K)
}

/// Feeds `bytes` to `add` as little-endian words, the last one zero-padded, then their
/// length (so that a padded tail cannot collide with real zero bytes: "a" vs "a\0").
#[inline]
pub(crate) fn words(bytes: &[u8], mut add: impl FnMut(u64)) {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // The zero-padded little-endian word, assembled in registers: a variable-length
        // copy into a buffer is a `memcpy` call, and this runs for most trace lines.
        add(rest.iter().rev().fold(0, |w, &b| w << 8 | u64::from(b)));
    }
    add(bytes.len() as u64);
}

/// Folds each written word with [`fold`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHasher {
    h: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.h = fold(self.h, w);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.h
    }

    fn write(&mut self, bytes: &[u8]) {
        words(bytes, |w| self.add(w));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.add(i as u32 as u64);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn a_set_with_it_finds_exactly_what_was_inserted() {
        let mut s: HashSet<(i64, i32), FastBuild> = HashSet::default();
        for session in 0..50i64 {
            for xid in (-3..400).step_by(2) {
                s.insert((session << 32 | 0x1234, xid));
            }
        }
        for session in 0..50i64 {
            for xid in -3..400 {
                let k = (session << 32 | 0x1234, xid);
                assert_eq!(s.contains(&k), xid % 2 != 0, "{k:?}");
            }
        }
    }

    /// The words are the zero-padded little-endian words of the bytes, then the length,
    /// for every length around the word boundaries (trace hashes depend on it).
    #[test]
    fn words_are_the_padded_little_endian_words_then_the_length() {
        let data: Vec<u8> = (1..=40u8).map(|b| b.wrapping_mul(37) ^ 0x80).collect();
        for len in 0..=data.len() {
            let bytes = &data[..len];
            let mut want: Vec<u64> = bytes
                .chunks(8)
                .map(|c| {
                    let mut w = [0u8; 8];
                    w[..c.len()].copy_from_slice(c);
                    u64::from_le_bytes(w)
                })
                .collect();
            want.push(len as u64);
            let mut got = Vec::new();
            words(bytes, |w| got.push(w));
            assert_eq!(got, want, "length {len}");
        }
    }

    #[test]
    fn neighbouring_keys_hash_apart() {
        let b = FastBuild::default();
        let h = |k: (i64, i32)| b.hash_one(k);
        assert_ne!(h((1, 1)), h((1, 2)));
        assert_ne!(h((1, 2)), h((2, 1)));
        assert_ne!(h((0, 0)), h((0, -1)));
        // Different byte lengths of equal prefix differ through `write` (str hashing).
        assert_ne!(b.hash_one("a"), b.hash_one("a\0"));
    }
}
