//! [`Replica`]: one whole Arbor server as a sans-IO state machine.
//!
//! The driver does, for every input:
//! ```text
//! replica.handle(now, wall, input);
//! while let Some(out) = replica.poll_output() { perform(out) }
//! wake_at(replica.next_deadline());   // then handle(now, wall, Input::Tick)
//! ```
//! `now` is the driver's monotonic clock. Should it ever step backwards (a broken clock
//! source, a restored VM), the core does not panic and does not fire timers early: the
//! step counts as no elapsed time, and every deadline keeps its remaining duration (the
//! replica keeps an internal clock `driver now + skew` that never goes back; deadlines
//! are returned to the driver in its own clock). A forward step is elapsed time, as after
//! a VM pause: due timers fire at once. `wall` is the wall clock in
//! ms, used only for the ctime / mtime a leader stamps into the transactions it creates and
//! for the container / TTL expiry query; nothing waits on it or orders by it.
//!
//! Roles live in `zab` (election, leader, follower); client connections in `pipeline`;
//! session bookkeeping in `session`; the storage contract is documented in [`io`].
//!
//! Invariants (`check_invariants`, compiled in for tests, debug builds and the `invariants`
//! feature, and run after every step when `Config::check_invariants` is set — by default in
//! tests and debug builds; the simulator sets it): `currentEpoch <= acceptedEpoch`; the
//! history's own invariants (re-run after steps that borrowed the history mutably: they are a
//! pure function of it); the epoch of the last logged zxid never exceeds acceptedEpoch; each
//! role's invariants; every client queue within its bound; the step's record batch was
//! flushed.

mod canary;
mod config;
pub mod io;
mod storage;
mod timers;
mod tracked;

use std::collections::VecDeque;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use tracing::{error, info, warn};

pub use canary::Canary;
pub use config::Config;
pub use io::{CloseReason, Input, LogRecord, Output, Recovered, SyncMode};
pub(crate) use storage::Deferred;
pub(crate) use timers::TimerKind;

use crate::buggify::{buggify, Site};
use crate::pipeline::Pipeline;
use crate::session::SessionTracker;
use crate::tree::{DataTree, SnapshotError};
use crate::txn::{apply_with, Txn, TxnBody};
use crate::types::{Epoch, Nanos, PersistToken, ServerId, WallMillis, Zxid};
use crate::zab::{History, PeerMessage, Role};
use storage::Storage;
use timers::Timers;

/// Why [`Replica::recover`] refused what it was given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoverError {
    /// The configuration fails [`Config::validate`].
    #[error("invalid replica config: {0}")]
    InvalidConfig(&'static str),
    /// The recovered snapshot's bytes do not hold a tree this build can load (written by
    /// another build, or damaged before its checksum was computed).
    #[error("snapshot {zxid} does not load: {source}")]
    UnloadableSnapshot {
        /// The zxid storage reported for the snapshot.
        zxid: Zxid,
        /// Why the tree does not load.
        #[source]
        source: SnapshotError,
    },
    /// The snapshot loads, but its tree is at another zxid than storage reported.
    #[error("snapshot {zxid} holds a tree at {tree_zxid}")]
    SnapshotZxidMismatch {
        /// The zxid storage reported for the snapshot.
        zxid: Zxid,
        /// The last zxid of the loaded tree.
        tree_zxid: Zxid,
    },
}

/// Counters of dropped hostile input (for metrics and tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Peer messages dropped because they did not fit our state or were malformed.
    pub peer_messages_dropped: u64,
    /// Client inputs dropped (unknown connection, request before handshake, ...).
    pub client_inputs_dropped: u64,
    /// Stale or unknown `Persisted` tokens.
    pub persisted_tokens_ignored: u64,
    /// Operations of committed txns that did not fit the tree and were skipped
    /// ([`crate::tree::Misfit`]): only a damaged or lying leader (or a bug) causes one. The
    /// simulator fails a run in which this is not zero.
    pub misfit_txns: u64,
    /// Times the driver's monotonic clock stepped backwards (absorbed into the skew).
    pub clock_steps_back: u64,
}

