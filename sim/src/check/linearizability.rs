//! The client history against ZooKeeper's consistency guarantees, checked once at the end
//! of a run.
//!
//! Source: ZooKeeper Programmer's Guide, "ZooKeeper consistency guarantees" (linearizable
//! writes, FIFO client order, sequential consistency, single system image, timeliness via
//! `sync`); `/work/shared/reference/zab.md` (the zxid order is the delivery order).
//!
//! ZooKeeper does not promise linearizable reads, so this checker asserts exactly:
//! 1. **Writes are linearizable, in zxid order.** The zxid in a write's reply header (its
//!    txn's zxid, also for error txns) is its linearization point. The committed log (every
//!    txn any replica applied) is that order; it is the witness, verified here instead of
//!    searched for (Wing–Gong / porcupine search is only needed when the order is unknown;
//!    ZooKeeper names it). Verified: (a) real time — a write whose reply came before another
//!    write was sent has the smaller zxid; (b) semantics — replaying the clients' *requests*
//!    (not the core's txns) in zxid order through an independent znode model (create with
//!    sequential names from the parent's cversion, delete, setData, setACL and versions,
//!    check, multi all-or-nothing, ephemerals removed at session close / expiry, emptied
//!    containers reaped) gives exactly the txn kind and path the core logged and exactly the
//!    error code, path and Stat each client got.
//!    A write with no reply (connection loss, or still in flight at the end) is "maybe
//!    applied": it took effect iff its (session, xid) is in the committed log, at that zxid,
//!    and is then held to the same rules (porcupine's open-ended op, resolved by the log).
//! 2. **Reads reflect a prefix of the write order.** A read answered with header zxid z
//!    must return the model's state after exactly the txns ≤ z (getData, exists,
//!    getChildren, getChildren2, getEphemerals). It cannot reflect a write sent after the
//!    read was answered (z below that write's zxid).
//! 3. **FIFO / read-your-writes.** A read sent after a write of the same session was
//!    answered has z at or above that write's zxid. (Per-session monotonicity of all
//!    replies is `monotonic_reads`.)
//! 4. **sync.** A `sync` answered with z has z at or above the zxid of every write that was
//!    answered (to any session) before the sync was sent.

use std::collections::{BTreeMap, BTreeSet};

use arbor_core::proto::jute::{CreateRequest, MultiOp, MultiResult, Request, ResponseBody};
use arbor_core::tree::NodeKind;
use arbor_core::txn::{Txn, TxnBody};
use arbor_core::types::{ErrorCode, Perms, SessionId, Stat, Zxid};

use super::{fail, Violation};
use crate::client::HistEntry;

const NAME: &str = "linearizability";

/// What the checker examined (for the sweep report).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Writes placed in the zxid order and checked against the model.
    pub writes: u64,
    /// Reads checked against the model state at their zxid.
    pub reads: u64,
    /// Syncs checked.
    pub syncs: u64,
    /// Writes with no reply that the log shows took effect.
    pub maybe_applied: u64,
}

