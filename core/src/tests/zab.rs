//! Zab: exact persist-before-ack output sequences, election order, sync by TRUNC,
//! convergence, leader crash.

use super::harness::{session_txn, sid, Cluster, TICK_NS};
use crate::proto::jute::{CreateRequest, Request};
use crate::replica::{Input, LogRecord, Output, Recovered, Replica};
use crate::types::{Acl, Epoch, Zxid};
use crate::zab::{PeerMessage, PeerState, Vote};

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(b"d".to_vec()),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

fn z(e: u32, c: u32) -> Zxid {
    Zxid::new(Epoch(e), c)
}

fn follower(c: &Cluster, l: usize) -> usize {
    (0..c.nodes.len()).find(|i| *i != l).unwrap()
}

/// Zab broadcast: a follower logs a PROPOSAL (Persist, nothing else) and ACKs only after
/// `Persisted`.
#[test]
fn follower_acks_proposal_only_after_persisted() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = follower(&c, l);
    c.connect(l, 1);
    c.auto_persist[f] = false;
    c.send(l, 1, 1, create("/a"));
    // Find the PROPOSAL for f in flight and deliver it alone.
    let pos = c
        .net
        .iter()
        .position(|(_, to, m)| *to == sid(f) && matches!(m, PeerMessage::Proposal { .. }))
        .expect("proposal sent");
    let (from, _, msg) = c.net.remove(pos).unwrap();
    let PeerMessage::Proposal { txn, .. } = &msg else {
        unreachable!()
    };
    let zxid = txn.header.zxid;
    let outs = c.step(
        f,
        Input::Peer {
            from,
            msg: msg.clone(),
        },
    );
    assert_eq!(outs.len(), 1, "{outs:?}");
    let Output::Persist { token, records, .. } = &outs[0] else {
        panic!("{outs:?}")
    };
    assert_eq!(records, &vec![LogRecord::Txn(txn.clone())]);
    // A COMMIT before our own persist applies nothing we have not logged and sends nothing.
    let outs = c.persist(f, *token);
    assert_eq!(outs.len(), 1, "{outs:?}");
    assert!(
        matches!(&outs[0], Output::Send { to, msg: PeerMessage::Ack { zxid: a } } if *to == sid(l) && *a == zxid)
    );
}

/// Zab synchronization (ZOOKEEPER-3911 / -4643 / -4646): the NEWLEADER ACK leaves only once
/// the synced txns and currentEpoch are durable.
#[test]
fn follower_acks_newleader_only_after_synced_history_and_epoch_durable() {
    let cfg = super::harness::config(1, 3); // server 2
    let mut r = Replica::new(cfg);
    while r.poll_output().is_some() {}
    let now = crate::types::Nanos(1);
    let wall = crate::types::WallMillis(0);
    let step = |r: &mut Replica, input| {
        r.handle(now, wall, input);
        let mut v = Vec::new();
        while let Some(o) = r.poll_output() {
            v.push(o);
        }
        v
    };
    let vote3 = Vote {
        leader: sid(2),
        zxid: Zxid::ZERO,
        epoch: Epoch(0),
    };
    for from in [sid(0), sid(2)] {
        step(
            &mut r,
            Input::Peer {
                from,
                msg: PeerMessage::Notification {
                    round: 1,
                    vote: vote3,
                    state: PeerState::Looking,
                },
            },
        );
    }
    assert_eq!(r.role_name(), "following");
    let leader = sid(2);
    let outs = step(
        &mut r,
        Input::Peer {
            from: leader,
            msg: PeerMessage::LeaderInfo { epoch: Epoch(1) },
        },
    );
    assert!(
        matches!(outs.as_slice(), [Output::Persist { records, .. }] if records == &vec![LogRecord::AcceptedEpoch(Epoch(1))]),
        "{outs:?}"
    );
    let Output::Persist { token: t_epoch, .. } = outs[0] else {
        unreachable!()
    };
    let outs = step(&mut r, Input::Persisted { token: t_epoch });
    assert!(
        matches!(
            outs.as_slice(),
            [Output::Send {
                msg: PeerMessage::AckEpoch {
                    current_epoch: Epoch(0),
                    fresh: true,
                    ..
                },
                ..
            }]
        ),
        "{outs:?}"
    );
    let txns = vec![session_txn(z(0, 1), 11), session_txn(z(0, 2), 12)];
    let outs = step(
        &mut r,
        Input::Peer {
            from: leader,
            msg: PeerMessage::Diff {
                txns: txns.clone(),
                committed: z(0, 1),
            },
        },
    );
    let [Output::Persist {
        token: t_diff,
        records,
        ..
    }] = outs.as_slice()
    else {
        panic!("{outs:?}")
    };
    assert_eq!(records.len(), 2);
    let t_diff = *t_diff;
    let outs = step(
        &mut r,
        Input::Peer {
            from: leader,
            msg: PeerMessage::NewLeader {
                epoch: Epoch(1),
                zxid: z(0, 2),
            },
        },
    );
    let [Output::Persist {
        token: t_nl,
        records,
        ..
    }] = outs.as_slice()
    else {
        panic!("{outs:?}")
    };
    assert_eq!(records, &vec![LogRecord::CurrentEpoch(Epoch(1))]);
    let t_nl = *t_nl;
    // The synced txns alone being durable is not enough.
    let outs = step(&mut r, Input::Persisted { token: t_diff });
    assert!(outs.is_empty(), "ACK before currentEpoch durable: {outs:?}");
    let outs = step(&mut r, Input::Persisted { token: t_nl });
    assert!(
        matches!(outs.as_slice(), [Output::Send { to, msg: PeerMessage::Ack { zxid } }] if *to == leader && *zxid == z(0, 2)),
        "{outs:?}"
    );
    // UPTODATE: serving.
    step(
        &mut r,
        Input::Peer {
            from: leader,
            msg: PeerMessage::UpToDate { committed: z(0, 2) },
        },
    );
    assert_eq!(r.serving_leader(), Some((leader, Epoch(1))));
    assert_eq!(r.applied_zxid(), z(0, 2));
}

