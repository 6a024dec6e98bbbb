//! Agreement / total order / integrity of delivered transactions.
//!
//! Source: Zab paper §III (Integrity, Total order, Agreement); `PrefixConsistency` of
//! ZooKeeper's TLA+ specs.
//! Statements checked, over every transaction any replica ever applies (delivers):
//! 1. same zxid ⇒ same transaction (byte-equal `Txn`), across replicas and across time;
//! 2. no gaps: if a replica applies z right after p (its previous applied zxid, or the
//!    snapshot it installed), no other replica ever applied a zxid strictly between p and z,
//!    and every replica that applied a zxid after z applied z right before it or skipped it
//!    via a snapshot that covers it (we record the predecessor each zxid was first applied
//!    after; every later application must name the same predecessor).

use std::ops::Bound::{Excluded, Unbounded};

use arbor_core::txn::Txn;
use arbor_core::types::{ServerId, Zxid};

use super::{fail, CheckResult};
use crate::zxid_map::ZxidMap;

/// One committed (applied somewhere) transaction.
#[derive(Clone, Debug)]
pub struct Committed {
    /// The transaction.
    pub txn: Txn,
    /// The zxid applied right before it (0 for the first).
    pub prev: Zxid,
    /// The first server seen applying it.
    pub first: ServerId,
}

/// The global map zxid → transaction of everything ever applied.
#[derive(Debug, Default)]
pub struct Agreement {
    committed: ZxidMap<Committed>,
}

impl Agreement {
    /// `node` applied `txn` right after `prev`.
    pub fn on_apply(&mut self, node: ServerId, prev: Zxid, txn: &Txn) -> CheckResult {
        let z = txn.header.zxid;
        if let Some(c) = self.committed.get(&z) {
            if c.txn != *txn {
                return fail(
                    "agreement",
                    format!(
                        "zxid {z}: {node} applied {:?} but {} applied {:?}",
                        txn, c.first, c.txn
                    ),
                );
            }
            if c.prev != prev {
                // A replica that skipped over committed zxids (prev < c.prev) or that
                // applied something the first applier never saw (prev > c.prev).
                return fail(
                    "agreement",
                    format!(
                        "zxid {z}: {node} applied it after {prev}, {} after {}",
                        c.first, c.prev
                    ),
                );
            }
            return Ok(());
        }
        if let Some((gap, c)) = self.committed.first_above(prev).filter(|(g, _)| **g < z) {
            return fail(
                "agreement",
                format!(
                    "{node} applied {z} right after {prev}, skipping {gap} (applied by {})",
                    c.first
                ),
            );
        }
        if let Some((next, c)) = self.committed.first_above(z) {
            if c.prev < z {
                return fail(
                    "agreement",
                    format!(
                        "{node} applied {z}, which {} skipped (it applied {next} after {})",
                        c.first, c.prev
                    ),
                );
            }
        }
        self.committed.insert(
            z,
            Committed {
                txn: txn.clone(),
                prev,
                first: node,
            },
        );
        Ok(())
    }

    /// The committed transaction at `z`, if any replica applied it.
    pub fn get(&self, z: Zxid) -> Option<&Committed> {
        self.committed.get(&z)
    }

    /// Committed transactions above `z`.
    pub fn above(&self, z: Zxid) -> impl Iterator<Item = (&Zxid, &Committed)> {
        self.committed.range((Excluded(z), Unbounded))
    }

    /// How many distinct transactions were committed.
    pub fn len(&self) -> usize {
        self.committed.len()
    }

    /// Whether nothing was committed.
    pub fn is_empty(&self) -> bool {
        self.committed.is_empty()
    }
}
