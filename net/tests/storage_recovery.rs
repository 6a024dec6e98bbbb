//! FileStorage on real files: round trips, crashes (torn tails), damage, snapshots,
//! retention, truncation, and data dirs that must be refused.

mod common;

use std::fs::{self, OpenOptions};

use arbor_core::replica::LogRecord;
use arbor_core::types::{Epoch, PersistToken, Zxid};
use arbor_net::storage::{
    commit_batch, encode_frame, FileStorage, Storage, StorageError, StorageOp, StorageOptions,
    SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SEGMENT_VERSION,
};
use common::*;

#[test]
fn append_sync_recover_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path()).storage;
    let all = txns(20);
    let mut ops = vec![StorageOp::Persist {
        token: PersistToken(1),
        records: vec![LogRecord::AcceptedEpoch(Epoch(1))],
    }];
    ops.push(StorageOp::Persist {
        token: PersistToken(2),
        records: all[..10].iter().cloned().map(LogRecord::Txn).collect(),
    });
    ops.push(StorageOp::Persist {
        token: PersistToken(3),
        records: vec![LogRecord::CurrentEpoch(Epoch(1))],
    });
    ops.push(StorageOp::Persist {
        token: PersistToken(4),
        records: all[10..].iter().cloned().map(LogRecord::Txn).collect(),
    });
    assert_eq!(commit_batch(&mut s, &ops).unwrap(), Some(PersistToken(4)));
    // Nothing new: nothing to report.
    assert_eq!(s.sync().unwrap(), None);
    drop(s);
    let o = open(dir.path());
    assert_eq!(o.recovered.accepted_epoch, Epoch(1));
    assert_eq!(o.recovered.current_epoch, Epoch(1));
    assert_eq!(o.recovered.snapshot, None);
    assert_eq!(o.recovered.log, all);
    assert_eq!(o.report, Default::default());
    // Appends continue after a restart (in a new segment).
    let mut s = o.storage;
    s.append(PersistToken(5), &[LogRecord::Txn(txn(z(2, 1), 99))])
        .unwrap();
    assert_eq!(s.sync().unwrap(), Some(PersistToken(5)));
    drop(s);
    let o = open(dir.path());
    assert_eq!(o.recovered.log.len(), 21);
    assert_eq!(segment_files(dir.path()).len(), 2);
}

#[test]
fn group_commit_reports_the_highest_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fresh_with(dir.path(), opts(dir.path()), &[]);
    s.append(PersistToken(10), &[LogRecord::Txn(txn(z(1, 1), 1))])
        .unwrap();
    s.append(PersistToken(11), &[LogRecord::Txn(txn(z(1, 2), 2))])
        .unwrap();
    s.append(PersistToken(12), &[]).unwrap();
    assert_eq!(s.sync().unwrap(), Some(PersistToken(12)));
    assert_eq!(s.sync().unwrap(), None);
}

#[test]
fn unsynced_appends_are_not_recovered_as_durable_but_never_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fresh_with(dir.path(), opts(dir.path()), &txns(3));
    s.append(PersistToken(50), &[LogRecord::Txn(txn(z(1, 4), 4))])
        .unwrap();
    drop(s); // crash before sync
    let o = open(dir.path());
    assert_eq!(o.recovered.log, txns(3));
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record_recovers_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    drop(fresh_with(dir.path(), opts(dir.path()), &txns(5)));
    settle(dir.path());
    let seg = only_segment(dir.path());
    let bytes = fs::read(&seg).unwrap();
    let last = *frame_offsets(&bytes).last().unwrap();
    for cut in last..bytes.len() {
        let copy = copy_dir(dir.path());
        let seg_copy = copy.path().join(seg.file_name().unwrap());
        let f = OpenOptions::new().write(true).open(&seg_copy).unwrap();
        f.set_len(cut as u64).unwrap();
        drop(f);
        let o =
            FileStorage::open(opts(copy.path())).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(o.recovered.log, txns(4), "cut at {cut}");
        if cut > last {
            let (p, at, dropped) = o.report.torn_tail.clone().expect("torn tail reported");
            assert_eq!(p, seg_copy);
            assert_eq!(at, last as u64);
            assert_eq!(dropped, (cut - last) as u64);
        }
        // The repaired log is clean: a second open changes nothing, and appends resume.
        drop(o);
        let mut o = FileStorage::open(opts(copy.path())).unwrap();
        assert_eq!(o.report.torn_tail, None);
        o.storage
            .append(PersistToken(9), &[LogRecord::Txn(txn(z(1, 5), 55))])
            .unwrap();
        o.storage.sync().unwrap();
        drop(o);
        let o = FileStorage::open(opts(copy.path())).unwrap();
        assert_eq!(o.recovered.log.last().unwrap().header.cxid, 55);
    }
}

