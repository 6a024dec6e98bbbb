//! The storage thread (group commit) and the snapshot thread (off the commit path).
//!
//! The core task hands the snapshot thread a frozen [`TreeSnapshot`] (taken in
//! O(nodes / 512) inside the core's step); the snapshot thread serializes it, writes the file
//! and reports it for purge, so the commit path never pays for the encoding or the write.
//! When several snapshots are queued, only the newest is written: each is a compaction hint,
//! and a queued view keeps the tree's chunks shared (every first write to a chunk copies it).

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;

use arbor_core::tree::TreeSnapshot;
use arbor_core::types::Zxid;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use super::core_task::Event;
use crate::storage::{commit_batch, write_snapshot_file, FileStorage, Storage, StorageOp};

/// What the server needs from its durable store beyond [`Storage`]: where compaction
/// snapshots go and how to account for them once written. Implemented by
/// [`FileStorage`]; tests wrap it to inject failures.
pub trait RuntimeStorage: Storage + Send + 'static {
    /// The directory `write_snapshot_file` writes compaction snapshots to.
    fn snapshot_dir(&self) -> PathBuf;
    /// Registers a snapshot written off the commit path (for purge).
    fn register_snapshot(&mut self, zxid: Zxid, path: PathBuf);
}

impl RuntimeStorage for FileStorage {
    fn snapshot_dir(&self) -> PathBuf {
        self.options().data_dir.clone()
    }

    fn register_snapshot(&mut self, zxid: Zxid, path: PathBuf) {
        FileStorage::register_snapshot(self, zxid, path);
    }
}

enum Msg {
    /// Token-bearing ops, in output order.
    Ops(Vec<StorageOp>),
    /// The snapshot thread wrote a snapshot file.
    SnapshotWritten(Zxid, PathBuf),
    Stop,
}

/// The core task's end of the storage thread.
#[derive(Debug)]
pub(crate) struct StorageHandle {
    tx: std_mpsc::Sender<Msg>,
    snap_tx: std_mpsc::Sender<(Zxid, TreeSnapshot)>,
    thread: Option<JoinHandle<()>>,
    snap_thread: Option<JoinHandle<()>>,
}

impl StorageHandle {
    /// Queues ops for the next group commit.
    pub(crate) fn commit(&self, ops: Vec<StorageOp>) {
        if self.tx.send(Msg::Ops(ops)).is_err() {
            // The thread only exits after a failure it already reported, or on Stop.
            debug!("storage thread gone; ops dropped (never acknowledged)");
        }
    }

    /// Queues a compaction snapshot (a frozen view) for the snapshot thread, which
    /// serializes and writes it. O(1) here.
    pub(crate) fn snapshot(&self, zxid: Zxid, view: TreeSnapshot) {
        if self.snap_tx.send((zxid, view)).is_err() {
            debug!("snapshot thread gone; snapshot dropped");
        }
    }

    /// Stops both threads after the work already queued, and waits for them.
    pub(crate) async fn stop(&mut self) {
        // Dropping the snapshot sender ends the snapshot thread after its queue.
        let (dead_tx, _) = std_mpsc::channel();
        drop(std::mem::replace(&mut self.snap_tx, dead_tx));
        if let Some(t) = self.snap_thread.take() {
            // A panic in the thread was already reported by the panic hook.
            let _ = t.await;
        }
        // The receiver is gone only if the thread already stopped.
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.await;
        }
    }
}

/// Starts the storage and snapshot threads on tokio's blocking pool.
pub(crate) fn spawn<S: RuntimeStorage>(
    mut storage: S,
    events: mpsc::Sender<Event>,
    snap_retain_count: usize,
) -> StorageHandle {
    let (tx, rx) = std_mpsc::channel::<Msg>();
    let (snap_tx, snap_rx) = std_mpsc::channel::<(Zxid, TreeSnapshot)>();
    let snap_dir = storage.snapshot_dir();
    let back = tx.clone();
    let snap_thread = tokio::task::spawn_blocking(move || {
        while let Ok(mut next) = snap_rx.recv() {
            // Only the newest queued snapshot is worth writing; dropping the older views
            // ends their sharing of the tree's storage.
            while let Ok(newer) = snap_rx.try_recv() {
                debug!(skipped = %next.0, newer = %newer.0, "older queued snapshot skipped");
                next = newer;
            }
            let (zxid, view) = next;
            let data = view.serialize();
            drop(view);
            match write_snapshot_file(&snap_dir, zxid, &data) {
                Ok(path) => {
                    info!(%zxid, path = %path.display(), bytes = data.len(), "snapshot written");
                    if back.send(Msg::SnapshotWritten(zxid, path)).is_err() {
                        return;
                    }
                }
                // Compaction is best effort: the log still holds everything.
                Err(e) => warn!(%zxid, error = %e, "snapshot not written"),
            }
        }
    });
    let thread = tokio::task::spawn_blocking(move || {
        let mut ops = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut stop = false;
            let mut snaps = Vec::new();
            let mut next = Some(first);
            while let Some(m) = next.take() {
                match m {
                    Msg::Ops(mut o) => ops.append(&mut o),
                    Msg::SnapshotWritten(z, p) => snaps.push((z, p)),
                    Msg::Stop => stop = true,
                }
                next = rx.try_recv().ok();
            }
            if !ops.is_empty() {
                match commit_batch(&mut storage, &ops) {
                    Ok(Some(token)) => {
                        debug!(ops = ops.len(), token = token.0, "group commit");
                        // During shutdown the core stops listening; keep committing
                        // what it queued (nothing unsynced was acknowledged either way).
                        let _ = events.blocking_send(Event::Persisted { token });
                    }
                    Ok(None) => {}
                    Err(e) => {
                        error!(error = %e, "storage write failed");
                        // The core may already be gone; then there is no one to tell.
                        let _ = events.blocking_send(Event::StorageFailed(e));
                        return;
                    }
                }
                ops.clear();
            }
            if !snaps.is_empty() {
                for (z, p) in snaps {
                    storage.register_snapshot(z, p);
                }
                match storage.purge(snap_retain_count) {
                    Ok(r) => debug!(
                        snapshots = r.snapshots_removed.len(),
                        segments = r.segments_removed.len(),
                        "purged"
                    ),
                    Err(e) => {
                        error!(error = %e, "purge failed");
                        let _ = events.blocking_send(Event::StorageFailed(e));
                        return;
                    }
                }
            }
            if stop {
                return;
            }
        }
    });
    StorageHandle {
        tx,
        snap_tx,
        thread: Some(thread),
        snap_thread: Some(snap_thread),
    }
}
