//! The write-ahead log's recovery path over arbitrary segment files: the input becomes one
//! or two `log.<zxid>` segment files in a scratch data dir, and the real
//! `FileStorage::open` recovers them (header checks, frame scan, torn-tail repair, zxid
//! contiguity). It must never panic or allocate beyond the input; damage must be a typed
//! `StorageError`; and when it succeeds:
//! - the recovered log is contiguous ([`zxid_follows`]);
//! - every segment left on disk is a prefix of what was written (a torn tail is cut, never
//!   rewritten), and decodes frame by frame to the end, each frame's bytes being exactly
//!   `encode_frame` of the txn it decodes to (byte-level round trip), those txns being the
//!   recovered log;
//! - a second recovery of the repaired dir finds nothing to repair and the same log.
//!
//! Input: byte 0 selects the layout (bit 0: two segments, split at the u16 LE in bytes 1-2;
//! bit 1: name the last segment one zxid off its header). A segment is named after the
//! zxid in its header (bytes 8..16) when it has one.
#![no_main]

#[path = "../common/scratch.rs"]
mod scratch;

use std::fs;
use std::path::PathBuf;

use arbor_core::txn::Txn;
use arbor_core::types::Zxid;
use arbor_net::storage::{
    decode_frame, encode_frame, zxid_follows, FileStorage, RecoveryReport, StorageOptions,
    SEGMENT_HEADER_LEN,
};
use libfuzzer_sys::fuzz_target;

fn name_zxid(segment: &[u8], fallback: i64) -> i64 {
    match segment.get(8..16) {
        Some(b) => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        None => fallback,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
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

    let dir = scratch::reset();
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
});
