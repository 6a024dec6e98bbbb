//! The replica-inputs world shared by the `replica_inputs` fuzz target and
//! `core/tests/fuzz_regressions.rs`: a byte string becomes a sequence of inputs driven into
//! one `Replica` (server 1 of voters {1, 2, 3}) the way a runtime would, with hostile peers
//! and clients around it.
//!
//! What is hostile (anything goes): which peer message arrives, when, from whom (voters,
//! non-voters and ourselves), every zxid / epoch / round / nonce / origin in it, snapshot
//! bytes in SNAP, forwarded client requests (`WriteOp`s) at a leader; client handshakes and
//! request frames (well-formed or not, decoded as the runtime decodes them), connection
//! closes, requests on closed or unknown connections; stale and unknown `Persisted` tokens.
//!
//! What the driver keeps to the contract (`replica/io.rs`): time is monotonic; outputs
//! are drained after every input; `Persisted` reports issued tokens in order
//! (cumulatively); a new connection gets a fresh id; a recovered state is one storage
//! could return. Everything about the transactions a leader sends is hostile: zxids, order,
//! origins, sessions, and bodies that do not fit the tree (creating under a missing parent,
//! deleting `/zookeeper`, a wrong version or child counter, nested multis): the replica
//! must skip those and count them (`tree/mutate.rs`, `Counters::misfit_txns`), never panic
//! or break its tree. (Byte values below 240 pick the bodies that fit any tree, as before
//! lying leaders were fuzzed, so older corpus entries keep their meaning.)
//!
//! Checked after every step, beyond "no panic": the replica's own `check_invariants` (run
//! by `handle` under the `invariants` feature / debug builds) and the tree's full check;
//! token-bearing outputs carry consecutive tokens; no ACK leaves for a zxid whose log
//! record is not yet reported durable; peer messages go only to other voters; client
//! outputs name only open connections and nothing follows a `CloseClient`.

#![allow(dead_code, clippy::print_stdout)]

use std::collections::BTreeSet;

use arbor_core::proto::jute::{
    decode_connect_request, decode_request, encode_connect_request, encode_request, ConnectRequest,
    Request,
};
use arbor_core::replica::{Config, Input, LogRecord, Output, Recovered, Replica};
use arbor_core::tree::{CreateOp, DataTree, NodeKind, TreeConfig, WriteOp};
use arbor_core::txn::{apply, CreateTxn, Txn, TxnBody, TxnHeader};
use arbor_core::types::{
    Acl, ConnId, Epoch, ErrorCode, Id, Nanos, PersistToken, ServerId, SessionId, WallMillis, Zxid,
};
use arbor_core::zab::{decode_peer, encode_peer, Origin, PeerMessage, PeerState, Vote};

/// Steps run per input at most.
pub const STEPS_MAX: usize = 300;
/// This server and the ensemble.
pub const ME: ServerId = ServerId(1);
pub const VOTERS: [ServerId; 3] = [ServerId(1), ServerId(2), ServerId(3)];
const TICK_NS: u64 = 100_000_000;
const WALL_BASE_MS: i64 = 1_700_000_000_000;
/// Connection ids the driver never hands out (requests on them must be dropped).
const UNKNOWN_CONN_BASE: u64 = 1 << 40;
const PATHS: [&str; 9] = [
    "/",
    "/a",
    "/a/b",
    "/b",
    "/e",
    "/zookeeper",
    "/a/",
    "bad",
    "/c",
];

/// Step tags (the first byte of a step, modulo `TAGS`).
pub mod tag {
    pub const PEER: u8 = 0; // 0..=3: a structured peer message
    pub const PEER_RAW: u8 = 4;
    pub const PEER_CONNECTED: u8 = 5;
    pub const PEER_DISCONNECTED: u8 = 6;
    pub const CONNECT_RAW: u8 = 7;
    pub const CONNECT: u8 = 8;
    pub const REQUEST: u8 = 9; // 9..=10
    pub const CLIENT_CLOSED: u8 = 11;
    pub const PERSISTED: u8 = 12;
    pub const PERSISTED_BOGUS: u8 = 13;
    pub const ADVANCE: u8 = 14;
    pub const TICK_TO_DEADLINE: u8 = 15;
    pub const TAGS: u8 = 16;
}

/// Reads the input; every read returns `None` at the end of it (the run stops there).
pub struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, at: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.at >= self.data.len()
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(b)
    }

    fn byte(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    fn bool(&mut self) -> Option<bool> {
        Some(self.byte()? & 1 == 1)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }

    /// A length-prefixed (u16 LE) byte string.
    fn blob(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }
}

/// Writes steps in the format [`World::step`] reads (for scripted scenarios and seeds).
#[derive(Default)]
pub struct Script {
    pub bytes: Vec<u8>,
}

