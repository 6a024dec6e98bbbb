//! Every checker can fire: each is fed a fabricated history that violates its statement.

use arbor_core::tree::{DataTree, NodeKind, TreeConfig};
use arbor_core::txn::{apply, CreateTxn, Txn, TxnBody, TxnHeader};
use arbor_core::types::{Acl, Epoch, ServerId, SessionId, WallMillis, Zxid};
use arbor_sim::check::agreement::Agreement;
use arbor_sim::check::digest::Digests;
use arbor_sim::check::durability::Durability;
use arbor_sim::check::ephemerals::Ephemerals;
use arbor_sim::check::epochs::EpochSanity;
use arbor_sim::check::leadership::Leadership;
use arbor_sim::check::liveness::{self, EndState, NodeEnd};
use arbor_sim::check::monotonic_reads::MonotonicReads;
use arbor_sim::check::primary_order::PrimaryOrder;
use arbor_sim::check::session_fifo;

const S1: ServerId = ServerId(1);
const S2: ServerId = ServerId(2);

fn z(e: u32, c: u32) -> Zxid {
    Zxid::new(Epoch(e), c)
}

fn txn(zxid: Zxid, session: i64, cxid: i32, path: &str) -> Txn {
    Txn::new(
        TxnHeader {
            session: SessionId(session),
            cxid,
            zxid,
            time: WallMillis(0),
        },
        TxnBody::Delete {
            path: path.to_string(),
        },
    )
}

fn fired(r: Result<(), arbor_sim::Violation>, checker: &str) {
    let v = r.expect_err("the checker must fire");
    assert_eq!(v.checker, checker, "{}", v.detail);
}

#[test]
fn leadership_fires_on_two_leaders_in_one_epoch() {
    let mut l = Leadership::default();
    l.observe(S1, Some((S1, Epoch(3)))).unwrap();
    l.observe(S2, Some((S1, Epoch(3)))).unwrap(); // a follower of S1: fine
    fired(l.observe(S2, Some((S2, Epoch(3)))), "leadership");
}

#[test]
fn agreement_fires_on_same_zxid_different_txn() {
    let mut a = Agreement::default();
    a.on_apply(S1, Zxid(0), &txn(z(1, 1), 5, 1, "/a")).unwrap();
    fired(
        a.on_apply(S2, Zxid(0), &txn(z(1, 1), 5, 1, "/b")),
        "agreement",
    );
}

#[test]
fn agreement_fires_on_a_gap_either_way() {
    let mut a = Agreement::default();
    a.on_apply(S1, Zxid(0), &txn(z(1, 1), 5, 1, "/a")).unwrap();
    a.on_apply(S1, z(1, 1), &txn(z(1, 2), 5, 2, "/a")).unwrap();
    // S2 skips 1.1.
    fired(
        a.on_apply(S2, Zxid(0), &txn(z(1, 2), 5, 2, "/a")),
        "agreement",
    );
    // S2 applies 1.3 after 1.1, then S1 reveals 1.2 was committed in between... here 1.2
    // is known, so applying 1.3 right after 1.1 skips it.
    fired(
        a.on_apply(S2, z(1, 1), &txn(z(1, 3), 5, 3, "/a")),
        "agreement",
    );
    // The reverse order: S1 applied 2.5 after 1.2; later S2 applies 2.1 in between.
    a.on_apply(S1, z(1, 2), &txn(z(2, 5), 5, 9, "/a")).unwrap();
    fired(
        a.on_apply(S2, z(1, 2), &txn(z(2, 1), 5, 4, "/a")),
        "agreement",
    );
}

#[test]
fn primary_order_fires_on_going_backwards() {
    let mut p = PrimaryOrder::default();
    p.on_apply(S1, z(2, 1)).unwrap();
    fired(p.on_apply(S1, z(1, 9)), "primary_order");
    fired(p.on_install(S1, z(1, 0)), "primary_order");
}

#[test]
fn durability_fires_on_lost_ack_and_incomplete_leader() {
    let mut a = Agreement::default();
    let mut d = Durability::default();
    // Acknowledged but never applied anywhere.
    fired(d.on_ack(&a, SessionId(5), 1, z(1, 1)), "durability");
    a.on_apply(S1, Zxid(0), &txn(z(1, 1), 5, 1, "/a")).unwrap();
    // Acknowledged for another request than the committed one.
    fired(d.on_ack(&a, SessionId(5), 2, z(1, 1)), "durability");
    d.on_ack(&a, SessionId(5), 1, z(1, 1)).unwrap();
    // A new leader whose history lacks the committed txn.
    fired(
        d.on_leader_established(&a, S2, Zxid(0), &arbor_sim::zxid_map::ZxidMap::new()),
        "durability",
    );
    // A replica truncating the committed txn.
    let t = txn(z(1, 1), 5, 1, "/a");
    fired(d.on_truncate(&a, S2, [&t].into_iter()), "durability");
    // A replica applying past the acknowledged write.
    fired(d.on_apply(S2, Zxid(0), z(2, 1)), "durability");
}

