//! Read operations, answered from the current state exactly as 3.8's
//! `FinalRequestProcessor` answers them: the path is looked up as a raw key (no
//! validation; `""` is the root's alias), NoNode comes before NoAuth, and the required
//! permission is READ (getData, getChildren, getChildren2, getAllChildrenNumber), READ or
//! ADMIN (getACL), or none (exists, getEphemerals).
//!
//! Children are returned sorted by name so that replies are deterministic (ZooKeeper
//! returns hash order; clients sort).

use crate::types::{Acl, ErrorCode, Id, Perms, SessionId, Stat};

use super::acl::{check_acl, mask_digest_ids};

/// A sub-op of multiRead (op 22): only getData and getChildren are allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadOp {
    /// getChildren (op 8); the watch flag is the pipeline's business.
    GetChildren {
        /// Path.
        path: String,
    },
    /// getData (op 4).
    GetData {
        /// Path.
        path: String,
    },
}

/// The result of one multiRead sub-op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadResult {
    /// Sorted child names.
    Children(Vec<String>),
    /// Data (`None` for null data) and stat.
    Data(Option<Vec<u8>>, Stat),
}
use super::node::ROOT;
use super::DataTree;

impl DataTree {
    /// The client stat of `path`, if it exists.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.resolve(path).map(|id| self.arena.get(id).stat())
    }

    /// exists: the stat, NoNode, or BadArguments for a path with a NUL. No ACL check in
    /// 3.8 (vector `exists_noauth`).
    pub fn exists(&self, path: &str) -> Result<Stat, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        self.stat(path).ok_or(ErrorCode::NoNode)
    }

    /// getData: data (`None` for null data) and stat; needs READ.
    pub fn get_data(&self, path: &str, auth: &[Id]) -> Result<(Option<&[u8]>, Stat), ErrorCode> {
        let id = self.readable(path, Perms::READ, auth)?;
        let n = self.arena.get(id);
        Ok((n.data(), n.stat()))
    }

    /// getChildren / getChildren2: child names sorted, and the node's stat; needs READ.
    pub fn get_children(&self, path: &str, auth: &[Id]) -> Result<(Vec<String>, Stat), ErrorCode> {
        let id = self.readable(path, Perms::READ, auth)?;
        let n = self.arena.get(id);
        // Child lists are kept sorted by name.
        let names = n
            .child_ids()
            .iter()
            .map(|&c| self.arena.get(c).name().to_string())
            .collect();
        Ok((names, n.stat()))
    }

    /// getAllChildrenNumber: every descendant at any depth (for `/` this counts the
    /// `/zookeeper` subtree); needs READ. For the root alias `""` 3.8 counts every key
    /// starting with `/`, i.e. all nodes including the root itself.
    pub fn get_all_children_number(&self, path: &str, auth: &[Id]) -> Result<i32, ErrorCode> {
        let id = self.readable(path, Perms::READ, auth)?;
        let count = if path.is_empty() {
            self.node_count
        } else if id == ROOT {
            self.node_count - 1
        } else {
            let mut count = 0usize;
            let mut stack = vec![id];
            while let Some(cur) = stack.pop() {
                let kids = self.arena.get(cur).child_ids();
                count += kids.len();
                stack.extend_from_slice(kids);
            }
            count
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    /// getEphemerals: the session's ephemeral paths starting with `prefix` as a plain
    /// string prefix; a prefix that is empty or `/` after Java `trim()` means all. Sorted.
    pub fn get_ephemerals(&self, session: SessionId, prefix: &str) -> Vec<String> {
        let Some(set) = self.ephemerals.get(&session) else {
            return Vec::new();
        };
        let trimmed = prefix.trim_matches(|c: char| c <= ' ');
        if trimmed.is_empty() || trimmed == "/" {
            return set.iter().cloned().collect();
        }
        set.iter()
            .filter(|p| p.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// getACL: the ACL and stat; needs READ or ADMIN, and without ADMIN digest ids come
    /// back as `user:x`.
    pub fn get_acl(&self, path: &str, auth: &[Id]) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let id = self.readable(path, Perms::READ.union(Perms::ADMIN), auth)?;
        let n = self.arena.get(id);
        let acl = self.acls.get(n.acl);
        let out = if check_acl(acl, Perms::ADMIN, auth) {
            acl.to_vec()
        } else {
            mask_digest_ids(acl)
        };
        Ok((out, n.stat()))
    }

    /// multiRead: each sub-op evaluated independently against the current state; a failing
    /// read yields its error in its slot and the others still run.
    pub fn multi_read(&self, ops: &[ReadOp], auth: &[Id]) -> Vec<Result<ReadResult, ErrorCode>> {
        ops.iter()
            .map(|op| match op {
                ReadOp::GetChildren { path } => self
                    .get_children(path, auth)
                    .map(|(kids, _)| ReadResult::Children(kids)),
                ReadOp::GetData { path } => self
                    .get_data(path, auth)
                    .map(|(d, stat)| ReadResult::Data(d.map(<[u8]>::to_vec), stat)),
            })
            .collect()
    }

    /// The stored ACL of `path` (unmasked), if it exists.
    pub fn acl(&self, path: &str) -> Option<&[Acl]> {
        self.resolve(path)
            .map(|id| &**self.acls.get(self.arena.get(id).acl))
    }

    /// Looks `path` up (NoNode) and checks `perm` against its ACL (NoAuth).
    fn readable(&self, path: &str, perm: Perms, auth: &[Id]) -> Result<u32, ErrorCode> {
        let id = self.resolve(path).ok_or(ErrorCode::NoNode)?;
        if !check_acl(self.acls.get(self.arena.get(id).acl), perm, auth) {
            return Err(ErrorCode::NoAuth);
        }
        Ok(id)
    }
}
