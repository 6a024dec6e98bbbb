//! Epoch sanity of durable state.
//!
//! Source: zab.md §1.1 "Epoch sanity" (acceptedEpoch ≥ currentEpoch ≥ epoch of the last
//! logged zxid; both epoch files monotonic across restarts), ZOOKEEPER-1653 / 2354.
//! Statement checked, after every fsync completes on a node: durable acceptedEpoch and
//! currentEpoch never decrease; durable currentEpoch ≤ durable acceptedEpoch; the epoch of
//! every durable log transaction ≤ durable acceptedEpoch.

use arbor_core::types::{Epoch, ServerId, Zxid};
use arbor_core::vec_map::VecMap;

use super::{fail, CheckResult};

/// Durable epochs per node.
#[derive(Debug, Default)]
pub struct EpochSanity {
    last: VecMap<ServerId, (Epoch, Epoch)>,
}

impl EpochSanity {
    /// `node`'s durable state after an fsync.
    pub fn on_durable(
        &mut self,
        node: ServerId,
        accepted: Epoch,
        current: Epoch,
        last_log: Option<Zxid>,
    ) -> CheckResult {
        let (pa, pc) = self.last.get(&node).copied().unwrap_or_default();
        if accepted < pa || current < pc {
            return fail(
                "epochs",
                format!(
                    "{node}: durable epochs went back from ({}, {}) to ({}, {})",
                    pa.0, pc.0, accepted.0, current.0
                ),
            );
        }
        if current > accepted {
            return fail(
                "epochs",
                format!(
                    "{node}: durable currentEpoch {} > acceptedEpoch {}",
                    current.0, accepted.0
                ),
            );
        }
        if let Some(z) = last_log {
            if z.epoch() > accepted {
                return fail(
                    "epochs",
                    format!(
                        "{node}: durable log holds {z} above acceptedEpoch {}",
                        accepted.0
                    ),
                );
            }
        }
        self.last.insert(node, (accepted, current));
        Ok(())
    }
}
