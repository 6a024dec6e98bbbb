//! Fabricated histories for the linearizability checker: correct ones pass, each kind of
//! violation is rejected.

use arbor_core::proto::jute::{
    CheckVersionRequest, ChildrenResponse, DeleteRequest, GetDataResponse, PathRequest,
    PathWatchRequest, SetDataRequest,
};
use arbor_core::txn::{CreateTxn, TxnHeader};
use arbor_core::types::{Acl, WallMillis};
use std::sync::Arc;

use super::*;

const A: SessionId = SessionId(0x100);
const B: SessionId = SessionId(0x200);

fn txn(session: SessionId, cxid: i32, z: i64, body: TxnBody) -> Txn {
    Txn::new(
        TxnHeader {
            session,
            cxid,
            zxid: Zxid(z),
            time: WallMillis(1_000 + z),
        },
        body,
    )
}

fn create_txn(session: SessionId, cxid: i32, z: i64, path: &str, parent_cversion: i32) -> Txn {
    txn(
        session,
        cxid,
        z,
        TxnBody::Create(CreateTxn {
            path: path.to_string(),
            data: Some(b"a".to_vec()),
            acl: Acl::open_unsafe(),
            kind: NodeKind::Persistent,
            parent_cversion,
        }),
    )
}

fn set_txn(session: SessionId, cxid: i32, z: i64, path: &str, version: i32) -> Txn {
    txn(
        session,
        cxid,
        z,
        TxnBody::SetData {
            path: path.to_string(),
            data: Some(b"b".to_vec()),
            version,
        },
    )
}

/// An answered (or, with `reply` None, lost) history entry.
fn op(
    session: SessionId,
    xid: i32,
    req: Request,
    sent: u64,
    reply: Option<(u64, i64, i32, Option<ResponseBody>)>,
) -> HistEntry {
    let write = matches!(
        req,
        Request::Create(_)
            | Request::SetData(_)
            | Request::Delete(_)
            | Request::Multi(_)
            | Request::CloseSession
    );
    HistEntry {
        session,
        server: 1,
        op: op_name(&req),
        xid,
        write,
        sent_ns: sent,
        reply_ns: reply.as_ref().map(|r| r.0),
        zxid: reply.as_ref().map(|r| Zxid(r.1)),
        err: reply.as_ref().map(|r| r.2),
        lost: reply.is_none(),
        body: reply.and_then(|r| r.3),
        req: Some(req),
    }
}

fn op_name(r: &Request) -> &'static str {
    match r {
        Request::Create(_) => "create",
        Request::SetData(_) => "setData",
        Request::Delete(_) => "delete",
        Request::Multi(_) => "multi",
        Request::GetData(_) => "getData",
        Request::GetChildren(_) => "getChildren",
        Request::Sync(_) => "sync",
        _ => "other",
    }
}

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.to_string(),
        data: Some(b"a".to_vec()),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

fn set(path: &str, version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.to_string(),
        data: Some(b"b".to_vec()),
        version,
    })
}

fn get(path: &str) -> Request {
    Request::GetData(PathWatchRequest {
        path: path.to_string(),
        watch: false,
    })
}

fn sync() -> Request {
    Request::Sync(PathRequest {
        path: "/".to_string(),
    })
}

/// /k0 created at 1 with "a", set to "b" (version 1) at 2.
fn k0_stat_after_set() -> Stat {
    Stat {
        czxid: 1,
        mzxid: 2,
        ctime: 1_001,
        mtime: 1_002,
        version: 1,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 1,
        num_children: 0,
        pzxid: 1,
    }
}

fn data_body(data: &[u8], stat: Stat) -> Option<ResponseBody> {
    Some(ResponseBody::GetData(GetDataResponse {
        data: Some(data.to_vec()),
        stat,
    }))
}

fn base_log() -> Vec<Txn> {
    vec![create_txn(A, 1, 1, "/k0", 1), set_txn(A, 2, 2, "/k0", 1)]
}

fn run(log: &[Txn], a: &[HistEntry], b: &[HistEntry]) -> Result<Stats, Violation> {
    check(log.iter(), &[a, b])
}

#[test]
fn correct_history_passes() {
    let log = base_log();
    let a = vec![
        op(A, 1, create("/k0"), 10, Some((20, 1, 0, None))),
        op(A, 2, set("/k0", 0), 30, Some((40, 2, 0, None))),
        op(
            A,
            3,
            get("/k0"),
            50,
            Some((60, 2, 0, data_body(b"b", k0_stat_after_set()))),
        ),
    ];
    // Session B reads concurrently an older state (allowed: reads are not
    // linearizable in ZooKeeper), then syncs and sees the write.
    let mut old = k0_stat_after_set();
    old.mzxid = 1;
    old.mtime = 1_001;
    old.version = 0;
    let b = vec![
        op(B, 1, get("/k0"), 45, Some((55, 1, 0, data_body(b"a", old)))),
        op(B, 2, sync(), 56, Some((70, 2, 0, None))),
        op(
            B,
            3,
            get("/k0"),
            71,
            Some((80, 2, 0, data_body(b"b", k0_stat_after_set()))),
        ),
    ];
    let s = run(&log, &a, &b).expect("a correct history passes");
    assert_eq!((s.writes, s.reads, s.syncs), (2, 3, 1));
}

