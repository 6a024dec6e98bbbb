//! FileStorage's preallocated segments on real files: the written zeros ahead of the write
//! position, how rolls and truncations cut them, and how recovery reads them (the clean end
//! of the log, never damage), including crashes with records written into them.

mod common;

use std::fs;
use std::path::Path;

use arbor_core::replica::LogRecord;
use arbor_core::txn::Txn;
use arbor_core::types::PersistToken;
use arbor_net::storage::{
    decode_frame, encode_frame, FileStorage, Storage, StorageOptions, SEGMENT_HEADER_LEN,
};
use common::*;

fn frames(txns: &[Txn]) -> Vec<u8> {
    let mut b = Vec::new();
    for t in txns {
        encode_frame(t, &mut b).unwrap();
    }
    b
}

/// The txns of a segment's frames and the end of the last one.
fn decode_segment(bytes: &[u8]) -> (Vec<Txn>, usize) {
    let mut at = SEGMENT_HEADER_LEN;
    let mut out = Vec::new();
    while let Ok((t, n)) = decode_frame(&bytes[at..]) {
        out.push(t);
        at += n;
    }
    (out, at)
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).unwrap().len()
}

fn with_prealloc(dir: &Path, chunk: u64, segment_bytes_max: u64) -> StorageOptions {
    StorageOptions {
        preallocate_bytes: chunk,
        segment_bytes_max,
        ..StorageOptions::new(dir)
    }
}

#[test]
fn a_preallocated_segment_recovers_every_record_and_appends_follow_its_last_frame() {
    let dir = tempfile::tempdir().unwrap();
    let s = fresh_with(dir.path(), opts(dir.path()), &txns(5));
    let seg = only_segment(dir.path());
    let want = frames(&txns(5));
    let end = SEGMENT_HEADER_LEN + want.len();
    // One default chunk of written zeros, the frames at its start.
    assert_eq!(
        file_len(&seg),
        StorageOptions::PREALLOCATE_BYTES_DEFAULT,
        "preallocated"
    );
    let bytes = fs::read(&seg).unwrap();
    assert_eq!(&bytes[SEGMENT_HEADER_LEN..end], &want[..]);
    assert!(bytes[end..].iter().all(|b| *b == 0));
    drop(s); // killed: the zeros stay

    let o = open(dir.path());
    assert_eq!(o.recovered.log, txns(5));
    assert_eq!(o.recovered.damaged, None);
    assert_eq!(o.report, Default::default(), "zeros are no repair");
    assert_eq!(file_len(&seg), end as u64, "cut at the last frame");

    // Appends resume (in a new segment, as after every restart) and the old segment
    // continues straight into it.
    let mut s = o.storage;
    let six = txn(z(1, 6), 6);
    s.append(PersistToken(9), &[LogRecord::Txn(six.clone())])
        .unwrap();
    assert_eq!(s.sync().unwrap(), Some(PersistToken(9)));
    drop(s);
    let o = open(dir.path());
    assert_eq!(o.recovered.log, txns(6));
    assert_eq!(o.report, Default::default());
    let segs = segment_files(dir.path());
    assert_eq!(segs.len(), 2);
    assert_eq!(fs::read(&segs[0]).unwrap(), bytes[..end].to_vec());
    let second = fs::read(&segs[1]).unwrap();
    assert_eq!(&second[SEGMENT_HEADER_LEN..], &frames(&[six])[..]);
}

#[test]
fn appends_extend_the_zeros_chunk_by_chunk_and_rolls_cut_them() {
    let dir = tempfile::tempdir().unwrap();
    let (chunk, max) = (512, 2_000);
    let all = txns(150);
    let s = fresh_with(dir.path(), with_prealloc(dir.path(), chunk, max), &all);
    let segs = s.segments();
    assert!(segs.len() >= 3, "{segs:?}");
    let mut seen = Vec::new();
    for (i, p) in segs.iter().enumerate() {
        let bytes = fs::read(p).unwrap();
        let (got, end) = decode_segment(&bytes);
        seen.extend(got);
        if i + 1 < segs.len() {
            assert_eq!(
                end,
                bytes.len(),
                "closed segment {i} ends at its last frame"
            );
        } else {
            let len = bytes.len() as u64;
            assert!(len > end as u64, "zeros ahead of the write position");
            assert!(
                len / chunk * chunk == len || len == max,
                "extended by chunks: {len}"
            );
            assert!(bytes[end..].iter().all(|b| *b == 0));
        }
    }
    assert_eq!(
        seen, all,
        "every record, in order, right after the one before"
    );
    drop(s);
    let o = FileStorage::open(with_prealloc(dir.path(), chunk, max)).unwrap();
    assert_eq!(o.recovered.log, all);
    assert_eq!(o.report, Default::default());
}

#[test]
fn preallocation_off_writes_no_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let s = fresh_with(dir.path(), with_prealloc(dir.path(), 0, 1 << 20), &txns(4));
    let seg = only_segment(dir.path());
    assert_eq!(
        file_len(&seg),
        (SEGMENT_HEADER_LEN + frames(&txns(4)).len()) as u64
    );
    drop(s);
}