/// Zab broadcast: the leader commits only on a quorum of durable ACKs that includes its own.
#[test]
fn leader_commits_only_after_its_own_persisted_ack() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.connect(l, 1);
    c.auto_persist[l] = false;
    let before = c.nodes[l].committed_zxid();
    let outs = c.send(l, 1, 1, create("/a"));
    // Proposals go out at once; the leader's own log write is the step's one Persist.
    assert!(
        matches!(outs.last(), Some(Output::Persist { .. })),
        "{outs:?}"
    );
    assert_eq!(outs.len(), 3, "{outs:?}");
    assert_eq!(
        outs.iter()
            .filter(|o| matches!(
                o,
                Output::Send {
                    msg: PeerMessage::Proposal { .. },
                    ..
                }
            ))
            .count(),
        2
    );
    // Both followers persist and ACK; the leader's own write is still pending.
    c.settle();
    assert_eq!(
        c.nodes[l].committed_zxid(),
        before,
        "committed without its own durable ack"
    );
    assert!(!c
        .net
        .iter()
        .any(|(_, _, m)| matches!(m, PeerMessage::Commit { .. })));
    let token = *c.disks[l].pending_tokens().last().unwrap();
    let outs = c.persist(l, token);
    let commits = outs
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::Send {
                    msg: PeerMessage::Commit { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(commits, 2, "{outs:?}");
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Reply { header, .. } if header.xid == 1 && header.err == 0)));
    assert!(c.nodes[l].committed_zxid() > before);
}

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

