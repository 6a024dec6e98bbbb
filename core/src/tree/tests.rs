//! Unit tests pinning the tree's 3.8 behaviour: error order, special nodes, stats,
//! sequential counters, kinds, ephemerals, expiry, multi, ACLs, digest, limits, snapshots.

use super::*;
use crate::txn::{apply, OpResult, Txn, TxnBody, WatchTrigger};
use crate::types::{Acl, ErrorCode, EventType, Id, Perms, SessionId, Stat, WallMillis, Zxid};

const S1: SessionId = SessionId(0x0100_0000_0000_0001);
const S2: SessionId = SessionId(0x0100_0000_0000_0002);

/// A tree plus a zxid / clock, driving every write through prep + apply.
struct H {
    tree: DataTree,
    zxid: i64,
    time: i64,
}

impl H {
    fn new() -> H {
        H::with(TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        })
    }

    fn with(config: TreeConfig) -> H {
        H {
            tree: DataTree::new(config),
            zxid: 0,
            time: 1_000,
        }
    }

    fn txn_as(&mut self, session: SessionId, auth: &[Id], op: WriteOp) -> Txn {
        self.zxid += 1;
        self.time += 10;
        let ctx = PrepContext {
            session,
            cxid: 1,
            zxid: Zxid(self.zxid),
            time: WallMillis(self.time),
            auth,
        };
        self.tree.prep(&ctx, &op).expect("not rejected")
    }

    fn write_full(
        &mut self,
        session: SessionId,
        auth: &[Id],
        op: WriteOp,
    ) -> crate::txn::ApplyOutcome {
        let txn = self.txn_as(session, auth, op);
        let out = apply(&mut self.tree, &txn);
        self.tree.check_invariants();
        self.tree.check_invariants_full();
        out
    }

    fn write_as(&mut self, session: SessionId, auth: &[Id], op: WriteOp) -> OpResult {
        self.write_full(session, auth, op).result
    }

    fn write(&mut self, op: WriteOp) -> OpResult {
        self.write_as(S1, &[], op)
    }

    fn create(&mut self, path: &str, flags: i32) -> OpResult {
        self.write(create(path, flags))
    }

    fn code(&mut self, op: WriteOp) -> ErrorCode {
        match self.write(op) {
            OpResult::Error(e) => e,
            _ => ErrorCode::Ok,
        }
    }

    fn created(&mut self, path: &str, flags: i32) -> String {
        match self.create(path, flags) {
            OpResult::Create { path, .. } => path,
            other => panic!("create {path}: {other:?}"),
        }
    }

    fn stat(&self, path: &str) -> Stat {
        self.tree
            .stat(path)
            .unwrap_or_else(|| panic!("{path} missing"))
    }

    fn counter(&self, path: &str) -> i32 {
        self.tree.lookup(path).expect("exists").stat.cversion
    }
}

fn create(path: &str, flags: i32) -> WriteOp {
    create_op(path, flags, CreateOp::Create2, Acl::open_unsafe())
}

fn create_op(path: &str, flags: i32, op: CreateOp, acl: Vec<Acl>) -> WriteOp {
    WriteOp::Create {
        path: path.into(),
        data: Some(b"d".to_vec()),
        acl,
        flags,
        op,
    }
}

fn set_data(path: &str, data: &[u8], version: i32) -> WriteOp {
    WriteOp::SetData {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    }
}

fn delete(path: &str, version: i32) -> WriteOp {
    WriteOp::Delete {
        path: path.into(),
        version,
    }
}

#[test]
fn fresh_tree_stats() {
    let t = DataTree::default();
    let root = t.stat("/").unwrap();
    assert_eq!(
        (root.czxid, root.mzxid, root.ctime, root.mtime),
        (0, 0, 0, 0)
    );
    assert_eq!((root.cversion, root.num_children, root.pzxid), (-1, 1, 0));
    let zk = t.stat("/zookeeper").unwrap();
    assert_eq!((zk.cversion, zk.num_children), (-2, 2));
    let config = t.stat("/zookeeper/config").unwrap();
    assert_eq!(
        (config.aversion, config.version, config.data_length),
        (-1, 0, 0)
    );
    assert_eq!(t.acl("/zookeeper/config").unwrap(), &Acl::read_unsafe()[..]);
    assert_eq!(
        t.get_data("/zookeeper/config", &[]).unwrap().0,
        Some(&b""[..])
    );
    assert_eq!(t.stat("/zookeeper/quota").unwrap(), Stat::default());
    assert_eq!(t.get_all_children_number("/", &[]), Ok(3));
    assert_eq!(t.get_all_children_number("/zookeeper", &[]), Ok(2));
    assert_eq!(t.node_count(), 4);
    assert_eq!(t.digest(), t.recompute_digest());
    // "" is the root's alias for reads, as in 3.8's node map.
    assert_eq!(t.stat(""), Some(root));
}

