//! Durable storage for one replica: the write-ahead log, the epoch files and snapshots.
//!
//! Role: perform the core's token-bearing storage outputs (`Persist`, `TruncateLog`,
//! `InstallSnapshot`) on real files, in output order, and report durability only after the
//! `fdatasync` that covers them returned; write compaction snapshots off the commit path;
//! rebuild a [`Recovered`] at start-up.
//!
//! Inputs: [`StorageOp`]s (built from `Output`s), snapshot bytes, purge requests.
//! Outputs: the highest durable [`PersistToken`] after a sync (cumulative, as
//! `Input::Persisted` wants it), a [`Recovered`] at open, typed [`StorageError`]s.
//!
//! Invariants:
//! - a token is reported only after the sync that covers its records and every earlier
//!   token-bearing op returned (`Persisted` is cumulative);
//! - logged txn zxids are contiguous and strictly increasing (checked when written and when
//!   read back: [`zxid_follows`]);
//! - a currentEpoch / acceptedEpoch file is written only after every earlier log record is
//!   durable (ZOOKEEPER-4643);
//! - after a failed write or fsync the storage is poisoned: every later call fails and the
//!   runtime must restart and recover from disk (ZOOKEEPER-4882: memory must never run
//!   ahead of a log whose fsync failed).
//!
//! Interpretations of the core contract for a real disk:
//! - `SyncMode::Buffered` is treated as `Required`: the record is covered by the batch's
//!   one `fdatasync` (reporting a token without a sync would, `Persisted` being cumulative,
//!   also report earlier required tokens).
//! - `AcceptedEpoch` / `CurrentEpoch` records go to the epoch files (as ZooKeeper keeps
//!   them), not to the log: the log is purged with snapshots, the epochs never are. The log
//!   is fdatasync'd before the epoch file is replaced, so a crash never leaves a newer
//!   epoch with a shorter log than the one the core had when it wrote the epoch.
//! - `TruncateLog` also removes snapshots above `after_zxid` (a snapshot beyond the
//!   truncation point would resurrect the removed txns on restart).
//! - `InstallSnapshot` is made crash-safe in three durable steps: truncate the log to the
//!   snapshot zxid, write the snapshot, remove every log segment. A crash between steps
//!   recovers either the old state (minus records the SNAP replaces) or the new snapshot
//!   with log records it supersedes, which recovery skips.

mod epoch;
mod file;
mod fsutil;
mod snapshot;
mod wal;

use std::io;
use std::path::PathBuf;

use arbor_core::replica::{LogRecord, Output};
use arbor_core::types::{PersistToken, Zxid};

pub use file::{FileStorage, Opened, RecoveryReport, StorageOptions};
pub use snapshot::{
    write_snapshot_file, write_snapshot_file_parts, SNAPSHOT_HEADER_LEN, SNAPSHOT_MAGIC,
    SNAPSHOT_VERSION,
};
pub use wal::{
    decode_frame, encode_frame, FrameError, FRAME_HEADER_LEN, RECORD_LEN_MAX, SEGMENT_HEADER_LEN,
    SEGMENT_MAGIC, SEGMENT_VERSION,
};

/// The durable store a runtime drives. Implemented by [`FileStorage`]; madsim and tests
/// may substitute their own.
pub trait Storage {
    /// Buffers `records` under `token` (nothing is durable yet).
    fn append(&mut self, token: PersistToken, records: &[LogRecord]) -> Result<(), StorageError>;

    /// Makes everything appended so far durable with one `fdatasync` and returns the highest
    /// token that became durable since the last call (`None` if there was none).
    fn sync(&mut self) -> Result<Option<PersistToken>, StorageError>;

    /// Durably removes every logged txn with zxid > `after_zxid` (and snapshots above it).
    fn truncate_log(&mut self, token: PersistToken, after_zxid: Zxid) -> Result<(), StorageError>;

    /// Durably replaces the snapshot with `data` at `zxid` and discards the whole log.
    fn install_snapshot(
        &mut self,
        token: PersistToken,
        zxid: Zxid,
        data: &[u8],
    ) -> Result<(), StorageError>;

