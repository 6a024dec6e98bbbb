//! Zab: election (`election`), the leader's discovery / synchronization / broadcast
//! (`leader`), the follower's side (`follower`), the replicated history (`history`) and the
//! peer protocol ([`message`]).
//!
//! A replica is in exactly one `Role` (looking, following, leading). Every role change goes through
//! `Replica::leave_role`, which bumps the role generation (parked durable-before-visible
//! actions of the old role are dropped), stops the old role's timers and disconnects its
//! clients.

pub(crate) mod election;
pub(crate) mod follower;
pub(crate) mod history;
pub(crate) mod leader;
pub mod message;

pub(crate) use election::Election;
pub(crate) use follower::Follower;
pub(crate) use history::History;
pub(crate) use leader::Leader;
pub use message::{
    decode_peer, encode_peer, Origin, PeerMessage, PeerProtocolError, PeerState, Vote,
    PEER_PROTOCOL_VERSION,
};

/// The role a replica plays.
#[derive(Debug)]
pub(crate) enum Role {
    Following(Follower),
    Leading(Leader),
    Looking(Election),
}
