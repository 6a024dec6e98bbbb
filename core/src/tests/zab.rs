//! Zab step by step: exact persist-before-ack output sequences (PROPOSAL, NEWLEADER,
//! COMMIT), discovery epoch acks, TRUNC of uncommitted txns, hostile messages.

use super::harness::{create, follower, session_txn, sid, z, Cluster};
use crate::replica::{Input, LogRecord, Output, Recovered, Replica};
use crate::types::{Epoch, Zxid};
use crate::zab::{PeerMessage, PeerState, Vote};

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

/// A follower holding a txn the new leader never had is TRUNCated back to the leader's
/// history, then DIFFed, and converges.
#[test]
fn follower_with_uncommitted_txn_is_truncated() {
    let rec = |cur: u32, log: Vec<(Zxid, i64)>| Recovered {
        accepted_epoch: Epoch(cur),
        current_epoch: Epoch(cur),
        snapshot: None,
        log: log.into_iter().map(|(z, s)| session_txn(z, s)).collect(),
        damaged: None,
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
        applied_zxid: Zxid::ZERO,
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
        applied_zxid: Zxid::ZERO,
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