/// Checks the histories of all clients against the committed log (ascending zxid).
pub fn check<'a>(
    log: impl Iterator<Item = &'a Txn>,
    histories: &[&[HistEntry]],
) -> Result<Stats, Violation> {
    let mut stats = Stats::default();
    let mut by_req: BTreeMap<(i64, i32), (usize, usize)> = BTreeMap::new();
    for (c, h) in histories.iter().enumerate() {
        for (i, e) in h.iter().enumerate() {
            if e.write {
                by_req.insert((e.session.0, e.xid), (c, i));
            }
        }
    }
    let entry = |(c, i): (usize, usize)| &histories[c][i];
    // Reads to evaluate, by the zxid they reflect.
    let mut reads: Vec<(Zxid, (usize, usize))> = Vec::new();
    for (c, h) in histories.iter().enumerate() {
        for (i, e) in h.iter().enumerate() {
            if !e.write && e.err.is_some() && is_model_read(e.req.as_ref()) {
                reads.push((e.zxid.unwrap_or_default(), (c, i)));
            }
        }
    }
    reads.sort();
    let mut next_read = 0;
    let mut model = Model::new();
    // (sent, reply, zxid) of every write that took effect (in the log).
    let mut placed: Vec<(u64, Option<u64>, Zxid)> = Vec::new();
    let mut placed_keys: BTreeSet<(i64, i32)> = BTreeSet::new();
    for txn in log {
        let z = txn.header.zxid;
        while next_read < reads.len() && reads[next_read].0 < z {
            check_read(&model, entry(reads[next_read].1))?;
            stats.reads += 1;
            next_read += 1;
        }
        let key = (txn.header.session.0, txn.header.cxid);
        match (by_req.get(&key), &*txn.body) {
            (Some(&ci), _) if !matches!(*txn.body, TxnBody::CreateSession { .. }) => {
                let e = entry(ci);
                if !placed_keys.insert(key) {
                    return fail(
                        NAME,
                        format!("request {key:?} appears twice in the log ({z})"),
                    );
                }
                if let Some(rz) = e.zxid {
                    if rz != z {
                        return fail(
                            NAME,
                            format!(
                                "{} xid {} of session {} was answered with zxid {rz} but \
                                 committed at {z}",
                                e.op, e.xid, e.session
                            ),
                        );
                    }
                }
                if e.reply_ns.is_none() {
                    stats.maybe_applied += 1;
                }
                apply_write(&mut model, e, txn)?;
                stats.writes += 1;
                placed.push((e.sent_ns, e.reply_ns, z));
            }
            _ => apply_system(&mut model, txn)?,
        }
    }
    for &(_, ci) in &reads[next_read..] {
        check_read(&model, entry(ci))?;
        stats.reads += 1;
    }
    // Answered writes not in the log: only an immediate rejection (an error, no txn) may
    // be answered without being committed.
    for h in histories {
        for e in h.iter() {
            if e.write
                && e.err == Some(0)
                && e.op != "closeSession"
                && !placed_keys.contains(&(e.session.0, e.xid))
            {
                return fail(
                    NAME,
                    format!(
                        "{} xid {} of session {} acknowledged at {:?} but never committed",
                        e.op, e.xid, e.session, e.zxid
                    ),
                );
            }
        }
    }
    check_real_time(&placed)?;
    stats.syncs = check_sessions_and_syncs(histories, &placed)?;
    Ok(stats)
}

/// Real time: w1 answered before w2 was sent ⇒ zxid(w1) < zxid(w2).
fn check_real_time(placed: &[(u64, Option<u64>, Zxid)]) -> Result<(), Violation> {
    let mut answered: Vec<(u64, Zxid)> = placed
        .iter()
        .filter_map(|&(_, r, z)| r.map(|r| (r, z)))
        .collect();
    answered.sort();
    let mut prefix_max: Vec<(u64, Zxid)> = Vec::with_capacity(answered.len());
    let mut best = (0, Zxid(0));
    for &(r, z) in &answered {
        if z > best.1 {
            best = (r, z);
        }
        prefix_max.push(best);
    }
    for &(sent, _, z) in placed {
        let n = answered.partition_point(|&(r, _)| r < sent);
        if n == 0 {
            continue;
        }
        let (r, zmax) = prefix_max[n - 1];
        if zmax >= z {
            return fail(
                NAME,
                format!(
                    "write at {zmax} was answered at {} ns, before a write sent at {sent} ns \
                     that was ordered earlier (zxid {z})",
                    r
                ),
            );
        }
    }
    Ok(())
}

