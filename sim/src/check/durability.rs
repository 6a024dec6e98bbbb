//! Durability of committed and acknowledged writes, across leader changes and restarts.
//!
//! Source: Zab paper §III (a committed transaction is never lost); ZooKeeper programmer's
//! guide "Consistency Guarantees" (Reliability: once an update is applied it persists);
//! `LeaderLogCompleteness` of ZooKeeper's TLA+ mixed spec (ZOOKEEPER-3911, -4643, -4646).
//! Statements checked:
//! 1. a write acknowledged to a client (reply `err == 0`, header zxid z) was committed:
//!    some replica applied a transaction at z issued by that session with that xid;
//! 2. every newly established leader's history (tree + log) contains every transaction
//!    any replica has applied above the leader's own applied zxid, byte-equal;
//! 3. no replica ever truncates a committed transaction from its log;
//! 4. a replica never applies past an acknowledged z without applying z (with the gap
//!    check of `agreement`, this holds across crash and restart too).

use std::ops::Bound::Included;

use arbor_core::txn::Txn;
use arbor_core::types::{ServerId, SessionId, Zxid};

use super::agreement::Agreement;
use super::{fail, CheckResult};
use crate::zxid_map::ZxidMap;

/// Acknowledged writes.
#[derive(Debug, Default)]
pub struct Durability {
    acked: ZxidMap<(SessionId, i32)>,
}

impl Durability {
    /// A client of `session` got `err == 0` for write `xid` at `z`.
    pub fn on_ack(
        &mut self,
        agreement: &Agreement,
        session: SessionId,
        xid: i32,
        z: Zxid,
    ) -> CheckResult {
        let Some(c) = agreement.get(z) else {
            return fail(
                "durability",
                format!("write xid {xid} of session {session} acknowledged at {z}, never applied anywhere"),
            );
        };
        if c.txn.header.session != session || c.txn.header.cxid != xid {
            return fail(
                "durability",
                format!(
                    "write xid {xid} of session {session} acknowledged at {z}, but {z} is xid {} of session {}",
                    c.txn.header.cxid, c.txn.header.session
                ),
            );
        }
        self.acked.insert(z, (session, xid));
        Ok(())
    }

    /// `node` became an established leader with its tree at `applied` and `log` above it.
    pub fn on_leader_established(
        &self,
        agreement: &Agreement,
        node: ServerId,
        applied: Zxid,
        log: &ZxidMap<Txn>,
    ) -> CheckResult {
        for (z, c) in agreement.above(applied) {
            match log.get(z) {
                Some(t) if *t == c.txn => {}
                Some(t) => {
                    return fail(
                        "durability",
                        format!("new leader {node} holds {t:?} at committed {z} (committed: {:?})", c.txn),
                    )
                }
                None => {
                    return fail(
                        "durability",
                        format!(
                            "new leader {node} (applied {applied}) lacks committed {z} (first applied by {})",
                            c.first
                        ),
                    )
                }
            }
        }
        Ok(())
    }

    /// `node` truncates `removed` (its log above the bound).
    pub fn on_truncate<'a>(
        &self,
        agreement: &Agreement,
        node: ServerId,
        removed: impl Iterator<Item = &'a Txn>,
    ) -> CheckResult {
        for t in removed {
            if let Some(c) = agreement.get(t.header.zxid) {
                if c.txn == *t {
                    return fail(
                        "durability",
                        format!("{node} truncated committed {} from its log", t.header.zxid),
                    );
                }
            }
        }
        Ok(())
    }

    /// `node` applied `z` right after `prev`.
    pub fn on_apply(&self, node: ServerId, prev: Zxid, z: Zxid) -> CheckResult {
        if let Some((a, (s, x))) = self.acked.first_above(prev).filter(|(a, _)| **a < z) {
            return fail(
                "durability",
                format!("{node} applied {z} after {prev}, skipping acknowledged {a} (session {s} xid {x})"),
            );
        }
        Ok(())
    }

    /// Acknowledged writes up to `z`.
    pub fn acked_through(&self, z: Zxid) -> usize {
        self.acked.range((Included(Zxid(0)), Included(z))).count()
    }

    /// Number of acknowledged writes.
    pub fn len(&self) -> usize {
        self.acked.len()
    }

    /// Whether none was acknowledged.
    pub fn is_empty(&self) -> bool {
        self.acked.is_empty()
    }
}