impl Script {
    fn blob(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&u16::try_from(b.len()).expect("blob fits").to_le_bytes());
        out.extend_from_slice(b);
    }

    pub fn peer(from: ServerId, msg: &PeerMessage) -> Vec<u8> {
        let mut s = vec![tag::PEER_RAW, from.0 as u8];
        Self::blob(&mut s, &encode_peer(msg));
        s
    }

    pub fn peer_connected(peer: ServerId) -> Vec<u8> {
        vec![tag::PEER_CONNECTED, peer.0 as u8]
    }

    pub fn connect(req: &ConnectRequest) -> Vec<u8> {
        let mut frame = Vec::new();
        encode_connect_request(req, &mut frame);
        let mut s = vec![tag::CONNECT_RAW];
        Self::blob(&mut s, &frame[4..]);
        s
    }

    /// A request on the `conn_index`-th connection the driver opened.
    pub fn request(conn_index: u8, xid: i32, req: &Request) -> Vec<u8> {
        let mut frame = Vec::new();
        encode_request(xid, req, &mut frame);
        let mut s = vec![tag::REQUEST, conn_index];
        Self::blob(&mut s, &frame[4..]);
        s
    }

    /// Reports every issued token durable.
    pub fn persisted_all() -> Vec<u8> {
        vec![tag::PERSISTED, 0xff]
    }

    pub fn tick_to_deadline() -> Vec<u8> {
        vec![tag::TICK_TO_DEADLINE]
    }
}

/// A token-bearing output not yet reported durable.
#[derive(Debug)]
struct Pending {
    token: PersistToken,
    /// The lowest zxid it makes durable (a logged txn or an installed snapshot).
    min_zxid: Option<Zxid>,
}

/// What a run reached (for the scenario test and for seeds).
#[derive(Debug, Default)]
pub struct Reached {
    pub steps: usize,
    pub led: bool,
    pub followed: bool,
    pub served: bool,
    pub replies_ok: usize,
    pub notifications: usize,
    pub snapshots: usize,
}

pub struct World {
    pub replica: Replica,
    now: Nanos,
    pending: Vec<Pending>,
    last_token: u64,
    durable: u64,
    /// Every connection ever opened, in order.
    conns: Vec<ConnId>,
    open: BTreeSet<ConnId>,
    next_conn: u64,
    /// Sessions the replica handed out: (id, password).
    sessions: Vec<(SessionId, Vec<u8>)>,
    empty_tree: Vec<u8>,
    /// The outputs of the last step.
    pub outputs: Vec<Output>,
    pub reached: Reached,
}

fn config() -> Config {
    let mut cfg = Config::new(ME, VOTERS.to_vec()).with_tick_ns(TICK_NS);
    cfg.tree = tree_config();
    cfg.check_invariants = true;
    cfg.snapshot_every_txns = 4;
    cfg.diff_txns_max = 3;
    cfg.proposals_inflight_max = 3;
    cfg.writes_queued_max = 3;
    cfg.client_outstanding_max = 2;
    cfg.client_requests_queued_max = 3;
    cfg.clients_max = 3;
    cfg
}

fn tree_config() -> TreeConfig {
    TreeConfig {
        extended_types_enabled: true,
        ..TreeConfig::default()
    }
}

fn safe_txn(zxid: Zxid, body: TxnBody) -> Txn {
    Txn::new(
        TxnHeader {
            session: SessionId(0x0100_0000_0000_0001),
            cxid: 1,
            zxid,
            time: WallMillis(WALL_BASE_MS),
        },
        body,
    )
}

/// A state storage could have returned: epochs, an optional snapshot, a log after it.
fn recovered(kind: u8) -> Recovered {
    let z = |e, c| Zxid::new(Epoch(e), c);
    let session = TxnBody::CreateSession {
        session: SessionId(0x0100_0000_0000_0001),
        timeout_ms: 2000,
    };
    let check = TxnBody::Check {
        path: "/".into(),
        version: 0,
    };
    match kind {
        0 => Recovered::default(),
        1 => Recovered {
            accepted_epoch: Epoch(1),
            current_epoch: Epoch(1),
            snapshot: None,
            log: vec![safe_txn(z(1, 1), session), safe_txn(z(1, 2), check)],
            damaged: None,
        },
        2 => Recovered {
            accepted_epoch: Epoch(2),
            current_epoch: Epoch(1),
            snapshot: Some((z(1, 2), {
                // A snapshot holds the tree as of its zxid (recovery checks it).
                let mut tree = DataTree::new(tree_config());
                apply(&mut tree, &safe_txn(z(1, 1), check.clone()));
                apply(&mut tree, &safe_txn(z(1, 2), check.clone()));
                tree.serialize()
            })),
            log: vec![safe_txn(z(1, 3), check), safe_txn(z(2, 1), session)],
            damaged: None,
        },
        // A replica that found damage in its log: it must resync before it may vote.
        _ => Recovered {
            accepted_epoch: Epoch(2),
            current_epoch: Epoch(2),
            snapshot: None,
            log: vec![safe_txn(z(1, 1), session)],
            damaged: Some(z(2, 7)),
        },
    }
}

