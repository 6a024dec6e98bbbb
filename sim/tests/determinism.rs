//! The same seed gives a byte-identical event trace (STYLE §6 determinism self-check).

use arbor_sim::{run, Options};

#[test]
fn same_seed_same_trace_hash() {
    let opts = Options {
        nodes: 5,
        duration_ms: 5_000,
        heal_ms: 5_000,
        ..Options::default()
    };
    for seed in [7, 1234] {
        let a = run(seed, &opts);
        let b = run(seed, &opts);
        assert!(
            a.events > 1_000,
            "seed {seed}: too few events ({})",
            a.events
        );
        assert_eq!(
            a.trace_hash,
            b.trace_hash,
            "seed {seed}: trace hash differs between two runs; replay: {}",
            opts.replay_command(seed)
        );
        assert_eq!(a.events, b.events);
        assert_eq!(a.txns_committed, b.txns_committed);
    }
}

#[test]
fn different_seeds_differ() {
    let opts = Options {
        duration_ms: 2_000,
        heal_ms: 2_000,
        ..Options::default()
    };
    assert_ne!(run(1, &opts).trace_hash, run(2, &opts).trace_hash);
}
