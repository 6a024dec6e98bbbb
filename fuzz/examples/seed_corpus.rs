//! Writes the seed corpora of the `replica_inputs`, `wal_record` and `snapshot_file`
//! targets (fuzz/corpus/TARGET/) from real artefacts:
//! - `replica_inputs`: the scripted leader and follower scenarios of
//!   `core/tests/support/replica_world.rs` (election, discovery, sync, broadcast, client
//!   requests), and the three recovered start states with a few ticks;
//! - `wal_record`: the log segments the real `FileStorage` writes for the leader scenario's
//!   storage outputs (one segment, also with the target's CRC fix-up bit; two segments; a
//!   torn tail; a header alone);
//! - `snapshot_file`: `write_snapshot_file` of that scenario's compaction snapshot and of
//!   an empty tree (intact, with the CRC fix-up bit, with an older snapshot to fall back
//!   to, and damaged).
//!
//! Usage: cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus
//! (deterministic: rerunning it rewrites the same files).

#[path = "../../core/tests/support/replica_world.rs"]
mod replica_world;

use std::fs;
use std::path::{Path, PathBuf};

use arbor_core::replica::Output;
use arbor_core::tree::{DataTree, TreeConfig};
use arbor_core::types::Zxid;
use arbor_net::storage::{
    commit_batch, write_snapshot_file, FileStorage, StorageOp, StorageOptions,
};

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("corpus dir");
    dir
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("arbor-seed-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Performs the storage outputs with the real `FileStorage`; returns the segment files.
fn write_log(storage: &[Output], segment_bytes_max: u64) -> Vec<Vec<u8>> {
    let dir = scratch(&format!("wal-{segment_bytes_max}"));
    let mut opts = StorageOptions::new(&dir);
    opts.segment_bytes_max = segment_bytes_max;
    // Seeds are the segments' bytes read while the storage is open: without preallocated
    // zeros, which would only pad every seed with a MiB the fuzzer must mutate through.
    opts.preallocate_bytes = 0;
    let mut fs_storage = FileStorage::open(opts).expect("open").storage;
    for out in storage {
        if let Ok(op) = StorageOp::from_output(out.clone()) {
            commit_batch(&mut fs_storage, &[op]).expect("commit");
        }
    }
    let segments: Vec<Vec<u8>> = fs_storage
        .segments()
        .iter()
        .map(|p| fs::read(p).expect("read segment"))
        .collect();
    drop(fs_storage);
    fs::remove_dir_all(&dir).expect("remove scratch");
    segments
}

fn snapshot_file(zxid: Zxid, data: &[u8]) -> Vec<u8> {
    let dir = scratch("snap");
    let path = write_snapshot_file(&dir, zxid, data).expect("write snapshot");
    let bytes = fs::read(path).expect("read snapshot");
    fs::remove_dir_all(&dir).expect("remove scratch");
    bytes
}

fn put(target: &str, name: &str, bytes: &[u8]) {
    fs::write(corpus(target).join(name), bytes).expect("write seed");
    println!("{target}/{name}: {} bytes", bytes.len());
}

fn main() {
    let leader = replica_world::scenario_leader();
    let follower = replica_world::scenario_follower();
    put("replica_inputs", "scenario_leader", &leader.bytes);
    put("replica_inputs", "scenario_follower", &follower.bytes);
    let ticks = [replica_world::tag::TICK_TO_DEADLINE; 6];
    for start in 1..=2u8 {
        let mut b = vec![start];
        b.extend_from_slice(&replica_world::Script::peer_connected(
            arbor_core::types::ServerId(2),
        ));
        b.extend_from_slice(&ticks);
        put("replica_inputs", &format!("recovered_{start}"), &b);
    }

    let one = write_log(&leader.storage, StorageOptions::SEGMENT_BYTES_DEFAULT);
    assert_eq!(one.len(), 1, "one segment at the default size");
    let seg = &one[0];
    put("wal_record", "one_segment", &[&[0u8][..], seg].concat());
    // Selector bit 2: the target fixes every frame's CRC before writing.
    put(
        "wal_record",
        "one_segment_crc_fixup",
        &[&[4u8][..], seg].concat(),
    );
    put(
        "wal_record",
        "torn_tail",
        &[&[0u8][..], &seg[..seg.len() - 5]].concat(),
    );
    put(
        "wal_record",
        "header_only",
        &[&[0u8][..], &seg[..16]].concat(),
    );
    let many = write_log(&leader.storage, 120);
    assert!(many.len() >= 2, "small segments split the log");
    let (a, b) = (&many[many.len() - 2], &many[many.len() - 1]);
    let split = u16::try_from(a.len()).expect("small segment");
    put(
        "wal_record",
        "two_segments",
        &[&[1u8][..], &split.to_le_bytes(), a, b].concat(),
    );

    let (zxid, data) = leader
        .storage
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Snapshot { zxid, view } => Some((*zxid, view.serialize())),
            _ => None,
        })
        .expect("the leader scenario takes a compaction snapshot");
    let file = snapshot_file(zxid, &data);
    put("snapshot_file", "scenario", &[&[0u8][..], &file].concat());
    // Selector bit 2: the target fixes the length and CRC fields before writing.
    put(
        "snapshot_file",
        "scenario_crc_fixup",
        &[&[4u8][..], &file].concat(),
    );
    put(
        "snapshot_file",
        "scenario_fallback",
        &[&[2u8][..], &file].concat(),
    );
    let mut damaged = file.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x40;
    put(
        "snapshot_file",
        "damaged_fallback",
        &[&[2u8][..], &damaged].concat(),
    );
    let config = TreeConfig {
        extended_types_enabled: true,
        ..TreeConfig::default()
    };
    let empty = snapshot_file(Zxid(0x1_0000_0003), &DataTree::new(config).serialize());
    put("snapshot_file", "empty", &[&[0u8][..], &empty].concat());
}