impl World {
    /// Reads the start state from the first byte.
    pub fn new(r: &mut Reader<'_>) -> Option<World> {
        let kind = r.byte()? % 4;
        let mut w = World {
            replica: Replica::recover(config(), recovered(kind)).expect("recovers"),
            now: Nanos(0),
            pending: Vec::new(),
            last_token: 0,
            durable: 0,
            conns: Vec::new(),
            open: BTreeSet::new(),
            next_conn: 1,
            sessions: Vec::new(),
            empty_tree: DataTree::new(tree_config()).serialize(),
            outputs: Vec::new(),
            reached: Reached::default(),
        };
        w.drain();
        Some(w)
    }

    /// Runs the whole input.
    pub fn run(bytes: &[u8]) -> Reached {
        let mut r = Reader::new(bytes);
        let Some(mut w) = World::new(&mut r) else {
            return Reached::default();
        };
        while w.reached.steps < STEPS_MAX && !r.is_empty() {
            if w.step(&mut r).is_none() {
                break;
            }
        }
        w.reached
    }

    fn wall(&self) -> WallMillis {
        WallMillis(WALL_BASE_MS + (self.now.0 / 1_000_000) as i64)
    }

    fn handle(&mut self, input: Input) {
        self.replica.handle(self.now, self.wall(), input);
        self.drain();
    }

    /// Reads and runs one step. `None`: the input ended.
    pub fn step(&mut self, r: &mut Reader<'_>) -> Option<()> {
        self.reached.steps += 1;
        let t = r.byte()? % tag::TAGS;
        match t {
            0..=3 => {
                let from = self.peer_id(r)?;
                let msg = self.message(r)?;
                self.handle(Input::Peer { from, msg });
            }
            tag::PEER_RAW => {
                let from = self.peer_id(r)?;
                if let Ok(msg) = decode_peer(r.blob()?) {
                    self.handle(Input::Peer { from, msg });
                }
            }
            tag::PEER_CONNECTED => {
                let peer = self.peer_id(r)?;
                self.handle(Input::PeerConnected { peer });
            }
            tag::PEER_DISCONNECTED => {
                let peer = self.peer_id(r)?;
                self.handle(Input::PeerDisconnected { peer });
            }
            tag::CONNECT_RAW => {
                // The runtime closes a connection whose handshake does not decode without
                // telling the core.
                if let Ok(request) = decode_connect_request(r.blob()?) {
                    self.connect(request);
                }
            }
            tag::CONNECT => {
                let request = self.connect_request(r)?;
                self.connect(request);
            }
            9..=10 => {
                let conn = self.conn(r)?;
                match decode_request(r.blob()?) {
                    Ok((header, request)) => self.handle(Input::ClientRequest {
                        conn,
                        header,
                        request: Box::new(request),
                    }),
                    Err(e) => match e.reply() {
                        Some(reply) => self.handle(Input::ClientRequestRejected { conn, reply }),
                        // Unreadable header: the runtime closes the connection.
                        None => self.client_closed(conn),
                    },
                }
            }
            tag::CLIENT_CLOSED => {
                let conn = self.conn(r)?;
                self.client_closed(conn);
            }
            tag::PERSISTED => {
                let k = usize::from(r.byte()?);
                if !self.pending.is_empty() {
                    let k = k.min(self.pending.len() - 1);
                    let token = self.pending[k].token;
                    self.pending.drain(..=k);
                    self.durable = token.0;
                    self.handle(Input::Persisted { token });
                }
            }
            tag::PERSISTED_BOGUS => {
                let b = r.byte()?;
                let token = if b & 1 == 0 {
                    PersistToken(self.durable.saturating_sub(u64::from(b >> 1)))
                } else {
                    PersistToken(self.last_token + 1 + u64::from(b >> 1))
                };
                self.handle(Input::Persisted { token });
            }
            tag::ADVANCE => {
                let b = u64::from(r.byte()?);
                self.now = Nanos(self.now.0 + (b + 1) * TICK_NS / 4);
                self.handle(Input::Tick);
            }
            _ => {
                if let Some(at) = self.replica.next_deadline() {
                    self.now = self.now.max(at);
                }
                self.handle(Input::Tick);
            }
        }
        Some(())
    }

