//! Write preparation: validate a [`WriteOp`] against the current state (the tree plus
//! changes still in flight) and decide everything the txn needs — final sequential path,
//! versions, the parent's new child counter, ctime / mtime, zxid, session — exactly in the
//! order 3.8's `PrepRequestProcessor` checks things (which decides which error wins).
//!
//! Inputs: a [`NodeLookup`] (the committed tree), the [`PendingChanges`] of txns prepped
//! but not yet applied, a [`PrepContext`] (session, auth identities, zxid, leader time)
//! and the op. Outputs: a [`Txn`] — an error txn when ZooKeeper would answer with an error
//! code (failed writes are transactions too) — or [`PrepRejected`] for a request that must
//! not become a txn at all. On success the op's effects are added to `pending`, so later
//! preps (and later ops of the same multi) see them.
//!
//! Node kind follows the op code, not the flags (as 3.8 applies it): create / create2
//! with flags 4 make a persistent node, createContainer with any non-TTL flags makes a
//! container, createTTL requires TTL flags. Sequential naming follows the flags.
//!
//! Invariants: a txn prepped against state S applies to S without failing; a failed op
//! (or failed multi) leaves `pending` unchanged.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::txn::{CreateTxn, Txn, TxnBody, TxnHeader};
use crate::types::{Acl, CreateMode, ErrorCode, Id, Perms, SessionId, WallMillis, Zxid};

use super::acl::{check_acl, fixup_acl};
use super::node::{NodeKind, StoredStat};
use super::path::{is_special_path, sequential_path, split_parent, validate_path, ROOT_PATH};
use super::{DataTree, TreeConfig};

/// Which create op code carried a create (the node kind follows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CreateOp {
    /// op 1.
    Create,
    /// op 15.
    Create2,
    /// op 19: always a container.
    CreateContainer,
    /// op 21 with its `ttl` field (ms).
    CreateTtl {
        /// The requested TTL in ms.
        ttl: i64,
    },
}

/// A semantic write request, independent of the wire types. Alphabetical.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WriteOp {
    /// check (op 13): the node's data version must equal `version` (-1 = any).
    Check {
        /// Path.
        path: String,
        /// Expected version.
        version: i32,
    },
    /// closeSession: deletes the calling session's ephemerals.
    CloseSession,
    /// create / create2 / createContainer / createTTL.
    Create {
        /// Requested path (sequential suffix not yet applied).
        path: String,
        /// Data; `None` is a null buffer.
        data: Option<Vec<u8>>,
        /// Requested ACL (before `auth` expansion).
        acl: Vec<Acl>,
        /// Raw `flags` (invalid values are BadArguments).
        flags: i32,
        /// The op code that carried it.
        op: CreateOp,
    },
    /// createSession for the context's session.
    CreateSession {
        /// Negotiated timeout in ms.
        timeout_ms: i32,
    },
    /// delete (op 2).
    Delete {
        /// Path.
        path: String,
        /// Expected version (-1 = any).
        version: i32,
    },
    /// Leader-issued delete of a due container or TTL node (deleteContainer, op 20). The
    /// due condition is re-checked against the context's time.
    DeleteExpired {
        /// Path.
        path: String,
    },
    /// multi (op 14): all or nothing, one zxid.
    Multi(Vec<WriteOp>),
    /// setACL (op 7).
    SetAcl {
        /// Path.
        path: String,
        /// New ACL (before `auth` expansion).
        acl: Vec<Acl>,
        /// Expected aversion (-1 = any).
        version: i32,
    },
    /// setData (op 5).
    SetData {
        /// Path.
        path: String,
        /// New data; `None` is a null buffer.
        data: Option<Vec<u8>>,
        /// Expected version (-1 = any).
        version: i32,
    },
}

/// Who asks, with which identities, and what the leader decided for this txn.
#[derive(Clone, Copy, Debug)]
pub struct PrepContext<'a> {
    /// The requesting session (the owner of created ephemerals).
    pub session: SessionId,
    /// The client's request id (echoed into the txn header).
    pub cxid: i32,
    /// The zxid this txn gets (every op of a multi shares it).
    pub zxid: Zxid,
    /// Leader wall-clock ms: ctime / mtime of what this txn creates or changes.
    pub time: WallMillis,
    /// The connection's authenticated identities (`ip:...`, `digest:...`, `super:`).
    pub auth: &'a [Id],
}

