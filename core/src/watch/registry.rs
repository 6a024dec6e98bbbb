//! The two indexes of watch registrations: by path (what a trigger looks up) and by
//! connection (what closing a connection drops, and what the per-connection bound counts),
//! plus the index of paths holding recursive watches that decides whether a trigger walks
//! its path's ancestors at all.
//!
//! Invariants: both indexes hold the same (conn, path, kinds) entries with no empty kind set;
//! `recursive_paths` counts the recursive registrations per path exactly; `total` and each
//! connection's `count` equal the registrations held.

use std::collections::BTreeMap;

use super::{WatchError, WatchKind, WatchSummary, ZookeeperWatchCounts};
use crate::types::ConnId;

/// A set of [`WatchKind`]s as a bitset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Kinds(u8);

impl Kinds {
    /// The set holding only `kind`.
    pub(crate) const fn of(kind: WatchKind) -> Kinds {
        Kinds(Kinds::bit(kind))
    }

    /// The union of `kinds`.
    pub(crate) const fn union(self, other: Kinds) -> Kinds {
        Kinds(self.0 | other.0)
    }

    /// The intersection.
    pub(crate) const fn intersect(self, other: Kinds) -> Kinds {
        Kinds(self.0 & other.0)
    }

    /// Whether `kind` is in the set.
    pub(crate) const fn contains(self, kind: WatchKind) -> bool {
        self.0 & Kinds::bit(kind) != 0
    }

    /// Whether the set is empty.
    pub(crate) const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many kinds the set holds.
    pub(crate) const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The kinds, in [`WatchKind::ALL`] order.
    pub(crate) fn to_vec(self) -> Vec<WatchKind> {
        WatchKind::ALL
            .into_iter()
            .filter(|k| self.contains(*k))
            .collect()
    }

    const fn bit(kind: WatchKind) -> u8 {
        match kind {
            WatchKind::Child => 1,
            WatchKind::Data => 2,
            WatchKind::Persistent => 4,
            WatchKind::PersistentRecursive => 8,
        }
    }

    const fn without(self, other: Kinds) -> Kinds {
        Kinds(self.0 & !other.0)
    }
}

/// The watches of one connection.
#[derive(Clone, Debug, Default)]
struct ConnWatches {
    paths: BTreeMap<String, Kinds>,
    /// Sum of `paths`' kind counts.
    count: usize,
}

/// Registrations indexed both ways.
#[derive(Clone, Debug, Default)]
pub(crate) struct Registry {
    by_path: BTreeMap<String, BTreeMap<ConnId, Kinds>>,
    by_conn: BTreeMap<ConnId, ConnWatches>,
    /// Path -> number of connections holding a recursive watch there.
    recursive_paths: BTreeMap<String, usize>,
    total: usize,
    /// Bumped by every call that may change the indexes (`insert`, `remove`, `remove_conn`).
    version: u64,
    /// The `version` the last full `check_invariants` passed at: the indexes are only changed
    /// through those calls, so an unchanged version needs no new O(n) walk (the simulator
    /// checks after every step, and most steps do not touch the watches).
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    checked_at: std::cell::Cell<Option<u64>>,
}

impl Registry {
    /// Adds one registration. Returns an error, changing nothing, if `conn` would exceed
    /// `max`; a registration already held is a no-op.
    pub(crate) fn insert(
        &mut self,
        conn: ConnId,
        path: &str,
        kind: WatchKind,
        max: usize,
    ) -> Result<(), WatchError> {
        self.version += 1;
        if self.kinds(conn, path).contains(kind) {
            return Ok(());
        }
        let entry = self.by_conn.entry(conn).or_default();
        if entry.count >= max {
            if entry.count == 0 {
                self.by_conn.remove(&conn);
            }
            return Err(WatchError::TooManyWatches { conn, max });
        }
        entry.count += 1;
        let k = entry.paths.entry(path.to_string()).or_default();
        *k = k.union(Kinds::of(kind));
        let k = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .entry(conn)
            .or_default();
        *k = k.union(Kinds::of(kind));
        if kind == WatchKind::PersistentRecursive {
            *self.recursive_paths.entry(path.to_string()).or_default() += 1;
        }
        self.total += 1;
        Ok(())
    }