/// Read-your-writes per session, reads not reflecting the future, and sync.
fn check_sessions_and_syncs(
    histories: &[&[HistEntry]],
    placed: &[(u64, Option<u64>, Zxid)],
) -> Result<u64, Violation> {
    // Answered writes by reply time, with the running maximum zxid.
    let mut answered: Vec<(u64, Zxid)> = placed
        .iter()
        .filter_map(|&(_, r, z)| r.map(|r| (r, z)))
        .collect();
    answered.sort();
    let mut run = Zxid(0);
    let prefix_max: Vec<Zxid> = answered
        .iter()
        .map(|&(_, z)| {
            run = run.max(z);
            run
        })
        .collect();
    // Writes by send time, with the minimum zxid from there on.
    let mut sent: Vec<(u64, Zxid)> = placed.iter().map(|&(s, _, z)| (s, z)).collect();
    sent.sort();
    let mut suffix_min = vec![Zxid(i64::MAX); sent.len() + 1];
    for i in (0..sent.len()).rev() {
        suffix_min[i] = suffix_min[i + 1].min(sent[i].1);
    }
    let mut syncs = 0;
    for h in histories {
        let mut own: BTreeMap<i64, (Zxid, i32)> = BTreeMap::new();
        for e in h.iter() {
            let (Some(reply), Some(z), Some(err)) = (e.reply_ns, e.zxid, e.err) else {
                continue;
            };
            if e.write {
                if err == 0 || z > Zxid(0) {
                    let m = own.entry(e.session.0).or_insert((Zxid(0), 0));
                    if z > m.0 {
                        *m = (z, e.xid);
                    }
                }
                continue;
            }
            if e.op == "ping" || err != 0 {
                continue;
            }
            if let Some(&(wz, wx)) = own.get(&e.session.0) {
                if z < wz {
                    return fail(
                        NAME,
                        format!(
                            "session {} read {} xid {} at {z}, below its own earlier write \
                             xid {wx} at {wz}",
                            e.session, e.op, e.xid
                        ),
                    );
                }
            }
            let i = sent.partition_point(|&(s, _)| s <= reply);
            if suffix_min[i] <= z {
                return fail(
                    NAME,
                    format!(
                        "{} xid {} of session {} answered at {reply} ns reflects zxid {z}, \
                         but a write sent after that is at {}",
                        e.op, e.xid, e.session, suffix_min[i]
                    ),
                );
            }
            if e.op == "sync" {
                syncs += 1;
                let n = answered.partition_point(|&(r, _)| r < e.sent_ns);
                if n > 0 && prefix_max[n - 1] > z {
                    return fail(
                        NAME,
                        format!(
                            "sync xid {} of session {} sent at {} ns answered at {z}, but a \
                             write answered before it was sent is at {}",
                            e.xid,
                            e.session,
                            e.sent_ns,
                            prefix_max[n - 1]
                        ),
                    );
                }
            }
        }
    }
    Ok(syncs)
}

fn is_model_read(req: Option<&Request>) -> bool {
    matches!(
        req,
        Some(
            Request::GetData(_)
                | Request::Exists(_)
                | Request::GetChildren(_)
                | Request::GetChildren2(_)
                | Request::GetEphemerals(_)
        )
    )
}

// ----- the znode model -----

#[derive(Clone, Debug)]
struct ZNode {
    data: Option<Vec<u8>>,
    stat: Stat,
    perms: i32,
    container: bool,
    children: BTreeSet<String>,
}

impl ZNode {
    /// The Stat a client sees (`DataNode.copyStat`): cversion = creations * 2 - children.
    fn client_stat(&self) -> Stat {
        Stat {
            cversion: self.stat.cversion * 2 - self.stat.num_children,
            ..self.stat
        }
    }
}

#[derive(Clone, Debug)]
struct Model {
    nodes: BTreeMap<String, ZNode>,
}

/// What the model predicts for one (sub-)op.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Created { path: String, stat: Stat },
    Deleted,
    Set { stat: Stat },
    Checked,
    Failed(ErrorCode),
}

impl Model {
    fn new() -> Model {
        let mut m = Model {
            nodes: BTreeMap::new(),
        };
        let root = ZNode {
            data: Some(Vec::new()),
            stat: Stat::default(),
            perms: Perms::ALL.0,
            container: false,
            children: BTreeSet::new(),
        };
        m.nodes.insert("/".to_string(), root.clone());
        m.nodes.insert("/zookeeper".to_string(), root);
        // The fresh tree: "/" holds "/zookeeper", attached without counting as a child
        // creation (as in ZooKeeper's DataTree), so "/" reports cversion -1.
        let r = m.nodes.get_mut("/").expect("root");
        r.children.insert("zookeeper".to_string());
        r.stat.num_children = 1;
        m
    }

