//! Shared by the property tests: every randomized run uses an explicit seed, prints it, and
//! replays from it (`PROPTEST_RNG_SEED=<seed> cargo test -p arbor-core --test <name>`).

use std::hash::{BuildHasher, Hasher};

use proptest::test_runner::{Config, RngSeed};

/// A proptest configuration with `cases` cases and a printed, replayable seed: the value
/// of `PROPTEST_RNG_SEED` if set, else a fresh random one.
#[allow(clippy::disallowed_methods, clippy::print_stderr)] // test harness: env + report
pub fn seeded(test: &str, cases: u32) -> Config {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        });
    eprintln!("{test}: seed {seed} (replay: PROPTEST_RNG_SEED={seed} cargo test -p arbor-core --test {test})");
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}
