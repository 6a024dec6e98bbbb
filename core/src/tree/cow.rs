//! `CowVec`: a growable vector stored as chunks of [`CHUNK_SLOTS`] elements, each behind an
//! `Arc`, so that a frozen copy of it (`clone`) costs one `Arc` clone per chunk, and a
//! write after such a copy copies only the chunk it touches (`Arc::make_mut`).
//!
//! It backs the storage that a snapshot reads (the node arena, the ACL table), so a
//! compaction snapshot is taken in O(len / CHUNK_SLOTS) inside the core's step and
//! serialized elsewhere while the tree goes on changing.
//!
//! Inputs: `push`, `get`, `get_mut`. Outputs: references to the elements.
//!
//! Invariants:
//! - Every chunk but the last holds exactly `CHUNK_SLOTS` elements; the last holds 1 to
//!   `CHUNK_SLOTS`; there is no empty chunk.
//! - `len` is the sum of the chunks' lengths.
//! - A write never changes what an earlier clone reads: mutable access goes through
//!   `Arc::make_mut` only.

use std::sync::Arc;

/// Elements per chunk (a power of two). A write to a chunk shared with a live snapshot
/// copies this many elements; a snapshot clones `len / CHUNK_SLOTS` `Arc`s.
pub(crate) const CHUNK_SLOTS: usize = 512;
const CHUNK_SHIFT: u32 = CHUNK_SLOTS.trailing_zeros();
const CHUNK_MASK: usize = CHUNK_SLOTS - 1;
const _: () = assert!(CHUNK_SLOTS.is_power_of_two());

/// A chunked, copy-on-write vector; `clone` is the cheap frozen copy.
#[derive(Debug)]
pub(crate) struct CowVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for CowVec<T> {
    fn default() -> Self {
        CowVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Clone for CowVec<T> {
    /// O(chunks): shares every chunk; later writes to either copy unshare what they touch.
    fn clone(&self) -> Self {
        CowVec {
            chunks: self.chunks.clone(),
            len: self.len,
        }
    }
}

impl<T: Clone> CowVec<T> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The element at `i` (panics past the end, as slice indexing does).
    pub fn get(&self, i: usize) -> &T {
        &self.chunks[i >> CHUNK_SHIFT][i & CHUNK_MASK]
    }

    /// The element at `i`, mutably; copies its chunk first if a clone shares it.
    pub fn get_mut(&mut self, i: usize) -> &mut T {
        let chunk = &mut self.chunks[i >> CHUNK_SHIFT];
        &mut Arc::make_mut(chunk)[i & CHUNK_MASK]
    }

    /// Appends an element.
    pub fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK_SLOTS => Arc::make_mut(last).push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK_SLOTS);
                chunk.push(value);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
    }

    /// Every element in index order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// Heap bytes of the chunk table and the chunks' element buffers (elements' own heap
    /// data not included).
    pub fn heap_bytes(&self) -> usize {
        // Each chunk is one allocation: the Arc counts, the Vec header and its buffer are
        // two (the `ArcInner` and the buffer).
        self.chunks.capacity() * std::mem::size_of::<Arc<Vec<T>>>()
            + self
                .chunks
                .iter()
                .map(|c| {
                    std::mem::size_of::<usize>() * 2
                        + std::mem::size_of::<Vec<T>>()
                        + c.capacity() * std::mem::size_of::<T>()
                })
                .sum::<usize>()
    }

    /// Checks the chunk layout.
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub fn check_invariants(&self) {
        let n = self.chunks.len();
        for (i, c) in self.chunks.iter().enumerate() {
            assert!(!c.is_empty(), "empty chunk {i}");
            if i + 1 < n {
                assert_eq!(c.len(), CHUNK_SLOTS, "chunk {i} of {n} is not full");
            }
        }
        assert_eq!(
            self.chunks.iter().map(|c| c.len()).sum::<usize>(),
            self.len,
            "len"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_and_layout() {
        let mut v = CowVec::default();
        for i in 0..(CHUNK_SLOTS * 2 + 3) {
            v.push(i);
            v.check_invariants();
        }
        assert_eq!(v.len(), CHUNK_SLOTS * 2 + 3);
        for i in 0..v.len() {
            assert_eq!(*v.get(i), i);
        }
        assert_eq!(
            v.iter().copied().collect::<Vec<_>>(),
            (0..v.len()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_clone_never_sees_later_writes() {
        let mut v = CowVec::default();
        for i in 0..(CHUNK_SLOTS + 10) {
            v.push(i);
        }
        let frozen = v.clone();
        *v.get_mut(3) = 1000;
        *v.get_mut(CHUNK_SLOTS + 1) = 2000;
        v.push(7);
        assert_eq!(*frozen.get(3), 3);
        assert_eq!(*frozen.get(CHUNK_SLOTS + 1), CHUNK_SLOTS + 1);
        assert_eq!(frozen.len(), CHUNK_SLOTS + 10);
        assert_eq!(*v.get(3), 1000);
        assert_eq!(*v.get(CHUNK_SLOTS + 1), 2000);
        assert_eq!(*v.get(CHUNK_SLOTS + 10), 7);
        // Only the touched chunks were copied: the untouched ones are still shared.
        v.check_invariants();
        frozen.check_invariants();
    }

    #[test]
    fn writes_without_a_clone_copy_nothing() {
        let mut v = CowVec::default();
        v.push(1u32);
        let before = Arc::as_ptr(&v.chunks[0]);
        *v.get_mut(0) = 2;
        v.push(3);
        assert_eq!(
            Arc::as_ptr(&v.chunks[0]),
            before,
            "an unshared chunk is written in place"
        );
        let frozen = v.clone();
        *v.get_mut(0) = 4;
        assert_ne!(Arc::as_ptr(&v.chunks[0]), Arc::as_ptr(&frozen.chunks[0]));
        assert_eq!(*frozen.get(0), 2);
    }
}
