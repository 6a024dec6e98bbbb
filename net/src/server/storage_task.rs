//! The storage thread (group commit) and the snapshot thread (off the commit path).
//!
//! Under `cfg(madsim)` there are no OS threads and no blocking calls (a blocking `recv`
//! would stall the whole simulation): the storage work runs as one madsim task instead (the
//! `sim` module). Both variants share the group-commit step (`group_commit`) and the purge
//! (`purge`), so they report `Persisted` and failures the same way.
//!
//! The core task hands the snapshot thread a frozen [`TreeSnapshot`] (taken in
//! O(nodes / 512) inside the core's step); the snapshot thread serializes it, writes the file
//! and reports it for purge, so the commit path never pays for the encoding or the write.
//! When several snapshots are queued, only the newest is written: each is a compaction hint,
//! and a queued view keeps the tree's chunks shared (every first write to a chunk copies it).

#[cfg(not(madsim))]
use std::path::PathBuf;
#[cfg(not(madsim))]
use std::sync::mpsc as std_mpsc;

#[cfg(not(madsim))]
use arbor_core::tree::TreeSnapshot;
use arbor_core::types::PersistToken;
#[cfg(not(madsim))]
use arbor_core::types::Zxid;
#[cfg(not(madsim))]
use tokio::sync::mpsc;
#[cfg(not(madsim))]
use tokio::task::JoinHandle;
use tracing::{debug, error};
#[cfg(not(madsim))]
use tracing::{info, warn};

use super::core_task::Event;
#[cfg(not(madsim))]
use crate::storage::{commit_batch, write_snapshot_file_parts};
use crate::storage::{FileStorage, Storage, StorageError, StorageOp};

#[cfg(madsim)]
pub(crate) use sim::{spawn, StorageHandle};

/// What the server needs from its durable store beyond [`Storage`]: where compaction
/// snapshots go and how to account for them once written. Implemented by
/// [`FileStorage`]; tests wrap it to inject failures. Under `cfg(madsim)` compaction
/// snapshots go through [`Storage::save_snapshot`] on the storage task, so the trait asks for
/// nothing more (an in-memory store implements it with an empty `impl`).
pub trait RuntimeStorage: Storage + Send + 'static {
    /// The directory `write_snapshot_file` writes compaction snapshots to.
    #[cfg(not(madsim))]
    fn snapshot_dir(&self) -> PathBuf;
    /// Registers a snapshot written off the commit path (for purge).
    #[cfg(not(madsim))]
    fn register_snapshot(&mut self, zxid: Zxid, path: PathBuf);
}

impl RuntimeStorage for FileStorage {
    #[cfg(not(madsim))]
    fn snapshot_dir(&self) -> PathBuf {
        self.options().data_dir.clone()
    }

    #[cfg(not(madsim))]
    fn register_snapshot(&mut self, zxid: Zxid, path: PathBuf) {
        FileStorage::register_snapshot(self, zxid, path);
    }
}

/// One group commit of `ops` (with one sync): what to tell the core, see [`commit_outcome`].
#[cfg(not(madsim))]
fn group_commit<S: Storage + ?Sized>(storage: &mut S, ops: &[StorageOp]) -> Option<Event> {
    commit_outcome(commit_batch(storage, ops), ops.len())
}

/// What to tell the core after a group commit of `ops` ops: `Persisted` for the highest token
/// it made durable, or `StorageFailed` (after which the storage must stop: nothing later may
/// be acknowledged). `None` when no token became durable.
fn commit_outcome(
    committed: Result<Option<PersistToken>, StorageError>,
    ops: usize,
) -> Option<Event> {
    match committed {
        Ok(Some(token)) => {
            debug!(ops, token = token.0, "group commit");
            Some(Event::Persisted { token })
        }
        Ok(None) => None,
        Err(e) => {
            error!(error = %e, "storage write failed");
            Some(Event::StorageFailed(e))
        }
    }
}

/// Purges after new snapshots; `Some` is the `StorageFailed` event for the core (the storage
/// must stop then).
fn purge<S: Storage + ?Sized>(storage: &mut S, snap_retain_count: usize) -> Option<Event> {
    match storage.purge(snap_retain_count) {
        Ok(r) => {
            debug!(
                snapshots = r.snapshots_removed.len(),
                segments = r.segments_removed.len(),
                "purged"
            );
            None
        }
        Err(e) => {
            error!(error = %e, "purge failed");
            Some(Event::StorageFailed(e))
        }
    }
}

#[cfg(not(madsim))]
enum Msg {
    /// Token-bearing ops, in output order.
    Ops(Vec<StorageOp>),
    /// The snapshot thread wrote a snapshot file.
    SnapshotWritten(Zxid, PathBuf),
    Stop,
}

/// The core task's end of the storage thread.
#[cfg(not(madsim))]
#[derive(Debug)]
pub(crate) struct StorageHandle {
    tx: std_mpsc::Sender<Msg>,
    snap_tx: std_mpsc::Sender<(Zxid, TreeSnapshot)>,
    thread: Option<JoinHandle<()>>,
    snap_thread: Option<JoinHandle<()>>,
}