    /// Writes a compaction snapshot (not token-bearing; nothing waits on it).
    fn save_snapshot(&mut self, zxid: Zxid, data: &[u8]) -> Result<(), StorageError>;

    /// Keeps the newest `snap_retain_count` snapshots and the log segments needed to replay
    /// from the oldest of them; removes everything older.
    fn purge(&mut self, snap_retain_count: usize) -> Result<PurgeReport, StorageError>;
}

/// One token-bearing storage output of the core, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageOp {
    /// `Output::InstallSnapshot`.
    InstallSnapshot {
        /// Durability token.
        token: PersistToken,
        /// Last zxid in the snapshot.
        zxid: Zxid,
        /// `DataTree::serialize` bytes.
        data: Vec<u8>,
    },
    /// `Output::Persist`.
    Persist {
        /// Durability token.
        token: PersistToken,
        /// Records in order.
        records: Vec<LogRecord>,
    },
    /// `Output::TruncateLog`.
    TruncateLog {
        /// Durability token.
        token: PersistToken,
        /// Last zxid kept.
        after_zxid: Zxid,
    },
}

impl StorageOp {
    /// The storage op an output asks for, or the output back if it is not one.
    // The output is handed back unchanged (moved, not boxed: most outputs are not storage).
    #[allow(clippy::result_large_err)]
    pub fn from_output(out: Output) -> Result<StorageOp, Output> {
        match out {
            Output::InstallSnapshot { token, zxid, data } => {
                Ok(StorageOp::InstallSnapshot { token, zxid, data })
            }
            Output::Persist { token, records, .. } => Ok(StorageOp::Persist { token, records }),
            Output::TruncateLog { token, after_zxid } => {
                Ok(StorageOp::TruncateLog { token, after_zxid })
            }
            other => Err(other),
        }
    }
}

/// Group commit: performs one batch of ops in order with one `fdatasync` for all the
/// appends, and returns the token to report as `Input::Persisted` (only once this returned
/// `Ok`). The runtime's storage task calls it with everything queued since the last call.
pub fn commit_batch<S: Storage + ?Sized>(
    storage: &mut S,
    ops: &[StorageOp],
) -> Result<Option<PersistToken>, StorageError> {
    write_batch(storage, ops)?;
    storage.sync()
}

/// The first half of [`commit_batch`]: performs the ops in order without the final sync (the
/// appends stay buffered, nothing may be reported durable yet). The madsim storage task lets
/// simulated time pass between this and [`Storage::sync`], so a node killed in between loses
/// exactly the buffered appends.
pub fn write_batch<S: Storage + ?Sized>(
    storage: &mut S,
    ops: &[StorageOp],
) -> Result<(), StorageError> {
    for op in ops {
        match op {
            StorageOp::InstallSnapshot { token, zxid, data } => {
                storage.install_snapshot(*token, *zxid, data)?
            }
            StorageOp::Persist { token, records } => storage.append(*token, records)?,
            StorageOp::TruncateLog { token, after_zxid } => {
                storage.truncate_log(*token, *after_zxid)?
            }
        }
    }
    Ok(())
}

/// What a purge removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Snapshot files removed.
    pub snapshots_removed: Vec<PathBuf>,
    /// Log segment files removed.
    pub segments_removed: Vec<PathBuf>,
}

/// Whether `next` may directly follow `prev` in the log: the next counter in the same
/// epoch, or the first txn (counter 1) of a later epoch. A leader numbers its proposals
/// from counter 1 in each epoch, and every replica's log is a prefix-closed copy of a
/// leader's history, so anything else is a hole (ZOOKEEPER-5094).
pub fn zxid_follows(prev: Zxid, next: Zxid) -> bool {
    if next.epoch() == prev.epoch() {
        prev.counter().checked_add(1) == Some(next.counter())
    } else {
        next.epoch() > prev.epoch() && next.counter() == 1
    }
}

