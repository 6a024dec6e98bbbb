//! An in-memory durable store for the madsim cluster test (madsim does not simulate files).
//!
//! Role: stand in for `FileStorage` behind the `Storage` / `RuntimeStorage` traits, with the
//! durability a crash test needs. A node's [`Disk`] is shared by every incarnation of the node
//! (it is the disk); a [`MemStorage`] is one incarnation's open store and lives on that
//! incarnation's storage task.
//!
//! Model:
//! - `append` only buffers records in the [`MemStorage`] (the page cache); `sync` (the
//!   `fdatasync`) moves them to the [`Disk`]. A killed node drops its `MemStorage` with the
//!   storage task, so exactly the unsynced records are lost, as in a crash.
//! - `truncate_log` and `install_snapshot` are durable when they return (as `FileStorage`
//!   makes them), after the records appended before them.
//! - `save_snapshot` is durable when it returns; `purge` keeps the newest snapshots and drops
//!   the log up to the oldest one kept.
//! - A restart reads back ([`MemStorage::open`]) the epochs, the damage marker, the newest
//!   snapshot and the logged txns after it.
//!
//! Invariants (asserted, as `FileStorage` checks them when writing and reading back): logged
//! txn zxids are contiguous (`zxid_follows`) from the snapshot or the previous txn; the log
//! read back continues the newest snapshot without a hole.

use std::sync::{Arc, Mutex, MutexGuard};

use arbor_core::replica::{LogRecord, Recovered};
use arbor_core::txn::Txn;
use arbor_core::types::{Epoch, PersistToken, Zxid};
use arbor_net::server::RuntimeStorage;
use arbor_net::storage::{zxid_follows, PurgeReport, Storage, StorageError};

/// What one node's disk durably holds.
#[derive(Debug, Default)]
pub struct Disk {
    accepted: Epoch,
    current: Epoch,
    damaged: Option<Zxid>,
    /// Snapshots, oldest first (zxids strictly increasing).
    snapshots: Vec<(Zxid, Vec<u8>)>,
    /// Logged txns in zxid order.
    log: Vec<Txn>,
    /// Completed syncs (for the test's report).
    pub syncs: u64,
    /// Records lost because their node was killed after writing them and before the sync
    /// that would have made them durable (for the test's report).
    pub lost_records: u64,
    /// Records the open store holds unsynced right now (test instrumentation: the fault
    /// injector kills a node while this is non-zero, in its fsync window).
    pub unsynced: usize,
}

/// A node's disk, shared by its incarnations.
pub type SharedDisk = Arc<Mutex<Disk>>;

/// One incarnation's open store.
#[derive(Debug)]
pub struct MemStorage {
    disk: SharedDisk,
    /// Appended, not yet synced.
    pending: Vec<LogRecord>,
    /// The token to report at the next sync.
    pending_token: Option<PersistToken>,
}

impl MemStorage {
    /// Opens the node's disk at a (re)start: only what was synced is read back.
    pub fn open(disk: SharedDisk) -> (MemStorage, Recovered) {
        let recovered = lock(&disk).recover();
        let storage = MemStorage {
            disk,
            pending: Vec::new(),
            pending_token: None,
        };
        (storage, recovered)
    }

    /// Moves the buffered records to the disk, in order.
    fn write_pending(&mut self) {
        let mut d = lock(&self.disk);
        for r in self.pending.drain(..) {
            d.apply(r);
        }
        d.unsynced = 0;
    }
}

impl Drop for MemStorage {
    fn drop(&mut self) {
        // A dropped store with buffered records is a killed node: they never reach the disk.
        let n = self.pending.len() as u64;
        let mut d = lock(&self.disk);
        d.lost_records += n;
        d.unsynced = 0;
    }
}

impl Storage for MemStorage {
    fn append(&mut self, token: PersistToken, records: &[LogRecord]) -> Result<(), StorageError> {
        self.pending.extend_from_slice(records);
        self.pending_token = Some(token);
        lock(&self.disk).unsynced = self.pending.len();
        Ok(())
    }