    fn create(&mut self, r: &CreateRequest, session: SessionId, z: Zxid, t: i64) -> Outcome {
        let (parent, _) = split(&r.path);
        let Some(p) = self.nodes.get(parent) else {
            return Outcome::Failed(ErrorCode::NoNode);
        };
        if p.perms & Perms::CREATE.0 == 0 {
            return Outcome::Failed(ErrorCode::NoAuth);
        }
        let path = if r.flags == 2 || r.flags == 3 {
            format!("{}{:010}", r.path, p.stat.cversion)
        } else {
            r.path.clone()
        };
        if self.nodes.contains_key(&path) {
            return Outcome::Failed(ErrorCode::NodeExists);
        }
        if p.stat.ephemeral_owner != 0 {
            return Outcome::Failed(ErrorCode::NoChildrenForEphemerals);
        }
        let ephemeral = r.flags == 1 || r.flags == 3;
        let stat = Stat {
            czxid: z.0,
            mzxid: z.0,
            ctime: t,
            mtime: t,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: if ephemeral { session.0 } else { 0 },
            data_length: r.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: 0,
            pzxid: z.0,
        };
        let perms = r.acl.iter().fold(0, |a, acl| a | acl.perms.0);
        let (parent, name) = split(&path);
        let p = self.nodes.get_mut(parent).expect("checked");
        p.children.insert(name.to_string());
        p.stat.cversion += 1;
        p.stat.num_children += 1;
        p.stat.pzxid = z.0;
        self.nodes.insert(
            path.clone(),
            ZNode {
                data: r.data.clone(),
                stat,
                perms,
                container: r.flags == 4,
                children: BTreeSet::new(),
            },
        );
        let stat = self.nodes[&path].client_stat();
        Outcome::Created { path, stat }
    }

    fn delete(&mut self, path: &str, version: i32, z: Zxid) -> Outcome {
        let Some(n) = self.nodes.get(path) else {
            return Outcome::Failed(ErrorCode::NoNode);
        };
        let (parent, name) = split(path);
        if self.nodes[parent].perms & Perms::DELETE.0 == 0 {
            return Outcome::Failed(ErrorCode::NoAuth);
        }
        if version != -1 && version != n.stat.version {
            return Outcome::Failed(ErrorCode::BadVersion);
        }
        if !n.children.is_empty() {
            return Outcome::Failed(ErrorCode::NotEmpty);
        }
        self.remove(parent, name, path, z);
        Outcome::Deleted
    }

    fn remove(&mut self, parent: &str, name: &str, path: &str, z: Zxid) {
        self.nodes.remove(path);
        let p = self.nodes.get_mut(parent).expect("parent of a node exists");
        // Deletions do not bump the stored child-creation counter (ZooKeeper's
        // DataTree.deleteNode); the client cversion derives from it (`client_stat`).
        p.children.remove(name);
        p.stat.num_children -= 1;
        p.stat.pzxid = z.0;
    }

    fn set_data(
        &mut self,
        path: &str,
        data: &Option<Vec<u8>>,
        version: i32,
        z: Zxid,
        t: i64,
    ) -> Outcome {
        let Some(n) = self.nodes.get_mut(path) else {
            return Outcome::Failed(ErrorCode::NoNode);
        };
        if n.perms & Perms::WRITE.0 == 0 {
            return Outcome::Failed(ErrorCode::NoAuth);
        }
        if version != -1 && version != n.stat.version {
            return Outcome::Failed(ErrorCode::BadVersion);
        }
        n.data = data.clone();
        n.stat.version += 1;
        n.stat.mzxid = z.0;
        n.stat.mtime = t;
        n.stat.data_length = data.as_ref().map_or(0, |d| d.len() as i32);
        Outcome::Set {
            stat: n.client_stat(),
        }
    }

    fn set_acl(&mut self, path: &str, perms: i32, version: i32) -> Outcome {
        let Some(n) = self.nodes.get_mut(path) else {
            return Outcome::Failed(ErrorCode::NoNode);
        };
        if n.perms & Perms::ADMIN.0 == 0 {
            return Outcome::Failed(ErrorCode::NoAuth);
        }
        if version != -1 && version != n.stat.aversion {
            return Outcome::Failed(ErrorCode::BadVersion);
        }
        n.perms = perms;
        n.stat.aversion += 1;
        Outcome::Set {
            stat: n.client_stat(),
        }
    }

    fn check_version(&self, path: &str, version: i32) -> Outcome {
        let Some(n) = self.nodes.get(path) else {
            return Outcome::Failed(ErrorCode::NoNode);
        };
        if n.perms & Perms::READ.0 == 0 {
            return Outcome::Failed(ErrorCode::NoAuth);
        }
        if version != -1 && version != n.stat.version {
            return Outcome::Failed(ErrorCode::BadVersion);
        }
        Outcome::Checked
    }