#[test]
fn digest_fires_on_divergent_trees() {
    let mut d = Digests::default();
    d.observe(S1, z(1, 4), 0xabc).unwrap();
    d.observe(S2, z(1, 4), 0xabc).unwrap();
    fired(d.observe(S2, z(1, 4), 0xdef), "digest");
}

#[test]
fn epochs_fire_on_regression_and_order() {
    let mut e = EpochSanity::default();
    e.on_durable(S1, Epoch(2), Epoch(2), Some(z(2, 1))).unwrap();
    fired(e.on_durable(S1, Epoch(1), Epoch(1), None), "epochs");
    fired(e.on_durable(S2, Epoch(1), Epoch(2), None), "epochs");
    fired(
        e.on_durable(ServerId(3), Epoch(1), Epoch(1), Some(z(2, 1))),
        "epochs",
    );
}

#[test]
fn session_fifo_fires_on_out_of_order_reply() {
    session_fifo::check_reply(0, Some(4), 4).unwrap();
    fired(session_fifo::check_reply(0, Some(4), 5), "session_fifo");
    fired(session_fifo::check_reply(0, None, 5), "session_fifo");
}

#[test]
fn monotonic_reads_fire_on_older_zxid() {
    let mut m = MonotonicReads::default();
    m.on_reply(SessionId(7), 1, 1, z(1, 9)).unwrap();
    fired(m.on_reply(SessionId(7), 2, 2, z(1, 8)), "monotonic_reads");
}

#[test]
fn ephemerals_fire_when_an_ended_session_keeps_a_node() {
    let mut tree = DataTree::new(TreeConfig::default());
    let create = Txn::new(
        TxnHeader {
            session: SessionId(9),
            cxid: 1,
            zxid: z(1, 1),
            time: WallMillis(0),
        },
        TxnBody::Create(CreateTxn {
            path: "/e".to_string(),
            data: None,
            acl: Acl::open_unsafe(),
            kind: NodeKind::Ephemeral(SessionId(9)),
            parent_cversion: 1,
        }),
    );
    apply(&mut tree, &create);
    assert_eq!(
        tree.get_ephemerals(SessionId(9), "/"),
        vec!["/e".to_string()]
    );
    let mut e = Ephemerals::default();
    e.on_session_ended(SessionId(9), z(1, 1));
    fired(e.check(S1, Zxid(0), z(1, 1), &tree), "ephemerals");
}

#[test]
fn liveness_fires_without_leader_or_with_stuck_requests() {
    let ok = EndState {
        quorum_serving: 2,
        quorum: 2,
        ..EndState::default()
    };
    liveness::check(&ok).unwrap();
    fired(
        liveness::check(&EndState {
            quorum_serving: 1,
            ..ok.clone()
        }),
        "liveness",
    );
    fired(
        liveness::check(&EndState {
            stuck: vec![(0, 3, 12_000)],
            ..ok.clone()
        }),
        "liveness",
    );
    fired(
        liveness::check(&EndState {
            writes_tried_after_heal: true,
            ..ok
        }),
        "liveness",
    );
}

#[test]
fn integrity_fires_on_a_txn_nobody_asked_for() {
    let mut i = arbor_sim::check::integrity::Integrity::default();
    i.on_request(SessionId(5), 1);
    i.on_apply(S1, &txn(z(1, 1), 5, 1, "/a")).unwrap();
    fired(i.on_apply(S1, &txn(z(1, 2), 5, 2, "/a")), "integrity");
}

#[test]
fn watch_order_fires_on_an_event_after_a_reflecting_reply() {
    let mut w = arbor_sim::check::watch_order::WatchOrder::default();
    w.on_reply(1, z(1, 3));
    w.on_notify(1, z(1, 4)).unwrap();
    fired(w.on_notify(1, z(1, 2)), "watch_order");
    w.on_reply(2, z(1, 5));
    fired(w.on_notify(2, z(1, 5)), "watch_order");
}

#[test]
fn convergence_fires_on_divergence_down_nodes_and_unanswered_requests() {
    let node = |applied: i64, digest: u64| {
        Some(NodeEnd {
            serving: Some((1, 3)),
            role: "following",
            applied: Zxid(applied),
            digest,
        })
    };
    assert_eq!(
        liveness::not_converged(&[node(9, 7), node(9, 7), node(9, 7)], None),
        None
    );
    let why = liveness::not_converged(&[node(9, 7), node(9, 8), node(9, 7)], None);
    assert!(why.is_some_and(|w| w.contains("differs")));
    let why = liveness::not_converged(&[node(9, 7), node(8, 7), node(9, 7)], None);
    assert!(why.is_some_and(|w| w.contains("node 2")));
    let why = liveness::not_converged(&[node(9, 7), None, node(9, 7)], None);
    assert!(why.is_some_and(|w| w.contains("down")));
    let mut lost = node(9, 7);
    if let Some(n) = lost.as_mut() {
        n.serving = None;
    }
    assert!(liveness::not_converged(&[node(9, 7), lost], None).is_some());
    let why = liveness::not_converged(&[node(9, 7)], Some("client 0 xid 5".to_string()));
    assert_eq!(why.as_deref(), Some("client 0 xid 5"));
}