/// Records written into the zeros but never synced, cut at every byte: recovery keeps the
/// synced records and the complete frames that happened to reach the file, nothing else,
/// and reports a torn tail exactly when a frame was cut, never damage.
#[test]
fn a_crash_inside_the_preallocated_region_keeps_exactly_the_synced_records() {
    let all = txns(5);
    let unsynced = frames(&all[3..]);
    let first_len = frames(&all[3..4]).len();
    for k in 0..=unsynced.len() {
        let dir = tempfile::tempdir().unwrap();
        let o = with_prealloc(dir.path(), 64 * 1024, StorageOptions::SEGMENT_BYTES_DEFAULT);
        let mut s = fresh_with(dir.path(), o.clone(), &all[..3]);
        let more: Vec<LogRecord> = all[3..].iter().cloned().map(LogRecord::Txn).collect();
        s.append(PersistToken(50), &more).unwrap();
        s.simulate_crash(k);
        let seg = only_segment(dir.path());
        assert_eq!(file_len(&seg), 64 * 1024, "k {k}: written inside the zeros");

        let r = FileStorage::open(o).unwrap_or_else(|e| panic!("k {k}: {e}"));
        let complete = match k {
            k if k == unsynced.len() => 2,
            k if k >= first_len => 1,
            _ => 0,
        };
        assert_eq!(r.recovered.log, all[..3 + complete].to_vec(), "k {k}");
        let torn = k != 0 && k != first_len && k != unsynced.len();
        assert_eq!(r.report.torn_tail.is_some(), torn, "k {k}");
        assert_eq!(r.report.mid_log_damage, None, "k {k}");
        assert_eq!(r.recovered.damaged, None, "k {k}");
        let end = SEGMENT_HEADER_LEN + frames(&all[..3 + complete]).len();
        assert_eq!(file_len(&seg), end as u64, "k {k}: cut at the last frame");
    }
}

#[test]
fn damage_before_the_zeros_is_mid_log_damage_or_a_torn_tail_as_without_them() {
    let good_dir = tempfile::tempdir().unwrap();
    drop(fresh_with(good_dir.path(), opts(good_dir.path()), &txns(5)));
    let good = fs::read(only_segment(good_dir.path())).unwrap();
    let offsets = frame_offsets(&good[..SEGMENT_HEADER_LEN + frames(&txns(5)).len()]);
    assert_eq!(offsets.len(), 5);
    for (record, mid_log) in [(1, true), (4, false)] {
        let dir = tempfile::tempdir().unwrap();
        drop(fresh_with(dir.path(), opts(dir.path()), &txns(5)));
        let seg = only_segment(dir.path());
        let mut b = good.clone();
        b[offsets[record] + 20] ^= 0x10; // the payload
        fs::write(&seg, &b).unwrap();
        let o = open(dir.path());
        assert_eq!(o.recovered.log, txns(record as u32), "record {record}");
        let at = offsets[record] as u64;
        if mid_log {
            assert_eq!(o.report.mid_log_damage, Some((seg.clone(), at)));
            assert!(o.recovered.damaged.is_some());
            assert_eq!(o.report.torn_tail, None);
        } else {
            assert_eq!(o.report.mid_log_damage, None);
            assert_eq!(o.recovered.damaged, None);
            let (p, cut, dropped) = o.report.torn_tail.clone().expect("torn tail");
            assert_eq!((p, cut), (seg.clone(), at));
            assert_eq!(dropped, b.len() as u64 - at, "the frame and the zeros");
        }
        assert_eq!(file_len(&seg), at, "record {record}");
    }
}

/// Rolls and restarts cut the zeros, so an older segment never ends in them: zeros there
/// are read like any other bytes after its last frame (mid-log damage).
#[test]
fn zeros_after_the_last_frame_of_an_older_segment_are_mid_log_damage() {
    let dir = tempfile::tempdir().unwrap();
    let o = with_prealloc(dir.path(), 4096, 300);
    drop(fresh_with(dir.path(), o.clone(), &txns(12)));
    let segs = segment_files(dir.path());
    assert!(segs.len() >= 2, "{segs:?}");
    let mut b = fs::read(&segs[0]).unwrap();
    let end = b.len() as u64;
    assert_eq!(decode_segment(&b).1 as u64, end, "rolled segment was cut");
    b.extend_from_slice(&[0; 4096]);
    fs::write(&segs[0], &b).unwrap();
    let r = FileStorage::open(o).unwrap();
    assert_eq!(r.report.mid_log_damage, Some((segs[0].clone(), end)));
    assert!(r.recovered.damaged.is_some());
}

/// A truncation closes the active segment: its zeros go with it (whether or not records are
/// cut), so the segment the next append starts is the only one with zeros.
#[test]
fn truncation_cuts_the_zeros_of_the_active_segment() {
    for keep in [3, 5] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = fresh_with(dir.path(), opts(dir.path()), &txns(5));
        s.truncate_log(PersistToken(20), z(1, keep)).unwrap();
        let next = txn(z(1, keep + 1), 99);
        s.append(PersistToken(21), &[LogRecord::Txn(next.clone())])
            .unwrap();
        assert_eq!(s.sync().unwrap(), Some(PersistToken(21)));
        let segs = s.segments();
        assert_eq!(segs.len(), 2, "keep {keep}");
        let first = fs::read(&segs[0]).unwrap();
        assert_eq!(decode_segment(&first), (txns(keep), first.len()));
        drop(s);
        let o = open(dir.path());
        let mut want = txns(keep);
        want.push(next);
        assert_eq!(o.recovered.log, want, "keep {keep}");
        assert_eq!(o.report, Default::default(), "keep {keep}");
        assert_eq!(o.recovered.damaged, None);
    }
}
