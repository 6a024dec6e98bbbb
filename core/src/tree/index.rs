//! `ChildIndex`: the one hash map allowed in `core` (STYLE.md §6 exception).
//!
//! It maps (parent id, child name) to the child's id so that resolving a path costs one
//! probe per component. It is lookup-only: it exposes no iteration, so its (fixed-hasher)
//! order can never reach an output. The keys are not stored: hash and equality read the
//! parent id and the name from the arena, so an entry costs 4 bytes plus control bytes.
//!
//! Invariants:
//! - Exactly the non-root live nodes are indexed, each under (its parent, its name).
//! - The hash is xxh3 of the name seeded with the parent id: fixed, never OS-seeded.

use hashbrown::HashTable;

use super::node::Arena;

/// Lookup-only index from (parent id, child name) to child id.
#[derive(Debug, Default)]
pub(crate) struct ChildIndex {
    table: HashTable<u32>,
}

fn key_hash(parent: u32, name: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(name, u64::from(parent))
}

impl ChildIndex {
    /// The child of `parent` called `name`.
    pub fn find(&self, arena: &Arena, parent: u32, name: &[u8]) -> Option<u32> {
        self.table
            .find(key_hash(parent, name), |&id| {
                let n = arena.get(id);
                n.parent == parent && n.name_bytes() == name
            })
            .copied()
    }

    /// Indexes node `id` (already in the arena with its parent and name set).
    pub fn insert(&mut self, arena: &Arena, id: u32) {
        let n = arena.get(id);
        let h = key_hash(n.parent, n.name_bytes());
        debug_assert!(
            self.find(arena, n.parent, n.name_bytes()).is_none(),
            "duplicate child"
        );
        self.table.insert_unique(h, id, |&x| {
            let m = arena.get(x);
            key_hash(m.parent, m.name_bytes())
        });
    }

    /// Removes node `id` (still in the arena) from the index.
    pub fn remove(&mut self, arena: &Arena, id: u32) {
        let n = arena.get(id);
        match self
            .table
            .find_entry(key_hash(n.parent, n.name_bytes()), |&x| x == id)
        {
            Ok(entry) => {
                entry.remove();
            }
            Err(_) => panic!("node {id} missing from the child index"),
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