    fn connect(&mut self, request: ConnectRequest) {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.push(conn);
        self.open.insert(conn);
        self.handle(Input::ClientConnect { conn, request });
    }

    fn client_closed(&mut self, conn: ConnId) {
        self.open.remove(&conn);
        self.handle(Input::ClientClosed { conn });
    }

    /// Drains and checks the outputs of one step.
    fn drain(&mut self) {
        self.outputs.clear();
        let mut closed_now = BTreeSet::new();
        while let Some(out) = self.replica.poll_output() {
            match &out {
                Output::Persist { token, records, .. } => {
                    let min_zxid = records
                        .iter()
                        .filter_map(|r| match r {
                            LogRecord::Txn(t) => Some(t.header.zxid),
                            _ => None,
                        })
                        .min();
                    self.issued(*token, min_zxid);
                }
                Output::TruncateLog { token, .. } => self.issued(*token, None),
                Output::InstallSnapshot { token, zxid, .. } => self.issued(*token, Some(*zxid)),
                Output::Snapshot { .. } => self.reached.snapshots += 1,
                Output::Send { to, msg } => {
                    assert!(
                        *to != ME && VOTERS.contains(to),
                        "message to {to}, not another voter"
                    );
                    if let PeerMessage::Ack { zxid } = msg {
                        // Durability before acknowledgement.
                        let early = self
                            .pending
                            .iter()
                            .find(|p| p.min_zxid.is_some_and(|z| z <= *zxid));
                        assert!(
                            early.is_none(),
                            "ACK {zxid} sent before {early:?} was reported durable"
                        );
                    }
                }
                Output::ConnectResponse { conn, response } => {
                    self.client_output(*conn, &closed_now);
                    if response.timeout_ms > 0 {
                        self.sessions
                            .push((response.session_id, response.passwd.clone()));
                    }
                }
                Output::Reply { conn, header, .. } => {
                    self.client_output(*conn, &closed_now);
                    if header.err == 0 {
                        self.reached.replies_ok += 1;
                    }
                }
                Output::Notify { conn, .. } => {
                    self.client_output(*conn, &closed_now);
                    self.reached.notifications += 1;
                }
                Output::PauseReads { conn } | Output::ResumeReads { conn } => {
                    // This driver ignores pauses: the core must cope with a client that
                    // keeps sending (its hard bounds close the connection).
                    self.client_output(*conn, &closed_now);
                }
                Output::CloseClient { conn, .. } => {
                    self.client_output(*conn, &closed_now);
                    self.open.remove(conn);
                    closed_now.insert(*conn);
                }
            }
            self.outputs.push(out);
        }
        self.replica.tree().check_invariants_full();
        match self.replica.role_name() {
            "leading" => self.reached.led = true,
            "following" => self.reached.followed = true,
            _ => {}
        }
        if self.replica.serving_leader().is_some() {
            self.reached.served = true;
        }
    }

    fn issued(&mut self, token: PersistToken, min_zxid: Option<Zxid>) {
        assert_eq!(
            token.0,
            self.last_token + 1,
            "token-bearing outputs must carry consecutive tokens"
        );
        self.last_token = token.0;
        self.pending.push(Pending { token, min_zxid });
    }

    fn client_output(&self, conn: ConnId, closed_now: &BTreeSet<ConnId>) {
        assert!(
            !closed_now.contains(&conn),
            "output for {conn:?} after its CloseClient"
        );
        assert!(
            self.open.contains(&conn),
            "output for {conn:?}, which is not open"
        );
    }

    // ----- generators -----

    /// Any sender: ourselves, the other voters, or servers outside the ensemble.
    fn peer_id(&self, r: &mut Reader<'_>) -> Option<ServerId> {
        Some(ServerId(u64::from(r.byte()? % 5)))
    }

    fn conn(&self, r: &mut Reader<'_>) -> Option<ConnId> {
        let b = r.byte()?;
        let i = usize::from(b);
        Some(match self.conns.get(i % (self.conns.len() + 1)) {
            Some(c) => *c,
            None => ConnId(UNKNOWN_CONN_BASE + u64::from(b)),
        })
    }

    fn zxid(&self, r: &mut Reader<'_>) -> Option<Zxid> {
        let b = r.byte()?;
        let near = |base: Zxid| Zxid(base.0.wrapping_add(i64::from(b & 0x1f) - 15));
        Some(match b {
            0xff => Zxid(r.u64()? as i64),
            0xe0..=0xfe => near(self.replica.last_logged_zxid()),
            0xc0..=0xdf => near(self.replica.committed_zxid()),
            _ => Zxid::new(Epoch(u32::from(b >> 4) % 4), u32::from(b & 0xf)),
        })
    }

