//! Snapshot views (`DataTree::snapshot`): a view taken before further writes serializes to
//! exactly the bytes `serialize()` gave when it was taken, whatever is applied afterwards
//! (writes to shared chunks, slot reuse, ACL entries freed and reused, sessions changed).

use super::*;

/// Applies one write through prep + apply without the per-write O(n) invariant check (the
/// trees here are a few chunks large); the caller checks once at the end.
fn quick(h: &mut H, session: SessionId, op: WriteOp) -> OpResult {
    let txn = h.txn_as(session, &[], op);
    apply(&mut h.tree, &txn).result
}

fn set_acl(path: &str, acl: Vec<Acl>) -> WriteOp {
    WriteOp::SetAcl {
        path: path.into(),
        acl,
        version: -1,
    }
}

/// A tree of a few arena chunks with every node kind, two ACL lists and two sessions.
fn populated() -> H {
    let mut h = H::new();
    quick(&mut h, S1, WriteOp::CreateSession { timeout_ms: 4000 });
    quick(&mut h, S2, WriteOp::CreateSession { timeout_ms: 6000 });
    for d in 0..3 {
        quick(&mut h, S1, create(&format!("/d{d}"), 0));
        for i in 0..400 {
            let path = format!("/d{d}/n{i:03}");
            let op = match i % 5 {
                0 => create_op(&path, 1, CreateOp::Create2, Acl::open_unsafe()),
                1 => create_op(&path, 0, CreateOp::CreateContainer, Acl::read_unsafe()),
                2 => create_op(
                    &path,
                    5,
                    CreateOp::CreateTtl { ttl: 50 },
                    Acl::open_unsafe(),
                ),
                3 => create_op(&path, 2, CreateOp::Create2, Acl::read_unsafe()),
                _ => create(&path, 0),
            };
            let session = if i % 2 == 0 { S1 } else { S2 };
            let r = quick(&mut h, session, op);
            assert!(matches!(r, OpResult::Create { .. }), "{path}: {r:?}");
        }
    }
    h.tree.check_invariants_full();
    assert!(h.tree.node_count() > 1200, "spans several arena chunks");
    h
}

#[test]
fn serialize_matches_the_owned_encoding() {
    // The streamed encoder must give the bytes of the owned `Snapshot` struct through
    // postcard: deeper paths, empty and null data, several ACL lists, sessions.
    let mut h = populated();
    quick(&mut h, S1, create("/d0/n004/deep", 0));
    quick(&mut h, S1, create("/d0/n004/deep/er", 0));
    quick(
        &mut h,
        S1,
        WriteOp::SetData {
            path: "/d1/n004".into(),
            data: None,
            version: -1,
        },
    );
    quick(
        &mut h,
        S1,
        WriteOp::SetData {
            path: "/d1/n009".into(),
            data: Some(Vec::new()),
            version: -1,
        },
    );
    let view = h.tree.snapshot();
    let owned = view.serialize_owned();
    assert_eq!(view.serialize(), owned);
    assert_eq!(DataTree::new(h.tree.config().clone()).serialize(), {
        DataTree::new(h.tree.config().clone())
            .snapshot()
            .serialize_owned()
    });
    let restored = DataTree::deserialize(&owned, h.tree.config().clone()).unwrap();
    assert_eq!(restored.digest(), h.tree.digest());
}

#[test]
fn a_view_serializes_to_the_bytes_of_its_moment() {
    let mut h = populated();
    let bytes = h.tree.serialize();
    let digest = h.tree.digest();
    let zxid = h.tree.last_zxid();
    let view = h.tree.snapshot();
    assert_eq!(view.serialize(), bytes, "a fresh view equals serialize()");
    assert_eq!(
        (view.last_zxid(), view.node_count(), view.digest()),
        (zxid, h.tree.node_count(), digest)
    );

    // Writes after the view, touching every chunk: data, stats, children, slot reuse,
    // ACL entries (a new list, then the read-only list's last users gone), sessions.
    for d in 0..3 {
        for i in (0..400).step_by(7) {
            quick(
                &mut h,
                S1,
                set_data(&format!("/d{d}/n{i:03}"), b"changed", -1),
            );
        }
        for i in (4..400).step_by(10) {
            quick(&mut h, S1, delete(&format!("/d{d}/n{i:03}"), -1));
        }
        for i in 0..50 {
            quick(&mut h, S2, create(&format!("/d{d}/new{i}"), 0));
        }
        let digest_acl = vec![Acl {
            perms: Perms::ALL,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }];
        quick(&mut h, S1, set_acl(&format!("/d{d}/n009"), digest_acl));
    }
    quick(&mut h, S1, WriteOp::CloseSession);
    quick(
        &mut h,
        SessionId(0x0100_0000_0000_0003),
        WriteOp::CreateSession { timeout_ms: 9000 },
    );
    h.tree.check_invariants_full();
    let now = h.tree.serialize();
    assert_ne!(now, bytes, "the tree did change");

    assert_eq!(
        view.serialize(),
        bytes,
        "the view still gives its moment's bytes"
    );
    let restored = DataTree::deserialize(&view.serialize(), h.tree.config().clone()).unwrap();
    restored.check_invariants_full();
    assert_eq!(restored.digest(), digest);
    assert_eq!(restored.last_zxid(), zxid);

    // A second view while the first lives, then more writes after the first is dropped.
    let later = h.tree.snapshot();
    drop(view);
    quick(&mut h, S2, set_data("/d0/n001", b"again", -1));
    quick(&mut h, S2, create("/d1/after", 0));
    assert_eq!(later.serialize(), now);
    assert_ne!(h.tree.serialize(), now);
    h.tree.check_invariants_full();
}

#[test]
fn a_view_of_a_fresh_tree() {
    let mut h = H::new();
    let fresh = h.tree.serialize();
    let view = h.tree.snapshot();
    h.created("/a", 0);
    assert_eq!(view.serialize(), fresh);
    assert_eq!(
        view.serialize(),
        DataTree::new(h.tree.config().clone()).serialize()
    );
    assert_ne!(h.tree.serialize(), fresh);
}
