//! The snapshot *file* reader over arbitrary bytes: the input becomes a `snapshot.<zxid>`
//! file in a scratch data dir (optionally next to an older valid snapshot) and the real
//! `FileStorage::open` recovers it (magic, version, length, CRC32C, zxid checks, fallback
//! to an older snapshot). It must never panic or allocate beyond the input; a foreign or
//! damaged file must be a typed `StorageError` or a recorded fallback; and when the file is
//! accepted:
//! - its data is the file minus the header, and `write_snapshot_file` of that data at that
//!   zxid reproduces the file byte for byte (round trip);
//! - the tree bytes either fail `DataTree::deserialize` with a typed error, or load into a
//!   tree that satisfies every invariant and survives its own serialize / deserialize.
//!
//! Input: byte 0 selects (bit 0: name the file one zxid off its header; bit 1: also write
//! a valid empty-tree snapshot at an older zxid to fall back to). The file is named after
//! the zxid in its header (bytes 8..16) when it has one.
#![no_main]

#[path = "../common/scratch.rs"]
mod scratch;

use std::fs;
use std::sync::OnceLock;

use arbor_core::tree::{DataTree, TreeConfig};
use arbor_core::types::Zxid;
use arbor_net::storage::{
    write_snapshot_file, FileStorage, StorageError, StorageOptions, SNAPSHOT_HEADER_LEN,
};
use libfuzzer_sys::fuzz_target;

fn config() -> TreeConfig {
    TreeConfig {
        extended_types_enabled: true,
        ..TreeConfig::default()
    }
}

fn empty_tree() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| DataTree::new(config()).serialize())
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, file)) = data.split_first() else {
        return;
    };
    let mut zxid = match file.get(8..16) {
        Some(b) => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        None => 0x1_0000_0001,
    };
    if sel & 1 == 1 {
        zxid = zxid.wrapping_add(1);
    }
    let zxid = Zxid(zxid);
    let dir = scratch::reset();
    let path = dir.join(format!("snapshot.{:016x}", zxid.0 as u64));
    fs::write(&path, file).expect("write snapshot");
    let older = Zxid(zxid.0.wrapping_sub(1));
    let fallback = sel & 2 == 2 && older < zxid;
    if fallback {
        write_snapshot_file(dir, older, empty_tree()).expect("write the older snapshot");
    }

    let opened = match FileStorage::open(StorageOptions::new(dir)) {
        Ok(o) => o,
        Err(e) => {
            assert!(
                !fallback || !matches!(e, StorageError::AllSnapshotsDamaged { .. }),
                "a valid older snapshot was not used"
            );
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(
        fs::read(&path).expect("snapshot kept"),
        file,
        "recovery changed the file"
    );
    let (got_zxid, got) = opened
        .recovered
        .snapshot
        .expect("a snapshot file was recovered");
    if got_zxid != zxid {
        // Fell back: only allowed to the older valid one, with the damage recorded.
        assert!(
            fallback && got_zxid == older,
            "recovered an unexpected snapshot {got_zxid}"
        );
        assert_eq!(got, empty_tree());
        assert_eq!(opened.report.damaged_snapshots.len(), 1);
        assert_eq!(opened.report.damaged_snapshots[0].0, path);
        return;
    }
    assert!(opened.report.damaged_snapshots.is_empty());
    assert_eq!(
        &got[..],
        &file[SNAPSHOT_HEADER_LEN..],
        "data is not the file's body"
    );
    let rt = dir.join("rt");
    fs::create_dir(&rt).expect("round-trip dir");
    let again = write_snapshot_file(&rt, zxid, &got).expect("rewrite the snapshot");
    assert_eq!(
        fs::read(again).expect("read rewritten"),
        file,
        "snapshot file does not round-trip"
    );

    // The tree bytes (what `Replica::recover` loads next).
    if let Ok(tree) = DataTree::deserialize(&got, config()) {
        tree.check_invariants_full();
        assert_eq!(tree.digest(), tree.recompute_digest());
        let reloaded =
            DataTree::deserialize(&tree.serialize(), config()).expect("own snapshot loads");
        assert_eq!(reloaded.digest(), tree.digest());
        assert_eq!(reloaded.node_count(), tree.node_count());
    }
});