#[test]
fn create_error_order_matches_vectors() {
    let mut h = H::new();
    h.created("/vec", 0);
    h.created("/vec/p", 0);
    let cases = [
        ("vec/x", ErrorCode::NoNode),
        ("/vec/x/", ErrorCode::NoNode),
        ("/vec//x", ErrorCode::NoNode),
        ("/vec/./x", ErrorCode::NoNode),
        ("/vec\0x", ErrorCode::BadArguments),
        ("", ErrorCode::BadArguments),
        ("nopath", ErrorCode::BadArguments),
        ("/", ErrorCode::NodeExists),
        ("/vec/p/", ErrorCode::BadArguments),
        ("/vec/", ErrorCode::BadArguments),
        ("/vec/.", ErrorCode::BadArguments),
        ("/vec/..", ErrorCode::BadArguments),
        ("/vec/p//x", ErrorCode::NoNode),
        ("/vec/p", ErrorCode::NodeExists),
        ("/vec/\u{1}", ErrorCode::BadArguments),
    ];
    for (path, want) in cases {
        assert_eq!(h.code(create(path, 0)), want, "create {path:?}");
    }
    // A failed create consumes a zxid but changes nothing.
    let before = h.tree.digest();
    assert_eq!(h.code(create("/vec/p", 0)), ErrorCode::NodeExists);
    assert_eq!(h.tree.digest(), before);
    // Sequential with a trailing slash: the suffix makes the path valid.
    let counter = h.counter("/vec");
    assert_eq!(h.created("/vec/", 2), format!("/vec/{counter:010}"));
    // The root's counter started at 0 (built-in /zookeeper does not count); /vec made it 1.
    assert_eq!(h.created("/", 2), "/0000000001");
}

#[test]
fn delete_errors_and_special_paths() {
    let mut h = H::new();
    h.created("/vec", 0);
    h.created("/vec/d", 0);
    for p in [
        "/",
        "/zookeeper",
        "/zookeeper/quota",
        "/zookeeper/config",
        "",
        "abc",
        "/a\0",
    ] {
        assert_eq!(h.code(delete(p, -1)), ErrorCode::BadArguments, "{p:?}");
    }
    assert_eq!(h.code(delete("vec/d", -1)), ErrorCode::NoNode);
    assert_eq!(h.code(delete("/vec/missing", -1)), ErrorCode::NoNode);
    assert_eq!(h.code(delete("/vec", -1)), ErrorCode::NotEmpty);
    assert_eq!(h.code(delete("/vec/d", 5)), ErrorCode::BadVersion);
    assert_eq!(h.code(delete("/vec/d", 0)), ErrorCode::Ok);
    assert_eq!(h.tree.stat("/vec/d"), None);
    assert_eq!(h.stat("/vec").pzxid, h.zxid);
    // 3.8 lets creates / setData through under /zookeeper; the config node is READ-only.
    assert_eq!(h.code(create("/zookeeper/quota/x", 0)), ErrorCode::Ok);
    assert_eq!(h.code(set_data("/zookeeper", b"z", -1)), ErrorCode::Ok);
    assert_eq!(
        h.code(set_data("/zookeeper/config", b"z", -1)),
        ErrorCode::NoAuth
    );
    let acl = WriteOp::SetAcl {
        path: "/zookeeper/config".into(),
        acl: Acl::open_unsafe(),
        version: -1,
    };
    assert_eq!(h.code(acl.clone()), ErrorCode::NoAuth);
    let sup = [Id::new("super", "")];
    assert!(matches!(h.write_as(S1, &sup, acl), OpResult::SetAcl { stat } if stat.aversion == 0));
}

#[test]
fn sequential_counter_and_cversion() {
    let mut h = H::new();
    h.created("/p", 0);
    for c in ["/p/a", "/p/b", "/p/c"] {
        h.created(c, 0);
    }
    assert_eq!(h.code(delete("/p/b", -1)), ErrorCode::Ok);
    let s = h.stat("/p");
    assert_eq!(h.counter("/p"), 3);
    // cversion = counter*2 - numChildren = 3 creations + 1 deletion (DataNode.copyStat; the
    // vectors' /vec/c2 after one create + delete reports 2).
    assert_eq!(s.cversion, 4);
    assert_eq!(s.num_children, 2);
    assert_eq!(h.created("/p/s-", 2), "/p/s-0000000003");
    // Collision: the suffix is applied before the NodeExists check; no advance on failure.
    h.created("/p/q0000000005", 0);
    assert_eq!(h.counter("/p"), 5);
    assert_eq!(h.code(create("/p/q", 2)), ErrorCode::NodeExists);
    assert_eq!(h.counter("/p"), 5);
    assert_eq!(h.created("/p/r", 3), "/p/r0000000005");
}

#[test]
fn sequential_suffix_wraps_as_i32() {
    let mut h = H::new();
    h.created("/w", 0);
    let id = h.tree.resolve("/w").unwrap();
    h.tree.arena.get_mut(id).cversion = i32::MAX;
    h.tree.digest = h.tree.recompute_digest();
    assert_eq!(h.created("/w/n", 2), "/w/n2147483647");
    assert_eq!(h.counter("/w"), i32::MIN);
    assert_eq!(h.created("/w/n", 2), "/w/n-2147483648");
    assert_eq!(h.counter("/w"), i32::MIN + 1);
    assert_eq!(
        h.stat("/w").cversion,
        (i32::MIN + 1).wrapping_mul(2).wrapping_sub(2)
    );
}

