//! The deadline table: one [`TimerKind`] enum, one `BTreeMap` of deadlines.
//!
//! `next` is the minimum deadline; `take_expired` removes and returns every kind due at
//! `now` (in kind order), and the caller must re-arm or leave stopped each one it got —
//! `Replica::on_tick` asserts that no expired kind is still armed in the past.

use std::collections::BTreeMap;

use crate::types::Nanos;

/// Timer kinds, alphabetical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// Looking: re-broadcast our vote (notification retransmission).
    Election,
    /// Looking: a quorum agrees; wait this long for a better vote before deciding.
    ElectionFinalize,
    /// Leader: heartbeat, quorum check, session + container/TTL expiry sweep.
    LeaderTick,
    /// Follower: retransmit FOLLOWERINFO, check the leader is alive, send touches.
    FollowerTick,
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    at: BTreeMap<TimerKind, Nanos>,
}

impl Timers {
    pub(crate) fn next(&self) -> Option<Nanos> {
        self.at.values().min().copied()
    }

    pub(crate) fn set(&mut self, kind: TimerKind, at: Nanos) {
        self.at.insert(kind, at);
    }

    pub(crate) fn stop(&mut self, kind: TimerKind) {
        self.at.remove(&kind);
    }

    pub(crate) fn clear(&mut self) {
        self.at.clear();
    }

    pub(crate) fn is_armed(&self, kind: TimerKind) -> bool {
        self.at.contains_key(&kind)
    }

    pub(crate) fn take_expired(&mut self, now: Nanos) -> Vec<TimerKind> {
        let due: Vec<TimerKind> = self
            .at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in &due {
            self.at.remove(k);
        }
        due
    }

    pub(crate) fn deadline(&self, kind: TimerKind) -> Option<Nanos> {
        self.at.get(&kind).copied()
    }
}
