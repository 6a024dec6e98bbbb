//! Storage damage (`Recovered::damaged`): a replica that lost acknowledged txns to a damaged
//! disk must not help elect a leader that lacks them, and rejoins by a sync that repairs it.

use super::harness::{config, session_txn, sid, z, Cluster, TICK_NS};
use crate::replica::{Input, LogRecord, Output, Recovered, Replica};
use crate::types::{Epoch, Nanos, WallMillis, Zxid};
use crate::zab::{PeerMessage, PeerState, Vote};

fn rec(epoch: u32, log: &[Zxid], damaged: Option<Zxid>) -> Recovered {
    Recovered {
        accepted_epoch: Epoch(epoch),
        current_epoch: Epoch(epoch),
        snapshot: None,
        log: log
            .iter()
            .enumerate()
            .map(|(i, z)| session_txn(*z, 100 + i as i64))
            .collect(),
        damaged,
    }
}

/// Recovery with damage: the first output makes the damage marker durable, the replica
/// announces itself OBSERVING (never LOOKING), and ignores LOOKING votes entirely.
#[test]
fn damaged_replica_persists_marker_first_and_only_observes() {
    let mut r =
        Replica::recover(config(1, 3), rec(1, &[z(1, 1)], Some(z(1, 2)))).expect("recovers");
    assert_eq!(r.damaged(), Some(z(1, 2)));
    let first = r.poll_output().expect("outputs");
    let Output::Persist { records, .. } = &first else {
        panic!("{first:?}")
    };
    assert_eq!(records, &vec![LogRecord::Damaged(Some(z(1, 2)))]);
    let mut states = Vec::new();
    while let Some(o) = r.poll_output() {
        if let Output::Send {
            msg: PeerMessage::Notification { state, .. },
            ..
        } = o
        {
            states.push(state);
        }
    }
    assert_eq!(states, vec![PeerState::Observing, PeerState::Observing]);
    // A LOOKING peer votes for us with everything we need: we still do not count votes and
    // emit nothing.
    let vote = Vote {
        leader: sid(1),
        zxid: z(1, 1),
        epoch: Epoch(1),
    };
    for from in [sid(0), sid(2)] {
        r.handle(
            Nanos(1),
            WallMillis(0),
            Input::Peer {
                from,
                msg: PeerMessage::Notification {
                    round: 1,
                    vote,
                    state: PeerState::Looking,
                },
            },
        );
        assert!(r.poll_output().is_none());
    }
    r.handle(Nanos(TICK_NS * 10), WallMillis(0), Input::Tick);
    while r.poll_output().is_some() {}
    assert_eq!(r.role_name(), "looking");
}

/// A LOOKING voter answers an OBSERVING notification with its own vote and does not count
/// it: two voters with the same vote would otherwise be a quorum of 3.
#[test]
fn observing_notification_is_answered_not_counted() {
    let mut r = Replica::recover(config(2, 3), rec(1, &[z(1, 1)], None)).expect("recovers");
    while r.poll_output().is_some() {}
    let vote = Vote {
        leader: sid(2),
        zxid: z(1, 1),
        epoch: Epoch(1),
    };
    r.handle(
        Nanos(1),
        WallMillis(0),
        Input::Peer {
            from: sid(1),
            msg: PeerMessage::Notification {
                round: 1,
                vote,
                state: PeerState::Observing,
            },
        },
    );
    let outs: Vec<Output> = std::iter::from_fn(|| r.poll_output()).collect();
    assert_eq!(outs.len(), 1, "{outs:?}");
    assert!(matches!(
        &outs[0],
        Output::Send { to, msg: PeerMessage::Notification { vote: v, state: PeerState::Looking, .. } }
            if *to == sid(1) && *v == vote
    ));
    // Past the finalize window nothing was decided.
    r.handle(Nanos(TICK_NS * 3), WallMillis(0), Input::Tick);
    while r.poll_output().is_some() {}
    assert_eq!(r.role_name(), "looking");
}

/// The safety property: z(1,2) was committed by servers 0 and 1 (a quorum of 3); server 1's
/// disk then lost it. With server 0 down, servers 1 and 2 (both at z(1,1)) would elect a
/// leader lacking a committed txn. The damaged server abstains, so no leader is elected until
/// server 0 is back; then server 1 syncs, is repaired durably, and holds z(1,2).
#[test]
fn damaged_replica_does_not_elect_a_leader_lacking_its_acked_txns() {
    let full = [z(1, 1), z(1, 2)];
    let short = [z(1, 1)];
    let mut c = Cluster::with_recovered(
        3,
        vec![
            rec(1, &full, None),
            rec(1, &short, Some(z(1, 2))),
            rec(1, &short, None),
        ],
    );
    assert_eq!(c.disks[1].damaged, Some(z(1, 2)), "marker durable");
    c.crash(0);
    c.advance(TICK_NS * 100);
    assert_eq!(
        c.leader(),
        None,
        "a leader was elected without the committed z(1,2)"
    );
    assert!((1..3).all(|i| c.nodes[i].serving_leader().is_none()));
    c.restart(0);
    let l = c.elect();
    assert_eq!(l, 0);
    assert_eq!(c.nodes[1].damaged(), None, "damage not cleared by the sync");
    assert_eq!(c.disks[1].damaged, None, "cleared marker not durable");
    assert!(
        c.disks[1].log.iter().any(|t| t.header.zxid == z(1, 2)),
        "repaired replica lacks z(1,2) on disk"
    );
    let d = c.digests();
    assert!(d.windows(2).all(|w| w[0] == w[1]), "{d:?}");
}

