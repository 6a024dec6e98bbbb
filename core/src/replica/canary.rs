//! [`Canary`]: deliberately wrong variants of the core, each reproducing the mechanism of a
//! real ZooKeeper bug or a classic consensus mistake.
//!
//! They exist to prove that the simulator finds such bugs: `arbor sim --mutation NAME`
//! selects one, and `sim/tests/canaries.rs` checks in CI that every canary is caught within
//! a fixed seed budget while the correct core passes the same seeds. Only the simulator
//! sets [`Config::canary`](crate::replica::Config::canary); the real server never does, and
//! with `None` every canary site is a single untaken branch.

/// One deliberately wrong variant of the core. Alphabetical.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Canary {
    /// A follower ACKs a PROPOSAL as soon as it logs it, before the record is durable
    /// (the durable-before-ack rule of Zab; zab.md §2).
    AckBeforePersist,
    /// The leader commits a proposal once it is durable on the leader alone, without a
    /// quorum of ACKs (a classic consensus mistake).
    CommitWithoutQuorum,
    /// A follower writes `currentEpoch` in its own fsync batch *before* the synced history
    /// (ZOOKEEPER-4643): a crash in between leaves a new epoch over a short log, and the
    /// node's vote then outranks replicas that hold committed entries.
    CurrentEpochBeforeSync,
    /// A follower that applies a session's close while lagging keeps the session's
    /// ephemerals (ZOOKEEPER-2355: ephemeral nodes never deleted on one replica).
    FollowerKeepsEphemerals,
    /// A replica entering an election applies its logged but uncommitted tail to its
    /// in-memory tree and keeps it (ZOOKEEPER-2845: uncommitted state survives
    /// re-election).
    KeepUncommittedAcrossElection,
    /// A follower ACKs NEWLEADER as soon as it is received, before the DIFF / TRUNC / SNAP
    /// it synced is durable (ZOOKEEPER-3911 / -4646).
    NewLeaderAckBeforeSync,
    /// A follower applies TRUNC to its in-memory log but not to its disk, so a restart
    /// resurrects the discarded uncommitted tail (TRUNC skipped on disk).
    TruncSkippedOnDisk,
    /// Watch notifications are emitted after the replies released by the same transaction,
    /// so a client can see new data before the event announcing the change.
    WatchAfterReply,
}

impl Canary {
    /// Every canary, in declaration order.
    pub const ALL: [Canary; 8] = [
        Canary::AckBeforePersist,
        Canary::CommitWithoutQuorum,
        Canary::CurrentEpochBeforeSync,
        Canary::FollowerKeepsEphemerals,
        Canary::KeepUncommittedAcrossElection,
        Canary::NewLeaderAckBeforeSync,
        Canary::TruncSkippedOnDisk,
        Canary::WatchAfterReply,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Canary::AckBeforePersist => "ack-before-persist",
            Canary::CommitWithoutQuorum => "commit-without-quorum",
            Canary::CurrentEpochBeforeSync => "current-epoch-before-sync",
            Canary::FollowerKeepsEphemerals => "follower-keeps-ephemerals",
            Canary::KeepUncommittedAcrossElection => "keep-uncommitted-across-election",
            Canary::NewLeaderAckBeforeSync => "newleader-ack-before-sync",
            Canary::TruncSkippedOnDisk => "trunc-skipped-on-disk",
            Canary::WatchAfterReply => "watch-after-reply",
        }
    }

    /// The canary named `name` (see [`Canary::name`]).
    pub fn from_name(name: &str) -> Option<Canary> {
        Canary::ALL.into_iter().find(|c| c.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        let mut names: Vec<&str> = Canary::ALL.iter().map(|c| c.name()).collect();
        for c in Canary::ALL {
            assert_eq!(Canary::from_name(c.name()), Some(c));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Canary::ALL.len());
        assert_eq!(Canary::from_name("no-such-canary"), None);
    }
}
