//! Ephemeral nodes disappear with their session.
//!
//! Source: ZooKeeper programmer's guide "Ephemeral Nodes" (deleted when the session that
//! created them ends); zab.md §1.1 session layer (ZOOKEEPER-2355 class).
//! Statement checked: once a client learned that its session ended at zxid z — a
//! `closeSession` reply with `err == 0` at z, or a handshake answered `timeOut = 0` by a
//! server whose applied zxid was a, z being the later of a and the session's closeSession
//! txn (a leader rejects a closing session before that txn commits, as ZooKeeper does) —
//! every replica whose applied zxid is ≥ z holds no ephemeral node owned by that session.

use arbor_core::tree::DataTree;
use arbor_core::types::{ServerId, SessionId, Zxid};

use super::{fail, CheckResult};
use crate::zxid_map::ZxidMap;

/// Ended sessions by the zxid at which they were known ended.
#[derive(Debug, Default)]
pub struct Ephemerals {
    ended: ZxidMap<Vec<SessionId>>,
}

impl Ephemerals {
    /// A client learned that `session` ended, by zxid `z`.
    pub fn on_session_ended(&mut self, session: SessionId, z: Zxid) {
        self.ended.get_or_insert_with(z, Vec::new).push(session);
    }

    /// `node` applied through `applied` (sessions ended in `(from, applied]` are checked;
    /// pass `from = 0` after a restart).
    pub fn check(&self, node: ServerId, from: Zxid, applied: Zxid, tree: &DataTree) -> CheckResult {
        if applied <= from {
            return Ok(());
        }
        for (z, sessions) in self.ended.range(from..=applied) {
            for s in sessions {
                let left = tree.get_ephemerals(*s, "/");
                if !left.is_empty() {
                    return fail(
                        "ephemerals",
                        format!(
                            "{node} at {applied} still holds ephemerals {left:?} of session {s} ended by {z}"
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}
