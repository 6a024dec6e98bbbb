//! Client transport (FIFO per connection, with delays) and the client state machine:
//! connect, handshake, issue requests, ping, reconnect, close or abandon sessions, and
//! feed every reply to the client-side checkers.

use arbor_core::proto::jute::{
    xid, ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, ResponseBody,
};
use arbor_core::replica::Input;
use arbor_core::types::{ConnId, SessionId, Zxid};
use rand::Rng;

use super::{Conn, Ev, World, C2S, CONNECT_TIMEOUT_NS, MS, S2C, US};
use crate::check::{session_fifo, CheckResult};
use crate::client::{gen_op, ClientConn, HistEntry, Mode};

impl World {
    // ----- client transport -----

    pub(super) fn server_to_client(&mut self, conn: u64, msg: S2C) {
        let mut d = self
            .rng
            .net
            .gen_range(10 * US..=self.opts.net_delay_us_max.max(11) * US);
        if let Some(n) = self.conns.get(&conn).map(|c| c.server) {
            d += self.slow_delay(n);
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let at = (self.now + d).max(c.s2c_last);
        c.s2c_last = at;
        self.push(at, Ev::ToClient { conn, msg });
    }

    pub(super) fn client_to_server(&mut self, conn: u64, msg: C2S) {
        let mut d = self
            .rng
            .net
            .gen_range(10 * US..=self.opts.net_delay_us_max.max(11) * US);
        if let Some(n) = self.conns.get(&conn).map(|c| c.server) {
            d += self.slow_delay(n);
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let at = (self.now + d).max(c.c2s_last);
        c.c2s_last = at;
        self.push(at, Ev::ToServer { conn, msg });
    }

    pub(super) fn deliver_to_server(&mut self, conn: u64, msg: C2S) -> CheckResult {
        let Some(c) = self.conns.get(&conn) else {
            return Ok(());
        };
        let n = c.server;
        if !c.server_open || c.server_inc != self.nodes[n].inc || self.nodes[n].replica.is_none() {
            return Ok(());
        }
        let c = self.conns.get_mut(&conn).expect("exists");
        if c.paused || !c.unread.is_empty() {
            // Not read: it waits in the receive buffer, behind anything already there.
            c.unread.push_back(msg);
            return Ok(());
        }
        self.feed_server(conn, msg)
    }

    /// The server reads again: feed the buffered messages, in order, until it pauses again.
    pub(super) fn read_unread(&mut self, conn: u64) -> CheckResult {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return Ok(());
            };
            let n = c.server;
            if c.paused {
                return Ok(());
            }
            let Some(msg) = c.unread.pop_front() else {
                return Ok(());
            };
            if !c.server_open
                || c.server_inc != self.nodes[n].inc
                || self.nodes[n].replica.is_none()
            {
                c.unread.clear();
                return Ok(());
            }
            self.feed_server(conn, msg)?;
        }
    }

    fn feed_server(&mut self, conn: u64, msg: C2S) -> CheckResult {
        let n = self.conns[&conn].server;
        let id = ConnId(conn);
        match msg {
            C2S::Closed => {
                self.conns.get_mut(&conn).expect("exists").server_open = false;
                self.step(n, Input::ClientClosed { conn: id })
            }
            C2S::Connect(request) => self.step(
                n,
                Input::ClientConnect {
                    conn: id,
                    request: *request,
                },
            ),
            C2S::Request(header, request) => self.step(
                n,
                Input::ClientRequest {
                    conn: id,
                    header,
                    request,
                },
            ),
        }
    }

    pub(super) fn deliver_to_client(&mut self, conn: u64, msg: S2C) -> CheckResult {
        let Some(c) = self.conns.get(&conn) else {
            return Ok(());
        };
        if !c.client_open {
            return Ok(());
        }
        let ci = c.client;
        let server = c.server;
        match msg {
            S2C::Closed(_) | S2C::Lost => {
                let why = match msg {
                    S2C::Closed(r) => format!("closed {r:?}"),
                    _ => "lost".to_string(),
                };
                self.line(format!("client {ci} conn {conn} {why}"));
                self.chk.watches.on_closed(conn);
                self.conns.get_mut(&conn).expect("exists").client_open = false;
                self.client_lost_conn(ci);
                Ok(())
            }
            S2C::Connected(resp, server_applied) => {
                self.client_connected(ci, *resp, server_applied)
            }
            S2C::Notify(z) => {
                self.notifications += 1;
                self.exercised[crate::check::WATCH_ORDER] += 1;
                self.chk.watches.on_notify(conn, z)
            }
            S2C::Reply(h, body) => {
                self.chk.watches.on_reply(conn, h.zxid);
                self.client_reply(ci, server, h, body.map(|b| *b))
            }
        }
    }