/// A request refused before it becomes a txn (the pipeline closes the connection or
/// answers without consuming a zxid).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrepRejected {
    /// Data above `TreeConfig::data_len_max` (3.8 never lets such a frame in).
    #[error("data length {len} exceeds limit {max}")]
    DataTooLarge {
        /// Offending length.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A session op, a leader-only op or a nested multi inside a multi.
    #[error("op {op} is not allowed inside a multi")]
    NotAllowedInMulti {
        /// Which op.
        op: &'static str,
    },
}

/// A node as prep sees it: stored stat, child count and ACL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    /// Stored stat (child counter, raw ephemeral owner).
    pub stat: StoredStat,
    /// Number of children.
    pub num_children: i32,
    /// The ACL.
    pub acl: Arc<[Acl]>,
}

/// What prep reads: the committed tree, or the tree layered with in-flight changes.
pub trait NodeLookup {
    /// The node at exactly `path` (`""` is the root's alias), if it exists.
    fn lookup(&self, path: &str) -> Option<NodeView>;
    /// Every ephemeral path owned by `session`.
    fn ephemerals_of(&self, session: SessionId) -> BTreeSet<String>;
}

impl NodeLookup for DataTree {
    fn lookup(&self, path: &str) -> Option<NodeView> {
        let id = self.resolve(path)?;
        let n = self.arena.get(id);
        Some(NodeView {
            stat: n.stored_stat(),
            num_children: n.num_children() as i32,
            acl: self.acls.get(n.acl).clone(),
        })
    }

    fn ephemerals_of(&self, session: SessionId) -> BTreeSet<String> {
        self.ephemerals.get(&session).cloned().unwrap_or_default()
    }
}

/// Changes of txns prepped but not yet applied (ZooKeeper's `outstandingChanges`), keyed
/// by path; `None` marks a pending delete.
#[derive(Clone, Debug, Default)]
pub struct PendingChanges {
    changes: BTreeMap<String, (Zxid, Option<NodeView>)>,
    /// `(zxid, path)` of each change in prep order (zxids never decrease: a leader preps in
    /// zxid order), so that retiring is O(retired) rather than a pass over every change.
    order: VecDeque<(Zxid, String)>,
}

impl PartialEq for PendingChanges {
    fn eq(&self, other: &Self) -> bool {
        self.changes == other.changes
    }
}

impl Eq for PendingChanges {}

impl PendingChanges {
    /// No pending changes.
    pub fn new() -> PendingChanges {
        PendingChanges::default()
    }

    /// Number of paths with a pending change.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// True if nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Forgets changes made by txns with zxid ≤ `applied` (they are in the tree now).
    pub fn retire_through(&mut self, applied: Zxid) {
        while self.order.front().is_some_and(|(z, _)| *z <= applied) {
            let Some((z, path)) = self.order.pop_front() else {
                break;
            };
            // A later change to the same path replaced this one and stays.
            if self.changes.get(&path).is_some_and(|(cz, _)| *cz == z) {
                self.changes.remove(&path);
            }
        }
    }
}

/// Prepares `op`: a txn (possibly an error txn), with its effects recorded in `pending`.
pub fn prep<L: NodeLookup + ?Sized>(
    base: &L,
    pending: &mut PendingChanges,
    config: &TreeConfig,
    ctx: &PrepContext<'_>,
    op: &WriteOp,
) -> Result<Txn, PrepRejected> {
    check_request(op, config, false)?;
    let (body, local) = {
        let mut st = Staged {
            base,
            pending,
            local: BTreeMap::new(),
        };
        let body = match op {
            WriteOp::Multi(ops) => prep_multi(&mut st, config, ctx, ops),
            _ => match prep_single(&mut st, config, ctx, op) {
                Ok(body) => body,
                Err(err) => {
                    st.local.clear();
                    TxnBody::Error { err }
                }
            },
        };
        (body, st.local)
    };
    for (path, view) in local {
        debug_assert!(
            pending.order.back().is_none_or(|(z, _)| *z <= ctx.zxid),
            "prep out of zxid order"
        );
        pending.order.push_back((ctx.zxid, path.clone()));
        pending.changes.insert(path, (ctx.zxid, view));
    }
    Ok(Txn::new(
        TxnHeader {
            session: ctx.session,
            cxid: ctx.cxid,
            zxid: ctx.zxid,
            time: ctx.time,
        },
        body,
    ))
}

