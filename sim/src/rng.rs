//! [`SimRng`]: the random stream behind each of the world's per-purpose RNGs.
//!
//! For an ordinary run every stream is `Seeded`: a `ChaCha8Rng` whose calls are forwarded
//! unchanged, so a seed gives exactly the draws it always gave (`sim/tests/determinism.rs`
//! and the CI sweep are unaffected). For coverage-guided exploration (`fuzz/` target
//! `sim_run`) the streams are `Driven`: they read their bits from the fuzz input, in the
//! order the world draws them, and once the input is used up from a ChaCha stream seeded
//! from the input's hash. The fuzzer's mutations thus steer the network, disk and fault
//! decisions directly, and any input replays exactly.

use std::cell::RefCell;
use std::rc::Rc;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bytes that drive the world's random choices, then a fallback stream.
#[derive(Debug)]
pub struct ByteSource {
    bytes: Vec<u8>,
    at: usize,
    fallback: ChaCha8Rng,
}

impl ByteSource {
    /// A source reading `bytes`, then a ChaCha stream seeded from `fallback_seed`.
    pub fn new(bytes: &[u8], fallback_seed: u64) -> ByteSource {
        ByteSource {
            bytes: bytes.to_vec(),
            at: 0,
            fallback: ChaCha8Rng::seed_from_u64(fallback_seed),
        }
    }

    fn fill(&mut self, dest: &mut [u8]) {
        let n = dest.len().min(self.bytes.len() - self.at);
        dest[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        if n < dest.len() {
            self.fallback.fill_bytes(&mut dest[n..]);
        }
    }
}

/// One random stream of the world.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // `Seeded` is the common, hot case: no box per draw
pub enum SimRng {
    /// Driven by fuzz input (shared by the streams, in draw order).
    Driven(Rc<RefCell<ByteSource>>),
    /// A plain seeded stream.
    Seeded(ChaCha8Rng),
}

impl RngCore for SimRng {
    fn next_u32(&mut self) -> u32 {
        match self {
            SimRng::Seeded(r) => r.next_u32(),
            SimRng::Driven(s) => {
                let mut b = [0; 4];
                s.borrow_mut().fill(&mut b);
                u32::from_le_bytes(b)
            }
        }
    }

    fn next_u64(&mut self) -> u64 {
        match self {
            SimRng::Seeded(r) => r.next_u64(),
            SimRng::Driven(s) => {
                let mut b = [0; 8];
                s.borrow_mut().fill(&mut b);
                u64::from_le_bytes(b)
            }
        }
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match self {
            SimRng::Seeded(r) => r.fill_bytes(dest),
            SimRng::Driven(s) => s.borrow_mut().fill(dest),
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// FNV-1a over `bytes`: the seed of a driven run (config, clients and the fallback stream).
pub fn input_seed(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_stream_is_the_plain_chacha_stream() {
        let mut a = SimRng::Seeded(ChaCha8Rng::seed_from_u64(9));
        let mut b = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert_eq!(a.next_u32(), b.next_u32());
        }
    }

    #[test]
    fn driven_stream_reads_input_then_falls_back() {
        let src = Rc::new(RefCell::new(ByteSource::new(&[1, 0, 0, 0, 2], 5)));
        let mut a = SimRng::Driven(src.clone());
        let mut b = SimRng::Driven(src);
        assert_eq!(a.next_u32(), 1);
        let mut fb = ChaCha8Rng::seed_from_u64(5);
        let mut want = [2u8, 0, 0, 0];
        fb.fill_bytes(&mut want[1..]);
        assert_eq!(b.next_u32(), u32::from_le_bytes(want));
    }
}
