//! The leader in broadcast: turning writes into proposals (`propose`, with ZooKeeper's
//! leader-side session checks), committing on a quorum of durable ACKs that includes our
//! own, heartbeats and the quorum check, and the leader-owned expiries (sessions,
//! containers, TTL nodes).
//!
//! Clients' writes (our own and forwarded ones) enter through `leader_accept_write`: with
//! `proposals_inflight_max` proposals uncommitted, they wait in the leader's write queue and
//! are proposed, in arrival order, as commits free the window (ZooKeeper's leader queues
//! requests in its processor pipeline rather than refusing them). Only past the hard
//! `writes_queued_max` is a write refused.
//!
//! Invariants: proposals get consecutive zxids of our epoch; a COMMIT names a zxid of our
//! epoch durable here and on a quorum, never below the previous commit point; the write
//! queue is within `writes_queued_max` and non-empty only while the window is full (so no
//! write overtakes an earlier one).

use tracing::{info, warn};

use super::LearnerPhase;
use crate::buggify::{buggify, Site};
use crate::replica::CloseReason;
use crate::replica::{push_send, Canary, Deferred, LogRecord, Replica, TimerKind};
use crate::session::negotiate_timeout_ms;
use crate::tree::{prep, PrepContext, PrepRejected, WriteOp};
use crate::txn::{Txn, TxnBody, TxnHeader};
use crate::types::{ConnId, ErrorCode, Id, ServerId, SessionId, Zxid};
use crate::zab::{Origin, PeerMessage, Role};

impl Replica {
    pub(crate) fn on_self_ack(&mut self, zxid: Zxid) {
        let l = self.leader();
        l.self_durable = l.self_durable.max(zxid);
        self.maybe_commit();
    }

    /// COMMIT the highest zxid of our epoch durable on a quorum that includes us.
    pub(super) fn maybe_commit(&mut self) {
        let quorum = self.cfg.quorum();
        let Role::Leading(l) = &self.role else {
            panic!("not leading")
        };
        if !l.is_established() {
            return;
        }
        // The commit point never passes our own durable log: an ACK for what is already
        // committed (most of them, once a quorum has acked) changes nothing.
        if l.self_durable <= self.history.committed() {
            return;
        }
        let point = if quorum == 1 || self.canary(Canary::CommitWithoutQuorum) {
            l.self_durable
        } else {
            match quorum_acked(
                l.learners
                    .values()
                    .filter(|x| x.phase == LearnerPhase::Active)
                    .map(|x| x.acked),
                quorum - 1,
            ) {
                Some(z) => l.self_durable.min(z),
                None => return,
            }
        };
        if point <= self.history.committed() || point.epoch() != l.epoch {
            return;
        }
        for p in l.streaming_learners() {
            push_send(
                &mut self.out,
                self.cfg.id,
                p,
                PeerMessage::Commit { zxid: point },
            );
        }
        self.commit_through(point);
        self.propose_queued_writes();
    }

    /// A client's write reached the leader: propose it now, or queue it behind the writes
    /// already waiting for the proposal window.
    pub(crate) fn leader_accept_write(&mut self, w: QueuedWrite) {
        let window_full = self.history.uncommitted_len() >= self.cfg.proposals_inflight_max;
        let queued = self.leader_ref().queued.len();
        if queued == 0 && !window_full {
            self.propose_write(w);
            return;
        }
        if queued >= self.cfg.writes_queued_max {
            warn!(queued, "leader write queue full; refusing a write");
            self.refuse_write(&w);
            return;
        }
        self.leader().queued.push_back(w);
    }

    /// Proposes queued writes, oldest first, while the window has room.
    fn propose_queued_writes(&mut self) {
        loop {
            let room = self.history.uncommitted_len() < self.cfg.proposals_inflight_max;
            let Role::Leading(l) = &mut self.role else {
                return;
            };
            if !room || !l.is_established() {
                return;
            }
            let Some(w) = l.queued.pop_front() else {
                return;
            };
            self.propose_write(w);
        }
    }

    fn propose_write(&mut self, w: QueuedWrite) {
        match self.propose(w.session, w.cxid, &w.op, &w.auth, w.requester) {
            Ok(zxid) => {
                if let Some(conn) = w.conn {
                    self.pipeline_on_own_proposal(zxid, conn);
                }
            }
            Err(e) => {
                warn!(?e, session = %w.session, cxid = w.cxid, "write refused");
                self.refuse_write(&w);
            }
        }
    }

