//! Hostile and random clients: every op with random (also invalid) paths, flags, versions
//! and xids, on a standalone server and on every member of an ensemble. Nothing may panic,
//! replies to ordinary requests leave each connection in request order, and the replicas
//! still converge.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::harness::{Cluster, TICK_NS};
use crate::proto::jute::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest, CreateTtlRequest,
    DeleteRequest, MultiOp, MultiReadOp, PathRequest, PathWatchRequest, Request, SetAclRequest,
    SetDataRequest, SetWatches, WatchesRequest,
};
use crate::replica::Output;
use crate::types::{Acl, ConnId, Zxid};

const PATHS: [&str; 9] = [
    "/",
    "/a",
    "/a/b",
    "/b",
    "/zookeeper",
    "bad",
    "/a/",
    "",
    "/c/d",
];

fn random_request(rng: &mut ChaCha8Rng) -> Request {
    let mut pick = |k: u64| rng.next_u64() % k;
    let path = PATHS[pick(PATHS.len() as u64) as usize].to_string();
    let flags = pick(8) as i32 - 1;
    let version = pick(3) as i32 - 1;
    let data = Some(vec![7; pick(3) as usize]);
    let acl = if pick(5) == 0 {
        vec![]
    } else {
        Acl::open_unsafe()
    };
    let pw = PathWatchRequest {
        path: path.clone(),
        watch: pick(2) == 0,
    };
    let create = CreateRequest {
        path: path.clone(),
        data: data.clone(),
        acl: acl.clone(),
        flags,
    };
    match pick(24) {
        0 => Request::Create(create),
        1 => Request::Create2(create),
        2 => Request::CreateContainer(create),
        3 => Request::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl: pick(3) as i64 * 100 - 100,
        }),
        4 => Request::Delete(DeleteRequest { path, version }),
        5 => Request::SetData(SetDataRequest {
            path,
            data,
            version,
        }),
        6 => Request::SetAcl(SetAclRequest { path, acl, version }),
        7 => Request::Exists(pw),
        8 => Request::GetData(pw),
        9 => Request::GetChildren(pw),
        10 => Request::GetChildren2(pw),
        11 => Request::GetAcl(PathRequest { path }),
        12 => Request::Sync(PathRequest { path }),
        13 => Request::Check(CheckVersionRequest { path, version }),
        14 => Request::Multi(vec![
            MultiOp::Create(create.clone()),
            MultiOp::Check(CheckVersionRequest {
                path: path.clone(),
                version,
            }),
            MultiOp::SetData(SetDataRequest {
                path,
                data,
                version,
            }),
        ]),
        15 => Request::MultiRead(vec![
            MultiReadOp::GetData(pw.clone()),
            MultiReadOp::GetChildren(pw),
        ]),
        16 => Request::GetEphemerals(PathRequest { path }),
        17 => Request::GetAllChildrenNumber(PathRequest { path }),
        18 => Request::SetWatches(SetWatches {
            relative_zxid: Zxid(pick(5) as i64),
            data_watches: vec![path.clone()],
            exist_watches: vec![path.clone()],
            child_watches: vec![path],
        }),
        19 => Request::AddWatch(AddWatchRequest {
            path,
            mode: pick(3) as i32,
        }),
        20 => Request::RemoveWatches(WatchesRequest {
            path,
            watcher_type: pick(7) as i32 - 1,
        }),
        21 => Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: ["digest", "ip", "x"][pick(3) as usize].into(),
            auth: b"u:p".to_vec(),
        }),
        22 => Request::Ping,
        _ => Request::WhoAmI,
    }
}

fn xid_for(req: &Request, xid: i32) -> i32 {
    match req {
        Request::Ping => -2,
        Request::Auth(_) => -4,
        Request::SetWatches(_) => -8,
        _ => xid,
    }
}

fn run(seed: u64, n: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = Cluster::new(n);
    c.elect();
    let conns: Vec<u64> = (0..n as u64).collect();
    for (i, conn) in conns.iter().enumerate() {
        c.connect(i, *conn);
    }
    let mut xid = 0;
    for _ in 0..300 {
        let i = (rng.next_u64() % n as u64) as usize;
        if c.nodes[i].client_count() == 0 {
            c.settle();
            c.connect(i, i as u64);
        }
        xid += 1;
        let req = random_request(&mut rng);
        let x = xid_for(&req, xid);
        c.send(i, i as u64, x, req);
        if rng.next_u64() % 3 == 0 {
            c.settle();
        }
        if rng.next_u64() % 20 == 0 {
            c.advance(TICK_NS);
        }
    }
    c.settle();
    c.advance(2 * TICK_NS);
    for i in 0..n {
        let mut last = 0;
        for o in &c.client[i] {
            if let Output::Reply { conn, header, .. } = o {
                if *conn == ConnId(i as u64) && header.xid > 0 {
                    assert!(
                        header.xid > last,
                        "seed {seed}: node {i} replies out of order"
                    );
                    last = header.xid;
                }
            }
        }
    }
    let d = c.digests();
    assert!(d.windows(2).all(|w| w[0] == w[1]), "seed {seed}: {d:?}");
}

#[test]
fn random_client_requests_never_panic_and_keep_reply_order() {
    for seed in 0..30 {
        run(seed, 1);
        run(seed + 1_000, 3);
    }
}
