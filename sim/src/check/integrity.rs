//! Integrity: every committed transaction stems from a client request or is issued by the
//! leader for session / node lifecycle.
//!
//! Source: Zab paper §III (Integrity: a process delivers only what some primary broadcast);
//! issue 3 item 11(a) ("every committed transaction stems from a client request or a
//! leader-issued expiry").
//! Statement checked: every applied transaction whose body is not `CreateSession`,
//! `CloseSession` (request or expiry) or `DeleteExpired` carries a (session, cxid) pair that
//! some client actually sent as a request.

use std::collections::HashSet;

use arbor_core::txn::{Txn, TxnBody};
use arbor_core::types::{ServerId, SessionId};

use super::{fail, CheckResult};
use crate::fast_hash::FastBuild;

/// Requests sent by clients.
#[derive(Debug, Default)]
pub struct Integrity {
    /// Membership only (never iterated), so a hash set cannot make a run depend on its
    /// order; the hasher is fixed all the same.
    sent: HashSet<(SessionId, i32), FastBuild>,
}

impl Integrity {
    /// A client of `session` sent request `xid`.
    pub fn on_request(&mut self, session: SessionId, xid: i32) {
        self.sent.insert((session, xid));
    }

    /// `node` applied `txn`.
    pub fn on_apply(&self, node: ServerId, txn: &Txn) -> CheckResult {
        match *txn.body {
            TxnBody::CreateSession { .. }
            | TxnBody::CloseSession { .. }
            | TxnBody::DeleteExpired { .. } => Ok(()),
            _ => {
                let key = (txn.header.session, txn.header.cxid);
                if self.sent.contains(&key) {
                    Ok(())
                } else {
                    fail(
                        "integrity",
                        format!(
                            "{node} applied {} ({:?}) for session {} xid {}, which no client sent",
                            txn.header.zxid, txn.body, key.0, key.1
                        ),
                    )
                }
            }
        }
    }
}
