//! The request pipeline: client connections, the handshake (reference §3.3), and the
//! per-connection FIFO of replies (§4).
//!
//! Inputs: `ClientConnect`, `ClientRequest`, `ClientClosed`; applied transactions (from
//! `Replica::commit_through`); forwarded-proposal / sync-reply / rejection notices from the
//! follower role. Outputs: `ConnectResponse`, `Reply`, `CloseClient`, forwarded `Request` /
//! `Sync` peer messages (follower) or proposals (leader).
//!
//! Each connection has one queue of [`Pending`] items in request order; only the head may
//! be answered, so a read queued behind a write on the same connection waits for it
//! (ZooKeeper's per-session ordering) and then reads the state that includes it. Pings and
//! auth are out of band (the client does not match them against its queue).
//!
//! Throttling (ZooKeeper's `globalOutstandingLimit`): `outstanding` counts the items queued
//! on every connection. A request that arrives while it is at `client_outstanding_max`
//! pauses its connection (`Output::PauseReads`); when it is back to half that, every paused
//! connection is resumed (`Output::ResumeReads`). Load is never a reason to disconnect: only
//! a connection past the hard `client_requests_queued_max` (it kept sending while paused) is
//! closed as `Overloaded`.
//!
//! Invariants: every queue is within `client_requests_queued_max` (+1 for the handshake);
//! `outstanding` is the sum of the queue lengths; `paused` holds exactly the open
//! connections that were paused and not resumed;
//! a connection is in `by_session` iff its handshake completed; the pipeline serves
//! (accepts connections) only while its replica is an established leader or an up-to-date
//! follower, and drops every connection when that ends.

mod convert;
mod handshake;
mod watches;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tracing::{debug, warn};

use crate::proto::jute::{
    ConnectResponse, ErrorReply, ReplyHeader, Request, RequestHeader, ResponseBody,
};
use crate::replica::{CloseReason, Output, Replica};
use crate::session::session_password;
use crate::tree::{digest_auth, WriteOp};
use crate::txn::{ApplyOutcome, Txn, TxnBody};
use crate::types::{ConnId, ErrorCode, Id, OpCode, SessionId, Zxid};
use crate::watch::WatchManager;
use crate::zab::leader::{QueuedWrite, Requester};
use crate::zab::{Origin, PeerMessage, Role};
use convert::{classify, read_reply, write_reply, Close, Kind};
use watches::is_watch_op;

/// One queued answer.
#[derive(Debug)]
pub(super) enum Pending {
    /// A new session's handshake, answered when its createSession is applied.
    Handshake {
        read_only: Option<bool>,
        response: Option<ConnectResponse>,
    },
    Read {
        header: RequestHeader,
        request: Request,
    },
    Write {
        xid: i32,
        op: OpCode,
        sub_ops: Vec<OpCode>,
        result: Option<(ErrorCode, Option<ResponseBody>, Zxid)>,
    },
    Sync {
        xid: i32,
        path: String,
        until: Option<Zxid>,
    },
    Immediate {
        xid: i32,
        err: ErrorCode,
        body: Option<ResponseBody>,
        close: Close,
    },
}

#[derive(Debug, Default)]
pub(super) struct Conn {
    session: Option<SessionId>,
    auth: Vec<Id>,
    queue: VecDeque<Pending>,
    session_closed: bool,
}

