//! setWatches (op 101) and setWatches2 (op 105): re-arming a reconnected client's watches.
//!
//! The client sends the watches it still holds and `relativeZxid`, the last zxid it saw.
//! Per path, as ZooKeeper 3.8's `DataTree.setWatches` does, in the order data list, exist
//! list, child list, persistent list, recursive list (each list in the order sent):
//! - data: node gone -> NodeDeleted now; its mzxid > relativeZxid -> NodeDataChanged now;
//!   otherwise register a data watch;
//! - exist: node exists -> NodeCreated now; otherwise register a data watch (the exist
//!   watch, see the module doc of `watch`);
//! - child: node gone -> NodeDeleted now; its pzxid > relativeZxid -> NodeChildrenChanged
//!   now; otherwise register a child watch;
//! - persistent / recursive: register, no event (changes during the gap are not replayed).
//!
//! An event sent now replaces the registration: the one-shot watch has fired. The events
//! carry [`SYNTHESIZED_EVENT_ZXID`] and the pipeline sends them before the setWatches reply.
//! Paths repeated in a list are processed each time, as ZooKeeper does.

use super::{Notification, WatchError, WatchKind, WatchManager, SYNTHESIZED_EVENT_ZXID};
use crate::types::{ConnId, EventType, Stat, Zxid};

/// The path lists of a setWatches / setWatches2 request (setWatches has empty persistent
/// lists).
#[derive(Clone, Copy, Debug, Default)]
pub struct SetWatchesLists<'a> {
    /// Data watches (getData, or exists on an existing node).
    pub data: &'a [String],
    /// Exist watches (exists on a missing node).
    pub exist: &'a [String],
    /// Child watches.
    pub child: &'a [String],
    /// Persistent watches (setWatches2 only).
    pub persistent: &'a [String],
    /// Persistent recursive watches (setWatches2 only).
    pub persistent_recursive: &'a [String],
}

impl WatchManager {
    /// Re-arms `conn`'s watches against the current tree (`lookup` gives a node's Stat, or
    /// None when it does not exist) and returns the events for changes it missed since
    /// `relative_zxid`, in the order described in the module doc.
    ///
    /// On [`WatchError::TooManyWatches`] the registrations made before the limit was reached
    /// stay; the pipeline closes the connection (which drops them all).
    pub fn set_watches(
        &mut self,
        conn: ConnId,
        relative_zxid: Zxid,
        lists: &SetWatchesLists<'_>,
        lookup: impl Fn(&str) -> Option<Stat>,
    ) -> Result<Vec<Notification>, WatchError> {
        let mut out = Vec::new();
        let now = |out: &mut Vec<Notification>, path: &str, event: EventType| {
            out.push(Notification {
                conn,
                event,
                path: path.to_string(),
                zxid: SYNTHESIZED_EVENT_ZXID,
            });
        };
        for path in lists.data {
            match lookup(path) {
                None => now(&mut out, path, EventType::NodeDeleted),
                Some(stat) if stat.mzxid > relative_zxid.0 => {
                    now(&mut out, path, EventType::NodeDataChanged);
                }
                Some(_) => self.register(conn, path, WatchKind::Data)?,
            }
        }
        for path in lists.exist {
            match lookup(path) {
                Some(_) => now(&mut out, path, EventType::NodeCreated),
                None => self.register(conn, path, WatchKind::Data)?,
            }
        }
        for path in lists.child {
            match lookup(path) {
                None => now(&mut out, path, EventType::NodeDeleted),
                Some(stat) if stat.pzxid > relative_zxid.0 => {
                    now(&mut out, path, EventType::NodeChildrenChanged);
                }
                Some(_) => self.register(conn, path, WatchKind::Child)?,
            }
        }
        for path in lists.persistent {
            self.register(conn, path, WatchKind::Persistent)?;
        }
        for path in lists.persistent_recursive {
            self.register(conn, path, WatchKind::PersistentRecursive)?;
        }
        Ok(out)
    }
}
