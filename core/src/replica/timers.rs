//! The deadline table: one [`TimerKind`] enum, one deadline slot per kind.
//!
//! `next` is the minimum deadline; `take_expired` removes and returns every kind due at
//! `now` (in kind order), and the caller must re-arm or leave stopped each one it got —
//! `Replica::on_tick` asserts that no expired kind is still armed in the past. The slots
//! sit inline in the replica (four kinds): no tree walk or allocation on the per-step
//! deadline and invariant reads.

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

impl TimerKind {
    /// Every kind, in kind order (the slot order).
    const ALL: [TimerKind; 4] = [
        TimerKind::Election,
        TimerKind::ElectionFinalize,
        TimerKind::LeaderTick,
        TimerKind::FollowerTick,
    ];

    fn slot(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    at: [Option<Nanos>; 4],
}

impl Timers {
    pub(crate) fn next(&self) -> Option<Nanos> {
        self.at.iter().flatten().min().copied()
    }

    pub(crate) fn set(&mut self, kind: TimerKind, at: Nanos) {
        self.at[kind.slot()] = Some(at);
    }

    pub(crate) fn stop(&mut self, kind: TimerKind) {
        self.at[kind.slot()] = None;
    }

    pub(crate) fn clear(&mut self) {
        self.at = [None; 4];
    }

    pub(crate) fn is_armed(&self, kind: TimerKind) -> bool {
        self.at[kind.slot()].is_some()
    }

    /// Disarms and returns the kinds due at `now`, in kind order.
    pub(crate) fn take_expired(&mut self, now: Nanos) -> impl Iterator<Item = TimerKind> {
        let mut due = [None; 4];
        for (i, kind) in TimerKind::ALL.into_iter().enumerate() {
            if self.at[i].is_some_and(|at| at <= now) {
                self.at[i] = None;
                due[i] = Some(kind);
            }
        }
        due.into_iter().flatten()
    }

    pub(crate) fn deadline(&self, kind: TimerKind) -> Option<Nanos> {
        self.at[kind.slot()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_kind_order() {
        for (i, k) in TimerKind::ALL.into_iter().enumerate() {
            assert_eq!(k.slot(), i);
        }
        assert!(TimerKind::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn expired_kinds_come_out_in_kind_order_and_disarmed() {
        let mut t = Timers::default();
        t.set(TimerKind::FollowerTick, Nanos(5));
        t.set(TimerKind::Election, Nanos(7));
        t.set(TimerKind::LeaderTick, Nanos(20));
        assert_eq!(t.next(), Some(Nanos(5)));
        let due: Vec<_> = t.take_expired(Nanos(10)).collect();
        assert_eq!(due, vec![TimerKind::Election, TimerKind::FollowerTick]);
        assert!(!t.is_armed(TimerKind::Election) && !t.is_armed(TimerKind::FollowerTick));
        assert_eq!(t.next(), Some(Nanos(20)));
        assert_eq!(t.deadline(TimerKind::LeaderTick), Some(Nanos(20)));
        t.stop(TimerKind::LeaderTick);
        assert_eq!(t.next(), None);
    }
}
