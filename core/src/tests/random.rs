//! Randomized fault schedules over the harness (a small, in-crate cousin of `sim`): random
//! delivery order across links (FIFO per link), delayed and partial persistence, crashes
//! that lose unsynced writes, restarts from the model disk, link breaks, and clients
//! creating unique nodes. Checks after every step: each replica's invariants (inside
//! `handle`), equal tree digests at equal applied zxids across all replicas and all time;
//! at the end, after healing: a leader is elected, replicas converge, and every
//! acknowledged create is present everywhere.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::harness::{sid, Cluster, TICK_NS};
use crate::proto::jute::{ConnectRequest, CreateRequest, Request};
use crate::replica::{Input, Output};
use crate::types::{Acl, ConnId, ServerId, Zxid};

struct World {
    c: Cluster,
    rng: ChaCha8Rng,
    seen: BTreeMap<Zxid, u64>,
    /// Per node: connections ready to send.
    ready: Vec<BTreeSet<u64>>,
    scanned: Vec<usize>,
    pending: BTreeMap<(usize, u64, i32), String>,
    acked: Vec<String>,
    next_conn: u64,
    next_path: u64,
    ephemeral: BTreeSet<String>,
    /// Session (id, password) of each connection that completed its handshake.
    sessions: BTreeMap<u64, (crate::types::SessionId, Vec<u8>)>,
    /// Sessions whose connection dropped, to resume elsewhere.
    orphans: Vec<(crate::types::SessionId, Vec<u8>)>,
    /// Highest reply xid per connection (replies must come in request order).
    last_xid: BTreeMap<u64, i32>,
    /// Highest zxid each session has seen (must never go backwards, also across reconnects).
    seen_zxid: BTreeMap<crate::types::SessionId, Zxid>,
}

impl World {
    fn pick(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n
    }

    fn check_digests(&mut self) {
        for i in 0..self.c.nodes.len() {
            if self.c.down.contains(&i) {
                continue;
            }
            let z = self.c.nodes[i].applied_zxid();
            let d = self.c.nodes[i].tree().digest();
            let prev = *self.seen.entry(z).or_insert(d);
            assert_eq!(prev, d, "replicas disagree at zxid {z}");
        }
    }

    /// Ephemerals exist only while their session is live (ZOOKEEPER-2355 class).
    fn check_ephemerals(&self) {
        for i in 0..self.c.nodes.len() {
            if self.c.down.contains(&i) {
                continue;
            }
            let tree = self.c.nodes[i].tree();
            tree.check_invariants();
            for p in &self.ephemeral {
                if let Some(stat) = tree.stat(p) {
                    let owner = crate::types::SessionId(stat.ephemeral_owner);
                    assert!(
                        tree.sessions().contains_key(&owner),
                        "{p} outlived session {owner}"
                    );
                }
            }
        }
    }