/// One Arbor server.
#[derive(Debug)]
pub struct Replica {
    pub(crate) cfg: Config,
    /// The internal clock: the driver's `now` plus `skew`; never goes backwards.
    pub(crate) now: Nanos,
    /// Total backward steps of the driver's clock, ns (internal = driver + skew).
    skew: u64,
    pub(crate) wall: WallMillis,
    pub(crate) out: VecDeque<Output>,
    pub(crate) timers: Timers,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) accepted_epoch: Epoch,
    pub(crate) current_epoch: Epoch,
    /// Its own invariants are checked only after steps that borrowed it mutably.
    pub(crate) history: tracked::Tracked<History>,
    storage: Storage,
    pub(crate) role: Role,
    /// Incremented on every role change; parked actions of an older role are dropped.
    pub(crate) role_gen: u64,
    /// The election round (`logicalclock`), kept across roles.
    pub(crate) election_round: u64,
    /// Checked only after steps that borrowed it mutably (`Tracked`).
    pub(crate) pipeline: tracked::Tracked<Pipeline>,
    pub(crate) sessions: SessionTracker,
    pub(crate) counters: Counters,
    /// Storage damage not yet repaired by a sync: the highest zxid possibly acknowledged
    /// before it (see [`Recovered::damaged`]). While set, this replica never votes, never
    /// leads and never counts towards a quorum.
    pub(crate) damaged: Option<Zxid>,
    applied_since_snapshot: u64,
    last_snapshot_zxid: Zxid,
    /// Fault points (simulation builds only).
    #[cfg(feature = "buggify")]
    pub(crate) buggify: crate::buggify::State,
}