    fn ephemerals_of(&self, session: SessionId) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.stat.ephemeral_owner == session.0 && session.0 != 0)
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn close_session(&mut self, session: SessionId, z: Zxid) {
        for p in self.ephemerals_of(session) {
            let (parent, name) = split(&p);
            let (parent, name) = (parent.to_string(), name.to_string());
            self.remove(&parent, &name, &p, z);
        }
    }

    /// One non-multi write op.
    fn op(&mut self, req: &Request, session: SessionId, z: Zxid, t: i64) -> Option<Outcome> {
        Some(match req {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => {
                self.create(r, session, z, t)
            }
            Request::Delete(r) => self.delete(&r.path, r.version, z),
            Request::SetData(r) => self.set_data(&r.path, &r.data, r.version, z, t),
            Request::SetAcl(r) => {
                let perms = r.acl.iter().fold(0, |a, acl| a | acl.perms.0);
                self.set_acl(&r.path, perms, r.version)
            }
            Request::Check(r) => self.check_version(&r.path, r.version),
            _ => return None,
        })
    }

    /// A multi: all or nothing. Returns the sub-outcomes (the first failure is the one
    /// `Failed`; the model is unchanged then). Undo log instead of a copy of the model:
    /// every node a sub-op may touch is saved before it runs.
    fn multi(
        &mut self,
        ops: &[MultiOp],
        session: SessionId,
        z: Zxid,
        t: i64,
    ) -> Option<Vec<Outcome>> {
        let mut saved: Vec<(String, Option<ZNode>)> = Vec::new();
        let mut out = Vec::new();
        for op in ops {
            let path = match op {
                MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => &r.path,
                MultiOp::Delete(r) => &r.path,
                MultiOp::SetData(r) => &r.path,
                MultiOp::Check(r) => &r.path,
                _ => {
                    self.undo(saved);
                    return None;
                }
            };
            for p in [path.as_str(), split(path).0] {
                if !saved.iter().any(|(q, _)| q == p) {
                    saved.push((p.to_string(), self.nodes.get(p).cloned()));
                }
            }
            let o = match op {
                MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                    self.create(r, session, z, t)
                }
                MultiOp::Delete(r) => self.delete(&r.path, r.version, z),
                MultiOp::SetData(r) => self.set_data(&r.path, &r.data, r.version, z, t),
                MultiOp::Check(r) => self.check_version(&r.path, r.version),
                _ => unreachable!("filtered above"),
            };
            if let Outcome::Created { path, .. } = &o {
                if !saved.iter().any(|(q, _)| q == path) {
                    saved.push((path.clone(), None));
                }
            }
            let failed = matches!(o, Outcome::Failed(_));
            out.push(o);
            if failed {
                self.undo(saved);
                return Some(out);
            }
        }
        Some(out)
    }

    fn undo(&mut self, saved: Vec<(String, Option<ZNode>)>) {
        for (p, n) in saved.into_iter().rev() {
            match n {
                Some(n) => {
                    self.nodes.insert(p, n);
                }
                None => {
                    self.nodes.remove(&p);
                }
            }
        }
    }
}

fn split(path: &str) -> (&str, &str) {
    let i = path.rfind('/').unwrap_or(0);
    let parent = if i == 0 { "/" } else { &path[..i] };
    (parent, &path[i + 1..])
}

/// Session-state errors the model cannot predict (the session was closing or expired
/// when the leader prepared the write); such a txn changes nothing.
fn session_error(e: ErrorCode) -> bool {
    matches!(e, ErrorCode::SessionExpired | ErrorCode::SessionMoved)
}