    /// Removes the kinds in `remove` that `conn` holds on `path`. Returns the kinds removed.
    pub(crate) fn remove(&mut self, conn: ConnId, path: &str, remove: Kinds) -> Kinds {
        self.version += 1;
        let held = self.kinds(conn, path);
        let gone = held.intersect(remove);
        if gone.is_empty() {
            return gone;
        }
        let left = held.without(gone);
        let watchers = self
            .by_path
            .get_mut(path)
            .expect("held implies a by-path entry");
        let conn_watches = self
            .by_conn
            .get_mut(&conn)
            .expect("held implies a by-conn entry");
        if left.is_empty() {
            watchers.remove(&conn);
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
            conn_watches.paths.remove(path);
        } else {
            watchers.insert(conn, left);
            conn_watches.paths.insert(path.to_string(), left);
        }
        assert!(
            conn_watches.count >= gone.len(),
            "per-connection count underflow"
        );
        conn_watches.count -= gone.len();
        if conn_watches.count == 0 {
            self.by_conn.remove(&conn);
        }
        if gone.contains(WatchKind::PersistentRecursive) {
            self.drop_recursive(path);
        }
        assert!(self.total >= gone.len(), "total count underflow");
        self.total -= gone.len();
        gone
    }

    /// Drops every registration of `conn`. Returns how many there were.
    pub(crate) fn remove_conn(&mut self, conn: ConnId) -> usize {
        self.version += 1;
        let Some(conn_watches) = self.by_conn.remove(&conn) else {
            return 0;
        };
        for (path, kinds) in &conn_watches.paths {
            let watchers = self
                .by_path
                .get_mut(path)
                .expect("by-conn entry implies by-path");
            watchers.remove(&conn);
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
            if kinds.contains(WatchKind::PersistentRecursive) {
                self.drop_recursive(path);
            }
        }
        assert!(self.total >= conn_watches.count, "total count underflow");
        self.total -= conn_watches.count;
        conn_watches.count
    }

    /// The kinds `conn` holds on `path` (empty if none).
    pub(crate) fn kinds(&self, conn: ConnId, path: &str) -> Kinds {
        self.by_path
            .get(path)
            .and_then(|w| w.get(&conn))
            .copied()
            .unwrap_or_default()
    }

    /// The watchers of `path` (None if nobody watches it).
    pub(crate) fn at_path(&self, path: &str) -> Option<&BTreeMap<ConnId, Kinds>> {
        self.by_path.get(path)
    }

    /// Whether any recursive watch exists.
    pub(crate) fn has_recursive(&self) -> bool {
        !self.recursive_paths.is_empty()
    }

    /// Whether some connection holds a recursive watch on `path`.
    pub(crate) fn is_recursive_path(&self, path: &str) -> bool {
        self.recursive_paths.contains_key(path)
    }

    pub(crate) fn total(&self) -> usize {
        self.total
    }

    pub(crate) fn conn_count(&self, conn: ConnId) -> usize {
        self.by_conn.get(&conn).map_or(0, |c| c.count)
    }

    pub(crate) fn conn_len(&self) -> usize {
        self.by_conn.len()
    }

    pub(crate) fn path_len(&self) -> usize {
        self.by_path.len()
    }

    pub(crate) fn paths(&self) -> Vec<&str> {
        self.by_path.keys().map(String::as_str).collect()
    }

    pub(crate) fn watches_of(&self, conn: ConnId) -> Vec<(&str, Vec<WatchKind>)> {
        self.by_conn.get(&conn).map_or_else(Vec::new, |c| {
            c.paths
                .iter()
                .map(|(p, k)| (p.as_str(), k.to_vec()))
                .collect()
        })
    }

    pub(crate) fn watchers_of(&self, path: &str) -> Vec<(ConnId, Vec<WatchKind>)> {
        self.by_path.get(path).map_or_else(Vec::new, |w| {
            w.iter().map(|(c, k)| (*c, k.to_vec())).collect()
        })
    }

