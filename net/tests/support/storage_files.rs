//! The storage fuzz properties, shared by the `wal_record` and `snapshot_file` fuzz targets
//! and `net/tests/fuzz_regressions.rs` (which replays every input they ever crashed on):
//! each function writes the input as files into `dir` (emptied first, then given an
//! `acceptedEpoch` file so that recovery does not refuse data for want of one), runs the
//! real `FileStorage::open` over it and checks what it returned.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbor_core::tree::{DataTree, TreeConfig};
use arbor_core::txn::Txn;
use arbor_core::types::Zxid;
use arbor_net::storage::{
    decode_frame, encode_frame, write_snapshot_file, zxid_follows, FileStorage, RecoveryReport,
    StorageError, StorageOptions, SEGMENT_HEADER_LEN, SNAPSHOT_HEADER_LEN,
};

/// Empties `dir` and writes its `acceptedEpoch` file.
fn reset(dir: &Path) {
    for entry in fs::read_dir(dir).expect("read the scratch dir") {
        let path = entry.expect("scratch dir entry").path();
        if path.is_dir() {
            fs::remove_dir_all(&path).expect("clean the scratch dir");
        } else {
            fs::remove_file(&path).expect("clean the scratch dir");
        }
    }
    fs::write(dir.join("acceptedEpoch"), b"7\n").expect("write acceptedEpoch");
}

/// Walks frames from every "ARBL" segment magic on, setting each frame's CRC field to the
/// CRC32C of the bytes its length field covers (a damaged length ends the walk).
fn fix_frame_crcs(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let mut start = 0;
    while let Some(m) = b[start..].windows(4).position(|w| w == b"ARBL") {
        let mut at = start + m + SEGMENT_HEADER_LEN;
        while let Some(len) = b.get(at..at + 4) {
            let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
            let Some(body) = b.get(at + 8..(at + 8).saturating_add(len)) else {
                break;
            };
            let crc = crc32c::crc32c(body);
            b[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
            at += 8 + len;
        }
        start += m + 4;
    }
    b
}

fn name_zxid(segment: &[u8], fallback: i64) -> i64 {
    match segment.get(8..16) {
        Some(b) => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        None => fallback,
    }
}

/// The write-ahead log's recovery path over arbitrary segment files: the input becomes one
/// or two `log.<zxid>` segment files in a scratch data dir, and the real
/// `FileStorage::open` recovers them (header checks, frame scan, torn-tail repair, zxid
/// contiguity). It must never panic or allocate beyond the input; damage must be a typed
/// `StorageError`; and when it succeeds:
/// - the recovered log is contiguous ([`zxid_follows`]);
/// - every segment left on disk is a prefix of what was written (a torn tail is cut, never
///   rewritten), and decodes frame by frame to the end, each frame's bytes being exactly
///   `encode_frame` of the txn it decodes to (byte-level round trip), those txns being the
///   recovered log;
/// - a second recovery of the repaired dir finds nothing to repair and the same log.
///
/// Input: byte 0 selects the layout (bit 0: two segments, split at the u16 LE in bytes 1-2;
/// bit 1: name the last segment one zxid off its header; bit 2: before writing, set each
/// frame's CRC to that of its bytes, so that mutations get past the checksum into the
/// payload decoder and the zxid checks). A segment is named after the zxid in its header
/// (bytes 8..16) when it has one.
pub fn wal_record(dir: &Path, data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let fixed;
    let rest = if sel & 4 == 4 {
        fixed = fix_frame_crcs(rest);
        &fixed[..]
    } else {
        rest
    };
    let mut segments: Vec<&[u8]> = Vec::new();
    if sel & 1 == 1 && rest.len() >= 2 {
        let split = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let body = &rest[2..];
        let split = split % (body.len() + 1);
        segments.push(&body[..split]);
        segments.push(&body[split..]);
    } else {
        segments.push(rest);
    }
    let mut names: Vec<i64> = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        let fallback = names.last().map_or(0x1_0000_0001, |z| z.wrapping_add(1));
        let mut z = name_zxid(s, fallback);
        if i + 1 == segments.len() && sel & 2 == 2 {
            z = z.wrapping_add(1);
        }
        if names.contains(&z) {
            return; // two files cannot have one name
        }
        names.push(z);
    }

    reset(dir);
    let mut written: Vec<(PathBuf, &[u8])> = Vec::new();
    for (s, z) in segments.iter().zip(&names) {
        let path = dir.join(format!("log.{:016x}", *z as u64));
        fs::write(&path, s).expect("write segment");
        written.push((path, s));
    }

    let opened = match FileStorage::open(StorageOptions::new(dir)) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let log = opened.recovered.log.clone();
    assert!(opened.recovered.snapshot.is_none());
    for w in log.windows(2) {
        assert!(
            zxid_follows(w[0].header.zxid, w[1].header.zxid),
            "recovered log is not contiguous: {} then {}",
            w[0].header.zxid,
            w[1].header.zxid
        );
    }

    // Every segment left is a prefix of what was written and decodes cleanly to the end,
    // byte for byte as its txns re-encode.
    let kept = opened.storage.segments();
    let mut decoded: Vec<Txn> = Vec::new();
    for (path, original) in &written {
        if !kept.contains(path) {
            assert!(
                !path.exists(),
                "{} dropped but still on disk",
                path.display()
            );
            continue;
        }
        let bytes = fs::read(path).expect("read kept segment");
        assert!(
            original.starts_with(&bytes),
            "recovery rewrote {} instead of cutting it",
            path.display()
        );
        assert!(
            bytes.len() >= SEGMENT_HEADER_LEN,
            "kept segment without a header"
        );
        let mut at = SEGMENT_HEADER_LEN;
        while at < bytes.len() {
            let (txn, n) = decode_frame(&bytes[at..]).unwrap_or_else(|e| {
                panic!(
                    "{} still damaged at {at} after recovery: {e}",
                    path.display()
                )
            });
            let mut again = Vec::new();
            encode_frame(&txn, &mut again).expect("a decoded txn re-encodes");
            assert_eq!(
                &again[..],
                &bytes[at..at + n],
                "frame at {at} does not round-trip"
            );
            decoded.push(txn);
            at += n;
        }
    }
    decoded.retain(|t| t.header.zxid > Zxid::ZERO);
    assert_eq!(decoded, log, "kept segments do not hold the recovered log");

    // Recovery is idempotent: nothing left to repair, the same log.
    drop(opened);
    let again = FileStorage::open(StorageOptions::new(dir)).expect("repaired dir reopens");
    assert_eq!(
        again.report,
        RecoveryReport::default(),
        "second recovery repaired again"
    );
    assert_eq!(again.recovered.log, log);
}