impl Replica {
    /// A fresh server with empty storage.
    ///
    /// # Panics
    /// If `cfg` fails [`Config::validate`] (a programming error in the caller; use
    /// [`Replica::recover`] to get it as an error).
    pub fn new(cfg: Config) -> Replica {
        match Replica::recover(cfg, Recovered::default()) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// A server rebuilt from what storage returned. The tree is the snapshot; logged
    /// transactions after it are kept as *logged, not known committed* — the next leader
    /// decides (by DIFF / TRUNC / SNAP) which of them survive. A log tail that is out of
    /// order, or from an epoch above `acceptedEpoch`, cannot be legitimate and is cut
    /// (a `TruncateLog` is queued for it). The replica starts LOOKING.
    ///
    /// Refused (nothing is emitted): an invalid `cfg`, or a snapshot whose bytes do not load
    /// or hold a tree at another zxid than storage reported. Storage checksums catch damage
    /// after the write; this catches a snapshot of another build or damaged before its
    /// checksum, which the driver must report rather than start from.
    pub fn recover(cfg: Config, rec: Recovered) -> Result<Replica, RecoverError> {
        cfg.validate().map_err(RecoverError::InvalidConfig)?;
        let tree = match &rec.snapshot {
            Some((zxid, bytes)) => {
                let tree = DataTree::deserialize(bytes, cfg.tree.clone()).map_err(|source| {
                    RecoverError::UnloadableSnapshot {
                        zxid: *zxid,
                        source,
                    }
                })?;
                if tree.last_zxid() != *zxid {
                    return Err(RecoverError::SnapshotZxidMismatch {
                        zxid: *zxid,
                        tree_zxid: tree.last_zxid(),
                    });
                }
                tree
            }
            None => DataTree::new(cfg.tree.clone()),
        };
        let mut history = History::new(tree);
        let accepted_epoch = rec.accepted_epoch.max(rec.current_epoch);
        let mut cut = None;
        for txn in rec.log {
            let z = txn.header.zxid;
            if z <= history.log_start() {
                continue;
            }
            if z <= history.last_logged() || z.epoch() > accepted_epoch {
                cut = Some(history.last_logged());
                break;
            }
            history.append(txn);
        }
        // An out-of-order tail means records were damaged in a way no checksum caught (or the
        // driver did not check): treat it like detected damage, with the widest bound (any
        // txn of an epoch we accepted may have been acknowledged).
        let damaged = match (rec.damaged, cut) {
            (Some(b), Some(_)) => Some(b.max(Zxid::new(accepted_epoch, u32::MAX))),
            (Some(b), None) => Some(b),
            (None, Some(_)) => Some(Zxid::new(accepted_epoch, u32::MAX)),
            (None, None) => None,
        };
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut r = Replica {
            now: Nanos(0),
            skew: 0,
            wall: WallMillis(0),
            out: VecDeque::new(),
            timers: Timers::default(),
            rng,
            accepted_epoch,
            current_epoch: rec.current_epoch,
            last_snapshot_zxid: history.log_start(),
            history: tracked::Tracked::new(history),
            storage: Storage::default(),
            role: Role::Looking(Default::default()),
            role_gen: 0,
            election_round: 0,
            pipeline: tracked::Tracked::new(Pipeline::default()),
            sessions: SessionTracker::default(),
            counters: Counters::default(),
            damaged,
            applied_since_snapshot: 0,
            #[cfg(feature = "buggify")]
            buggify: crate::buggify::State::new(cfg.buggify.clone(), cfg.seed),
            cfg,
        };
        if let Some(bound) = damaged {
            // The marker must be durable before the damaged tail is gone for good, or a
            // crash in between would restart us as an intact replica with a short log.
            warn!(%bound, last_zxid = %r.history.last_logged(), "storage damage: not voting until a leader resyncs us");
            r.emit_log_record(LogRecord::Damaged(Some(bound)));
            r.flush_batch();
        }
        if let Some(after_zxid) = cut {
            warn!(%after_zxid, "recovered log tail is inconsistent; truncating");
            let token = r.storage.issue();
            r.out.push_back(Output::TruncateLog { token, after_zxid });
        }
        info!(
            id = %r.cfg.id,
            accepted_epoch = r.accepted_epoch.0,
            current_epoch = r.current_epoch.0,
            last_zxid = %r.history.last_logged(),
            "replica recovered; looking"
        );
        r.start_election();
        r.flush_batch();
        Ok(r)
    }

    /// Feeds one input. The previous step's outputs must have been drained.
    pub fn handle(&mut self, now: Nanos, wall: WallMillis, input: Input) {
        debug_assert!(self.out.is_empty(), "driver did not drain poll_output");
        let internal = now.add_ns(self.skew);
        if internal < self.now {
            // The driver's clock stepped back: no time has elapsed for us.
            let back = self.now.0 - internal.0;
            warn!(
                driver_now = now.0,
                back_ns = back,
                "monotonic clock stepped backwards; treating the step as no elapsed time"
            );
            self.skew += back;
            self.counters.clock_steps_back += 1;
        } else {
            self.now = internal;
        }
        self.wall = wall;
        match input {
            Input::ClientClosed { conn } => self.on_client_closed(conn),
            Input::ClientConnect { conn, request } => self.on_client_connect(conn, request),
            Input::ClientRequest {
                conn,
                header,
                request,
            } => self.on_client_request(conn, header, *request),
            Input::ClientRequestRejected { conn, reply } => {
                self.on_client_request_rejected(conn, reply)
            }
            Input::Peer { from, msg } => self.on_peer_message(from, msg),
            Input::PeerConnected { peer } => self.on_peer_connected(peer),
            Input::PeerDisconnected { peer } => self.on_peer_disconnected(peer),
            Input::Persisted { token } => self.on_persisted(token),
            Input::Tick => self.on_tick(),
        }
        self.pipeline_resume_reads();
        self.flush_batch();
        #[cfg(any(test, debug_assertions, feature = "invariants"))]
        if self.cfg.check_invariants {
            self.check_invariants();
        }
    }

    /// The next output, or `None` when drained.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Drains every output at once: swaps the pending outputs (in order) into `buf`, which
    /// must be empty, and keeps `buf`'s allocation for the next step. Same as calling
    /// [`Replica::poll_output`] until `None`, without moving each output twice.
    pub fn take_outputs(&mut self, buf: &mut VecDeque<Output>) {
        assert!(buf.is_empty(), "take_outputs into a non-empty buffer");
        std::mem::swap(&mut self.out, buf);
    }

    /// When (in the driver's clock) the driver must call `handle(.., Input::Tick)` next.
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.timers
            .next()
            .map(|d| Nanos(d.0.saturating_sub(self.skew)))
    }

    /// This server's id.
    pub fn id(&self) -> ServerId {
        self.cfg.id
    }

    /// The tree (applied, committed state) — for checkers.
    pub fn tree(&self) -> &DataTree {
        &self.history.tree
    }

    /// Last applied zxid.
    pub fn applied_zxid(&self) -> Zxid {
        self.history.applied()
    }

    /// Commit point known here.
    pub fn committed_zxid(&self) -> Zxid {
        self.history.committed()
    }

    /// Last logged zxid (durable or not).
    pub fn last_logged_zxid(&self) -> Zxid {
        self.history.last_logged()
    }

    /// (acceptedEpoch, currentEpoch) in memory.
    pub fn epochs(&self) -> (Epoch, Epoch) {
        (self.accepted_epoch, self.current_epoch)
    }