#[test]
fn node_kind_follows_the_op_code() {
    let mut h = H::new();
    h.created("/k", 0);
    let open = Acl::open_unsafe;
    let kind = |h: &H, p: &str| h.tree.lookup(p).unwrap().stat.kind();
    h.write(create_op("/k/c1", 4, CreateOp::Create, open()));
    assert_eq!(kind(&h, "/k/c1"), NodeKind::Persistent);
    h.write(create_op("/k/c2", 0, CreateOp::CreateContainer, open()));
    assert_eq!(kind(&h, "/k/c2"), NodeKind::Container);
    h.write(create_op(
        "/k/t1",
        5,
        CreateOp::CreateTtl { ttl: 60_000 },
        open(),
    ));
    assert_eq!(kind(&h, "/k/t1"), NodeKind::Ttl(60_000));
    assert_eq!(h.stat("/k/t1").ephemeral_owner, 0);
    assert_eq!(h.stat("/k/c2").ephemeral_owner, 0);
    let ts = h.write(create_op(
        "/k/ts-",
        6,
        CreateOp::CreateTtl { ttl: 1 },
        open(),
    ));
    assert!(matches!(ts, OpResult::Create { ref path, .. } if path == "/k/ts-0000000003"));
    h.created("/k/e", 1);
    assert_eq!(h.stat("/k/e").ephemeral_owner, S1.0);
    h.created("/k/ps-", 2);
    let bad = [
        create_op("/k/x", 5, CreateOp::CreateTtl { ttl: 0 }, open()),
        create_op("/k/x", 5, CreateOp::CreateTtl { ttl: 1 << 40 }, open()),
        create_op("/k/x", 0, CreateOp::CreateTtl { ttl: 60_000 }, open()),
        create_op("/k/x", 1, CreateOp::CreateTtl { ttl: 60_000 }, open()),
        create_op("/k/x", 0, CreateOp::CreateTtl { ttl: -1 }, open()),
        create_op("/k/x", 5, CreateOp::Create2, open()),
        create_op("/k/x", 5, CreateOp::CreateContainer, open()),
        create_op("/k/x", 7, CreateOp::Create, open()),
        create_op("/k/x", -1, CreateOp::Create, open()),
    ];
    for op in bad {
        assert_eq!(h.code(op.clone()), ErrorCode::BadArguments, "{op:?}");
    }
    let mut off = H::with(TreeConfig::default());
    assert_eq!(
        off.code(create_op("/t", 5, CreateOp::CreateTtl { ttl: 5 }, open())),
        ErrorCode::Unimplemented
    );
    assert_eq!(
        off.code(create_op("/t", 6, CreateOp::Create2, open())),
        ErrorCode::Unimplemented
    );
    assert_eq!(
        off.code(create_op("/t", 0, CreateOp::CreateTtl { ttl: 5 }, open())),
        ErrorCode::BadArguments
    );
}

#[test]
fn ephemerals_and_close_session() {
    let mut h = H::new();
    h.created("/vec", 0);
    h.created("/vec/e1", 1);
    h.created("/vec/es-", 3);
    h.created("/vec/f", 0);
    h.write_as(S2, &[], create("/vec/other", 1));
    assert_eq!(
        h.code(create("/vec/e1/x", 0)),
        ErrorCode::NoChildrenForEphemerals
    );
    assert_eq!(
        h.code(create("/vec/e1/s-", 2)),
        ErrorCode::NoChildrenForEphemerals
    );
    assert_eq!(h.code(create("/vec/missing/x", 0)), ErrorCode::NoNode);
    assert_eq!(
        h.tree.get_ephemerals(S1, "/vec"),
        ["/vec/e1", "/vec/es-0000000001"]
    );
    assert_eq!(
        h.tree.get_ephemerals(S1, "/"),
        h.tree.get_ephemerals(S1, "")
    );
    assert_eq!(
        h.tree.get_ephemerals(S1, " / "),
        h.tree.get_ephemerals(S1, "")
    );
    assert_eq!(h.tree.get_ephemerals(S1, "/vec/es"), ["/vec/es-0000000001"]);
    assert!(h.tree.get_ephemerals(S1, "/nope").is_empty());
    h.write(WriteOp::CreateSession { timeout_ms: 5000 });
    assert_eq!(h.tree.sessions().get(&S1), Some(&5000));
    let out = h.write_full(S1, &[], WriteOp::CloseSession);
    assert_eq!(
        out.result,
        OpResult::CloseSession {
            deleted: vec!["/vec/e1".into(), "/vec/es-0000000001".into()]
        }
    );
    let t = |p: &str, e| WatchTrigger {
        path: p.into(),
        event: e,
    };
    assert_eq!(
        out.triggers,
        [
            t("/vec/e1", EventType::NodeDeleted),
            t("/vec", EventType::NodeChildrenChanged),
            t("/vec/es-0000000001", EventType::NodeDeleted),
            t("/vec", EventType::NodeChildrenChanged)
        ]
    );
    assert!(h.tree.get_ephemerals(S1, "").is_empty());
    assert_eq!(h.tree.get_ephemerals(S2, ""), ["/vec/other"]);
    assert_eq!(h.stat("/vec").pzxid, h.zxid);
    assert!(h.tree.sessions().is_empty());
}

