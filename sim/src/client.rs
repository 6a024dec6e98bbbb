//! Simulated clients: sessions that connect to random servers, issue a random mix of
//! reads and writes, reconnect elsewhere on connection loss (session id + password +
//! lastZxidSeen), and sometimes close or abandon (let expire) their session. Every request
//! and its outcome is recorded in a [`HistEntry`].
//!
//! The world owns transport; this module decides what a client sends.

use std::collections::VecDeque;

use arbor_core::proto::jute::{
    AddWatchRequest, CheckVersionRequest, CreateRequest, DeleteRequest, MultiOp, MultiReadOp,
    PathRequest, PathWatchRequest, Request, ResponseBody, SetAclRequest, SetDataRequest,
    WatchesRequest,
};
use arbor_core::types::{Acl, AddWatchMode, ConnId, Perms, SessionId, WatcherType, Zxid};
use rand::Rng;

use crate::options::Mix;

/// One request and its outcome.
#[derive(Clone, Debug)]
pub struct HistEntry {
    /// Session that sent it.
    pub session: SessionId,
    /// Server (id) it was sent to.
    pub server: u64,
    /// Op name.
    pub op: &'static str,
    /// Request xid.
    pub xid: i32,
    /// Whether it is a write.
    pub write: bool,
    /// Simulated send time, ns.
    pub sent_ns: u64,
    /// Simulated reply time, ns (None: unanswered or lost).
    pub reply_ns: Option<u64>,
    /// Reply header zxid.
    pub zxid: Option<Zxid>,
    /// Reply error code.
    pub err: Option<i32>,
    /// Failed by a connection loss before an answer (outcome unknown).
    pub lost: bool,
    /// The request as sent (for the linearizability checker's model).
    pub req: Option<Request>,
    /// The reply body, if the reply had one.
    pub body: Option<ResponseBody>,
}

/// A client's open connection.
#[derive(Debug)]
pub struct ClientConn {
    /// Connection id.
    pub conn: ConnId,
    /// Index of the server.
    pub server: usize,
    /// Handshake answered.
    pub established: bool,
    /// History indexes of unanswered requests, in send order.
    pub outstanding: VecDeque<usize>,
    /// Last time anything was sent, ns.
    pub last_send_ns: u64,
}

/// What a client is doing with its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Issuing requests.
    Active,
    /// closeSession sent; waiting for the answer.
    Closing,
    /// Session abandoned (left to expire) or closed; a new one starts at `resume_ns`.
    Idle,
}

/// One simulated client.
#[derive(Debug)]
pub struct Client {
    /// Index.
    pub idx: usize,
    /// Session id and password, once granted.
    pub session: Option<(SessionId, Vec<u8>)>,
    /// Requested session timeout, ms.
    pub timeout_ms: i32,
    /// Negotiated session timeout, ms.
    pub negotiated_ms: i32,
    /// The open connection.
    pub conn: Option<ClientConn>,
    /// Next xid.
    pub next_xid: i32,
    /// Highest zxid seen (sent as lastZxidSeen).
    pub last_zxid_seen: Zxid,
    /// Ops left before the session ends (close or abandon).
    pub ops_left: u32,
    /// Mode.
    pub mode: Mode,
    /// When an idle client starts a new session.
    pub resume_ns: u64,
    /// The history of this client.
    pub history: Vec<HistEntry>,
    /// Generation of the scheduled wake-up (older wake-ups are ignored).
    pub wake_gen: u64,
    /// Whether a connection attempt is in flight.
    pub connecting: bool,
    /// Sequential nodes this client created (deleted again later, so that the tree and
    /// getChildren("/") stay small).
    pub sequentials: Vec<String>,
}

impl Client {
    /// A fresh client.
    pub fn new(idx: usize, rng: &mut impl Rng, ops_max: u32) -> Client {
        Client {
            idx,
            session: None,
            timeout_ms: rng.gen_range(2_000..6_000),
            negotiated_ms: 0,
            conn: None,
            next_xid: 1,
            last_zxid_seen: Zxid(0),
            ops_left: rng.gen_range(20..ops_max.max(21)),
            mode: Mode::Active,
            resume_ns: 0,
            // A 40 s run issues ~1,500 requests per client: start big enough to rarely regrow.
            history: Vec::with_capacity(1024),
            wake_gen: 0,
            connecting: false,
            sequentials: Vec::new(),
        }
    }

    /// Whether this client's session is live (not closing, not abandoned).
    pub fn live(&self) -> bool {
        self.mode == Mode::Active
    }
}

/// Key space: small, so that conditional ops conflict.
const KEYS: u32 = 8;

/// The key paths, spelled once (a request's path is built on every operation).
const KEY_PATHS: [&str; KEYS as usize] = ["/k0", "/k1", "/k2", "/k3", "/k4", "/k5", "/k6", "/k7"];

fn key(rng: &mut impl Rng) -> String {
    KEY_PATHS[rng.gen_range(0..KEYS) as usize].to_string()
}

fn data(rng: &mut impl Rng) -> Option<Vec<u8>> {
    Some(vec![rng.gen::<u8>(); rng.gen_range(0..16)])
}

fn version(rng: &mut impl Rng) -> i32 {
    if rng.gen_bool(0.5) {
        -1
    } else {
        rng.gen_range(0..4)
    }
}

fn create(rng: &mut impl Rng) -> CreateRequest {
    // 0 persistent, 1 ephemeral, 2 persistent sequential, 3 ephemeral sequential.
    let flags = rng.gen_range(0..4);
    let path = if flags >= 2 {
        ["/s0-", "/s1-"][rng.gen_range(0..2i32) as usize].to_string()
    } else {
        key(rng)
    };
    CreateRequest {
        path,
        data: data(rng),
        acl: Acl::open_unsafe(),
        flags,
    }
}

