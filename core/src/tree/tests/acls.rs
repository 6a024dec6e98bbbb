//! ACL tests: each op's permission, getACL masking, auth expansion, super digest, ip.

use super::*;

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
