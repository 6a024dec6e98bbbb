//! Helpers shared by the storage tests: txns, a data dir, batches.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use arbor_core::replica::LogRecord;
use arbor_core::txn::{Txn, TxnBody, TxnHeader};
use arbor_core::types::{Epoch, PersistToken, SessionId, WallMillis, Zxid};
use arbor_net::storage::{commit_batch, FileStorage, Opened, StorageOp, StorageOptions};

pub fn z(epoch: u32, counter: u32) -> Zxid {
    Zxid::new(Epoch(epoch), counter)
}

pub fn txn(zxid: Zxid, tag: u32) -> Txn {
    Txn::new(
        TxnHeader {
            session: SessionId(0x10),
            cxid: tag as i32,
            zxid,
            time: WallMillis(1_000),
        },
        TxnBody::Check {
            path: format!("/node-{tag}"),
            version: tag as i32,
        },
    )
}

/// Txns `1..=n` of epoch 1.
pub fn txns(n: u32) -> Vec<Txn> {
    (1..=n).map(|c| txn(z(1, c), c)).collect()
}

pub fn opts(dir: &Path) -> StorageOptions {
    StorageOptions::new(dir)
}

pub fn open(dir: &Path) -> Opened {
    FileStorage::open(opts(dir)).expect("open")
}

/// Opens a fresh dir, writes acceptedEpoch 1 and `txns` one per batch (each synced).
pub fn fresh_with(dir: &Path, opts: StorageOptions, txns: &[Txn]) -> FileStorage {
    let mut s = FileStorage::open(opts).expect("open").storage;
    let mut token = 0;
    let mut next = || {
        token += 1;
        PersistToken(token)
    };
    let t = next();
    let got = commit_batch(
        &mut s,
        &[StorageOp::Persist {
            token: t,
            records: vec![LogRecord::AcceptedEpoch(Epoch(1))],
        }],
    )
    .unwrap();
    assert_eq!(got, Some(t));
    for x in txns {
        let t = next();
        let got = commit_batch(
            &mut s,
            &[StorageOp::Persist {
                token: t,
                records: vec![LogRecord::Txn(x.clone())],
            }],
        )
        .unwrap();
        assert_eq!(got, Some(t));
    }
    let _ = dir;
    s
}

/// Opens and drops the storage in `dir`, as a clean restart does: recovery cuts the
/// preallocated zeros after the last frame, so that the last segment's bytes are exactly its
/// header and frames (for tests that damage those bytes).
pub fn settle(dir: &Path) {
    let o = open(dir);
    assert_eq!(o.report, Default::default(), "settling repaired something");
}

/// The single segment file in `dir` (panics if there is not exactly one).
pub fn only_segment(dir: &Path) -> PathBuf {
    let segs = segment_files(dir);
    assert_eq!(segs.len(), 1, "{segs:?}");
    segs[0].clone()
}

pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("log.") && !n.ends_with(".tmp")
        })
        .collect();
    v.sort();
    v
}

/// Byte offsets of each frame in a segment file (walking the length fields).
pub fn frame_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut at = arbor_net::storage::SEGMENT_HEADER_LEN;
    let mut out = Vec::new();
    while at + 4 <= bytes.len() {
        out.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 8 + len;
    }
    out
}

/// Copies every file of `from` into a new temp dir.
pub fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.path().join(e.file_name())).unwrap();
    }
    to
}