#[test]
fn containers_and_ttl_expiry() {
    let mut h = H::new();
    let open = Acl::open_unsafe;
    h.write(create_op("/c", 0, CreateOp::CreateContainer, open()));
    h.write(create_op("/t", 5, CreateOp::CreateTtl { ttl: 100 }, open()));
    let t_mtime = h.stat("/t").mtime;
    let at = |ms: i64| WallMillis(ms);
    // A container that never had a child is not due; a TTL node is due strictly after ttl.
    assert_eq!(h.tree.due_for_expiry(at(t_mtime + 100)), []);
    assert_eq!(
        h.tree.due_for_expiry(at(t_mtime + 101)),
        [("/t".to_string(), ExpiryKind::Ttl)]
    );
    h.created("/c/kid", 0);
    h.created("/t/kid", 0);
    assert_eq!(h.tree.due_for_expiry(at(t_mtime + 10_000)), []);
    h.write(delete("/c/kid", -1));
    h.write(delete("/t/kid", -1));
    let due = h.tree.due_for_expiry(at(t_mtime + 10_000));
    assert_eq!(
        due,
        [
            ("/c".to_string(), ExpiryKind::Container),
            ("/t".to_string(), ExpiryKind::Ttl)
        ]
    );
    // setData refreshes the TTL clock.
    h.write(set_data("/t", b"x", -1));
    let m = h.stat("/t").mtime;
    assert_eq!(h.tree.due_for_expiry(at(m + 100)).len(), 1);
    // DeleteExpired re-checks the condition at prep time (the harness clock is ~m+10).
    assert_eq!(
        h.code(WriteOp::DeleteExpired { path: "/t".into() }),
        ErrorCode::BadVersion
    );
    h.created("/plain", 0);
    assert_eq!(
        h.code(WriteOp::DeleteExpired {
            path: "/plain".into()
        }),
        ErrorCode::BadVersion
    );
    assert_eq!(
        h.code(WriteOp::DeleteExpired { path: "/".into() }),
        ErrorCode::BadArguments
    );
    assert_eq!(
        h.code(WriteOp::DeleteExpired { path: "/c".into() }),
        ErrorCode::Ok
    );
    assert_eq!(h.tree.stat("/c"), None);
    h.time += 1_000;
    assert_eq!(
        h.code(WriteOp::DeleteExpired { path: "/t".into() }),
        ErrorCode::Ok
    );
    assert_eq!(h.tree.due_for_expiry(at(i64::MAX / 2)), []);
    // maxNeverUsedIntervalMs.
    let mut n = H::with(TreeConfig {
        container_never_used_ms: 50,
        ..TreeConfig::default()
    });
    n.write(create_op("/c", 0, CreateOp::CreateContainer, open()));
    let m = n.stat("/c").mtime;
    assert_eq!(n.tree.due_for_expiry(at(m + 50)), []);
    assert_eq!(n.tree.due_for_expiry(at(m + 51)).len(), 1);
}

#[test]
fn multi_is_all_or_nothing() {
    let mut h = H::new();
    h.created("/m", 0);
    let ok = h.write(WriteOp::Multi(vec![
        create("/m/a", 0),
        set_data("/m/a", b"x", 0),
        create("/m/a/b", 0),
        WriteOp::Check {
            path: "/m/a".into(),
            version: 1,
        },
        create("/m/s", 2),
        create("/m/s", 2),
        delete("/m/a/b", -1),
    ]));
    let OpResult::Multi(results) = ok else {
        panic!()
    };
    assert!(matches!(&results[4], OpResult::Create { path, .. } if path == "/m/s0000000001"));
    assert!(matches!(&results[5], OpResult::Create { path, .. } if path == "/m/s0000000002"));
    assert_eq!(results[6], OpResult::Delete);
    let a = h.stat("/m/a");
    assert_eq!(
        (a.czxid, a.mzxid, a.pzxid, a.version),
        (h.zxid, h.zxid, h.zxid, 1)
    );
    assert_eq!(h.stat("/m/s0000000002").czxid, h.zxid);
    assert_eq!(
        h.stat("/m/a").cversion,
        2,
        "b created and deleted inside the multi"
    );
    let before = h.tree.digest();
    let failed = h.write(WriteOp::Multi(vec![
        create("/m/c", 0),
        set_data("/m/a", b"y", -1),
        WriteOp::Check {
            path: "/m/a".into(),
            version: 99,
        },
        delete("/m/a", -1),
        create("/m/d", 0),
    ]));
    let e = OpResult::Error;
    assert_eq!(
        failed,
        OpResult::Multi(vec![
            e(ErrorCode::Ok),
            e(ErrorCode::Ok),
            e(ErrorCode::BadVersion),
            e(ErrorCode::RuntimeInconsistency),
            e(ErrorCode::RuntimeInconsistency)
        ])
    );
    assert_eq!(h.tree.digest(), before);
    assert_eq!(h.tree.stat("/m/c"), None);
    let first = h.write(WriteOp::Multi(vec![create("/m", 0), create("/m/e", 0)]));
    assert_eq!(
        first,
        OpResult::Multi(vec![
            e(ErrorCode::NodeExists),
            e(ErrorCode::RuntimeInconsistency)
        ])
    );
    // The failed multi did not advance the sequential counter.
    assert_eq!(h.counter("/m"), 3);
    assert_eq!(h.write(WriteOp::Multi(vec![])), OpResult::Multi(vec![]));
    let ctx = PrepContext {
        session: S1,
        cxid: 0,
        zxid: Zxid(1000),
        time: WallMillis(0),
        auth: &[],
    };
    let nested = WriteOp::Multi(vec![WriteOp::Multi(vec![])]);
    assert!(matches!(
        h.tree.prep(&ctx, &nested),
        Err(PrepRejected::NotAllowedInMulti { .. })
    ));
    let close = WriteOp::Multi(vec![WriteOp::CloseSession]);
    assert!(matches!(
        h.tree.prep(&ctx, &close),
        Err(PrepRejected::NotAllowedInMulti { .. })
    ));
}

