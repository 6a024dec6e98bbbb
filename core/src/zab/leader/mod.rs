//! The leader's side of Zab: discovery (collect FOLLOWERINFO from a quorum, choose an epoch
//! above every acceptedEpoch heard, LEADERINFO, collect ACKEPOCH), synchronization (DIFF /
//! TRUNC / SNAP + NEWLEADER per learner, establish on a quorum of NEWLEADER ACKs including
//! our own durable currentEpoch, then UPTODATE) and broadcast (PROPOSAL, COMMIT on a quorum
//! of durable ACKs including our own, strictly in zxid order), heartbeats, and the
//! leader-owned expiries (sessions, containers, TTL nodes).
//!
//! Broadcast (proposals, commits, heartbeats, expiries) lives in [`broadcast`].
//!
//! Invariants (`check_invariants`): `committed <= self_durable` (we never commit what we
//! have not made durable ourselves); in broadcast, `currentEpoch == epoch`; every learner in
//! `Synced` / `Active` was sent a history ending at or below our last logged zxid;
//! `LeaderTick` is armed.

mod broadcast;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub(crate) use broadcast::{QueuedWrite, Requester};

use tracing::{info, warn};

use crate::buggify::{buggify, Site};
use crate::replica::{Deferred, LogRecord, Replica, TimerKind};
use crate::tree::PendingChanges;
use crate::types::{ConnId, Epoch, Nanos, ServerId, SessionId, Zxid};
use crate::vec_map::VecMap;
use crate::zab::{PeerMessage, Role};

/// Where the leader is. Protocol order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LeaderPhase {
    /// Collecting FOLLOWERINFO from a quorum.
    AwaitingFollowerInfos,
    /// Collecting ACKEPOCH from a quorum (and our own acceptedEpoch durable).
    AwaitingEpochAcks,
    /// Collecting NEWLEADER ACKs from a quorum (and our own currentEpoch durable).
    AwaitingNewLeaderAcks,
    /// Established: serving clients and broadcasting.
    Broadcast,
}

/// Where one learner is. Protocol order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LearnerPhase {
    /// FOLLOWERINFO received; the epoch is not chosen yet.
    AwaitingEpoch,
    /// LEADERINFO sent.
    AwaitingAckEpoch,
    /// ACKEPOCH received; sync not sent yet (we are still in discovery).
    AwaitingSyncStart,
    /// Sync + NEWLEADER sent; receives proposals and commits.
    AwaitingNewLeaderAck,
    /// NEWLEADER acknowledged: its ACKs count.
    Active,
}

#[derive(Debug)]
pub(crate) struct Learner {
    nonce: u64,
    phase: LearnerPhase,
    last_zxid: Zxid,
    applied_zxid: Zxid,
    newleader_zxid: Zxid,
    acked: Zxid,
    last_heard: Nanos,
}

#[derive(Debug)]
pub(crate) struct Leader {
    pub(crate) epoch: Epoch,
    pub(crate) phase: LeaderPhase,
    started: Nanos,
    accepted_epochs: BTreeMap<ServerId, Epoch>,
    /// Voters whose acceptedEpoch *we* raised to our epoch (they count for discovery even
    /// if their link broke and they rejoined since).
    fresh_epoch_ackers: BTreeSet<ServerId>,
    /// One entry per connected learner: a handful, walked on every proposal and ACK.
    learners: VecMap<ServerId, Learner>,
    self_epoch_durable: bool,
    self_newleader_durable: bool,
    self_durable: Zxid,
    newleader_zxid: Zxid,
    next_counter: u32,
    pub(crate) pending: PendingChanges,
    /// Clients' writes waiting for room in the proposal window, in arrival order.
    queued: VecDeque<QueuedWrite>,
}

impl Leader {
    pub(crate) fn new(now: Nanos) -> Leader {
        Leader {
            epoch: Epoch(0),
            phase: LeaderPhase::AwaitingFollowerInfos,
            started: now,
            accepted_epochs: BTreeMap::new(),
            fresh_epoch_ackers: BTreeSet::new(),
            learners: VecMap::new(),
            self_epoch_durable: false,
            self_newleader_durable: false,
            self_durable: Zxid::ZERO,
            newleader_zxid: Zxid::ZERO,
            next_counter: 0,
            pending: PendingChanges::new(),
            queued: VecDeque::new(),
        }
    }

