//! Client → server frames after the handshake: `RequestHeader` + request record
//! (reference §4, §5).
//!
//! Inputs: a frame payload (server side, [`decode_request`]) or a typed [`Request`]
//! (client side, [`encode_request`]). Outputs: the other one.
//!
//! Invariants and decisions:
//! - The op code decides the body layout; ops a client may not send (0 notification,
//!   -1 error, -10 createSession, anything undefined) are [`RequestError::UnknownOp`] with
//!   the xid kept, so the server can answer Unimplemented (-6) as ZooKeeper does.
//! - A top-level check (13) decodes to [`Request::Check`]; answering it is the server's
//!   decision (Arbor answers Unimplemented, see the vectors README).
//! - A body that fails to parse is [`RequestError::Body`] with xid and op.
//! - Trailing bytes after the body are ignored, as ZooKeeper ignores them (it deserializes
//!   the record from the front of the request buffer and never checks the rest).

use crate::proto::jute::error::RequestError;
use crate::proto::jute::frame::write_frame;
use crate::proto::jute::multi::{
    decode_multi, decode_multi_read, encode_multi, encode_multi_read, MultiOp, MultiReadOp,
};
use crate::proto::jute::records::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest, CreateTtlRequest,
    DeleteRequest, PathRequest, PathWatchRequest, ReconfigRequest, Record, SaslToken,
    SetAclRequest, SetDataRequest, SetWatches, SetWatches2, WatchesRequest,
};
use crate::proto::jute::wire::{Reader, Writer};
use crate::types::OpCode;

/// The header of every request after the handshake (`RequestHeader`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    /// The client's request id (or a special xid, see [`crate::proto::jute::xid`]).
    pub xid: i32,
    /// The op code.
    pub op: OpCode,
}