#[test]
fn stale_read_after_own_write_is_rejected() {
    let log = base_log();
    let mut old = k0_stat_after_set();
    old.mzxid = 1;
    old.mtime = 1_001;
    old.version = 0;
    let a = vec![
        op(A, 1, create("/k0"), 10, Some((20, 1, 0, None))),
        op(A, 2, set("/k0", 0), 30, Some((40, 2, 0, None))),
        // Answered from a server still at zxid 1 after the session's own write at 2.
        op(A, 3, get("/k0"), 50, Some((60, 1, 0, data_body(b"a", old)))),
    ];
    let v = run(&log, &a, &[]).expect_err("stale read must be rejected");
    assert!(
        v.detail.contains("below its own earlier write"),
        "{}",
        v.detail
    );
}

#[test]
fn read_whose_data_contradicts_its_zxid_is_rejected() {
    let log = base_log();
    let a = vec![
        op(A, 1, create("/k0"), 10, Some((20, 1, 0, None))),
        op(A, 2, set("/k0", 0), 30, Some((40, 2, 0, None))),
        op(
            A,
            3,
            get("/k0"),
            50,
            Some((60, 2, 0, data_body(b"a", k0_stat_after_set()))),
        ),
    ];
    let v = run(&log, &a, &[]).expect_err("wrong data at zxid 2 must be rejected");
    assert!(v.detail.contains("the state at"), "{}", v.detail);
}

#[test]
fn zxid_order_against_real_time_is_rejected() {
    // B's setData was answered (t=40) before A's was sent (t=50), yet A's is ordered
    // first.
    let log = vec![
        create_txn(A, 1, 1, "/k0", 1),
        set_txn(A, 2, 2, "/k0", 1),
        set_txn(B, 1, 3, "/k0", 2),
    ];
    let a = vec![
        op(A, 1, create("/k0"), 10, Some((20, 1, 0, None))),
        op(A, 2, set("/k0", -1), 50, Some((60, 2, 0, None))),
    ];
    let b = vec![op(B, 1, set("/k0", -1), 30, Some((40, 3, 0, None)))];
    let v = run(&log, &a, &b).expect_err("real-time violation must be rejected");
    assert!(v.detail.contains("ordered earlier"), "{}", v.detail);
}

#[test]
fn wrong_write_result_is_rejected() {
    // setData with version 5 on a version-0 node must fail with BadVersion.
    let log = vec![create_txn(A, 1, 1, "/k0", 1), set_txn(A, 2, 2, "/k0", 1)];
    let a = vec![
        op(A, 1, create("/k0"), 10, Some((20, 1, 0, None))),
        op(A, 2, set("/k0", 5), 30, Some((40, 2, 0, None))),
    ];
    let v = run(&log, &a, &[]).expect_err("a success the model refuses is rejected");
    assert!(v.detail.contains("BadVersion"), "{}", v.detail);
}

#[test]
fn stale_sync_is_rejected() {
    let log = base_log();
    let a = vec![
        op(A, 1, create("/k0"), 10, Some((20, 1, 0, None))),
        op(A, 2, set("/k0", 0), 30, Some((40, 2, 0, None))),
    ];
    let b = vec![op(B, 1, sync(), 50, Some((60, 1, 0, None)))];
    let v = run(&log, &a, &b).expect_err("a sync behind a finished write is rejected");
    assert!(v.detail.contains("sync"), "{}", v.detail);
}

#[test]
fn lost_writes_are_maybe_applied() {
    // A's setData got no reply but committed at 2; B's setData got no reply and never
    // committed. A later read shows A's write: fine.
    let log = base_log();
    let a = vec![
        op(A, 1, create("/k0"), 10, Some((20, 1, 0, None))),
        op(A, 2, set("/k0", 0), 30, None),
    ];
    let b = vec![
        op(B, 1, set("/k0", -1), 31, None),
        op(
            B,
            2,
            get("/k0"),
            90,
            Some((95, 2, 0, data_body(b"b", k0_stat_after_set()))),
        ),
    ];
    let s = run(&log, &a, &b).expect("lost writes may or may not apply");
    assert_eq!(s.maybe_applied, 1);
    // But an acknowledged write that never committed is rejected.
    let b = vec![op(B, 1, set("/k0", -1), 31, Some((35, 2, 0, None)))];
    assert!(run(&base_log()[..1], &a[..1], &b).is_err());
}

