//! Hostile peers: random, ill-timed and contradictory peer messages (forged senders,
//! impossible zxids and epochs, garbage snapshots) thrown at replicas in every role. A
//! replica may drop them, count them, or go back to election — it must never panic or break
//! its own invariants (checked inside every `handle`).

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::harness::{session_txn, sid, Cluster, TICK_NS};
use crate::replica::Input;
use crate::tree::WriteOp;
use crate::types::{Epoch, SessionId, Zxid};
use crate::zab::{Origin, PeerMessage, PeerState, Vote};

fn random_message(rng: &mut ChaCha8Rng, n: usize) -> PeerMessage {
    let mut pick = |k: u64| rng.next_u64() % k;
    let z = |e: u64, c: u64| Zxid::new(Epoch(e as u32), c as u32);
    let zxid = z(pick(4), pick(6));
    let epoch = Epoch(pick(5) as u32);
    let txns: Vec<_> = (0..pick(3))
        .map(|i| session_txn(Zxid(zxid.0 + i as i64 + 1), 900 + i as i64))
        .collect();
    let origin = Origin {
        server: sid(pick(n as u64) as usize),
        request: pick(3),
    };
    match pick(19) {
        0 => PeerMessage::Notification {
            round: pick(4),
            vote: Vote {
                leader: sid(pick(n as u64 + 1) as usize),
                zxid,
                epoch,
            },
            state: [PeerState::Looking, PeerState::Following, PeerState::Leading][pick(3) as usize],
        },
        1 => PeerMessage::FollowerInfo {
            accepted_epoch: epoch,
            last_zxid: zxid,
            nonce: pick(3),
        },
        2 => PeerMessage::LeaderInfo { epoch },
        3 => PeerMessage::AckEpoch {
            current_epoch: epoch,
            last_zxid: zxid,
            fresh: pick(2) == 0,
            applied_zxid: Zxid::ZERO,
        },
        4 => PeerMessage::Diff {
            txns,
            committed: zxid,
        },
        5 => PeerMessage::Trunc {
            after: zxid,
            txns,
            committed: zxid,
        },
        6 => PeerMessage::Snap {
            zxid,
            data: vec![pick(256) as u8; pick(40) as usize],
            txns,
            committed: zxid,
        },
        7 => PeerMessage::NewLeader { epoch, zxid },
        8 => PeerMessage::UpToDate { committed: zxid },
        9 => PeerMessage::Proposal {
            txn: session_txn(zxid, 77),
            origin: (pick(2) == 0).then_some(origin),
        },
        10 => PeerMessage::Ack { zxid },
        11 => PeerMessage::Commit { zxid },
        12 => PeerMessage::Ping,
        13 => PeerMessage::Touch {
            sessions: vec![SessionId(pick(5) as i64)],
        },
        14 => PeerMessage::Request {
            origin,
            session: SessionId(pick(3) as i64),
            cxid: 1,
            op: Box::new(WriteOp::Create {
                path: "/h".into(),
                data: None,
                acl: crate::types::Acl::open_unsafe(),
                flags: pick(4) as i32,
                op: crate::tree::CreateOp::Create,
            }),
            auth: vec![],
        },
        15 => PeerMessage::Rejected { origin },
        16 => PeerMessage::Sync { origin },
        17 => PeerMessage::SyncReply { origin, zxid },
        _ => PeerMessage::Revalidate {
            session: SessionId(pick(3) as i64),
        },
    }
}

#[test]
fn random_hostile_peer_messages_never_panic() {
    for seed in 0..100 {
        let n = 3;
        let mut c = Cluster::new(n);
        c.check_agreement = false;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        if seed % 2 == 0 {
            c.elect();
        }
        for _ in 0..150 {
            let to = (rng.next_u64() % n as u64) as usize;
            let from = sid((rng.next_u64() % (n as u64 + 1)) as usize);
            let msg = random_message(&mut rng, n);
            c.step(to, Input::Peer { from, msg });
            if rng.next_u64() % 4 == 0 {
                c.advance(TICK_NS / 2);
            }
        }
        // Hostile input must not stop an honest ensemble from recovering.
        c.elect();
    }
}