    fn scan_clients(&mut self) {
        for i in 0..self.c.nodes.len() {
            let outs: Vec<Output> = self.c.client[i][self.scanned[i]..].to_vec();
            self.scanned[i] = self.c.client[i].len();
            for o in outs {
                match o {
                    Output::ConnectResponse { conn, response } if response.timeout_ms > 0 => {
                        self.ready[i].insert(conn.0);
                        self.sessions
                            .insert(conn.0, (response.session_id, response.passwd.clone()));
                    }
                    Output::CloseClient { conn, .. } => {
                        self.ready[i].remove(&conn.0);
                        if let Some(s) = self.sessions.remove(&conn.0) {
                            if self.orphans.len() < 8 {
                                self.orphans.push(s);
                            }
                        }
                    }
                    Output::Reply { conn, header, .. } => {
                        if header.xid > 0 {
                            let last = self.last_xid.entry(conn.0).or_insert(0);
                            assert!(
                                header.xid > *last,
                                "conn {}: reply {} after {}",
                                conn.0,
                                header.xid,
                                *last
                            );
                            *last = header.xid;
                        }
                        if let Some((s, _)) = self.sessions.get(&conn.0) {
                            let seen = self.seen_zxid.entry(*s).or_insert(Zxid(0));
                            assert!(
                                header.zxid >= *seen,
                                "session {s} went back in time: {} < {}",
                                header.zxid,
                                *seen
                            );
                            *seen = header.zxid;
                        }
                        if let Some(p) = self.pending.remove(&(i, conn.0, header.xid)) {
                            if header.err == 0 {
                                self.acked.push(p);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn deliver_random_link(&mut self) {
        if self.c.net.is_empty() {
            return;
        }
        let k = self.pick(self.c.net.len() as u64) as usize;
        let (f, t, _) = self.c.net[k].clone();
        let first = self
            .c
            .net
            .iter()
            .position(|(a, b, _)| *a == f && *b == t)
            .expect("exists");
        let (from, to, msg) = self.c.net.remove(first).expect("exists");
        let ti = to.0 as usize - 1;
        if !self.c.down.contains(&(from.0 as usize - 1)) && !self.c.down.contains(&ti) {
            self.c.step(ti, Input::Peer { from, msg });
        }
    }

    fn persist_random(&mut self, i: usize) {
        let tokens = self.c.disks[i].pending_tokens();
        if tokens.is_empty() || self.c.down.contains(&i) {
            return;
        }
        // Half the time everything so far (a group fsync), else a random prefix.
        let k = if self.pick(2) == 0 {
            tokens.len() - 1
        } else {
            self.pick(tokens.len() as u64) as usize
        };
        self.c.persist(i, tokens[k]);
    }

    fn break_link(&mut self, a: usize, b: usize) {
        let (sa, sb) = (sid(a), sid(b));
        self.c
            .net
            .retain(|(f, t, _)| !((*f == sa && *t == sb) || (*f == sb && *t == sa)));
        for (x, y) in [(a, b), (b, a)] {
            if !self.c.down.contains(&x) {
                self.c.step(x, Input::PeerDisconnected { peer: sid(y) });
                self.c.step(x, Input::PeerConnected { peer: sid(y) });
            }
        }
    }

    fn client_op(&mut self, i: usize) {
        if self.c.down.contains(&i) {
            return;
        }
        if let Some(&conn) = self.ready[i].iter().next() {
            self.next_path += 1;
            if self.pick(30) == 0 {
                // An explicit close: its ephemerals must go with it.
                self.sessions.remove(&conn);
                self.c
                    .send(i, conn, self.next_path as i32, Request::CloseSession);
                return;
            }
            let path = format!("/p{}", self.next_path);
            let xid = self.next_path as i32;
            self.pending.insert((i, conn, xid), path.clone());
            let flags = (self.pick(2)) as i32; // persistent or ephemeral
            if flags == 1 {
                self.ephemeral.insert(path.clone());
            }
            let request = Request::Create(CreateRequest {
                path,
                data: None,
                acl: Acl::open_unsafe(),
                flags,
            });
            self.c.send(i, conn, xid, request);
        } else if self.c.nodes[i].serving_leader().is_some() && self.c.nodes[i].client_count() < 2 {
            self.next_conn += 1;
            let conn = self.next_conn;
            let mut request = ConnectRequest {
                timeout_ms: 1_000,
                passwd: vec![0; 16],
                ..Default::default()
            };
            if !self.orphans.is_empty() && self.pick(2) == 0 {
                // Resume a dropped session here, with the last zxid it saw.
                let (s, passwd) = self.orphans.remove(0);
                request.session_id = s;
                request.passwd = passwd;
                request.last_zxid_seen = self.seen_zxid.get(&s).copied().unwrap_or_default();
            }
            self.c.step(
                i,
                Input::ClientConnect {
                    conn: ConnId(conn),
                    request,
                },
            );
        }
    }
}

fn run(seed: u64, n: usize, steps: usize) {
    let mut w = World {
        c: Cluster::new(n),
        rng: ChaCha8Rng::seed_from_u64(seed),
        seen: BTreeMap::new(),
        ready: vec![BTreeSet::new(); n],
        scanned: vec![0; n],
        pending: BTreeMap::new(),
        acked: Vec::new(),
        next_conn: 0,
        next_path: 0,
        ephemeral: BTreeSet::new(),
        sessions: BTreeMap::new(),
        orphans: Vec::new(),
        last_xid: BTreeMap::new(),
        seen_zxid: BTreeMap::new(),
    };
    for i in 0..n {
        w.c.auto_persist[i] = false;
    }
    for _ in 0..steps {
        let roll = w.pick(100);
        let i = w.pick(n as u64) as usize;
        match roll {
            0..=59 => w.deliver_random_link(),
            60..=74 => w.persist_random(i),
            75..=79 => {
                let dt = (w.pick(3) + 1) * TICK_NS / 2;
                let target = w.c.now.add_ns(dt);
                w.c.now = target;
                for j in 0..n {
                    if !w.c.down.contains(&j)
                        && w.c.nodes[j].next_deadline().is_some_and(|d| d <= target)
                    {
                        w.c.step(j, Input::Tick);
                    }
                }
            }
            80..=94 => w.client_op(i),
            95..=96 => {
                let j = w.pick(n as u64) as usize;
                if i != j {
                    w.break_link(i, j);
                }
            }
            97 => {
                // Crash any node (a majority may go down: durability is on trial).
                if !w.c.down.contains(&i) && w.pick(3) == 0 {
                    w.c.crash(i);
                    w.ready[i].clear();
                }
            }
            _ => {
                if w.c.down.contains(&i) {
                    w.c.restart(i);
                }
            }
        }
        w.scan_clients();
        w.check_digests();
        if w.pick(20) == 0 {
            w.check_ephemerals();
        }
    }
    // Heal: restart everyone, persist everything, elect, converge.
    for i in 0..n {
        if w.c.down.contains(&i) {
            w.c.restart(i);
        }
        w.c.auto_persist[i] = true;
    }
    w.c.elect();
    w.c.advance(3 * TICK_NS);
    w.scan_clients();
    w.check_digests();
    let d = w.c.digests();
    let summary: Vec<String> = (0..n)
        .map(|i| {
            let r = &w.c.nodes[i];
            format!(
                "{} {:?} applied {} committed {} logged {} epochs {:?}",
                r.role_name(),
                r.serving_leader(),
                r.applied_zxid(),
                r.committed_zxid(),
                r.last_logged_zxid(),
                r.epochs()
            )
        })
        .collect();
    assert!(
        d.windows(2).all(|x| x[0] == x[1]),
        "seed {seed}: no convergence {d:?}: {summary:#?}"
    );
    w.check_ephemerals();
    for p in w.acked.iter().filter(|p| !w.ephemeral.contains(*p)) {
        for i in 0..n {
            assert!(
                w.c.nodes[i].tree().stat(p).is_some(),
                "seed {seed}: acknowledged {p} missing on {}",
                ServerId(i as u64 + 1)
            );
        }
    }
}

#[test]
fn random_faults_three_nodes() {
    for seed in seeds(0, 30) {
        run(seed, 3, 2_000);
    }
}

#[test]
fn random_faults_five_nodes() {
    for seed in seeds(100_000, 15) {
        run(seed, 5, 8_000);
    }
}

/// The seeds of a sweep (widen `count` locally to hunt; a failure names its seed).
fn seeds(base: u64, count: u64) -> std::ops::Range<u64> {
    base..base + count
}
