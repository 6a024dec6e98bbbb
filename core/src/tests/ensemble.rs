//! Ensembles of 3, 5 and 7: election order, convergence, leader crash and rejoin, quorum
//! loss, forwarding, sync, sessions across servers.

use super::harness::{create, follower, session_txn, sid, z, Cluster, TICK_NS};
use crate::proto::jute::Request;
use crate::replica::{Input, Output, Recovered};
use crate::types::{Acl, Epoch, Zxid};
use crate::zab::PeerMessage;

#[test]
fn election_picks_highest_epoch_then_zxid_then_id() {
    let rec = |cur: u32, log: Vec<Zxid>| Recovered {
        accepted_epoch: Epoch(cur),
        current_epoch: Epoch(cur),
        snapshot: None,
        log: log
            .into_iter()
            .enumerate()
            .map(|(i, z)| session_txn(z, 100 + i as i64))
            .collect(),
        damaged: None,
    };
    // Server 1 has the highest epoch despite a smaller zxid counter.
    let mut c = Cluster::with_recovered(
        3,
        vec![
            rec(2, vec![z(1, 1), z(2, 1)]),
            rec(1, vec![z(1, 1), z(1, 2), z(1, 3)]),
            rec(1, vec![z(1, 1), z(1, 2)]),
        ],
    );
    assert_eq!(c.elect(), 0);
    // Equal epochs: highest zxid wins.
    let mut c = Cluster::with_recovered(
        3,
        vec![
            rec(1, vec![z(1, 1)]),
            rec(1, vec![z(1, 1), z(1, 2)]),
            rec(1, vec![z(1, 1)]),
        ],
    );
    assert_eq!(c.elect(), 1);
    // All equal: highest id wins.
    let mut c = Cluster::new(3);
    assert_eq!(c.elect(), 2);
}

#[test]
fn three_node_ensemble_commits_writes_and_converges() {
    let mut c = Cluster::new(3);
    c.elect();
    for i in 0..3 {
        c.connect(i, 10 + i as u64);
    }
    for k in 0..5 {
        for i in 0..3 {
            c.send(i, 10 + i as u64, k + 1, create(&format!("/n{i}-{k}")));
        }
    }
    c.settle();
    c.advance(2 * TICK_NS);
    for i in 0..3 {
        let replies = c.client[i]
            .iter()
            .filter(
                |o| matches!(o, Output::Reply { header, .. } if header.xid > 0 && header.err == 0),
            )
            .count();
        assert_eq!(replies, 5, "node {i} replies");
        for k in 0..5 {
            assert!(c.nodes[i].tree().stat(&format!("/n2-{k}")).is_some());
        }
    }
    let d = c.digests();
    assert!(d.windows(2).all(|w| w[0] == w[1]), "{d:?}");
}

#[test]
fn leader_crash_new_leader_keeps_every_committed_txn_and_old_leader_rejoins() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = follower(&c, l);
    c.connect(f, 1);
    for k in 0..4 {
        c.send(f, 1, k + 1, create(&format!("/k{k}")));
    }
    c.settle();
    let committed = c.nodes[l].committed_zxid();
    c.crash(l);
    let l2 = c.elect();
    assert_ne!(l2, l);
    for k in 0..4 {
        assert!(
            c.nodes[l2].tree().stat(&format!("/k{k}")).is_some(),
            "lost /k{k}"
        );
    }
    assert!(c.nodes[l2].committed_zxid() >= committed);
    // The new leader takes writes; the old one restarts from its disk and converges.
    c.connect(l2, 2);
    c.send(l2, 2, 1, create("/after"));
    c.settle();
    c.restart(l);
    c.elect();
    c.advance(2 * TICK_NS);
    assert!(c.nodes[l].tree().stat("/after").is_some());
    let d = c.digests();
    assert!(d.windows(2).all(|w| w[0] == w[1]), "{d:?}");
}

#[test]
fn follower_returns_to_election_when_leader_is_silent() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.crash(l);
    // Without the disconnect notice a follower would still notice silence within syncLimit.
    let f = follower(&c, l);
    c.restart(l);
    c.crash(l);
    c.advance(10 * TICK_NS);
    assert_ne!(c.nodes[f].serving_leader().map(|x| x.0), Some(sid(l)));
}

#[test]
fn leader_steps_down_without_a_quorum() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    for i in 0..3 {
        if i != l {
            c.crash(i);
        }
    }
    c.advance((c.cfgs[l].sync_limit_ticks + 2) * TICK_NS);
    assert_eq!(c.nodes[l].role_name(), "looking");
    assert_eq!(c.nodes[l].client_count(), 0);
}

#[test]
fn five_and_seven_node_ensembles_elect_and_commit() {
    for n in [5, 7] {
        let mut c = Cluster::new(n);
        let l = c.elect();
        c.connect(l, 1);
        c.send(l, 1, 1, create("/x"));
        c.settle();
        c.advance(TICK_NS);
        for i in 0..n {
            assert!(c.nodes[i].tree().stat("/x").is_some(), "n={n} node {i}");
        }
    }
}