    /// Open client connections.
    pub fn client_count(&self) -> usize {
        self.pipeline.conn_count()
    }

    /// This server's watch registrations (read-only, for four-letter words and checkers).
    pub fn watches(&self) -> &crate::watch::WatchManager {
        &self.pipeline.watches
    }

    /// The damage bound while this replica waits for a resync (see [`Recovered::damaged`]).
    pub fn damaged(&self) -> Option<Zxid> {
        self.damaged
    }

    /// How often each fault point fired in this replica, indexed by
    /// [`crate::buggify::Site::index`] (simulation builds only).
    #[cfg(feature = "buggify")]
    pub fn buggify_fired(&self) -> [u64; Site::ALL.len()] {
        self.buggify.fired()
    }

    /// On an established leader: clients' writes waiting for room in the proposal window
    /// (`proposals_inflight_max`). `None` on any other role.
    pub fn leader_queued_writes(&self) -> Option<usize> {
        match &self.role {
            Role::Leading(l) => Some(l.queued_writes()),
            _ => None,
        }
    }

    /// Dropped-input counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A one-word role name: `looking`, `following`, `leading` (for traces and checkers).
    pub fn role_name(&self) -> &'static str {
        match &self.role {
            Role::Looking(_) => "looking",
            Role::Following(_) => "following",
            Role::Leading(_) => "leading",
        }
    }

    /// The leader this server follows or is, once that role is serving clients.
    pub fn serving_leader(&self) -> Option<(ServerId, Epoch)> {
        match &self.role {
            Role::Leading(l) if l.is_established() => Some((self.cfg.id, l.epoch)),
            Role::Following(f) if f.is_serving() => Some((f.leader, f.epoch)),
            _ => None,
        }
    }

    /// On a leader: (learners connected, learners synced), as ZooKeeper's `mntr` reports
    /// `zk_followers` / `zk_synced_followers`. `None` on any other role.
    pub fn learner_counts(&self) -> Option<(usize, usize)> {
        match &self.role {
            Role::Leading(l) => Some(l.learner_counts()),
            _ => None,
        }
    }

    /// Checks this replica's own invariants (see the module doc).
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub fn check_invariants(&self) {
        assert!(
            self.current_epoch <= self.accepted_epoch,
            "currentEpoch above acceptedEpoch"
        );
        assert!(
            self.history.last_logged().epoch() <= self.accepted_epoch,
            "logged txn from an epoch above acceptedEpoch"
        );
        // A pure function of the history: re-run only when a step may have changed it.
        if self.history.take_dirty() {
            self.history.check_invariants();
        }
        self.storage.check_invariants();
        // A pure function of the pipeline (and the fixed config): re-run only when a step
        // may have changed it.
        if self.pipeline.take_dirty() {
            self.pipeline.check_invariants(&self.cfg);
        }
        match &self.role {
            Role::Looking(_) => assert!(
                self.timers.is_armed(TimerKind::Election),
                "looking without an election timer"
            ),
            Role::Following(f) => f.check_invariants(self),
            Role::Leading(l) => {
                assert!(self.damaged.is_none(), "a damaged replica leads");
                l.check_invariants(self)
            }
        }
    }

    // ----- outputs -----

    pub(crate) fn emit(&mut self, out: Output) {
        self.out.push_back(out);
    }

    pub(crate) fn emit_send(&mut self, to: ServerId, msg: PeerMessage) {
        push_send(&mut self.out, self.cfg.id, to, msg);
    }

    /// Queues a log record into this step's batch (one `Persist` per step).
    pub(crate) fn emit_log_record(&mut self, rec: LogRecord) {
        let batch = &mut self.storage.batch;
        if batch.capacity() == 0 {
            // Each flushed batch leaves with its buffer: allocate the next one directly
            // (a step rarely logs more than a few records) instead of through `push`'s
            // growth path.
            *batch = Vec::with_capacity(4);
        }
        batch.push(rec);
    }

    /// Flushes this step's records as one `Persist` (group commit).
    pub(crate) fn flush_batch(&mut self) {
        if let Some(mut records) = self.storage.take_batch() {
            if records.len() >= 2 && buggify!(self, Site::SplitPersistBatch) {
                // Two writes (two fsyncs) instead of one; what waits on the batch is
                // parked on the second, so it still waits for all of it.
                let rest = records.split_off(records.len() / 2);
                let token = self.storage.issue();
                self.out.push_back(Output::Persist {
                    token,
                    records: std::mem::replace(&mut records, rest),
                    sync: SyncMode::Required,
                });
            }
            let token = self.storage.issue();
            self.storage.park_batch_on(token);
            self.out.push_back(Output::Persist {
                token,
                records,
                sync: SyncMode::Required,
            });
        }
    }

    pub(crate) fn emit_truncate_log(&mut self, after_zxid: Zxid) {
        self.flush_batch();
        let token = self.storage.issue();
        self.out
            .push_back(Output::TruncateLog { token, after_zxid });
    }

    pub(crate) fn emit_install_snapshot(&mut self, zxid: Zxid, data: Vec<u8>) {
        self.flush_batch();
        let token = self.storage.issue();
        self.out
            .push_back(Output::InstallSnapshot { token, zxid, data });
        self.last_snapshot_zxid = zxid;
        self.applied_since_snapshot = 0;
    }

    /// Whether the deliberately wrong variant `c` is selected (simulation only).
    pub(crate) fn canary(&self, c: Canary) -> bool {
        self.cfg.canary == Some(c)
    }

    /// Runs `d` once everything written so far is durable.
    pub(crate) fn defer(&mut self, d: Deferred) {
        if let Some(d) = self.storage.defer(d) {
            self.run_deferred(d);
        }
    }

    fn on_persisted(&mut self, token: PersistToken) {
        if !self.storage.persisted(token) {
            self.counters.persisted_tokens_ignored += 1;
            warn!(token = token.0, "stale or unknown persist token");
            return;
        }
        while let Some(d) = self.storage.pop_released() {
            self.run_deferred(d);
        }
    }

    fn run_deferred(&mut self, d: Deferred) {
        if d.gen() != self.role_gen {
            return;
        }
        match d {
            Deferred::Ack { to, zxid, .. } => self.emit_send(to, PeerMessage::Ack { zxid }),
            Deferred::Repaired { bound, .. } => {
                if self.damaged == Some(bound) {
                    info!(%bound, "synced history durable: storage damage repaired; voting again");
                    self.damaged = None;
                }
            }
            Deferred::AckEpoch { to, fresh, .. } => {
                let msg = PeerMessage::AckEpoch {
                    current_epoch: self.current_epoch,
                    last_zxid: self.history.last_logged(),
                    fresh,
                    applied_zxid: self.history.applied(),
                };
                self.emit_send(to, msg);
            }
            Deferred::LeaderAcceptedEpoch { .. } => self.on_leader_accepted_epoch_durable(),
            Deferred::LeaderCurrentEpoch { .. } => self.on_leader_current_epoch_durable(),
            Deferred::SelfAck { zxid, .. } => self.on_self_ack(zxid),
        }
    }

    // ----- history -----

    /// Raises the commit point and applies every committed transaction in zxid order.
    pub(crate) fn commit_through(&mut self, zxid: Zxid) {
        self.history.commit_through(zxid);
        while let Some(txn) = self.history.next_to_apply().cloned() {
            self.apply_txn(&txn);
        }
    }

    fn apply_txn(&mut self, txn: &Txn) {
        let lagging_close = self.canary(Canary::FollowerKeepsEphemerals)
            && matches!(self.role, Role::Following(_))
            && matches!(*txn.body, TxnBody::CloseSession { .. });
        // Triggers only matter to watches registered here.
        let watched = self.pipeline.watches.watch_count() > 0;
        let outcome = if lagging_close {
            // Canary: the close is applied as a no-op; the session and its ephemerals stay.
            let noop = Txn::new(
                txn.header,
                TxnBody::Error {
                    err: crate::types::ErrorCode::SessionExpired,
                },
            );
            apply_with(&mut self.history.tree, &noop, watched)
        } else {
            apply_with(&mut self.history.tree, txn, watched)
        };
        for m in &outcome.misfits {
            // ZooKeeper's processTxn logs and carries on; so do we (the tree is intact, but
            // it now differs from the leader's: the digest shows it).
            error!(zxid = %outcome.zxid, misfit = %m, "committed txn does not fit the tree; skipped");
            self.counters.misfit_txns += 1;
        }
        if let Role::Leading(l) = &mut self.role {
            l.pending.retire_through(outcome.zxid);
        }
        match &*txn.body {
            TxnBody::CreateSession {
                session,
                timeout_ms,
            } => self
                .sessions
                .on_created(*session, *timeout_ms, self.now, self.cfg.tick_ns),
            TxnBody::CloseSession { session, .. } => self.sessions.on_closed(*session),
            _ => {}
        }
        // Watches fire before the replies this txn releases (an event precedes any later
        // reply that reflects the change).
        if self.canary(Canary::WatchAfterReply) {
            self.pipeline_on_applied(txn, &outcome);
            self.pipeline_fire_watches(&outcome);
        } else {
            self.pipeline_fire_watches(&outcome);
            self.pipeline_on_applied(txn, &outcome);
        }
        self.applied_since_snapshot += 1;
        if self.applied_since_snapshot >= self.cfg.snapshot_every_txns
            && !buggify!(self, Site::SkipSnapshot)
        {
            self.take_snapshot();
        }
    }

    fn take_snapshot(&mut self) {
        let zxid = self.history.applied();
        // O(nodes / 512): the driver serializes the frozen view off the commit path.
        let view = self.history.tree.snapshot();
        assert_eq!(view.last_zxid(), zxid, "snapshot of the applied tree");
        self.out.push_back(Output::Snapshot { zxid, view });
        // Keep one snapshot interval of log in memory so DIFF can serve lagging learners.
        let keep_from = self.last_snapshot_zxid;
        self.history.compact(keep_from);
        self.last_snapshot_zxid = zxid;
        self.applied_since_snapshot = 0;
    }

    // ----- dispatch -----

    fn on_tick(&mut self) {
        for kind in self.timers.take_expired(self.now) {
            match kind {
                TimerKind::Election => self.on_election_expired(),
                TimerKind::ElectionFinalize => self.on_election_finalize_expired(),
                TimerKind::FollowerTick => self.on_follower_tick_expired(),
                TimerKind::LeaderTick => self.on_leader_tick_expired(),
            }
            if let Some(at) = self.timers.deadline(kind) {
                assert!(at > self.now, "timer {kind:?} re-armed in the past");
            }
        }
    }

    fn on_peer_message(&mut self, from: ServerId, msg: PeerMessage) {
        if from == self.cfg.id || !self.cfg.voters.contains(&from) {
            self.drop_peer_message(from, "not a voter", &msg);
            return;
        }
        if let PeerMessage::Notification { round, vote, state } = msg {
            self.on_notification(from, round, vote, state);
            return;
        }
        match &self.role {
            Role::Looking(_) => self.drop_peer_message(from, "looking", &msg),
            Role::Following(_) => self.on_follower_message(from, msg),
            Role::Leading(_) => self.on_leader_message(from, msg),
        }
    }

    pub(crate) fn drop_peer_message(
        &mut self,
        from: ServerId,
        why: &'static str,
        msg: &PeerMessage,
    ) {
        self.counters.peer_messages_dropped += 1;
        warn!(%from, why, msg = ?std::mem::discriminant(msg), "peer message dropped");
    }

    fn on_peer_connected(&mut self, peer: ServerId) {
        if let Role::Looking(_) = self.role {
            if self.cfg.voters.contains(&peer) && peer != self.cfg.id {
                let msg = self.notification();
                self.emit_send(peer, msg);
            }
        }
    }

    fn on_peer_disconnected(&mut self, peer: ServerId) {
        match &mut self.role {
            Role::Following(f) if f.leader == peer => {
                info!(leader = %peer, "lost the link to the leader");
                self.start_election();
            }
            Role::Leading(l) => l.remove_learner(peer),
            _ => {}
        }
    }

    /// Leaves the current role: parked actions of it are dropped, its timers stopped, and
    /// its clients disconnected (they reconnect, possibly elsewhere).
    pub(crate) fn leave_role(&mut self) {
        self.role_gen += 1;
        self.timers.clear();
        self.pipeline_stop_serving();
    }
}

/// Distinct voters (a sorted copy), for iteration in a deterministic order.
pub(crate) fn sorted_peers(cfg: &Config) -> Vec<ServerId> {
    let mut v: Vec<ServerId> = cfg
        .voters
        .iter()
        .copied()
        .filter(|p| *p != cfg.id)
        .collect();
    v.sort();
    v
}

/// Queues a send on `out` (for a caller that holds another part of the replica borrowed,
/// e.g. streaming a message to every learner straight from the learner map).
pub(crate) fn push_send(out: &mut VecDeque<Output>, me: ServerId, to: ServerId, msg: PeerMessage) {
    assert_ne!(to, me, "sending to ourselves");
    out.push_back(Output::Send { to, msg });
}