    fn epoch(&self, r: &mut Reader<'_>) -> Option<Epoch> {
        let b = r.byte()?;
        let (accepted, _) = self.replica.epochs();
        Some(match b {
            0xff => Epoch(r.u32()?),
            0xf0..=0xfe => Epoch(
                (i64::from(accepted.0) + i64::from(b & 0xf) - 7).clamp(0, i64::from(u32::MAX))
                    as u32,
            ),
            _ => Epoch(u32::from(b % 5)),
        })
    }

    fn session(&self, r: &mut Reader<'_>) -> Option<SessionId> {
        let b = r.byte()?;
        Some(if b & 0x80 != 0 && !self.sessions.is_empty() {
            self.sessions[usize::from(b) % self.sessions.len()].0
        } else {
            SessionId(i64::from(b & 3))
        })
    }

    fn origin(&self, r: &mut Reader<'_>) -> Option<Origin> {
        let b = r.byte()?;
        Some(Origin {
            server: ServerId(u64::from(b % 4)),
            request: u64::from(b >> 2),
        })
    }

    fn path(&self, r: &mut Reader<'_>) -> Option<String> {
        Some(PATHS[usize::from(r.byte()?) % PATHS.len()].to_string())
    }

    fn data(&self, r: &mut Reader<'_>) -> Option<Option<Vec<u8>>> {
        let b = r.byte()?;
        Some(if b == 0 {
            None
        } else {
            Some(r.bytes(usize::from(b % 8))?.to_vec())
        })
    }

    /// A txn body: below 240, one that applies to any tree; from 240, one that needs a
    /// particular tree (a lying leader's, see the module doc).
    fn body(&self, r: &mut Reader<'_>, nested: bool) -> Option<TxnBody> {
        let b = r.byte()?;
        if b >= 240 {
            return self.hostile_body(r, b - 240);
        }
        Some(match b % if nested { 4 } else { 5 } {
            0 => TxnBody::Check {
                path: self.path(r)?,
                version: i32::from(r.byte()?) - 1,
            },
            1 => TxnBody::Error {
                err: [
                    ErrorCode::NoNode,
                    ErrorCode::NodeExists,
                    ErrorCode::BadVersion,
                    ErrorCode::Ok,
                ][usize::from(r.byte()? % 4)],
            },
            2 => TxnBody::CreateSession {
                session: self.session(r)?,
                timeout_ms: [0, 200, 2000, -1][usize::from(r.byte()? % 4)],
            },
            3 => TxnBody::CloseSession {
                session: self.session(r)?,
                ephemerals: if r.bool()? {
                    vec!["/e".into()]
                } else {
                    Vec::new()
                },
            },
            _ => self.multi_body(r)?,
        })
    }

    /// A multi of up to three bodies (each may be any body, nested or not).
    fn multi_body(&self, r: &mut Reader<'_>) -> Option<TxnBody> {
        let n = r.byte()? % 4;
        let mut ops = Vec::new();
        for _ in 0..n {
            ops.push(self.body(r, true)?);
        }
        Some(TxnBody::Multi(ops))
    }

