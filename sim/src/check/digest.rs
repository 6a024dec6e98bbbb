//! Replica state agreement at equal zxids.
//!
//! Source: Zab paper §III (delivering the same prefix yields the same state); ZooKeeper's
//! `ProcessConsistency` (TLA+) and its digest check (ZOOKEEPER-3114 `digest.enabled`).
//! Statement checked: any two replicas whose applied zxid is z (observed after an event)
//! have the same tree digest (`DataTree::digest`), across replicas, incarnations and time.

use arbor_core::types::{ServerId, Zxid};

use super::{fail, CheckResult};
use crate::zxid_map::ZxidMap;

/// First digest observed per zxid.
#[derive(Debug, Default)]
pub struct Digests {
    at: ZxidMap<(u64, ServerId)>,
}

impl Digests {
    /// `node` has applied exactly through `z` and its tree digest is `digest`.
    pub fn observe(&mut self, node: ServerId, z: Zxid, digest: u64) -> CheckResult {
        let &mut (d, first) = self.at.get_or_insert_with(z, || (digest, node));
        if d != digest {
            return fail(
                "digest",
                format!("at {z}: {node} has digest {digest:#x}, {first} had {d:#x}"),
            );
        }
        Ok(())
    }
}