    fn sync(&mut self) -> Result<Option<PersistToken>, StorageError> {
        self.write_pending();
        lock(&self.disk).syncs += 1;
        Ok(self.pending_token.take())
    }

    fn truncate_log(&mut self, token: PersistToken, after_zxid: Zxid) -> Result<(), StorageError> {
        self.write_pending();
        let mut d = lock(&self.disk);
        d.log.retain(|t| t.header.zxid <= after_zxid);
        // A snapshot above the truncation point would resurrect the removed txns.
        d.snapshots.retain(|(z, _)| *z <= after_zxid);
        self.pending_token = Some(token);
        Ok(())
    }

    fn install_snapshot(
        &mut self,
        token: PersistToken,
        zxid: Zxid,
        data: &[u8],
    ) -> Result<(), StorageError> {
        self.write_pending();
        let mut d = lock(&self.disk);
        d.snapshots.retain(|(z, _)| *z < zxid);
        d.snapshots.push((zxid, data.to_vec()));
        d.log.clear();
        self.pending_token = Some(token);
        Ok(())
    }

    fn save_snapshot(&mut self, zxid: Zxid, data: &[u8]) -> Result<(), StorageError> {
        let mut d = lock(&self.disk);
        if let Err(i) = d.snapshots.binary_search_by_key(&zxid, |(z, _)| *z) {
            d.snapshots.insert(i, (zxid, data.to_vec()));
        }
        Ok(())
    }

    fn purge(&mut self, snap_retain_count: usize) -> Result<PurgeReport, StorageError> {
        let mut d = lock(&self.disk);
        let retain = snap_retain_count.max(1);
        if d.snapshots.len() > retain {
            let drop = d.snapshots.len() - retain;
            d.snapshots.drain(..drop);
        }
        if let Some((oldest_kept, _)) = d.snapshots.first() {
            let oldest_kept = *oldest_kept;
            d.log.retain(|t| t.header.zxid > oldest_kept);
        }
        Ok(PurgeReport::default())
    }
}

impl RuntimeStorage for MemStorage {}

impl Disk {
    fn apply(&mut self, r: LogRecord) {
        match r {
            LogRecord::AcceptedEpoch(e) => self.accepted = e,
            LogRecord::CurrentEpoch(e) => self.current = e,
            LogRecord::Damaged(bound) => self.damaged = bound,
            LogRecord::Txn(t) => {
                let prev = self.last_zxid();
                assert!(
                    zxid_follows(prev, t.header.zxid),
                    "logged txn {} cannot follow {prev}",
                    t.header.zxid
                );
                self.log.push(t);
            }
        }
    }

    /// The zxid the next logged txn must follow.
    fn last_zxid(&self) -> Zxid {
        match (self.log.last(), self.snapshots.last()) {
            (Some(t), _) => t.header.zxid,
            (None, Some((z, _))) => *z,
            (None, None) => Zxid::ZERO,
        }
    }

    /// What a restart reads back.
    fn recover(&self) -> Recovered {
        let snapshot = self.snapshots.last().cloned();
        let from = snapshot.as_ref().map_or(Zxid::ZERO, |(z, _)| *z);
        let log: Vec<Txn> = self
            .log
            .iter()
            .filter(|t| t.header.zxid > from)
            .cloned()
            .collect();
        let mut prev = from;
        for t in &log {
            assert!(
                zxid_follows(prev, t.header.zxid),
                "recovered log has a hole: {} after {prev}",
                t.header.zxid
            );
            prev = t.header.zxid;
        }
        Recovered {
            accepted_epoch: self.accepted,
            current_epoch: self.current,
            snapshot,
            log,
            damaged: self.damaged,
        }
    }
}

/// Locks a disk; a poisoned lock means a test assertion already failed on another task, and
/// the disk is still what it was then.
fn lock(disk: &SharedDisk) -> MutexGuard<'_, Disk> {
    disk.lock().unwrap_or_else(|e| e.into_inner())
}