    /// Drops the queued writes of our client `conn` (its connection is gone).
    pub(crate) fn forget_conn_writes(&mut self, conn: ConnId) {
        self.queued.retain(|w| w.conn != Some(conn));
    }

    /// Writes waiting for the proposal window (tests, metrics).
    pub(crate) fn queued_writes(&self) -> usize {
        self.queued.len()
    }

    pub(crate) fn is_established(&self) -> bool {
        self.phase == LeaderPhase::Broadcast
    }

    /// (learners connected, learners synced): every learner past FOLLOWERINFO, and those
    /// whose NEWLEADER ACK arrived (their ACKs count towards commits).
    pub(crate) fn learner_counts(&self) -> (usize, usize) {
        let synced = self
            .learners
            .values()
            .filter(|l| l.phase == LearnerPhase::Active)
            .count();
        (self.learners.len(), synced)
    }

    pub(crate) fn remove_learner(&mut self, peer: ServerId) {
        self.learners.remove(&peer);
        self.forget_learner_writes(peer);
    }

    /// Drops the queued writes `peer` forwarded: its link is gone, so its pipeline dropped
    /// their connections, and after a restart it numbers requests from 1 again — an old
    /// write proposed with its origin would be matched to a new, unrelated request.
    fn forget_learner_writes(&mut self, peer: ServerId) {
        self.queued.retain(|w| {
            !matches!(w.requester, Requester::Client { server, origin: Some(_) } if server == peer)
        });
    }

    pub(super) fn streaming_learners(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.learners
            .iter()
            .filter(|(_, l)| l.phase >= LearnerPhase::AwaitingNewLeaderAck)
            .map(|(id, _)| *id)
    }

    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub(crate) fn check_invariants(&self, r: &Replica) {
        assert!(
            r.timers.is_armed(TimerKind::LeaderTick),
            "leading without a tick timer"
        );
        if self.phase >= LeaderPhase::AwaitingNewLeaderAcks {
            assert!(
                self.fresh_epoch_ackers.len() + 1 >= r.cfg.quorum(),
                "synchronizing without a quorum of fresh epoch acks"
            );
        }
        assert!(
            self.queued.len() <= r.cfg.writes_queued_max,
            "leader write queue over its bound"
        );
        if !self.queued.is_empty() {
            assert!(
                self.phase == LeaderPhase::Broadcast,
                "writes queued before the leader is established"
            );
            assert!(
                r.history.uncommitted_len() >= r.cfg.proposals_inflight_max,
                "writes queued while the proposal window has room"
            );
        }
        if self.phase == LeaderPhase::Broadcast {
            assert_eq!(
                r.current_epoch, self.epoch,
                "established with a stale currentEpoch"
            );
            assert!(
                r.history.committed() <= self.self_durable,
                "leader committed beyond its own durable log"
            );
            assert!(
                r.history.last_logged().epoch() <= self.epoch,
                "leader logged a txn above its epoch"
            );
        }
        let last = r.history.last_logged();
        for (id, l) in &self.learners {
            assert!(
                l.newleader_zxid <= last,
                "learner {id} synced beyond our log"
            );
            assert!(l.acked <= last, "learner {id} acked beyond our log");
        }
    }
}

impl Replica {
    pub(super) fn leader(&mut self) -> &mut Leader {
        match &mut self.role {
            Role::Leading(l) => l,
            _ => panic!("not leading"),
        }
    }

    pub(super) fn leader_ref(&self) -> &Leader {
        match &self.role {
            Role::Leading(l) => l,
            _ => panic!("not leading"),
        }
    }

    pub(crate) fn start_leading(&mut self) {
        let me = self.cfg.id;
        let accepted = self.accepted_epoch;
        self.leader().accepted_epochs.insert(me, accepted);
        self.timers
            .set(TimerKind::LeaderTick, self.now.add_ns(self.cfg.tick_ns));
        self.maybe_choose_epoch();
    }

