//! Three real `Replica`s, each on its own `FileStorage`, messages routed in process: the
//! storage outputs the core emits during DIFF / TRUNC / SNAP sync, compaction and
//! restarts are all accepted by the storage's write-time checks, and every acknowledged
//! write is on disk after restarting every node from its data dir.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use arbor_core::proto::jute::{ConnectRequest, CreateRequest, Request, RequestHeader};
use arbor_core::replica::{Config, Input, Output, Replica};
use arbor_core::types::{Acl, ConnId, Nanos, ServerId, WallMillis};
use arbor_core::PeerMessage;
use arbor_net::storage::{commit_batch, FileStorage, Storage, StorageOp, StorageOptions};

const TICK_NS: u64 = 100_000_000;
const N: usize = 3;

struct Node {
    replica: Replica,
    storage: FileStorage,
    client: Vec<Output>,
}

struct Ensemble {
    dirs: Vec<PathBuf>,
    nodes: Vec<Option<Node>>,
    net: VecDeque<(usize, usize, PeerMessage)>,
    now: Nanos,
    /// When set, messages from this node are dropped (a leader cut off mid-broadcast).
    mute: Option<usize>,
    conn: u64,
    xid: i32,
    /// TruncateLog / InstallSnapshot ops performed, over all nodes.
    truncates: usize,
    installs: usize,
}

fn sid(i: usize) -> ServerId {
    ServerId(i as u64 + 1)
}

fn config(i: usize) -> Config {
    let mut c = Config::new(sid(i), (0..N).map(sid).collect()).with_tick_ns(TICK_NS);
    c.snapshot_every_txns = 7;
    c.seed = 11 + i as u64;
    c
}

fn open(dir: &Path) -> (FileStorage, arbor_core::replica::Recovered) {
    let o = FileStorage::open(StorageOptions {
        segment_bytes_max: 1_500,
        ..StorageOptions::new(dir)
    })
    .expect("open");
    (o.storage, o.recovered)
}

impl Ensemble {
    fn new(root: &Path) -> Ensemble {
        let dirs: Vec<PathBuf> = (0..N).map(|i| root.join(format!("n{}", i + 1))).collect();
        let mut e = Ensemble {
            dirs,
            nodes: (0..N).map(|_| None).collect(),
            net: VecDeque::new(),
            now: Nanos(0),
            mute: None,
            conn: 0,
            xid: 0,
            truncates: 0,
            installs: 0,
        };
        for i in 0..N {
            e.start(i);
        }
        e
    }

    fn start(&mut self, i: usize) {
        let (storage, rec) = open(&self.dirs[i]);
        self.nodes[i] = Some(Node {
            replica: Replica::recover(config(i), rec).expect("recovers"),
            storage,
            client: Vec::new(),
        });
        self.drain(i);
        for j in 0..N {
            if j != i && self.nodes[j].is_some() {
                self.step(j, Input::PeerConnected { peer: sid(i) });
                self.step(i, Input::PeerConnected { peer: sid(j) });
            }
        }
    }

    fn crash(&mut self, i: usize) {
        self.nodes[i] = None;
        self.net.retain(|(f, t, _)| *f != i && *t != i);
        for j in 0..N {
            if j != i && self.nodes[j].is_some() {
                self.step(j, Input::PeerDisconnected { peer: sid(i) });
            }
        }
    }

    fn step(&mut self, i: usize, input: Input) {
        let now = self.now;
        let n = self.nodes[i].as_mut().expect("live node");
        n.replica.handle(now, WallMillis(1_000), input);
        self.drain(i);
    }

    fn drain(&mut self, i: usize) {
        let now = self.now;
        loop {
            let n = self.nodes[i].as_mut().expect("live node");
            let mut ops = Vec::new();
            while let Some(out) = n.replica.poll_output() {
                match StorageOp::from_output(out) {
                    Ok(op) => ops.push(op),
                    Err(Output::Snapshot { zxid, view }) => {
                        let data = view.serialize();
                        n.storage.save_snapshot(zxid, &data).expect("snapshot");
                        n.storage.purge(3).expect("purge");
                    }
                    Err(Output::Send { to, msg }) => {
                        if self.mute != Some(i) {
                            self.net.push_back((i, to.0 as usize - 1, msg));
                        }
                    }
                    Err(other) => n.client.push(other),
                }
            }
            n.storage.check_invariants();
            if ops.is_empty() {
                return;
            }
            for op in &ops {
                match op {
                    StorageOp::InstallSnapshot { .. } => self.installs += 1,
                    StorageOp::TruncateLog { .. } => self.truncates += 1,
                    StorageOp::Persist { .. } => {}
                }
            }
            match commit_batch(&mut n.storage, &ops).expect("commit") {
                Some(token) => n
                    .replica
                    .handle(now, WallMillis(1_000), Input::Persisted { token }),
                None => return,
            }
        }
    }

    fn settle(&mut self) {
        for _ in 0..1_000_000 {
            let Some((from, to, msg)) = self.net.pop_front() else {
                return;
            };
            if self.nodes[to].is_some() && self.nodes[from].is_some() {
                self.step(
                    to,
                    Input::Peer {
                        from: sid(from),
                        msg,
                    },
                );
            }
        }
        panic!("did not settle");
    }

