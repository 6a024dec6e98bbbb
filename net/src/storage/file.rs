//! [`FileStorage`]: the real-file [`Storage`], and recovery from a data directory.
//!
//! Layout: `dataDir/{acceptedEpoch,currentEpoch,snapshot.<zxid>}` and
//! `dataLogDir/log.<first zxid>` (the two directories may be the same).
//!
//! Preallocation ([`StorageOptions::preallocate_bytes`]): the active segment's file runs
//! ahead of its last frame with written zeros whose size is durable, so a commit's fdatasync
//! flushes data only. A segment's logical end is always the end of its last frame; a
//! segment is cut there (durably) before the next one is created, so only the last segment
//! can end in zeros.
//!
//! Recovery rules (in [`FileStorage::open`]):
//! - leftover `*.tmp` files of ours are removed (an interrupted atomic write);
//! - the newest snapshot whose header and CRC check out is used; damaged newer ones are
//!   skipped with a `warn!`; if snapshots exist but none is valid, open fails
//!   (ZOOKEEPER-2325: never start empty when data existed);
//! - log segments are read in zxid order; every record's CRC is checked, and zxids must be
//!   contiguous ([`zxid_follows`]) across segments and from the snapshot to the first
//!   record after it;
//! - a damaged frame with no valid frame after it in the *last* segment is a torn tail: the
//!   segment is cut there (or removed if nothing valid remains), with a `warn!`; if all the
//!   bytes after the last frame are zeros (preallocation, or frames that never reached the
//!   disk) that is the clean end of the log: cut the same way, logged at `info!`, not
//!   reported;
//! - any other damage (a bad record with valid records after it, or in an older segment) is
//!   *mid-log damage*: the `damagedZxid` marker is written (bound: counter `u32::MAX` of the
//!   acceptedEpoch, since any txn of an accepted epoch may have been acknowledged), then the
//!   log is cut at the damaged record and later segments are removed, and the replica starts
//!   with `Recovered::damaged` set: it does not vote or count towards a quorum until a
//!   leader has resynced it (core rule, `arbor_core::replica::io`). A segment is
//!   fdatasync'd before the next one is created, so only the last one can hold unsynced
//!   bytes. Unreadable epoch files or marker, a zxid gap between valid records and
//!   all-damaged snapshots still refuse to start: those are not a damaged log suffix.
//!   (A single-server ensemble with mid-log damage starts but can never be resynced; the
//!   operator must restore it.)
//!
//! Known limits: (1) a kernel may persist unsynced pages out of order, so a crash can in
//! principle leave a hole followed by valid (never acknowledged) frames in the last
//! segment; that is reported as mid-log damage, never repaired silently, and the runtime's
//! resync rule applies. (2) With *no* snapshot file at all, a log whose first record is
//! counter 1 of a later epoch is accepted: contiguity cannot tell that older segments were
//! deleted by hand (only that one purged by us always leaves a snapshot behind).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use arbor_core::replica::{LogRecord, Recovered};
use arbor_core::txn::Txn;
use arbor_core::types::{Epoch, PersistToken, Zxid};
use tracing::{debug, info, warn};

use super::epoch::{
    read_damaged, read_epoch, write_damaged, write_epoch, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE,
    DAMAGED_ZXID_FILE,
};
use super::fsutil::{fsync_dir, remove_file, TMP_SUFFIX};
use super::snapshot::{list_snapshots, read_snapshot_file, write_snapshot_file, SNAPSHOT_PREFIX};
use super::wal::{
    check_segment_header, encode_frame, list_segments, scan_frames, segment_header, segment_name,
    SEGMENT_HEADER_LEN, SEGMENT_PREFIX,
};
use super::{zxid_follows, PurgeReport, Storage, StorageError};

/// Where and how to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageOptions {
    /// ZooKeeper's `dataDir`: epoch files and snapshots.
    pub data_dir: PathBuf,
    /// ZooKeeper's `dataLogDir`: log segments.
    pub data_log_dir: PathBuf,
    /// A new segment is started once the current one reaches this size.
    pub segment_bytes_max: u64,
    /// Preallocation chunk (ZooKeeper's `preAllocSize`; 0 = off): the active segment is kept
    /// extended with written, synced zeros ahead of the write position, this many bytes at
    /// a time (never past `segment_bytes_max`), so that a commit's `fdatasync` overwrites
    /// allocated blocks of a file whose size does not change and need not commit the inode
    /// too. Real zeros, not `fallocate`: ext4 marks fallocated extents unwritten, and the
    /// first write into one is again a metadata change.
    pub preallocate_bytes: u64,
}

