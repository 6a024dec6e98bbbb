//! Every input a fuzz target ever crashed on, replayed through the same checks as the
//! target, in the normal test suite. Inputs live in `tests/fuzz_regressions/TARGET/`; the
//! same files are also in `fuzz/corpus/TARGET/`, so every fuzz run starts from them.

#![allow(clippy::print_stdout)] // each replay reports what the input did

use std::fs;
use std::path::PathBuf;

use arbor_core::tree::{DataTree, TreeConfig};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).expect("read input"))
        })
        .collect()
}

/// The `snapshot` target's property: refuse with an error, or load a tree that satisfies
/// every invariant and survives its own serialize / deserialize.
#[test]
fn snapshot_crashes_stay_fixed() {
    for (name, bytes) in inputs("snapshot") {
        let config = TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        };
        match DataTree::deserialize(&bytes, config.clone()) {
            // Refused with a typed error: what the target asks (which error is not pinned).
            Err(_) => {}
            Ok(tree) => {
                tree.check_invariants_full();
                assert_eq!(tree.digest(), tree.recompute_digest(), "{name}");
                let again = DataTree::deserialize(&tree.serialize(), config).expect("reloads");
                assert_eq!(again.digest(), tree.digest(), "{name}");
            }
        }
    }
}

#[path = "support/replica_world.rs"]
mod replica_world;

/// The scripted scenarios the `replica_inputs` seeds come from still get where they were
/// written to get (so the seeds exercise election, sync, broadcast and the client path),
/// and replaying their bytes through `World::run` reaches the same point.
#[test]
fn replica_inputs_scenarios_reach_service() {
    let leader = replica_world::scenario_leader();
    let r = &leader.world.reached;
    println!("leader scenario: {} bytes, {r:?}", leader.bytes.len());
    assert!(r.led && r.served, "{r:?}");
    assert!(r.replies_ok >= 9, "client replies: {r:?}");
    assert!(r.notifications >= 1, "the data watch fired: {r:?}");
    assert!(r.snapshots >= 1, "a compaction snapshot was taken: {r:?}");
    let replay = replica_world::World::run(&leader.bytes);
    assert_eq!(replay.replies_ok, r.replies_ok);
    assert_eq!(replay.steps, r.steps);

    let follower = replica_world::scenario_follower();
    let r = &follower.world.reached;
    println!("follower scenario: {} bytes, {r:?}", follower.bytes.len());
    assert!(r.followed && r.served, "{r:?}");
    assert!(r.replies_ok >= 1, "the local read was answered: {r:?}");
    let replay = replica_world::World::run(&follower.bytes);
    assert_eq!(replay.replies_ok, r.replies_ok);
}

/// Every start state the `replica_inputs` world can pick (its first byte) is one storage
/// could return, so the replica recovers from it. The bytes after the kind are the input the
/// fuzzer found when recovery began to check that a snapshot's tree is at the snapshot's
/// zxid and start state 2 was not.
#[test]
fn replica_inputs_every_start_state_recovers() {
    for kind in 0u8..4 {
        let r = replica_world::World::run(&[kind, 5, 2, 15, 15, 15]);
        assert!(r.steps >= 1, "start state {kind}: {r:?}");
    }
}
