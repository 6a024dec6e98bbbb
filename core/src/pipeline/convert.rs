//! Pure mappings of the request path: client [`Request`] → what the pipeline does with it
//! ([`Kind`]), a write request → [`WriteOp`], an applied transaction's [`OpResult`] →
//! reply, and reads → reply. The one place ZooKeeper error codes become reply data.

use crate::proto::jute::{
    ChildrenResponse, ClientInfo, Create2Response, GetAclResponse, GetChildren2Response,
    GetDataResponse, IntResponse, MultiOp, MultiReadOp, MultiResponse, MultiResult, PathResponse,
    Request, ResponseBody, WhoAmIResponse,
};
use crate::tree::{CreateOp, DataTree, ReadOp, ReadResult, WriteOp};
use crate::txn::OpResult;
use crate::types::{ErrorCode, Id, OpCode, SessionId};

/// What the pipeline does with a request.
#[derive(Debug)]
pub(crate) enum Kind {
    /// Answered locally from the tree when it reaches the head of the connection's queue.
    Read,
    /// A replicated write (sub-op codes for multi replies).
    Write(WriteOp, Vec<OpCode>),
    /// `sync`: answered once this server applied what the leader had proposed.
    Sync(String),
    /// Answered at once, in order, without touching the tree.
    Immediate(ErrorCode, Option<ResponseBody>, Close),
}

/// Whether the connection closes after an immediate answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Close {
    After,
    No,
}

pub(crate) fn classify(request: &Request) -> Kind {
    let create = |r: &crate::proto::jute::CreateRequest, op| WriteOp::Create {
        path: r.path.clone(),
        data: r.data.clone(),
        acl: r.acl.clone(),
        flags: r.flags,
        op,
    };
    let write = |op| Kind::Write(op, Vec::new());
    match request {
        Request::Exists(_)
        | Request::GetData(_)
        | Request::GetAcl(_)
        | Request::GetChildren(_)
        | Request::GetChildren2(_)
        | Request::GetEphemerals(_)
        | Request::GetAllChildrenNumber(_)
        | Request::MultiRead(_)
        | Request::WhoAmI => Kind::Read,
        Request::Create(r) => write(create(r, CreateOp::Create)),
        Request::Create2(r) => write(create(r, CreateOp::Create2)),
        Request::CreateContainer(r) => write(create(r, CreateOp::CreateContainer)),
        Request::CreateTtl(r) => write(WriteOp::Create {
            path: r.path.clone(),
            data: r.data.clone(),
            acl: r.acl.clone(),
            flags: r.flags,
            op: CreateOp::CreateTtl { ttl: r.ttl },
        }),
        Request::Delete(r) => write(WriteOp::Delete {
            path: r.path.clone(),
            version: r.version,
        }),
        Request::DeleteContainer(r) => write(WriteOp::DeleteExpired {
            path: r.path.clone(),
        }),
        Request::SetData(r) => write(WriteOp::SetData {
            path: r.path.clone(),
            data: r.data.clone(),
            version: r.version,
        }),
        Request::SetAcl(r) => write(WriteOp::SetAcl {
            path: r.path.clone(),
            acl: r.acl.clone(),
            version: r.version,
        }),
        Request::Multi(ops) => Kind::Write(
            WriteOp::Multi(ops.iter().map(multi_op).collect()),
            ops.iter().map(MultiOp::op).collect(),
        ),
        Request::CloseSession => write(WriteOp::CloseSession),
        Request::Sync(r) => Kind::Sync(r.path.clone()),
        // Watch management: answered in queue order by `watches`.
        Request::SetWatches(_)
        | Request::SetWatches2(_)
        | Request::AddWatch(_)
        | Request::CheckWatches(_)
        | Request::RemoveWatches(_) => Kind::Read,
        Request::Reconfig(_) => Kind::Immediate(ErrorCode::ReconfigDisabled, None, Close::No),
        // Top-level check, SASL (not configured), and a ping that reaches here with the
        // wrong xid: Unimplemented, then close (reference §4). Auth never gets here: it is
        // answered out of band whatever its xid.
        Request::Check(_) | Request::Sasl(_) | Request::Ping | Request::Auth(_) => {
            Kind::Immediate(ErrorCode::Unimplemented, None, Close::After)
        }
    }
}

fn multi_op(op: &MultiOp) -> WriteOp {
    let create = |r: &crate::proto::jute::CreateRequest, op| WriteOp::Create {
        path: r.path.clone(),
        data: r.data.clone(),
        acl: r.acl.clone(),
        flags: r.flags,
        op,
    };
    match op {
        MultiOp::Create(r) => create(r, CreateOp::Create),
        MultiOp::Create2(r) => create(r, CreateOp::Create2),
        MultiOp::CreateContainer(r) => create(r, CreateOp::CreateContainer),
        MultiOp::CreateTtl(r) => WriteOp::Create {
            path: r.path.clone(),
            data: r.data.clone(),
            acl: r.acl.clone(),
            flags: r.flags,
            op: CreateOp::CreateTtl { ttl: r.ttl },
        },
        MultiOp::Delete(r) => WriteOp::Delete {
            path: r.path.clone(),
            version: r.version,
        },
        MultiOp::SetData(r) => WriteOp::SetData {
            path: r.path.clone(),
            data: r.data.clone(),
            version: r.version,
        },
        MultiOp::Check(r) => WriteOp::Check {
            path: r.path.clone(),
            version: r.version,
        },
    }
}