impl StorageOptions {
    /// Default segment size (ZooKeeper preallocates 64 MiB log files).
    pub const SEGMENT_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
    /// Default preallocation chunk: 1 MiB. Writing and syncing it costs the commit that
    /// triggers it a few milliseconds (once per MiB of log, about every 7,000 small txns);
    /// ZooKeeper's 64 MiB chunk would stall that commit for a good part of a second, since
    /// here the zeros are really written rather than left as a sparse hole.
    pub const PREALLOCATE_BYTES_DEFAULT: u64 = 1024 * 1024;

    /// The directories and `preAllocSize` a parsed `zoo.cfg` names, default segment size.
    pub fn from_config(cfg: &crate::config::Config) -> StorageOptions {
        StorageOptions {
            data_log_dir: cfg.data_log_dir.clone(),
            preallocate_bytes: cfg
                .pre_alloc_bytes
                .unwrap_or(Self::PREALLOCATE_BYTES_DEFAULT),
            ..StorageOptions::new(&cfg.data_dir)
        }
    }

    /// Log and snapshots in one directory, default segment size.
    pub fn new(data_dir: impl Into<PathBuf>) -> StorageOptions {
        let data_dir = data_dir.into();
        StorageOptions {
            data_log_dir: data_dir.clone(),
            data_dir,
            segment_bytes_max: Self::SEGMENT_BYTES_DEFAULT,
            preallocate_bytes: Self::PREALLOCATE_BYTES_DEFAULT,
        }
    }
}

/// The storage and what it recovered.
#[derive(Debug)]
pub struct Opened {
    /// Ready for appends.
    pub storage: FileStorage,
    /// For `Replica::recover`.
    pub recovered: Recovered,
    /// What recovery repaired or skipped.
    pub report: RecoveryReport,
}

/// What recovery repaired or skipped (each also logged at `warn!`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Interrupted atomic writes removed.
    pub temp_files_removed: Vec<PathBuf>,
    /// Snapshots skipped as damaged, with the reason.
    pub damaged_snapshots: Vec<(PathBuf, String)>,
    /// A torn tail: the segment, the offset it was cut at, and the bytes dropped.
    pub torn_tail: Option<(PathBuf, u64, u64)>,
    /// Segments removed because nothing valid was left in them.
    pub empty_segments_removed: Vec<PathBuf>,
    /// Mid-log damage (a bad record with valid data after it, or in an older segment): the
    /// segment and the offset the log was cut at. The replica starts flagged damaged.
    pub mid_log_damage: Option<(PathBuf, u64)>,
}

/// The real-file storage. See the module doc for the layout and recovery rules.
#[derive(Debug)]
pub struct FileStorage {
    opts: StorageOptions,
    /// Log segments, oldest first; the active one (if any) is the last.
    segments: Vec<(Zxid, PathBuf)>,
    active: Option<Active>,
    /// Frames not yet written to the active segment.
    buf: Vec<u8>,
    /// The last logged txn's zxid, or the snapshot / truncation point if newer: the zxid
    /// the next logged txn must follow.
    last_zxid: Zxid,
    /// Snapshots, oldest first.
    snapshots: Vec<(Zxid, PathBuf)>,
    /// Highest token performed but not yet reported by `sync`.
    pending: Option<PersistToken>,
    poisoned: bool,
    /// The epochs on disk.
    accepted_epoch: Epoch,
    current_epoch: Epoch,
}

#[derive(Debug)]
struct Active {
    file: File,
    /// Bytes of the segment written (header and frames): where the next frame goes.
    len: u64,
    /// The file's size: `len` plus the preallocated zeros after it (synced: the size change
    /// is durable, so an fdatasync of frames written below it commits no metadata).
    file_len: u64,
}