    /// Our client's connection is closed; a forwarded write is answered with `Rejected`
    /// (the learner closes its client's connection).
    fn refuse_write(&mut self, w: &QueuedWrite) {
        match (w.conn, w.requester) {
            (Some(conn), _) => self.pipeline_close(conn, CloseReason::Overloaded),
            (
                None,
                Requester::Client {
                    server,
                    origin: Some(origin),
                },
            ) => self.emit_send(server, PeerMessage::Rejected { origin }),
            (None, _) => {}
        }
    }

    /// Turns a write into the next transaction and broadcasts it. `Err` when the leader
    /// cannot take it (not established, too many in flight, zxid space exhausted, or prep
    /// refused it outright).
    pub(crate) fn propose(
        &mut self,
        session: SessionId,
        cxid: i32,
        op: &WriteOp,
        auth: &[Id],
        requester: Requester,
    ) -> Result<Zxid, ProposeError> {
        let inflight = self.history.uncommitted_len();
        let time = self.wall;
        let l = self.leader_ref();
        if !l.is_established() {
            return Err(ProposeError::NotEstablished);
        }
        if inflight >= self.cfg.proposals_inflight_max {
            return Err(ProposeError::Overloaded);
        }
        if l.next_counter == u32::MAX - 1 {
            // ZooKeeper's leader abdicates before the counter wraps, forcing a new epoch.
            info!("zxid counter exhausted; abdicating");
            self.start_election();
            return Err(ProposeError::NotEstablished);
        }
        let zxid = Zxid::new(l.epoch, l.next_counter + 1);
        let session = match op {
            // Session ids are the zxid of their createSession: unique across the ensemble
            // and across restarts, never 0, never a container / TTL marker.
            WriteOp::CreateSession { .. } => SessionId(zxid.0),
            _ => session,
        };
        let ctx = PrepContext {
            session,
            cxid,
            zxid,
            time,
            auth,
        };
        // ZooKeeper's leader-side `checkSession`: a client's session must be live, not being
        // closed, and owned by the server the request came through; otherwise the write
        // becomes a SessionExpired / SessionMoved error txn. This also keeps an ephemeral
        // from being created for a session whose close is in flight.
        let (origin, via) = match requester {
            Requester::Expiry => (None, None),
            Requester::Client { server, origin } => (origin, Some(server)),
        };
        let refused = match (op, via) {
            (WriteOp::CreateSession { .. }, _) | (_, None) => None,
            (_, Some(server)) => {
                if !self.history.tree.sessions().contains_key(&session)
                    || self.sessions.is_closing(session)
                {
                    Some(ErrorCode::SessionExpired)
                } else if self.sessions.owner(session).is_some_and(|o| o != server) {
                    Some(ErrorCode::SessionMoved)
                } else {
                    self.sessions.set_owner(session, server);
                    None
                }
            }
        };
        if let (WriteOp::CreateSession { .. }, Some(server)) = (op, via) {
            self.sessions.set_owner(session, server);
        }
        let session_live = refused.is_none();
        let clamped;
        let op = match op {
            WriteOp::CreateSession { timeout_ms } => {
                clamped = WriteOp::CreateSession {
                    timeout_ms: negotiate_timeout_ms(
                        *timeout_ms,
                        self.cfg.session_timeout_ms_min,
                        self.cfg.session_timeout_ms_max,
                    ),
                };
                &clamped
            }
            other => other,
        };
        let Role::Leading(l) = &mut self.role else {
            unreachable!("checked above")
        };
        let txn = if session_live {
            prep(&self.history.tree, &mut l.pending, &self.cfg.tree, &ctx, op)
                .map_err(ProposeError::Rejected)?
        } else {
            Txn::new(
                TxnHeader {
                    session,
                    cxid,
                    zxid,
                    time,
                },
                TxnBody::Error {
                    err: refused.expect("refused when not live"),
                },
            )
        };
        l.next_counter += 1;
        if session_live && matches!(op, WriteOp::CloseSession) {
            self.sessions.mark_closing(session);
        }
        self.history.append(txn.clone());
        self.emit_log_record(LogRecord::Txn(txn.clone()));
        let gen = self.role_gen;
        self.defer(Deferred::SelfAck { gen, zxid });
        let Role::Leading(l) = &self.role else {
            unreachable!("checked above")
        };
        for p in l.streaming_learners() {
            let msg = PeerMessage::Proposal {
                txn: txn.clone(),
                origin: origin.filter(|o| o.server == p),
            };
            push_send(&mut self.out, self.cfg.id, p, msg);
        }
        Ok(zxid)
    }