    pub(crate) fn zookeeper_counts(&self) -> ZookeeperWatchCounts {
        let data_table = Kinds::of(WatchKind::Data)
            .union(Kinds::of(WatchKind::Persistent))
            .union(Kinds::of(WatchKind::PersistentRecursive));
        let child_table = Kinds::of(WatchKind::Child)
            .union(Kinds::of(WatchKind::Persistent))
            .union(Kinds::of(WatchKind::PersistentRecursive));
        let in_table = |kinds: &Kinds, table: Kinds| !kinds.intersect(table).is_empty();
        let mut wchs = WatchSummary::default();
        let mut child_entries = 0;
        for watchers in self.by_path.values() {
            let data_entries = watchers
                .values()
                .filter(|k| in_table(k, data_table))
                .count();
            child_entries += watchers
                .values()
                .filter(|k| in_table(k, child_table))
                .count();
            wchs.watches += data_entries;
            wchs.paths += usize::from(data_entries > 0);
        }
        wchs.connections = self
            .by_conn
            .values()
            .filter(|c| c.paths.values().any(|k| in_table(k, data_table)))
            .count();
        ZookeeperWatchCounts {
            watch_count: wchs.watches + child_entries,
            wchs,
        }
    }

    fn drop_recursive(&mut self, path: &str) {
        let n = self
            .recursive_paths
            .get_mut(path)
            .expect("a recursive registration is counted in recursive_paths");
        assert!(*n > 0, "recursive_paths holds a zero count for {path}");
        *n -= 1;
        if *n == 0 {
            self.recursive_paths.remove(path);
        }
    }

    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub(crate) fn check_invariants(&self, max: usize) {
        if self.checked_at.get() == Some(self.version) {
            return;
        }
        self.check_invariants_full(max);
        self.checked_at.set(Some(self.version));
    }

    /// The full O(n) walk of both indexes.
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub(crate) fn check_invariants_full(&self, max: usize) {
        let mut total = 0;
        let mut by_conn_entries = 0;
        for (conn, cw) in &self.by_conn {
            assert!(
                !cw.paths.is_empty(),
                "connection {conn:?} has an empty watch set"
            );
            let mut count = 0;
            for (path, kinds) in &cw.paths {
                assert!(!kinds.is_empty(), "empty kind set for {conn:?} on {path}");
                let mirrored = self.by_path.get(path).and_then(|w| w.get(conn));
                assert_eq!(
                    mirrored,
                    Some(kinds),
                    "by-path index disagrees for {conn:?} {path}"
                );
                count += kinds.len();
                by_conn_entries += 1;
            }
            assert_eq!(cw.count, count, "per-connection count of {conn:?} is stale");
            assert!(
                cw.count <= max,
                "connection {conn:?} holds more than {max} watches"
            );
            total += count;
        }
        assert_eq!(self.total, total, "total watch count is stale");
        let mut by_path_entries = 0;
        let mut recursive: BTreeMap<&str, usize> = BTreeMap::new();
        for (path, watchers) in &self.by_path {
            assert!(!watchers.is_empty(), "path {path} has an empty watcher set");
            by_path_entries += watchers.len();
            for kinds in watchers.values() {
                assert!(!kinds.is_empty(), "empty kind set on {path}");
                if kinds.contains(WatchKind::PersistentRecursive) {
                    *recursive.entry(path).or_default() += 1;
                }
            }
        }
        assert_eq!(by_path_entries, by_conn_entries, "index sizes disagree");
        let held: BTreeMap<&str, usize> = self
            .recursive_paths
            .iter()
            .map(|(p, n)| (p.as_str(), *n))
            .collect();
        assert_eq!(held, recursive, "recursive-path index is stale");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk is skipped only while no mutating call happened since it last passed: a
    /// mutating call (here one that changes nothing) makes the next check walk again and
    /// find the stale count planted after the passing walk.
    #[test]
    #[should_panic(expected = "total watch count is stale")]
    fn a_mutating_call_makes_the_next_check_walk_again() {
        let mut r = Registry::default();
        r.insert(ConnId(1), "/a", WatchKind::Data, 10)
            .expect("under the bound");
        r.check_invariants(10);
        r.total += 1; // a stale count, as a bug in a mutating call would leave it
        r.check_invariants(10); // unchanged version: not walked again
        let gone = r.remove(ConnId(2), "/b", Kinds::of(WatchKind::Data));
        assert!(gone.is_empty());
        r.check_invariants(10);
    }
}