    pub(crate) fn on_leader_message(&mut self, from: ServerId, msg: PeerMessage) {
        let now = self.now;
        // Only what a learner sends proves it is alive and ours (a leader's PING from a
        // confused peer must not keep a dead learner in our quorum).
        let from_learner = matches!(
            msg,
            PeerMessage::AckEpoch { .. }
                | PeerMessage::Ack { .. }
                | PeerMessage::Touch { .. }
                | PeerMessage::Request { .. }
                | PeerMessage::Sync { .. }
                | PeerMessage::Revalidate { .. }
        );
        let known = if let Some(l) = self.leader().learners.get_mut(&from) {
            if from_learner {
                l.last_heard = now;
            }
            true
        } else {
            false
        };
        match msg {
            PeerMessage::FollowerInfo {
                accepted_epoch,
                last_zxid,
                nonce,
            } => self.on_follower_info(from, accepted_epoch, last_zxid, nonce),
            _ if !known => {
                // Probably a follower of an older epoch of ours: tell it who leads now.
                self.drop_peer_message(from, "leader: unknown learner", &msg);
                let n = self.notification();
                self.emit_send(from, n);
            }
            PeerMessage::AckEpoch {
                current_epoch,
                last_zxid,
                fresh,
                applied_zxid,
            } => self.on_ack_epoch(from, current_epoch, last_zxid, fresh, applied_zxid),
            PeerMessage::Ack { zxid } => self.on_ack(from, zxid),
            PeerMessage::Revalidate { session } => {
                // A client reattached `session` through this learner: it owns it now.
                if self.leader_ref().is_established() {
                    self.sessions.set_owner(session, from);
                    self.sessions.touch(session, self.now, self.cfg.tick_ns);
                }
            }
            PeerMessage::Touch { sessions } => {
                if self.leader_ref().is_established() {
                    for s in sessions {
                        self.sessions.touch(s, self.now, self.cfg.tick_ns);
                    }
                }
            }
            PeerMessage::Request {
                origin,
                session,
                cxid,
                op,
                auth,
            } => {
                if origin.server != from || !self.leader_ref().is_established() {
                    self.emit_send(from, PeerMessage::Rejected { origin });
                } else {
                    // Queued like our own clients' writes when the window is full: the
                    // learner throttles its clients, the leader does not refuse for load.
                    self.leader_accept_write(QueuedWrite {
                        session,
                        cxid,
                        op: *op,
                        auth,
                        requester: Requester::Client {
                            server: from,
                            origin: Some(origin),
                        },
                        conn: None,
                    });
                }
            }
            PeerMessage::Sync { origin } => {
                let zxid = self.history.last_logged();
                self.emit_send(from, PeerMessage::SyncReply { origin, zxid });
            }
            other => self.drop_peer_message(from, "leader: unexpected message", &other),
        }
    }

    fn on_follower_info(&mut self, from: ServerId, accepted: Epoch, last_zxid: Zxid, nonce: u64) {
        let now = self.now;
        let l = self.leader();
        if l.learners.get(&from).is_some_and(|x| x.nonce == nonce) {
            return; // a retransmission of the attempt we are already handling
        }
        // A new attempt of this learner: what it forwarded before is not its to claim.
        l.forget_learner_writes(from);
        l.learners.insert(
            from,
            Learner {
                nonce,
                phase: LearnerPhase::AwaitingEpoch,
                last_zxid,
                applied_zxid: Zxid::ZERO,
                newleader_zxid: Zxid::ZERO,
                acked: Zxid::ZERO,
                last_heard: now,
            },
        );
        if l.phase == LeaderPhase::AwaitingFollowerInfos {
            l.accepted_epochs.insert(from, accepted);
            self.maybe_choose_epoch();
        } else if accepted > l.epoch {
            // The learner promised an epoch above ours and cannot follow us; it would rejoin
            // forever. Adopt its promise (always safe: a promise only forbids lower epochs)
            // and abdicate, so the next discovery picks an epoch above it.
            let epoch = l.epoch;
            info!(%from, accepted = accepted.0, epoch = epoch.0, "learner accepted a newer epoch; abdicating");
            self.accepted_epoch = self.accepted_epoch.max(accepted);
            self.emit_log_record(LogRecord::AcceptedEpoch(self.accepted_epoch));
            self.start_election();
        } else {
            let epoch = l.epoch;
            if let Some(x) = l.learners.get_mut(&from) {
                x.phase = LearnerPhase::AwaitingAckEpoch;
            }
            self.emit_send(from, PeerMessage::LeaderInfo { epoch });
        }
    }

