//! Per-session FIFO replies.
//!
//! Source: ZooKeeper programmer's guide "Consistency Guarantees" / "Ordering" (a client's
//! requests are answered in the order it sent them), ARCHITECTURE "per-session FIFO".
//! Statement checked: on one connection, every reply (pings and notifications aside)
//! answers the oldest outstanding request (xid equal to the first unanswered one), and no
//! reply arrives when nothing is outstanding.

use super::{fail, CheckResult};

/// Checks one reply against the oldest outstanding xid of the connection.
pub fn check_reply(client: usize, expected: Option<i32>, got: i32) -> CheckResult {
    match expected {
        Some(x) if x == got => Ok(()),
        Some(x) => fail(
            "session_fifo",
            format!("client {client}: reply for xid {got} while xid {x} is the oldest outstanding"),
        ),
        None => fail(
            "session_fifo",
            format!("client {client}: reply for xid {got} with nothing outstanding"),
        ),
    }
}