#[test]
fn each_op_needs_its_permission() {
    let alice = Id::new("digest", digest_id("alice:secret"));
    let a = std::slice::from_ref(&alice);
    let grant = |p: Perms| {
        vec![
            Acl {
                perms: p,
                id: alice.clone(),
            },
            Acl::new(Perms(Perms::ALL.0 & !p.0), "digest", "bob:hash"),
        ]
    };
    for (perm, bit) in [
        ("read", Perms::READ),
        ("write", Perms::WRITE),
        ("create", Perms::CREATE),
        ("delete", Perms::DELETE),
        ("admin", Perms::ADMIN),
    ] {
        let mut h = H::new();
        h.write(create_op("/n", 0, CreateOp::Create, grant(bit)));
        h.write_as(S1, &[Id::new("super", "")], create("/n/kid", 0));
        let allowed = |want: Perms| {
            if want == bit {
                ErrorCode::Ok
            } else {
                ErrorCode::NoAuth
            }
        };
        let code = |r: OpResult| match r {
            OpResult::Error(e) => e,
            _ => ErrorCode::Ok,
        };
        let r = h
            .tree
            .get_data("/n", a)
            .map(|_| ())
            .err()
            .unwrap_or(ErrorCode::Ok);
        assert_eq!(r, allowed(Perms::READ), "getData with {perm}");
        let r = h
            .tree
            .get_children("/n", a)
            .map(|_| ())
            .err()
            .unwrap_or(ErrorCode::Ok);
        assert_eq!(r, allowed(Perms::READ), "getChildren with {perm}");
        let r = h
            .tree
            .get_all_children_number("/n", a)
            .map(|_| ())
            .err()
            .unwrap_or(ErrorCode::Ok);
        assert_eq!(r, allowed(Perms::READ), "getAllChildrenNumber with {perm}");
        assert!(h.tree.exists("/n").is_ok(), "exists needs nothing in 3.8");
        let getacl = h.tree.get_acl("/n", a);
        let want_getacl = bit == Perms::READ || bit == Perms::ADMIN;
        assert_eq!(getacl.is_ok(), want_getacl, "getACL with {perm}");
        let check = WriteOp::Check {
            path: "/n".into(),
            version: -1,
        };
        assert_eq!(
            code(h.write_as(S1, a, check)),
            allowed(Perms::READ),
            "check with {perm}"
        );
        let r = h.write_as(S1, a, set_data("/n", b"v", -1));
        assert_eq!(code(r), allowed(Perms::WRITE), "setData with {perm}");
        let r = h.write_as(S1, a, create("/n/new", 0));
        assert_eq!(code(r), allowed(Perms::CREATE), "create with {perm}");
        let r = h.write_as(S1, a, delete("/n/kid", -1));
        assert_eq!(code(r), allowed(Perms::DELETE), "delete with {perm}");
        let setacl = WriteOp::SetAcl {
            path: "/n".into(),
            acl: Acl::open_unsafe(),
            version: -1,
        };
        assert_eq!(
            code(h.write_as(S1, a, setacl)),
            allowed(Perms::ADMIN),
            "setACL with {perm}"
        );
    }
}

#[test]
fn delete_checks_parent_acl_before_node() {
    let mut h = H::new();
    h.write(create_op(
        "/locked",
        0,
        CreateOp::Create,
        Acl::read_unsafe(),
    ));
    assert_eq!(h.code(delete("/locked/missing", -1)), ErrorCode::NoAuth);
    assert_eq!(h.code(create("/locked/x", 0)), ErrorCode::NoAuth);
    assert_eq!(h.code(set_data("/locked", b"x", 3)), ErrorCode::NoAuth);
}

#[test]
fn get_acl_masks_digest_without_admin() {
    let alice = Id::new("digest", digest_id("alice:secret"));
    let mut h = H::new();
    let acl = vec![
        Acl::new(Perms::READ, "digest", alice.id.clone()),
        Acl::new(Perms::ADMIN, "digest", "bob:hash"),
    ];
    h.write(create_op("/s", 0, CreateOp::Create, acl.clone()));
    let (got, _) = h.tree.get_acl("/s", std::slice::from_ref(&alice)).unwrap();
    assert_eq!(got[0].id.id, "alice:x");
    assert_eq!(got[1].id.id, "bob:x");
    let (got, _) = h
        .tree
        .get_acl("/s", &[Id::new("digest", "bob:hash")])
        .unwrap();
    assert_eq!(got, acl);
    assert_eq!(h.tree.get_acl("/s", &[]), Err(ErrorCode::NoAuth));
    assert_eq!(h.tree.get_acl("/missing", &[]), Err(ErrorCode::NoNode));
}

