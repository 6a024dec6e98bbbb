//! The follower's side of Zab: discovery (FOLLOWERINFO → LEADERINFO → ACKEPOCH),
//! synchronization (DIFF / TRUNC / SNAP, NEWLEADER → ACK, UPTODATE) and broadcast
//! (PROPOSAL → Persist → ACK, COMMIT → apply), plus heartbeats.
//!
//! Durable before visible:
//! - ACKEPOCH is parked on the `acceptedEpoch` record's token;
//! - the NEWLEADER ACK is parked on the `currentEpoch` record, written *after* every record
//!   of the sync (truncation, snapshot, txns) — `Persisted` is cumulative, so the ACK means
//!   the whole synced history is durable (ZOOKEEPER-3911 / -4643 / -4646);
//! - each PROPOSAL ACK is parked on the token of the record that logs it, so ACKs leave in
//!   log order and never overtake the NEWLEADER ACK (ZOOKEEPER-4685).
//!
//! Any message that does not fit the phase is hostile: dropped, counted, and (for the
//! leader's stream) the follower goes back to LOOKING, since its view of the stream is
//! broken.
//!
//! Invariants: only messages from `leader` are processed; in `Broadcast` the follower
//! serves clients; `FollowerTick` is armed.

use tracing::{error, info, warn};

use crate::replica::{Canary, Deferred, LogRecord, Replica, TimerKind};
use crate::tree::DataTree;
use crate::txn::Txn;
use crate::types::{Epoch, Nanos, ServerId, Zxid};
use crate::zab::{PeerMessage, Role};

/// What the follower waits for. Protocol order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FollowerPhase {
    AwaitingLeaderInfo,
    AwaitingSync,
    AwaitingNewLeader,
    AwaitingUpToDate,
    Broadcast,
}

#[derive(Debug)]
pub(crate) struct Follower {
    pub(crate) leader: ServerId,
    pub(crate) epoch: Epoch,
    pub(crate) phase: FollowerPhase,
    nonce: u64,
    started: Nanos,
    last_heard: Nanos,
}

impl Follower {
    pub(crate) fn new(leader: ServerId, nonce: u64, now: Nanos) -> Follower {
        Follower {
            leader,
            epoch: Epoch(0),
            phase: FollowerPhase::AwaitingLeaderInfo,
            nonce,
            started: now,
            last_heard: now,
        }
    }

    pub(crate) fn is_serving(&self) -> bool {
        self.phase == FollowerPhase::Broadcast
    }

    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub(crate) fn check_invariants(&self, r: &Replica) {
        assert!(
            r.timers.is_armed(TimerKind::FollowerTick),
            "following without a tick timer"
        );
        assert_ne!(self.leader, r.cfg.id, "following ourselves");
        if self.phase >= FollowerPhase::AwaitingUpToDate {
            assert_eq!(
                r.current_epoch, self.epoch,
                "synced follower with a stale currentEpoch"
            );
        }
        if self.phase > FollowerPhase::AwaitingLeaderInfo {
            assert_eq!(
                r.accepted_epoch, self.epoch,
                "acceptedEpoch differs from the leader's"
            );
        }
    }
}

impl Replica {
    fn follower(&mut self) -> &mut Follower {
        match &mut self.role {
            Role::Following(f) => f,
            _ => panic!("not following"),
        }
    }

    pub(crate) fn start_following(&mut self) {
        self.send_follower_info();
        self.timers
            .set(TimerKind::FollowerTick, self.now.add_ns(self.cfg.tick_ns));
    }

    fn send_follower_info(&mut self) {
        let (leader, nonce) = {
            let f = self.follower();
            (f.leader, f.nonce)
        };
        let msg = PeerMessage::FollowerInfo {
            accepted_epoch: self.accepted_epoch,
            last_zxid: self.history.last_logged(),
            nonce,
        };
        self.emit_send(leader, msg);
    }

    pub(crate) fn on_follower_tick_expired(&mut self) {
        let tick = self.cfg.tick_ns;
        let now = self.now;
        let (phase, started, last_heard, leader) = {
            let f = self.follower();
            (f.phase, f.started, f.last_heard, f.leader)
        };
        if phase != FollowerPhase::Broadcast
            && now.since(started) > self.cfg.init_limit_ticks * tick
        {
            info!(%leader, "leader did not sync us within initLimit");
            self.start_election();
            return;
        }
        if now.since(last_heard) > self.cfg.sync_limit_ticks * tick {
            info!(%leader, "leader silent for syncLimit");
            self.start_election();
            return;
        }
        if phase == FollowerPhase::AwaitingLeaderInfo {
            self.send_follower_info();
        }
        self.timers.set(TimerKind::FollowerTick, now.add_ns(tick));
    }