/// Applies a client write at its place in the log and compares model, txn and reply.
fn apply_write(model: &mut Model, e: &HistEntry, txn: &Txn) -> Result<(), Violation> {
    let z = txn.header.zxid;
    let t = txn.header.time.0;
    let who = || format!("{} xid {} of session {} at {z}", e.op, e.xid, e.session);
    let Some(req) = e.req.as_ref() else {
        return Ok(());
    };
    if let TxnBody::Error { err } = &*txn.body {
        if session_error(*err) {
            return check_reply_err(e, err.code(), &who);
        }
    }
    match req {
        Request::CloseSession => {
            let want = model.ephemerals_of(e.session);
            if let TxnBody::CloseSession { ephemerals, .. } = &*txn.body {
                if *ephemerals != want {
                    return fail(
                        NAME,
                        format!(
                            "{}: txn removes ephemerals {ephemerals:?}, model {want:?}",
                            who()
                        ),
                    );
                }
            }
            model.close_session(e.session, z);
            Ok(())
        }
        Request::Multi(ops) => {
            let Some(outs) = model.multi(ops, e.session, z, t) else {
                return Ok(());
            };
            let failed = outs.iter().find_map(|o| match o {
                Outcome::Failed(c) => Some(*c),
                _ => None,
            });
            let txn_failed = match &*txn.body {
                TxnBody::Error { err } => Some(*err),
                TxnBody::Multi(subs) => subs.iter().find_map(|s| match s {
                    TxnBody::Error { err }
                        if *err != ErrorCode::Ok && *err != ErrorCode::RuntimeInconsistency =>
                    {
                        Some(*err)
                    }
                    _ => None,
                }),
                _ => None,
            };
            if failed != txn_failed {
                return fail(
                    NAME,
                    format!("{}: model says {failed:?}, txn {:?}", who(), txn.body),
                );
            }
            if let Some(ResponseBody::Multi(m)) = &e.body {
                for (i, (o, r)) in outs.iter().zip(&m.results).enumerate() {
                    let ok = match (o, r) {
                        (Outcome::Failed(c), MultiResult::Error(rc)) => c.code() == *rc,
                        (_, MultiResult::Error(_)) => failed.is_some(),
                        (Outcome::Created { path, .. }, MultiResult::Create(p)) => *path == p.path,
                        (Outcome::Created { path, stat }, MultiResult::Create2(p)) => {
                            *path == p.path && *stat == p.stat
                        }
                        (Outcome::Set { stat }, MultiResult::SetData(s)) => stat == s,
                        (Outcome::Deleted, MultiResult::Delete) => true,
                        (Outcome::Checked, MultiResult::Check) => true,
                        _ => false,
                    };
                    if !ok {
                        return fail(
                            NAME,
                            format!("{}: sub-op {i} answered {r:?}, model {o:?}", who()),
                        );
                    }
                }
            }
            Ok(())
        }
        _ => {
            let Some(o) = model.op(req, e.session, z, t) else {
                return Ok(());
            };
            let consistent = match (&o, &*txn.body) {
                (Outcome::Failed(c), TxnBody::Error { err }) => c == err,
                (Outcome::Created { path, .. }, TxnBody::Create(c)) => {
                    *path == c.path
                        && matches!(c.kind, NodeKind::Ephemeral(_)) == (e.req_flags() & 1 == 1)
                }
                (Outcome::Deleted, TxnBody::Delete { path }) => Some(path) == e.req_path(),
                (Outcome::Set { stat }, TxnBody::SetData { version, .. }) => {
                    stat.version == *version
                }
                (Outcome::Set { stat }, TxnBody::SetAcl { aversion, .. }) => {
                    stat.aversion == *aversion
                }
                _ => false,
            };
            if !consistent {
                return fail(
                    NAME,
                    format!("{}: model says {o:?}, core logged {:?}", who(), txn.body),
                );
            }
            match &o {
                Outcome::Failed(c) => check_reply_err(e, c.code(), &who),
                _ => {
                    check_reply_err(e, 0, &who)?;
                    let ok = match (&o, &e.body) {
                        (_, None) => true,
                        (Outcome::Created { path, .. }, Some(ResponseBody::Create(p))) => {
                            *path == p.path
                        }
                        (Outcome::Created { path, stat }, Some(ResponseBody::Create2(p))) => {
                            *path == p.path && *stat == p.stat
                        }
                        (Outcome::Set { stat }, Some(ResponseBody::Stat(s))) => stat == s,
                        _ => false,
                    };
                    if !ok {
                        return fail(
                            NAME,
                            format!("{}: answered {:?}, model {o:?}", who(), e.body),
                        );
                    }
                    Ok(())
                }
            }
        }
    }
}

fn check_reply_err(e: &HistEntry, want: i32, who: &dyn Fn() -> String) -> Result<(), Violation> {
    match e.err {
        Some(got) if got != want => fail(
            NAME,
            format!("{}: answered error {got}, model {want}", who()),
        ),
        _ => Ok(()),
    }
}