#[cfg(not(madsim))]
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
#[cfg(not(madsim))]
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
            let parts = view.serialize_parts();
            drop(view);
            let bytes: usize = parts.iter().map(Vec::len).sum();
            let parts = [&parts[0][..], &parts[1][..], &parts[2][..]];
            match write_snapshot_file_parts(&snap_dir, zxid, &parts) {
                Ok(path) => {
                    info!(%zxid, path = %path.display(), bytes, "snapshot written");
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
                match group_commit(&mut storage, &ops) {
                    Some(ev @ Event::StorageFailed(_)) => {
                        // The core may already be gone; then there is no one to tell.
                        let _ = events.blocking_send(ev);
                        return;
                    }
                    Some(ev) => {
                        // During shutdown the core stops listening; keep committing
                        // what it queued (nothing unsynced was acknowledged either way).
                        let _ = events.blocking_send(ev);
                    }
                    None => {}
                }
                ops.clear();
            }
            if !snaps.is_empty() {
                for (z, p) in snaps {
                    storage.register_snapshot(z, p);
                }
                if let Some(ev) = purge(&mut storage, snap_retain_count) {
                    let _ = events.blocking_send(ev);
                    return;
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

/// The storage task of the madsim build: one madsim task, no OS thread, no blocking call.
///
/// Inputs and outputs are those of the thread variant: token-bearing ops in output order,
/// compaction snapshots, `Stop`; `Persisted` / `StorageFailed` to the core. Differences, all
/// forced by the simulation:
/// - the group commit runs on the task itself: the ops are written ([`write_batch`]), then
///   [`SIM_FSYNC_LATENCY`] of simulated time passes before the sync (the `fdatasync`): a node
///   killed in that window loses the buffered appends, none of which was reported durable,
///   which is exactly a crash before the sync returned;
/// - compaction snapshots are written through [`Storage::save_snapshot`] right after the
///   group commit of the ops queued before them (madsim does not simulate files, so there is
///   no snapshot file to write off the commit path), then purged as in the thread variant.
#[cfg(madsim)]
mod sim {
    use std::time::Duration;

    use arbor_core::tree::TreeSnapshot;
    use arbor_core::types::Zxid;
    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;
    use tracing::{debug, info, warn};

    use super::{commit_outcome, purge, Event, RuntimeStorage, StorageOp};
    use crate::storage::write_batch;

    /// Simulated duration of one group commit's `fdatasync`.
    pub(crate) const SIM_FSYNC_LATENCY: Duration = Duration::from_millis(5);

    enum Msg {
        /// Token-bearing ops, in output order.
        Ops(Vec<StorageOp>),
        /// A compaction snapshot (a frozen view) to serialize and save.
        Snapshot(Zxid, TreeSnapshot),
        Stop,
    }

    /// The core task's end of the storage task.
    #[derive(Debug)]
    pub(crate) struct StorageHandle {
        tx: mpsc::UnboundedSender<Msg>,
        task: Option<JoinHandle<()>>,
    }

    impl StorageHandle {
        /// Queues ops for the next group commit.
        pub(crate) fn commit(&self, ops: Vec<StorageOp>) {
            if self.tx.send(Msg::Ops(ops)).is_err() {
                // The task only exits after a failure it already reported, or on Stop.
                debug!("storage task gone; ops dropped (never acknowledged)");
            }
        }

        /// Queues a compaction snapshot (saved after the ops queued before it).
        pub(crate) fn snapshot(&self, zxid: Zxid, view: TreeSnapshot) {
            if self.tx.send(Msg::Snapshot(zxid, view)).is_err() {
                debug!("storage task gone; snapshot dropped");
            }
        }

        /// Stops the task after the work already queued, and waits for it.
        pub(crate) async fn stop(&mut self) {
            // The receiver is gone only if the task already stopped.
            let _ = self.tx.send(Msg::Stop);
            if let Some(t) = self.task.take() {
                let _ = t.await;
            }
        }
    }

    /// Starts the storage task.
    pub(crate) fn spawn<S: RuntimeStorage>(
        mut storage: S,
        events: mpsc::Sender<Event>,
        snap_retain_count: usize,
    ) -> StorageHandle {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        let task = tokio::spawn(async move {
            let mut ops = Vec::new();
            while let Some(first) = rx.recv().await {
                let mut stop = false;
                let mut snaps = Vec::new();
                let mut next = Some(first);
                while let Some(m) = next.take() {
                    match m {
                        Msg::Ops(mut o) => ops.append(&mut o),
                        Msg::Snapshot(z, d) => snaps.push((z, d)),
                        Msg::Stop => stop = true,
                    }
                    next = rx.try_recv().ok();
                }
                if !ops.is_empty() {
                    // The writes, then the simulated fdatasync; a kill meanwhile loses the
                    // buffered appends, none of which was reported durable.
                    let written = write_batch(&mut storage, &ops);
                    if written.is_ok() {
                        tokio::time::sleep(SIM_FSYNC_LATENCY).await;
                    }
                    let committed = written.and_then(|()| storage.sync());
                    match commit_outcome(committed, ops.len()) {
                        Some(ev @ Event::StorageFailed(_)) => {
                            // The core may already be gone; then there is no one to tell.
                            let _ = events.send(ev).await;
                            return;
                        }
                        Some(ev) => {
                            // During shutdown the core stops listening; keep committing.
                            let _ = events.send(ev).await;
                        }
                        None => {}
                    }
                    ops.clear();
                }
                if !snaps.is_empty() {
                    for (zxid, view) in snaps {
                        let data = view.serialize();
                        drop(view);
                        match storage.save_snapshot(zxid, &data) {
                            Ok(()) => info!(%zxid, bytes = data.len(), "snapshot written"),
                            // Compaction is best effort: the log still holds everything.
                            Err(e) => warn!(%zxid, error = %e, "snapshot not written"),
                        }
                    }
                    if let Some(ev) = purge(&mut storage, snap_retain_count) {
                        let _ = events.send(ev).await;
                        return;
                    }
                }
                if stop {
                    return;
                }
            }
        });
        StorageHandle {
            tx,
            task: Some(task),
        }
    }
}
