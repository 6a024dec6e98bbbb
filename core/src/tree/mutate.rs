//! The tree's primitive mutations, used only by [`crate::txn::apply`].
//!
//! Each takes values a prep already decided (zxid, time, versions, the parent's new child
//! counter) and checks the preconditions prep checked *before* changing anything: they
//! cannot fail for a txn prepped against the same state, so a violated precondition means
//! the txn does not fit this tree (a bug, a damaged or lying leader). Like ZooKeeper 3.8's
//! `DataTree.processTxn`, which records such a failure in the txn's result and carries on,
//! the mutation is then skipped and reported as a [`Misfit`]: the tree stays whole (every
//! invariant holds), nothing panics on what a peer sent. The replica logs it and counts it,
//! and the simulator fails any run in which one happens (its peers are honest).
//! Each keeps the digest, the ACL reference counts and the kind indexes exact.

use std::sync::Arc;

use crate::types::{Acl, SessionId, Stat, WallMillis, Zxid};

use super::node::{NodeKind, StoredStat};
use super::path::{is_special_path, split_parent, validate_path, ROOT_PATH};
use super::DataTree;

/// A committed txn that does not fit the tree it is applied to (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{op} {path}: {what}")]
pub struct Misfit {
    /// The primitive: `create`, `delete`, `setData`, `setACL`, `multi`.
    pub op: &'static str,
    /// The path it was about.
    pub path: String,
    /// The precondition that failed.
    pub what: &'static str,
}

fn misfit(op: &'static str, path: &str, what: &'static str) -> Misfit {
    Misfit {
        op,
        path: path.to_string(),
        what,
    }
}

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
    ) -> Result<Stat, Misfit> {
        let bad = |what| Err(misfit("create", path, what));
        if validate_path(path).is_err() || path == ROOT_PATH {
            return bad("invalid path");
        }
        let Some((parent_path, name)) = split_parent(path) else {
            return bad("no parent");
        };
        let Some(parent) = self.resolve(parent_path) else {
            return bad("parent does not exist");
        };
        if self.index.find(&self.arena, path).is_some() {
            return bad("node exists");
        }
        if matches!(self.arena.get(parent).kind(), NodeKind::Ephemeral(_)) {
            return bad("parent is ephemeral");
        }
        if parent_cversion != self.arena.get(parent).cversion.wrapping_add(1) {
            return bad("parent child counter mismatch");
        }
        let ppath = if parent_path.is_empty() {
            ROOT_PATH
        } else {
            parent_path
        };
        let old_meta = self.node_meta_digest(ppath, parent);
        let p = self.arena.get_mut(parent);
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
        Ok(self.arena.get(id).stat())
    }

    /// Deletes a childless node; the parent's pzxid becomes `zxid` (never lowered, as
    /// 3.8's `deleteNode`); its child counter is untouched.
    pub(crate) fn apply_delete(&mut self, path: &str, zxid: Zxid) -> Result<(), Misfit> {
        let bad = |what| Err(misfit("delete", path, what));
        if is_special_path(path) || validate_path(path).is_err() {
            return bad("not a deletable path");
        }
        let Some(id) = self.resolve(path) else {
            return bad("node does not exist");
        };
        if self.arena.get(id).num_children() != 0 {
            return bad("node has children");
        }
        let Some((parent_path, _)) = split_parent(path) else {
            return bad("no parent");
        };
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
        Ok(())
    }

    /// Replaces a node's data with version `version`; mzxid / mtime are set.
    pub(crate) fn apply_set_data(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        version: i32,
        zxid: Zxid,
        time: WallMillis,
    ) -> Result<Stat, Misfit> {
        let Some(id) = self.resolve(path) else {
            return Err(misfit("setData", path, "node does not exist"));
        };
        if version != self.arena.get(id).version.wrapping_add(1) {
            return Err(misfit("setData", path, "version mismatch"));
        }
        let old = self.node_digest(path, id);
        let n = self.arena.get_mut(id);
        n.set_data(data);
        n.version = version;
        n.mzxid = zxid.0;
        n.mtime = time.0;
        let new = self.node_digest(path, id);
        self.digest = self.digest.wrapping_sub(old).wrapping_add(new);
        Ok(self.arena.get(id).stat())
    }

    /// Replaces a node's ACL with aversion `aversion`.
    pub(crate) fn apply_set_acl(
        &mut self,
        path: &str,
        acl: &[Acl],
        aversion: i32,
    ) -> Result<Stat, Misfit> {
        let Some(id) = self.resolve(path) else {
            return Err(misfit("setACL", path, "node does not exist"));
        };
        if aversion != self.arena.get(id).aversion.wrapping_add(1) {
            return Err(misfit("setACL", path, "aversion mismatch"));
        }
        let old_meta = self.node_meta_digest(path, id);
        let new_idx = self.acls.intern(acl);
        let n = self.arena.get_mut(id);
        let old_idx = std::mem::replace(&mut n.acl, new_idx);
        n.aversion = aversion;
        self.acls.release(old_idx);
        let new_meta = self.node_meta_digest(path, id);
        self.digest = self.digest.wrapping_sub(old_meta).wrapping_add(new_meta);
        Ok(self.arena.get(id).stat())
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
            // An owned ephemeral has no children and is never a special path, so the
            // delete fits.
            if owned && self.apply_delete(path, zxid).is_ok() {
                deleted.push(path.clone());
            }
        }
        let rest: Vec<String> = self
            .ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for path in rest {
            if self.apply_delete(&path, zxid).is_ok() {
                deleted.push(path);
            }
        }
        deleted
    }
}
