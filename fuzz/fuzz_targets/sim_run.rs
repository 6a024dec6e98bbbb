//! Coverage-guided exploration of the simulator: the input bytes are the world's random
//! choices (network delays, link breaks, partitions, crashes, fsync latencies, storage
//! faults, client think times and ops), read in draw order; once they run out, a ChaCha
//! stream seeded from the input's hash takes over (`arbor_sim::rng`). Each run is short (3
//! nodes, 2 clients, 2 s of faults and 6 s of healing, simulated) with storage faults at
//! high rates, the network / timer depth faults and the BUGGIFY fault points
//! (`Options::fuzz_profile`). Any checker failure or core assertion panics with the checker, the
//! simulated time and the recent trace; replay with
//! `cargo fuzz run --sanitizer none sim_run <artifact>`.

#![no_main]

use arbor_sim::{run_driven, Options};
use libfuzzer_sys::fuzz_target;

/// Inputs longer than this add nothing (the fallback stream takes over) but cost copying.
const INPUT_LEN_MAX: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > INPUT_LEN_MAX {
        return;
    }
    let opts = Options::fuzz_profile();
    let r = run_driven(data, &opts);
    if let Some(f) = r.failure {
        panic!(
            "sim_run: checker `{}` at {:.6}s: {}\ninput hash (seed) {}\nrecent trace:\n  {}\nreplay: cargo fuzz run --sanitizer none sim_run <this artifact>",
            f.violation.checker,
            f.at_ns as f64 / 1e9,
            f.violation.detail,
            r.seed,
            f.recent.join("\n  ")
        );
    }
});
