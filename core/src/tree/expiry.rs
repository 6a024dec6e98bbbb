//! Which containers and TTL nodes are due for deletion (3.8 `ContainerManager`).
//!
//! Input: the leader's wall-clock `now`. Output: due paths, sorted. The leader turns each
//! into a [`super::WriteOp::DeleteExpired`], whose prep re-checks the same condition.
//!
//! Conditions (`ContainerManager.getCandidates`):
//! - container: no children and a stored child counter > 0 (it has had a child), or —
//!   only when `container_never_used_ms` ≠ 0 — counter 0 and `now - mtime` greater than it;
//! - TTL node: no children and `now - mtime > ttl` (strictly greater).

use serde::{Deserialize, Serialize};

use crate::types::WallMillis;

use super::node::{NodeKind, StoredStat};
use super::{DataTree, TreeConfig};

/// Why a node is due. Alphabetical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ExpiryKind {
    /// An empty container.
    Container,
    /// A TTL node past its TTL.
    Ttl,
}

/// True if a node with this stored stat and child count is due at `now`.
pub(crate) fn is_due(
    stat: &StoredStat,
    num_children: i32,
    now: WallMillis,
    config: &TreeConfig,
) -> bool {
    if num_children != 0 {
        return false;
    }
    let elapsed = now.0.wrapping_sub(stat.mtime);
    match stat.kind() {
        NodeKind::Container => {
            stat.cversion > 0
                || (config.container_never_used_ms != 0 && elapsed > config.container_never_used_ms)
        }
        NodeKind::Ttl(ttl) => ttl != 0 && elapsed > ttl,
        NodeKind::Ephemeral(_) | NodeKind::Persistent => false,
    }
}

impl DataTree {
    /// Containers and TTL nodes due for deletion at `now`, sorted by path.
    pub fn due_for_expiry(&self, now: WallMillis) -> Vec<(String, ExpiryKind)> {
        let mut out = Vec::new();
        for (set, kind) in [
            (&self.containers, ExpiryKind::Container),
            (&self.ttls, ExpiryKind::Ttl),
        ] {
            for path in set {
                let id = self.resolve(path).expect("kind sets name live nodes");
                let n = self.arena.get(id);
                if is_due(&n.stored_stat(), n.num_children() as i32, now, &self.config) {
                    out.push((path.clone(), kind));
                }
            }
        }
        out.sort();
        out
    }
}
