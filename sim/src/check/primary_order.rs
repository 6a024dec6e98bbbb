//! Primary order, per replica.
//!
//! Source: Zab paper §III (Local and Global primary order); `CommittedLogMonotonicity` of
//! ZooKeeper's TLA+ system spec.
//! Statement checked: within one incarnation of a replica, the zxids it applies are strictly
//! increasing (hence epochs of delivered transactions are non-decreasing), and a snapshot it
//! installs never moves its applied zxid backwards. A restart starts a new incarnation at
//! the recovered snapshot's zxid.

use arbor_core::types::{ServerId, Zxid};
use arbor_core::vec_map::VecMap;

use super::{fail, CheckResult};

/// Last applied zxid per replica.
#[derive(Debug, Default)]
pub struct PrimaryOrder {
    last: VecMap<ServerId, Zxid>,
}

impl PrimaryOrder {
    /// `node` (re)started with its tree at `applied`.
    pub fn on_restart(&mut self, node: ServerId, applied: Zxid) {
        self.last.insert(node, applied);
    }

    /// `node` applied `z`.
    pub fn on_apply(&mut self, node: ServerId, z: Zxid) -> CheckResult {
        let last = self.last.get_or_default(node);
        if z <= *last {
            return fail(
                "primary_order",
                format!("{node} applied {z} after {}", *last),
            );
        }
        *last = z;
        Ok(())
    }

    /// `node` installed a snapshot at `z`.
    pub fn on_install(&mut self, node: ServerId, z: Zxid) -> CheckResult {
        let last = self.last.get_or_default(node);
        if z < *last {
            return fail(
                "primary_order",
                format!(
                    "{node} installed a snapshot at {z} below its applied {}",
                    *last
                ),
            );
        }
        *last = z;
        Ok(())
    }
}