impl DataTree {
    /// Prepares `op` against the committed tree alone (nothing in flight).
    pub fn prep(&self, ctx: &PrepContext<'_>, op: &WriteOp) -> Result<Txn, PrepRejected> {
        prep(self, &mut PendingChanges::new(), &self.config, ctx, op)
    }
}

/// Request-level checks: data size limits and what may appear inside a multi.
fn check_request(op: &WriteOp, config: &TreeConfig, in_multi: bool) -> Result<(), PrepRejected> {
    let data_len = |d: &Option<Vec<u8>>| d.as_ref().map_or(0, Vec::len);
    let too_large = |len: usize| -> Result<(), PrepRejected> {
        if len > config.data_len_max {
            return Err(PrepRejected::DataTooLarge {
                len,
                max: config.data_len_max,
            });
        }
        Ok(())
    };
    let refuse = |name: &'static str| -> Result<(), PrepRejected> {
        if in_multi {
            return Err(PrepRejected::NotAllowedInMulti { op: name });
        }
        Ok(())
    };
    match op {
        WriteOp::Create { data, .. } | WriteOp::SetData { data, .. } => too_large(data_len(data)),
        WriteOp::Multi(ops) => {
            refuse("multi")?;
            ops.iter().try_for_each(|o| check_request(o, config, true))
        }
        WriteOp::CloseSession => refuse("closeSession"),
        WriteOp::CreateSession { .. } => refuse("createSession"),
        WriteOp::DeleteExpired { .. } => refuse("deleteContainer"),
        WriteOp::Check { .. } | WriteOp::Delete { .. } | WriteOp::SetAcl { .. } => Ok(()),
    }
}

/// The base lookup, the pending changes, and this request's own changes so far.
struct Staged<'a, L: NodeLookup + ?Sized> {
    base: &'a L,
    pending: &'a PendingChanges,
    local: BTreeMap<String, Option<NodeView>>,
}

/// The overlay key of a path (`""` and `/` both name the root).
fn key(path: &str) -> &str {
    if path.is_empty() {
        ROOT_PATH
    } else {
        path
    }
}

impl<L: NodeLookup + ?Sized> Staged<'_, L> {
    fn get(&self, path: &str) -> Option<NodeView> {
        let k = key(path);
        if let Some(v) = self.local.get(k) {
            return v.clone();
        }
        if let Some((_, v)) = self.pending.changes.get(k) {
            return v.clone();
        }
        self.base.lookup(path)
    }

    fn put(&mut self, path: &str, view: Option<NodeView>) {
        self.local.insert(key(path).to_string(), view);
    }

    fn ephemerals_of(&self, session: SessionId) -> BTreeSet<String> {
        let mut set = self.base.ephemerals_of(session);
        let layers = self
            .pending
            .changes
            .iter()
            .map(|(p, (_, v))| (p, v))
            .chain(self.local.iter());
        for (path, view) in layers {
            match view {
                None => {
                    set.remove(path);
                }
                Some(v) if v.stat.kind() == NodeKind::Ephemeral(session) => {
                    set.insert(path.clone());
                }
                // Deleted and re-created by another session (or as a non-ephemeral) in
                // pending changes: no longer this session's. Keeping it would make the
                // closeSession prep mark a live node deleted, and a later create of that
                // path would be prepped against a view that disagrees with the tree.
                Some(_) => {
                    set.remove(path);
                }
            }
        }
        set
    }

    /// Records the removal of a child of `parent_path` at `zxid`.
    fn child_removed(&mut self, parent_path: &str, zxid: Zxid) {
        let mut parent = self
            .get(parent_path)
            .expect("a removed node's parent exists");
        parent.num_children -= 1;
        assert!(
            parent.num_children >= 0,
            "negative child count under {parent_path:?}"
        );
        parent.stat.pzxid = zxid.0;
        self.put(parent_path, Some(parent));
    }
}

