//! Sessions: timeout negotiation, passwords, and the leader's expiry tracker.
//!
//! Sessions themselves are replicated state (createSession / closeSession transactions put
//! them in the tree's session table). This module holds what is *not* replicated:
//! - [`negotiate_timeout_ms`]: ZooKeeper's clamp to `[min, max]` (reference §3.3 step 3);
//! - [`session_password`]: a deterministic keyed function of the session id and the
//!   ensemble secret, so any member can verify a reconnecting client (§3.3 step 5);
//! - `SessionTracker`: on the leader, each live session's expiry deadline, rounded up to
//!   the next tick (ZooKeeper's expiry buckets, §12), renewed by touches from local clients
//!   and from followers' heartbeat answers.
//!
//! Invariants: the tracker only holds sessions the committed tree knows (created on apply,
//! removed on apply of their close); a session is proposed for closing at most once.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::types::{Nanos, ServerId, SessionId};

/// Length of a session password.
pub const SESSION_PASSWORD_LEN: usize = 16;

/// ZooKeeper's timeout clamp.
pub fn negotiate_timeout_ms(requested: i32, min: i32, max: i32) -> i32 {
    requested.max(min).min(max)
}

/// The 16-byte password of `session` in an ensemble sharing `secret`.
pub fn session_password(session: SessionId, secret: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(secret ^ (session.0 as u64).rotate_left(17));
    let mut out = vec![0u8; SESSION_PASSWORD_LEN];
    rng.fill_bytes(&mut out);
    out
}

/// The first multiple of `tick_ns` at or after `t` (ZooKeeper's `roundToNextInterval`).
pub fn round_up_to_tick(t: Nanos, tick_ns: u64) -> Nanos {
    Nanos(t.0.div_ceil(tick_ns).saturating_mul(tick_ns))
}

#[derive(Debug, Default)]
pub(crate) struct SessionTracker {
    /// Deadline and timeout (ms) of each live session.
    live: BTreeMap<SessionId, (Nanos, i32)>,
    closing: BTreeSet<SessionId>,
    /// The server each session's client is attached through (ZooKeeper's session owner).
    owners: BTreeMap<SessionId, ServerId>,
}

fn deadline(now: Nanos, timeout_ms: i32, tick_ns: u64) -> Nanos {
    let ns = u64::try_from(timeout_ms)
        .unwrap_or(0)
        .saturating_mul(1_000_000);
    round_up_to_tick(now.add_ns(ns), tick_ns)
}

impl SessionTracker {
    /// Leader established: every committed session gets a full timeout from now.
    pub(crate) fn reset(&mut self, sessions: &[(SessionId, i32)], now: Nanos, tick_ns: u64) {
        self.live.clear();
        self.closing.clear();
        self.owners.clear();
        for (s, t) in sessions {
            self.live.insert(*s, (deadline(now, *t, tick_ns), *t));
        }
    }

    pub(crate) fn on_created(&mut self, s: SessionId, timeout_ms: i32, now: Nanos, tick_ns: u64) {
        self.live
            .insert(s, (deadline(now, timeout_ms, tick_ns), timeout_ms));
    }

    pub(crate) fn on_closed(&mut self, s: SessionId) {
        self.live.remove(&s);
        self.closing.remove(&s);
        self.owners.remove(&s);
    }

    pub(crate) fn touch(&mut self, s: SessionId, now: Nanos, tick_ns: u64) {
        if let Some((d, t)) = self.live.get_mut(&s) {
            *d = (*d).max(deadline(now, *t, tick_ns));
        }
    }

    /// Sessions past their deadline and not already being closed, in id order.
    pub(crate) fn expired(&self, now: Nanos) -> Vec<SessionId> {
        self.live
            .iter()
            .filter(|(s, (d, _))| *d <= now && !self.closing.contains(s))
            .map(|(s, _)| *s)
            .collect()
    }

    pub(crate) fn owner(&self, s: SessionId) -> Option<ServerId> {
        self.owners.get(&s).copied()
    }

    pub(crate) fn set_owner(&mut self, s: SessionId, server: ServerId) {
        self.owners.insert(s, server);
    }

    pub(crate) fn mark_closing(&mut self, s: SessionId) {
        self.closing.insert(s);
    }

    pub(crate) fn is_closing(&self, s: SessionId) -> bool {
        self.closing.contains(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_clamp_and_tick_rounding() {
        assert_eq!(negotiate_timeout_ms(1, 4000, 40000), 4000);
        assert_eq!(negotiate_timeout_ms(100_000, 4000, 40000), 40000);
        assert_eq!(negotiate_timeout_ms(5000, 4000, 40000), 5000);
        assert_eq!(round_up_to_tick(Nanos(1), 10), Nanos(10));
        assert_eq!(round_up_to_tick(Nanos(10), 10), Nanos(10));
    }

    #[test]
    fn passwords_are_keyed_and_deterministic() {
        let a = session_password(SessionId(5), 1);
        assert_eq!(a, session_password(SessionId(5), 1));
        assert_ne!(a, session_password(SessionId(6), 1));
        assert_ne!(a, session_password(SessionId(5), 2));
        assert_eq!(a.len(), SESSION_PASSWORD_LEN);
    }

    #[test]
    fn tracker_expires_once() {
        let mut t = SessionTracker::default();
        t.on_created(SessionId(1), 1000, Nanos(0), 1_000_000_000);
        assert!(t.expired(Nanos(999_999_999)).is_empty());
        assert_eq!(t.expired(Nanos(1_000_000_000)), vec![SessionId(1)]);
        t.mark_closing(SessionId(1));
        assert!(t.expired(Nanos(5_000_000_000)).is_empty());
        t.on_closed(SessionId(1));
        assert!(!t.is_closing(SessionId(1)));
    }
}
