//! The session handshake (reference §3.3): refuse when not serving or full, refuse a
//! client that has seen a newer zxid, clamp the timeout, then either create a session (a
//! replicated createSession, answered when applied) or resume one (password check, move it
//! to this connection, revalidate with the leader), or answer `timeOut = 0` and close.

use super::{Conn, Pending};
use crate::proto::jute::{ConnectRequest, ConnectResponse};
use crate::replica::{CloseReason, Output, Replica};
use crate::session::{negotiate_timeout_ms, session_password, SESSION_PASSWORD_LEN};
use crate::tree::WriteOp;
use crate::types::{ConnId, SessionId};
use crate::zab::{PeerMessage, Role};
use tracing::warn;

impl Replica {
    pub(super) fn touch_session(&mut self, s: SessionId) {
        match &self.role {
            Role::Leading(_) => self.sessions.touch(s, self.now, self.cfg.tick_ns),
            _ => {
                self.pipeline.touched.insert(s);
            }
        }
    }

    pub(crate) fn on_client_connect(&mut self, conn: ConnId, req: ConnectRequest) {
        if !self.pipeline.serving {
            self.emit(Output::CloseClient {
                conn,
                reason: CloseReason::NotServing,
            });
            return;
        }
        if self.pipeline.conns.contains_key(&conn) {
            warn!(?conn, "second handshake on a connection");
            self.counters.client_inputs_dropped += 1;
            self.close_conn(conn, CloseReason::ProtocolViolation);
            return;
        }
        if self.pipeline.conns.len() >= self.cfg.clients_max {
            self.emit(Output::CloseClient {
                conn,
                reason: CloseReason::Overloaded,
            });
            return;
        }
        if req.last_zxid_seen > self.history.applied() {
            // The client has seen a newer state: it must try another server (§3.3 step 2).
            self.emit(Output::CloseClient {
                conn,
                reason: CloseReason::StaleServer,
            });
            return;
        }
        let read_only = req.read_only.map(|_| false);
        let timeout_ms = negotiate_timeout_ms(
            req.timeout_ms,
            self.cfg.session_timeout_ms_min,
            self.cfg.session_timeout_ms_max,
        );
        if req.session_id == SessionId(0) {
            let c = Conn::with_first(Pending::Handshake {
                read_only,
                response: None,
            });
            self.pipeline.conns.insert(conn, c);
            self.pipeline.outstanding += 1;
            self.submit_write(conn, SessionId(0), 0, WriteOp::CreateSession { timeout_ms });
            return;
        }
        let s = req.session_id;
        let stored = self.history.tree.sessions().get(&s).copied();
        let valid = stored.is_some()
            && req.passwd == session_password(s, self.cfg.ensemble_secret)
            && !self.sessions.is_closing(s);
        let Some(stored_timeout) = stored.filter(|_| valid) else {
            self.emit(Output::ConnectResponse {
                conn,
                response: ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: 0,
                    session_id: SessionId(0),
                    passwd: vec![0; SESSION_PASSWORD_LEN],
                    read_only,
                },
            });
            self.emit(Output::CloseClient {
                conn,
                reason: CloseReason::InvalidSession,
            });
            return;
        };
        if let Some(old) = self.pipeline.by_session.get(&s).copied() {
            self.close_conn(old, CloseReason::SessionMoved);
        }
        let c = Conn {
            session: Some(s),
            ..Default::default()
        };
        self.pipeline.conns.insert(conn, c);
        self.pipeline.by_session.insert(s, conn);
        self.touch_session(s);
        // The session is now attached here: tell the leader (ZooKeeper's revalidation).
        match &self.role {
            Role::Leading(_) => self.sessions.set_owner(s, self.cfg.id),
            Role::Following(f) => {
                let leader = f.leader;
                self.emit_send(leader, PeerMessage::Revalidate { session: s });
            }
            Role::Looking(_) => panic!("serving while looking"),
        }
        self.emit(Output::ConnectResponse {
            conn,
            response: ConnectResponse {
                protocol_version: 0,
                timeout_ms: stored_timeout,
                session_id: s,
                passwd: session_password(s, self.cfg.ensemble_secret),
                read_only,
            },
        });
    }
}