#[test]
fn garbage_tail_is_torn_and_a_zero_tail_is_the_clean_end() {
    for tail in [
        vec![0u8; 100],
        vec![0xff; 3],
        b"garbage!garbage!".to_vec(),
        [&[7u8][..], &[0; 100]].concat(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        drop(fresh_with(dir.path(), opts(dir.path()), &txns(3)));
        settle(dir.path());
        let seg = only_segment(dir.path());
        let mut bytes = fs::read(&seg).unwrap();
        let end = bytes.len() as u64;
        bytes.extend_from_slice(&tail);
        fs::write(&seg, &bytes).unwrap();
        let o = open(dir.path());
        assert_eq!(o.recovered.log, txns(3));
        assert_eq!(o.recovered.damaged, None);
        // Zeros are what preallocation leaves after the last frame: cut, not reported.
        let zeros = tail.iter().all(|b| *b == 0);
        assert_eq!(o.report.torn_tail.is_some(), !zeros, "tail {tail:?}");
        assert_eq!(o.report.mid_log_damage, None);
        assert_eq!(fs::metadata(&seg).unwrap().len(), end);
    }
}

/// Mid-log damage (a record that fails its CRC with valid records after it) no longer
/// stops the server: the log is cut at the damaged record, the damage marker is written
/// first, and the replica starts flagged damaged (`Recovered::damaged`), so it resyncs from
/// the leader before it votes again.
#[test]
fn bit_flip_in_a_middle_record_cuts_the_log_and_flags_damage() {
    let good_dir = tempfile::tempdir().unwrap();
    drop(fresh_with(good_dir.path(), opts(good_dir.path()), &txns(5)));
    // Not settled: `good` ends in the preallocated zeros a killed process leaves behind, and
    // damage before them must still read as mid-log damage.
    let good = fs::read(only_segment(good_dir.path())).unwrap();
    let offsets = frame_offsets(&good);
    let mid = offsets[2];
    // A flip in the length, the CRC, the zxid, the kind or the payload of record 3.
    for at in [mid, mid + 5, mid + 9, mid + 16, mid + 20] {
        let dir = tempfile::tempdir().unwrap();
        drop(fresh_with(dir.path(), opts(dir.path()), &txns(5)));
        let seg = only_segment(dir.path());
        let mut b = good.clone();
        b[at] ^= 0x10;
        fs::write(&seg, &b).unwrap();
        let o = open(dir.path());
        assert_eq!(o.recovered.log, txns(2), "flip at {at}");
        let bound = o.recovered.damaged.expect("damage flagged");
        assert_eq!(
            bound.counter(),
            u32::MAX,
            "widest bound in the accepted epoch"
        );
        assert_eq!(
            o.report.mid_log_damage,
            Some((seg.clone(), mid as u64)),
            "flip at {at}"
        );
        assert_eq!(
            fs::read(&seg).unwrap(),
            good[..mid].to_vec(),
            "cut at the damage"
        );
        drop(o);
        // The marker survives a restart although the log now looks intact.
        let again = open(dir.path());
        assert_eq!(again.recovered.damaged, Some(bound));
        assert_eq!(again.recovered.log, txns(2));
    }
}

#[test]
fn damage_in_an_older_segment_cuts_there_and_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.segment_bytes_max = 200;
    drop(fresh_with(dir.path(), o.clone(), &txns(12)));
    let segs = segment_files(dir.path());
    assert!(segs.len() >= 3, "{segs:?}");
    let first = &segs[0];
    let b = fs::read(first).unwrap();
    let in_first = frame_offsets(&b).len();
    fs::write(first, &b[..b.len() - 1]).unwrap();
    let opened = FileStorage::open(o).expect("opens flagged damaged");
    assert!(opened.recovered.damaged.is_some());
    assert_eq!(opened.recovered.log, txns(in_first as u32 - 1));
    assert_eq!(segment_files(dir.path()), vec![first.clone()]);
}

#[test]
fn rollover_spreads_the_log_over_segments_and_recovers_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.segment_bytes_max = 300;
    let s = fresh_with(dir.path(), o.clone(), &txns(40));
    let n = s.segments().len();
    assert!(n >= 5, "{n} segments");
    drop(s);
    let r = FileStorage::open(o).unwrap();
    assert_eq!(r.recovered.log, txns(40));
    assert_eq!(segment_files(dir.path()).len(), n);
}