fn prep_multi<L: NodeLookup + ?Sized>(
    st: &mut Staged<'_, L>,
    config: &TreeConfig,
    ctx: &PrepContext<'_>,
    ops: &[WriteOp],
) -> TxnBody {
    let mut bodies = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match prep_single(st, config, ctx, op) {
            Ok(body) => bodies.push(body),
            Err(err) => {
                st.local.clear();
                let results = (0..ops.len())
                    .map(|j| TxnBody::Error {
                        err: match j.cmp(&i) {
                            std::cmp::Ordering::Less => ErrorCode::Ok,
                            std::cmp::Ordering::Equal => err,
                            std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
                        },
                    })
                    .collect();
                return TxnBody::Multi(results);
            }
        }
    }
    TxnBody::Multi(bodies)
}

fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn prep_single<L: NodeLookup + ?Sized>(
    st: &mut Staged<'_, L>,
    config: &TreeConfig,
    ctx: &PrepContext<'_>,
    op: &WriteOp,
) -> Result<TxnBody, ErrorCode> {
    match op {
        WriteOp::Check { path, version } => {
            validate_path(path)?;
            let node = st.get(path).ok_or(ErrorCode::NoNode)?;
            if !check_acl(&node.acl, Perms::READ, ctx.auth) {
                return Err(ErrorCode::NoAuth);
            }
            check_version(node.stat.version, *version)?;
            Ok(TxnBody::Check {
                path: path.clone(),
                version: *version,
            })
        }
        WriteOp::CloseSession => {
            let paths = st.ephemerals_of(ctx.session);
            for path in &paths {
                let (parent, _) = split_parent(path).expect("ephemeral paths are valid");
                st.child_removed(parent, ctx.zxid);
                st.put(path, None);
            }
            Ok(TxnBody::CloseSession {
                session: ctx.session,
                ephemerals: paths.into_iter().collect(),
            })
        }
        WriteOp::Create {
            path,
            data,
            acl,
            flags,
            op,
        } => prep_create(st, config, ctx, path, data, acl, *flags, *op),
        WriteOp::CreateSession { timeout_ms } => Ok(TxnBody::CreateSession {
            session: ctx.session,
            timeout_ms: *timeout_ms,
        }),
        WriteOp::Delete { path, version } => {
            let (parent_path, _) = delete_parent(path)?;
            let parent = st.get(parent_path).ok_or(ErrorCode::NoNode)?;
            if !check_acl(&parent.acl, Perms::DELETE, ctx.auth) {
                return Err(ErrorCode::NoAuth);
            }
            let node = st.get(path).ok_or(ErrorCode::NoNode)?;
            check_version(node.stat.version, *version)?;
            if node.num_children > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            st.child_removed(parent_path, ctx.zxid);
            st.put(path, None);
            Ok(TxnBody::Delete { path: path.clone() })
        }
        WriteOp::DeleteExpired { path } => {
            let (parent_path, _) = delete_parent(path)?;
            let node = st.get(path).ok_or(ErrorCode::NoNode)?;
            if node.num_children > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            let due = super::expiry::is_due(&node.stat, node.num_children, ctx.time, config);
            if !due {
                // 3.8 answers BadVersion for a node that is not a container / TTL node; we
                // use it too when the node stopped being due since the reaper saw it.
                return Err(ErrorCode::BadVersion);
            }
            st.get(parent_path).ok_or(ErrorCode::NoNode)?;
            st.child_removed(parent_path, ctx.zxid);
            st.put(path, None);
            Ok(TxnBody::DeleteExpired { path: path.clone() })
        }
        WriteOp::Multi(_) => unreachable!("nested multi is refused by check_request"),
        WriteOp::SetAcl { path, acl, version } => {
            validate_path(path)?;
            let acl = fixup_acl(acl, ctx.auth)?;
            let mut node = st.get(path).ok_or(ErrorCode::NoNode)?;
            if !check_acl(&node.acl, Perms::ADMIN, ctx.auth) {
                return Err(ErrorCode::NoAuth);
            }
            let aversion = check_version(node.stat.aversion, *version)?;
            node.stat.aversion = aversion;
            node.acl = acl.as_slice().into();
            st.put(path, Some(node));
            Ok(TxnBody::SetAcl {
                path: path.clone(),
                acl,
                aversion,
            })
        }
        WriteOp::SetData {
            path,
            data,
            version,
        } => {
            validate_path(path)?;
            let mut node = st.get(path).ok_or(ErrorCode::NoNode)?;
            if !check_acl(&node.acl, Perms::WRITE, ctx.auth) {
                return Err(ErrorCode::NoAuth);
            }
            let new_version = check_version(node.stat.version, *version)?;
            node.stat.version = new_version;
            node.stat.mzxid = ctx.zxid.0;
            node.stat.mtime = ctx.time.0;
            st.put(path, Some(node));
            Ok(TxnBody::SetData {
                path: path.clone(),
                data: data.clone(),
                version: new_version,
            })
        }
    }
}

