//! Proof of power: every canary — a deliberately wrong core (`arbor_core::replica::Canary`)
//! or a broken environment — is caught by the simulator's checkers, and the correct core
//! passes the very same seeds.
//!
//! All runs use [`profile`]: the default fault mix plus power losses (every node crashes at
//! once, 20 % of crash faults), a power loss shortly after half of all leader elections
//! (while followers synchronize) and slow disks (fsync up to 20 ms), which widen the
//! windows the durability canaries need.
//!
//! The seed per canary is the first seed of a sweep from 0 that catches it (found with
//! `arbor sim --seeds 0..2000 --power-loss-prob 0.2 --recovery-crash-prob 0.5
//! --disk-delay-us 20000 --timer-jump-rate 0 --reconnect-dup-prob 0 --bridge-rate 0
//! --flap-rate 0 --slow-node-rate 0 --buggify-site-prob 0 --mutation NAME`, the last six
//! flags matching [`profile`]), so "seeds needed" is that seed + 1:
//!
//! | mutation                          | seeds needed | caught by    |
//! |-----------------------------------|-------------:|--------------|
//! | lying-fsync                       |            1 | durability   |
//! | no-checksums                      |            8 | durability   |
//! | reorder-links                     |            1 | durability   |
//! | ack-before-persist                |           20 | durability   |
//! | commit-without-quorum             |            4 | durability   |
//! | current-epoch-before-sync         |          308 | durability   |
//! | follower-keeps-ephemerals         |            1 | digest       |
//! | keep-uncommitted-across-election  |            2 | durability   |
//! | newleader-ack-before-sync         |          106 | durability   |
//! | trunc-skipped-on-disk             |            6 | agreement    |
//! | watch-after-reply                 |            1 | watch_order  |

use arbor_core::replica::Canary;
use arbor_sim::{run, BuggifyOptions, DepthFaults, Mutation, Options};

/// The canary profile (see the module docs).
fn profile() -> Options {
    Options {
        power_loss_prob: 0.2,
        recovery_crash_prob: 0.5,
        disk_delay_us_max: 20_000,
        // The table was measured before depth faults and fault points existed.
        depth: DepthFaults::none(),
        buggify: BuggifyOptions::none(),
        ..Options::default()
    }
}

/// (mutation, the first catching seed, checkers allowed to catch it).
fn table() -> Vec<(Mutation, u64, &'static [&'static str])> {
    use Canary as C;
    use Mutation as M;
    vec![
        (M::LyingFsync, 0, &["durability"]),
        (M::NoChecksums, 7, &["durability", "agreement"]),
        (M::ReorderLinks, 0, &["durability"]),
        (M::Core(C::AckBeforePersist), 19, &["durability"]),
        (M::Core(C::CommitWithoutQuorum), 3, &["durability"]),
        (M::Core(C::CurrentEpochBeforeSync), 307, &["durability"]),
        (M::Core(C::FollowerKeepsEphemerals), 0, &["digest"]),
        (
            M::Core(C::KeepUncommittedAcrossElection),
            1,
            &["durability"],
        ),
        (M::Core(C::NewLeaderAckBeforeSync), 105, &["durability"]),
        (M::Core(C::TruncSkippedOnDisk), 5, &["agreement"]),
        (M::Core(C::WatchAfterReply), 0, &["watch_order"]),
    ]
}

#[test]
fn the_table_covers_every_mutation() {
    let listed: Vec<Mutation> = table().into_iter().map(|(m, _, _)| m).collect();
    assert_eq!(listed, Mutation::all());
    assert!(
        Canary::ALL.len() >= 8,
        "the issue asks for at least 8 canaries"
    );
}

/// Runs `m` at its table seed under the canary profile: it must fail, with one of the
/// table's checkers; the correct core must pass the same seed.
fn caught_at_its_seed(m: Mutation) {
    let (_, seed, checkers) = table()
        .into_iter()
        .find(|(x, _, _)| *x == m)
        .expect("in the table");
    let mutated = Options {
        mutation: Some(m),
        ..profile()
    };
    let f = run(seed, &mutated).failure.unwrap_or_else(|| {
        panic!(
            "{} not caught at seed {seed}: replay with `{}`",
            m.name(),
            mutated.replay_command(seed)
        )
    });
    assert!(
        checkers.contains(&f.violation.checker),
        "{} at seed {seed} caught by `{}` (expected one of {checkers:?}): {}",
        m.name(),
        f.violation.checker,
        f.violation.detail
    );
    if let Some(f) = run(seed, &profile()).failure {
        panic!(
            "the correct core fails seed {seed} of the canary profile: `{}`: {}\nreplay: {}",
            f.violation.checker,
            f.violation.detail,
            profile().replay_command(seed)
        );
    }
}

macro_rules! canary_tests {
    ($($name:ident => $m:expr,)*) => {
        $(
            #[test]
            fn $name() {
                caught_at_its_seed($m);
            }
        )*
    };
}

canary_tests! {
    lying_fsync => Mutation::LyingFsync,
    no_checksums => Mutation::NoChecksums,
    reorder_links => Mutation::ReorderLinks,
    ack_before_persist => Mutation::Core(Canary::AckBeforePersist),
    commit_without_quorum => Mutation::Core(Canary::CommitWithoutQuorum),
    current_epoch_before_sync => Mutation::Core(Canary::CurrentEpochBeforeSync),
    follower_keeps_ephemerals => Mutation::Core(Canary::FollowerKeepsEphemerals),
    keep_uncommitted_across_election => Mutation::Core(Canary::KeepUncommittedAcrossElection),
    newleader_ack_before_sync => Mutation::Core(Canary::NewLeaderAckBeforeSync),
    trunc_skipped_on_disk => Mutation::Core(Canary::TruncSkippedOnDisk),
    watch_after_reply => Mutation::Core(Canary::WatchAfterReply),
}
