//! An in-crate harness: N replicas, a manual clock, one global FIFO of peer messages
//! (so every link is FIFO), a per-node model disk that becomes durable only when the test
//! (or auto-persist) reports `Persisted`, crash and restart from that disk.

use std::collections::{BTreeSet, VecDeque};

use crate::proto::jute::{ConnectRequest, ConnectResponse, Request, RequestHeader};
use crate::replica::{Config, Input, LogRecord, Output, Recovered, Replica};
use crate::txn::Txn;
use crate::types::{ConnId, Epoch, Nanos, PersistToken, ServerId, SessionId, WallMillis, Zxid};
use crate::zab::PeerMessage;

pub(crate) const TICK_NS: u64 = 100_000_000;

pub(crate) fn sid(i: usize) -> ServerId {
    ServerId(i as u64 + 1)
}

pub(crate) fn config(i: usize, n: usize) -> Config {
    let voters = (0..n).map(sid).collect();
    let mut c = Config::new(sid(i), voters).with_tick_ns(TICK_NS);
    c.seed = 7 + i as u64;
    c.tree.extended_types_enabled = true;
    // Small, so compaction, SNAP sync and recovery from snapshots happen in every run.
    c.snapshot_every_txns = 7;
    c
}

#[derive(Debug)]
enum Effect {
    Records(Vec<LogRecord>),
    Truncate(Zxid),
    Install(Zxid, Vec<u8>),
}

/// What a node's storage durably holds.
#[derive(Debug, Default)]
pub(crate) struct Disk {
    accepted: Epoch,
    current: Epoch,
    snapshot: Option<(Zxid, Vec<u8>)>,
    pub(crate) log: Vec<Txn>,
    /// The durable damage marker (`LogRecord::Damaged`).
    pub(crate) damaged: Option<Zxid>,
    pending: Vec<(PersistToken, Effect)>,
}

impl Disk {
    fn persisted(&mut self, token: PersistToken) {
        let pending = std::mem::take(&mut self.pending);
        for (t, e) in pending {
            if t > token {
                self.pending.push((t, e));
                continue;
            }
            match e {
                Effect::Records(recs) => {
                    for r in recs {
                        match r {
                            LogRecord::AcceptedEpoch(e) => {
                                assert!(e >= self.accepted, "acceptedEpoch went down on disk");
                                self.accepted = e;
                            }
                            LogRecord::CurrentEpoch(e) => {
                                assert!(e >= self.current, "currentEpoch went down on disk");
                                self.current = e;
                            }
                            LogRecord::Damaged(d) => self.damaged = d,
                            LogRecord::Txn(t) => {
                                assert!(
                                    self.log
                                        .last()
                                        .is_none_or(|l| l.header.zxid < t.header.zxid),
                                    "log append out of order on disk"
                                );
                                self.log.push(t);
                            }
                        }
                    }
                }
                Effect::Truncate(after) => self.log.retain(|t| t.header.zxid <= after),
                Effect::Install(z, d) => {
                    self.snapshot = Some((z, d));
                    self.log.clear();
                }
            }
            // Epoch sanity (zab.md §1.1) after every durable write.
            assert!(
                self.accepted >= self.current,
                "disk: acceptedEpoch < currentEpoch"
            );
            assert!(
                self.log
                    .last()
                    .is_none_or(|t| t.header.zxid.epoch() <= self.accepted),
                "disk: logged txn above acceptedEpoch"
            );
        }
    }

    pub(crate) fn recovered(&self) -> Recovered {
        Recovered {
            accepted_epoch: self.accepted,
            current_epoch: self.current,
            snapshot: self.snapshot.clone(),
            log: self.log.clone(),
            damaged: self.damaged,
        }
    }

    pub(crate) fn pending_tokens(&self) -> Vec<PersistToken> {
        self.pending.iter().map(|(t, _)| *t).collect()
    }
}

pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Replica>,
    pub(crate) cfgs: Vec<Config>,
    pub(crate) disks: Vec<Disk>,
    pub(crate) now: Nanos,
    pub(crate) net: VecDeque<(ServerId, ServerId, PeerMessage)>,
    pub(crate) auto_persist: Vec<bool>,
    pub(crate) down: BTreeSet<usize>,
    /// Client-facing outputs per node, in order.
    pub(crate) client: Vec<Vec<Output>>,
    /// Every transaction any node ever logged, by zxid: Zab's "same zxid, same txn".
    pub(crate) logged: std::collections::BTreeMap<Zxid, Txn>,
    /// Off when a test forges peer messages (forged txns legitimately break agreement).
    pub(crate) check_agreement: bool,
}

impl Cluster {
    pub(crate) fn new(n: usize) -> Cluster {
        Cluster::with_recovered(n, (0..n).map(|_| Recovered::default()).collect())
    }

    pub(crate) fn with_recovered(n: usize, recs: Vec<Recovered>) -> Cluster {
        Cluster::with_recovered_and(n, recs, |_| {})
    }

    /// A fresh cluster whose every config is first adjusted by `adjust`.
    pub(crate) fn with_config(n: usize, adjust: impl Fn(&mut Config)) -> Cluster {
        let recs = (0..n).map(|_| Recovered::default()).collect();
        Cluster::with_recovered_and(n, recs, adjust)
    }

    fn with_recovered_and(n: usize, recs: Vec<Recovered>, adjust: impl Fn(&mut Config)) -> Cluster {
        let cfgs: Vec<Config> = (0..n)
            .map(|i| {
                let mut c = config(i, n);
                adjust(&mut c);
                c
            })
            .collect();
        let mut disks = Vec::new();
        let mut nodes = Vec::new();
        for (i, rec) in recs.into_iter().enumerate() {
            disks.push(Disk {
                accepted: rec.accepted_epoch,
                current: rec.current_epoch,
                snapshot: rec.snapshot.clone(),
                log: rec.log.clone(),
                damaged: rec.damaged,
                pending: Vec::new(),
            });
            nodes.push(Replica::recover(cfgs[i].clone(), rec).expect("recovers"));
        }
        let mut c = Cluster {
            nodes,
            cfgs,
            disks,
            now: Nanos(0),
            net: VecDeque::new(),
            auto_persist: vec![true; n],
            down: BTreeSet::new(),
            client: (0..n).map(|_| Vec::new()).collect(),
            logged: std::collections::BTreeMap::new(),
            check_agreement: true,
        };
        for i in 0..n {
            c.drain(i);
        }
        c
    }

    /// Feeds one input to node `i` and returns (and routes) exactly what it emitted.
    pub(crate) fn step(&mut self, i: usize, input: Input) -> Vec<Output> {
        assert!(!self.down.contains(&i), "stepping a crashed node");
        self.nodes[i].handle(
            self.now,
            WallMillis(1_000 + (self.now.0 / 1_000_000) as i64),
            input,
        );
        self.drain(i)
    }

    fn drain(&mut self, i: usize) -> Vec<Output> {
        let mut outs = Vec::new();
        while let Some(o) = self.nodes[i].poll_output() {
            match &o {
                Output::Send { to, msg } => {
                    self.check_ack_durable(i, msg);
                    self.net.push_back((sid(i), *to, msg.clone()))
                }
                Output::Persist { token, records, .. } => {
                    for r in records {
                        if let (LogRecord::Txn(t), true) = (r, self.check_agreement) {
                            let prev = self
                                .logged
                                .entry(t.header.zxid)
                                .or_insert_with(|| t.clone());
                            assert_eq!(prev, t, "two transactions share zxid {}", t.header.zxid);
                        }
                    }
                    self.disks[i]
                        .pending
                        .push((*token, Effect::Records(records.clone())))
                }
                Output::TruncateLog { token, after_zxid } => self.disks[i]
                    .pending
                    .push((*token, Effect::Truncate(*after_zxid))),
                Output::InstallSnapshot { token, zxid, data } => self.disks[i]
                    .pending
                    .push((*token, Effect::Install(*zxid, data.clone()))),
                Output::Snapshot { zxid, view } => {
                    // A snapshot holds committed state only; model it as written at once.
                    if self.disks[i]
                        .snapshot
                        .as_ref()
                        .is_none_or(|(z, _)| z < zxid)
                    {
                        self.disks[i].snapshot = Some((*zxid, view.serialize()));
                    }
                }
                Output::CloseClient { .. }
                | Output::ConnectResponse { .. }
                | Output::Notify { .. }
                | Output::PauseReads { .. }
                | Output::Reply { .. }
                | Output::ResumeReads { .. } => self.client[i].push(o.clone()),
            }
            outs.push(o);
        }
        outs
    }