/// A follower holding a txn the new leader never had is TRUNCated back to the leader's
/// history, then DIFFed, and converges.
#[test]
fn follower_with_uncommitted_txn_is_truncated() {
    let rec = |cur: u32, log: Vec<(Zxid, i64)>| Recovered {
        accepted_epoch: Epoch(cur),
        current_epoch: Epoch(cur),
        snapshot: None,
        log: log.into_iter().map(|(z, s)| session_txn(z, s)).collect(),
    };
    let common = vec![(z(1, 1), 1), (z(1, 2), 2)];
    let mut ahead = common.clone();
    ahead.push((z(2, 1), 3));
    let mut stale = common.clone();
    stale.push((z(1, 3), 999)); // never committed anywhere else
    let mut c =
        Cluster::with_recovered(3, vec![rec(2, ahead.clone()), rec(2, ahead), rec(1, stale)]);
    let l = c.elect();
    assert_eq!(l, 1);
    let truncated = c.client.len(); // silence unused warnings in some cfgs
    let _ = truncated;
    assert!(
        c.disks[2]
            .recovered()
            .log
            .iter()
            .all(|t| t.header.zxid != z(1, 3)),
        "stale txn survived on disk"
    );
    assert!(!c.nodes[2]
        .tree()
        .sessions()
        .contains_key(&crate::types::SessionId(999)));
    let d = c.digests();
    assert!(d.windows(2).all(|w| w[0] == w[1]), "{d:?}");
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
fn hostile_peer_messages_are_dropped_and_counted() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = follower(&c, l);
    let other = (0..3).find(|i| *i != l && *i != f).unwrap();
    // A COMMIT from a server that is not our leader.
    c.step(
        f,
        Input::Peer {
            from: sid(other),
            msg: PeerMessage::Commit { zxid: z(9, 9) },
        },
    );
    assert_eq!(c.nodes[f].counters().peer_messages_dropped, 1);
    // A message from a non-voter.
    c.step(
        f,
        Input::Peer {
            from: crate::types::ServerId(77),
            msg: PeerMessage::Ping,
        },
    );
    assert_eq!(c.nodes[f].counters().peer_messages_dropped, 2);
    // An ACK from an unknown learner at the leader.
    c.step(
        l,
        Input::Peer {
            from: sid(f),
            msg: PeerMessage::Ack { zxid: z(99, 1) },
        },
    );
    assert!(c.nodes[l].counters().peer_messages_dropped >= 1);
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
                op: crate::tree::WriteOp::Create {
                    path: "/e".into(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 1,
                    op: crate::tree::CreateOp::Create,
                },
                auth: vec![],
            },
        },
    );
    c.settle();
    assert!(c.nodes[l].last_logged_zxid() > before);
    assert!(c.nodes[l].tree().stat("/e").is_none());
}

/// Zab discovery: an ACKEPOCH from a follower that had already accepted the epoch (from any
/// leader) does not count towards the quorum that fixes it, so two leaders can never both
/// establish one epoch (ZooKeeper's ACKEPOCH -1).
#[test]
fn stale_epoch_ack_does_not_count_for_discovery() {
    let mut r = Replica::new(super::harness::config(2, 3)); // server 3
    while r.poll_output().is_some() {}
    let (now, wall) = (crate::types::Nanos(1), crate::types::WallMillis(0));
    let step = |r: &mut Replica, input| {
        r.handle(now, wall, input);
        let mut v = Vec::new();
        while let Some(o) = r.poll_output() {
            v.push(o);
        }
        v
    };
    let vote = Vote {
        leader: sid(2),
        zxid: Zxid::ZERO,
        epoch: Epoch(0),
    };
    for from in [sid(0), sid(1)] {
        let msg = PeerMessage::Notification {
            round: 1,
            vote,
            state: PeerState::Looking,
        };
        step(&mut r, Input::Peer { from, msg });
    }
    assert_eq!(r.role_name(), "leading");
    let info = |nonce| PeerMessage::FollowerInfo {
        accepted_epoch: Epoch(0),
        last_zxid: Zxid::ZERO,
        nonce,
    };
    let outs = step(
        &mut r,
        Input::Peer {
            from: sid(0),
            msg: info(1),
        },
    );
    let Some(Output::Persist { token, .. }) = outs.last() else {
        panic!("{outs:?}")
    };
    let token = *token;
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Send {
            msg: PeerMessage::LeaderInfo { epoch: Epoch(1) },
            ..
        }
    )));
    step(&mut r, Input::Persisted { token });
    let stale = PeerMessage::AckEpoch {
        current_epoch: Epoch(0),
        last_zxid: Zxid::ZERO,
        fresh: false,
    };
    let outs = step(
        &mut r,
        Input::Peer {
            from: sid(0),
            msg: stale,
        },
    );
    assert!(
        outs.is_empty(),
        "synchronization started on a stale epoch ack: {outs:?}"
    );
    step(
        &mut r,
        Input::Peer {
            from: sid(1),
            msg: info(2),
        },
    );
    let fresh = PeerMessage::AckEpoch {
        current_epoch: Epoch(0),
        last_zxid: Zxid::ZERO,
        fresh: true,
    };
    let outs = step(
        &mut r,
        Input::Peer {
            from: sid(1),
            msg: fresh,
        },
    );
    let newleaders = outs
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::Send {
                    msg: PeerMessage::NewLeader {
                        epoch: Epoch(1),
                        ..
                    },
                    ..
                }
            )
        })
        .count();
    assert_eq!(newleaders, 2, "{outs:?}");
    assert!(
        matches!(outs.last(), Some(Output::Persist { records, .. }) if records == &vec![LogRecord::CurrentEpoch(Epoch(1))])
    );
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