    /// Discovery: once a quorum reported its acceptedEpoch, pick one above all of them.
    fn maybe_choose_epoch(&mut self) {
        let quorum = self.cfg.quorum();
        let current = self.current_epoch;
        let l = self.leader();
        if l.phase != LeaderPhase::AwaitingFollowerInfos || l.accepted_epochs.len() < quorum {
            return;
        }
        let max = l
            .accepted_epochs
            .values()
            .copied()
            .max()
            .unwrap_or_default();
        let epoch = Epoch(max.max(current).0 + 1);
        l.epoch = epoch;
        l.phase = LeaderPhase::AwaitingEpochAcks;
        let waiting: Vec<ServerId> = l
            .learners
            .iter_mut()
            .filter(|(_, x)| x.phase == LearnerPhase::AwaitingEpoch)
            .map(|(id, x)| {
                x.phase = LearnerPhase::AwaitingAckEpoch;
                *id
            })
            .collect();
        info!(epoch = epoch.0, "leader: new epoch chosen");
        self.accepted_epoch = epoch;
        self.emit_log_record(LogRecord::AcceptedEpoch(epoch));
        let gen = self.role_gen;
        self.defer(Deferred::LeaderAcceptedEpoch { gen });
        for p in waiting {
            self.emit_send(p, PeerMessage::LeaderInfo { epoch });
        }
    }

    pub(crate) fn on_leader_accepted_epoch_durable(&mut self) {
        self.leader().self_epoch_durable = true;
        self.maybe_start_sync();
    }

    fn on_ack_epoch(
        &mut self,
        from: ServerId,
        current_epoch: Epoch,
        last_zxid: Zxid,
        fresh: bool,
        applied_zxid: Zxid,
    ) {
        let mine = (self.current_epoch, self.history.last_logged());
        let l = self.leader();
        let Some(x) = l.learners.get_mut(&from) else {
            return;
        };
        if x.phase != LearnerPhase::AwaitingAckEpoch {
            let msg = PeerMessage::AckEpoch {
                current_epoch,
                last_zxid,
                fresh,
                applied_zxid,
            };
            self.drop_peer_message(from, "leader: ACKEPOCH out of phase", &msg);
            return;
        }
        // Only a fresh promise (one that counts towards fixing the epoch) can prove that we
        // lack committed txns: every fresh acker is at or behind us, and a committed txn is
        // on a quorum that intersects the fresh ones. A non-fresh acker (a replica with
        // damaged storage, or one that promised this epoch before) is synced to our
        // history instead; abandoning for it stalls forever when it cannot lead (a damaged
        // replica whose currentEpoch came from a leadership that never established: found
        // by the `sim_run` fuzz target).
        if fresh && (current_epoch, last_zxid) > mine {
            // A follower has a more recent history than ours: we must not lead (Zab
            // discovery step; ZooKeeper's Leader abandons the epoch the same way).
            warn!(%from, epoch = current_epoch.0, %last_zxid, "follower is ahead of us; abandoning leadership");
            self.start_election();
            return;
        }
        x.last_zxid = last_zxid;
        x.applied_zxid = applied_zxid;
        x.phase = LearnerPhase::AwaitingSyncStart;
        if fresh {
            l.fresh_epoch_ackers.insert(from);
        }
        if l.phase >= LeaderPhase::AwaitingNewLeaderAcks {
            self.send_sync(from);
        } else {
            self.maybe_start_sync();
        }
    }