/// A txn no client request explains: session create / expiry, container reaping.
fn apply_system(model: &mut Model, txn: &Txn) -> Result<(), Violation> {
    let z = txn.header.zxid;
    match &*txn.body {
        TxnBody::CreateSession { .. } | TxnBody::Error { .. } => Ok(()),
        TxnBody::CloseSession {
            session,
            ephemerals,
        } => {
            let want = model.ephemerals_of(*session);
            if *ephemerals != want {
                return fail(
                    NAME,
                    format!(
                        "expiry of {session} at {z} removes {ephemerals:?}, model holds {want:?}"
                    ),
                );
            }
            model.close_session(*session, z);
            Ok(())
        }
        TxnBody::DeleteExpired { path } => {
            let Some(n) = model.nodes.get(path) else {
                return fail(NAME, format!("reaped {path} at {z}, absent in the model"));
            };
            if !n.container || !n.children.is_empty() || n.stat.cversion == 0 {
                return fail(
                    NAME,
                    format!("reaped {path} at {z}, not an emptied container in the model: {n:?}"),
                );
            }
            let (parent, name) = split(path);
            let (parent, name) = (parent.to_string(), name.to_string());
            model.remove(&parent, &name, path, z);
            Ok(())
        }
        other => fail(
            NAME,
            format!(
                "txn {z} ({other:?}) of session {} xid {} matches no client request",
                txn.header.session, txn.header.cxid
            ),
        ),
    }
}

/// A read answered at zxid z against the model after all txns ≤ z.
fn check_read(model: &Model, e: &HistEntry) -> Result<(), Violation> {
    let (Some(req), Some(err), Some(z)) = (e.req.as_ref(), e.err, e.zxid) else {
        return Ok(());
    };
    if err != 0 && err != ErrorCode::NoNode.code() {
        return Ok(()); // refused (session moved, throttled ...): no state to compare
    }
    let who = || format!("{} xid {} of session {} at {z}", e.op, e.xid, e.session);
    let mismatch = |want: String| {
        fail(
            NAME,
            format!(
                "{}: answered err {err} {:?}, but the state at {z} gives {want}",
                who(),
                e.body
            ),
        )
    };
    match req {
        Request::GetData(r) | Request::Exists(r) => {
            let n = model.nodes.get(&r.path);
            let stat = match (&e.body, n) {
                (_, None) if err == ErrorCode::NoNode.code() => return Ok(()),
                (_, None) => return mismatch("NoNode".into()),
                (Some(ResponseBody::GetData(d)), Some(n)) if err == 0 => {
                    if d.data != n.data {
                        return mismatch(format!("data {:?}", n.data));
                    }
                    d.stat
                }
                (Some(ResponseBody::Stat(s)), Some(_)) if err == 0 => *s,
                (_, Some(n)) => return mismatch(format!("{:?}", n.client_stat())),
            };
            let n = n.expect("matched Some");
            if stat != n.client_stat() {
                return mismatch(format!("{:?}", n.client_stat()));
            }
            Ok(())
        }
        Request::GetChildren(r) | Request::GetChildren2(r) => {
            let Some(n) = model.nodes.get(&r.path) else {
                return if err == ErrorCode::NoNode.code() {
                    Ok(())
                } else {
                    mismatch("NoNode".into())
                };
            };
            let got = match &e.body {
                Some(ResponseBody::GetChildren(c)) => &c.children,
                Some(ResponseBody::GetChildren2(c)) => {
                    if c.stat != n.client_stat() {
                        return mismatch(format!("{:?}", n.client_stat()));
                    }
                    &c.children
                }
                _ => return mismatch(format!("children {:?}", n.children)),
            };
            let mut sorted: Vec<&String> = got.iter().collect();
            sorted.sort_unstable();
            let same = sorted.len() == n.children.len() && sorted.into_iter().eq(n.children.iter());
            if !same {
                return mismatch(format!("children {:?}", n.children));
            }
            Ok(())
        }
        Request::GetEphemerals(r) => {
            let Some(ResponseBody::GetEphemerals(c)) = &e.body else {
                return Ok(());
            };
            let want: BTreeSet<String> = model
                .ephemerals_of(e.session)
                .into_iter()
                .filter(|p| r.path == "/" || p.starts_with(&r.path))
                .collect();
            let got: BTreeSet<String> = c.children.iter().cloned().collect();
            if got != want {
                return mismatch(format!("ephemerals {want:?}"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

impl HistEntry {
    fn req_flags(&self) -> i32 {
        match &self.req {
            Some(Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r)) => r.flags,
            _ => 0,
        }
    }

    fn req_path(&self) -> Option<&String> {
        match &self.req {
            Some(Request::Delete(r)) => Some(&r.path),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "linearizability_tests.rs"]
mod tests;