    /// zab.md "durability of acks": whatever an ACK / ACKEPOCH vouches for is on disk.
    fn check_ack_durable(&self, i: usize, msg: &PeerMessage) {
        let disk = &self.disks[i];
        let (accepted, current) = self.nodes[i].epochs();
        match msg {
            PeerMessage::Ack { zxid } => {
                let in_snapshot = disk.snapshot.as_ref().is_some_and(|(z, _)| z >= zxid);
                let in_log = disk.log.iter().any(|t| t.header.zxid == *zxid);
                assert!(
                    *zxid == Zxid::ZERO || in_snapshot || in_log,
                    "node {i} ACKed {zxid} before it was durable"
                );
                assert_eq!(
                    disk.current, current,
                    "node {i} ACKed before currentEpoch was durable"
                );
            }
            PeerMessage::AckEpoch { .. } => {
                assert_eq!(
                    disk.accepted, accepted,
                    "node {i} ACKEPOCH before acceptedEpoch durable"
                );
            }
            _ => {}
        }
    }

    /// Reports durability of node `i`'s writes through `token`.
    pub(crate) fn persist(&mut self, i: usize, token: PersistToken) -> Vec<Output> {
        self.disks[i].persisted(token);
        self.step(i, Input::Persisted { token })
    }

    fn persist_all(&mut self, i: usize) -> bool {
        match self.disks[i].pending_tokens().last().copied() {
            Some(t) => {
                self.persist(i, t);
                true
            }
            None => false,
        }
    }

    /// Pops the next peer message and delivers it (dropped if an end is down).
    pub(crate) fn deliver_one(&mut self) -> bool {
        let Some((from, to, msg)) = self.net.pop_front() else {
            return false;
        };
        let (fi, ti) = (from.0 as usize - 1, to.0 as usize - 1);
        if !self.down.contains(&fi) && !self.down.contains(&ti) {
            self.step(ti, Input::Peer { from, msg });
        }
        true
    }

