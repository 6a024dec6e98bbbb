//! The storage contract end to end with a real `Replica`: a standalone server writes through
//! `FileStorage` (group commit, epoch files, compaction snapshots, purge), crashes, and
//! comes back from disk with every acknowledged write.

use arbor_core::proto::jute::{
    ConnectRequest, CreateRequest, GetDataResponse, PathWatchRequest, Request, RequestHeader,
    ResponseBody,
};
use arbor_core::replica::{Config, Input, Output, Replica};
use arbor_core::types::{Acl, ConnId, Nanos, ServerId, WallMillis};
use arbor_net::storage::{commit_batch, FileStorage, Storage, StorageOp, StorageOptions};

const TICK_NS: u64 = 100_000_000;

struct Node {
    replica: Replica,
    storage: FileStorage,
    now: Nanos,
    client: Vec<Output>,
    batches: usize,
}

impl Node {
    fn start(dir: &std::path::Path) -> Node {
        let opened = FileStorage::open(StorageOptions {
            segment_bytes_max: 2_000,
            ..StorageOptions::new(dir)
        })
        .expect("open");
        let mut cfg = Config::new(ServerId(1), vec![ServerId(1)]).with_tick_ns(TICK_NS);
        cfg.snapshot_every_txns = 5;
        let replica = Replica::recover(cfg, opened.recovered).expect("recovers");
        let mut n = Node {
            replica,
            storage: opened.storage,
            now: Nanos(0),
            client: Vec::new(),
            batches: 0,
        };
        n.drain();
        for _ in 0..200 {
            if n.replica.serving_leader().is_some() {
                return n;
            }
            let t = n.replica.next_deadline().expect("a timer is armed");
            n.now = n.now.max(t);
            n.step(Input::Tick);
        }
        panic!("standalone server did not elect itself");
    }

    fn step(&mut self, input: Input) {
        self.replica.handle(self.now, WallMillis(1_000), input);
        self.drain();
    }

    /// Drains outputs; performs storage ops as one group commit per drained batch and
    /// reports `Persisted` only after it returned, repeating until nothing is pending.
    fn drain(&mut self) {
        loop {
            let mut ops = Vec::new();
            while let Some(out) = self.replica.poll_output() {
                match StorageOp::from_output(out) {
                    Ok(op) => ops.push(op),
                    Err(Output::Snapshot { zxid, view }) => {
                        let data = view.serialize();
                        self.storage.save_snapshot(zxid, &data).expect("snapshot");
                        self.storage.purge(3).expect("purge");
                    }
                    Err(Output::Send { .. }) => {}
                    Err(other) => self.client.push(other),
                }
            }
            if ops.is_empty() {
                return;
            }
            self.batches += 1;
            match commit_batch(&mut self.storage, &ops).expect("commit") {
                Some(token) => {
                    self.replica
                        .handle(self.now, WallMillis(1_000), Input::Persisted { token })
                }
                None => return,
            }
        }
    }

    fn connect(&mut self, conn: u64) {
        self.step(Input::ClientConnect {
            conn: ConnId(conn),
            request: ConnectRequest {
                timeout_ms: 30_000,
                passwd: vec![0; 16],
                read_only: Some(false),
                ..Default::default()
            },
        });
        assert!(self
            .client
            .iter()
            .any(|o| matches!(o, Output::ConnectResponse { conn: c, response } if *c == ConnId(conn) && response.timeout_ms > 0)));
    }

    fn request(&mut self, conn: u64, xid: i32, request: Request) -> Option<ResponseBody> {
        let header = RequestHeader {
            xid,
            op: request.op(),
        };
        self.step(Input::ClientRequest {
            conn: ConnId(conn),
            header,
            request: Box::new(request),
        });
        self.client.iter().rev().find_map(|o| match o {
            Output::Reply {
                conn: c,
                header,
                body,
            } if *c == ConnId(conn) && header.xid == xid => {
                assert_eq!(header.err, 0, "request {xid} failed");
                Some(body.as_deref().cloned())
            }
            _ => None,
        })?
    }
}

#[test]
fn acknowledged_writes_survive_a_restart_through_snapshots_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = Node::start(dir.path());
    n.connect(1);
    for i in 0..23 {
        let body = n.request(
            1,
            i + 1,
            Request::Create(CreateRequest {
                path: format!("/n{i}"),
                data: Some(format!("v{i}").into_bytes()),
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
        );
        assert!(body.is_some(), "create {i} acknowledged");
    }
    let last = n.replica.last_logged_zxid();
    assert!(n.batches > 0);
    assert!(
        !n.storage.snapshots().is_empty(),
        "compaction snapshots written"
    );
    assert!(n.storage.snapshots().len() <= 3, "purge keeps 3");
    drop(n); // crash: no shutdown path

    let mut n = Node::start(dir.path());
    assert!(n.replica.last_logged_zxid() >= last);
    n.connect(2);
    for i in 0..23 {
        let body = n.request(
            2,
            100 + i,
            Request::GetData(PathWatchRequest {
                path: format!("/n{i}"),
                watch: false,
            }),
        );
        let Some(ResponseBody::GetData(GetDataResponse { data, .. })) = body else {
            panic!("/n{i} missing after restart: {body:?}")
        };
        assert_eq!(data, Some(format!("v{i}").into_bytes()));
    }
}

#[test]
fn repeated_restarts_keep_the_log_contiguous_across_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let mut written = 0;
    for round in 0..4u64 {
        let mut n = Node::start(dir.path());
        assert_eq!(
            n.replica.epochs().0 .0 as u64,
            round + 1,
            "one new epoch per start"
        );
        n.connect(round + 1);
        for i in 0..4 {
            let body = n.request(
                round + 1,
                i + 1,
                Request::Create(CreateRequest {
                    path: format!("/r{round}-{i}"),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 0,
                }),
            );
            assert!(body.is_some());
            written += 1;
        }
        // Everything written so far is there.
        for r in 0..=round {
            for i in 0..4 {
                assert!(n
                    .request(
                        round + 1,
                        1000 + i,
                        Request::Exists(PathWatchRequest {
                            path: format!("/r{r}-{i}"),
                            watch: false,
                        }),
                    )
                    .is_some());
            }
        }
    }
    assert_eq!(written, 16);
}