    /// A body that fits only some trees (or none: a nested multi, the root, `/zookeeper`).
    fn hostile_body(&self, r: &mut Reader<'_>, kind: u8) -> Option<TxnBody> {
        let small = |r: &mut Reader<'_>| Some(i32::from(r.byte()?) - 2);
        let acl = |r: &mut Reader<'_>| {
            Some(match r.byte()? % 3 {
                0 => Acl::open_unsafe(),
                1 => Acl::read_unsafe(),
                _ => Vec::new(),
            })
        };
        Some(match kind % 7 {
            0 => TxnBody::Create(CreateTxn {
                path: self.path(r)?,
                data: self.data(r)?,
                acl: acl(r)?,
                kind: match r.byte()? % 4 {
                    0 => NodeKind::Persistent,
                    1 => NodeKind::Ephemeral(self.session(r)?),
                    2 => NodeKind::Container,
                    _ => NodeKind::Ttl(i64::from(r.byte()?)),
                },
                parent_cversion: small(r)?,
            }),
            1 => TxnBody::Delete {
                path: self.path(r)?,
            },
            2 => TxnBody::DeleteExpired {
                path: self.path(r)?,
            },
            3 => TxnBody::SetData {
                path: self.path(r)?,
                data: self.data(r)?,
                version: small(r)?,
            },
            4 => TxnBody::SetAcl {
                path: self.path(r)?,
                acl: acl(r)?,
                aversion: small(r)?,
            },
            _ => self.multi_body(r)?,
        })
    }

    fn txn(&self, r: &mut Reader<'_>) -> Option<Txn> {
        Some(Txn::new(
            TxnHeader {
                session: self.session(r)?,
                cxid: i32::from(r.byte()?) - 2,
                zxid: self.zxid(r)?,
                time: self.wall(),
            },
            self.body(r, false)?,
        ))
    }

    fn txns(&self, r: &mut Reader<'_>) -> Option<Vec<Txn>> {
        let n = r.byte()? % 4;
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(self.txn(r)?);
        }
        Some(v)
    }

    fn write_op(&self, r: &mut Reader<'_>, nested: bool) -> Option<WriteOp> {
        Some(match r.byte()? % if nested { 8 } else { 9 } {
            0 => WriteOp::Check {
                path: self.path(r)?,
                version: i32::from(r.byte()?) - 1,
            },
            1 => WriteOp::CloseSession,
            2 => WriteOp::Create {
                path: self.path(r)?,
                data: self.data(r)?,
                acl: if r.bool()? {
                    Acl::open_unsafe()
                } else {
                    Vec::new()
                },
                flags: i32::from(r.byte()? % 9) - 1,
                op: match r.byte()? % 5 {
                    0 => CreateOp::Create,
                    1 => CreateOp::Create2,
                    2 => CreateOp::CreateContainer,
                    3 => CreateOp::CreateTtl { ttl: 1000 },
                    _ => CreateOp::CreateTtl { ttl: -1 },
                },
            },
            3 => WriteOp::CreateSession {
                timeout_ms: [0, 200, 2000, i32::MAX][usize::from(r.byte()? % 4)],
            },
            4 => WriteOp::Delete {
                path: self.path(r)?,
                version: i32::from(r.byte()?) - 1,
            },
            5 => WriteOp::DeleteExpired {
                path: self.path(r)?,
            },
            6 => WriteOp::SetAcl {
                path: self.path(r)?,
                acl: Acl::read_unsafe(),
                version: i32::from(r.byte()?) - 1,
            },
            7 => WriteOp::SetData {
                path: self.path(r)?,
                data: self.data(r)?,
                version: i32::from(r.byte()?) - 1,
            },
            _ => {
                let n = r.byte()? % 4;
                let mut ops = Vec::new();
                for _ in 0..n {
                    ops.push(self.write_op(r, true)?);
                }
                WriteOp::Multi(ops)
            }
        })
    }

    fn message(&self, r: &mut Reader<'_>) -> Option<PeerMessage> {
        use PeerMessage as M;
        Some(match r.byte()? % 19 {
            0 => M::Notification {
                round: u64::from(r.byte()? % 8),
                vote: Vote {
                    leader: self.peer_id(r)?,
                    zxid: self.zxid(r)?,
                    epoch: self.epoch(r)?,
                },
                state: [PeerState::Leading, PeerState::Following, PeerState::Looking]
                    [usize::from(r.byte()? % 3)],
            },
            1 => M::FollowerInfo {
                accepted_epoch: self.epoch(r)?,
                last_zxid: self.zxid(r)?,
                nonce: u64::from(r.byte()?),
            },
            2 => M::LeaderInfo {
                epoch: self.epoch(r)?,
            },
            3 => M::AckEpoch {
                current_epoch: self.epoch(r)?,
                last_zxid: self.zxid(r)?,
                fresh: r.bool()?,
                applied_zxid: self.zxid(r)?,
            },
            4 => M::Diff {
                txns: self.txns(r)?,
                committed: self.zxid(r)?,
            },
            5 => M::Trunc {
                after: self.zxid(r)?,
                txns: self.txns(r)?,
                committed: self.zxid(r)?,
            },
            6 => M::Snap {
                zxid: self.zxid(r)?,
                data: match r.byte()? % 3 {
                    0 => self.empty_tree.clone(),
                    1 => self.replica.tree().serialize(),
                    _ => r.blob()?.to_vec(),
                },
                txns: self.txns(r)?,
                committed: self.zxid(r)?,
            },
            7 => M::NewLeader {
                epoch: self.epoch(r)?,
                zxid: self.zxid(r)?,
            },
            8 => M::UpToDate {
                committed: self.zxid(r)?,
            },
            9 => M::Proposal {
                txn: self.txn(r)?,
                origin: if r.bool()? {
                    Some(self.origin(r)?)
                } else {
                    None
                },
            },
            10 => M::Ack {
                zxid: self.zxid(r)?,
            },
            11 => M::Commit {
                zxid: self.zxid(r)?,
            },
            12 => M::Ping,
            13 => M::Revalidate {
                session: self.session(r)?,
            },
            14 => {
                let n = r.byte()? % 4;
                let mut sessions = Vec::new();
                for _ in 0..n {
                    sessions.push(self.session(r)?);
                }
                M::Touch { sessions }
            }
            15 => M::Request {
                origin: self.origin(r)?,
                session: self.session(r)?,
                cxid: i32::from(r.byte()?) - 2,
                op: Box::new(self.write_op(r, false)?),
                auth: if r.bool()? {
                    vec![Id::new("ip", "10.0.0.1")]
                } else {
                    Vec::new()
                },
            },
            16 => M::Rejected {
                origin: self.origin(r)?,
            },
            17 => M::Sync {
                origin: self.origin(r)?,
            },
            _ => M::SyncReply {
                origin: self.origin(r)?,
                zxid: self.zxid(r)?,
            },
        })
    }

    fn connect_request(&self, r: &mut Reader<'_>) -> Option<ConnectRequest> {
        let b = r.byte()?;
        let known = (b & 1 == 1 && !self.sessions.is_empty())
            .then(|| self.sessions[usize::from(b >> 1) % self.sessions.len()].clone());
        let (session_id, mut passwd) = known.unwrap_or((SessionId(0), vec![0; 16]));
        if b & 0x80 != 0 {
            passwd[0] ^= 1;
        }
        Some(ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.zxid(r)?,
            timeout_ms: [0, 1, 300, 2000, 100_000, -1][usize::from(r.byte()? % 6)],
            session_id,
            passwd,
            read_only: [None, Some(false), Some(true)][usize::from(r.byte()? % 3)],
        })
    }
}