    /// Delivers messages and auto-persists until nothing moves.
    pub(crate) fn settle(&mut self) {
        for _ in 0..1_000_000 {
            if self.deliver_one() {
                continue;
            }
            let mut moved = false;
            for i in 0..self.nodes.len() {
                if self.auto_persist[i] && !self.down.contains(&i) && self.persist_all(i) {
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
        panic!("cluster did not settle");
    }

    /// Advances the clock by `ns`, ticking nodes at their deadlines and settling.
    pub(crate) fn advance(&mut self, ns: u64) {
        self.settle();
        let target = self.now.add_ns(ns);
        loop {
            let next = (0..self.nodes.len())
                .filter(|i| !self.down.contains(i))
                .filter_map(|i| self.nodes[i].next_deadline())
                .min();
            match next {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    for i in 0..self.nodes.len() {
                        if !self.down.contains(&i)
                            && self.nodes[i].next_deadline().is_some_and(|d| d <= self.now)
                        {
                            self.step(i, Input::Tick);
                        }
                    }
                    self.settle();
                }
                _ => {
                    self.now = target;
                    return;
                }
            }
        }
    }

    pub(crate) fn leader(&self) -> Option<usize> {
        (0..self.nodes.len()).find(|i| {
            !self.down.contains(i)
                && self.nodes[*i].serving_leader().map(|(l, _)| l) == Some(sid(*i))
        })
    }

    /// Runs until every live node serves under one leader; returns its index.
    pub(crate) fn elect(&mut self) -> usize {
        for _ in 0..200 {
            self.advance(TICK_NS);
            if let Some(l) = self.leader() {
                let want = self.nodes[l].serving_leader();
                let all = (0..self.nodes.len())
                    .filter(|i| !self.down.contains(i))
                    .all(|i| self.nodes[i].serving_leader() == want);
                if all {
                    return l;
                }
            }
        }
        panic!("no leader elected");
    }

    pub(crate) fn crash(&mut self, i: usize) {
        self.down.insert(i);
        self.disks[i].pending.clear();
        self.net.retain(|(f, t, _)| *f != sid(i) && *t != sid(i));
        for j in 0..self.nodes.len() {
            if j != i && !self.down.contains(&j) {
                self.step(j, Input::PeerDisconnected { peer: sid(i) });
            }
        }
    }

    pub(crate) fn restart(&mut self, i: usize) {
        let rec = self.disks[i].recovered();
        self.nodes[i] = Replica::recover(self.cfgs[i].clone(), rec).expect("recovers");
        self.down.remove(&i);
        self.drain(i);
        for j in 0..self.nodes.len() {
            if j != i && !self.down.contains(&j) {
                self.step(j, Input::PeerConnected { peer: sid(i) });
                self.step(i, Input::PeerConnected { peer: sid(j) });
            }
        }
    }

    pub(crate) fn connect(&mut self, i: usize, conn: u64) -> ConnectResponse {
        self.connect_with(
            i,
            conn,
            ConnectRequest {
                timeout_ms: 1_000,
                passwd: vec![0; 16],
                read_only: Some(false),
                ..Default::default()
            },
        )
        .expect("connect answered")
    }

    pub(crate) fn connect_with(
        &mut self,
        i: usize,
        conn: u64,
        req: ConnectRequest,
    ) -> Option<ConnectResponse> {
        let start = self.client[i].len();
        self.step(
            i,
            Input::ClientConnect {
                conn: ConnId(conn),
                request: req,
            },
        );
        self.settle();
        self.client[i][start..].iter().find_map(|o| match o {
            Output::ConnectResponse { conn: c, response } if *c == ConnId(conn) => {
                Some(response.clone())
            }
            _ => None,
        })
    }

    pub(crate) fn send(&mut self, i: usize, conn: u64, xid: i32, request: Request) -> Vec<Output> {
        let header = RequestHeader {
            xid,
            op: request.op(),
        };
        self.step(
            i,
            Input::ClientRequest {
                conn: ConnId(conn),
                header,
                request: Box::new(request),
            },
        )
    }

    /// Client outputs of node `i` for `conn` since index `from`.
    pub(crate) fn client_since(&self, i: usize, conn: u64, from: usize) -> Vec<Output> {
        self.client[i][from..]
            .iter()
            .filter(|o| match o {
                Output::Reply { conn: c, .. }
                | Output::ConnectResponse { conn: c, .. }
                | Output::CloseClient { conn: c, .. }
                | Output::Notify { conn: c, .. }
                | Output::PauseReads { conn: c }
                | Output::ResumeReads { conn: c } => *c == ConnId(conn),
                _ => false,
            })
            .cloned()
            .collect()
    }

    pub(crate) fn digests(&self) -> Vec<(Zxid, u64)> {
        (0..self.nodes.len())
            .filter(|i| !self.down.contains(i))
            .map(|i| (self.nodes[i].applied_zxid(), self.nodes[i].tree().digest()))
            .collect()
    }
}

/// A plain create of `path` with data `d` and an open ACL.
pub(crate) fn create(path: &str) -> Request {
    Request::Create(crate::proto::jute::CreateRequest {
        path: path.into(),
        data: Some(b"d".to_vec()),
        acl: crate::types::Acl::open_unsafe(),
        flags: 0,
    })
}

/// `Zxid::new(Epoch(e), c)`.
pub(crate) fn z(e: u32, c: u32) -> Zxid {
    Zxid::new(Epoch(e), c)
}

/// The first node of `c` that is not node `l` (a follower once `l` leads).
pub(crate) fn follower(c: &Cluster, l: usize) -> usize {
    (0..c.nodes.len())
        .find(|i| *i != l)
        .expect("a cluster of two or more nodes")
}

pub(crate) fn session_txn(zxid: Zxid, session: i64) -> Txn {
    Txn::new(
        crate::txn::TxnHeader {
            session: SessionId(session),
            cxid: 0,
            zxid,
            time: WallMillis(0),
        },
        crate::txn::TxnBody::CreateSession {
            session: SessionId(session),
            timeout_ms: 1_000,
        },
    )
}
