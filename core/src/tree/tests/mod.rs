//! Unit tests pinning the tree's 3.8 behaviour: error order, special nodes, stats,
//! sequential counters, kinds, ephemerals, expiry, multi, ACLs, digest, limits, snapshots.

use super::*;
use crate::txn::{apply, OpResult, Txn, TxnBody, WatchTrigger};
use crate::types::{Acl, ErrorCode, EventType, Id, Perms, SessionId, Stat, WallMillis, Zxid};

mod acls;
mod snapshot_view;
mod state;
mod writes;

const S1: SessionId = SessionId(0x0100_0000_0000_0001);
const S2: SessionId = SessionId(0x0100_0000_0000_0002);

/// A tree plus a zxid / clock, driving every write through prep + apply.
struct H {
    tree: DataTree,
    zxid: i64,
    time: i64,
}

impl H {
    fn new() -> H {
        H::with(TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        })
    }

    fn with(config: TreeConfig) -> H {
        H {
            tree: DataTree::new(config),
            zxid: 0,
            time: 1_000,
        }
    }

    fn txn_as(&mut self, session: SessionId, auth: &[Id], op: WriteOp) -> Txn {
        self.zxid += 1;
        self.time += 10;
        let ctx = PrepContext {
            session,
            cxid: 1,
            zxid: Zxid(self.zxid),
            time: WallMillis(self.time),
            auth,
        };
        self.tree.prep(&ctx, &op).expect("not rejected")
    }

    fn write_full(
        &mut self,
        session: SessionId,
        auth: &[Id],
        op: WriteOp,
    ) -> crate::txn::ApplyOutcome {
        let txn = self.txn_as(session, auth, op);
        let out = apply(&mut self.tree, &txn);
        self.tree.check_invariants();
        self.tree.check_invariants_full();
        out
    }

    fn write_as(&mut self, session: SessionId, auth: &[Id], op: WriteOp) -> OpResult {
        self.write_full(session, auth, op).result
    }

    fn write(&mut self, op: WriteOp) -> OpResult {
        self.write_as(S1, &[], op)
    }

    fn create(&mut self, path: &str, flags: i32) -> OpResult {
        self.write(create(path, flags))
    }

    fn code(&mut self, op: WriteOp) -> ErrorCode {
        match self.write(op) {
            OpResult::Error(e) => e,
            _ => ErrorCode::Ok,
        }
    }

    fn created(&mut self, path: &str, flags: i32) -> String {
        match self.create(path, flags) {
            OpResult::Create { path, .. } => path,
            other => panic!("create {path}: {other:?}"),
        }
    }

    fn stat(&self, path: &str) -> Stat {
        self.tree
            .stat(path)
            .unwrap_or_else(|| panic!("{path} missing"))
    }

    fn counter(&self, path: &str) -> i32 {
        self.tree.lookup(path).expect("exists").stat.cversion
    }
}

fn create(path: &str, flags: i32) -> WriteOp {
    create_op(path, flags, CreateOp::Create2, Acl::open_unsafe())
}

fn create_op(path: &str, flags: i32, op: CreateOp, acl: Vec<Acl>) -> WriteOp {
    WriteOp::Create {
        path: path.into(),
        data: Some(b"d".to_vec()),
        acl,
        flags,
        op,
    }
}

fn set_data(path: &str, data: &[u8], version: i32) -> WriteOp {
    WriteOp::SetData {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    }
}

fn delete(path: &str, version: i32) -> WriteOp {
    WriteOp::Delete {
        path: path.into(),
        version,
    }
}
