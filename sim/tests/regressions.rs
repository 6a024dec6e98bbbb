//! Seeds that once failed, pinned by name (STYLE §8). A seed that exposes a core bug stays
//! `#[ignore]`d until the core fix lands; then the `#[ignore]` goes (427, 6400, 7653 are fixed).

use arbor_sim::{run, Options};

fn assert_passes(seed: u64, opts: &Options) {
    let r = run(seed, opts);
    if let Some(f) = r.failure {
        panic!(
            "seed {seed}: checker `{}`: {}\nreplay: {}\nrecent:\n  {}",
            f.violation.checker,
            f.violation.detail,
            f.replay,
            f.recent.join("\n  ")
        );
    }
}

/// Core bug (liveness): the leader of epoch 3 was partitioned alone while it still had
/// uncommitted proposals 0x30000007e..=0x30000008a. After the heal both followers re-sync
/// (DIFF, last logged 0x30000008a, NEWLEADER acked) and serve, yet the leader's commit point
/// stays at 0x30000007d for the whole heal window and client writes behind those proposals
/// never complete: all five clients sit on the leader with full pipelines (3 writes each), so
/// no new PROPOSAL is ever issued whose ACK would move the commit point. Cause (core/src/zab/leader/mod.rs `on_ack`): when the leader is already
/// established, the `AwaitingNewLeaderAck` branch records `x.acked = zxid` and sends
/// UPTODATE but never calls `maybe_commit()`, so proposals acknowledged only through
/// NEWLEADER acks wait for some later PROPOSAL ack that does not come. Found by the 10k sweep:
/// `arbor sim --seed 427 --duration 10000 --heal 10000`.
#[test]
fn seed_427_leader_never_commits_proposals_resent_in_diff() {
    let opts = Options {
        duration_ms: 10_000,
        heal_ms: 10_000,
        ..Options::default()
    };
    assert_passes(427, &opts);
}

fn short() -> Options {
    Options {
        duration_ms: 10_000,
        heal_ms: 10_000,
        ..Options::default()
    }
}

/// Same core bug as seed 427 (found by the same 10k sweep).
#[test]
fn seed_6400_same_stuck_commit_point() {
    assert_passes(6400, &short());
}

/// Same core bug as seed 427 (found by the same 10k sweep).
#[test]
fn seed_7653_same_stuck_commit_point() {
    assert_passes(7653, &short());
}
