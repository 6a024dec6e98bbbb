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
//!
//! The property lives in `net/tests/support/storage_files.rs`, shared with
//! `net/tests/fuzz_regressions.rs`, which replays every input this target crashed on.
#![no_main]

#[path = "../common/scratch.rs"]
mod scratch;
#[path = "../../net/tests/support/storage_files.rs"]
mod storage_files;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    storage_files::snapshot_file(scratch::dir(), data);
});