#[test]
fn auth_scheme_expansion_and_invalid_acls() {
    let mut h = H::new();
    let ip = Id::new("ip", "127.0.0.1");
    let alice = Id::new("digest", digest_id("alice:secret"));
    let auth_acl = Acl::creator_all();
    let r = h.write_as(
        S1,
        std::slice::from_ref(&ip),
        create_op("/a", 0, CreateOp::Create, auth_acl.clone()),
    );
    assert_eq!(r, OpResult::Error(ErrorCode::InvalidAcl));
    let ids = [ip.clone(), alice.clone(), Id::new("super", "")];
    h.write_as(S1, &ids, create_op("/a", 0, CreateOp::Create, auth_acl));
    assert_eq!(
        h.tree.acl("/a").unwrap(),
        &[Acl {
            perms: Perms::ALL,
            id: alice.clone()
        }][..]
    );
    for bad in [
        vec![],
        vec![Acl::new(Perms::ALL, "nosuchscheme", "x")],
        vec![Acl::new(Perms::ALL, "world", "foo")],
        vec![Acl::new(Perms::ALL, "digest", "nocolon")],
        vec![Acl::new(Perms::ALL, "ip", "300.0.0.1")],
    ] {
        assert_eq!(
            h.code(create_op("/b", 0, CreateOp::Create, bad.clone())),
            ErrorCode::InvalidAcl
        );
        let set = WriteOp::SetAcl {
            path: "/a".into(),
            acl: bad,
            version: -1,
        };
        assert_eq!(h.code(set), ErrorCode::InvalidAcl);
    }
    // InvalidACL is checked before NoNode for setACL, and duplicates are dropped.
    let dup = vec![Acl::open_unsafe()[0].clone(), Acl::open_unsafe()[0].clone()];
    h.write(create_op("/d", 0, CreateOp::Create, dup));
    assert_eq!(h.tree.acl("/d").unwrap(), &Acl::open_unsafe()[..]);
    let stale = WriteOp::SetAcl {
        path: "/d".into(),
        acl: Acl::read_unsafe(),
        version: 3,
    };
    assert_eq!(h.code(stale), ErrorCode::BadVersion);
}

#[test]
fn super_digest_and_ip_acls() {
    let sup = digest_id("super:pw");
    let ids = digest_auth(b"super:pw", Some(&sup));
    let mut h = H::new();
    h.write(create_op(
        "/x",
        0,
        CreateOp::Create,
        vec![Acl::new(Perms::READ, "digest", "z:z")],
    ));
    assert_eq!(h.tree.get_data("/x", &[]), Err(ErrorCode::NoAuth));
    assert!(h.tree.get_data("/x", &ids).is_ok());
    assert!(matches!(
        h.write_as(S1, &ids, set_data("/x", b"1", -1)),
        OpResult::SetData { .. }
    ));
    let plain = digest_auth(b"super:pw", None);
    assert_eq!(h.tree.get_data("/x", &plain), Err(ErrorCode::NoAuth));
    h.write(create_op(
        "/ip",
        0,
        CreateOp::Create,
        vec![Acl::new(Perms::READ, "ip", "10.0.0.0/8")],
    ));
    assert!(h.tree.get_data("/ip", &[Id::new("ip", "10.2.3.4")]).is_ok());
    assert_eq!(
        h.tree.get_data("/ip", &[Id::new("ip", "11.2.3.4")]),
        Err(ErrorCode::NoAuth)
    );
}

#[test]
fn stats_are_exact() {
    let mut h = H::new();
    h.created("/s", 0);
    let z = h.zxid;
    let t = h.time;
    let s = h.stat("/s");
    assert_eq!(
        s,
        Stat {
            czxid: z,
            mzxid: z,
            ctime: t,
            mtime: t,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            data_length: 1,
            num_children: 0,
            pzxid: z,
        }
    );
    let OpResult::SetData { stat } = h.write(set_data("/s", b"hello", 0)) else {
        panic!()
    };
    assert_eq!(
        (stat.mzxid, stat.mtime, stat.version, stat.data_length),
        (h.zxid, h.time, 1, 5)
    );
    assert_eq!((stat.czxid, stat.ctime, stat.pzxid), (z, t, z));
    assert_eq!(h.code(set_data("/s", b"x", 7)), ErrorCode::BadVersion);
    let acl = WriteOp::SetAcl {
        path: "/s".into(),
        acl: Acl::read_unsafe(),
        version: 0,
    };
    let OpResult::SetAcl { stat: a } = h.write(acl) else {
        panic!()
    };
    assert_eq!((a.aversion, a.mzxid, a.version), (1, stat.mzxid, 1));
    // NoAuth is decided before the version check.
    assert_eq!(h.code(set_data("/s", b"x", 7)), ErrorCode::NoAuth);
    assert_eq!(h.code(set_data("/s/", b"x", -1)), ErrorCode::BadArguments);
    assert_eq!(h.code(set_data("/nope", b"x", -1)), ErrorCode::NoNode);
    let null = WriteOp::Create {
        path: "/null".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
        op: CreateOp::Create,
    };
    h.write(null);
    assert_eq!(h.tree.get_data("/null", &[]).unwrap().0, None);
    assert_eq!(h.stat("/null").data_length, 0);
    assert_eq!(h.tree.exists("/a\0"), Err(ErrorCode::BadArguments));
    assert_eq!(h.tree.exists("/nope"), Err(ErrorCode::NoNode));
}