/// A decoded request body. Variants follow op code order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the op of the same name; its record says the rest
pub enum Request {
    Create(CreateRequest),
    Delete(DeleteRequest),
    Exists(PathWatchRequest),
    GetData(PathWatchRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    Sync(PathRequest),
    /// No body.
    Ping,
    GetChildren2(PathWatchRequest),
    /// Top-level check (only meaningful inside a multi).
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    Create2(CreateRequest),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    CreateContainer(CreateRequest),
    DeleteContainer(PathRequest),
    CreateTtl(CreateTtlRequest),
    MultiRead(Vec<MultiReadOp>),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    Sasl(SaslToken),
    /// The path is the prefix to match.
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    SetWatches2(SetWatches2),
    AddWatch(AddWatchRequest),
    /// No body.
    WhoAmI,
    /// No body.
    CloseSession,
}

impl Request {
    /// The op code this request is sent with.
    pub fn op(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::Create2(_) => OpCode::Create2,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::DeleteContainer(_) => OpCode::DeleteContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// Appends the body (no header).
    pub fn encode_body(&self, w: &mut Writer<'_>) {
        match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => r.encode(w),
            Request::Delete(r) => r.encode(w),
            Request::Exists(r)
            | Request::GetData(r)
            | Request::GetChildren(r)
            | Request::GetChildren2(r) => r.encode(w),
            Request::SetData(r) => r.encode(w),
            Request::GetAcl(r)
            | Request::Sync(r)
            | Request::DeleteContainer(r)
            | Request::GetEphemerals(r)
            | Request::GetAllChildrenNumber(r) => r.encode(w),
            Request::SetAcl(r) => r.encode(w),
            Request::Check(r) => r.encode(w),
            Request::Multi(ops) => encode_multi(ops, w),
            Request::Reconfig(r) => r.encode(w),
            Request::CheckWatches(r) | Request::RemoveWatches(r) => r.encode(w),
            Request::CreateTtl(r) => r.encode(w),
            Request::MultiRead(ops) => encode_multi_read(ops, w),
            Request::Auth(r) => r.encode(w),
            Request::SetWatches(r) => r.encode(w),
            Request::Sasl(r) => r.encode(w),
            Request::SetWatches2(r) => r.encode(w),
            Request::AddWatch(r) => r.encode(w),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }
}

/// Server side: decodes a request frame's payload (without the length prefix).
pub fn decode_request(payload: &[u8]) -> Result<(RequestHeader, Request), RequestError> {
    let mut r = Reader::new(payload);
    let xid = r.int().map_err(RequestError::Header)?;
    let op = r.int().map_err(RequestError::Header)?;
    let unknown = RequestError::UnknownOp { xid, op };
    let code = OpCode::from_code(op).ok_or(unknown.clone())?;
    let body = |source| RequestError::Body { xid, op, source };
    let r = &mut r;
    let req = match code {
        OpCode::Create => Request::Create(CreateRequest::decode(r).map_err(body)?),
        OpCode::Delete => Request::Delete(DeleteRequest::decode(r).map_err(body)?),
        OpCode::Exists => Request::Exists(PathWatchRequest::decode(r).map_err(body)?),
        OpCode::GetData => Request::GetData(PathWatchRequest::decode(r).map_err(body)?),
        OpCode::SetData => Request::SetData(SetDataRequest::decode(r).map_err(body)?),
        OpCode::GetAcl => Request::GetAcl(PathRequest::decode(r).map_err(body)?),
        OpCode::SetAcl => Request::SetAcl(SetAclRequest::decode(r).map_err(body)?),
        OpCode::GetChildren => Request::GetChildren(PathWatchRequest::decode(r).map_err(body)?),
        OpCode::Sync => Request::Sync(PathRequest::decode(r).map_err(body)?),
        OpCode::Ping => Request::Ping,
        OpCode::GetChildren2 => Request::GetChildren2(PathWatchRequest::decode(r).map_err(body)?),
        OpCode::Check => Request::Check(CheckVersionRequest::decode(r).map_err(body)?),
        OpCode::Multi => Request::Multi(decode_multi(r, xid)?),
        OpCode::Create2 => Request::Create2(CreateRequest::decode(r).map_err(body)?),
        OpCode::Reconfig => Request::Reconfig(ReconfigRequest::decode(r).map_err(body)?),
        OpCode::CheckWatches => Request::CheckWatches(WatchesRequest::decode(r).map_err(body)?),
        OpCode::RemoveWatches => Request::RemoveWatches(WatchesRequest::decode(r).map_err(body)?),
        OpCode::CreateContainer => {
            Request::CreateContainer(CreateRequest::decode(r).map_err(body)?)
        }
        OpCode::DeleteContainer => Request::DeleteContainer(PathRequest::decode(r).map_err(body)?),
        OpCode::CreateTtl => Request::CreateTtl(CreateTtlRequest::decode(r).map_err(body)?),
        OpCode::MultiRead => Request::MultiRead(decode_multi_read(r, xid)?),
        OpCode::Auth => Request::Auth(AuthPacket::decode(r).map_err(body)?),
        OpCode::SetWatches => Request::SetWatches(SetWatches::decode(r).map_err(body)?),
        OpCode::Sasl => Request::Sasl(SaslToken::decode(r).map_err(body)?),
        OpCode::GetEphemerals => Request::GetEphemerals(PathRequest::decode(r).map_err(body)?),
        OpCode::GetAllChildrenNumber => {
            Request::GetAllChildrenNumber(PathRequest::decode(r).map_err(body)?)
        }
        OpCode::SetWatches2 => Request::SetWatches2(SetWatches2::decode(r).map_err(body)?),
        OpCode::AddWatch => Request::AddWatch(AddWatchRequest::decode(r).map_err(body)?),
        OpCode::WhoAmI => Request::WhoAmI,
        OpCode::CloseSession => Request::CloseSession,
        OpCode::Notification | OpCode::CreateSession | OpCode::Error => return Err(unknown),
    };
    Ok((RequestHeader { xid, op: code }, req))
}

/// Client side: appends a complete request frame (length prefix, RequestHeader with `xid`
/// and the request's op code, body).
pub fn encode_request(xid: i32, req: &Request, out: &mut Vec<u8>) {
    write_frame(out, |w| {
        w.int(xid);
        w.int(req.op().code());
        req.encode_body(w);
    });
}

#[cfg(test)]
mod tests;