// ----- scripted scenarios (seeds for the fuzz target; a test checks they get far) -----

/// Builds an input step by step, running each step as it is appended, so that a script
/// can read the replica's outputs to choose its next message. Replaying `bytes` with
/// [`World::run`] runs exactly the same steps.
pub struct Scripted {
    pub bytes: Vec<u8>,
    pub world: World,
    /// Every peer message the replica sent so far.
    pub sent: Vec<(ServerId, PeerMessage)>,
    /// Every storage output (`Persist`, `TruncateLog`, `InstallSnapshot`, `Snapshot`) so far,
    /// in order: the seed generator writes them with the real `FileStorage`.
    pub storage: Vec<Output>,
}

impl Scripted {
    pub fn new(start: u8) -> Scripted {
        let world = World::new(&mut Reader::new(&[start])).expect("start byte");
        Scripted {
            bytes: vec![start],
            world,
            sent: Vec::new(),
            storage: Vec::new(),
        }
    }

    pub fn run(&mut self, step: Vec<u8>) {
        let mut r = Reader::new(&step);
        self.world.step(&mut r).expect("a complete step");
        assert!(r.is_empty(), "step has trailing bytes");
        self.bytes.extend_from_slice(&step);
        for out in &self.world.outputs {
            match out {
                Output::Send { to, msg } => self.sent.push((*to, msg.clone())),
                Output::Persist { .. }
                | Output::TruncateLog { .. }
                | Output::InstallSnapshot { .. }
                | Output::Snapshot { .. } => self.storage.push(out.clone()),
                _ => {}
            }
        }
    }

    /// Reports everything issued durable (if anything is pending).
    pub fn settle(&mut self) {
        if !self.world.pending.is_empty() {
            self.run(Script::persisted_all());
        }
    }

    pub fn peer(&mut self, from: u64, msg: PeerMessage) {
        self.run(Script::peer(ServerId(from), &msg));
        self.settle();
    }

    fn last_sent<T>(&self, f: impl Fn(&PeerMessage) -> Option<T>) -> Option<T> {
        self.sent.iter().rev().find_map(|(_, m)| f(m))
    }

    fn elect(&mut self, leader: u64) {
        self.run(Script::peer_connected(ServerId(2)));
        self.run(Script::peer_connected(ServerId(3)));
        let (round, mut vote) = self
            .last_sent(|m| match m {
                PeerMessage::Notification { round, vote, .. } => Some((*round, *vote)),
                _ => None,
            })
            .expect("a notification went out");
        vote.leader = ServerId(leader);
        for p in [2, 3] {
            self.peer(
                p,
                PeerMessage::Notification {
                    round,
                    vote,
                    state: PeerState::Looking,
                },
            );
        }
        for _ in 0..20 {
            if self.world.replica.role_name() != "looking" {
                break;
            }
            self.run(Script::tick_to_deadline());
        }
    }

    fn connect(&mut self) {
        self.run(Script::connect(&ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid::ZERO,
            timeout_ms: 2000,
            session_id: SessionId(0),
            passwd: vec![0; 16],
            read_only: Some(false),
        }));
        self.settle();
    }
}