impl FileStorage {
    /// Opens (creating if needed) the data directories and recovers their contents.
    pub fn open(opts: StorageOptions) -> Result<Opened, StorageError> {
        assert!(
            opts.segment_bytes_max <= SEGMENT_FILE_LEN_MAX / 2,
            "segment size limit too large"
        );
        let mut report = RecoveryReport::default();
        for dir in [&opts.data_dir, &opts.data_log_dir] {
            fs::create_dir_all(dir).map_err(|e| StorageError::io("create dir", dir, e))?;
            let zk = dir.join("version-2");
            if zk.exists() {
                return Err(StorageError::ForeignZooKeeperData { path: zk });
            }
            remove_temp_files(dir, &mut report)?;
        }
        let accepted = read_epoch(&opts.data_dir, ACCEPTED_EPOCH_FILE)?;
        let current = read_epoch(&opts.data_dir, CURRENT_EPOCH_FILE)?;
        let damaged = read_damaged(&opts.data_dir)?;
        // Read-time half of the epoch checks `write_epoch` asserts: acceptedEpoch is
        // written before currentEpoch ever reaches it (zab.md, epoch sanity).
        if current.unwrap_or_default() > accepted.unwrap_or_default() {
            return Err(StorageError::BadEpochFile {
                path: opts.data_dir.join(CURRENT_EPOCH_FILE),
                reason: "currentEpoch is above acceptedEpoch",
            });
        }
        let snapshots = list_snapshots(&opts.data_dir)?;
        let snapshot = newest_valid_snapshot(&opts.data_dir, &snapshots, &mut report)?;
        let had_snapshots = !snapshots.is_empty();
        // Damaged snapshots stay on disk for the operator (and are skipped again on every
        // start) but never count towards retention.
        let snapshots: Vec<(Zxid, PathBuf)> = snapshots
            .into_iter()
            .filter(|(_, p)| !report.damaged_snapshots.iter().any(|(d, _)| d == p))
            .collect();
        let base = snapshot.as_ref().map_or(Zxid::ZERO, |(z, _)| *z);
        let mut segments = list_segments(&opts.data_log_dir)?;
        let (log, damage) = read_log(&opts.data_log_dir, &mut segments, base, &mut report)?;
        let mut damaged = damaged;
        if let Some((path, offset)) = damage {
            // Mid-log damage after a valid prefix: the replica starts flagged damaged (it
            // will not vote or count towards a quorum until a leader resyncs it) instead of
            // refusing to start. The marker is durable before anything is cut, so a crash in
            // between finds the damage again or the marker. The bound is the widest one: any
            // txn of an epoch we accepted may have been acknowledged.
            let bound = Zxid::new(accepted.unwrap_or_default(), u32::MAX)
                .max(damaged.unwrap_or(Zxid::ZERO));
            write_damaged(&opts.data_dir, Some(bound))?;
            cut_log_at(&opts.data_log_dir, &mut segments, &path, offset)?;
            warn!(segment = %path.display(), offset, %bound, "mid-log damage: log cut there; this replica resyncs from the leader before voting");
            report.mid_log_damage = Some((path, offset));
            damaged = Some(bound);
        }
        let has_data = had_snapshots || !log.is_empty() || !segments.is_empty();
        if accepted.is_none() && has_data {
            return Err(StorageError::MissingAcceptedEpoch {
                path: opts.data_dir.join(ACCEPTED_EPOCH_FILE),
            });
        }
        let last_logged = log.last().map_or(Zxid::ZERO, |t| t.header.zxid);
        let last_zxid = last_logged.max(base);
        let recovered_log: Vec<Txn> = log.into_iter().filter(|t| t.header.zxid > base).collect();
        info!(
            snapshot = %base,
            last_zxid = %last_zxid,
            txns = recovered_log.len(),
            segments = segments.len(),
            "storage recovered"
        );
        let storage = FileStorage {
            opts,
            segments,
            active: None,
            buf: Vec::new(),
            last_zxid,
            snapshots,
            pending: None,
            accepted_epoch: accepted.unwrap_or_default(),
            current_epoch: current.unwrap_or_default(),
            poisoned: false,
        };
        storage.check_invariants();
        Ok(Opened {
            storage,
            recovered: Recovered {
                accepted_epoch: accepted.unwrap_or_default(),
                current_epoch: current.unwrap_or_default(),
                snapshot,
                log: recovered_log,
                damaged,
            },
            report,
        })
    }

    /// Registers a snapshot written with [`super::write_snapshot_file`] (off the commit
    /// path) so that purge accounts for it.
    pub fn register_snapshot(&mut self, zxid: Zxid, path: PathBuf) {
        if let Err(i) = self.snapshots.binary_search_by_key(&zxid, |(z, _)| *z) {
            self.snapshots.insert(i, (zxid, path));
        }
    }

    /// The zxid the next logged txn must follow.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// The options this storage was opened with.
    pub fn options(&self) -> &StorageOptions {
        &self.opts
    }

