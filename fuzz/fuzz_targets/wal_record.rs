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
    storage_files::wal_record(scratch::dir(), data);
});
