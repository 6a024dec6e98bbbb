//! State tests: fresh-tree stats, exact stats, children, triggers, digest, snapshots,
//! multiRead.

use super::*;

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

/// getChildren answers in name order through random creates and deletes (deletes reorder
/// the stored child list): it equals a sorted model after every write, and the full
/// invariant walk (parent links, positions in the parent's list) passes.
#[test]
fn get_children_sorted_through_random_creates_and_deletes() {
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};
    const NAMES: [&str; 12] = [
        "a", "ab", "a0", "a-1", "B", "b", "é", "z", "zz", "0", "a.b", "Ω",
    ];
    for seed in 0..20u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut h = H::new();
        h.created("/d", 0);
        let mut model = std::collections::BTreeSet::new();
        for step in 0..120 {
            let name = NAMES[rng.next_u32() as usize % NAMES.len()];
            let path = format!("/d/{name}");
            if model.contains(name) {
                let r = h.write(delete(&path, -1));
                assert_eq!(
                    r,
                    OpResult::Delete,
                    "seed {seed} step {step}: delete {path}"
                );
                model.remove(name);
            } else {
                h.created(&path, 0);
                model.insert(name);
            }
            let (kids, stat) = h.tree.get_children("/d", &[]).unwrap();
            let want: Vec<&str> = model.iter().copied().collect();
            assert_eq!(kids, want, "seed {seed} step {step}");
            assert_eq!(
                stat.num_children as usize,
                model.len(),
                "seed {seed} step {step}"
            );
        }
    }
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
