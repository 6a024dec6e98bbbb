//! Zxids seen by a session never go backwards, also across reconnects.
//!
//! Source: ZooKeeper programmer's guide "Consistency Guarantees" (a client never sees an
//! older view after a newer one, incl. after reconnecting to another server, enforced by
//! lastZxidSeen in the handshake); TLA+ `MonotonicRead`.
//! Statement checked: the header zxid of each reply to a request a session receives
//! (pings, notifications and zxid ≤ 0 markers excluded) is ≥ every such header zxid that
//! session received before, whichever server answered. Ping replies are excluded because
//! the client does not take their zxid as seen (ZooKeeper's `ClientCnxn.readResponse`
//! returns on a ping before updating `lastZxid`), so a server that lags behind a ping
//! reply the client got may legitimately accept its reconnect (swarm seed 1555).

use std::collections::BTreeMap;

use arbor_core::types::{SessionId, Zxid};

use super::{fail, CheckResult};

/// Highest zxid seen per session.
#[derive(Debug, Default)]
pub struct MonotonicReads {
    seen: BTreeMap<SessionId, Zxid>,
}

impl MonotonicReads {
    /// `session` received a reply with header zxid `z` from `server`.
    pub fn on_reply(&mut self, session: SessionId, server: u64, xid: i32, z: Zxid) -> CheckResult {
        if z.0 <= 0 {
            return Ok(());
        }
        let seen = self.seen.entry(session).or_default();
        if z < *seen {
            return fail(
                "monotonic_reads",
                format!(
                    "session {session}: reply xid {xid} from server {server} at {z} after seeing {}",
                    *seen
                ),
            );
        }
        *seen = z;
        Ok(())
    }
}
