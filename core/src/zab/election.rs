//! Fast-Leader-Election-style voting (ZooKeeper `FastLeaderElection`, reference zab.md §1.3).
//!
//! Inputs: `Notification`s from peers, the election timers. Outputs: `Notification`s, and
//! the decision (become leader / follow a leader).
//!
//! Rules implemented:
//! - a vote is (leader, last logged zxid, currentEpoch); precedence is (epoch, zxid, id);
//! - a notification from a higher round makes us jump to it, forget the votes collected,
//!   and propose the better of its vote and our own initial vote; a lower-round LOOKING
//!   sender gets our current vote back; in our round we switch to a better vote and
//!   re-broadcast;
//! - once a quorum of this round's votes equals ours we wait a short finalize window for a
//!   better vote, then decide (immediately if every voter agrees);
//! - notifications from LEADING / FOLLOWING peers let a late server join: a quorum of them
//!   naming the same (leader, epoch), with the leader itself LEADING, makes us follow it;
//! - non-LOOKING servers answer LOOKING senders with the vote they settled on;
//! - a replica whose storage was damaged ([`crate::replica::Recovered::damaged`]) announces
//!   itself OBSERVING: everyone answers it with their vote but nobody counts it; it never
//!   leads and only joins an established leader (`check_join`) until a sync repairs it.
//!
//! Invariants: while LOOKING the `Election` timer is armed; our own entry in `received`
//! is always our current vote.

use std::collections::BTreeMap;

use tracing::{debug, info};

use crate::buggify::{buggify, Site};
use crate::replica::{sorted_peers, Canary, Replica, TimerKind};
use crate::types::ServerId;
use crate::zab::{Follower, Leader, PeerMessage, PeerState, Role, Vote};

/// Election state while LOOKING.
#[derive(Debug, Default)]
pub(crate) struct Election {
    vote: Option<Vote>,
    /// This round's votes of LOOKING servers (ours included).
    received: BTreeMap<ServerId, Vote>,
    /// Latest votes of LEADING / FOLLOWING servers.
    out_of_election: BTreeMap<ServerId, (Vote, PeerState)>,
}

/// Finalize window, capped by a tick (FLE's `finalizeWait` default is 200 ms).
const FINALIZE_NS_MAX: u64 = 200_000_000;

impl Replica {
    fn initial_vote(&self) -> Vote {
        Vote {
            leader: self.cfg.id,
            zxid: self.history.last_logged(),
            epoch: self.current_epoch,
        }
    }

    /// Our current notification (as LOOKING, or the settled vote of a leader / follower).
    pub(crate) fn notification(&self) -> PeerMessage {
        let (vote, state) = match &self.role {
            Role::Looking(e) => (
                e.vote.unwrap_or_else(|| self.initial_vote()),
                if self.damaged.is_some() {
                    PeerState::Observing
                } else {
                    PeerState::Looking
                },
            ),
            Role::Following(f) => (
                Vote {
                    leader: f.leader,
                    zxid: self.history.last_logged(),
                    epoch: f.epoch.max(self.current_epoch),
                },
                PeerState::Following,
            ),
            Role::Leading(l) => (
                Vote {
                    leader: self.cfg.id,
                    zxid: self.history.last_logged(),
                    epoch: l.epoch.max(self.current_epoch),
                },
                PeerState::Leading,
            ),
        };
        PeerMessage::Notification {
            round: self.election_round,
            vote,
            state,
        }
    }

    /// Enters LOOKING: a new round with our own vote, broadcast on the next tick (now).
    pub(crate) fn start_election(&mut self) {
        if self.canary(Canary::KeepUncommittedAcrossElection) {
            // Canary: the logged tail is applied as if committed, and stays applied.
            let last = self.history.last_logged();
            self.commit_through(last);
        }
        self.leave_role();
        self.election_round += 1;
        let vote = self.initial_vote();
        let mut e = Election {
            vote: Some(vote),
            ..Default::default()
        };
        e.received.insert(self.cfg.id, vote);
        self.role = Role::Looking(e);
        info!(
            round = self.election_round,
            epoch = vote.epoch.0,
            zxid = %vote.zxid,
            "looking"
        );
        self.broadcast_notification();
        self.timers
            .set(TimerKind::Election, self.now.add_ns(self.cfg.tick_ns));
        self.check_election_quorum();
    }

    fn broadcast_notification(&mut self) {
        let msg = self.notification();
        for p in sorted_peers(&self.cfg) {
            self.emit_send(p, msg.clone());
        }
    }

    pub(crate) fn on_election_expired(&mut self) {
        assert!(
            matches!(self.role, Role::Looking(_)),
            "election timer outside LOOKING"
        );
        self.broadcast_notification();
        if buggify!(self, Site::ExtraVote) {
            self.broadcast_notification();
        }
        self.timers
            .set(TimerKind::Election, self.now.add_ns(self.cfg.tick_ns));
    }

