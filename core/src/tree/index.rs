//! `PathIndex`: the one hash map allowed in `core` (STYLE.md §6 exception).
//!
//! It maps a node's full path to its id, so resolving a path costs one probe whatever its
//! depth (a random path in a large tree then misses the caches a few times, not a few
//! times per component). It is lookup-only: it exposes no iteration, so its
//! (fixed-hasher) order can never reach an output. The keys are not stored: equality walks
//! from the candidate node up to the root comparing names with the path's components from
//! the end, and rehashing rebuilds a node's path from the arena; an entry costs 4 bytes
//! plus control bytes.
//!
//! Invariants:
//! - Exactly the non-root live nodes are indexed, each under its full path.
//! - The hash is xxh3 of the path bytes: fixed, never OS-seeded.

use hashbrown::HashTable;

use super::node::{Arena, ROOT};

/// Lookup-only index from full path to node id.
#[derive(Debug, Default)]
pub(crate) struct PathIndex {
    table: HashTable<u32>,
}

fn path_hash(path: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(path)
}

/// True if node `id`'s full path is `path`: each name must match the path's last
/// component, preceded by `/`, up to the root.
fn path_matches(arena: &Arena, mut id: u32, path: &[u8]) -> bool {
    let mut rest = path;
    loop {
        if id == ROOT {
            return rest.is_empty();
        }
        let n = arena.get(id);
        let name = n.name_bytes();
        let Some(split) = rest.len().checked_sub(name.len() + 1) else {
            return false;
        };
        if rest[split] != b'/' || &rest[split + 1..] != name {
            return false;
        }
        rest = &rest[..split];
        id = n.parent;
    }
}

/// Rebuilds node `id`'s full path (used only when the table grows).
fn path_of(arena: &Arena, id: u32) -> Vec<u8> {
    let mut chain = Vec::new();
    let mut cur = id;
    while cur != ROOT {
        chain.push(cur);
        cur = arena.get(cur).parent;
    }
    let mut path = Vec::with_capacity(chain.len() * 16);
    for &c in chain.iter().rev() {
        path.push(b'/');
        path.extend_from_slice(arena.get(c).name_bytes());
    }
    path
}

impl PathIndex {
    /// The node at `path` (never the root, which is not indexed).
    pub fn find(&self, arena: &Arena, path: &str) -> Option<u32> {
        let path = path.as_bytes();
        self.table
            .find(path_hash(path), |&id| path_matches(arena, id, path))
            .copied()
    }

    /// Indexes node `id` (already in the arena, linked under its parent) at `path`.
    pub fn insert(&mut self, arena: &Arena, id: u32, path: &str) {
        debug_assert!(
            path_matches(arena, id, path.as_bytes()),
            "{path} is not node {id}'s path"
        );
        debug_assert!(self.find(arena, path).is_none(), "duplicate path {path}");
        self.table
            .insert_unique(path_hash(path.as_bytes()), id, |&x| {
                path_hash(&path_of(arena, x))
            });
    }

    /// Removes node `id` (still in the arena and linked) at `path` from the index.
    pub fn remove(&mut self, arena: &Arena, id: u32, path: &str) {
        debug_assert!(
            path_matches(arena, id, path.as_bytes()),
            "{path} is not node {id}'s path"
        );
        match self
            .table
            .find_entry(path_hash(path.as_bytes()), |&x| x == id)
        {
            Ok(entry) => {
                entry.remove();
            }
            Err(_) => panic!("node {id} ({path}) missing from the path index"),
        }
    }

    /// Approximate heap bytes: one `u32` plus one control byte per bucket (buckets are a
    /// power of two at most 7/8 full).
    pub fn heap_bytes_estimate(&self) -> usize {
        let buckets = (self.table.capacity() * 8 / 7).next_power_of_two();
        buckets * (std::mem::size_of::<u32>() + 1)
    }

    /// Number of indexed nodes.
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub fn len(&self) -> usize {
        self.table.len()
    }
}