/// The reply to a write from its applied result.
pub(crate) fn write_reply(
    op: OpCode,
    sub_ops: &[OpCode],
    result: &OpResult,
) -> (ErrorCode, Option<ResponseBody>) {
    match result {
        OpResult::Error(e) => (*e, None),
        OpResult::Create { path, stat } => {
            let body = if op == OpCode::Create {
                ResponseBody::Create(PathResponse { path: path.clone() })
            } else {
                ResponseBody::Create2(Create2Response {
                    path: path.clone(),
                    stat: *stat,
                })
            };
            (ErrorCode::Ok, Some(body))
        }
        OpResult::SetData { stat } | OpResult::SetAcl { stat } => {
            (ErrorCode::Ok, Some(ResponseBody::Stat(*stat)))
        }
        OpResult::Multi(results) => {
            let results = results
                .iter()
                .enumerate()
                .map(|(i, r)| multi_result(sub_ops.get(i).copied(), r))
                .collect();
            (
                ErrorCode::Ok,
                Some(ResponseBody::Multi(MultiResponse { results })),
            )
        }
        OpResult::Check
        | OpResult::CloseSession { .. }
        | OpResult::CreateSession
        | OpResult::Delete => (ErrorCode::Ok, None),
    }
}

fn multi_result(sub_op: Option<OpCode>, r: &OpResult) -> MultiResult {
    match r {
        // 3.8 answers a create2 sub-op like a plain create (reference §7 version note).
        OpResult::Create { path, stat } => match sub_op {
            Some(OpCode::CreateContainer | OpCode::CreateTtl) => {
                MultiResult::Create2(Create2Response {
                    path: path.clone(),
                    stat: *stat,
                })
            }
            _ => MultiResult::Create(PathResponse { path: path.clone() }),
        },
        OpResult::Delete => MultiResult::Delete,
        OpResult::SetData { stat } | OpResult::SetAcl { stat } => MultiResult::SetData(*stat),
        OpResult::Check => MultiResult::Check,
        OpResult::Error(e) => MultiResult::Error(e.code()),
        OpResult::CloseSession { .. } | OpResult::CreateSession | OpResult::Multi(_) => {
            MultiResult::Error(ErrorCode::RuntimeInconsistency.code())
        }
    }
}

/// Answers a read against the tree (watch registration is `watches`' business).
pub(crate) fn read_reply(
    tree: &DataTree,
    request: &Request,
    session: SessionId,
    auth: &[Id],
) -> (ErrorCode, Option<ResponseBody>) {
    let res: Result<Option<ResponseBody>, ErrorCode> = match request {
        Request::Exists(r) => tree.exists(&r.path).map(|s| Some(ResponseBody::Stat(s))),
        Request::GetData(r) => tree.get_data(&r.path, auth).map(|(d, stat)| {
            Some(ResponseBody::GetData(GetDataResponse {
                data: d.map(<[u8]>::to_vec),
                stat,
            }))
        }),
        Request::GetAcl(r) => tree
            .get_acl(&r.path, auth)
            .map(|(acl, stat)| Some(ResponseBody::GetAcl(GetAclResponse { acl, stat }))),
        Request::GetChildren(r) => tree
            .get_children(&r.path, auth)
            .map(|(children, _)| Some(ResponseBody::GetChildren(ChildrenResponse { children }))),
        Request::GetChildren2(r) => tree.get_children(&r.path, auth).map(|(children, stat)| {
            Some(ResponseBody::GetChildren2(GetChildren2Response {
                children,
                stat,
            }))
        }),
        Request::GetEphemerals(r) => Ok(Some(ResponseBody::GetEphemerals(ChildrenResponse {
            children: tree.get_ephemerals(session, &r.path),
        }))),
        Request::GetAllChildrenNumber(r) => tree
            .get_all_children_number(&r.path, auth)
            .map(|n| Some(ResponseBody::GetAllChildrenNumber(IntResponse { value: n }))),
        Request::MultiRead(ops) => {
            let ops: Vec<ReadOp> = ops
                .iter()
                .map(|op| match op {
                    MultiReadOp::GetData(r) => ReadOp::GetData {
                        path: r.path.clone(),
                    },
                    MultiReadOp::GetChildren(r) => ReadOp::GetChildren {
                        path: r.path.clone(),
                    },
                })
                .collect();
            let results = tree
                .multi_read(&ops, auth)
                .into_iter()
                .map(|r| match r {
                    Ok(ReadResult::Data(data, stat)) => {
                        MultiResult::GetData(GetDataResponse { data, stat })
                    }
                    Ok(ReadResult::Children(children)) => {
                        MultiResult::GetChildren(ChildrenResponse { children })
                    }
                    Err(e) => MultiResult::Error(e.code()),
                })
                .collect();
            Ok(Some(ResponseBody::Multi(MultiResponse { results })))
        }
        Request::WhoAmI => Ok(Some(ResponseBody::WhoAmI(WhoAmIResponse {
            client_info: auth
                .iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user: id.id.clone(),
                })
                .collect(),
        }))),
        _ => Err(ErrorCode::Unimplemented),
    };
    match res {
        Ok(body) => (ErrorCode::Ok, body),
        Err(e) => (e, None),
    }
}
