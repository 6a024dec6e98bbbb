//! The znode tree with ZooKeeper 3.8's semantics.
//!
//! Role: holds every znode (path, data, stored stat, ACL), the ephemeral index by session,
//! the container and TTL sets, the session table, and an incrementally maintained digest.
//!
//! Inputs:
//! - writes, in two steps as ZooKeeper does them: [`prep`] validates a [`WriteOp`] against
//!   a [`NodeLookup`] (the tree, optionally layered with in-flight [`PendingChanges`]) and
//!   decides everything, producing a [`crate::txn::Txn`] (failed writes become error
//!   txns); then [`crate::txn::apply`] applies the txn, a pure function of (tree, txn);
//! - reads ([`DataTree::get_data`], [`DataTree::exists`], [`DataTree::get_children`], ...),
//!   answered from the current state with ACL checks;
//! - [`DataTree::due_for_expiry`]: which containers / TTL nodes the leader should delete.
//!
//! Outputs: stats, data, children (sorted), error codes, txns and apply outcomes.
//!
//! Invariants (checked by [`DataTree::check_invariants`] / `check_invariants_full`):
//! - parent / child links and the child index agree; child lists are sorted by name;
//! - the ephemeral index, container set and TTL set match the nodes' kinds;
//! - ACL table reference counts equal the number of nodes using each entry;
//! - the digest equals its recomputation;
//! - `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config` always exist.
//!
//! 3.8 facts this module follows (looked up in the 3.8.0 sources and the wire vectors):
//! - Only delete / deleteContainer refuse the special paths (`/`, `/zookeeper`,
//!   `/zookeeper/quota`, `/zookeeper/config`) with BadArguments; creates under `/zookeeper`
//!   and setData on `/zookeeper` are allowed, `/zookeeper/config` is protected by its
//!   `world:anyone:READ` ACL (aversion -1, empty data).
//! - exists needs no permission in 3.8 (`exists_noauth`); getACL needs READ or ADMIN and
//!   masks digest hashes as `user:x` without ADMIN.

mod acl;
mod cow;
mod digest;
mod expiry;
mod index;
#[cfg(any(test, debug_assertions, feature = "invariants"))]
mod invariants;
mod mutate;
mod node;
mod path;
mod prep;
mod read;
mod snapshot;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::types::{Acl, SessionId, Zxid};

pub use acl::{
    check_acl, digest_auth, digest_id, fixup_acl, ip_matches, is_valid_digest_id, is_valid_ip_id,
    mask_digest_ids,
};
pub use expiry::ExpiryKind;
pub use mutate::Misfit;
pub use node::{NodeKind, StoredStat};
pub use path::{
    is_special_path, parent_for_events, sequential_path, split_parent, validate_path, CONFIG_PATH,
    QUOTA_PATH, ROOT_PATH, ZOOKEEPER_PATH,
};
pub use prep::{
    prep, CreateOp, NodeLookup, NodeView, PendingChanges, PrepContext, PrepRejected, WriteOp,
};
pub use read::{ReadOp, ReadResult};
pub use snapshot::{SnapshotError, TreeSnapshot};

use acl::AclTable;
use index::PathIndex;
use node::{node_at, Arena, Node, NodeSlots, NONE, ROOT};

/// Tree configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConfig {
    /// `zookeeper.extendedTypesEnabled`: TTL creates are Unimplemented when false.
    pub extended_types_enabled: bool,
    /// Largest data accepted in a create / setData (`jute.maxbuffer`, 1,048,575). Larger
    /// requests are refused at prep with [`PrepRejected::DataTooLarge`]: in 3.8 such a
    /// request never reaches the tree (its frame exceeds `jute.maxbuffer` and the server
    /// closes the connection), so no txn and no error code exist for it.
    pub data_len_max: usize,
    /// `znode.container.maxNeverUsedIntervalMs`: a container that never had a child is
    /// due once unmodified for longer than this; 0 disables (the default).
    pub container_never_used_ms: i64,
}

impl Default for TreeConfig {
    fn default() -> Self {
        TreeConfig {
            extended_types_enabled: false,
            data_len_max: 1_048_575,
            container_never_used_ms: 0,
        }
    }
}