/// A random request: (request, op name, is write).
pub fn gen_op(
    rng: &mut impl Rng,
    sequentials: &mut Vec<String>,
    mix: &Mix,
) -> (Request, &'static str, bool) {
    if !sequentials.is_empty() && rng.gen_bool(0.25) {
        let i = rng.gen_range(0..sequentials.len());
        let path = sequentials.swap_remove(i);
        return (
            Request::Delete(DeleteRequest { path, version: -1 }),
            "delete",
            true,
        );
    }
    if rng.gen_bool(mix.rare.clamp(0.0, 1.0)) {
        return gen_rare_op(rng);
    }
    let total: u32 = mix.weights.iter().sum::<u32>().max(1);
    let mut x = rng.gen_range(0..total);
    let mut bucket = 0;
    while bucket < mix.weights.len() - 1 && x >= mix.weights[bucket] {
        x -= mix.weights[bucket];
        bucket += 1;
    }
    match bucket {
        0 => (Request::Create(create(rng)), "create", true),
        1 => (Request::Create2(create(rng)), "create2", true),
        2 => (
            Request::SetData(SetDataRequest {
                path: key(rng),
                data: data(rng),
                version: version(rng),
            }),
            "setData",
            true,
        ),
        3 => (
            Request::Delete(DeleteRequest {
                path: key(rng),
                version: version(rng),
            }),
            "delete",
            true,
        ),
        4 => {
            let k = key(rng);
            let ops = vec![
                MultiOp::Check(CheckVersionRequest {
                    path: k.clone(),
                    version: version(rng),
                }),
                MultiOp::SetData(SetDataRequest {
                    path: k,
                    data: data(rng),
                    version: -1,
                }),
                MultiOp::Create(create(rng)),
            ];
            (Request::Multi(ops), "multi", true)
        }
        5 => (
            Request::GetData(PathWatchRequest {
                path: key(rng),
                watch: rng.gen_bool(0.3),
            }),
            "getData",
            false,
        ),
        6 => (
            Request::Exists(PathWatchRequest {
                path: key(rng),
                watch: rng.gen_bool(0.3),
            }),
            "exists",
            false,
        ),
        7 => (
            Request::GetChildren(PathWatchRequest {
                path: "/".to_string(),
                watch: rng.gen_bool(0.2),
            }),
            "getChildren",
            false,
        ),
        _ => (
            Request::Sync(PathRequest {
                path: "/".to_string(),
            }),
            "sync",
            false,
        ),
    }
}

/// The less common ops, so that every client op reaches the replicas under faults: ACLs,
/// containers, getChildren2, getAllChildrenNumber, getEphemerals, multiRead, persistent and
/// recursive watches, and watch checks / removal.
fn gen_rare_op(rng: &mut impl Rng) -> (Request, &'static str, bool) {
    match rng.gen_range(0..10) {
        0 => {
            // Never take away READ/WRITE from world: later ops on the key must stay possible
            // for every session (the workload has no authenticated identities).
            let perms = if rng.gen_bool(0.5) {
                Perms::ALL
            } else {
                Perms(Perms::ALL.0 & !Perms::ADMIN.0)
            };
            (
                Request::SetAcl(SetAclRequest {
                    path: key(rng),
                    acl: vec![Acl::new(perms, "world", "anyone")],
                    version: version(rng),
                }),
                "setACL",
                true,
            )
        }
        1 => (
            Request::GetAcl(PathRequest { path: key(rng) }),
            "getACL",
            false,
        ),
        2 => {
            let mut req = create(rng);
            req.path = ["/c0", "/c1"][rng.gen_range(0..2i32) as usize].to_string();
            req.flags = 4;
            (Request::CreateContainer(req), "createContainer", true)
        }
        3 => {
            // A child under a container: the leader reaps the container once it is empty.
            let mut req = create(rng);
            req.path = format!("/c{}/x{}", rng.gen_range(0..2), rng.gen_range(0..3));
            req.flags = rng.gen_range(0..2);
            (Request::Create(req), "create", true)
        }
        4 => (
            Request::GetChildren2(PathWatchRequest {
                path: "/".to_string(),
                watch: rng.gen_bool(0.2),
            }),
            "getChildren2",
            false,
        ),
        5 => (
            Request::GetAllChildrenNumber(PathRequest {
                path: "/".to_string(),
            }),
            "getAllChildrenNumber",
            false,
        ),
        6 => (
            Request::GetEphemerals(PathRequest {
                path: "/".to_string(),
            }),
            "getEphemerals",
            false,
        ),
        7 => (
            Request::MultiRead(vec![
                MultiReadOp::GetData(PathWatchRequest {
                    path: key(rng),
                    watch: false,
                }),
                MultiReadOp::GetChildren(PathWatchRequest {
                    path: "/".to_string(),
                    watch: false,
                }),
            ]),
            "multiRead",
            false,
        ),
        8 => {
            let mode = if rng.gen_bool(0.5) {
                AddWatchMode::Persistent
            } else {
                AddWatchMode::PersistentRecursive
            };
            (
                Request::AddWatch(AddWatchRequest {
                    path: key(rng),
                    mode: mode.code(),
                }),
                "addWatch",
                false,
            )
        }
        _ => {
            let watcher_type =
                [WatcherType::Children, WatcherType::Data, WatcherType::Any][rng.gen_range(0..3)];
            let req = WatchesRequest {
                path: key(rng),
                watcher_type: watcher_type.code(),
            };
            if rng.gen_bool(0.5) {
                (Request::CheckWatches(req), "checkWatches", false)
            } else {
                (Request::RemoveWatches(req), "removeWatches", false)
            }
        }
    }
}
