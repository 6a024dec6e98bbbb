//! The simulator has teeth: a deliberately broken environment is caught by the checkers.

use arbor_sim::{run, BuggifyOptions, DepthFaults, Mutation, Options};

fn caught(m: Mutation, first: &[u64], want: &[&str]) {
    let opts = Options {
        duration_ms: 20_000,
        heal_ms: 5_000,
        mutation: Some(m),
        // The first catching seeds were found before depth faults and fault points existed.
        depth: DepthFaults::none(),
        buggify: BuggifyOptions::none(),
        ..Options::default()
    };
    for seed in first.iter().copied().chain(0..40) {
        let r = run(seed, &opts);
        if let Some(f) = r.failure {
            assert!(
                want.contains(&f.violation.checker),
                "seed {seed}: {m:?} caught by unexpected checker `{}`: {}",
                f.violation.checker,
                f.violation.detail
            );
            return;
        }
    }
    panic!("{m:?} was not caught in 40 seeds");
}

#[test]
fn lying_fsync_is_caught() {
    caught(
        Mutation::LyingFsync,
        &[12, 7, 16],
        &["durability", "agreement", "digest", "epochs", "core-assert"],
    );
}

#[test]
fn non_fifo_links_are_caught() {
    caught(
        Mutation::ReorderLinks,
        &[0],
        &[
            "agreement",
            "digest",
            "durability",
            "core-assert",
            "primary_order",
        ],
    );
}