/// The znode tree.
#[derive(Debug)]
pub struct DataTree {
    config: TreeConfig,
    arena: Arena,
    index: PathIndex,
    acls: AclTable,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    /// Shared with snapshots taken while the map is unchanged (copied on the next write).
    sessions: Arc<BTreeMap<SessionId, i32>>,
    digest: u64,
    node_count: usize,
    last_zxid: Zxid,
}

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota`, `/zookeeper/config`, as 3.8's
    /// `DataTree` constructor builds them (all zxids and times 0; the special children are
    /// attached without bumping the child counters, so `/` reports cversion -1 and
    /// `/zookeeper` -2; the config node has ACL `world:anyone:READ` and aversion -1).
    pub fn new(config: TreeConfig) -> DataTree {
        let mut tree = DataTree::bare(config);
        let open = tree.acls.intern(&Acl::open_unsafe());
        tree.attach_root(Node::new("", Some(b""), &StoredStat::default(), open));
        let zk = tree.attach_raw(
            ROOT,
            ZOOKEEPER_PATH,
            "zookeeper",
            Some(b""),
            &StoredStat::default(),
            &Acl::open_unsafe(),
        );
        tree.attach_raw(
            zk,
            QUOTA_PATH,
            "quota",
            Some(b""),
            &StoredStat::default(),
            &Acl::open_unsafe(),
        );
        let config_stat = StoredStat {
            aversion: -1,
            ..StoredStat::default()
        };
        tree.attach_raw(
            zk,
            CONFIG_PATH,
            "config",
            Some(b""),
            &config_stat,
            &Acl::read_unsafe(),
        );
        tree
    }

    /// A tree with no nodes at all (snapshot loading builds on it).
    fn bare(config: TreeConfig) -> DataTree {
        DataTree {
            config,
            arena: Arena::default(),
            index: PathIndex::default(),
            acls: AclTable::default(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            sessions: Arc::default(),
            digest: 0,
            node_count: 0,
            last_zxid: Zxid::ZERO,
        }
    }

    fn attach_root(&mut self, root: Node) {
        assert_eq!(self.arena.slots(), 0, "root must be the first node");
        let id = self.arena.alloc(root);
        assert_eq!(id, ROOT);
        self.node_count = 1;
        self.digest = self.digest.wrapping_add(self.node_digest(ROOT_PATH, ROOT));
    }

    /// The configuration.
    pub fn config(&self) -> &TreeConfig {
        &self.config
    }

    /// The digest of the whole tree (O(1)).
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Number of znodes, including `/` and the `/zookeeper` subtree.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Approximate heap bytes held by the nodes, the arena and the child index (the
    /// per-node memory budget is ~200 bytes; ACL lists and the kind indexes are small and
    /// not counted).
    pub fn heap_bytes_estimate(&self) -> usize {
        self.arena.heap_bytes_estimate() + self.index.heap_bytes_estimate()
    }

    /// zxid of the last applied txn.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// The live sessions and their timeouts (ms), as created / closed by txns.
    pub fn sessions(&self) -> &BTreeMap<SessionId, i32> {
        &self.sessions
    }

    /// Resolves a path to a node id. As 3.8's node map, `""` is an alias of the root; any
    /// non-canonical spelling (`/a/`, `//a`) resolves to nothing.
    pub(crate) fn resolve(&self, path: &str) -> Option<u32> {
        if path.is_empty() || path == ROOT_PATH {
            return Some(ROOT);
        }
        self.index.find(&self.arena, path)
    }

    /// The digest contribution of node `id` at `path`.
    fn node_digest(&self, path: &str, id: u32) -> u64 {
        let n = self.arena.get(id);
        digest::content_hash(path, n.data()).wrapping_add(digest::meta_hash(
            path,
            &n.stored_stat(),
            self.acls.hash(n.acl),
        ))
    }

    /// The meta part of node `id`'s digest contribution.
    fn node_meta_digest(&self, path: &str, id: u32) -> u64 {
        let n = self.arena.get(id);
        digest::meta_hash(path, &n.stored_stat(), self.acls.hash(n.acl))
    }

    /// Recomputes the digest from scratch (O(n)); equals [`DataTree::digest`].
    pub fn recompute_digest(&self) -> u64 {
        let mut sum = 0u64;
        self.walk(|path, id| sum = sum.wrapping_add(self.node_digest(path, id)));
        sum
    }

    /// Visits every node in pre-order, children sorted by name.
    fn walk(&self, f: impl FnMut(&str, u32)) {
        walk(self.arena.slots_ref(), f);
    }

    /// Attaches a new child under `parent` without touching the parent's stat (used for
    /// the built-in nodes and snapshot loading); maintains every index and the digest.
    fn attach_raw(
        &mut self,
        parent: u32,
        path: &str,
        name: &str,
        data: Option<&[u8]>,
        stat: &StoredStat,
        acl: &[Acl],
    ) -> u32 {
        let acl_idx = self.acls.intern(acl);
        let mut node = Node::new(name, data, stat, acl_idx);
        node.parent = parent;
        let id = self.arena.alloc(node);
        // The child list is kept sorted by name (getChildren and snapshots read it in that
        // order): a sequential child or a snapshot's pre-order load appends, anything else
        // is placed by binary search.
        let mut kids = self
            .arena
            .get_mut(parent)
            .children
            .take()
            .unwrap_or_default();
        let key = name.as_bytes();
        let after_last = match kids.last() {
            Some(&l) => self.arena.get(l).name_bytes() < key,
            None => true,
        };
        let pos = if after_last {
            kids.len()
        } else {
            kids.partition_point(|&c| self.arena.get(c).name_bytes() < key)
        };
        if let Some(&c) = kids.get(pos) {
            assert!(
                self.arena.get(c).name_bytes() != key,
                "a sibling already has the name of {path}"
            );
        }
        kids.insert(pos, id);
        self.arena.get_mut(parent).children = Some(kids);
        self.index.insert(&self.arena, id, path);
        self.node_count += 1;
        match NodeKind::from_ephemeral_owner(stat.ephemeral_owner) {
            NodeKind::Container => {
                self.containers.insert(path.to_string());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            NodeKind::Ephemeral(s) => {
                self.ephemerals
                    .entry(s)
                    .or_default()
                    .insert(path.to_string());
            }
            NodeKind::Persistent => {}
        }
        self.digest = self.digest.wrapping_add(self.node_digest(path, id));
        id
    }

    /// Detaches a leaf node (not the root) without touching the parent's stat; maintains
    /// every index and the digest. Returns the detached node's parent id.
    fn detach_raw(&mut self, path: &str, id: u32) -> u32 {
        assert_ne!(id, ROOT, "the root is never deleted");
        let contribution = self.node_digest(path, id);
        self.digest = self.digest.wrapping_sub(contribution);
        let parent = {
            let n = self.arena.get(id);
            assert_eq!(
                n.num_children(),
                0,
                "detaching a node with children: {path}"
            );
            n.parent
        };
        self.index.remove(&self.arena, id, path);
        let mut kids = self
            .arena
            .get_mut(parent)
            .children
            .take()
            .expect("parent lists the child");
        let key = self.arena.get(id).name_bytes();
        let pos = kids
            .binary_search_by(|&c| self.arena.get(c).name_bytes().cmp(key))
            .ok()
            .filter(|&pos| kids[pos] == id)
            .expect("the parent's sorted child list holds the child");
        kids.remove(pos);
        if !kids.is_empty() {
            self.arena.get_mut(parent).children = Some(kids);
        }
        let node = self.arena.release(id);
        self.acls.release(node.acl);
        self.node_count -= 1;
        match node.kind() {
            NodeKind::Container => {
                assert!(self.containers.remove(path), "container set misses {path}");
            }
            NodeKind::Ttl(_) => {
                assert!(self.ttls.remove(path), "TTL set misses {path}");
            }
            NodeKind::Ephemeral(s) => {
                let set = self
                    .ephemerals
                    .get_mut(&s)
                    .expect("ephemeral index has the session");
                assert!(set.remove(path), "ephemeral index misses {path}");
                if set.is_empty() {
                    self.ephemerals.remove(&s);
                }
            }
            NodeKind::Persistent => {}
        }
        parent
    }
}

