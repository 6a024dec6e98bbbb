//! Whole-tree snapshots (serde + postcard), for SNAP sync and compaction.
//!
//! Output: bytes in a canonical order — nodes in pre-order with children sorted by name,
//! ACL lists numbered by first use — so equal trees give equal bytes whatever their
//! history. Input: such bytes, validated (they may come from disk or a peer): a malformed
//! snapshot is a [`SnapshotError`], never a panic.
//!
//! Taking a snapshot and encoding it are separate: [`DataTree::snapshot`] freezes the tree
//! in O(nodes / 512) (it shares the copy-on-write node and ACL storage and the session
//! map), and [`TreeSnapshot::serialize`] produces the bytes later, on any thread, while the
//! tree goes on changing. [`DataTree::serialize`] is the two in one step, so both give the
//! same bytes by construction.
//!
//! Invariants:
//! - `deserialize(serialize(t))` has the same digest, stats, data, ACLs, ephemerals and
//!   sessions as `t`.
//! - `t.snapshot().serialize()` equals `t.serialize()` at the moment of `snapshot()`,
//!   whatever is applied to `t` afterwards.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::types::{Acl, SessionId, Zxid};

use super::acl::AclLists;
use super::node::{node_at, Node, NodeKind, NodeSlots, StoredStat};
use super::path::{split_parent, validate_path, CONFIG_PATH, QUOTA_PATH, ZOOKEEPER_PATH};
use super::{walk, DataTree, TreeConfig};

/// Format version written first in every snapshot.
const SNAPSHOT_VERSION: u32 = 1;

/// Why snapshot bytes were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotError {
    /// postcard could not decode the bytes.
    #[error("snapshot decode failed: {0}")]
    Decode(postcard::Error),
    /// A format version this build does not read.
    #[error("unsupported snapshot version {found}")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// The first node is not `/`.
    #[error("snapshot does not start with the root")]
    RootNotFirst,
    /// A node path is invalid.
    #[error("invalid path {path:?} in snapshot")]
    InvalidPath {
        /// The path.
        path: String,
    },
    /// A node comes before its parent, or its parent is missing.
    #[error("parent of {path:?} missing in snapshot")]
    MissingParent {
        /// The path.
        path: String,
    },
    /// A path appears twice.
    #[error("duplicate path {path:?} in snapshot")]
    DuplicatePath {
        /// The path.
        path: String,
    },
    /// An ACL index out of range.
    #[error("ACL index {index} out of range")]
    AclIndex {
        /// The index.
        index: u32,
    },
    /// A child under an ephemeral node.
    #[error("{path:?} has an ephemeral parent")]
    EphemeralParent {
        /// The path.
        path: String,
    },
    /// A built-in node is missing.
    #[error("built-in node {path:?} missing")]
    MissingBuiltIn {
        /// The path.
        path: &'static str,
    },
    /// The root or a built-in `/zookeeper` node is not a plain persistent node.
    #[error("built-in node {path:?} is not persistent")]
    BuiltInKind {
        /// The path.
        path: &'static str,
    },
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    last_zxid: Zxid,
    acls: Vec<Vec<Acl>>,
    nodes: Vec<SnapNode>,
    sessions: Vec<(SessionId, i32)>,
}

#[derive(Serialize, Deserialize)]
struct SnapNode {
    path: String,
    data: Option<Vec<u8>>,
    stat: StoredStat,
    acl: u32,
}

/// A frozen view of a whole tree at one zxid, for a compaction snapshot: cheap to take
/// (O(nodes / 512)), `Send + Sync`, and serialized later, off the core's step, into exactly
/// the bytes [`DataTree::serialize`] gave when it was taken.
///
/// While it lives, the first write to each 512-node chunk of the tree copies that chunk
/// (and the first session change copies the session map); dropping it ends the sharing.
#[derive(Clone)]
pub struct TreeSnapshot {
    nodes: NodeSlots,
    acls: AclLists,
    sessions: Arc<BTreeMap<SessionId, i32>>,
    last_zxid: Zxid,
    node_count: usize,
    digest: u64,
}