impl Conn {
    /// A connection whose first queued item is `first`.
    pub(super) fn with_first(first: Pending) -> Conn {
        Conn {
            queue: VecDeque::from([first]),
            ..Conn::default()
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Pipeline {
    serving: bool,
    conns: BTreeMap<ConnId, Conn>,
    by_session: BTreeMap<SessionId, ConnId>,
    /// Our clients' transactions by zxid (leader: at propose; follower: at PROPOSAL).
    awaiting: BTreeMap<Zxid, ConnId>,
    /// Follower: forwarded writes and syncs by request number.
    forwarded: BTreeMap<u64, ConnId>,
    next_request: u64,
    /// Follower: sessions touched since the last heartbeat answer.
    touched: BTreeSet<SessionId>,
    /// Watches of this server's connections.
    pub(crate) watches: WatchManager,
    /// Items queued over all connections (requests read and not answered yet).
    outstanding: usize,
    /// `Pending::Sync` items queued over all connections: when none is, an applied txn
    /// cannot release a waiting sync and the per-apply walk over the connections is skipped.
    syncs_queued: usize,
    /// Connections told to stop reading (`Output::PauseReads`), not resumed yet.
    paused: BTreeSet<ConnId>,
}

impl Pipeline {
    pub(crate) fn has_conn(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    pub(crate) fn take_touched(&mut self) -> Vec<SessionId> {
        std::mem::take(&mut self.touched).into_iter().collect()
    }

    /// Number of open client connections (tests, metrics).
    pub(crate) fn conn_count(&self) -> usize {
        self.conns.len()
    }

    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub(crate) fn check_invariants(&self, cfg: &crate::replica::Config) {
        // One walk for every per-connection fact and both counts.
        let (mut queued, mut syncs) = (0, 0);
        for (id, c) in &self.conns {
            assert!(
                c.queue.len() <= cfg.client_requests_queued_max + 1,
                "conn {id:?} queue over its bound"
            );
            if let Some(s) = c.session {
                assert_eq!(
                    self.by_session.get(&s),
                    Some(id),
                    "session index out of sync"
                );
            }
            queued += c.queue.len();
            syncs += c
                .queue
                .iter()
                .filter(|x| matches!(x, Pending::Sync { .. }))
                .count();
        }
        assert!(self.conns.len() <= cfg.clients_max, "too many connections");
        assert_eq!(self.outstanding, queued, "outstanding count out of sync");
        assert_eq!(self.syncs_queued, syncs, "queued sync count out of sync");
        for id in &self.paused {
            assert!(
                self.conns.contains_key(id),
                "paused connection {id:?} is gone"
            );
        }
        self.watches.check_invariants();
        if !self.serving {
            assert!(self.conns.is_empty(), "connections while not serving");
        }
    }
}

impl Replica {
    pub(crate) fn pipeline_start_serving(&mut self) {
        self.pipeline.serving = true;
    }

    /// Drops every connection (the clients reconnect, possibly to another server).
    pub(crate) fn pipeline_stop_serving(&mut self) {
        let p: &mut Pipeline = &mut self.pipeline;
        p.serving = false;
        let conns: Vec<ConnId> = p.conns.keys().copied().collect();
        p.conns.clear();
        p.by_session.clear();
        p.awaiting.clear();
        p.forwarded.clear();
        p.touched.clear();
        p.watches = WatchManager::default();
        p.outstanding = 0;
        p.syncs_queued = 0;
        p.paused.clear();
        for conn in conns {
            self.emit(Output::CloseClient {
                conn,
                reason: CloseReason::NotServing,
            });
        }
    }

    pub(super) fn close_conn(&mut self, conn: ConnId, reason: CloseReason) {
        self.forget_conn(conn);
        self.emit(Output::CloseClient { conn, reason });
    }

    pub(crate) fn pipeline_close(&mut self, conn: ConnId, reason: CloseReason) {
        self.close_conn(conn, reason);
    }

    fn forget_conn(&mut self, conn: ConnId) {
        let p: &mut Pipeline = &mut self.pipeline;
        if let Some(c) = p.conns.remove(&conn) {
            if let Some(s) = c.session {
                p.by_session.remove(&s);
            }
            p.outstanding -= c.queue.len();
            p.syncs_queued -= c
                .queue
                .iter()
                .filter(|x| matches!(x, Pending::Sync { .. }))
                .count();
        }
        p.paused.remove(&conn);
        p.watches.remove_connection(conn);
        // Nothing may later be attributed to this id (a driver reusing it must not receive
        // a closed connection's results).
        p.awaiting.retain(|_, c| *c != conn);
        p.forwarded.retain(|_, c| *c != conn);
        // Its writes still waiting for the leader's proposal window go too: nobody could be
        // answered, and a reused id must not be.
        if let Role::Leading(l) = &mut self.role {
            l.forget_conn_writes(conn);
        }
    }

    pub(crate) fn on_client_closed(&mut self, conn: ConnId) {
        self.forget_conn(conn);
    }

    pub(crate) fn on_client_request(
        &mut self,
        conn: ConnId,
        header: RequestHeader,
        request: Request,
    ) {
        let Some(c) = self.pipeline.conns.get(&conn) else {
            self.counters.client_inputs_dropped += 1;
            return;
        };
        let Some(session) = c.session else {
            // §3.3 step 6: nothing is read before the handshake answer.
            warn!(?conn, "request before the handshake completed");
            self.counters.client_inputs_dropped += 1;
            self.close_conn(conn, CloseReason::ProtocolViolation);
            return;
        };
        let queued = c.queue.len();
        self.touch_session(session);
        match &request {
            Request::Ping if header.xid == crate::proto::jute::xid::PING => {
                let zxid = self.history.applied();
                self.emit_reply(
                    conn,
                    ReplyHeader::new(header.xid, zxid, ErrorCode::Ok),
                    None,
                );
                return;
            }
            // Dispatched on the op code whatever the xid (ZooKeeperServer.processPacket);
            // the reply echoes the xid (-4 from the Java client, ordinary from others).
            Request::Auth(p) => {
                if p.scheme == "digest" {
                    let ids = digest_auth(&p.auth, None);
                    if let Some(c) = self.pipeline.conns.get_mut(&conn) {
                        for id in ids {
                            if !c.auth.contains(&id) {
                                c.auth.push(id);
                            }
                        }
                    }
                    self.emit_reply(
                        conn,
                        ReplyHeader::new(header.xid, Zxid(0), ErrorCode::Ok),
                        None,
                    );
                } else {
                    let h = ReplyHeader::new(header.xid, Zxid(0), ErrorCode::AuthFailed);
                    self.emit_reply(conn, h, None);
                    self.close_conn(conn, CloseReason::AuthFailed);
                }
                return;
            }
            _ => {}
        }
        if queued >= self.cfg.client_requests_queued_max {
            // Only a client that ignores backpressure gets here (see `Config`).
            warn!(
                ?conn,
                queued, "client kept sending while paused; closing connection"
            );
            self.close_conn(conn, CloseReason::Overloaded);
            return;
        }
        self.throttle_on_request(conn);
        let xid = header.xid;
        let item = match classify(&request) {
            Kind::Read => Pending::Read { header, request },
            Kind::Write(op, sub_ops) => {
                self.push(
                    conn,
                    Pending::Write {
                        xid,
                        op: header.op,
                        sub_ops,
                        result: None,
                    },
                );
                self.submit_write(conn, session, xid, op);
                return;
            }
            Kind::Sync(path) => {
                let until = self.request_sync(conn);
                Pending::Sync { xid, path, until }
            }
            Kind::Immediate(err, body, close) => Pending::Immediate {
                xid,
                err,
                body,
                close,
            },
        };
        self.push(conn, item);
        self.drain(conn);
    }

    pub(crate) fn on_client_request_rejected(&mut self, conn: ConnId, reply: ErrorReply) {
        let Some(c) = self.pipeline.conns.get(&conn) else {
            self.counters.client_inputs_dropped += 1;
            return;
        };
        if c.session.is_none() || c.queue.len() >= self.cfg.client_requests_queued_max {
            self.close_conn(conn, CloseReason::ProtocolViolation);
            return;
        }
        warn!(?conn, xid = reply.xid, err = %reply.err, "undecodable client request");
        let body = reply
            .empty_multi_body
            .then(|| ResponseBody::Multi(crate::proto::jute::MultiResponse::default()));
        let close = if reply.close_after {
            Close::After
        } else {
            Close::No
        };
        self.push(
            conn,
            Pending::Immediate {
                xid: reply.xid,
                err: reply.err,
                body,
                close,
            },
        );
        self.drain(conn);
    }

    fn push(&mut self, conn: ConnId, item: Pending) {
        let sync = matches!(item, Pending::Sync { .. });
        if let Some(c) = self.pipeline.conns.get_mut(&conn) {
            c.queue.push_back(item);
            self.pipeline.outstanding += 1;
            self.pipeline.syncs_queued += usize::from(sync);
        }
    }

    /// A request is about to be queued on `conn`: pause the connection's reads if this
    /// server is at its outstanding limit (ZooKeeper's `ServerCnxn.disableRecv` when
    /// `shouldThrottle`). The request itself is still taken.
    fn throttle_on_request(&mut self, conn: ConnId) {
        let p: &mut Pipeline = &mut self.pipeline;
        if p.outstanding + 1 < self.cfg.client_outstanding_max || p.paused.contains(&conn) {
            return;
        }
        p.paused.insert(conn);
        debug!(
            ?conn,
            outstanding = p.outstanding,
            "throttling: pausing reads"
        );
        self.emit(Output::PauseReads { conn });
    }

    /// End of a step: once the outstanding count is back to half the limit, resume every
    /// paused connection (the hysteresis keeps a busy server from toggling per request).
    pub(crate) fn pipeline_resume_reads(&mut self) {
        // Read-only until there is something to resume (this runs after every step).
        let p = &self.pipeline;
        if p.paused.is_empty() || p.outstanding > self.cfg.client_outstanding_max / 2 {
            return;
        }
        let p: &mut Pipeline = &mut self.pipeline;
        for conn in std::mem::take(&mut p.paused) {
            self.emit(Output::ResumeReads { conn });
        }
    }

    /// Leader: where our history ends now. Follower: ask the leader (answered later).
    fn request_sync(&mut self, conn: ConnId) -> Option<Zxid> {
        match &self.role {
            Role::Leading(_) => Some(self.history.last_logged()),
            Role::Following(f) => {
                let leader = f.leader;
                let origin = self.new_origin(conn);
                self.emit_send(leader, PeerMessage::Sync { origin });
                None
            }
            Role::Looking(_) => panic!("serving while looking"),
        }
    }

    pub(super) fn new_origin(&mut self, conn: ConnId) -> Origin {
        let p: &mut Pipeline = &mut self.pipeline;
        p.next_request += 1;
        p.forwarded.insert(p.next_request, conn);
        Origin {
            server: self.cfg.id,
            request: p.next_request,
        }
    }

    /// Leader: propose now. Follower: forward to the leader.
    pub(super) fn submit_write(
        &mut self,
        conn: ConnId,
        session: SessionId,
        cxid: i32,
        op: WriteOp,
    ) {
        match &self.role {
            Role::Leading(_) => {
                let auth = self
                    .pipeline
                    .conns
                    .get(&conn)
                    .map(|c| c.auth.clone())
                    .unwrap_or_default();
                self.leader_accept_write(QueuedWrite {
                    session,
                    cxid,
                    op,
                    auth,
                    requester: Requester::Client {
                        server: self.cfg.id,
                        origin: None,
                    },
                    conn: Some(conn),
                });
            }
            Role::Following(f) => {
                let leader = f.leader;
                let auth = self
                    .pipeline
                    .conns
                    .get(&conn)
                    .map(|c| c.auth.clone())
                    .unwrap_or_default();
                let origin = self.new_origin(conn);
                self.emit_send(
                    leader,
                    PeerMessage::Request {
                        origin,
                        session,
                        cxid,
                        op: Box::new(op),
                        auth,
                    },
                );
            }
            Role::Looking(_) => panic!("serving while looking"),
        }
    }

    /// Leader: our client's write became the proposal `zxid`.
    pub(crate) fn pipeline_on_own_proposal(&mut self, zxid: Zxid, conn: ConnId) {
        self.pipeline.awaiting.insert(zxid, conn);
    }

    pub(crate) fn pipeline_on_forwarded_proposal(&mut self, request: u64, zxid: Zxid) {
        if let Some(conn) = self.pipeline.forwarded.remove(&request) {
            self.pipeline.awaiting.insert(zxid, conn);
        }
    }

    pub(crate) fn pipeline_on_sync_reply(&mut self, request: u64, zxid: Zxid) {
        let Some(conn) = self.pipeline.forwarded.remove(&request) else {
            return;
        };
        if let Some(c) = self.pipeline.conns.get_mut(&conn) {
            if let Some(Pending::Sync { until, .. }) = c
                .queue
                .iter_mut()
                .find(|p| matches!(p, Pending::Sync { until: None, .. }))
            {
                *until = Some(zxid);
            }
        }
        self.drain(conn);
    }

    pub(crate) fn pipeline_on_rejected(&mut self, request: u64) {
        if let Some(conn) = self.pipeline.forwarded.remove(&request) {
            warn!(
                ?conn,
                request, "leader refused a forwarded write; closing connection"
            );
            self.close_conn(conn, CloseReason::Overloaded);
        }
    }

    /// A committed transaction was applied: complete our client's request, release
    /// whatever it unblocks, and drop the connection of a closed session.
    pub(crate) fn pipeline_on_applied(&mut self, txn: &Txn, outcome: &ApplyOutcome) {
        let zxid = txn.header.zxid;
        // Looked up read-only first: most applied txns are no client's of ours, and a
        // mutable borrow marks the pipeline for its invariant walk.
        if let Some(conn) = self.pipeline.awaiting.get(&zxid).copied() {
            self.pipeline.awaiting.remove(&zxid);
            self.complete(conn, txn, outcome);
            self.drain(conn);
        }
        if let TxnBody::CloseSession { session, .. } = &*txn.body {
            if let Some(conn) = self.pipeline.by_session.get(session).copied() {
                if let Some(c) = self.pipeline.conns.get_mut(&conn) {
                    c.session_closed = true;
                }
                self.drain(conn);
                if self.pipeline.conns.contains_key(&conn) {
                    self.close_conn(conn, CloseReason::SessionClosed);
                }
            }
        }
        // Syncs waiting for this point.
        if self.pipeline.syncs_queued == 0 {
            return;
        }
        let waiting: Vec<ConnId> = self
            .pipeline
            .conns
            .iter()
            .filter(|(_, c)| matches!(c.queue.front(), Some(Pending::Sync { until: Some(u), .. }) if *u <= zxid))
            .map(|(id, _)| *id)
            .collect();
        for conn in waiting {
            self.drain(conn);
        }
    }

    fn complete(&mut self, conn: ConnId, txn: &Txn, outcome: &ApplyOutcome) {
        let zxid = txn.header.zxid;
        let session = txn.header.session;
        let secret = self.cfg.ensemble_secret;
        let p: &mut Pipeline = &mut self.pipeline;
        let Some(c) = p.conns.get_mut(&conn) else {
            return;
        };
        let slot = c.queue.iter_mut().find(|x| {
            matches!(
                x,
                Pending::Handshake { response: None, .. } | Pending::Write { result: None, .. }
            )
        });
        let matched = match slot {
            Some(Pending::Handshake {
                read_only,
                response,
            }) => {
                let TxnBody::CreateSession { timeout_ms, .. } = &*txn.body else {
                    return self.on_mismatched_txn(conn, zxid);
                };
                c.session = Some(session);
                p.by_session.insert(session, conn);
                *response = Some(ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: *timeout_ms,
                    session_id: session,
                    passwd: session_password(session, secret),
                    read_only: *read_only,
                });
                true
            }
            Some(Pending::Write {
                op,
                sub_ops,
                result,
                ..
            }) => {
                let (err, body) = write_reply(*op, sub_ops, &outcome.result);
                *result = Some((err, body, zxid));
                true
            }
            _ => false,
        };
        if !matched {
            self.on_mismatched_txn(conn, zxid);
        }
    }

    /// A txn attributed to this connection does not fit its queue: only a forged PROPOSAL
    /// origin can do that. The connection's view is broken; close it.
    fn on_mismatched_txn(&mut self, conn: ConnId, zxid: Zxid) {
        warn!(?conn, %zxid, "applied txn matches no pending request of its connection");
        self.counters.peer_messages_dropped += 1;
        self.close_conn(conn, CloseReason::ProtocolViolation);
    }

    /// Answers every ready item at the head of the connection's queue, in order.
    fn drain(&mut self, conn: ConnId) {
        loop {
            let applied = self.history.applied();
            let p: &mut Pipeline = &mut self.pipeline;
            let Some(c) = p.conns.get_mut(&conn) else {
                return;
            };
            let ready = match c.queue.front() {
                None => return,
                Some(Pending::Handshake { response, .. }) => response.is_some(),
                Some(Pending::Write { result, .. }) => result.is_some(),
                Some(Pending::Sync { until, .. }) => until.is_some_and(|u| u <= applied),
                Some(Pending::Read { .. } | Pending::Immediate { .. }) => true,
            };
            if !ready {
                return;
            }
            let item = c.queue.pop_front().expect("front exists");
            p.outstanding -= 1;
            if matches!(item, Pending::Sync { .. }) {
                p.syncs_queued -= 1;
            }
            let session = c.session.unwrap_or_default();
            match item {
                Pending::Handshake { response, .. } => {
                    let response = response.expect("ready");
                    self.emit(Output::ConnectResponse { conn, response });
                }
                Pending::Write {
                    xid, op, result, ..
                } => {
                    let (err, body, zxid) = result.expect("ready");
                    if err == ErrorCode::SessionMoved {
                        // Not a reply: the connection is stale (reference §4, §12).
                        self.close_conn(conn, CloseReason::SessionMoved);
                        return;
                    }
                    self.emit_reply(conn, ReplyHeader::new(xid, zxid, err), body);
                    if op == OpCode::CloseSession && err == ErrorCode::Ok {
                        self.close_conn(conn, CloseReason::SessionClosed);
                        return;
                    }
                }
                Pending::Sync { xid, path, .. } => {
                    let body = ResponseBody::Sync(crate::proto::jute::PathResponse { path });
                    self.emit_reply(
                        conn,
                        ReplyHeader::new(xid, applied, ErrorCode::Ok),
                        Some(body),
                    );
                }
                Pending::Read { header, request } if is_watch_op(&request) => {
                    self.answer_watch_op(conn, header.xid, &request);
                }
                Pending::Read { header, request } => {
                    let auth = &self.pipeline.conns[&conn].auth;
                    let (err, body) = read_reply(&self.history.tree, &request, session, auth);
                    if !self.register_read_watch(conn, &request, err) {
                        self.close_conn(conn, CloseReason::Overloaded);
                        return;
                    }
                    self.emit_reply(conn, ReplyHeader::new(header.xid, applied, err), body);
                }
                Pending::Immediate {
                    xid,
                    err,
                    body,
                    close,
                } => {
                    // Bodies here are intentional (the empty multi of a rejected multiRead).
                    let header = ReplyHeader::new(xid, applied, err);
                    let body = body.map(Box::new);
                    self.emit(Output::Reply { conn, header, body });
                    if close == Close::After {
                        self.close_conn(conn, CloseReason::ProtocolViolation);
                        return;
                    }
                }
            }
        }
    }

    fn emit_reply(&mut self, conn: ConnId, header: ReplyHeader, body: Option<ResponseBody>) {
        let body = if header.err == 0 {
            body.map(Box::new)
        } else {
            None
        };
        self.emit(Output::Reply { conn, header, body });
    }
}