#[test]
fn multi_spans_keys_and_is_all_or_nothing() {
    let multi = |v: i32| {
        Request::Multi(vec![
            MultiOp::Check(CheckVersionRequest {
                path: "/k0".to_string(),
                version: v,
            }),
            MultiOp::Create(CreateRequest {
                path: "/k1".to_string(),
                data: Some(b"a".to_vec()),
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
        ])
    };
    let children = |c: &[&str]| {
        Some(ResponseBody::GetChildren(ChildrenResponse {
            children: c.iter().map(|s| s.to_string()).collect(),
        }))
    };
    let ls = || {
        Request::GetChildren(PathWatchRequest {
            path: "/".to_string(),
            watch: false,
        })
    };
    // The failed multi (version 7) changes nothing; the passing one creates /k1.
    let log = vec![
        create_txn(A, 1, 1, "/k0", 1),
        txn(
            A,
            2,
            2,
            TxnBody::Multi(vec![
                TxnBody::Error {
                    err: ErrorCode::BadVersion,
                },
                TxnBody::Error {
                    err: ErrorCode::RuntimeInconsistency,
                },
            ]),
        ),
        txn(
            A,
            4,
            3,
            TxnBody::Multi(vec![
                TxnBody::Check {
                    path: "/k0".to_string(),
                    version: 0,
                },
                Arc::unwrap_or_clone(create_txn(A, 3, 3, "/k1", 2).body),
            ]),
        ),
    ];
    let a = vec![
        op(A, 1, create("/k0"), 10, Some((20, 1, 0, None))),
        op(A, 2, multi(7), 30, Some((40, 2, 0, None))),
        op(
            A,
            3,
            ls(),
            41,
            Some((42, 2, 0, children(&["zookeeper", "k0"]))),
        ),
        op(A, 4, multi(0), 50, Some((60, 3, 0, None))),
        op(
            A,
            5,
            ls(),
            61,
            Some((62, 3, 0, children(&["zookeeper", "k0", "k1"]))),
        ),
    ];
    run(&log, &a, &[]).expect("correct multi history passes");
    // A read at 2 claiming the failed multi's create happened is rejected.
    let mut bad = a.clone();
    bad[2] = op(
        A,
        3,
        ls(),
        41,
        Some((42, 2, 0, children(&["zookeeper", "k0", "k1"]))),
    );
    assert!(run(&log, &bad, &[]).is_err());
    // A multi the model fails but the core applied is rejected.
    let mut log2 = log.clone();
    log2[1] = log[2].clone();
    log2[1].header.cxid = 2;
    log2[1].body = Arc::new(match &*log[2].body {
        TxnBody::Multi(subs) => TxnBody::Multi(vec![
            TxnBody::Check {
                path: "/k0".to_string(),
                version: 7,
            },
            subs[1].clone(),
        ]),
        other => other.clone(),
    });
    log2[1].header.zxid = Zxid(2);
    assert!(run(&log2[..2], &a[..2], &[]).is_err());
}

#[test]
fn delete_and_expiry_follow_the_model() {
    let eph = txn(
        A,
        1,
        1,
        TxnBody::Create(CreateTxn {
            path: "/k0".to_string(),
            data: Some(b"a".to_vec()),
            acl: Acl::open_unsafe(),
            kind: NodeKind::Ephemeral(A),
            parent_cversion: 1,
        }),
    );
    let expire = |eph: Vec<String>| {
        txn(
            A,
            0,
            2,
            TxnBody::CloseSession {
                session: A,
                ephemerals: eph,
            },
        )
    };
    let mut c = CreateRequest {
        path: "/k0".to_string(),
        data: Some(b"a".to_vec()),
        acl: Acl::open_unsafe(),
        flags: 1,
    };
    let a = vec![op(
        A,
        1,
        Request::Create(c.clone()),
        10,
        Some((20, 1, 0, None)),
    )];
    let del = Request::Delete(DeleteRequest {
        path: "/k0".to_string(),
        version: -1,
    });
    let b = vec![op(
        B,
        1,
        del,
        30,
        Some((40, 3, ErrorCode::NoNode.code(), None)),
    )];
    let log = vec![
        eph.clone(),
        expire(vec!["/k0".to_string()]),
        txn(
            B,
            1,
            3,
            TxnBody::Error {
                err: ErrorCode::NoNode,
            },
        ),
    ];
    run(&log, &a, &b).expect("expiry removes the ephemeral, the delete finds nothing");
    // An expiry that forgets the ephemeral is rejected.
    let log = vec![eph, expire(vec![])];
    assert!(run(&log, &a, &[]).is_err());
    // A persistent node survives its creator's expiry: a read at 2 must show it.
    c.flags = 0;
    let a = vec![op(A, 1, Request::Create(c), 10, Some((20, 1, 0, None)))];
    let gone = op(
        B,
        1,
        get("/k0"),
        50,
        Some((60, 2, ErrorCode::NoNode.code(), None)),
    );
    let mut persistent = log[0].clone();
    if let TxnBody::Create(ct) = Arc::make_mut(&mut persistent.body) {
        ct.kind = NodeKind::Persistent;
    }
    let log = vec![persistent, expire(vec![])];
    assert!(run(&log, &a, &[gone]).is_err());
}