    /// Current log segments, oldest first.
    pub fn segments(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|(_, p)| p.clone()).collect()
    }

    /// Current snapshots, oldest first.
    pub fn snapshots(&self) -> Vec<(Zxid, PathBuf)> {
        self.snapshots.clone()
    }

    /// Crash simulation for tests: writes the first `bytes` of the buffered (unsynced)
    /// frames to the active segment *without* a sync, as a kernel may have done before a
    /// power cut, then drops everything like a killed process.
    #[doc(hidden)]
    pub fn simulate_crash(mut self, bytes: usize) {
        if let Some(a) = self.active.as_mut() {
            let n = bytes.min(self.buf.len());
            // Best effort, like the crash it simulates. The file position is `a.len`: right
            // after the last frame, inside the preallocated zeros if there are any.
            let _ = a.file.write_all(&self.buf[..n]);
        }
    }

    /// Checks the internal bookkeeping.
    pub fn check_invariants(&self) {
        assert!(
            self.segments.windows(2).all(|w| w[0].0 < w[1].0),
            "segments out of order"
        );
        assert!(
            self.snapshots.windows(2).all(|w| w[0].0 < w[1].0),
            "snapshots out of order"
        );
        assert!(
            self.active.is_some() || self.buf.is_empty(),
            "buffered frames without an active segment"
        );
        if self.active.is_some() {
            assert!(!self.segments.is_empty(), "active segment not listed");
            assert!(
                self.segments.last().expect("checked non-empty").0 <= self.last_zxid,
                "active segment starts after the last zxid"
            );
        }
    }

    fn guard<T>(&mut self, r: Result<T, StorageError>) -> Result<T, StorageError> {
        if r.is_err() {
            self.poisoned = true;
        }
        r
    }

    fn check_poisoned(&self) -> Result<(), StorageError> {
        if self.poisoned {
            return Err(StorageError::Poisoned);
        }
        Ok(())
    }

    fn append_inner(&mut self, records: &[LogRecord]) -> Result<(), StorageError> {
        for record in records {
            match record {
                LogRecord::AcceptedEpoch(e) => self.write_epoch(ACCEPTED_EPOCH_FILE, *e)?,
                LogRecord::CurrentEpoch(e) => self.write_epoch(CURRENT_EPOCH_FILE, *e)?,
                LogRecord::Txn(txn) => self.append_txn(txn)?,
                LogRecord::Damaged(bound) => {
                    // Like an epoch file: ordered after every earlier record.
                    self.flush_and_sync()?;
                    write_damaged(&self.opts.data_dir, *bound)?;
                    debug!(bound = ?bound, "damage marker written");
                }
            }
        }
        Ok(())
    }

    fn append_txn(&mut self, txn: &Txn) -> Result<(), StorageError> {
        let zxid = txn.header.zxid;
        // Write-time half of the order check recovery repeats (`read_log`).
        assert!(
            zxid_follows(self.last_zxid, zxid),
            "logged zxid {zxid} does not follow {}",
            self.last_zxid
        );
        let full = match &self.active {
            Some(a) => a.len + self.buf.len() as u64 >= self.opts.segment_bytes_max,
            None => true,
        };
        if full {
            // The old segment is made durable (and cut to its last frame) first, so that only
            // the last segment can ever hold unsynced (possibly torn) bytes or zeros.
            self.close_active()?;
            self.create_segment(zxid)?;
        }
        encode_frame(txn, &mut self.buf)?;
        self.last_zxid = zxid;
        Ok(())
    }

    fn write_epoch(&mut self, name: &str, epoch: Epoch) -> Result<(), StorageError> {
        // Write-time half of the epoch checks recovery repeats: epochs never go down and
        // currentEpoch never passes acceptedEpoch.
        if name == ACCEPTED_EPOCH_FILE {
            assert!(epoch >= self.accepted_epoch, "acceptedEpoch goes down");
            self.accepted_epoch = epoch;
        } else {
            assert!(epoch >= self.current_epoch, "currentEpoch goes down");
            assert!(
                epoch <= self.accepted_epoch,
                "currentEpoch above acceptedEpoch"
            );
            self.current_epoch = epoch;
        }
        // The log written so far must be durable before a new epoch is (ZOOKEEPER-4643).
        self.flush_and_sync()?;
        write_epoch(&self.opts.data_dir, name, epoch)?;
        debug!(file = name, epoch = epoch.0, "epoch file written");
        Ok(())
    }

    fn create_segment(&mut self, first: Zxid) -> Result<(), StorageError> {
        let path = self.opts.data_log_dir.join(segment_name(first));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StorageError::io("create segment", &path, e))?;
        let header = segment_header(first);
        file.write_all(&header)
            .map_err(|e| StorageError::io("write", &path, e))?;
        let len = header.len() as u64;
        // The first chunk of zeros goes with the header, on the commit that rolls the
        // segment (which pays a directory fsync anyway).
        let file_len = extend_with_zeros(&mut file, &path, &self.opts, len)?;
        file.sync_all()
            .map_err(|e| StorageError::io("fsync", &path, e))?;
        fsync_dir(&self.opts.data_log_dir)?;
        debug!(segment = %path.display(), preallocated = file_len - len, "log segment created");
        self.segments.push((first, path));
        self.active = Some(Active {
            file,
            len,
            file_len,
        });
        Ok(())
    }

    /// Makes the active segment durable and cuts its preallocated zeros off, durably, so that
    /// every segment but the last ends at its last frame (recovery reads anything after the
    /// last frame of an older segment as mid-log damage). Appends then go to a new segment.
    fn close_active(&mut self) -> Result<(), StorageError> {
        self.flush_and_sync()?;
        let Some(active) = self.active.take() else {
            return Ok(());
        };
        if active.file_len > active.len {
            let path = &self.segments.last().expect("active segment is listed").1;
            active
                .file
                .set_len(active.len)
                .map_err(|e| StorageError::io("truncate", path, e))?;
            active
                .file
                .sync_all()
                .map_err(|e| StorageError::io("fsync", path, e))?;
            debug!(segment = %path.display(), len = active.len, "preallocated zeros cut off a closed segment");
        }
        Ok(())
    }

    /// Writes the buffered frames and fdatasyncs the active segment (one syscall each).
    fn flush_and_sync(&mut self) -> Result<(), StorageError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let active = self
            .active
            .as_mut()
            .expect("buffered frames have an active segment (check_invariants)");
        let path = &self.segments.last().expect("active segment is listed").1;
        active
            .file
            .write_all(&self.buf)
            .map_err(|e| StorageError::io("write", path, e))?;
        let end = active.len + self.buf.len() as u64;
        if end > active.file_len {
            // The batch ran past the preallocated zeros (or there are none): the file grew,
            // so this sync commits the inode as well. Extend it by a chunk of zeros now, in
            // the same sync, so that the next commits find their blocks written and the size
            // durable: only then does an fdatasync flush data alone.
            active.file_len = extend_with_zeros(&mut active.file, path, &self.opts, end)?;
            active
                .file
                .sync_all()
                .map_err(|e| StorageError::io("fsync", path, e))?;
        } else {
            // Into the zeros of a file whose size is durable (the sync after the extension
            // returned before any frame written here): data only.
            active
                .file
                .sync_data()
                .map_err(|e| StorageError::io("fdatasync", path, e))?;
        }
        active.len = end;
        self.buf.clear();
        Ok(())
    }

    fn truncate_inner(&mut self, after_zxid: Zxid) -> Result<(), StorageError> {
        // Reopen for appends only through a new segment: keeps the cut simple and durable.
        self.close_active()?;
        // Listed from disk, so that a damaged snapshot recovery skipped goes too.
        let mut removed_snapshot = false;
        for (z, p) in list_snapshots(&self.opts.data_dir)? {
            if z > after_zxid {
                warn!(snapshot = %p.display(), %after_zxid, "removing a snapshot above the truncation point");
                remove_file(&p)?;
                removed_snapshot = true;
            }
        }
        self.snapshots.retain(|(z, _)| *z <= after_zxid);
        if removed_snapshot {
            fsync_dir(&self.opts.data_dir)?;
        }
        let mut removed_segment = false;
        while let Some((first, p)) = self.segments.last().cloned() {
            if first <= after_zxid {
                break;
            }
            remove_file(&p)?;
            self.segments.pop();
            removed_segment = true;
        }
        if removed_segment {
            fsync_dir(&self.opts.data_log_dir)?;
        }
        let mut last_logged = None;
        if let Some((first, path)) = self.segments.last().cloned() {
            let bytes = read_segment_bytes(&path)?;
            if check_segment_header(&path, &bytes, first)?.is_some() {
                let scan = scan_frames(&bytes);
                let cut = scan
                    .txns
                    .iter()
                    .find(|(_, t)| t.header.zxid > after_zxid)
                    .map(|(off, _)| *off);
                last_logged = scan
                    .txns
                    .iter()
                    .take_while(|(_, t)| t.header.zxid <= after_zxid)
                    .last()
                    .map(|(_, t)| t.header.zxid);
                if let Some(off) = cut {
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| StorageError::io("open", &path, e))?;
                    f.set_len(off)
                        .map_err(|e| StorageError::io("truncate", &path, e))?;
                    f.sync_all()
                        .map_err(|e| StorageError::io("fsync", &path, e))?;
                }
            }
        }
        if self.last_zxid > after_zxid {
            let snap = self.snapshots.last().map(|(z, _)| *z);
            self.last_zxid = last_logged
                .into_iter()
                .chain(snap)
                .max()
                .unwrap_or(Zxid::ZERO);
        }
        info!(%after_zxid, last_zxid = %self.last_zxid, "log truncated");
        Ok(())
    }

    fn install_inner(&mut self, zxid: Zxid, data: &[u8]) -> Result<(), StorageError> {
        // Step 1: nothing above the snapshot may survive a crash next to it.
        self.truncate_inner(zxid)?;
        // Step 2: the snapshot.
        let path = write_snapshot_file(&self.opts.data_dir, zxid, data)?;
        // Step 3: the log and older snapshots (from a history the leader replaced; with no
        // log to bridge them, falling back to one would silently serve less).
        for (z, p) in list_snapshots(&self.opts.data_dir)? {
            if z != zxid {
                remove_file(&p)?;
            }
        }
        fsync_dir(&self.opts.data_dir)?;
        self.snapshots = vec![(zxid, path)];
        for (_, p) in std::mem::take(&mut self.segments) {
            remove_file(&p)?;
        }
        fsync_dir(&self.opts.data_log_dir)?;
        self.last_zxid = zxid;
        info!(%zxid, "snapshot installed; log discarded");
        Ok(())
    }

    fn purge_inner(&mut self, retain: usize) -> Result<PurgeReport, StorageError> {
        let retain = retain.max(1);
        let mut report = PurgeReport::default();
        if self.snapshots.len() > retain {
            let drop = self.snapshots.len() - retain;
            for (_, p) in self.snapshots.drain(..drop) {
                remove_file(&p)?;
                report.snapshots_removed.push(p);
            }
            fsync_dir(&self.opts.data_dir)?;
        }
        let Some((oldest_kept, _)) = self.snapshots.first().cloned() else {
            return Ok(report);
        };
        // Keep the newest segment starting at or before the oldest kept snapshot (it may hold
        // the records right after it) and every later one.
        if let Some(k) = self.segments.iter().rposition(|(f, _)| *f <= oldest_kept) {
            for (_, p) in self.segments.drain(..k) {
                remove_file(&p)?;
                report.segments_removed.push(p);
            }
            if k > 0 {
                fsync_dir(&self.opts.data_log_dir)?;
            }
        }
        info!(
            snapshots_removed = report.snapshots_removed.len(),
            segments_removed = report.segments_removed.len(),
            "purged"
        );
        Ok(report)
    }
}