/// `getParentPathAndValidate`: no `/`, a NUL, or a special path → BadArguments.
fn delete_parent(path: &str) -> Result<(&str, &str), ErrorCode> {
    if is_special_path(path) {
        return Err(ErrorCode::BadArguments);
    }
    split_parent(path).ok_or(ErrorCode::BadArguments)
}

#[allow(clippy::too_many_arguments)] // the create request's fields
fn prep_create<L: NodeLookup + ?Sized>(
    st: &mut Staged<'_, L>,
    config: &TreeConfig,
    ctx: &PrepContext<'_>,
    path: &str,
    data: &Option<Vec<u8>>,
    acl: &[Acl],
    flags: i32,
    op: CreateOp,
) -> Result<TxnBody, ErrorCode> {
    let mode = CreateMode::from_flags(flags).ok_or(ErrorCode::BadArguments)?;
    // validateCreateRequest: TTL flags need extended types, then EphemeralType.validateTTL.
    if mode.is_ttl() && !config.extended_types_enabled {
        return Err(ErrorCode::Unimplemented);
    }
    let ttl = match op {
        CreateOp::CreateTtl { ttl } => ttl,
        _ => -1,
    };
    if mode.is_ttl() {
        if !(1..=NodeKind::TTL_MAX_MS).contains(&ttl) {
            return Err(ErrorCode::BadArguments);
        }
    } else if ttl >= 0 || matches!(op, CreateOp::CreateTtl { .. }) {
        return Err(ErrorCode::BadArguments);
    }
    // validatePathForCreate: the parent is found by the last '/' before any validation.
    let (parent_path, _) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
    let acl = fixup_acl(acl, ctx.auth)?;
    let parent = st.get(parent_path).ok_or(ErrorCode::NoNode)?;
    if !check_acl(&parent.acl, Perms::CREATE, ctx.auth) {
        return Err(ErrorCode::NoAuth);
    }
    let full = if mode.is_sequential() {
        sequential_path(path, parent.stat.cversion)
    } else {
        path.to_string()
    };
    validate_path(&full)?;
    if st.get(&full).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if matches!(parent.stat.kind(), NodeKind::Ephemeral(_)) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let parent_cversion = parent.stat.cversion.wrapping_add(1);
    let kind = match op {
        CreateOp::CreateContainer => NodeKind::Container,
        CreateOp::CreateTtl { ttl } => NodeKind::Ttl(ttl),
        CreateOp::Create | CreateOp::Create2 if mode.is_ephemeral() => {
            assert!(
                NodeKind::is_usable_session(ctx.session),
                "session id {} cannot own ephemerals",
                ctx.session
            );
            NodeKind::Ephemeral(ctx.session)
        }
        CreateOp::Create | CreateOp::Create2 => NodeKind::Persistent,
    };
    let mut parent_view = parent;
    parent_view.num_children += 1;
    parent_view.stat.cversion = parent_cversion;
    parent_view.stat.pzxid = ctx.zxid.0;
    st.put(parent_path, Some(parent_view));
    let acl_arc: Arc<[Acl]> = acl.as_slice().into();
    st.put(
        &full,
        Some(NodeView {
            stat: StoredStat {
                czxid: ctx.zxid.0,
                mzxid: ctx.zxid.0,
                pzxid: ctx.zxid.0,
                ctime: ctx.time.0,
                mtime: ctx.time.0,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: kind.to_ephemeral_owner(),
            },
            num_children: 0,
            acl: acl_arc,
        }),
    );
    Ok(TxnBody::Create(CreateTxn {
        path: full,
        data: data.clone(),
        acl,
        kind,
        parent_cversion,
    }))
}
