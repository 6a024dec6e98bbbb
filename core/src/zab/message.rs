//! The peer protocol: [`PeerMessage`] (Zab's packet vocabulary) and its versioned postcard
//! envelope ([`encode_peer`] / [`decode_peer`]).
//!
//! Semantics follow Zab (Junqueira, Reed, Serafini, DSN 2011) and ZooKeeper's quorum
//! packets; the encoding is our own. Links are FIFO; the receiver treats any message that
//! does not fit its state as hostile: dropped, counted, `warn!`ed, never a panic.

use serde::{Deserialize, Serialize};

use crate::tree::WriteOp;
use crate::txn::Txn;
use crate::types::{Epoch, Id, ServerId, SessionId, Zxid};

/// Current envelope version.
pub const PEER_PROTOCOL_VERSION: u16 = 1;

/// A server's election state as announced in a notification (FLE `ServerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerState {
    /// Established leader (or leader-elect).
    Leading,
    /// Following a leader.
    Following,
    /// Electing.
    Looking,
    /// Electing, but not a voter: its vote is never counted and it never leads (ZooKeeper's
    /// OBSERVING). A replica whose storage was damaged announces this until a sync has
    /// repaired it. Last, so the encoding of the other states is unchanged.
    Observing,
}

/// A vote: proposed leader and that leader's (epoch, last zxid). Ordered by
/// (epoch, zxid, leader id) — FLE's `totalOrderPredicate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Proposed leader.
    pub leader: ServerId,
    /// Its last logged zxid.
    pub zxid: Zxid,
    /// Its currentEpoch (`peerEpoch`).
    pub epoch: Epoch,
}

impl Vote {
    /// The FLE precedence key.
    pub fn key(&self) -> (Epoch, Zxid, ServerId) {
        (self.epoch, self.zxid, self.leader)
    }
}

/// Who asked for a forwarded write: the learner and its request number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    /// The learner the client is connected to.
    pub server: ServerId,
    /// The learner's request number.
    pub request: u64,
}