impl Storage for FileStorage {
    fn append(&mut self, token: PersistToken, records: &[LogRecord]) -> Result<(), StorageError> {
        self.check_poisoned()?;
        let r = self.append_inner(records);
        self.guard(r)?;
        self.pending = Some(token);
        Ok(())
    }

    fn sync(&mut self) -> Result<Option<PersistToken>, StorageError> {
        self.check_poisoned()?;
        let r = self.flush_and_sync();
        self.guard(r)?;
        Ok(self.pending.take())
    }

    fn truncate_log(&mut self, token: PersistToken, after_zxid: Zxid) -> Result<(), StorageError> {
        self.check_poisoned()?;
        let r = self.truncate_inner(after_zxid);
        self.guard(r)?;
        self.pending = Some(token);
        self.check_invariants();
        Ok(())
    }

    fn install_snapshot(
        &mut self,
        token: PersistToken,
        zxid: Zxid,
        data: &[u8],
    ) -> Result<(), StorageError> {
        self.check_poisoned()?;
        let r = self.install_inner(zxid, data);
        self.guard(r)?;
        self.pending = Some(token);
        self.check_invariants();
        Ok(())
    }

    fn save_snapshot(&mut self, zxid: Zxid, data: &[u8]) -> Result<(), StorageError> {
        self.check_poisoned()?;
        let r = write_snapshot_file(&self.opts.data_dir, zxid, data);
        let path = self.guard(r)?;
        self.register_snapshot(zxid, path);
        Ok(())
    }

