//! checkWatches (op 17) and removeWatches (op 18).
//!
//! Types, as ZooKeeper 3.8's server reads them from the wire:
//! - Children (1): the connection's one-shot child watch on the path;
//! - Data (2): its one-shot data watch (set by getData or exists);
//! - Any (3): any watch it holds on the path, persistent and recursive ones included;
//! - Persistent (4) / PersistentRecursive (5): 3.8 cannot deserialize them and answers
//!   MarshallingError, leaving every watch armed (observed; 3.9 accepts them,
//!   ZOOKEEPER-4472).
//!
//! Children and Data match one-shot watches only, as in 3.9. (3.8 kept a single mode per
//! (watcher, path) per table, so there removeWatches Data on a path holding a persistent
//! watch stripped the persistent watch from the data table; Arbor does not copy that.)
//! checkWatches asks about this connection only. (3.8's `containsWatcher` answered yes when
//! *any* connection watched the path; Arbor does not copy that either.)
//! Removing a watch sends no notification (observed on 3.8).

use super::registry::Kinds;
use super::{WatchKind, WatchManager, WatchQueryError};
use crate::types::{ConnId, WatcherType};

impl WatchManager {
    /// checkWatches: Ok if `conn` holds a watch of type `ty` on `path`.
    pub fn check_watches(
        &self,
        conn: ConnId,
        path: &str,
        ty: WatcherType,
    ) -> Result<(), WatchQueryError> {
        let wanted = kinds_of_type(ty)?;
        if self.registry.kinds(conn, path).intersect(wanted).is_empty() {
            return Err(no_watcher(conn, path, ty));
        }
        Ok(())
    }

    /// removeWatches: removes `conn`'s watches of type `ty` on `path`; NoWatcher if there
    /// were none.
    pub fn remove_watches(
        &mut self,
        conn: ConnId,
        path: &str,
        ty: WatcherType,
    ) -> Result<(), WatchQueryError> {
        let wanted = kinds_of_type(ty)?;
        if self.registry.remove(conn, path, wanted).is_empty() {
            return Err(no_watcher(conn, path, ty));
        }
        Ok(())
    }
}

fn kinds_of_type(ty: WatcherType) -> Result<Kinds, WatchQueryError> {
    match ty {
        WatcherType::Children => Ok(Kinds::of(WatchKind::Child)),
        WatcherType::Data => Ok(Kinds::of(WatchKind::Data)),
        WatcherType::Any => Ok(WatchKind::ALL
            .into_iter()
            .fold(Kinds::default(), |acc, k| acc.union(Kinds::of(k)))),
        WatcherType::Persistent | WatcherType::PersistentRecursive => {
            Err(WatchQueryError::UnsupportedType { ty })
        }
    }
}

fn no_watcher(conn: ConnId, path: &str, ty: WatcherType) -> WatchQueryError {
    WatchQueryError::NoWatcher {
        conn,
        path: path.to_string(),
        ty,
    }
}