    // ----- clients -----

    pub(super) fn wake_client(&mut self, c: usize, at: u64) {
        self.clients[c].wake_gen += 1;
        let gen = self.clients[c].wake_gen;
        self.push(at, Ev::ClientWake { client: c, gen });
    }

    pub(super) fn think(&mut self) -> u64 {
        self.rng
            .client
            .gen_range(MS..=self.opts.think_ms_max.max(2) * MS)
    }

    pub(super) fn client_drop_conn(&mut self, id: u64) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if !c.client_open {
            return;
        }
        c.client_open = false;
        let ci = c.client;
        self.client_to_server(id, C2S::Closed);
        self.client_lost_conn(ci);
    }

    pub(super) fn client_lost_conn(&mut self, ci: usize) {
        let now = self.now;
        let cl = &mut self.clients[ci];
        if let Some(conn) = cl.conn.take() {
            for h in conn.outstanding {
                cl.history[h].lost = true;
            }
        }
        cl.connecting = false;
        if cl.mode == Mode::Closing {
            cl.mode = Mode::Idle;
            cl.session = None;
            cl.resume_ns = now + 100 * MS;
        }
        let d = self.rng.client.gen_range(10 * MS..300 * MS);
        self.wake_client(ci, now + d);
    }

    pub(super) fn client_connected(
        &mut self,
        ci: usize,
        resp: ConnectResponse,
        server_applied: Zxid,
    ) -> CheckResult {
        let now = self.now;
        if resp.timeout_ms == 0 {
            // Session expired (or invalid): its ephemerals must be gone everywhere at or
            // beyond this server's applied zxid.
            if let Some((s, _)) = self.clients[ci].session.take() {
                self.line(format!("client {ci} session {s} expired"));
                self.session_expired(s, server_applied);
            }
            let cl = &mut self.clients[ci];
            cl.last_zxid_seen = Zxid(0);
            if let Some(conn) = cl.conn.take() {
                self.client_drop_known(conn.conn.0);
            }
            self.clients[ci].connecting = false;
            let d = self.think();
            self.wake_client(ci, now + d);
            return Ok(());
        }
        let cl = &mut self.clients[ci];
        let Some(conn) = cl.conn.as_mut() else {
            return Ok(());
        };
        conn.established = true;
        conn.last_send_ns = now;
        cl.connecting = false;
        cl.negotiated_ms = resp.timeout_ms;
        cl.session = Some((resp.session_id, resp.passwd));
        let s = resp.session_id;
        self.line(format!("client {ci} session {s} connected"));
        self.wake_client(ci, now + MS);
        Ok(())
    }

    pub(super) fn client_drop_known(&mut self, id: u64) {
        if let Some(c) = self.conns.get_mut(&id) {
            if c.client_open {
                c.client_open = false;
                self.client_to_server(id, C2S::Closed);
            }
        }
    }

    pub(super) fn client_reply(
        &mut self,
        ci: usize,
        server: usize,
        h: ReplyHeader,
        body: Option<ResponseBody>,
    ) -> CheckResult {
        let now = self.now;
        let sid = self.nodes[server].id.0;
        let heal = !self.in_fault_phase;
        let cl = &mut self.clients[ci];
        let Some((session, _)) = cl.session.clone() else {
            return Ok(());
        };
        let Some(conn) = cl.conn.as_mut() else {
            return Ok(());
        };
        conn.last_send_ns = conn.last_send_ns.max(now.saturating_sub(1));
        if h.xid == xid::NOTIFICATION {
            return Ok(());
        }
        if h.xid == xid::PING {
            // Like ZooKeeper's ClientCnxn, a ping reply's zxid is not "seen": it does not
            // move lastZxidSeen, so nothing promises it is monotonic either.
            return Ok(());
        }
        let expected = conn.outstanding.front().map(|i| cl.history[*i].xid);
        session_fifo::check_reply(ci, expected, h.xid)?;
        self.exercised[crate::check::SESSION_FIFO] += 1;
        self.exercised[crate::check::MONOTONIC_READS] += 1;
        let hi = conn.outstanding.pop_front().expect("checked non-empty");
        let e = &mut cl.history[hi];
        e.reply_ns = Some(now);
        e.zxid = Some(h.zxid);
        e.err = Some(h.err);
        // Only created sequential paths matter to the workload (it deletes them).
        let created = match &body {
            Some(ResponseBody::Create(p)) => Some(p.path.clone()),
            Some(ResponseBody::Create2(p)) => Some(p.path.clone()),
            _ => None,
        }
        .filter(|p| p.starts_with("/s"));
        e.body = body;
        let (write, op) = (e.write, e.op);
        if h.zxid > cl.last_zxid_seen {
            cl.last_zxid_seen = h.zxid;
        }
        if let Some(p) = created {
            cl.sequentials.push(p);
        }
        self.chk.monotonic.on_reply(session, sid, h.xid, h.zxid)?;
        if write && h.err == 0 {
            self.chk
                .durability
                .on_ack(&self.chk.agreement, session, h.xid, h.zxid)?;
            self.exercised[crate::check::DURABILITY] += 1;
        }
        // Liveness counts every answered write: a failed one (NoNode, BadVersion, ...) went
        // through the leader as an error txn too, and a workload without creates (swarm
        // seed 423) only ever gets those.
        if write && heal {
            self.acked_after_heal += 1;
        }
        if op == "closeSession" && h.err == 0 {
            self.line(format!("client {ci} session {session} closed"));
            self.chk.ephemerals.on_session_ended(session, h.zxid);
            let cl = &mut self.clients[ci];
            cl.mode = Mode::Idle;
            cl.session = None;
            cl.resume_ns = now + 100 * MS;
        }
        Ok(())
    }

    pub(super) fn client_wake(&mut self, ci: usize) -> CheckResult {
        let now = self.now;
        let nn = self.nodes.len();
        let inflight_max = self.opts.client_inflight_max.max(1);
        let cl = &self.clients[ci];
        if self.quiescing && cl.mode == Mode::Idle {
            return Ok(()); // no new sessions once the run is winding down
        }
        if cl.mode == Mode::Idle {
            if now < cl.resume_ns {
                let at = cl.resume_ns;
                self.wake_client(ci, at);
                return Ok(());
            }
            if let Some(id) = self.clients[ci].conn.as_ref().map(|c| c.conn.0) {
                // The closed session's connection is still open (a slow server has not
                // closed it yet): like a ZooKeeper client, close it before a new session.
                // (Before slow nodes the server always closed it within the 100 ms pause.)
                self.client_drop_conn(id);
                return Ok(());
            }
            let ops = self.rng.client.gen_range(20..self.opts.ops_max.max(21));
            let cl = &mut self.clients[ci];
            cl.mode = Mode::Active;
            cl.session = None;
            cl.last_zxid_seen = Zxid(0);
            cl.ops_left = ops;
        }
        let cl = &self.clients[ci];
        let Some(conn) = cl.conn.as_ref() else {
            return self.client_connect(ci, nn);
        };
        if !conn.established {
            if now >= conn.last_send_ns + CONNECT_TIMEOUT_NS {
                let id = conn.conn.0;
                self.client_drop_conn(id);
            } else {
                let at = conn.last_send_ns + CONNECT_TIMEOUT_NS;
                self.wake_client(ci, at);
            }
            return Ok(());
        }
        let negotiated_ns = cl.negotiated_ms.max(1) as u64 * MS;
        // A ZooKeeper client gives up on a silent server after 2/3 of the session timeout.
        if let Some(oldest) = conn.outstanding.front() {
            if now > cl.history[*oldest].sent_ns + negotiated_ns * 2 / 3
                && now > conn.last_send_ns + negotiated_ns * 2 / 3
            {
                let id = conn.conn.0;
                self.line(format!("client {ci} gives up on silent conn {id}"));
                self.client_drop_conn(id);
                return Ok(());
            }
        }
        let conn_id = conn.conn.0;
        let server_id = self.nodes[conn.server].id.0;
        let outstanding = conn.outstanding.len();
        let idle_ns = now.saturating_sub(conn.last_send_ns);
        let (session, _) = cl.session.clone().expect("established ⇒ session");
        let mode = cl.mode;
        let quiet = self.quiescing;
        if mode == Mode::Active && !quiet && cl.ops_left == 0 && outstanding == 0 {
            if self.rng.client.gen_bool(0.5) {
                self.client_send(
                    ci,
                    conn_id,
                    server_id,
                    session,
                    Request::CloseSession,
                    "closeSession",
                    true,
                );
                self.clients[ci].mode = Mode::Closing;
            } else {
                // Abandon: the session is left to expire.
                self.line(format!("client {ci} abandons session {session}"));
                let cl = &mut self.clients[ci];
                cl.mode = Mode::Idle;
                cl.session = None;
                cl.resume_ns = now + self.rng.client.gen_range(100 * MS..3_000 * MS);
                self.client_drop_conn(conn_id);
                return Ok(());
            }
        } else if mode == Mode::Active && !quiet && cl.ops_left > 0 && outstanding < inflight_max {
            let (req, op, write) = gen_op(
                &mut self.rng.client,
                &mut self.clients[ci].sequentials,
                &self.opts.mix,
            );
            if write && !self.in_fault_phase {
                self.writes_after_heal = true;
            }
            self.client_send(ci, conn_id, server_id, session, req, op, write);
            self.clients[ci].ops_left -= 1;
        } else if idle_ns > negotiated_ns / 3 {
            let header = RequestHeader {
                xid: xid::PING,
                op: Request::Ping.op(),
            };
            if let Some(c) = self.clients[ci].conn.as_mut() {
                c.last_send_ns = now;
            }
            self.client_to_server(conn_id, C2S::Request(header, Box::new(Request::Ping)));
        }
        let d = self.think();
        self.wake_client(ci, now + d);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn client_send(
        &mut self,
        ci: usize,
        conn_id: u64,
        server_id: u64,
        session: SessionId,
        req: Request,
        op: &'static str,
        write: bool,
    ) {
        let now = self.now;
        let cl = &mut self.clients[ci];
        let x = cl.next_xid;
        cl.next_xid += 1;
        cl.history.push(HistEntry {
            session,
            server: server_id,
            op,
            xid: x,
            write,
            sent_ns: now,
            reply_ns: None,
            zxid: None,
            err: None,
            lost: false,
            req: Some(req.clone()),
            body: None,
        });
        let hi = cl.history.len() - 1;
        self.chk.integrity.on_request(session, x);
        if let Some(c) = cl.conn.as_mut() {
            c.outstanding.push_back(hi);
            c.last_send_ns = now;
        }
        let header = RequestHeader {
            xid: x,
            op: req.op(),
        };
        self.client_to_server(conn_id, C2S::Request(header, Box::new(req)));
    }

    pub(super) fn client_connect(&mut self, ci: usize, nn: usize) -> CheckResult {
        let now = self.now;
        let server = self.rng.client.gen_range(0..nn);
        let id = self.conn_next;
        self.conn_next += 1;
        let up = self.nodes[server].replica.is_some();
        self.conns.insert(
            id,
            Conn {
                client: ci,
                server,
                server_inc: self.nodes[server].inc,
                server_open: up,
                client_open: true,
                c2s_last: 0,
                s2c_last: 0,
                paused: false,
                unread: Default::default(),
            },
        );
        let cl = &mut self.clients[ci];
        cl.connecting = true;
        cl.conn = Some(ClientConn {
            conn: ConnId(id),
            server,
            established: false,
            outstanding: Default::default(),
            last_send_ns: now,
        });
        let (session_id, passwd) = cl.session.clone().unwrap_or((SessionId(0), vec![0; 16]));
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: cl.last_zxid_seen,
            timeout_ms: cl.timeout_ms,
            session_id,
            passwd,
            read_only: Some(false),
        };
        self.line(format!(
            "client {ci} connects to node {} conn {id} session {session_id}",
            server + 1
        ));
        if !up {
            self.server_to_client(id, S2C::Lost);
            return Ok(());
        }
        self.client_to_server(id, C2S::Connect(Box::new(request)));
        let at = now + CONNECT_TIMEOUT_NS;
        self.wake_client(ci, at);
        Ok(())
    }
}