/// A damaged replica joins a leader that a quorum of settled servers names; its ACKEPOCH
/// is not fresh (the leader does not count it towards the epoch quorum), although it first
/// makes the new acceptedEpoch durable.
#[test]
fn damaged_follower_joins_settled_leader_with_non_fresh_ackepoch() {
    let mut r = Replica::recover(config(1, 3), rec(1, &[], Some(z(1, 1)))).expect("recovers");
    while r.poll_output().is_some() {}
    let now = Nanos(1);
    let wall = WallMillis(0);
    let leader_vote = Vote {
        leader: sid(0),
        zxid: z(1, 1),
        epoch: Epoch(2),
    };
    for (from, state) in [(sid(0), PeerState::Leading), (sid(2), PeerState::Following)] {
        r.handle(
            now,
            wall,
            Input::Peer {
                from,
                msg: PeerMessage::Notification {
                    round: 7,
                    vote: leader_vote,
                    state,
                },
            },
        );
    }
    let outs: Vec<Output> = std::iter::from_fn(|| r.poll_output()).collect();
    assert_eq!(r.role_name(), "following");
    assert!(
        outs.iter().any(|o| matches!(o, Output::Send { to, msg: PeerMessage::FollowerInfo { .. } } if *to == sid(0))),
        "{outs:?}"
    );
    r.handle(
        now,
        wall,
        Input::Peer {
            from: sid(0),
            msg: PeerMessage::LeaderInfo { epoch: Epoch(3) },
        },
    );
    let outs: Vec<Output> = std::iter::from_fn(|| r.poll_output()).collect();
    assert_eq!(outs.len(), 1, "{outs:?}");
    let Output::Persist { token, records, .. } = &outs[0] else {
        panic!("{outs:?}")
    };
    assert_eq!(records, &vec![LogRecord::AcceptedEpoch(Epoch(3))]);
    r.handle(now, wall, Input::Persisted { token: *token });
    let outs: Vec<Output> = std::iter::from_fn(|| r.poll_output()).collect();
    assert_eq!(outs.len(), 1, "{outs:?}");
    assert!(
        matches!(&outs[0], Output::Send { to, msg: PeerMessage::AckEpoch { fresh: false, .. } } if *to == sid(0)),
        "{outs:?}"
    );
    assert_eq!(r.damaged(), Some(z(1, 1)), "not repaired before a sync");
}

/// A snapshot the core cannot start from is an error value, not a panic: bytes that do not
/// load, a tree at another zxid than storage reported, and an invalid config. Nothing is
/// emitted for a refused recovery (there is no replica).
#[test]
fn recover_refuses_an_unloadable_snapshot_without_panicking() {
    use crate::replica::RecoverError;
    use crate::tree::DataTree;

    let garbage = Recovered {
        snapshot: Some((z(1, 3), vec![0xff; 7])),
        ..rec(1, &[], None)
    };
    let e = Replica::recover(config(1, 3), garbage).expect_err("garbage snapshot refused");
    assert!(
        matches!(e, RecoverError::UnloadableSnapshot { zxid, .. } if zxid == z(1, 3)),
        "{e}"
    );

    let empty_tree = DataTree::new(config(1, 3).tree).serialize();
    let mislabelled = Recovered {
        snapshot: Some((z(1, 3), empty_tree.clone())),
        ..rec(1, &[], None)
    };
    assert_eq!(
        Replica::recover(config(1, 3), mislabelled).expect_err("zxid mismatch refused"),
        RecoverError::SnapshotZxidMismatch {
            zxid: z(1, 3),
            tree_zxid: Zxid::ZERO
        }
    );

    let mut bad_cfg = config(1, 3);
    bad_cfg.voters.clear();
    assert!(matches!(
        Replica::recover(bad_cfg, rec(1, &[], None)),
        Err(RecoverError::InvalidConfig(_))
    ));

    // The same tree under its own zxid loads.
    let fine = Recovered {
        snapshot: Some((Zxid::ZERO, empty_tree)),
        ..rec(1, &[], None)
    };
    assert!(Replica::recover(config(1, 3), fine).is_ok());
}
