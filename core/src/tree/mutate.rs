//! The tree's primitive mutations, used only by [`crate::txn::apply`].
//!
//! Each takes values a prep already decided (zxid, time, versions, the parent's new child
//! counter) and asserts the preconditions prep checked: they cannot fail for a txn prepped
//! against the same state, and a violated precondition is a bug, not bad input.
//! Each keeps the digest, the ACL reference counts and the kind indexes exact.

use std::sync::Arc;

use crate::types::{Acl, SessionId, Stat, WallMillis, Zxid};

use super::node::{NodeKind, StoredStat};
use super::path::{split_parent, ROOT_PATH};
use super::DataTree;

impl DataTree {
    /// Records that txn `zxid` is being applied (zxids strictly increase).
    pub(crate) fn begin_txn(&mut self, zxid: Zxid) {
        assert!(
            zxid > self.last_zxid,
            "txn {zxid} applied after {}",
            self.last_zxid
        );
        self.last_zxid = zxid;
    }

    /// Creates a node; the parent's child counter becomes `parent_cversion` and its pzxid
    /// `zxid`. Returns the new node's client stat.
    #[allow(clippy::too_many_arguments)] // mirrors CreateTxn's fields
    pub(crate) fn apply_create(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        kind: NodeKind,
        parent_cversion: i32,
        zxid: Zxid,
        time: WallMillis,
    ) -> Stat {
        let (parent_path, name) = split_parent(path).expect("created path has a parent");
        let parent = self.resolve(parent_path).expect("create: parent exists");
        assert!(
            self.index.find(&self.arena, path).is_none(),
            "create: {path} already exists"
        );
        assert!(
            !matches!(self.arena.get(parent).kind(), NodeKind::Ephemeral(_)),
            "create: parent of {path} is ephemeral"
        );
        let ppath = if parent_path.is_empty() {
            ROOT_PATH
        } else {
            parent_path
        };
        let old_meta = self.node_meta_digest(ppath, parent);
        let p = self.arena.get_mut(parent);
        assert_eq!(
            parent_cversion,
            p.cversion.wrapping_add(1),
            "create: parent child counter mismatch for {path}"
        );
        // The counter wraps as a Java int (suffix `-2147483648` after `2147483647`, as the
        // programmer's guide describes). 3.8's createNode only stores a *larger* counter
        // (a guard for fuzzy-snapshot replay, which Arbor does not have), so at the wrap it
        // would keep MAX and repeat the suffix; we follow the documented wrap instead.
        p.cversion = parent_cversion;
        p.pzxid = zxid.0;
        let new_meta = self.node_meta_digest(ppath, parent);
        self.digest = self.digest.wrapping_sub(old_meta).wrapping_add(new_meta);
        let stat = StoredStat {
            czxid: zxid.0,
            mzxid: zxid.0,
            pzxid: zxid.0,
            ctime: time.0,
            mtime: time.0,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: kind.to_ephemeral_owner(),
        };
        let id = self.attach_raw(parent, path, name, data, &stat, acl);
        self.arena.get(id).stat()
    }

    /// Deletes a childless node; the parent's pzxid becomes `zxid` (never lowered, as
    /// 3.8's `deleteNode`); its child counter is untouched.
    pub(crate) fn apply_delete(&mut self, path: &str, zxid: Zxid) {
        let id = self.resolve(path).expect("delete: node exists");
        let (parent_path, _) = split_parent(path).expect("deleted path has a parent");
        let ppath = if parent_path.is_empty() {
            ROOT_PATH
        } else {
            parent_path
        };
        let parent = self.arena.get(id).parent;
        let old_meta = self.node_meta_digest(ppath, parent);
        let detached_from = self.detach_raw(path, id);
        assert_eq!(detached_from, parent);
        let p = self.arena.get_mut(parent);
        if zxid.0 > p.pzxid {
            p.pzxid = zxid.0;
        }
        let new_meta = self.node_meta_digest(ppath, parent);
        self.digest = self.digest.wrapping_sub(old_meta).wrapping_add(new_meta);
    }

    /// Replaces a node's data with version `version`; mzxid / mtime are set.
    pub(crate) fn apply_set_data(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        version: i32,
        zxid: Zxid,
        time: WallMillis,
    ) -> Stat {
        let id = self.resolve(path).expect("setData: node exists");
        let old = self.node_digest(path, id);
        let n = self.arena.get_mut(id);
        assert_eq!(
            version,
            n.version.wrapping_add(1),
            "setData: version mismatch on {path}"
        );
        n.set_data(data);
        n.version = version;
        n.mzxid = zxid.0;
        n.mtime = time.0;
        let new = self.node_digest(path, id);
        self.digest = self.digest.wrapping_sub(old).wrapping_add(new);
        self.arena.get(id).stat()
    }

    /// Replaces a node's ACL with aversion `aversion`.
    pub(crate) fn apply_set_acl(&mut self, path: &str, acl: &[Acl], aversion: i32) -> Stat {
        let id = self.resolve(path).expect("setACL: node exists");
        let old_meta = self.node_meta_digest(path, id);
        let new_idx = self.acls.intern(acl);
        let n = self.arena.get_mut(id);
        assert_eq!(
            aversion,
            n.aversion.wrapping_add(1),
            "setACL: aversion mismatch on {path}"
        );
        let old_idx = std::mem::replace(&mut n.acl, new_idx);
        n.aversion = aversion;
        self.acls.release(old_idx);
        let new_meta = self.node_meta_digest(path, id);
        self.digest = self.digest.wrapping_sub(old_meta).wrapping_add(new_meta);
        self.arena.get(id).stat()
    }

    /// Registers a session.
    pub(crate) fn apply_create_session(&mut self, session: SessionId, timeout_ms: i32) {
        Arc::make_mut(&mut self.sessions).insert(session, timeout_ms);
    }

    /// Closes a session: deletes the listed paths that are still its ephemerals, then any
    /// other ephemeral it still owns (3.8 `killSession`), in path order. Returns the
    /// deleted paths in deletion order.
    pub(crate) fn apply_close_session(
        &mut self,
        session: SessionId,
        listed: &[String],
        zxid: Zxid,
    ) -> Vec<String> {
        if self.sessions.contains_key(&session) {
            Arc::make_mut(&mut self.sessions).remove(&session);
        }
        let mut deleted = Vec::new();
        for path in listed {
            let owned = self
                .ephemerals
                .get(&session)
                .is_some_and(|s| s.contains(path));
            if owned {
                self.apply_delete(path, zxid);
                deleted.push(path.clone());
            }
        }
        let rest: Vec<String> = self
            .ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for path in rest {
            self.apply_delete(&path, zxid);
            deleted.push(path);
        }
        deleted
    }
}
