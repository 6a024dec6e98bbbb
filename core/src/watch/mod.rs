//! `watch`: the per-server watch manager.
//!
//! Watches belong to a client connection on the server it is attached to; they are not
//! replicated and die with the connection. This module keeps them and decides, for each
//! change a transaction makes, which connections receive which notification. It is pure and
//! deterministic: no I/O, no clock, only `BTreeMap`s, and every output is sorted.
//!
//! Inputs:
//! - registrations from reads and `addWatch` ([`WatchManager::register`]);
//! - the [`WatchTrigger`](crate::txn::WatchTrigger)s of an applied transaction
//!   ([`WatchManager::trigger`]);
//! - `setWatches` / `setWatches2` after a reconnect ([`WatchManager::set_watches`]);
//! - `checkWatches` / `removeWatches` ([`WatchManager::check_watches`],
//!   [`WatchManager::remove_watches`]);
//! - a closed connection ([`WatchManager::remove_connection`]).
//!
//! Outputs: [`Notification`]s, in a documented deterministic order, and typed errors that the
//! pipeline maps to reply codes.
//!
//! The model (ZooKeeper 3.8 `DataTree` + `WatchManager`, with 3.9's per-mode bookkeeping):
//! - A registration is a (connection, path, [`WatchKind`]) triple; at most one exists per
//!   triple, so duplicates collapse. One-shot kinds ([`WatchKind::Data`],
//!   [`WatchKind::Child`]) and persistent kinds ([`WatchKind::Persistent`],
//!   [`WatchKind::PersistentRecursive`]) on one path co-exist (3.9, ZOOKEEPER-4466). 3.8
//!   kept one mode per (watcher, path) per table, so a getData / exists / getChildren watch
//!   set on a path already holding a persistent watch of the same connection turned it into
//!   a one-shot watch; Arbor does not copy that defect.
//! - There is no separate exist kind: ZooKeeper's `statNode` stores the watch of `exists` in
//!   the same data-watch table whether or not the node exists, so `exists` registers
//!   [`WatchKind::Data`] (the pipeline registers it even when the answer is NoNode, while
//!   `getData` on a missing node registers nothing). This reproduces 3.8 exactly: an exist
//!   watch fires NodeCreated, `getData` + `exists` on one path is one watch, and
//!   removeWatches Data removes it.
//!
//! Invariants (`WatchManager::check_invariants`):
//! - the by-path and by-connection indexes hold exactly the same registrations;
//! - no index holds an empty entry;
//! - the recursive-path index counts exactly the recursive registrations per path;
//! - the total and per-connection counters equal the registrations held, and no connection
//!   holds more than [`WatchLimits::watches_per_conn_max`].

mod query;
mod registry;
mod set_watches;
mod trigger;

#[cfg(test)]
mod tests;

use crate::types::{AddWatchMode, ConnId, EventType, WatcherType, Zxid};

use registry::Registry;
pub use set_watches::SetWatchesLists;

/// The zxid ZooKeeper 3.8 puts in the header of every notification, and the one every
/// version puts on events synthesised by setWatches (reference §4).
pub const SYNTHESIZED_EVENT_ZXID: Zxid = Zxid(-1);

/// What a registration listens to. Alphabetical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatchKind {
    /// One-shot child watch (getChildren / getChildren2 with watch=true, setWatches child
    /// list): NodeChildrenChanged, and NodeDeleted of the node itself.
    Child,
    /// One-shot data watch (getData or exists with watch=true, setWatches data and exist
    /// lists): NodeCreated, NodeDeleted, NodeDataChanged on the path.
    Data,
    /// addWatch mode 0: every event on exactly this path, never removed by firing.
    Persistent,
    /// addWatch mode 1: NodeCreated, NodeDeleted, NodeDataChanged on this path and every
    /// descendant (never NodeChildrenChanged), never removed by firing.
    PersistentRecursive,
}

impl WatchKind {
    /// All kinds, in declaration order.
    pub const ALL: [WatchKind; 4] = [
        WatchKind::Child,
        WatchKind::Data,
        WatchKind::Persistent,
        WatchKind::PersistentRecursive,
    ];

    /// Whether firing removes the registration.
    pub const fn is_one_shot(self) -> bool {
        matches!(self, WatchKind::Child | WatchKind::Data)
    }
}

impl From<AddWatchMode> for WatchKind {
    fn from(mode: AddWatchMode) -> WatchKind {
        match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        }
    }
}

/// One watch event for one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The connection to send it on.
    pub conn: ConnId,
    /// NodeCreated, NodeDeleted, NodeDataChanged or NodeChildrenChanged.
    pub event: EventType,
    /// The node the event is about.
    pub path: String,
    /// The zxid of the transaction that fired it, or [`SYNTHESIZED_EVENT_ZXID`] for
    /// setWatches events. 3.8 sends -1 on the wire for both; the pipeline decides.
    pub zxid: Zxid,
}

/// Bounds of the watch manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchLimits {
    /// Most registrations one connection may hold (each (path, kind) pair counts once).
    /// ZooKeeper has no such bound; the default is generous enough that no real client
    /// meets it, and the bound keeps one hostile connection from growing the server without
    /// limit.
    pub watches_per_conn_max: usize,
}

impl Default for WatchLimits {
    fn default() -> WatchLimits {
        WatchLimits {
            watches_per_conn_max: 1_000_000,
        }
    }
}