    pub(crate) fn on_follower_message(&mut self, from: ServerId, msg: PeerMessage) {
        let (leader, phase) = {
            let f = self.follower();
            (f.leader, f.phase)
        };
        if from != leader {
            self.drop_peer_message(from, "follower: not our leader", &msg);
            return;
        }
        let now = self.now;
        self.follower().last_heard = now;
        use FollowerPhase as P;
        match (phase, msg) {
            (P::AwaitingLeaderInfo, PeerMessage::LeaderInfo { epoch }) => {
                self.on_leader_info(epoch)
            }
            (P::AwaitingSync, PeerMessage::Diff { txns, committed }) => {
                self.on_sync(None, None, txns, committed)
            }
            (
                P::AwaitingSync,
                PeerMessage::Trunc {
                    after,
                    txns,
                    committed,
                },
            ) => self.on_sync(Some(after), None, txns, committed),
            (
                P::AwaitingSync,
                PeerMessage::Snap {
                    zxid,
                    data,
                    txns,
                    committed,
                },
            ) => self.on_sync(None, Some((zxid, data)), txns, committed),
            (P::AwaitingNewLeader, PeerMessage::NewLeader { epoch, zxid }) => {
                self.on_new_leader(epoch, zxid)
            }
            (P::AwaitingUpToDate, PeerMessage::UpToDate { committed }) => {
                self.on_up_to_date(committed)
            }
            (P::AwaitingUpToDate | P::Broadcast, PeerMessage::Proposal { txn, origin }) => {
                self.on_proposal(txn, origin)
            }
            (P::AwaitingUpToDate | P::Broadcast, PeerMessage::Commit { zxid }) => {
                self.on_commit(zxid)
            }
            (_, PeerMessage::Ping) => {
                let sessions = self.pipeline.take_touched();
                self.emit_send(leader, PeerMessage::Touch { sessions });
            }
            (P::Broadcast, PeerMessage::SyncReply { origin, zxid }) => {
                if origin.server == self.cfg.id {
                    self.pipeline_on_sync_reply(origin.request, zxid);
                }
            }
            (P::Broadcast | P::AwaitingUpToDate, PeerMessage::Rejected { origin }) => {
                if origin.server == self.cfg.id {
                    self.pipeline_on_rejected(origin.request);
                }
            }
            (_, msg) => {
                self.drop_peer_message(from, "follower: unexpected in this phase", &msg);
                self.start_election();
            }
        }
    }

    fn on_leader_info(&mut self, epoch: Epoch) {
        let leader = self.follower().leader;
        if epoch < self.accepted_epoch {
            warn!(%leader, epoch = epoch.0, accepted = self.accepted_epoch.0, "leader proposes an old epoch");
            self.start_election();
            return;
        }
        self.follower().epoch = epoch;
        let gen = self.role_gen;
        let raised = epoch > self.accepted_epoch;
        if raised {
            self.accepted_epoch = epoch;
            self.emit_log_record(LogRecord::AcceptedEpoch(epoch));
        }
        // A damaged replica does not count towards the quorum that fixes the epoch.
        let fresh = raised && self.damaged.is_none();
        self.follower().phase = FollowerPhase::AwaitingSync;
        self.defer(Deferred::AckEpoch {
            gen,
            to: leader,
            fresh,
        });
    }