#[test]
fn zxid_gap_is_detected_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    drop(fresh_with(dir.path(), opts(dir.path()), &[]));
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&SEGMENT_MAGIC);
    bytes.extend_from_slice(&SEGMENT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&z(1, 1).0.to_le_bytes());
    let mut offsets = Vec::new();
    for c in [1, 2, 4] {
        offsets.push(bytes.len());
        encode_frame(&txn(z(1, c), c), &mut bytes).unwrap();
    }
    let seg = dir.path().join("log.0000000100000001");
    fs::write(&seg, &bytes).unwrap();
    match FileStorage::open(opts(dir.path())) {
        Err(StorageError::ZxidGap {
            path,
            offset,
            prev,
            zxid,
        }) => {
            assert_eq!(path, seg);
            assert_eq!(offset, offsets[2] as u64);
            assert_eq!((prev, zxid), (z(1, 2), z(1, 4)));
        }
        other => panic!("expected a gap, got {other:?}"),
    }
}

#[test]
fn log_that_does_not_continue_the_snapshot_is_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fresh_with(dir.path(), opts(dir.path()), &txns(4));
    s.save_snapshot(z(1, 2), b"tree@2").unwrap();
    drop(s);
    // Lose the segment: the snapshot at 2 is all there is; fine.
    for p in segment_files(dir.path()) {
        fs::remove_file(p).unwrap();
    }
    let o = open(dir.path());
    assert_eq!(o.recovered.snapshot, Some((z(1, 2), b"tree@2".to_vec())));
    assert!(o.recovered.log.is_empty());
    drop(o);
    // A segment that starts after a hole is refused.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&SEGMENT_MAGIC);
    bytes.extend_from_slice(&SEGMENT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&z(1, 5).0.to_le_bytes());
    encode_frame(&txn(z(1, 5), 5), &mut bytes).unwrap();
    fs::write(dir.path().join("log.0000000100000005"), &bytes).unwrap();
    assert!(matches!(
        FileStorage::open(opts(dir.path())),
        Err(StorageError::ZxidGap { prev, zxid, .. }) if prev == z(1, 2) && zxid == z(1, 5)
    ));
}

#[test]
fn damaged_newest_snapshot_falls_back_to_an_older_one_and_a_longer_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fresh_with(dir.path(), opts(dir.path()), &txns(10));
    s.save_snapshot(z(1, 5), b"tree@5").unwrap();
    s.save_snapshot(z(1, 8), b"tree@8").unwrap();
    drop(s);
    let o = open(dir.path());
    assert_eq!(o.recovered.snapshot, Some((z(1, 8), b"tree@8".to_vec())));
    assert_eq!(o.recovered.log, txns(10)[8..].to_vec());
    drop(o);
    let newest = dir.path().join("snapshot.0000000100000008");
    let mut b = fs::read(&newest).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    fs::write(&newest, &b).unwrap();
    let o = open(dir.path());
    assert_eq!(o.recovered.snapshot, Some((z(1, 5), b"tree@5".to_vec())));
    assert_eq!(o.recovered.log, txns(10)[5..].to_vec());
    assert_eq!(o.report.damaged_snapshots.len(), 1);
    assert_eq!(o.report.damaged_snapshots[0].0, newest);
    // The damaged one does not count towards retention; a truncation below it removes it.
    assert_eq!(o.storage.snapshots().len(), 1);
    let mut s = o.storage;
    s.truncate_log(PersistToken(90), z(1, 7)).unwrap();
    assert!(!newest.exists());
    drop(s);
    let o = open(dir.path());
    assert!(o.report.damaged_snapshots.is_empty());
    assert_eq!(o.recovered.log, txns(7)[5..].to_vec());
}

#[test]
fn all_snapshots_damaged_refuses_to_start_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fresh_with(dir.path(), opts(dir.path()), &txns(3));
    s.save_snapshot(z(1, 3), b"tree@3").unwrap();
    s.purge(3).unwrap();
    drop(s);
    let p = dir.path().join("snapshot.0000000100000003");
    let b = fs::read(&p).unwrap();
    fs::write(&p, &b[..b.len() - 2]).unwrap();
    let e = FileStorage::open(opts(dir.path())).unwrap_err();
    assert!(matches!(
        e,
        StorageError::AllSnapshotsDamaged { count: 1, .. }
    ));
    assert!(e.to_string().contains("refusing to start empty"), "{e}");
}