/// Visits every node of `slots` (a live arena's or a frozen view's) in pre-order from the
/// root, children sorted by name (the order child lists keep), with each node's full path.
fn walk(slots: &NodeSlots, mut f: impl FnMut(&str, u32)) {
    /// A node whose children are being visited: its child list, the next one, and the
    /// length of its path in the shared buffer (0 for the root, whose children are `/name`).
    struct Frame<'a> {
        kids: &'a [u32],
        next: usize,
        base_len: usize,
    }
    // One path buffer for the whole walk (no allocation per node).
    let mut path = String::from(ROOT_PATH);
    f(&path, ROOT);
    let mut stack = vec![Frame {
        kids: node_at(slots, ROOT).child_ids(),
        next: 0,
        base_len: 0,
    }];
    while let Some(top) = stack.last_mut() {
        let Some(&c) = top.kids.get(top.next) else {
            stack.pop();
            continue;
        };
        top.next += 1;
        path.truncate(top.base_len);
        path.push('/');
        let node = node_at(slots, c);
        path.push_str(node.name());
        f(&path, c);
        let kids = node.child_ids();
        if !kids.is_empty() {
            stack.push(Frame {
                kids,
                next: 0,
                base_len: path.len(),
            });
        }
    }
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new(TreeConfig::default())
    }
}

const _: () = assert!(NONE != ROOT);