    fn purge(&mut self, snap_retain_count: usize) -> Result<PurgeReport, StorageError> {
        self.check_poisoned()?;
        let r = self.purge_inner(snap_retain_count);
        let report = self.guard(r)?;
        self.check_invariants();
        Ok(report)
    }
}

/// `(file name, path)` of every entry in `dir`.
pub(crate) fn dir_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StorageError::io("read dir", dir, e)),
    };
    for entry in rd {
        let entry = entry.map_err(|e| StorageError::io("read dir", dir, e))?;
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    out.sort();
    Ok(out)
}

fn remove_temp_files(dir: &Path, report: &mut RecoveryReport) -> Result<(), StorageError> {
    let mut removed = false;
    for (name, path) in dir_entries(dir)? {
        let ours = [
            SEGMENT_PREFIX,
            SNAPSHOT_PREFIX,
            ACCEPTED_EPOCH_FILE,
            CURRENT_EPOCH_FILE,
            DAMAGED_ZXID_FILE,
        ]
        .iter()
        .any(|p| name.starts_with(p));
        if !ours {
            continue;
        }
        if name.ends_with(TMP_SUFFIX) {
            warn!(file = %path.display(), "removing an interrupted write");
            remove_file(&path)?;
            report.temp_files_removed.push(path);
            removed = true;
        } else if (name.starts_with(ACCEPTED_EPOCH_FILE)
            || name.starts_with(CURRENT_EPOCH_FILE)
            || name.starts_with(DAMAGED_ZXID_FILE))
            && name != ACCEPTED_EPOCH_FILE
            && name != CURRENT_EPOCH_FILE
            && name != DAMAGED_ZXID_FILE
        {
            return Err(StorageError::UnknownFile { path });
        }
    }
    if removed {
        fsync_dir(dir)?;
    }
    Ok(())
}