#[test]
fn epoch_files_survive_a_leftover_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fresh_with(dir.path(), opts(dir.path()), &txns(2));
    commit_batch(
        &mut s,
        &[StorageOp::Persist {
            token: PersistToken(100),
            records: vec![
                LogRecord::AcceptedEpoch(Epoch(4)),
                LogRecord::CurrentEpoch(Epoch(3)),
            ],
        }],
    )
    .unwrap();
    drop(s);
    assert_eq!(
        fs::read_to_string(dir.path().join("acceptedEpoch")).unwrap(),
        "4\n"
    );
    // A crash in the middle of the next atomic write leaves a temp file behind.
    fs::write(dir.path().join("acceptedEpoch.tmp"), b"5").unwrap();
    fs::write(dir.path().join("currentEpoch.tmp"), b"").unwrap();
    let o = open(dir.path());
    assert_eq!(o.recovered.accepted_epoch, Epoch(4));
    assert_eq!(o.recovered.current_epoch, Epoch(3));
    assert_eq!(o.report.temp_files_removed.len(), 2);
    assert!(!dir.path().join("acceptedEpoch.tmp").exists());
}

#[test]
fn retention_keeps_exactly_the_snapshots_and_segments_needed() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.segment_bytes_max = 200;
    let mut s = fresh_with(dir.path(), o.clone(), &txns(30));
    for c in [5, 10, 15, 20, 25] {
        s.save_snapshot(z(1, c), format!("tree@{c}").as_bytes())
            .unwrap();
    }
    let before = s.segments();
    let report = s.purge(3).unwrap();
    let kept_snaps: Vec<Zxid> = s.snapshots().into_iter().map(|(z, _)| z).collect();
    assert_eq!(kept_snaps, vec![z(1, 15), z(1, 20), z(1, 25)]);
    assert_eq!(report.snapshots_removed.len(), 2);
    let after = s.segments();
    assert_eq!(after.len() + report.segments_removed.len(), before.len());
    // The first kept segment starts at or before the oldest kept snapshot's successor and
    // every removed one ends before it (its successor starts at or before 15).
    let first_of = |p: &std::path::PathBuf| {
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        Zxid(u64::from_str_radix(&n["log.".len()..], 16).unwrap() as i64)
    };
    assert!(first_of(&after[0]) <= z(1, 15));
    assert!(after.len() == 1 || first_of(&after[1]) > z(1, 15));
    assert!(!report.segments_removed.is_empty());
    // Purging again removes nothing.
    assert_eq!(s.purge(3).unwrap(), Default::default());
    drop(s);
    // What is left suffices even if both newer snapshots are damaged.
    for c in [20, 25] {
        let p = dir.path().join(format!("snapshot.00000001{c:08x}"));
        let mut b = fs::read(&p).unwrap();
        let l = b.len() - 1;
        b[l] ^= 4;
        fs::write(&p, &b).unwrap();
    }
    let r = FileStorage::open(o).unwrap();
    assert_eq!(r.recovered.snapshot, Some((z(1, 15), b"tree@15".to_vec())));
    assert_eq!(r.recovered.log, txns(30)[15..].to_vec());
}

#[test]
fn truncate_log_then_recover() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.segment_bytes_max = 250;
    let mut s = fresh_with(dir.path(), o.clone(), &txns(20));
    s.truncate_log(PersistToken(500), z(1, 7)).unwrap();
    assert_eq!(s.sync().unwrap(), Some(PersistToken(500)));
    assert_eq!(s.last_zxid(), z(1, 7));
    drop(s);
    let r = FileStorage::open(o.clone()).unwrap();
    assert_eq!(r.recovered.log, txns(7));
    // A diverging history continues from the cut.
    let mut s = r.storage;
    let next = txn(z(2, 1), 777);
    s.append(PersistToken(501), &[LogRecord::Txn(next.clone())])
        .unwrap();
    s.sync().unwrap();
    s.truncate_log(PersistToken(502), z(2, 5)).unwrap(); // above the end: no-op
    drop(s);
    let r = FileStorage::open(o).unwrap();
    let mut want = txns(7);
    want.push(next);
    assert_eq!(r.recovered.log, want);
}