#[test]
fn restarted_follower_rejoins_running_ensemble() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = follower(&c, l);
    c.connect(l, 1);
    c.send(l, 1, 1, create("/a"));
    c.settle();
    c.crash(f);
    c.send(l, 1, 2, create("/b"));
    c.settle();
    c.restart(f);
    let l2 = c.elect();
    assert_eq!(
        l2, l,
        "a rejoining follower must not depose a healthy leader"
    );
    c.advance(TICK_NS);
    assert!(c.nodes[f].tree().stat("/b").is_some());
}

#[test]
fn follower_sync_waits_for_leader_history_then_answers() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = follower(&c, l);
    c.connect(f, 1);
    c.connect(l, 2);
    c.send(l, 2, 1, create("/s"));
    let mark = c.client[f].len();
    c.send(
        f,
        1,
        9,
        Request::Sync(crate::proto::jute::PathRequest { path: "/s".into() }),
    );
    c.settle();
    let outs = c.client_since(f, 1, mark);
    let Some(Output::Reply { header, .. }) = outs.first() else {
        panic!("{outs:?}")
    };
    assert_eq!(header.xid, 9);
    assert!(header.zxid >= c.nodes[l].committed_zxid());
    assert!(c.nodes[f].tree().stat("/s").is_some());
}

#[test]
fn session_created_on_follower_resumes_on_another_server_and_touches_keep_it_alive() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = follower(&c, l);
    let other = (0..3).find(|i| *i != l && *i != f).unwrap();
    let r = c.connect(f, 1);
    assert_ne!(r.timeout_ms, 0);
    // Pings on the follower for longer than the timeout: its touches reach the leader.
    for _ in 0..25 {
        c.advance(TICK_NS);
        c.send(f, 1, -2, Request::Ping);
    }
    assert!(
        c.nodes[l].tree().sessions().contains_key(&r.session_id),
        "touched session expired"
    );
    c.step(
        f,
        Input::ClientClosed {
            conn: crate::types::ConnId(1),
        },
    );
    let again = c
        .connect_with(
            other,
            2,
            crate::proto::jute::ConnectRequest {
                session_id: r.session_id,
                passwd: r.passwd.clone(),
                timeout_ms: 1_000,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(again.session_id, r.session_id);
    // Silence: the leader expires it and every replica drops it.
    c.step(
        other,
        Input::ClientClosed {
            conn: crate::types::ConnId(2),
        },
    );
    c.advance(30 * TICK_NS);
    for i in 0..3 {
        assert!(!c.nodes[i].tree().sessions().contains_key(&r.session_id));
    }
}

#[test]
fn forwarded_write_for_a_dead_session_is_a_session_expired_txn() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = follower(&c, l);
    let before = c.nodes[l].last_logged_zxid();
    // A (hostile or late) forwarded ephemeral create for session 0 must not panic the leader.
    c.step(
        l,
        Input::Peer {
            from: sid(f),
            msg: PeerMessage::Request {
                origin: crate::zab::Origin {
                    server: sid(f),
                    request: 1,
                },
                session: crate::types::SessionId(0),
                cxid: 1,
                op: Box::new(crate::tree::WriteOp::Create {
                    path: "/e".into(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 1,
                    op: crate::tree::CreateOp::Create,
                }),
                auth: vec![],
            },
        },
    );
    c.settle();
    assert!(c.nodes[l].last_logged_zxid() > before);
    assert!(c.nodes[l].tree().stat("/e").is_none());
}

/// ZooKeeper's session owner check: once a session reattaches through another server, a
/// write on its stale connection closes that connection instead of being applied.
#[test]
fn write_on_a_moved_session_closes_the_stale_connection() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = follower(&c, l);
    let r = c.connect(f, 1);
    // Reattach through the leader while the follower's connection stays open.
    let again = c
        .connect_with(
            l,
            2,
            crate::proto::jute::ConnectRequest {
                session_id: r.session_id,
                passwd: r.passwd.clone(),
                timeout_ms: 1_000,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(again.session_id, r.session_id);
    let mark = c.client[f].len();
    c.send(f, 1, 5, create("/stale"));
    c.settle();
    let outs = c.client_since(f, 1, mark);
    assert!(
        matches!(
            outs.as_slice(),
            [Output::CloseClient {
                reason: crate::replica::CloseReason::SessionMoved,
                ..
            }]
        ),
        "{outs:?}"
    );
    assert!(c.nodes[l].tree().stat("/stale").is_none());
    let mark = c.client[l].len();
    c.send(l, 2, 6, create("/fresh"));
    c.settle();
    let outs = c.client_since(l, 2, mark);
    assert!(
        matches!(&outs[0], Output::Reply { header, .. } if header.err == 0),
        "{outs:?}"
    );
}