/// A registration was refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchError {
    /// The connection already holds the maximum number of watches. The pipeline should
    /// refuse the request (or close the connection, for setWatches).
    #[error("connection {conn:?} already holds {max} watches")]
    TooManyWatches {
        /// The connection.
        conn: ConnId,
        /// [`WatchLimits::watches_per_conn_max`].
        max: usize,
    },
}

/// checkWatches / removeWatches did not succeed. The pipeline maps these to reply codes.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchQueryError {
    /// The connection holds no watch of that type on the path: reply NoWatcher (-121).
    #[error("connection {conn:?} has no {ty:?} watch on {path}")]
    NoWatcher {
        /// The connection.
        conn: ConnId,
        /// The path asked about.
        path: String,
        /// The type asked about.
        ty: WatcherType,
    },
    /// Persistent (4) or PersistentRecursive (5): 3.8 cannot deserialize these and answers
    /// MarshallingError (-5), leaving the watch armed.
    #[error("watcher type {ty:?} is not accepted by ZooKeeper 3.8")]
    UnsupportedType {
        /// The type asked about.
        ty: WatcherType,
    },
}

/// Counts for the `wchs` four-letter word and `mntr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchSummary {
    /// Connections holding at least one watch.
    pub connections: usize,
    /// Distinct watched paths.
    pub paths: usize,
    /// Registrations in total.
    pub watches: usize,
}

/// Watch counts as ZooKeeper 3.8's four-letter words report them
/// ([`WatchManager::zookeeper_counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZookeeperWatchCounts {
    /// What `wchs` prints: the data table's connections, paths and entries.
    pub wchs: WatchSummary,
    /// `mntr` `zk_watch_count`: entries of the data table plus the child table.
    pub watch_count: usize,
}

/// The watch manager of one server. See the module doc for the model.
#[derive(Clone, Debug, Default)]
pub struct WatchManager {
    registry: Registry,
    limits: WatchLimits,
}

impl WatchManager {
    /// An empty manager with these bounds.
    pub fn new(limits: WatchLimits) -> WatchManager {
        assert!(
            limits.watches_per_conn_max > 0,
            "a zero watch limit refuses every watch"
        );
        WatchManager {
            registry: Registry::default(),
            limits,
        }
    }

    /// The bounds.
    pub fn limits(&self) -> WatchLimits {
        self.limits
    }

    /// Registers a `kind` watch of `conn` on `path`. Registering one already held is a no-op
    /// (duplicates collapse) and never fails.
    ///
    /// `path` must be a valid absolute path (the pipeline validated it).
    pub fn register(
        &mut self,
        conn: ConnId,
        path: &str,
        kind: WatchKind,
    ) -> Result<(), WatchError> {
        debug_assert!(
            path.starts_with('/'),
            "watch path must be absolute: {path:?}"
        );
        self.registry
            .insert(conn, path, kind, self.limits.watches_per_conn_max)
    }

    /// Whether `conn` holds a `kind` watch on `path`.
    pub fn contains(&self, conn: ConnId, path: &str, kind: WatchKind) -> bool {
        self.registry.kinds(conn, path).contains(kind)
    }

    /// Drops every watch of `conn` (its connection closed). Returns how many it held.
    pub fn remove_connection(&mut self, conn: ConnId) -> usize {
        self.registry.remove_conn(conn)
    }

    /// Registrations in total.
    pub fn watch_count(&self) -> usize {
        self.registry.total()
    }

    /// Registrations `conn` holds.
    pub fn conn_watch_count(&self, conn: ConnId) -> usize {
        self.registry.conn_count(conn)
    }

    /// Counts of Arbor's registrations, every kind once.
    pub fn summary(&self) -> WatchSummary {
        WatchSummary {
            connections: self.registry.conn_len(),
            paths: self.registry.path_len(),
            watches: self.registry.total(),
        }
    }

    /// The counts ZooKeeper 3.8 reports, computed from the registrations (walks them all; for
    /// four-letter words, not for hot paths). 3.8 keeps two tables: a data table (data and
    /// exist watches, persistent and recursive ones) and a child table (child watches,
    /// persistent and recursive ones), one entry per (connection, path) in each.
    /// - `wchs` (`<C> connections watching <P> paths` / `Total watches:<T>`) reports the data
    ///   table only;
    /// - `mntr`'s `zk_watch_count` is the size of both tables, so a persistent or recursive
    ///   watch counts twice.
    ///
    /// Both observed on the 3.8.0 capture (`fourletter.jsonl`: wchs 2/5/5, zk_watch_count 7).
    pub fn zookeeper_counts(&self) -> ZookeeperWatchCounts {
        self.registry.zookeeper_counts()
    }

    /// The paths `conn` watches and the kinds on each, in path order (for `wchc`).
    pub fn watches_of(&self, conn: ConnId) -> Vec<(&str, Vec<WatchKind>)> {
        self.registry.watches_of(conn)
    }

    /// The connections watching `path` and the kinds each holds, in ConnId order (for
    /// `wchp`).
    pub fn watchers_of(&self, path: &str) -> Vec<(ConnId, Vec<WatchKind>)> {
        self.registry.watchers_of(path)
    }

    /// Every watched path, in path order.
    pub fn watched_paths(&self) -> Vec<&str> {
        self.registry.paths()
    }

    /// Checks the invariants listed in the module doc; panics on a violation.
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub fn check_invariants(&self) {
        self.registry
            .check_invariants(self.limits.watches_per_conn_max);
    }
}