    /// Synchronization starts once a quorum (us included, durably) acknowledged the epoch.
    fn maybe_start_sync(&mut self) {
        let quorum = self.cfg.quorum();
        let l = self.leader_ref();
        if l.phase != LeaderPhase::AwaitingEpochAcks || !l.self_epoch_durable {
            return;
        }
        // Only promises made to us for this epoch count (see `PeerMessage::AckEpoch`).
        if l.fresh_epoch_ackers.len() + 1 < quorum {
            return;
        }
        let acked: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| x.phase == LearnerPhase::AwaitingSyncStart)
            .map(|(id, _)| *id)
            .collect();
        let epoch = l.epoch;
        let last = self.history.last_logged();
        let l = self.leader();
        l.phase = LeaderPhase::AwaitingNewLeaderAcks;
        l.newleader_zxid = last;
        info!(epoch = epoch.0, zxid = %last, "leader: synchronizing");
        // Our own NEWLEADER ack: our whole history, then currentEpoch, durable.
        self.current_epoch = epoch;
        self.emit_log_record(LogRecord::CurrentEpoch(epoch));
        let gen = self.role_gen;
        self.defer(Deferred::LeaderCurrentEpoch { gen });
        for p in acked {
            self.send_sync(p);
        }
    }

    /// Brings one learner to our history: DIFF, TRUNC + DIFF, or SNAP, then NEWLEADER.
    fn send_sync(&mut self, to: ServerId) {
        let last = self.history.last_logged();
        let committed = self.history.committed();
        let (epoch, their, their_applied) = {
            let l = self.leader_ref();
            let x = &l.learners[&to];
            (l.epoch, x.last_zxid, x.applied_zxid)
        };
        // SNAP is legal whenever our snapshot is not below what the learner applied (then
        // it replaces the learner's state as DIFF / TRUNC would bring it to ours).
        let force_snap = their_applied <= self.history.applied() && buggify!(self, Site::ForceSnap);
        let h = &self.history;
        let msg = if force_snap {
            let zxid = h.applied();
            PeerMessage::Snap {
                zxid,
                data: h.tree.serialize(),
                txns: h.entries_after(zxid),
                committed,
            }
        } else if h.contains(their) && h.entries_after(their).len() <= self.cfg.diff_txns_max {
            PeerMessage::Diff {
                txns: h.entries_after(their),
                committed,
            }
        } else if let Some(after) = h
            .floor(their)
            .filter(|a| their >= h.log_start() && *a >= their_applied)
        {
            // The learner has txns we do not (never committed): cut them, then DIFF. Never
            // below what it applied (that would need a snapshot: SNAP below).
            PeerMessage::Trunc {
                after,
                txns: h.entries_after(after),
                committed,
            }
        } else {
            let zxid = h.applied();
            PeerMessage::Snap {
                zxid,
                data: h.tree.serialize(),
                txns: h.entries_after(zxid),
                committed,
            }
        };
        self.emit_send(to, msg);
        self.emit_send(to, PeerMessage::NewLeader { epoch, zxid: last });
        if let Some(x) = self.leader().learners.get_mut(&to) {
            x.phase = LearnerPhase::AwaitingNewLeaderAck;
            x.newleader_zxid = last;
        }
    }

    pub(crate) fn on_leader_current_epoch_durable(&mut self) {
        let l = self.leader();
        l.self_newleader_durable = true;
        l.self_durable = l.self_durable.max(l.newleader_zxid);
        self.maybe_establish();
    }

    fn on_ack(&mut self, from: ServerId, zxid: Zxid) {
        let last = self.history.last_logged();
        let established = self.leader_ref().is_established();
        let committed = self.history.committed();
        let l = self.leader();
        let Some(x) = l.learners.get_mut(&from) else {
            return;
        };
        match x.phase {
            LearnerPhase::AwaitingNewLeaderAck if zxid == x.newleader_zxid => {
                x.phase = LearnerPhase::Active;
                x.acked = zxid;
                if established {
                    self.emit_send(from, PeerMessage::UpToDate { committed });
                    // The NEWLEADER ack also acknowledges every proposal the learner was
                    // re-sent in its DIFF; they may now be durable on a quorum, and no later
                    // PROPOSAL ack need ever come to move the commit point (sim seed 427).
                    self.maybe_commit();
                } else {
                    self.maybe_establish();
                }
            }
            LearnerPhase::Active if zxid <= last => {
                x.acked = x.acked.max(zxid);
                self.maybe_commit();
            }
            _ => {
                self.drop_peer_message(
                    from,
                    "leader: ACK out of phase",
                    &PeerMessage::Ack { zxid },
                );
                self.leader().learners.remove(&from);
            }
        }
    }

    fn maybe_establish(&mut self) {
        let quorum = self.cfg.quorum();
        let l = self.leader_ref();
        if l.phase != LeaderPhase::AwaitingNewLeaderAcks || !l.self_newleader_durable {
            return;
        }
        let active: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| x.phase == LearnerPhase::Active)
            .map(|(id, _)| *id)
            .collect();
        if active.len() + 1 < quorum {
            return;
        }
        let newleader_zxid = l.newleader_zxid;
        let epoch = l.epoch;
        let l = self.leader();
        l.phase = LeaderPhase::Broadcast;
        self.commit_through(newleader_zxid);
        let committed = self.history.committed();
        info!(epoch = epoch.0, %committed, "leading: established, serving");
        for p in active {
            self.emit_send(p, PeerMessage::UpToDate { committed });
        }
        let sessions: Vec<(SessionId, i32)> = self
            .history
            .tree
            .sessions()
            .iter()
            .map(|(s, t)| (*s, *t))
            .collect();
        self.sessions.reset(&sessions, self.now, self.cfg.tick_ns);
        self.pipeline_start_serving();
    }
}
