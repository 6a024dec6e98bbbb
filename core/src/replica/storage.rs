//! Durable-before-visible bookkeeping: persist tokens, the per-step record batch (group
//! commit), and the actions parked on a token ([`Deferred`]).
//!
//! Every log record produced during one `handle` step is collected in `batch` and leaves as
//! one `Persist` at the end of the step (or earlier, when a `TruncateLog` /
//! `InstallSnapshot` must follow it in order). An action that must wait for durability is
//! parked on the token of the last token-bearing output issued before it; `Persisted` is
//! cumulative, so releasing every token up to the reported one runs actions in order.
//!
//! Invariants: `durable <= issued`; parked tokens are all in `(durable, issued]` and in
//! issue order (an action is parked on the newest token, so the queue is sorted by
//! construction); the batch is empty between steps.

use std::collections::VecDeque;

use crate::replica::io::LogRecord;
use crate::types::{PersistToken, ServerId, Zxid};

/// An action released when a write is durable. `gen` is the role generation it belongs
/// to: actions of a role the replica has left are dropped, never run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Deferred {
    /// Follower: ACK (a PROPOSAL or NEWLEADER) up to `zxid`.
    Ack { gen: u64, to: ServerId, zxid: Zxid },
    /// Follower: ACKEPOCH once `acceptedEpoch` is durable.
    AckEpoch { gen: u64, to: ServerId, fresh: bool },
    /// Leader: its own acceptedEpoch is durable.
    LeaderAcceptedEpoch { gen: u64 },
    /// Leader: its own history + currentEpoch are durable (its NEWLEADER ack).
    LeaderCurrentEpoch { gen: u64 },
    /// Follower: a sync replaced our damaged history and its `Damaged(None)` marker is
    /// durable; stop abstaining from votes and quorums.
    Repaired { gen: u64, bound: Zxid },
    /// Leader: its own log is durable up to `zxid` (its own PROPOSAL ack).
    SelfAck { gen: u64, zxid: Zxid },
}

impl Deferred {
    pub(crate) fn gen(&self) -> u64 {
        match self {
            Deferred::Ack { gen, .. }
            | Deferred::AckEpoch { gen, .. }
            | Deferred::LeaderAcceptedEpoch { gen }
            | Deferred::LeaderCurrentEpoch { gen }
            | Deferred::Repaired { gen, .. }
            | Deferred::SelfAck { gen, .. } => *gen,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Storage {
    issued: u64,
    durable: u64,
    pub(crate) batch: Vec<LogRecord>,
    batch_deferred: Vec<Deferred>,
    /// Actions waiting for their token, oldest token first.
    parked: VecDeque<(u64, Deferred)>,
}

impl Storage {
    /// A fresh token for a token-bearing output.
    pub(crate) fn issue(&mut self) -> PersistToken {
        self.issued += 1;
        PersistToken(self.issued)
    }

    /// Takes the batch for a `Persist`, parking its actions on `token`.
    pub(crate) fn take_batch(&mut self) -> Option<Vec<LogRecord>> {
        if self.batch.is_empty() {
            assert!(self.batch_deferred.is_empty(), "deferred without records");
            return None;
        }
        Some(std::mem::take(&mut self.batch))
    }

    pub(crate) fn park_batch_on(&mut self, token: PersistToken) {
        for d in self.batch_deferred.drain(..) {
            park(&mut self.parked, token.0, d);
        }
    }

    /// Parks `d` behind everything written so far; returns it if nothing is pending.
    pub(crate) fn defer(&mut self, d: Deferred) -> Option<Deferred> {
        if !self.batch.is_empty() {
            self.batch_deferred.push(d);
            None
        } else if self.issued > self.durable {
            park(&mut self.parked, self.issued, d);
            None
        } else {
            Some(d)
        }
    }

    /// `Persisted { token }`: marks everything up to `token` durable; `false` for a stale
    /// or unknown token. The released actions are then taken in order with
    /// [`Storage::pop_released`].
    pub(crate) fn persisted(&mut self, token: PersistToken) -> bool {
        if token.0 <= self.durable || token.0 > self.issued {
            return false;
        }
        self.durable = token.0;
        true
    }

    /// The oldest parked action whose token is durable. Actions parked while the released
    /// ones run wait on a newer token (everything issued is above `durable` or nothing is
    /// pending and they run at once), so they are not taken early.
    pub(crate) fn pop_released(&mut self) -> Option<Deferred> {
        if self.parked.front()?.0 <= self.durable {
            self.parked.pop_front().map(|(_, d)| d)
        } else {
            None
        }
    }

    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub(crate) fn check_invariants(&self) {
        assert!(self.durable <= self.issued, "durable beyond issued");
        assert!(self.batch.is_empty(), "batch left unflushed after a step");
        // The queue is only pushed at the back by `park` (which asserts token order) and
        // popped at the front, so it is sorted by construction: its ends bound every token.
        assert!(
            self.parked.front().is_none_or(|(t, _)| *t > self.durable)
                && self.parked.back().is_none_or(|(t, _)| *t <= self.issued),
            "parked action on a released or unissued token"
        );
    }
}

/// Parks `d` on `token`, which is never older than the newest parked one (actions are
/// parked on the newest token issued), so the queue stays in token order.
fn park(parked: &mut VecDeque<(u64, Deferred)>, token: u64, d: Deferred) {
    assert!(
        parked.back().is_none_or(|(t, _)| *t <= token),
        "parking on token {token} behind a newer one"
    );
    parked.push_back((token, d));
}