fn newest_valid_snapshot(
    dir: &Path,
    snapshots: &[(Zxid, PathBuf)],
    report: &mut RecoveryReport,
) -> Result<Option<(Zxid, Vec<u8>)>, StorageError> {
    for (zxid, path) in snapshots.iter().rev() {
        match read_snapshot_file(path, *zxid)? {
            Ok(data) => return Ok(Some((*zxid, data))),
            Err(reason) => {
                warn!(snapshot = %path.display(), %reason, "damaged snapshot skipped; trying an older one");
                report.damaged_snapshots.push((path.clone(), reason));
            }
        }
    }
    match report.damaged_snapshots.first() {
        Some((_, newest)) => Err(StorageError::AllSnapshotsDamaged {
            dir: dir.to_path_buf(),
            count: snapshots.len(),
            newest: newest.clone(),
        }),
        None => Ok(None),
    }
}

/// Reads every segment, repairing a torn tail; returns all logged txns in order.
fn read_log(
    dir: &Path,
    segments: &mut Vec<(Zxid, PathBuf)>,
    base: Zxid,
    report: &mut RecoveryReport,
) -> Result<(Vec<Txn>, Option<DamageAt>), StorageError> {
    let mut log: Vec<Txn> = Vec::new();
    let count = segments.len();
    let mut keep = Vec::with_capacity(count);
    for (i, (first, path)) in std::mem::take(segments).into_iter().enumerate() {
        let is_last = i + 1 == count;
        let bytes = read_segment_bytes(&path)?;
        if check_segment_header(&path, &bytes, first)?.is_none() {
            if !is_last {
                return Err(StorageError::BadSegmentHeader {
                    path,
                    reason: "header is torn but later segments exist",
                });
            }
            warn!(segment = %path.display(), "removing a segment torn while being created");
            remove_file(&path)?;
            fsync_dir(dir)?;
            report.empty_segments_removed.push(path);
            continue;
        }
        let scan = scan_frames(&bytes);
        if let Some((_, t)) = scan.txns.first() {
            if t.header.zxid != first {
                return Err(StorageError::BadSegmentHeader {
                    path,
                    reason: "first record's zxid differs from the file name",
                });
            }
        }
        for (offset, txn) in scan.txns {
            let zxid = txn.header.zxid;
            // Read-time half of the order check `append_txn` asserts. A record above the
            // snapshot must continue the snapshot or the record before it, whichever is
            // newer (records at or below the snapshot may come from a history an
            // interrupted InstallSnapshot replaced: the snapshot is what the log continues).
            let last = log.last().map(|t| t.header.zxid);
            let (prev, ok) = match last {
                _ if zxid > base => {
                    let prev = last.map_or(base, |l| l.max(base));
                    (prev, zxid_follows(prev, zxid))
                }
                Some(l) => (l, zxid_follows(l, zxid)),
                None => (base, true),
            };
            if !ok {
                return Err(StorageError::ZxidGap {
                    path,
                    offset,
                    prev,
                    zxid,
                });
            }
            log.push(txn);
        }
        if let Some(d) = scan.damage {
            if !is_last || d.valid_after {
                warn!(segment = %path.display(), offset = d.offset, error = %d.error, "mid-log damage");
                keep.push((first, path.clone(), true));
                *segments = keep.into_iter().map(|(f, p, _)| (f, p)).collect();
                return Ok((log, Some((path, d.offset))));
            }
            let dropped = bytes.len() as u64 - scan.valid_len;
            if d.zeros_only {
                // The preallocated zeros after the last frame (a segment written with
                // `preallocate_bytes`, or a crash before written frames reached the disk):
                // the clean end of the log, not a repair. Cut so that the segment ends at
                // its last frame like every closed one.
                info!(
                    segment = %path.display(),
                    offset = scan.valid_len,
                    zero_bytes = dropped,
                    "preallocated zeros after the last log record cut"
                );
            } else {
                warn!(
                    segment = %path.display(),
                    offset = scan.valid_len,
                    dropped_bytes = dropped,
                    error = %d.error,
                    "torn log tail truncated"
                );
                report.torn_tail = Some((path.clone(), scan.valid_len, dropped));
            }
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| StorageError::io("open", &path, e))?;
            f.set_len(scan.valid_len)
                .map_err(|e| StorageError::io("truncate", &path, e))?;
            f.sync_all()
                .map_err(|e| StorageError::io("fsync", &path, e))?;
        }
        let has_records = log.last().is_some_and(|t| t.header.zxid >= first);
        keep.push((first, path, has_records));
    }
    // The segments that end the log without a valid record go: their names promise a
    // first zxid that is not there, and the next append starts a new segment anyway. All
    // of them, not just the last file (a record-less segment before a torn-header one
    // removed above): recovery must leave nothing that the next recovery would repair.
    while let Some((_, path, false)) = keep.last() {
        warn!(segment = %path.display(), "removing a log segment with no valid record");
        remove_file(path)?;
        fsync_dir(dir)?;
        report.empty_segments_removed.push(path.clone());
        keep.pop();
    }
    *segments = keep
        .into_iter()
        .map(|(first, path, _)| (first, path))
        .collect();
    Ok((log, None))
}