    fn on_sync(
        &mut self,
        trunc: Option<Zxid>,
        snap: Option<(Zxid, Vec<u8>)>,
        txns: Vec<Txn>,
        committed: Zxid,
    ) {
        let leader = self.follower().leader;
        if self.canary(Canary::CurrentEpochBeforeSync) {
            // Canary: currentEpoch goes to disk in its own batch, ahead of the history it
            // is supposed to vouch for.
            let epoch = self.follower().epoch;
            self.current_epoch = epoch;
            self.emit_log_record(LogRecord::CurrentEpoch(epoch));
            self.flush_batch();
        }
        if let Some(after) = trunc {
            if after < self.history.applied() {
                warn!(%leader, %after, applied = %self.history.applied(), "TRUNC below applied state");
                self.counters.peer_messages_dropped += 1;
                self.start_election();
                return;
            }
            self.history.truncate_after(after);
            if !self.canary(Canary::TruncSkippedOnDisk) {
                self.emit_truncate_log(after);
            }
        }
        if let Some((zxid, data)) = snap {
            match DataTree::deserialize(&data, self.cfg.tree.clone()) {
                Ok(tree) if tree.last_zxid() == zxid => {
                    if zxid < self.history.applied() {
                        // Only reachable if our applied state diverged from every leader's
                        // history (a bug or a hostile peer): the leader's state wins.
                        error!(%leader, %zxid, applied = %self.history.applied(), "SNAP rolls back applied state");
                    }
                    self.history.install(tree);
                    self.emit_install_snapshot(zxid, data);
                }
                _ => {
                    warn!(%leader, %zxid, "bad SNAP payload");
                    self.counters.peer_messages_dropped += 1;
                    self.start_election();
                    return;
                }
            }
        }
        let mut last = self.history.last_logged();
        for t in &txns {
            if t.header.zxid <= last || t.header.zxid.epoch() > self.accepted_epoch {
                warn!(%leader, zxid = %t.header.zxid, "sync txns out of order");
                self.counters.peer_messages_dropped += 1;
                self.start_election();
                return;
            }
            last = t.header.zxid;
        }
        for t in txns {
            self.history.append(t.clone());
            self.emit_log_record(LogRecord::Txn(t));
        }
        self.follower().phase = FollowerPhase::AwaitingNewLeader;
        self.commit_through(committed);
    }

    fn on_new_leader(&mut self, epoch: Epoch, zxid: Zxid) {
        let (leader, my_epoch) = {
            let f = self.follower();
            (f.leader, f.epoch)
        };
        if epoch != my_epoch || zxid != self.history.last_logged() {
            warn!(%leader, epoch = epoch.0, %zxid, "NEWLEADER does not match our sync");
            self.counters.peer_messages_dropped += 1;
            self.start_election();
            return;
        }
        self.current_epoch = epoch;
        self.emit_log_record(LogRecord::CurrentEpoch(epoch));
        self.follower().phase = FollowerPhase::AwaitingUpToDate;
        if self.canary(Canary::NewLeaderAckBeforeSync) {
            self.emit_send(leader, PeerMessage::Ack { zxid });
            return;
        }
        let gen = self.role_gen;
        if let Some(bound) = self.damaged {
            // Our history is now the leader's, which a quorum of undamaged voters elected:
            // it holds every committed txn, including any we lost. Once it and the cleared
            // marker are durable we may vote again.
            assert!(
                epoch >= bound.epoch(),
                "synced from a leader older than our damage"
            );
            self.emit_log_record(LogRecord::Damaged(None));
            self.defer(Deferred::Repaired { gen, bound });
        }
        self.defer(Deferred::Ack {
            gen,
            to: leader,
            zxid,
        });
    }

    fn on_up_to_date(&mut self, committed: Zxid) {
        let (leader, epoch) = {
            let f = self.follower();
            f.phase = FollowerPhase::Broadcast;
            (f.leader, f.epoch)
        };
        self.commit_through(committed);
        info!(%leader, epoch = epoch.0, committed = %self.history.committed(), "following: up to date, serving");
        self.pipeline_start_serving();
    }

    fn on_proposal(&mut self, txn: Txn, origin: Option<crate::zab::Origin>) {
        let (leader, epoch) = {
            let f = self.follower();
            (f.leader, f.epoch)
        };
        let zxid = txn.header.zxid;
        if zxid <= self.history.last_logged() || zxid.epoch() != epoch {
            warn!(%leader, %zxid, last = %self.history.last_logged(), "PROPOSAL out of order");
            self.counters.peer_messages_dropped += 1;
            self.start_election();
            return;
        }
        self.history.append(txn.clone());
        self.emit_log_record(LogRecord::Txn(txn));
        if self.canary(Canary::AckBeforePersist) {
            self.emit_send(leader, PeerMessage::Ack { zxid });
        } else {
            let gen = self.role_gen;
            self.defer(Deferred::Ack {
                gen,
                to: leader,
                zxid,
            });
        }
        if let Some(o) = origin {
            if o.server == self.cfg.id {
                self.pipeline_on_forwarded_proposal(o.request, zxid);
            }
        }
    }

    fn on_commit(&mut self, zxid: Zxid) {
        if zxid > self.history.last_logged() {
            warn!(%zxid, last = %self.history.last_logged(), "COMMIT for a txn we never logged");
            self.counters.peer_messages_dropped += 1;
        }
        self.commit_through(zxid);
    }
}