#[test]
fn truncate_removes_snapshots_above_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fresh_with(dir.path(), opts(dir.path()), &txns(6));
    s.save_snapshot(z(1, 2), b"tree@2").unwrap();
    s.save_snapshot(z(1, 5), b"tree@5").unwrap();
    s.truncate_log(PersistToken(9), z(1, 3)).unwrap();
    drop(s);
    let r = open(dir.path());
    assert_eq!(r.recovered.snapshot, Some((z(1, 2), b"tree@2".to_vec())));
    assert_eq!(r.recovered.log, txns(3)[2..].to_vec());
}

#[test]
fn install_snapshot_replaces_the_log_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fresh_with(dir.path(), opts(dir.path()), &txns(6));
    s.save_snapshot(z(1, 3), b"tree@3").unwrap();
    s.install_snapshot(PersistToken(70), z(2, 4), b"leader@2.4")
        .unwrap();
    assert_eq!(s.sync().unwrap(), Some(PersistToken(70)));
    assert!(segment_files(dir.path()).is_empty());
    s.append(PersistToken(71), &[LogRecord::Txn(txn(z(2, 5), 5))])
        .unwrap();
    s.sync().unwrap();
    drop(s);
    let r = open(dir.path());
    assert_eq!(
        r.recovered.snapshot,
        Some((z(2, 4), b"leader@2.4".to_vec()))
    );
    assert_eq!(r.recovered.log, vec![txn(z(2, 5), 5)]);
    assert_eq!(r.storage.snapshots().len(), 1);
}

#[test]
fn refuses_unreadable_data_dirs_with_a_reason() {
    // Unknown file with our prefix.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("log.zz"), b"x").unwrap();
    let e = FileStorage::open(opts(dir.path())).unwrap_err();
    assert!(matches!(e, StorageError::UnknownFile { .. }), "{e}");
    assert!(e.to_string().contains("move it out"), "{e}");
    // Someone else's snapshot.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("acceptedEpoch"), b"1").unwrap();
    fs::write(dir.path().join("snapshot.1"), vec![7u8; 64]).unwrap();
    assert!(matches!(
        FileStorage::open(opts(dir.path())),
        Err(StorageError::BadMagic { .. })
    ));
    // A newer segment format.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("acceptedEpoch"), b"1").unwrap();
    let mut h = Vec::new();
    h.extend_from_slice(&SEGMENT_MAGIC);
    h.extend_from_slice(&2u32.to_le_bytes());
    h.extend_from_slice(&z(1, 1).0.to_le_bytes());
    assert_eq!(h.len(), SEGMENT_HEADER_LEN);
    fs::write(dir.path().join("log.0000000100000001"), &h).unwrap();
    assert!(matches!(
        FileStorage::open(opts(dir.path())),
        Err(StorageError::UnsupportedVersion { version: 2, .. })
    ));
    // A ZooKeeper data dir.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("version-2")).unwrap();
    assert!(matches!(
        FileStorage::open(opts(dir.path())),
        Err(StorageError::ForeignZooKeeperData { .. })
    ));
    // Txns without the acceptedEpoch written before them.
    let dir = tempfile::tempdir().unwrap();
    drop(fresh_with(dir.path(), opts(dir.path()), &txns(2)));
    fs::remove_file(dir.path().join("acceptedEpoch")).unwrap();
    assert!(matches!(
        FileStorage::open(opts(dir.path())),
        Err(StorageError::MissingAcceptedEpoch { .. })
    ));
    // A bad epoch file.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("currentEpoch"), b"abc").unwrap();
    assert!(matches!(
        FileStorage::open(opts(dir.path())),
        Err(StorageError::BadEpochFile { .. })
    ));
    // currentEpoch can never pass acceptedEpoch on disk.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("acceptedEpoch"), b"2").unwrap();
    fs::write(dir.path().join("currentEpoch"), b"3").unwrap();
    assert!(matches!(
        FileStorage::open(opts(dir.path())),
        Err(StorageError::BadEpochFile { .. })
    ));
    // Unrelated files are fine.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("myid"), b"1").unwrap();
    fs::write(dir.path().join("zoo.cfg"), b"").unwrap();
    assert!(FileStorage::open(opts(dir.path())).is_ok());
}

#[test]
fn separate_log_dir() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let o = StorageOptions {
        data_log_dir: logs.path().join("txlog"),
        ..StorageOptions::new(data.path())
    };
    let mut s = fresh_with(data.path(), o.clone(), &txns(3));
    s.save_snapshot(z(1, 2), b"t").unwrap();
    drop(s);
    assert_eq!(segment_files(&logs.path().join("txlog")).len(), 1);
    assert!(segment_files(data.path()).is_empty());
    let r = FileStorage::open(o).unwrap();
    assert_eq!(r.recovered.log, txns(3)[2..].to_vec());
}