// The view crosses to the driver's snapshot thread.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TreeSnapshot>();
};

impl std::fmt::Debug for TreeSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeSnapshot")
            .field("last_zxid", &self.last_zxid)
            .field("node_count", &self.node_count)
            .field("digest", &format_args!("{:016x}", self.digest))
            .finish_non_exhaustive()
    }
}

impl TreeSnapshot {
    /// zxid of the last txn the snapshot contains.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Number of znodes in the snapshot.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// The tree's digest when the snapshot was taken.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The snapshot as canonical bytes (O(n); meant for a thread other than the core's).
    ///
    /// The bytes are postcard's encoding of [`Snapshot`], written field by field without
    /// building the node list: each node is encoded straight from the tree (path from one
    /// reused buffer, data borrowed), and the header (which holds the ACL table the walk
    /// discovers) is put in front at the end. Postcard encodes a struct as its fields in
    /// order and a sequence as a varint length and its elements, so the concatenation is the
    /// same bytes (`serialize_matches_the_owned_encoding` checks it).
    pub fn serialize(&self) -> Vec<u8> {
        let [head, body, tail] = self.serialize_parts();
        let mut out = Vec::with_capacity(head.len() + body.len() + tail.len());
        out.extend_from_slice(&head);
        out.extend_from_slice(&body);
        out.extend_from_slice(&tail);
        out
    }

    /// [`TreeSnapshot::serialize`] in three pieces whose concatenation is those bytes (the
    /// header with the ACL table and the node count, the nodes, the sessions), so that a
    /// writer can write them one after the other without copying the large middle piece.
    pub fn serialize_parts(&self) -> [Vec<u8>; 3] {
        /// [`SnapNode`] by reference: the same encoding (`&str` as `String`, `&[u8]` as
        /// `Vec<u8>`).
        #[derive(Serialize)]
        struct SnapNodeRef<'a> {
            path: &'a str,
            data: Option<&'a [u8]>,
            stat: StoredStat,
            acl: u32,
        }
        /// The fields of [`Snapshot`] before `nodes`.
        #[derive(Serialize)]
        struct Head<'a> {
            version: u32,
            last_zxid: Zxid,
            acls: &'a [Vec<Acl>],
        }
        let mut acl_numbers: BTreeMap<u32, u32> = BTreeMap::new();
        let mut acls: Vec<Vec<Acl>> = Vec::new();
        // Most nodes share their neighbour's ACL: skip the map lookup then.
        let mut last_acl: Option<(u32, u32)> = None;
        let mut body: Vec<u8> = Vec::with_capacity(self.node_count.saturating_mul(64));
        let mut count = 0usize;
        walk(&self.nodes, |path, id| {
            let n = node_at(&self.nodes, id);
            let acl = match last_acl {
                Some((raw, number)) if raw == n.acl => number,
                _ => {
                    let number = *acl_numbers.entry(n.acl).or_insert_with(|| {
                        acls.push(self.acls.get(n.acl).to_vec());
                        (acls.len() - 1) as u32
                    });
                    last_acl = Some((n.acl, number));
                    number
                }
            };
            let node = SnapNodeRef {
                path,
                data: n.data(),
                stat: n.stored_stat(),
                acl,
            };
            // Serializing plain data into a Vec cannot fail.
            body = postcard::to_extend(&node, std::mem::take(&mut body))
                .expect("snapshot node serializes");
            count += 1;
        });
        assert_eq!(count, self.node_count, "snapshot walk count");
        let head = Head {
            version: SNAPSHOT_VERSION,
            last_zxid: self.last_zxid,
            acls: &acls,
        };
        let sessions: Vec<(SessionId, i32)> = self.sessions.iter().map(|(s, t)| (*s, *t)).collect();
        let mut out = postcard::to_allocvec(&head).expect("snapshot header serializes");
        // The node sequence's length prefix: the same varint as a `u64` of that value.
        out = postcard::to_extend(&(count as u64), out).expect("varint serializes");
        let tail = postcard::to_allocvec(&sessions).expect("snapshot sessions serialize");
        [out, body, tail]
    }

    /// The old encoding (an owned [`Snapshot`] through `postcard::to_allocvec`), kept for the
    /// test that the streamed encoding gives the same bytes.
    #[cfg(test)]
    pub(crate) fn serialize_owned(&self) -> Vec<u8> {
        let mut acl_numbers: BTreeMap<u32, u32> = BTreeMap::new();
        let mut acls = Vec::new();
        let mut nodes = Vec::with_capacity(self.node_count);
        walk(&self.nodes, |path, id| {
            let n = node_at(&self.nodes, id);
            let acl = *acl_numbers.entry(n.acl).or_insert_with(|| {
                acls.push(self.acls.get(n.acl).to_vec());
                (acls.len() - 1) as u32
            });
            nodes.push(SnapNode {
                path: path.to_string(),
                data: n.data().map(<[u8]>::to_vec),
                stat: n.stored_stat(),
                acl,
            });
        });
        let snap = Snapshot {
            version: SNAPSHOT_VERSION,
            last_zxid: self.last_zxid,
            acls,
            nodes,
            sessions: self.sessions.iter().map(|(s, t)| (*s, *t)).collect(),
        };
        postcard::to_allocvec(&snap).expect("snapshot serializes")
    }
}