    pub(crate) fn on_notification(
        &mut self,
        from: ServerId,
        round: u64,
        vote: Vote,
        state: PeerState,
    ) {
        debug!(%from, round, leader = %vote.leader, ?state, "notification");
        if !self.cfg.voters.contains(&vote.leader) {
            let msg = PeerMessage::Notification { round, vote, state };
            self.drop_peer_message(from, "vote for a non-voter", &msg);
            return;
        }
        let Role::Looking(_) = &self.role else {
            // Our leader announcing that it is no longer the leader of our epoch: it moved on
            // (re-elected, restarted) without us noticing the link drop. Re-elect now rather
            // than serving stale reads until syncLimit.
            if let Role::Following(f) = &self.role {
                let moved = state != PeerState::Leading || vote.epoch != f.epoch;
                if from == f.leader && f.is_serving() && moved {
                    info!(leader = %from, "our leader left our epoch");
                    self.start_election();
                    return;
                }
            }
            // A settled server answers LOOKING (and non-voting) peers with the vote it
            // settled on.
            if matches!(state, PeerState::Looking | PeerState::Observing) {
                let msg = self.notification();
                self.emit_send(from, msg);
            }
            return;
        };
        if state == PeerState::Observing {
            // A non-voter (e.g. a replica with damaged storage) looking for a leader: tell it
            // our vote, never count its own.
            let msg = self.notification();
            self.emit_send(from, msg);
            return;
        }
        if state != PeerState::Looking {
            if let Role::Looking(e) = &mut self.role {
                e.out_of_election.insert(from, (vote, state));
            }
            self.check_join(vote);
            return;
        }
        if self.damaged.is_some() {
            // We do not vote: a LOOKING peer's vote changes nothing for us (we join through
            // the settled servers' notifications, `check_join`).
            return;
        }
        let initial = self.initial_vote();
        let my_round = self.election_round;
        let Role::Looking(e) = &mut self.role else {
            unreachable!("checked above")
        };
        let mine = e.vote.expect("looking has a vote");
        let mut changed = false;
        if round > my_round {
            self.election_round = round;
            e.received.clear();
            let best = if vote.key() > initial.key() {
                vote
            } else {
                initial
            };
            e.vote = Some(best);
            e.received.insert(self.cfg.id, best);
            changed = true;
        } else if round < my_round {
            let msg = self.notification();
            self.emit_send(from, msg);
            return;
        } else if vote.key() > mine.key() {
            e.vote = Some(vote);
            e.received.insert(self.cfg.id, vote);
            changed = true;
        }
        e.received.insert(from, vote);
        if changed {
            self.broadcast_notification();
        }
        self.check_election_quorum();
    }

    fn check_election_quorum(&mut self) {
        let Role::Looking(e) = &self.role else { return };
        if self.damaged.is_some() {
            return;
        }
        let vote = e.vote.expect("looking has a vote");
        let agreeing = e.received.values().filter(|v| **v == vote).count();
        if agreeing == self.cfg.voters.len() {
            self.decide(vote);
        } else if agreeing >= self.cfg.quorum() {
            if !self.timers.is_armed(TimerKind::ElectionFinalize) {
                let wait = FINALIZE_NS_MAX.min(self.cfg.tick_ns);
                self.timers
                    .set(TimerKind::ElectionFinalize, self.now.add_ns(wait));
            }
        } else {
            self.timers.stop(TimerKind::ElectionFinalize);
        }
    }

    pub(crate) fn on_election_finalize_expired(&mut self) {
        let Role::Looking(e) = &self.role else { return };
        if self.damaged.is_some() {
            return;
        }
        let vote = e.vote.expect("looking has a vote");
        let agreeing = e.received.values().filter(|v| **v == vote).count();
        if agreeing >= self.cfg.quorum() {
            self.decide(vote);
        }
    }

    /// A late joiner follows an established leader that a quorum of settled servers names.
    fn check_join(&mut self, vote: Vote) {
        let Role::Looking(e) = &self.role else { return };
        if vote.leader == self.cfg.id {
            return;
        }
        let leader_confirms = e.out_of_election.get(&vote.leader).is_some_and(|(v, s)| {
            *s == PeerState::Leading && v.leader == vote.leader && v.epoch == vote.epoch
        });
        let support = e
            .out_of_election
            .values()
            .filter(|(v, _)| v.leader == vote.leader && v.epoch == vote.epoch)
            .count();
        if leader_confirms && support >= self.cfg.quorum() {
            self.decide(vote);
        }
    }

    fn decide(&mut self, vote: Vote) {
        if vote.leader == self.cfg.id {
            assert!(self.damaged.is_none(), "a damaged replica decided to lead");
            self.leave_role();
            self.role = Role::Leading(Leader::new(self.now));
            info!(round = self.election_round, "elected: leading (discovery)");
            self.start_leading();
        } else {
            self.leave_role();
            let nonce = rand_core::RngCore::next_u64(&mut self.rng);
            self.role = Role::Following(Follower::new(vote.leader, nonce, self.now));
            info!(leader = %vote.leader, round = self.election_round, "elected: following");
            self.start_following();
        }
    }
}