    pub(crate) fn on_leader_tick_expired(&mut self) {
        let now = self.now;
        let tick = self.cfg.tick_ns;
        let quorum = self.cfg.quorum();
        let sync_limit_ns = self.cfg.sync_limit_ticks * tick;
        let l = self.leader_ref();
        if !l.is_established() {
            if now.since(l.started) > self.cfg.init_limit_ticks * tick {
                info!(epoch = l.epoch.0, "leader not established within initLimit");
                self.start_election();
                return;
            }
            self.timers.set(TimerKind::LeaderTick, now.add_ns(tick));
            return;
        }
        let alive = l
            .learners
            .values()
            .filter(|x| x.phase == LearnerPhase::Active && now.since(x.last_heard) <= sync_limit_ns)
            .count();
        if alive + 1 < quorum {
            info!(
                epoch = l.epoch.0,
                alive, "leader lost its quorum; stepping down"
            );
            self.start_election();
            return;
        }
        let mut i = 0;
        // Indexed (the buggify draw needs `self` mutably between sends).
        loop {
            let next = self.leader_ref().streaming_learners().nth(i);
            let Some(p) = next else { break };
            i += 1;
            self.emit_send(p, PeerMessage::Ping);
            if buggify!(self, Site::ExtraPing) {
                self.emit_send(p, PeerMessage::Ping);
            }
        }
        self.expire_sessions();
        self.expire_nodes();
        self.timers.set(TimerKind::LeaderTick, now.add_ns(tick));
    }

    fn expire_sessions(&mut self) {
        for s in self.sessions.expired(self.now) {
            info!(session = %s, "session expired");
            let _ = self.propose(s, 0, &WriteOp::CloseSession, &[], Requester::Expiry);
        }
    }

    /// Containers and TTL nodes, issued only when nothing is in flight (so a due node is
    /// never proposed twice).
    fn expire_nodes(&mut self) {
        if self.history.uncommitted_len() > 0 {
            return;
        }
        for (path, _) in self.history.tree.due_for_expiry(self.wall) {
            let op = WriteOp::DeleteExpired { path };
            let _ = self.propose(SessionId(0), 0, &op, &[], Requester::Expiry);
        }
    }
}

/// A client's write accepted by the leader and not proposed yet.
#[derive(Clone, Debug)]
pub(crate) struct QueuedWrite {
    pub(crate) session: SessionId,
    pub(crate) cxid: i32,
    pub(crate) op: WriteOp,
    pub(crate) auth: Vec<Id>,
    pub(crate) requester: Requester,
    /// Our own client's connection (`None` for a forwarded write).
    pub(crate) conn: Option<ConnId>,
}

/// Who a proposal is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Requester {
    /// A client of `server` (the leader itself, or a learner that forwarded it).
    Client {
        server: ServerId,
        origin: Option<Origin>,
    },
    /// The leader's own session / container / TTL expiry.
    Expiry,
}

/// Why `propose` did not issue a transaction.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ProposeError {
    NotEstablished,
    Overloaded,
    Rejected(PrepRejected),
}

/// The highest zxid that at least `k` of `acks` have reached (the `k`-th largest), or `None`
/// with fewer than `k` acks. Without allocating for ensembles up to 16 learners (every
/// ACK at the leader comes here).
fn quorum_acked(acks: impl Iterator<Item = Zxid> + Clone, k: usize) -> Option<Zxid> {
    assert!(k >= 1, "a quorum of learners is at least one");
    let mut buf = [Zxid(0); 16];
    let mut n = 0;
    for a in acks.clone() {
        if n == buf.len() {
            let mut all: Vec<Zxid> = acks.collect();
            all.sort_unstable_by(|a, b| b.cmp(a));
            return all.get(k - 1).copied();
        }
        buf[n] = a;
        n += 1;
    }
    if n < k {
        return None;
    }
    let acks = &mut buf[..n];
    acks.sort_unstable_by(|a, b| b.cmp(a));
    Some(acks[k - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The k-th largest ack, on the stack (≤ 16 learners) and past it, against a sort.
    #[test]
    fn quorum_acked_is_the_kth_largest() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for n in 0..40usize {
            let acks: Vec<Zxid> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    Zxid((x % 50) as i64)
                })
                .collect();
            let mut sorted = acks.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            for k in 1..n + 3 {
                assert_eq!(
                    quorum_acked(acks.iter().copied(), k),
                    sorted.get(k - 1).copied(),
                    "n {n} k {k}"
                );
            }
        }
    }
}