/// An environment failure or an unreadable data directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Every snapshot file is damaged: starting from an empty tree would silently lose
    /// data (ZOOKEEPER-2325).
    #[error(
        "all {count} snapshot files in {dir} are damaged (newest: {newest}); refusing to start \
         empty: restore the data dir from a backup, or remove it to resync from the ensemble"
    )]
    AllSnapshotsDamaged {
        /// Snapshot directory.
        dir: PathBuf,
        /// How many snapshot files were found.
        count: usize,
        /// Why the newest was rejected.
        newest: String,
    },
    /// An epoch file exists but does not hold an epoch.
    #[error(
        "epoch file {path} is invalid ({reason}); restore it or remove the data dir to resync"
    )]
    BadEpochFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// A file of ours starts with a magic number we did not write.
    #[error(
        "{path} does not start with Arbor's magic number; it is not an Arbor file: move it \
         out of the data dir"
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// A log segment's header is short or names another zxid than its file name.
    #[error("log segment {path} has a bad header ({reason}); restore the data dir or resync")]
    BadSegmentHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// The data dir holds ZooKeeper's own `version-2` directory.
    #[error(
        "{path} is a ZooKeeper data directory; Arbor cannot read ZooKeeper's txn log or \
         snapshot format: point dataDir at an empty directory and let the server resync"
    )]
    ForeignZooKeeperData {
        /// The `version-2` directory.
        path: PathBuf,
    },
    /// An operating-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A damaged record with valid records after it: not a torn tail.
    #[error(
        "log segment {path} is damaged at byte {offset} ({reason}) and valid records follow; \
         refusing to serve a shorter log: restore the data dir, or remove it to resync from \
         the ensemble"
    )]
    MidLogDamage {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the damaged frame.
        offset: u64,
        /// What the frame decoder said.
        reason: FrameError,
    },
    /// The acceptedEpoch file is missing although the data dir holds txns or snapshots.
    #[error(
        "{path} is missing but the data dir holds txns; it is written before any txn, so \
         the data dir is incomplete: restore it, or remove the data dir to resync"
    )]
    MissingAcceptedEpoch {
        /// The expected path.
        path: PathBuf,
    },
    /// A previous write or fsync failed; the in-memory view may be ahead of the disk.
    #[error("storage is poisoned by an earlier I/O failure; restart to recover from disk")]
    Poisoned,
    /// A record is larger than the frame format allows.
    #[error("log record of {len} bytes exceeds the limit of {max}")]
    RecordTooLarge {
        /// Encoded size.
        len: usize,
        /// [`RECORD_LEN_MAX`].
        max: usize,
    },
    /// A file of ours has a format version this build does not read.
    #[error("{path} has format version {version}, this build reads {supported}: upgrade Arbor")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version found.
        version: u32,
        /// Version supported.
        supported: u32,
    },
    /// A file with one of our prefixes whose name we cannot parse.
    #[error(
        "unexpected file {path} in the data dir (named like an Arbor file but not parseable); \
         move it out of the data dir"
    )]
    UnknownFile {
        /// The file.
        path: PathBuf,
    },
    /// Logged zxids are out of order or have a hole.
    #[error(
        "log segment {path} at byte {offset}: zxid {zxid} cannot follow {prev} (gap or \
         reorder); restore the data dir, or remove it to resync from the ensemble"
    )]
    ZxidGap {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// The previous zxid (or the snapshot's).
        prev: Zxid,
        /// The record's zxid.
        zxid: Zxid,
    },
}

impl StorageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use arbor_core::types::Epoch;

    use super::*;

    #[test]
    fn zxid_follows_rules() {
        let z = |e, c| Zxid::new(Epoch(e), c);
        assert!(zxid_follows(Zxid::ZERO, z(1, 1)));
        assert!(zxid_follows(z(1, 4), z(1, 5)));
        assert!(zxid_follows(z(1, 4), z(3, 1)));
        assert!(zxid_follows(z(2, 0), z(2, 1)));
        assert!(!zxid_follows(z(1, 4), z(1, 6)));
        assert!(!zxid_follows(z(1, 4), z(1, 4)));
        assert!(!zxid_follows(z(1, 4), z(2, 2)));
        assert!(!zxid_follows(z(2, 4), z(1, 5)));
        assert!(!zxid_follows(z(1, u32::MAX), z(1, 0)));
    }
}
