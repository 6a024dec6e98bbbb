//! `check_invariants` (cheap, O(1)) and `check_invariants_full` (O(n)): the tree's own
//! consistency, asserted. A failure is a bug in this module, never bad input. Compiled under
//! `cfg(any(test, debug_assertions, feature = "invariants"))` (see `mod.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::node::{NodeKind, NONE, ROOT};
use super::path::{CONFIG_PATH, QUOTA_PATH, ZOOKEEPER_PATH};
use super::DataTree;

impl DataTree {
    /// Cheap invariants, plus the full O(n) check under `debug_assertions` when the tree is
    /// small (so debug-build tests check everything without making big trees quadratic).
    pub fn check_invariants(&self) {
        assert!(self.node_count >= 4, "built-in nodes missing");
        assert_eq!(self.index.len() + 1, self.node_count, "child index size");
        assert_eq!(
            self.arena.slots() - self.arena.free_slots(),
            self.node_count,
            "arena live count"
        );
        assert_eq!(self.arena.get(ROOT).parent, NONE, "root has no parent");
        if cfg!(debug_assertions) && self.node_count <= 4096 {
            self.check_invariants_full();
        }
    }

    /// Every invariant, O(n): links, indexes, kind sets, ACL refcounts, digest.
    pub fn check_invariants_full(&self) {
        self.arena.check_invariants();
        for p in ["/", ZOOKEEPER_PATH, QUOTA_PATH, CONFIG_PATH] {
            assert!(self.resolve(p).is_some(), "{p} missing");
        }
        let mut ephemerals: BTreeMap<_, BTreeSet<String>> = BTreeMap::new();
        let mut containers = BTreeSet::new();
        let mut ttls = BTreeSet::new();
        let mut acl_refs: BTreeMap<u32, u32> = BTreeMap::new();
        let mut seen = 0usize;
        let mut digest = 0u64;
        self.walk(|path, id| {
            seen += 1;
            let n = self.arena.get(id);
            assert!(!n.is_vacant(), "walk reached a vacant slot");
            for &c in n.child_ids() {
                assert_eq!(self.arena.get(c).parent, id, "child's parent link");
            }
            for w in n.child_ids().windows(2) {
                assert!(
                    self.arena.get(w[0]).name_bytes() < self.arena.get(w[1]).name_bytes(),
                    "child list of {path} not strictly sorted by name"
                );
            }
            if let Some(kids) = &n.children {
                assert!(!kids.is_empty(), "empty child list must be None");
            }
            if id != ROOT {
                assert_eq!(self.resolve(path), Some(id), "path resolves to the node");
            }
            match n.kind() {
                NodeKind::Container => {
                    containers.insert(path.to_string());
                }
                NodeKind::Ttl(_) => {
                    ttls.insert(path.to_string());
                }
                NodeKind::Ephemeral(s) => {
                    assert_eq!(n.num_children(), 0, "ephemeral {path} has children");
                    ephemerals.entry(s).or_default().insert(path.to_string());
                }
                NodeKind::Persistent => {}
            }
            *acl_refs.entry(n.acl).or_default() += 1;
            digest = digest.wrapping_add(self.node_digest(path, id));
        });
        assert_eq!(seen, self.node_count, "reachable nodes");
        assert_eq!(ephemerals, self.ephemerals, "ephemeral index");
        assert_eq!(containers, self.containers, "container set");
        assert_eq!(ttls, self.ttls, "TTL set");
        let table: BTreeMap<u32, u32> = self.acls.live_refs().into_iter().collect();
        assert_eq!(acl_refs, table, "ACL reference counts");
        assert_eq!(self.acls.live(), table.len(), "ACL lookup map size");
        assert_eq!(digest, self.digest, "digest differs from recomputation");
    }
}