/// Server 1 is elected by 2 and 3, gets through discovery and sync, serves a client that
/// creates, reads with a watch, changes, multis, deletes, syncs and closes its session.
pub fn scenario_leader() -> Scripted {
    use arbor_core::proto::jute::{
        CheckVersionRequest, CreateRequest, DeleteRequest, MultiOp, PathRequest, PathWatchRequest,
        SetDataRequest,
    };
    let mut s = Scripted::new(0);
    s.elect(1);
    assert_eq!(s.world.replica.role_name(), "leading");
    for p in [2, 3] {
        s.peer(
            p,
            PeerMessage::FollowerInfo {
                accepted_epoch: Epoch(0),
                last_zxid: Zxid::ZERO,
                nonce: p,
            },
        );
    }
    for p in [2, 3] {
        s.peer(
            p,
            PeerMessage::AckEpoch {
                current_epoch: Epoch(0),
                last_zxid: Zxid::ZERO,
                fresh: true,
                applied_zxid: Zxid::ZERO,
            },
        );
    }
    let zxid = s
        .last_sent(|m| match m {
            PeerMessage::NewLeader { zxid, .. } => Some(*zxid),
            _ => None,
        })
        .expect("NEWLEADER sent");
    for p in [2, 3] {
        s.peer(p, PeerMessage::Ack { zxid });
    }
    assert!(
        s.world.replica.serving_leader().is_some(),
        "leader established"
    );
    let ack = |s: &mut Scripted| {
        let zxid = s.world.replica.last_logged_zxid();
        s.peer(2, PeerMessage::Ack { zxid });
    };
    s.connect();
    ack(&mut s);
    let create = |path: &str, flags| {
        Request::Create(CreateRequest {
            path: path.into(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            flags,
        })
    };
    let reqs = [
        create("/a", 0),
        create("/a/b", 1),
        Request::GetData(PathWatchRequest {
            path: "/a".into(),
            watch: true,
        }),
        Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(b"y".to_vec()),
            version: 0,
        }),
        Request::Multi(vec![
            MultiOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 1,
            }),
            MultiOp::Create(CreateRequest {
                path: "/c".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
        ]),
        Request::GetChildren(PathWatchRequest {
            path: "/".into(),
            watch: false,
        }),
        Request::Delete(DeleteRequest {
            path: "/a/b".into(),
            version: -1,
        }),
        Request::Sync(PathRequest { path: "/".into() }),
        Request::CloseSession,
    ];
    for (xid, req) in reqs.iter().enumerate() {
        s.run(Script::request(0, xid as i32 + 1, req));
        s.settle();
        ack(&mut s);
    }
    s
}

/// Server 1 follows server 2: discovery, DIFF sync, a committed proposal, then a client
/// whose session create is forwarded to the leader and a read served locally.
pub fn scenario_follower() -> Scripted {
    use arbor_core::proto::jute::PathWatchRequest;
    let mut s = Scripted::new(0);
    s.elect(2);
    assert_eq!(s.world.replica.role_name(), "following");
    s.peer(2, PeerMessage::LeaderInfo { epoch: Epoch(1) });
    s.peer(
        2,
        PeerMessage::Diff {
            txns: Vec::new(),
            committed: Zxid::ZERO,
        },
    );
    s.peer(
        2,
        PeerMessage::NewLeader {
            epoch: Epoch(1),
            zxid: Zxid::ZERO,
        },
    );
    s.peer(
        2,
        PeerMessage::UpToDate {
            committed: Zxid::ZERO,
        },
    );
    assert!(
        s.world.replica.serving_leader().is_some(),
        "follower serving"
    );
    let z1 = Zxid::new(Epoch(1), 1);
    s.peer(
        2,
        PeerMessage::Proposal {
            txn: safe_txn(
                z1,
                TxnBody::CreateSession {
                    session: SessionId(0x0200_0000_0000_0001),
                    timeout_ms: 2000,
                },
            ),
            origin: None,
        },
    );
    s.peer(2, PeerMessage::Commit { zxid: z1 });
    s.connect();
    if let Some((origin, cxid, timeout_ms)) = s.last_sent(|m| match m {
        PeerMessage::Request {
            origin, cxid, op, ..
        } => match **op {
            WriteOp::CreateSession { timeout_ms } => Some((*origin, *cxid, timeout_ms)),
            _ => None,
        },
        _ => None,
    }) {
        let z2 = Zxid::new(Epoch(1), 2);
        let session = SessionId(0x0200_0000_0000_0002);
        let mut txn = safe_txn(
            z2,
            TxnBody::CreateSession {
                session,
                timeout_ms,
            },
        );
        txn.header.session = session;
        txn.header.cxid = cxid;
        s.peer(
            2,
            PeerMessage::Proposal {
                txn,
                origin: Some(origin),
            },
        );
        s.peer(2, PeerMessage::Commit { zxid: z2 });
    }
    s.run(Script::request(
        0,
        1,
        &Request::GetData(PathWatchRequest {
            path: "/zookeeper".into(),
            watch: true,
        }),
    ));
    s.run(Script::tick_to_deadline());
    s
}
