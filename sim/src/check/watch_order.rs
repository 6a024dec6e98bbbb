//! Watch events precede the replies that reflect them, and arrive in zxid order.
//!
//! Source: ZooKeeper programmer's guide "ZooKeeper Watches" (a client sees a watch event
//! for a znode before it sees the new data; events are ordered with respect to other events
//! and replies); zab.md §1.1 session layer (watch events in zxid order).
//! Statement checked, per connection: a notification for the transaction at zxid z never
//! arrives after a reply whose header zxid is ≥ z (that reply already reflects z), and
//! notification zxids are non-decreasing.

use std::collections::BTreeMap;

use arbor_core::types::Zxid;

use super::{fail, CheckResult};

/// Per-connection reply / notification high-water marks.
#[derive(Debug, Default)]
pub struct WatchOrder {
    replies: BTreeMap<u64, Zxid>,
    events: BTreeMap<u64, Zxid>,
}

impl WatchOrder {
    /// A reply with header zxid `z` arrived on `conn`.
    pub fn on_reply(&mut self, conn: u64, z: Zxid) {
        let r = self.replies.entry(conn).or_default();
        *r = (*r).max(z);
    }

    /// A notification for the txn at `z` arrived on `conn`.
    pub fn on_notify(&mut self, conn: u64, z: Zxid) -> CheckResult {
        if z.0 <= 0 {
            return Ok(());
        }
        if let Some(r) = self.replies.get(&conn) {
            if z <= *r {
                return fail(
                    "watch_order",
                    format!(
                        "conn {conn}: event for {z} after a reply at {} reflecting it",
                        *r
                    ),
                );
            }
        }
        let e = self.events.entry(conn).or_default();
        if z < *e {
            return fail(
                "watch_order",
                format!("conn {conn}: event for {z} after an event for {}", *e),
            );
        }
        *e = z;
        Ok(())
    }

    /// Forgets a closed connection.
    pub fn on_closed(&mut self, conn: u64) {
        self.replies.remove(&conn);
        self.events.remove(&conn);
    }
}