/// The Zab packets. Variants in protocol-phase order (election, discovery, sync,
/// broadcast, heartbeat, request forwarding).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerMessage {
    /// FLE notification: the sender's vote in election round `round`, and its state.
    Notification {
        /// Election round (`logicalclock`).
        round: u64,
        /// The sender's current vote.
        vote: Vote,
        /// The sender's state.
        state: PeerState,
    },
    /// Discovery (CEPOCH): a follower's acceptedEpoch. `nonce` tells retransmissions of
    /// one attempt apart from a restarted follower.
    FollowerInfo {
        /// The follower's acceptedEpoch.
        accepted_epoch: Epoch,
        /// The follower's last logged zxid (informative).
        last_zxid: Zxid,
        /// Identifies this following attempt.
        nonce: u64,
    },
    /// Discovery (NEWEPOCH): the epoch the leader proposes.
    LeaderInfo {
        /// The new epoch.
        epoch: Epoch,
    },
    /// Discovery (ACK-E): sent once `acceptedEpoch = epoch` is durable.
    AckEpoch {
        /// The follower's currentEpoch.
        current_epoch: Epoch,
        /// The follower's last logged zxid.
        last_zxid: Zxid,
        /// True when this LEADERINFO raised our acceptedEpoch. A follower that had already
        /// accepted the epoch (from whichever leader) answers `false`, and the leader does
        /// not count it towards the quorum that fixes the epoch — as ZooKeeper's ACKEPOCH
        /// with epoch -1 — so two leaders can never both gather a quorum for one epoch.
        fresh: bool,
        /// The follower's last applied (committed) zxid: a TRUNC may not cut below it, so
        /// the leader sends SNAP instead when it would have to.
        applied_zxid: Zxid,
    },
    /// Sync: append `txns` (the follower already holds everything up to their first).
    Diff {
        /// Missing transactions, in zxid order.
        txns: Vec<Txn>,
        /// Leader's commit point (the follower may apply up to here).
        committed: Zxid,
    },
    /// Sync: drop logged txns above `after`, then append `txns`.
    Trunc {
        /// Last zxid kept.
        after: Zxid,
        /// Transactions after `after`, in zxid order.
        txns: Vec<Txn>,
        /// Leader's commit point.
        committed: Zxid,
    },
    /// Sync: replace the state with a snapshot at `zxid`, then append `txns`.
    Snap {
        /// Last zxid in the snapshot.
        zxid: Zxid,
        /// `DataTree::serialize` bytes.
        data: Vec<u8>,
        /// Transactions after `zxid`.
        txns: Vec<Txn>,
        /// Leader's commit point.
        committed: Zxid,
    },
    /// Sync done: the follower adopts `epoch` as currentEpoch, durably, then ACKs.
    NewLeader {
        /// The new epoch.
        epoch: Epoch,
        /// Last zxid of the history sent in sync.
        zxid: Zxid,
    },
    /// The leader is established; commit through `committed` and start serving.
    UpToDate {
        /// Commit point.
        committed: Zxid,
    },
    /// Broadcast: log this transaction.
    Proposal {
        /// The transaction.
        txn: Txn,
        /// Set when the write came from a learner's client.
        origin: Option<Origin>,
    },
    /// ACK of a PROPOSAL (or of NEWLEADER): everything up to `zxid` is durable here.
    Ack {
        /// Highest durable zxid acknowledged.
        zxid: Zxid,
    },
    /// Commit every transaction up to `zxid`.
    Commit {
        /// Commit point.
        zxid: Zxid,
    },
    /// Leader heartbeat.
    Ping,
    /// A client reattached this session through the sending learner (ZooKeeper's
    /// REVALIDATE): the leader records it as the session's owner and touches it.
    Revalidate {
        /// The session.
        session: SessionId,
    },
    /// Follower heartbeat answer: sessions its clients touched since the last one.
    Touch {
        /// Touched sessions.
        sessions: Vec<SessionId>,
    },
    /// A learner forwards a write (or a session create / close) to the leader.
    Request {
        /// For matching the proposal to the client.
        origin: Origin,
        /// Session (0 for a session create).
        session: SessionId,
        /// Client xid.
        cxid: i32,
        /// The write (boxed, like the other large payloads of inputs and outputs: they
        /// move by value through the drivers' queues).
        op: Box<WriteOp>,
        /// The connection's authenticated identities.
        auth: Vec<Id>,
    },
    /// The leader refused a forwarded request outright (no transaction issued).
    Rejected {
        /// The request.
        origin: Origin,
    },
    /// `sync`: ask the leader where its history ends.
    Sync {
        /// The request.
        origin: Origin,
    },
    /// Answer to `Sync`: the learner answers its client once it applied `zxid`.
    SyncReply {
        /// The request.
        origin: Origin,
        /// Leader's last proposed zxid when the sync was handled.
        zxid: Zxid,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    version: u16,
    msg: PeerMessage,
}

/// Why a peer frame was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerProtocolError {
    /// postcard failed.
    #[error("peer message decode failed: {0}")]
    Decode(postcard::Error),
    /// Unknown envelope version.
    #[error("peer protocol version {got}, expected {expected}")]
    Version {
        /// Received.
        got: u16,
        /// Ours.
        expected: u16,
    },
}

/// Encodes a message in the versioned envelope.
pub fn encode_peer(msg: &PeerMessage) -> Vec<u8> {
    /// [`Envelope`] by reference (same bytes), so encoding never clones the message.
    #[derive(Serialize)]
    struct EnvelopeRef<'a> {
        version: u16,
        msg: &'a PeerMessage,
    }
    let env = EnvelopeRef {
        version: PEER_PROTOCOL_VERSION,
        msg,
    };
    // Serializing plain owned data into a Vec cannot fail.
    postcard::to_allocvec(&env).expect("peer message serializes")
}

/// Decodes a versioned envelope.
pub fn decode_peer(bytes: &[u8]) -> Result<PeerMessage, PeerProtocolError> {
    let env: Envelope = postcard::from_bytes(bytes).map_err(PeerProtocolError::Decode)?;
    if env.version != PEER_PROTOCOL_VERSION {
        return Err(PeerProtocolError::Version {
            got: env.version,
            expected: PEER_PROTOCOL_VERSION,
        });
    }
    Ok(env.msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip_and_version_check() {
        let m = PeerMessage::Ack { zxid: Zxid(42) };
        assert_eq!(decode_peer(&encode_peer(&m)), Ok(m));
        let bad = postcard::to_allocvec(&Envelope {
            version: 9,
            msg: PeerMessage::Ping,
        })
        .unwrap();
        assert!(matches!(
            decode_peer(&bad),
            Err(PeerProtocolError::Version { got: 9, .. })
        ));
        assert!(decode_peer(&[0xff, 0xff, 0xff]).is_err());
    }
}
