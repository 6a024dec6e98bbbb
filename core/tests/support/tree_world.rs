//! The tree-model world shared by `tree_model.rs` (proptest) and the `tree_ops` fuzz target:
//! a naive, independently written model of the znode tree (a `BTreeMap<String, ModelNode>`
//! with stats computed by scanning), the generated operations, and `World`, which applies
//! each operation to the real tree (prep + apply) and to the model and compares every result
//! code, returned path and Stat field, then the invariants and the digest.

#![allow(dead_code, clippy::print_stdout)]

use std::collections::BTreeMap;

use arbor_core::tree::{
    digest_id, prep, CreateOp, DataTree, ExpiryKind, PendingChanges, PrepContext, TreeConfig,
    TreeSnapshot, WriteOp,
};
use arbor_core::txn::{apply, OpResult};
use arbor_core::types::{Acl, ErrorCode, Id, Perms, SessionId, Stat, WallMillis, Zxid};

pub const SESSIONS: [SessionId; 2] = [
    SessionId(0x0100_0000_0000_0001),
    SessionId(0x0200_0000_0000_0002),
];
pub const TTL_MAX: i64 = (1 << 40) - 1;

pub fn auth_of(s: usize) -> Vec<Id> {
    if s == 0 {
        vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", digest_id("alice:secret")),
        ]
    } else {
        vec![Id::new("ip", "10.0.0.1")]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MKind {
    Container,
    Ephemeral(SessionId),
    Persistent,
    Ttl(i64),
}

#[derive(Clone, Debug)]
pub struct ModelNode {
    data: Option<Vec<u8>>,
    acl: Vec<Acl>,
    czxid: i64,
    mzxid: i64,
    pzxid: i64,
    ctime: i64,
    mtime: i64,
    version: i32,
    creations: i32,
    aversion: i32,
    kind: MKind,
}

impl ModelNode {
    pub fn fresh(data: Option<Vec<u8>>, acl: Vec<Acl>, zxid: i64, time: i64, kind: MKind) -> Self {
        ModelNode {
            data,
            acl,
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            creations: 0,
            aversion: 0,
            kind,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Model {
    nodes: BTreeMap<String, ModelNode>,
}

pub fn parent_key(path: &str) -> Option<String> {
    if path.contains('\0') {
        return None;
    }
    let i = path.rfind('/')?;
    Some(if i == 0 {
        "/".to_string()
    } else {
        path[..i].to_string()
    })
}

pub fn model_valid(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    if !path.starts_with('/') || path.ends_with('/') || path.contains('\0') {
        return false;
    }
    path[1..]
        .split('/')
        .all(|c| !c.is_empty() && c != "." && c != "..")
}

impl Model {
    pub fn new() -> Model {
        let mut nodes = BTreeMap::new();
        for p in ["/", "/zookeeper", "/zookeeper/quota"] {
            nodes.insert(
                p.to_string(),
                ModelNode::fresh(Some(vec![]), Acl::open_unsafe(), 0, 0, MKind::Persistent),
            );
        }
        let mut config =
            ModelNode::fresh(Some(vec![]), Acl::read_unsafe(), 0, 0, MKind::Persistent);
        config.aversion = -1;
        nodes.insert("/zookeeper/config".into(), config);
        Model { nodes }
    }

    pub fn get(&self, path: &str) -> Option<&ModelNode> {
        self.nodes.get(if path.is_empty() { "/" } else { path })
    }

    pub fn children(&self, path: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .nodes
            .keys()
            .filter(|k| k.as_str() != "/" && parent_key(k).as_deref() == Some(path))
            .map(|k| k.rsplit('/').next().unwrap().to_string())
            .collect();
        out.sort();
        out
    }

    pub fn stat(&self, path: &str) -> Stat {
        let n = &self.nodes[path];
        let kids = self.children(path).len() as i32;
        Stat {
            czxid: n.czxid,
            mzxid: n.mzxid,
            ctime: n.ctime,
            mtime: n.mtime,
            version: n.version,
            cversion: n.creations.wrapping_mul(2).wrapping_sub(kids),
            aversion: n.aversion,
            ephemeral_owner: match n.kind {
                MKind::Ephemeral(s) => s.0,
                _ => 0,
            },
            data_length: n.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: kids,
            pzxid: n.pzxid,
        }
    }

    pub fn allowed(acl: &[Acl], want: Perms, auth: &[Id]) -> bool {
        acl.is_empty()
            || acl.iter().any(|a| {
                a.perms.0 & want.0 != 0
                    && ((a.id.scheme == "world" && a.id.id == "anyone")
                        || (a.id.scheme == "digest"
                            && auth.iter().any(|i| i.scheme == "digest" && i.id == a.id.id))
                        || (a.id.scheme == "ip"
                            && a.id.id == "10.0.0.0/8"
                            && auth.iter().any(|i| i.id.starts_with("10."))))
            })
    }

    pub fn fixup(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
        let mut uniq: Vec<Acl> = Vec::new();
        for a in acl {
            if !uniq.contains(a) {
                uniq.push(a.clone());
            }
        }
        if uniq.is_empty() {
            return Err(ErrorCode::InvalidAcl);
        }
        let mut out = Vec::new();
        for a in uniq {
            match a.id.scheme.as_str() {
                "world" if a.id.id == "anyone" => out.push(a),
                "auth" => {
                    let ids: Vec<&Id> = auth.iter().filter(|i| i.scheme == "digest").collect();
                    if ids.is_empty() {
                        return Err(ErrorCode::InvalidAcl);
                    }
                    out.extend(ids.into_iter().map(|i| Acl {
                        perms: a.perms,
                        id: i.clone(),
                    }));
                }
                "digest" if a.id.id.matches(':').count() == 1 && !a.id.id.ends_with(':') => {
                    out.push(a)
                }
                "ip" if a.id.id == "10.0.0.0/8" => out.push(a),
                _ => return Err(ErrorCode::InvalidAcl),
            }
        }
        Ok(out)
    }

    pub fn remove_child(&mut self, path: &str, zxid: i64) {
        self.nodes.remove(path);
        let p = self.nodes.get_mut(&parent_key(path).unwrap()).unwrap();
        p.pzxid = p.pzxid.max(zxid);
    }

    pub fn due(&self, path: &str, now: i64) -> bool {
        let n = &self.nodes[path];
        if !self.children(path).is_empty() {
            return false;
        }
        match n.kind {
            MKind::Container => n.creations > 0,
            MKind::Ttl(ttl) => now - n.mtime > ttl,
            _ => false,
        }
    }

    /// One write op against the model; mutates on success only.
    pub fn write(
        &mut self,
        s: SessionId,
        auth: &[Id],
        zxid: i64,
        time: i64,
        op: &WriteOp,
    ) -> Result<OpResult, ErrorCode> {
        match op {
            WriteOp::Create {
                path,
                data,
                acl,
                flags,
                op,
            } => {
                if !(0..=6).contains(flags) {
                    return Err(ErrorCode::BadArguments);
                }
                let ttl_flags = *flags == 5 || *flags == 6;
                let ttl = if let CreateOp::CreateTtl { ttl } = op {
                    *ttl
                } else {
                    -1
                };
                if ttl_flags && !(1..=TTL_MAX).contains(&ttl) {
                    return Err(ErrorCode::BadArguments);
                }
                if !ttl_flags && (ttl >= 0 || matches!(op, CreateOp::CreateTtl { .. })) {
                    return Err(ErrorCode::BadArguments);
                }
                let parent = parent_key(path).ok_or(ErrorCode::BadArguments)?;
                let acl = Self::fixup(acl, auth)?;
                let p = self.nodes.get(&parent).ok_or(ErrorCode::NoNode)?;
                if !Self::allowed(&p.acl, Perms::CREATE, auth) {
                    return Err(ErrorCode::NoAuth);
                }
                let full = if matches!(flags, 2 | 3 | 6) {
                    format!("{path}{:010}", p.creations)
                } else {
                    path.clone()
                };
                if !model_valid(&full) {
                    return Err(ErrorCode::BadArguments);
                }
                if self.nodes.contains_key(&full) {
                    return Err(ErrorCode::NodeExists);
                }
                if matches!(p.kind, MKind::Ephemeral(_)) {
                    return Err(ErrorCode::NoChildrenForEphemerals);
                }
                let kind = match op {
                    CreateOp::CreateContainer => MKind::Container,
                    CreateOp::CreateTtl { ttl } => MKind::Ttl(*ttl),
                    _ if matches!(flags, 1 | 3) => MKind::Ephemeral(s),
                    _ => MKind::Persistent,
                };
                let p = self.nodes.get_mut(&parent).unwrap();
                p.creations += 1;
                p.pzxid = zxid;
                self.nodes.insert(
                    full.clone(),
                    ModelNode::fresh(data.clone(), acl, zxid, time, kind),
                );
                Ok(OpResult::Create {
                    stat: self.stat(&full),
                    path: full,
                })
            }
            WriteOp::Delete { path, version } => {
                let special = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]
                    .contains(&path.as_str());
                let parent = parent_key(path)
                    .filter(|_| !special)
                    .ok_or(ErrorCode::BadArguments)?;
                let p = self.nodes.get(&parent).ok_or(ErrorCode::NoNode)?;
                if !Self::allowed(&p.acl, Perms::DELETE, auth) {
                    return Err(ErrorCode::NoAuth);
                }
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                if !self.children(path).is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                self.remove_child(path, zxid);
                Ok(OpResult::Delete)
            }
            WriteOp::DeleteExpired { path } => {
                let special = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]
                    .contains(&path.as_str());
                parent_key(path)
                    .filter(|_| !special)
                    .ok_or(ErrorCode::BadArguments)?;
                if !self.nodes.contains_key(path) {
                    return Err(ErrorCode::NoNode);
                }
                if !self.children(path).is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                if !self.due(path, time) {
                    return Err(ErrorCode::BadVersion);
                }
                self.remove_child(path, zxid);
                Ok(OpResult::Delete)
            }
            WriteOp::SetData {
                path,
                data,
                version,
            } => {
                if !model_valid(path) {
                    return Err(ErrorCode::BadArguments);
                }
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if !Self::allowed(&n.acl, Perms::WRITE, auth) {
                    return Err(ErrorCode::NoAuth);
                }
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                let n = self.nodes.get_mut(path).unwrap();
                n.data = data.clone();
                n.version += 1;
                n.mzxid = zxid;
                n.mtime = time;
                Ok(OpResult::SetData {
                    stat: self.stat(path),
                })
            }
            WriteOp::SetAcl { path, acl, version } => {
                if !model_valid(path) {
                    return Err(ErrorCode::BadArguments);
                }
                let acl = Self::fixup(acl, auth)?;
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if !Self::allowed(&n.acl, Perms::ADMIN, auth) {
                    return Err(ErrorCode::NoAuth);
                }
                if *version != -1 && *version != n.aversion {
                    return Err(ErrorCode::BadVersion);
                }
                let n = self.nodes.get_mut(path).unwrap();
                n.acl = acl;
                n.aversion += 1;
                Ok(OpResult::SetAcl {
                    stat: self.stat(path),
                })
            }
            WriteOp::Check { path, version } => {
                if !model_valid(path) {
                    return Err(ErrorCode::BadArguments);
                }
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if !Self::allowed(&n.acl, Perms::READ, auth) {
                    return Err(ErrorCode::NoAuth);
                }
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                Ok(OpResult::Check)
            }
            WriteOp::CloseSession => {
                let mine: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.kind == MKind::Ephemeral(s))
                    .map(|(p, _)| p.clone())
                    .collect();
                for p in &mine {
                    self.remove_child(p, zxid);
                }
                Ok(OpResult::CloseSession { deleted: mine })
            }
            WriteOp::Multi(ops) => {
                let mut scratch = self.clone();
                let mut results = Vec::new();
                for (i, op) in ops.iter().enumerate() {
                    match scratch.write(s, auth, zxid, time, op) {
                        Ok(r) => results.push(r),
                        Err(e) => {
                            let pattern = (0..ops.len())
                                .map(|j| {
                                    OpResult::Error(if j < i {
                                        ErrorCode::Ok
                                    } else if j == i {
                                        e
                                    } else {
                                        ErrorCode::RuntimeInconsistency
                                    })
                                })
                                .collect();
                            return Ok(OpResult::Multi(pattern));
                        }
                    }
                }
                *self = scratch;
                Ok(OpResult::Multi(results))
            }
            other => panic!("not generated: {other:?}"),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Target {
    Fixed(String),
    Existing(usize),
}

#[derive(Clone, Debug)]
pub enum Step {
    Write { session: usize, op: GenOp },
    Read { session: usize, target: Target },
    Expire { target: Target },
    Tick(i64),
}

#[derive(Clone, Debug)]
pub enum GenOp {
    Create {
        target: Target,
        child: Option<usize>,
        data: Option<Vec<u8>>,
        acl: usize,
        flags: i32,
        op: usize,
        ttl: i64,
    },
    Delete {
        target: Target,
        version: i32,
    },
    SetData {
        target: Target,
        data: Option<Vec<u8>>,
        version: i32,
    },
    SetAcl {
        target: Target,
        acl: usize,
        version: i32,
    },
    Check {
        target: Target,
        version: i32,
    },
    Multi(Vec<GenOp>),
    Close,
}

pub fn acl_choice(i: usize) -> Vec<Acl> {
    let alice = || digest_id("alice:secret");
    let p = |bits: &[Perms]| Perms(bits.iter().fold(0, |acc, b| acc | b.0));
    match i % 10 {
        0 | 1 => Acl::open_unsafe(),
        2 => Acl::read_unsafe(),
        3 => vec![Acl::new(Perms::ALL, "digest", alice())],
        4 => Acl::creator_all(),
        5 => vec![Acl::new(
            p(&[Perms::READ, Perms::CREATE]),
            "ip",
            "10.0.0.0/8",
        )],
        6 => vec![Acl::new(Perms::ALL, "world", "foo")],
        7 => vec![
            Acl::new(p(&[Perms::DELETE, Perms::READ]), "ip", "10.0.0.0/8"),
            Acl::new(p(&[Perms::ADMIN, Perms::WRITE]), "digest", alice()),
        ],
        8 => vec![Acl::new(
            p(&[Perms::READ, Perms::DELETE]),
            "world",
            "anyone",
        )],
        _ => vec![Acl::new(
            p(&[Perms::CREATE, Perms::WRITE, Perms::ADMIN]),
            "world",
            "anyone",
        )],
    }
}

pub struct World {
    pub tree: DataTree,
    pub model: Model,
    pub zxid: i64,
    pub time: i64,
    /// Outcome counts by kind, to show the run exercised what it claims to.
    pub seen: BTreeMap<&'static str, usize>,
    pub config: TreeConfig,
    steps: usize,
    /// A snapshot view taken at the last checkpoint and the bytes `serialize()` gave then:
    /// at the next checkpoint, after the steps in between, the view must still give them.
    view: Option<(TreeSnapshot, Vec<u8>)>,
}

impl World {
    /// A fresh world (extended types on, so TTL nodes are exercised).
    pub fn new() -> World {
        let config = TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        };
        World {
            tree: DataTree::new(config.clone()),
            model: Model::new(),
            zxid: 0,
            time: 1_000,
            seen: BTreeMap::new(),
            config,
            steps: 0,
            view: None,
        }
    }

    /// Applies one step to the tree and the model, compares them, and every 97 steps
    /// checks that a snapshot round trip keeps the digest and that the snapshot view taken
    /// 97 steps earlier still serializes to the bytes of its moment.
    pub fn run_step(&mut self, step: &Step) {
        match step {
            Step::Write { session, op } => {
                let op = self.to_op(op);
                self.write(*session, op);
            }
            Step::Read { session, target } => {
                let p = self.resolve(target);
                self.read(*session, &p);
            }
            Step::Expire { target } => {
                let path = self.resolve(target);
                self.write(0, WriteOp::DeleteExpired { path });
            }
            Step::Tick(ms) => self.time += ms,
        }
        self.check_everything();
        if self.steps.is_multiple_of(97) {
            let bytes = self.tree.serialize();
            let copy = DataTree::deserialize(&bytes, self.config.clone()).expect("snapshot loads");
            assert_eq!(
                copy.digest(),
                self.tree.digest(),
                "snapshot round trip keeps the digest"
            );
            if let Some((view, then)) = self.view.take() {
                assert!(
                    view.serialize() == then,
                    "a snapshot view changed after later writes (taken at zxid {})",
                    view.last_zxid()
                );
            }
            self.view = Some((self.tree.snapshot(), bytes));
        }
        self.steps += 1;
    }

    pub fn resolve(&self, t: &Target) -> String {
        match t {
            Target::Fixed(p) => p.clone(),
            Target::Existing(i) => {
                let keys: Vec<&String> = self.model.nodes.keys().collect();
                keys[i % keys.len()].clone()
            }
        }
    }

    pub fn to_op(&self, g: &GenOp) -> WriteOp {
        match g {
            GenOp::Create {
                target,
                child,
                data,
                acl,
                flags,
                op,
                ttl,
            } => {
                let mut path = self.resolve(target);
                if let Some(c) = child {
                    if path == "/" {
                        path.clear();
                    }
                    path.push('/');
                    path.push_str(["a", "b", "c", "s"][*c]);
                }
                let op = match op {
                    0 => CreateOp::Create,
                    1 => CreateOp::Create2,
                    2 => CreateOp::CreateContainer,
                    _ => CreateOp::CreateTtl { ttl: *ttl },
                };
                WriteOp::Create {
                    path,
                    data: data.clone(),
                    acl: acl_choice(*acl),
                    flags: *flags,
                    op,
                }
            }
            GenOp::Delete { target, version } => WriteOp::Delete {
                path: self.resolve(target),
                version: *version,
            },
            GenOp::SetData {
                target,
                data,
                version,
            } => WriteOp::SetData {
                path: self.resolve(target),
                data: data.clone(),
                version: *version,
            },
            GenOp::SetAcl {
                target,
                acl,
                version,
            } => WriteOp::SetAcl {
                path: self.resolve(target),
                acl: acl_choice(*acl),
                version: *version,
            },
            GenOp::Check { target, version } => WriteOp::Check {
                path: self.resolve(target),
                version: *version,
            },
            GenOp::Multi(ops) => WriteOp::Multi(ops.iter().map(|o| self.to_op(o)).collect()),
            GenOp::Close => WriteOp::CloseSession,
        }
    }

    pub fn write(&mut self, session: usize, op: WriteOp) {
        self.zxid += 1;
        let s = SESSIONS[session];
        let auth = auth_of(session);
        let ctx = PrepContext {
            session: s,
            cxid: 0,
            zxid: Zxid(self.zxid),
            time: WallMillis(self.time),
            auth: &auth,
        };
        let mut pending = PendingChanges::new();
        let txn =
            prep(&self.tree, &mut pending, self.tree.config(), &ctx, &op).expect("not rejected");
        let got = apply(&mut self.tree, &txn).result;
        let want = match self.model.write(s, &auth, self.zxid, self.time, &op) {
            Ok(r) => r,
            Err(e) => OpResult::Error(e),
        };
        assert_eq!(got, want, "op {op:?} as session {session}");
        let kind = match (&op, &got) {
            (WriteOp::Create { .. }, OpResult::Create { .. }) => "create ok",
            (WriteOp::Create { .. }, _) => "create err",
            (WriteOp::Delete { .. }, OpResult::Delete) => "delete ok",
            (WriteOp::DeleteExpired { .. }, OpResult::Delete) => "expired ok",
            (WriteOp::SetData { .. }, OpResult::SetData { .. }) => "setData ok",
            (WriteOp::SetAcl { .. }, OpResult::SetAcl { .. }) => "setACL ok",
            (WriteOp::Multi(ops), OpResult::Multi(r))
                if !ops.is_empty() && r.iter().all(|x| !matches!(x, OpResult::Error(_))) =>
            {
                "multi ok"
            }
            (WriteOp::Multi(_), OpResult::Multi(r))
                if r.iter().any(|x| matches!(x, OpResult::Error(_))) =>
            {
                "multi failed"
            }
            (WriteOp::CloseSession, OpResult::CloseSession { deleted }) if !deleted.is_empty() => {
                "close deleted"
            }
            (_, OpResult::Error(_)) => "other err",
            _ => "other ok",
        };
        *self.seen.entry(kind).or_default() += 1;
    }

    pub fn read(&self, session: usize, path: &str) {
        let auth = auth_of(session);
        let m = self.model.get(path);
        let exists = self.tree.exists(path);
        match m {
            None => assert_eq!(exists, Err(ErrorCode::NoNode), "exists {path:?}"),
            Some(_) => {
                let key = if path.is_empty() { "/" } else { path };
                let want = self.model.stat(key);
                assert_eq!(exists, Ok(want), "exists {path:?}");
                let n = &self.model.nodes[key];
                let readable = Model::allowed(&n.acl, Perms::READ, &auth);
                let data = self.tree.get_data(path, &auth);
                let kids = self.tree.get_children(path, &auth);
                if readable {
                    assert_eq!(data, Ok((n.data.as_deref(), want)), "getData {path:?}");
                    assert_eq!(
                        kids,
                        Ok((self.model.children(key), want)),
                        "getChildren {path:?}"
                    );
                } else {
                    assert_eq!(data, Err(ErrorCode::NoAuth));
                    assert_eq!(kids, Err(ErrorCode::NoAuth));
                }
            }
        }
    }

    pub fn check_everything(&self) {
        // Compiled in debug builds and with the `invariants` feature (not in plain release).
        #[cfg(any(debug_assertions, feature = "invariants"))]
        self.tree.check_invariants_full();
        assert_eq!(self.tree.digest(), self.tree.recompute_digest());
        assert_eq!(self.tree.node_count(), self.model.nodes.len());
        for (path, n) in &self.model.nodes {
            assert_eq!(
                self.tree.stat(path),
                Some(self.model.stat(path)),
                "stat {path}"
            );
            assert_eq!(self.tree.acl(path), Some(n.acl.as_slice()), "acl {path}");
        }
        for (i, s) in SESSIONS.iter().enumerate() {
            let mut want: Vec<String> = self
                .model
                .nodes
                .iter()
                .filter(|(_, n)| n.kind == MKind::Ephemeral(*s))
                .map(|(p, _)| p.clone())
                .collect();
            want.sort();
            assert_eq!(
                self.tree.get_ephemerals(*s, "/"),
                want,
                "ephemerals of session {i}"
            );
        }
        let now = self.time + 30;
        let want: Vec<(String, ExpiryKind)> = self
            .model
            .nodes
            .iter()
            .filter(|(p, _)| self.model.due(p, now))
            .map(|(p, n)| {
                (
                    p.clone(),
                    if n.kind == MKind::Container {
                        ExpiryKind::Container
                    } else {
                        ExpiryKind::Ttl
                    },
                )
            })
            .collect();
        assert_eq!(self.tree.due_for_expiry(WallMillis(now)), want);
    }
}