#[test]
fn children_sorted_and_counts() {
    let mut h = H::new();
    h.created("/c", 0);
    for n in ["b", "a", "c"] {
        h.created(&format!("/c/{n}"), 0);
    }
    h.created("/c/a/x", 0);
    let (kids, stat) = h.tree.get_children("/c", &[]).unwrap();
    assert_eq!(kids, ["a", "b", "c"]);
    assert_eq!(stat.num_children, 3);
    assert_eq!(h.tree.get_all_children_number("/c", &[]), Ok(4));
    assert_eq!(h.tree.get_all_children_number("/", &[]), Ok(8));
    assert_eq!(h.tree.get_all_children_number("", &[]), Ok(9));
    assert_eq!(
        h.tree.get_all_children_number("/nope", &[]),
        Err(ErrorCode::NoNode)
    );
    assert_eq!(h.tree.get_children("/c/", &[]), Err(ErrorCode::NoNode));
}

#[test]
fn triggers_for_create_delete_set() {
    let mut h = H::new();
    let t = |p: &str, e| WatchTrigger {
        path: p.into(),
        event: e,
    };
    assert_eq!(
        h.write_full(S1, &[], create("/a", 0)).triggers,
        [
            t("/a", EventType::NodeCreated),
            t("/", EventType::NodeChildrenChanged)
        ]
    );
    assert_eq!(
        h.write_full(S1, &[], set_data("/a", b"x", -1)).triggers,
        [t("/a", EventType::NodeDataChanged)]
    );
    assert_eq!(
        h.write_full(S1, &[], delete("/a", -1)).triggers,
        [
            t("/a", EventType::NodeDeleted),
            t("/", EventType::NodeChildrenChanged)
        ]
    );
    assert!(h.write_full(S1, &[], create("/a/b", 0)).triggers.is_empty());
}

#[test]
fn over_limit_data_is_refused_without_a_txn() {
    let mut h = H::with(TreeConfig {
        data_len_max: 8,
        ..TreeConfig::default()
    });
    h.created("/a", 0);
    let before = h.tree.digest();
    let ctx = PrepContext {
        session: S1,
        cxid: 0,
        zxid: Zxid(100),
        time: WallMillis(0),
        auth: &[],
    };
    let big = vec![0u8; 9];
    for op in [
        WriteOp::Create {
            path: "/b".into(),
            data: Some(big.clone()),
            acl: Acl::open_unsafe(),
            flags: 0,
            op: CreateOp::Create,
        },
        WriteOp::SetData {
            path: "/a".into(),
            data: Some(big.clone()),
            version: -1,
        },
        WriteOp::Multi(vec![create("/c", 0), set_data("/a", &big, -1)]),
    ] {
        assert_eq!(
            h.tree.prep(&ctx, &op),
            Err(PrepRejected::DataTooLarge { len: 9, max: 8 })
        );
    }
    assert_eq!(h.tree.digest(), before);
    assert_eq!(h.tree.stat("/b"), None);
    assert!(matches!(
        h.write(set_data("/a", &[1; 8], -1)),
        OpResult::SetData { .. }
    ));
}

#[test]
fn pending_changes_layer_in_flight_txns() {
    let tree = {
        let mut h = H::new();
        h.created("/q", 0);
        h.created("/q/old", 0);
        h.tree
    };
    let mut pending = PendingChanges::new();
    let cfg = tree.config().clone();
    let ctx = |z: i64| PrepContext {
        session: S1,
        cxid: 0,
        zxid: Zxid(z),
        time: WallMillis(z),
        auth: &[],
    };
    let t1 = prep(&tree, &mut pending, &cfg, &ctx(10), &create("/q/s", 2)).unwrap();
    let t2 = prep(&tree, &mut pending, &cfg, &ctx(11), &create("/q/s", 2)).unwrap();
    let t3 = prep(&tree, &mut pending, &cfg, &ctx(12), &delete("/q/old", -1)).unwrap();
    let t4 = prep(&tree, &mut pending, &cfg, &ctx(13), &delete("/q/old", -1)).unwrap();
    let t5 = prep(&tree, &mut pending, &cfg, &ctx(14), &create("/q/e", 1)).unwrap();
    let t6 = prep(&tree, &mut pending, &cfg, &ctx(15), &WriteOp::CloseSession).unwrap();
    assert!(matches!(&t2.body, TxnBody::Create(c) if c.path == "/q/s0000000002"));
    assert_eq!(
        t4.body,
        TxnBody::Error {
            err: ErrorCode::NoNode
        }
    );
    assert_eq!(
        t6.body,
        TxnBody::CloseSession {
            session: S1,
            ephemerals: vec!["/q/e".into()]
        }
    );
    let mut tree = tree;
    for t in [&t1, &t2, &t3, &t4, &t5, &t6] {
        apply(&mut tree, t);
        tree.check_invariants_full();
    }
    assert_eq!(
        tree.get_children("/q", &[]).unwrap().0,
        ["s0000000001", "s0000000002"]
    );
    pending.retire_through(Zxid(13));
    assert!(!pending.is_empty());
    pending.retire_through(Zxid(15));
    assert!(pending.is_empty());
}

