//! Write-path tests: error order, special paths, counters, kinds, ephemerals, expiry,
//! multi, limits, in-flight changes.

use super::*;

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
    assert!(matches!(&*t2.body, TxnBody::Create(c) if c.path == "/q/s0000000002"));
    assert_eq!(
        *t4.body,
        TxnBody::Error {
            err: ErrorCode::NoNode
        }
    );
    assert_eq!(
        *t6.body,
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