    fn tick(&mut self) {
        self.settle();
        let next = (0..N)
            .filter_map(|i| self.nodes[i].as_ref()?.replica.next_deadline())
            .min()
            .expect("a timer is armed");
        self.now = self.now.max(next);
        for i in 0..N {
            let due = self.nodes[i]
                .as_ref()
                .and_then(|n| n.replica.next_deadline())
                .is_some_and(|d| d <= self.now);
            if due {
                self.step(i, Input::Tick);
            }
        }
        self.settle();
    }

    fn leader(&self) -> Option<usize> {
        (0..N).find(|&i| {
            self.nodes[i]
                .as_ref()
                .is_some_and(|n| n.replica.serving_leader().map(|(l, _)| l) == Some(sid(i)))
        })
    }

    fn elect(&mut self) -> usize {
        for _ in 0..2_000 {
            self.tick();
            if let Some(l) = self.leader() {
                let want = self.nodes[l].as_ref().unwrap().replica.serving_leader();
                if (0..N)
                    .filter_map(|i| self.nodes[i].as_ref())
                    .all(|n| n.replica.serving_leader() == want)
                {
                    return l;
                }
            }
        }
        panic!("no leader");
    }

    fn connect(&mut self, i: usize, conn: u64) {
        self.step(
            i,
            Input::ClientConnect {
                conn: ConnId(conn),
                request: ConnectRequest {
                    timeout_ms: 30_000,
                    passwd: vec![0; 16],
                    read_only: Some(false),
                    ..Default::default()
                },
            },
        );
        self.settle();
    }

    /// Sends a create; returns whether it was acknowledged (after settling).
    fn create(&mut self, i: usize, conn: u64, xid: i32, path: &str) -> bool {
        let request = Request::Create(CreateRequest {
            path: path.into(),
            data: Some(path.as_bytes().to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
        });
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
        );
        self.settle();
        self.nodes[i].as_ref().is_some_and(|n| {
            n.client.iter().any(|o| {
                matches!(o, Output::Reply { conn: c, header, .. }
                    if *c == ConnId(conn) && header.xid == xid && header.err == 0)
            })
        })
    }
}

#[test]
fn ensemble_on_real_storage_keeps_every_acknowledged_write_through_sync_modes_and_restarts() {
    let root = tempfile::tempdir().unwrap();
    let mut e = Ensemble::new(root.path());
    let mut acked: Vec<String> = Vec::new();
    fn write_batch(e: &mut Ensemble, tag: &str, n: usize, acked: &mut Vec<String>) {
        let l = e.elect();
        e.conn += 1;
        let conn = e.conn;
        e.connect(l, conn);
        for k in 0..n {
            e.xid += 1;
            let p = format!("/{tag}-{k}");
            if e.create(l, conn, e.xid, &p) {
                acked.push(p);
            }
        }
    }

    write_batch(&mut e, "a", 10, &mut acked);
    // A follower misses many txns (and several snapshots): DIFF or SNAP on return.
    let l = e.elect();
    let f = (l + 1) % N;
    e.crash(f);
    write_batch(&mut e, "b", 25, &mut acked);
    e.start(f);
    write_batch(&mut e, "c", 5, &mut acked);
    // The leader logs proposals its followers never see, then crashes: TRUNC on return.
    let l = e.elect();
    e.conn += 1;
    let conn = e.conn;
    e.connect(l, conn);
    e.mute = Some(l);
    for k in 0..3 {
        e.xid += 1;
        let xid = e.xid;
        assert!(
            !e.create(l, conn, xid, &format!("/lost-{k}")),
            "unreplicated write acked"
        );
    }
    e.mute = None;
    e.crash(l);
    // Few enough writes that the new leader's log still reaches back to the divergence
    // point (no snapshot in between): the old leader is cut back by TRUNC.
    write_batch(&mut e, "d", 2, &mut acked);
    e.start(l);
    write_batch(&mut e, "e", 12, &mut acked);
    e.settle();
    assert!(
        acked.len() >= 50,
        "only {} writes acknowledged",
        acked.len()
    );
    assert!(
        e.truncates >= 1,
        "no TRUNC: truncates {} installs {}",
        e.truncates,
        e.installs
    );
    assert!(e.installs >= 1, "a lagging node was synced by SNAP");

    // Every node, restarted from its own data dir, has every acknowledged write.
    for i in 0..N {
        e.crash(i);
    }
    for i in 0..N {
        let (_, rec) = open(&e.dirs[i]);
        let r = Replica::recover(config(i), rec).expect("recovers");
        let _ = r.tree();
        e.start(i);
    }
    let l = e.elect();
    e.settle();
    let digest = e.nodes[l].as_ref().unwrap().replica.tree().digest();
    for i in 0..N {
        let n = e.nodes[i].as_ref().unwrap();
        assert_eq!(n.replica.tree().digest(), digest, "node {} diverged", i + 1);
        for p in &acked {
            assert!(
                n.replica.tree().exists(p).is_ok(),
                "node {}: {p} lost",
                i + 1
            );
        }
        for k in 0..3 {
            assert!(n.replica.tree().exists(&format!("/lost-{k}")).is_err());
        }
    }
}