/// Builds a tree by attaching nodes directly (fixed stats), in the given order.
fn attach_all(order: &[(&str, &[u8], Vec<Acl>)]) -> DataTree {
    let mut t = DataTree::default();
    for (path, data, acl) in order {
        let (parent, name) = split_parent(path).unwrap();
        let pid = t.resolve(parent).unwrap();
        let stat = StoredStat {
            czxid: path.len() as i64,
            ..StoredStat::default()
        };
        t.attach_raw(pid, path, name, Some(data), &stat, acl);
    }
    t.check_invariants_full();
    t
}

#[test]
fn digest_is_independent_of_history() {
    let a: &[(&str, &[u8], Vec<Acl>)] = &[
        ("/x", b"1", Acl::read_unsafe()),
        ("/y", b"2", Acl::open_unsafe()),
        ("/x/z", b"3", Acl::read_unsafe()),
        ("/w", b"", Acl::creator_all()),
    ];
    let b: Vec<_> = [3usize, 1, 0, 2].iter().map(|&i| a[i].clone()).collect();
    let ta = attach_all(a);
    let tb = attach_all(&b);
    assert_eq!(ta.digest(), tb.digest());
    let mut c = a.to_vec();
    c[2].1 = b"4";
    assert_ne!(attach_all(&c).digest(), ta.digest());
    let mut d = a.to_vec();
    d[1].2 = Acl::read_unsafe();
    assert_ne!(attach_all(&d).digest(), ta.digest());
    // Through prep + apply: two replicas applying the same txns agree, and a snapshot of a
    // tree with reused arena slots / ACL entries restores to the same digest.
    let mut h = H::new();
    let mut replica = DataTree::new(h.tree.config().clone());
    let mut txns = Vec::new();
    for op in [
        create("/a", 0),
        create("/b", 1),
        create("/a/c", 2),
        delete("/a/c0000000000", -1),
        create("/d", 0),
    ] {
        let txn = h.txn_as(S1, &[], op);
        apply(&mut h.tree, &txn);
        txns.push(txn);
    }
    for t in &txns {
        apply(&mut replica, &Txn::from_bytes(&t.to_bytes()).unwrap());
    }
    assert_eq!(replica.digest(), h.tree.digest());
    let restored = DataTree::deserialize(&h.tree.serialize(), h.tree.config().clone()).unwrap();
    restored.check_invariants_full();
    assert_eq!(restored.digest(), h.tree.digest());
    assert_eq!(restored.serialize(), h.tree.serialize());
    assert_ne!(h.tree.digest(), DataTree::default().digest());
}

#[test]
fn snapshot_round_trip_and_rejects() {
    let mut h = H::new();
    h.created("/a", 0);
    h.created("/a/e", 1);
    h.write(create_op(
        "/c",
        0,
        CreateOp::CreateContainer,
        Acl::read_unsafe(),
    ));
    h.write(create_op(
        "/t",
        5,
        CreateOp::CreateTtl { ttl: 9 },
        Acl::open_unsafe(),
    ));
    h.write(WriteOp::CreateSession { timeout_ms: 4000 });
    let bytes = h.tree.serialize();
    let r = DataTree::deserialize(&bytes, h.tree.config().clone()).unwrap();
    r.check_invariants_full();
    assert_eq!(r.digest(), h.tree.digest());
    assert_eq!(r.get_ephemerals(S1, ""), ["/a/e"]);
    assert_eq!(r.stat("/c"), h.tree.stat("/c"));
    assert_eq!(
        r.due_for_expiry(WallMillis(i64::MAX / 2)),
        h.tree.due_for_expiry(WallMillis(i64::MAX / 2))
    );
    assert_eq!(r.sessions(), h.tree.sessions());
    assert_eq!(r.last_zxid(), h.tree.last_zxid());
    assert!(matches!(
        DataTree::deserialize(&[1, 2, 3], TreeConfig::default()),
        Err(SnapshotError::Decode(_))
    ));
    assert!(DataTree::deserialize(&bytes[..bytes.len() / 2], TreeConfig::default()).is_err());
}

#[test]
fn multi_read_is_per_op() {
    let mut h = H::new();
    h.created("/r", 0);
    h.created("/r/k", 0);
    h.write(create_op(
        "/r/locked",
        0,
        CreateOp::Create,
        vec![Acl::new(Perms::WRITE, "world", "anyone")],
    ));
    let ops = [
        ReadOp::GetData { path: "/r".into() },
        ReadOp::GetChildren { path: "/r".into() },
        ReadOp::GetData {
            path: "/r/nope".into(),
        },
        ReadOp::GetChildren {
            path: "/r/locked".into(),
        },
    ];
    let out = h.tree.multi_read(&ops, &[]);
    assert_eq!(
        out[0],
        Ok(ReadResult::Data(Some(b"d".to_vec()), h.stat("/r")))
    );
    assert_eq!(
        out[1],
        Ok(ReadResult::Children(vec!["k".into(), "locked".into()]))
    );
    assert_eq!(out[2], Err(ErrorCode::NoNode));
    assert_eq!(out[3], Err(ErrorCode::NoAuth));
}