#[test]
fn segment_torn_while_being_created_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    drop(fresh_with(dir.path(), opts(dir.path()), &txns(2)));
    // A segment is created only after the one before it was cut to its last frame (a roll,
    // or a restart's recovery).
    settle(dir.path());
    fs::write(dir.path().join("log.0000000100000003"), &SEGMENT_MAGIC[..3]).unwrap();
    let r = open(dir.path());
    assert_eq!(r.recovered.log, txns(2));
    assert_eq!(r.report.empty_segments_removed.len(), 1);
}

#[test]
fn an_epoch_file_is_written_only_after_earlier_txns_are_durable() {
    // ZOOKEEPER-4643: a crash right after currentEpoch is written must not leave a log
    // shorter than the one the epoch was written for.
    let dir = tempfile::tempdir().unwrap();
    let mut s = fresh_with(dir.path(), opts(dir.path()), &txns(2));
    let more: Vec<LogRecord> = txns(5)[2..].iter().cloned().map(LogRecord::Txn).collect();
    s.append(PersistToken(20), &more).unwrap();
    s.append(PersistToken(21), &[LogRecord::CurrentEpoch(Epoch(1))])
        .unwrap();
    drop(s); // crash before sync
    let r = open(dir.path());
    assert_eq!(r.recovered.current_epoch, Epoch(1));
    assert_eq!(r.recovered.log, txns(5));
}

#[test]
fn crash_inside_install_snapshot_recovers_a_consistent_state() {
    // The state between install steps 2 and 3: the new snapshot is durable, the old log
    // (already cut to the snapshot zxid) is still there.
    let dir = tempfile::tempdir().unwrap();
    drop(fresh_with(dir.path(), opts(dir.path()), &txns(6)));
    arbor_net::storage::write_snapshot_file(dir.path(), z(2, 4), b"leader@2.4").unwrap();
    let r = open(dir.path());
    assert_eq!(
        r.recovered.snapshot,
        Some((z(2, 4), b"leader@2.4".to_vec()))
    );
    assert!(r.recovered.log.is_empty());
    let mut s = r.storage;
    assert_eq!(s.last_zxid(), z(2, 4));
    s.append(PersistToken(1), &[LogRecord::Txn(txn(z(2, 5), 5))])
        .unwrap();
    s.sync().unwrap();
    drop(s);
    assert_eq!(open(dir.path()).recovered.log, vec![txn(z(2, 5), 5)]);
}

#[test]
fn an_io_failure_poisons_the_storage() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    let o = StorageOptions {
        data_log_dir: logs.clone(),
        ..StorageOptions::new(root.path().join("data"))
    };
    let mut s = fresh_with(root.path(), o, &txns(1));
    // The log directory disappears under us: the truncation cannot be made durable.
    fs::remove_dir_all(&logs).unwrap();
    let e = s.truncate_log(PersistToken(2), z(1, 0)).unwrap_err();
    assert!(matches!(e, StorageError::Io { .. }), "{e}");
    assert!(
        std::error::Error::source(&e).is_some(),
        "io::Error source kept"
    );
    assert!(matches!(
        s.append(PersistToken(3), &[LogRecord::Txn(txn(z(1, 1), 1))]),
        Err(StorageError::Poisoned)
    ));
    assert!(matches!(s.sync(), Err(StorageError::Poisoned)));
    assert!(matches!(
        s.save_snapshot(z(1, 1), b"x"),
        Err(StorageError::Poisoned)
    ));
}

#[test]
fn a_bad_crc_in_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    drop(fresh_with(dir.path(), opts(dir.path()), &txns(5)));
    settle(dir.path());
    let seg = only_segment(dir.path());
    let good = fs::read(&seg).unwrap();
    let last = *frame_offsets(&good).last().unwrap();
    for at in last..good.len() {
        let copy = copy_dir(dir.path());
        let seg_copy = copy.path().join(seg.file_name().unwrap());
        let mut b = good.clone();
        b[at] ^= 0x01;
        fs::write(&seg_copy, &b).unwrap();
        let o =
            FileStorage::open(opts(copy.path())).unwrap_or_else(|e| panic!("flip at {at}: {e}"));
        assert_eq!(o.recovered.log, txns(4), "flip at {at}");
        assert_eq!(
            o.report.torn_tail.as_ref().map(|t| t.1),
            Some(last as u64),
            "flip at {at}"
        );
    }
}