/// Where mid-log damage starts: the segment and the offset of the first damaged record.
type DamageAt = (PathBuf, u64);

/// Cuts the log at `offset` of segment `path` (the first damaged record) and removes every
/// later segment, durably. `segments` keeps the listed segments up to `path` (dropped too if
/// nothing valid is left before the cut).
fn cut_log_at(
    dir: &Path,
    segments: &mut Vec<(Zxid, PathBuf)>,
    path: &Path,
    offset: u64,
) -> Result<(), StorageError> {
    for (_, later) in list_segments(dir)?
        .into_iter()
        .filter(|(_, p)| segments.iter().all(|(_, k)| k != p))
    {
        remove_file(&later)?;
    }
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io("open", path, e))?;
    f.set_len(offset)
        .map_err(|e| StorageError::io("truncate", path, e))?;
    f.sync_all()
        .map_err(|e| StorageError::io("fsync", path, e))?;
    if offset <= SEGMENT_HEADER_LEN as u64 {
        remove_file(path)?;
        segments.retain(|(_, p)| p != path);
    }
    fsync_dir(dir)
}

/// Writes zeros after the frames ending at `end` (the file position), up to the next multiple
/// of `opts.preallocate_bytes` but not past `opts.segment_bytes_max` (the segment rolls
/// there), and moves the position back to `end`. Returns the file's size; does not sync.
fn extend_with_zeros(
    file: &mut File,
    path: &Path,
    opts: &StorageOptions,
    end: u64,
) -> Result<u64, StorageError> {
    let chunk = opts.preallocate_bytes;
    if chunk == 0 {
        return Ok(end);
    }
    let target = (end / chunk + 1)
        .saturating_mul(chunk)
        .min(opts.segment_bytes_max);
    if target <= end {
        return Ok(end);
    }
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let mut left = target - end;
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        file.write_all(&ZEROS[..n])
            .map_err(|e| StorageError::io("preallocate", path, e))?;
        left -= n as u64;
    }
    file.seek(SeekFrom::Start(end))
        .map_err(|e| StorageError::io("seek", path, e))?;
    Ok(target)
}

fn read_segment_bytes(path: &Path) -> Result<Vec<u8>, StorageError> {
    let len = fs::metadata(path)
        .map_err(|e| StorageError::io("stat", path, e))?
        .len();
    if len > SEGMENT_FILE_LEN_MAX {
        return Err(StorageError::BadSegmentHeader {
            path: path.to_path_buf(),
            reason: "file larger than any segment Arbor writes",
        });
    }
    fs::read(path).map_err(|e| StorageError::io("read", path, e))
}

/// No segment Arbor writes is larger (the size limit plus one batch); bounds recovery's reads.
const SEGMENT_FILE_LEN_MAX: u64 = 1 << 30;