fn tree_config() -> TreeConfig {
    TreeConfig {
        extended_types_enabled: true,
        ..TreeConfig::default()
    }
}

fn empty_tree() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| DataTree::new(tree_config()).serialize())
}

/// The snapshot *file* reader over arbitrary bytes: the input becomes a `snapshot.<zxid>`
/// file in a scratch data dir (optionally next to an older valid snapshot) and the real
/// `FileStorage::open` recovers it (magic, version, length, CRC32C, zxid checks, fallback
/// to an older snapshot). It must never panic or allocate beyond the input; a foreign or
/// damaged file must be a typed `StorageError` or a recorded fallback; and when the file is
/// accepted:
/// - its data is the file minus the header, and `write_snapshot_file` of that data at that
///   zxid reproduces the file byte for byte (round trip);
/// - the tree bytes either fail `DataTree::deserialize` with a typed error, or load into a
///   tree that satisfies every invariant and survives its own serialize / deserialize.
///
/// Input: byte 0 selects (bit 0: name the file one zxid off its header; bit 1: also write
/// a valid empty-tree snapshot at an older zxid to fall back to; bit 2: before writing, set
/// the length and CRC fields to those of the data, so that mutations get past the checksum
/// into the tree decoder). The file is named after the zxid in its header (bytes 8..16)
/// when it has one.
pub fn snapshot_file(dir: &Path, data: &[u8]) {
    let Some((&sel, file)) = data.split_first() else {
        return;
    };
    let mut fixed = file.to_vec();
    if sel & 4 == 4 && fixed.len() >= SNAPSHOT_HEADER_LEN {
        let len = (fixed.len() - SNAPSHOT_HEADER_LEN) as u64;
        fixed[16..24].copy_from_slice(&len.to_le_bytes());
        let crc =
            crc32c::crc32c_append(crc32c::crc32c(&fixed[8..24]), &fixed[SNAPSHOT_HEADER_LEN..]);
        fixed[24..28].copy_from_slice(&crc.to_le_bytes());
    }
    let file = &fixed[..];
    let mut zxid = match file.get(8..16) {
        Some(b) => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        None => 0x1_0000_0001,
    };
    if sel & 1 == 1 {
        zxid = zxid.wrapping_add(1);
    }
    let zxid = Zxid(zxid);
    reset(dir);
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
    if let Ok(tree) = DataTree::deserialize(&got, tree_config()) {
        tree.check_invariants_full();
        assert_eq!(tree.digest(), tree.recompute_digest());
        let reloaded =
            DataTree::deserialize(&tree.serialize(), tree_config()).expect("own snapshot loads");
        assert_eq!(reloaded.digest(), tree.digest());
        assert_eq!(reloaded.node_count(), tree.node_count());
    }
}
