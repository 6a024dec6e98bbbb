//! Load throttles, it does not disconnect (ZooKeeper's `globalOutstandingLimit` and its
//! leader's request queue): writes beyond the proposal window wait in the leader's queue and
//! are proposed as commits free it, in order; a server at its outstanding limit pauses the
//! reads of the connections that send more and resumes them once it has drained to half.

use super::harness::{create, follower, Cluster};
use crate::replica::{CloseReason, LogRecord, Output};
use crate::types::ConnId;

fn standalone_with(adjust: impl Fn(&mut crate::replica::Config)) -> Cluster {
    let mut c = Cluster::with_config(1, adjust);
    assert_eq!(c.elect(), 0);
    c
}

/// The xid and zxid of a reply, or a panic naming what came instead.
fn reply(o: &Output) -> (i32, crate::types::Zxid) {
    match o {
        Output::Reply { header, .. } => {
            assert_eq!(header.err, 0, "reply {header:?} is an error");
            (header.xid, header.zxid)
        }
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn is_txn_persist(o: &Output) -> bool {
    matches!(o, Output::Persist { records, .. } if matches!(records.as_slice(), [LogRecord::Txn(_)]))
}

#[test]
fn write_beyond_the_window_is_queued_then_committed_in_order() {
    // Default bounds: a window of 1000 proposals and a 1000-request outstanding limit.
    let mut c = standalone_with(|_| {});
    let window = c.cfgs[0].proposals_inflight_max;
    assert_eq!(c.cfgs[0].client_outstanding_max, window);
    c.connect(0, 1);
    c.auto_persist[0] = false;
    let conn = ConnId(1);
    for k in 1..window {
        let outs = c.send(0, 1, k as i32, create(&format!("/n{k}")));
        assert!(
            outs.len() == 1 && is_txn_persist(&outs[0]),
            "write {k}: {outs:?}"
        );
    }
    // The write that fills the window also brings the server to its outstanding limit: the
    // connection's reads are paused, and the write is proposed.
    let outs = c.send(0, 1, window as i32, create(&format!("/n{window}")));
    assert!(
        matches!(outs.as_slice(), [Output::PauseReads { conn: c1 }, p] if *c1 == conn && is_txn_persist(p)),
        "{outs:?}"
    );
    // The next write (a driver may still feed what it read before pausing) is queued: no
    // proposal, no refusal, no close.
    let next = window + 1;
    let outs = c.send(0, 1, next as i32, create(&format!("/n{next}")));
    assert!(outs.is_empty(), "{outs:?}");
    assert_eq!(c.nodes[0].leader_queued_writes(), Some(1));
    // Durable: every write of the window commits and is answered in order; the queued one is
    // proposed; and with the server drained, the connection's reads resume.
    let token = *c.disks[0].pending_tokens().last().expect("pending");
    // (The harness snapshots every few txns; compaction hints are not the point here.)
    let outs: Vec<Output> = c
        .persist(0, token)
        .into_iter()
        .filter(|o| !matches!(o, Output::Snapshot { .. }))
        .collect();
    assert_eq!(outs.len(), window + 2, "replies, resume, proposal");
    let mut last = crate::types::Zxid::ZERO;
    for (k, o) in outs[..window].iter().enumerate() {
        let (xid, zxid) = reply(o);
        assert_eq!(xid, k as i32 + 1);
        assert!(zxid > last);
        last = zxid;
    }
    assert!(matches!(outs[window], Output::ResumeReads { conn: c1 } if c1 == conn));
    assert!(is_txn_persist(&outs[window + 1]), "{:?}", outs[window + 1]);
    assert_eq!(c.nodes[0].leader_queued_writes(), Some(0));
    let token = *c.disks[0].pending_tokens().last().expect("pending");
    let outs: Vec<Output> = c
        .persist(0, token)
        .into_iter()
        .filter(|o| !matches!(o, Output::Snapshot { .. }))
        .collect();
    assert_eq!(outs.len(), 1, "{outs:?}");
    let (xid, zxid) = reply(&outs[0]);
    assert_eq!(xid, next as i32);
    assert!(
        zxid > last,
        "the queued write commits after the earlier ones"
    );
    assert!(c.nodes[0].tree().stat("/n1001").is_some());
}

#[test]
fn forwarded_writes_beyond_the_window_are_queued_not_rejected() {
    let mut c = Cluster::with_config(3, |cfg| cfg.proposals_inflight_max = 2);
    let l = c.elect();
    let f = follower(&c, l);
    c.connect(f, 1);
    let mark = c.client[f].len();
    // The leader's own log stalls, so nothing commits and its window fills.
    c.auto_persist[l] = false;
    for xid in 1..=5 {
        c.send(f, 1, xid, create(&format!("/f{xid}")));
    }
    c.settle();
    assert_eq!(c.nodes[l].leader_queued_writes(), Some(3));
    assert!(
        c.client_since(f, 1, mark).is_empty(),
        "nothing answered or closed yet"
    );
    c.auto_persist[l] = true;
    c.settle();
    let outs = c.client_since(f, 1, mark);
    assert_eq!(outs.len(), 5, "{outs:?}");
    let mut last = crate::types::Zxid::ZERO;
    for (k, o) in outs.iter().enumerate() {
        let (xid, zxid) = reply(o);
        assert_eq!(xid, k as i32 + 1, "per-session FIFO");
        assert!(zxid > last);
        last = zxid;
    }
    assert_eq!(c.nodes[l].leader_queued_writes(), Some(0));
}

#[test]
fn writes_from_several_connections_keep_their_order_through_the_queue() {
    let mut c = standalone_with(|cfg| cfg.proposals_inflight_max = 1);
    c.connect(0, 1);
    c.connect(0, 2);
    let (m1, m2) = (c.client[0].len(), c.client[0].len());
    c.auto_persist[0] = false;
    for xid in 1..=3 {
        c.send(0, 1, xid, create(&format!("/a{xid}")));
        c.send(0, 2, xid, create(&format!("/b{xid}")));
    }
    assert_eq!(c.nodes[0].leader_queued_writes(), Some(5));
    c.auto_persist[0] = true;
    c.settle();
    let z1: Vec<_> = c.client_since(0, 1, m1).iter().map(reply).collect();
    let z2: Vec<_> = c.client_since(0, 2, m2).iter().map(reply).collect();
    assert_eq!(z1.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(z2.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3]);
    // Proposed in arrival order: a1 < b1 < a2 < b2 < a3 < b3.
    for k in 0..3 {
        assert!(z1[k].1 < z2[k].1);
        if k > 0 {
            assert!(z2[k - 1].1 < z1[k].1);
        }
    }
}

#[test]
fn a_closed_connection_drops_its_queued_writes() {
    let mut c = standalone_with(|cfg| cfg.proposals_inflight_max = 1);
    c.connect(0, 1);
    c.auto_persist[0] = false;
    c.send(0, 1, 1, create("/x1"));
    c.send(0, 1, 2, create("/x2"));
    assert_eq!(c.nodes[0].leader_queued_writes(), Some(1));
    let outs = c.step(0, crate::replica::Input::ClientClosed { conn: ConnId(1) });
    assert!(outs.is_empty(), "{outs:?}");
    assert_eq!(c.nodes[0].leader_queued_writes(), Some(0));
    c.auto_persist[0] = true;
    c.settle();
    assert!(c.nodes[0].tree().stat("/x1").is_some());
    assert!(
        c.nodes[0].tree().stat("/x2").is_none(),
        "a dropped write never applies"
    );
}

#[test]
fn leader_write_queue_past_its_hard_bound_closes_the_connection() {
    let mut c = standalone_with(|cfg| {
        cfg.proposals_inflight_max = 1;
        cfg.writes_queued_max = 1;
    });
    c.connect(0, 1);
    c.auto_persist[0] = false;
    assert!(is_txn_persist(&c.send(0, 1, 1, create("/h1"))[0]));
    assert!(c.send(0, 1, 2, create("/h2")).is_empty());
    let outs = c.send(0, 1, 3, create("/h3"));
    assert!(
        matches!(outs.as_slice(), [Output::CloseClient { conn, reason: CloseReason::Overloaded }] if *conn == ConnId(1)),
        "{outs:?}"
    );
}

#[test]
fn connection_past_its_hard_queue_bound_is_closed_and_others_resume() {
    let mut c = standalone_with(|cfg| {
        cfg.client_outstanding_max = 2;
        cfg.client_requests_queued_max = 3;
    });
    c.connect(0, 1);
    c.connect(0, 2);
    c.auto_persist[0] = false;
    // conn 2 has one write outstanding; conn 1 reaches the limit and is paused.
    assert!(is_txn_persist(&c.send(0, 2, 1, create("/c2"))[0]));
    let outs = c.send(0, 1, 1, create("/c1"));
    assert!(matches!(outs[0], Output::PauseReads { conn } if conn == ConnId(1)));
    // conn 1 ignores the pause; the core still takes its requests up to the hard bound.
    assert!(is_txn_persist(&c.send(0, 1, 2, create("/c1b"))[0]));
    assert!(is_txn_persist(&c.send(0, 1, 3, create("/c1c"))[0]));
    let outs = c.send(0, 1, 4, create("/c1d"));
    assert!(
        matches!(outs.as_slice(), [Output::CloseClient { conn, reason: CloseReason::Overloaded }] if *conn == ConnId(1)),
        "{outs:?}"
    );
    // conn 2 alone (1 outstanding = half the limit) was never paused: nothing to resume.
    assert!(!c.client[0]
        .iter()
        .any(|o| matches!(o, Output::PauseReads { conn } | Output::ResumeReads { conn } if *conn == ConnId(2))));
}

#[test]
fn writes_queued_for_a_learner_are_dropped_when_its_link_goes() {
    let mut c = Cluster::with_config(3, |cfg| cfg.proposals_inflight_max = 1);
    let l = c.elect();
    let f = follower(&c, l);
    c.connect(f, 1);
    c.auto_persist[l] = false;
    for xid in 1..=3 {
        c.send(f, 1, xid, create(&format!("/g{xid}")));
    }
    c.settle();
    assert_eq!(c.nodes[l].leader_queued_writes(), Some(2));
    // After a restart the learner numbers its requests from 1 again: an old queued write
    // proposed under its origin would be matched to an unrelated new request.
    c.step(
        l,
        crate::replica::Input::PeerDisconnected {
            peer: super::harness::sid(f),
        },
    );
    assert_eq!(c.nodes[l].leader_queued_writes(), Some(0));
}
