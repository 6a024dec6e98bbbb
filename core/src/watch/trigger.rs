//! Firing watches for the changes a transaction made.
//!
//! For each [`WatchTrigger`] (in the order `txn::apply` reported them, which is ZooKeeper's
//! firing order) the connections to notify are:
//! - on the path itself, every connection holding a kind the event reaches:
//!   NodeCreated / NodeDataChanged reach Data, Persistent and PersistentRecursive;
//!   NodeDeleted reaches Data, Child, Persistent and PersistentRecursive;
//!   NodeChildrenChanged reaches Child and Persistent;
//! - on each proper ancestor of the path, connections holding PersistentRecursive, for every
//!   event but NodeChildrenChanged. Ancestors are walked only while some recursive watch
//!   exists, and each ancestor costs one lookup in the recursive-path index.
//!
//! A connection reached through several registrations gets one event per trigger (ZooKeeper
//! collects watchers into a set per trigger, and for a delete suppresses in the child table
//! the watchers the data table already notified). Every one-shot registration reached is
//! removed, also when its connection was already notified through another one.
//!
//! Order: triggers in the given order; within one trigger, ascending [`ConnId`]. (ZooKeeper
//! iterates a hash set there, so any order within a trigger is compatible; ascending ConnId is
//! ours.) Events of one connection thus keep the trigger order.

use std::collections::BTreeSet;

use super::registry::Kinds;
use super::{Notification, WatchKind, WatchManager};
use crate::txn::WatchTrigger;
use crate::types::{ConnId, EventType, Zxid};

impl WatchManager {
    /// Fires the watches `triggers` reach and returns the notifications to send, removing the
    /// one-shot watches that fired. `zxid` is the transaction's, copied into each
    /// notification.
    ///
    /// Order: triggers in the given order; within one trigger, ascending [`ConnId`], one
    /// event per connection however many of its watches matched.
    pub fn trigger(&mut self, triggers: &[WatchTrigger], zxid: Zxid) -> Vec<Notification> {
        let mut out = Vec::new();
        for t in triggers {
            self.fire(&t.path, t.event, zxid, &mut out);
        }
        out
    }

    /// Fires one event on one path, appending to `out`.
    pub fn fire(&mut self, path: &str, event: EventType, zxid: Zxid, out: &mut Vec<Notification>) {
        let reach = kinds_reached(event);
        let mut conns: BTreeSet<ConnId> = BTreeSet::new();
        let mut spent: Vec<(ConnId, Kinds)> = Vec::new();
        if let Some(watchers) = self.registry.at_path(path) {
            for (conn, kinds) in watchers {
                let hit = kinds.intersect(reach);
                if hit.is_empty() {
                    continue;
                }
                conns.insert(*conn);
                let one_shot = hit.intersect(one_shot_kinds());
                if !one_shot.is_empty() {
                    spent.push((*conn, one_shot));
                }
            }
        }
        if event != EventType::NodeChildrenChanged && self.registry.has_recursive() {
            for ancestor in Ancestors::of(path) {
                if !self.registry.is_recursive_path(ancestor) {
                    continue;
                }
                let watchers = self
                    .registry
                    .at_path(ancestor)
                    .expect("a recursive path has watchers");
                conns.extend(
                    watchers
                        .iter()
                        .filter(|(_, k)| k.contains(WatchKind::PersistentRecursive))
                        .map(|(c, _)| *c),
                );
            }
        }
        for (conn, kinds) in spent {
            let gone = self.registry.remove(conn, path, kinds);
            assert_eq!(gone, kinds, "a one-shot watch that fired was not held");
        }
        out.extend(conns.into_iter().map(|conn| Notification {
            conn,
            event,
            path: path.to_string(),
            zxid,
        }));
    }
}

/// The kinds registered on the event's own path that `event` reaches.
fn kinds_reached(event: EventType) -> Kinds {
    let data = Kinds::of(WatchKind::Data)
        .union(Kinds::of(WatchKind::Persistent))
        .union(Kinds::of(WatchKind::PersistentRecursive));
    match event {
        EventType::NodeCreated | EventType::NodeDataChanged => data,
        EventType::NodeDeleted => data.union(Kinds::of(WatchKind::Child)),
        EventType::NodeChildrenChanged => {
            Kinds::of(WatchKind::Child).union(Kinds::of(WatchKind::Persistent))
        }
        // Only the four node events are ever triggered by a transaction (txn::apply); the
        // others are client-side states.
        other => panic!("{other:?} is not a server-side watch event"),
    }
}

fn one_shot_kinds() -> Kinds {
    Kinds::of(WatchKind::Data).union(Kinds::of(WatchKind::Child))
}

/// The proper ancestors of an absolute path, nearest first, ending with `/`.
pub(crate) struct Ancestors<'a> {
    rest: Option<&'a str>,
}

impl<'a> Ancestors<'a> {
    pub(crate) fn of(path: &'a str) -> Ancestors<'a> {
        Ancestors {
            rest: (path != "/").then_some(path),
        }
    }
}

impl<'a> Iterator for Ancestors<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let cur = self.rest?;
        let cut = cur.bytes().rposition(|b| b == b'/')?;
        let parent = if cut == 0 { "/" } else { &cur[..cut] };
        self.rest = (parent != "/").then_some(parent);
        Some(parent)
    }
}
