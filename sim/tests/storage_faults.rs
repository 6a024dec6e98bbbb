//! Storage faults: torn, bit-flipped and misdirected records and failing fsyncs, at rates far
//! above the defaults. Damage is capped at (n - 1) / 2 nodes at a time, so no committed write
//! may be lost: every checker stays green, damaged replicas are detected by checksum at
//! restart, rejoin by a resync, and none is left damaged after the heal window. Without the
//! checksums (`Mutation::NoChecksums`) the same faults break agreement / durability.

use arbor_sim::{run, DiskFaults, Mutation, Options, Report, StorageFaults};

fn damaging(nodes: usize) -> Options {
    Options {
        nodes,
        clients: 3,
        duration_ms: 4_000,
        heal_ms: 8_000,
        storage: StorageFaults {
            torn_write_prob: 0.5,
            bit_flip_prob: 0.01,
            misdirect_prob: 0.01,
            fsync_fail_prob: 0.002,
        },
        ..Options::default()
    }
}

fn describe(seed: u64, r: &Report) -> String {
    match &r.failure {
        Some(f) => format!(
            "seed {seed}: `{}`: {}\n  replay: {}\n  recent:\n    {}",
            f.violation.checker,
            f.violation.detail,
            f.replay,
            f.recent.join("\n    ")
        ),
        None => format!("seed {seed}: {:?}", r.disk_faults),
    }
}

fn sweep(nodes: usize, seeds: std::ops::Range<u64>) -> DiskFaults {
    let opts = damaging(nodes);
    let mut total = DiskFaults::default();
    let mut failures = Vec::new();
    for seed in seeds {
        let r = run(seed, &opts);
        if r.failure.is_some() || r.disk_faults.damaged_at_end > 0 {
            failures.push(describe(seed, &r));
        }
        total.add(&r.disk_faults);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    total
}

#[test]
fn damaged_disk_sweep_3_nodes() {
    let t = sweep(3, 0..16);
    assert!(t.damage_detected > 0, "{t:?}");
    assert!(t.repaired > 0, "{t:?}");
    assert!(t.torn > 0 && t.bit_flips > 0 && t.misdirected > 0, "{t:?}");
    assert!(t.fsync_failures > 0, "{t:?}");
}

#[test]
fn damaged_disk_sweep_5_nodes() {
    let t = sweep(5, 500..508);
    assert!(t.damage_detected > 0, "{t:?}");
}

/// One seed, followed end to end: a replica's log is found damaged by checksum at restart,
/// the replica rejoins by a resync (its damage flag clears), and the run ends with every
/// checker green and no replica still damaged (the liveness checker also saw a quorum
/// serving under one leader).
#[test]
fn replica_with_corrupted_log_rejoins_by_resync() {
    let seed = 3;
    let r = run(seed, &damaging(3));
    let d = r.disk_faults;
    assert!(r.failure.is_none(), "{}", describe(seed, &r));
    assert!(d.damage_detected >= 1, "{}", describe(seed, &r));
    assert!(d.repaired >= 1, "{}", describe(seed, &r));
    assert_eq!(d.damaged_at_end, 0, "{}", describe(seed, &r));
}

/// The checksums matter: with detection switched off, the same faults are caught by the
/// checkers.
#[test]
fn undetected_damage_is_caught() {
    let opts = Options {
        mutation: Some(Mutation::NoChecksums),
        ..damaging(3)
    };
    for seed in 0..20 {
        let r = run(seed, &opts);
        if let Some(f) = r.failure {
            assert!(
                [
                    "agreement",
                    "durability",
                    "digest",
                    "integrity",
                    "primary_order",
                    "core-assert"
                ]
                .contains(&f.violation.checker),
                "seed {seed}: caught by unexpected checker `{}`: {}",
                f.violation.checker,
                f.violation.detail
            );
            return;
        }
    }
    panic!("undetected storage damage was not caught in 20 seeds");
}