impl DataTree {
    /// A frozen view of the whole tree as it is now, in O(nodes / 512) and without copying
    /// any node; [`TreeSnapshot::serialize`] turns it into bytes later.
    pub fn snapshot(&self) -> TreeSnapshot {
        TreeSnapshot {
            nodes: self.arena.frozen(),
            acls: self.acls.frozen(),
            sessions: Arc::clone(&self.sessions),
            last_zxid: self.last_zxid,
            node_count: self.node_count,
            digest: self.digest,
        }
    }

    /// The whole tree as canonical bytes.
    pub fn serialize(&self) -> Vec<u8> {
        self.snapshot().serialize()
    }

    /// Rebuilds a tree from [`DataTree::serialize`] output.
    pub fn deserialize(bytes: &[u8], config: TreeConfig) -> Result<DataTree, SnapshotError> {
        let snap: Snapshot = postcard::from_bytes(bytes).map_err(SnapshotError::Decode)?;
        if snap.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: snap.version,
            });
        }
        let acl_of = |index: u32| -> Result<&[Acl], SnapshotError> {
            snap.acls
                .get(index as usize)
                .map(Vec::as_slice)
                .ok_or(SnapshotError::AclIndex { index })
        };
        let mut nodes = snap.nodes.iter();
        let root = nodes
            .next()
            .filter(|n| n.path == "/")
            .ok_or(SnapshotError::RootNotFirst)?;
        if root.stat.kind() != NodeKind::Persistent {
            return Err(SnapshotError::BuiltInKind { path: "/" });
        }
        let mut tree = DataTree::bare(config);
        let root_acl = tree.acls.intern(acl_of(root.acl)?);
        tree.attach_root(Node::new("", root.data.as_deref(), &root.stat, root_acl));
        for n in nodes {
            let invalid = || SnapshotError::InvalidPath {
                path: n.path.clone(),
            };
            validate_path(&n.path).map_err(|_| invalid())?;
            let (parent_path, name) = split_parent(&n.path).ok_or_else(invalid)?;
            if name.is_empty() {
                return Err(invalid());
            }
            let parent = tree
                .resolve(parent_path)
                .ok_or_else(|| SnapshotError::MissingParent {
                    path: n.path.clone(),
                })?;
            if tree.resolve(&n.path).is_some() {
                return Err(SnapshotError::DuplicatePath {
                    path: n.path.clone(),
                });
            }
            if matches!(tree.arena.get(parent).kind(), NodeKind::Ephemeral(_)) {
                return Err(SnapshotError::EphemeralParent {
                    path: n.path.clone(),
                });
            }
            let acl = acl_of(n.acl)?;
            tree.attach_raw(parent, &n.path, name, n.data.as_deref(), &n.stat, acl);
        }
        for path in [ZOOKEEPER_PATH, QUOTA_PATH, CONFIG_PATH] {
            let Some(id) = tree.resolve(path) else {
                return Err(SnapshotError::MissingBuiltIn { path });
            };
            if tree.arena.get(id).kind() != NodeKind::Persistent {
                return Err(SnapshotError::BuiltInKind { path });
            }
        }
        tree.sessions = Arc::new(snap.sessions.into_iter().collect());
        tree.last_zxid = snap.last_zxid;
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, acl: u32) -> SnapNode {
        SnapNode {
            path: path.into(),
            data: Some(vec![]),
            stat: StoredStat::default(),
            acl,
        }
    }

    fn load(nodes: Vec<SnapNode>, version: u32) -> Result<DataTree, SnapshotError> {
        let snap = Snapshot {
            version,
            last_zxid: Zxid(9),
            acls: vec![Acl::open_unsafe()],
            nodes,
            sessions: vec![],
        };
        DataTree::deserialize(
            &postcard::to_allocvec(&snap).unwrap(),
            TreeConfig::default(),
        )
    }

    fn builtins() -> Vec<SnapNode> {
        ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]
            .into_iter()
            .map(|p| node(p, 0))
            .collect()
    }

    #[test]
    fn hostile_snapshots_are_errors() {
        assert!(load(builtins(), 1).is_ok());
        assert_eq!(
            load(builtins(), 2).err(),
            Some(SnapshotError::UnsupportedVersion { found: 2 })
        );
        assert_eq!(load(vec![], 1).err(), Some(SnapshotError::RootNotFirst));
        let mut n = builtins();
        n.push(node("/a/b", 0));
        assert!(matches!(
            load(n, 1),
            Err(SnapshotError::MissingParent { .. })
        ));
        let mut n = builtins();
        n.push(node("/a", 0));
        n.push(node("/a", 0));
        assert!(matches!(
            load(n, 1),
            Err(SnapshotError::DuplicatePath { .. })
        ));
        let mut n = builtins();
        n.push(node("/a", 7));
        assert_eq!(load(n, 1).err(), Some(SnapshotError::AclIndex { index: 7 }));
        let mut n = builtins();
        n.push(node("/a/", 0));
        assert!(matches!(load(n, 1), Err(SnapshotError::InvalidPath { .. })));
        let mut n = builtins();
        let mut e = node("/e", 0);
        e.stat.ephemeral_owner = 5;
        n.push(e);
        n.push(node("/e/x", 0));
        assert!(matches!(
            load(n, 1),
            Err(SnapshotError::EphemeralParent { .. })
        ));
        let n = builtins().into_iter().take(2).collect();
        assert!(matches!(
            load(n, 1),
            Err(SnapshotError::MissingBuiltIn { .. })
        ));
    }

    /// Found by the `snapshot` fuzz target: a root whose stored ephemeralOwner marks it a
    /// TTL node loaded, and the tree then failed its own invariants. The root and the
    /// `/zookeeper` nodes are plain persistent nodes in every tree ZooKeeper builds.
    #[test]
    fn built_in_nodes_must_be_persistent() {
        for (i, path) in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]
            .into_iter()
            .enumerate()
        {
            for owner in [5, i64::from_be_bytes([0xff, 0, 0, 0, 0, 0, 0, 1]), i64::MIN] {
                let mut n = builtins();
                n[i].stat.ephemeral_owner = owner;
                // An ephemeral /zookeeper is refused one node earlier, at its children.
                let err = load(n, 1).err();
                assert!(
                    err == Some(SnapshotError::BuiltInKind { path })
                        || matches!(err, Some(SnapshotError::EphemeralParent { .. })),
                    "{path} with owner {owner:#x}: {err:?}"
                );
            }
        }
    }
}
