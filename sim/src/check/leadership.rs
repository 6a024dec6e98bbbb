//! Leadership: at most one established leader per epoch.
//!
//! Source: Zab paper (Junqueira, Reed, Serafini, DSN 2011) §III — each epoch has a single
//! primary; `Leadership` invariant of ZooKeeper's TLA+ system spec.
//! Statement checked: if servers p and q are each ever observed as an *established* leader
//! (`Replica::serving_leader() == Some((self, e))`) for the same epoch e, then p == q.

use std::collections::BTreeMap;

use arbor_core::types::{Epoch, ServerId};

use super::{fail, CheckResult};

/// Leaders seen per epoch.
#[derive(Debug, Default)]
pub struct Leadership {
    leaders: BTreeMap<Epoch, ServerId>,
}

impl Leadership {
    /// `node` reports `serving_leader`.
    pub fn observe(&mut self, node: ServerId, serving: Option<(ServerId, Epoch)>) -> CheckResult {
        let Some((leader, epoch)) = serving else {
            return Ok(());
        };
        if leader != node {
            return Ok(());
        }
        match self.leaders.insert(epoch, node) {
            Some(prev) if prev != node => fail(
                "leadership",
                format!(
                    "two established leaders in epoch {}: {prev} and {node}",
                    epoch.0
                ),
            ),
            _ => Ok(()),
        }
    }

    /// Number of epochs that had an established leader.
    pub fn epochs(&self) -> usize {
        self.leaders.len()
    }
}
