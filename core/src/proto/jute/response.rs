//! Server → client frames after the handshake: `ReplyHeader` + optional reply record,
//! and watch notifications (reference §4, §5, §8).
//!
//! Inputs: typed replies (server side, [`encode_reply`], [`encode_notification`]) or a frame
//! payload plus the op of the request it answers (client side, [`decode_reply`]).
//!
//! Invariants and decisions:
//! - A reply body's shape depends on the request's op, which is not on the wire; the client
//!   must say which op it expects ([`decode_reply`]), exactly as ZooKeeper's client keeps a
//!   queue of pending packets.
//! - Reply xids -1 (notification), -2 (ping), -4 (auth) and -8 (setWatches) are recognised
//!   before the expected op: -1 always carries a `WatcherEvent`, the others never a body.
//! - When `err != 0` the body is not parsed (ZooKeeper's client ignores it). The one body
//!   3.8 sends with an error (an empty `MultiResponse` after a multiRead MarshallingError)
//!   can still be read with [`decode_response_body`].
//! - Encoders write whole frames, length prefix included; they do not check the frame
//!   limit (see `frame`).

use crate::proto::jute::error::{DecodeError, ErrorReply, ReplyError};
use crate::proto::jute::frame::write_frame;
use crate::proto::jute::multi::MultiResponse;
use crate::proto::jute::records::{
    ChildrenResponse, Create2Response, GetAclResponse, GetChildren2Response, GetDataResponse,
    IntResponse, PathResponse, Record, SaslToken, WatcherEvent, WhoAmIResponse,
};
use crate::proto::jute::wire::{Reader, Writer};
use crate::proto::jute::xid;
use crate::types::{ErrorCode, OpCode, Stat, Zxid};

/// The header of every server frame after the handshake (`ReplyHeader`), 16 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyHeader {
    /// The request's xid, or a special xid.
    pub xid: i32,
    /// The server's last applied zxid (or the txn's zxid; -1 in 3.8 notifications).
    pub zxid: Zxid,
    /// 0 or an error code; raw so that codes newer than ours still decode.
    pub err: i32,
}

impl ReplyHeader {
    /// A header with a typed error code.
    pub fn new(xid: i32, zxid: Zxid, err: ErrorCode) -> ReplyHeader {
        ReplyHeader {
            xid,
            zxid,
            err: err.code(),
        }
    }

    /// The error code, if it is one ZooKeeper defines.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.err)
    }
}

impl Record for ReplyHeader {
    const MIN_LEN: usize = 16;
    fn encode(&self, w: &mut Writer<'_>) {
        w.int(self.xid);
        w.long(self.zxid.0);
        w.int(self.err);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ReplyHeader {
            xid: r.int()?,
            zxid: Zxid(r.long()?),
            err: r.int()?,
        })
    }
}

/// A reply body. Variants are body shapes, in order of the lowest op code using each;
/// the comment says which ops use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// create (1): `CreateResponse`, the created path.
    Create(PathResponse),
    /// exists (3), setData (5), setACL (7): a bare Stat.
    Stat(Stat),
    /// getData (4) and reconfig (16): `GetDataResponse`.
    GetData(GetDataResponse),
    /// getACL (6): `GetACLResponse`.
    GetAcl(GetAclResponse),
    /// getChildren (8): `GetChildrenResponse`.
    GetChildren(ChildrenResponse),
    /// sync (9): `SyncResponse`, the path.
    Sync(PathResponse),
    /// getChildren2 (12): `GetChildren2Response`.
    GetChildren2(GetChildren2Response),
    /// multi (14) and multiRead (22): `MultiResponse`.
    Multi(MultiResponse),
    /// create2 (15), createContainer (19), createTTL (21): `Create2Response`.
    Create2(Create2Response),
    /// sasl (102): `SetSASLResponse`.
    Sasl(SaslToken),
    /// getEphemerals (103): `GetEphemeralsResponse`, a list of paths.
    GetEphemerals(ChildrenResponse),
    /// getAllChildrenNumber (104): `GetAllChildrenNumberResponse`, the descendant count.
    GetAllChildrenNumber(IntResponse),
    /// addWatch (106): `ErrorResponse` (err 0 on success).
    Error(IntResponse),
    /// whoAmI (107): `WhoAmIResponse`.
    WhoAmI(WhoAmIResponse),
    /// A watch notification (xid -1): `WatcherEvent`.
    Notification(WatcherEvent),
}

impl ResponseBody {
    /// Appends the body (no header).
    pub fn encode(&self, w: &mut Writer<'_>) {
        match self {
            ResponseBody::Create(p) | ResponseBody::Sync(p) => p.encode(w),
            ResponseBody::Create2(c) => c.encode(w),
            ResponseBody::Stat(s) => s.encode(w),
            ResponseBody::GetData(d) => d.encode(w),
            ResponseBody::GetAcl(a) => a.encode(w),
            ResponseBody::GetChildren(c) | ResponseBody::GetEphemerals(c) => c.encode(w),
            ResponseBody::GetChildren2(c) => c.encode(w),
            ResponseBody::Multi(m) => m.encode(w),
            ResponseBody::Sasl(t) => t.encode(w),
            ResponseBody::GetAllChildrenNumber(n) | ResponseBody::Error(n) => n.encode(w),
            ResponseBody::WhoAmI(who) => who.encode(w),
            ResponseBody::Notification(ev) => ev.encode(w),
        }
    }
}

/// A decoded server frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The header.
    pub header: ReplyHeader,
    /// The body, if this reply has one.
    pub body: Option<ResponseBody>,
}

/// Server side: appends a complete reply frame (length prefix, header, optional body).
pub fn encode_reply(header: &ReplyHeader, body: Option<&ResponseBody>, out: &mut Vec<u8>) {
    write_frame(out, |w| {
        header.encode(w);
        if let Some(b) = body {
            b.encode(w);
        }
    });
}

/// Server side: appends the reply ZooKeeper 3.8 sends for a request that failed to decode
/// (from [`crate::proto::jute::RequestError::reply`]): the header, plus an empty
/// `MultiResponse` when `reply.empty_multi_body` is set. `zxid` is the server's last
/// applied zxid (3.8 sent -1 for an unknown op code).
pub fn encode_error_reply(reply: &ErrorReply, zxid: Zxid, out: &mut Vec<u8>) {
    let header = ReplyHeader::new(reply.xid, zxid, reply.err);
    let body = reply
        .empty_multi_body
        .then(|| ResponseBody::Multi(MultiResponse::default()));
    encode_reply(&header, body.as_ref(), out);
}

/// Server side: appends a complete watch notification frame (xid -1, err 0).
pub fn encode_notification(zxid: Zxid, event: &WatcherEvent, out: &mut Vec<u8>) {
    write_frame(out, |w| {
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid,
            err: 0,
        }
        .encode(w);
        event.encode(w);
    });
}

/// Client side: decodes a server frame's payload (without the length prefix).
/// `expected_op` is the op of the oldest outstanding request; it is not consulted for
/// notifications, pings, auth and setWatches replies (recognised by xid) nor when the
/// header carries an error.
pub fn decode_reply(payload: &[u8], expected_op: OpCode) -> Result<Reply, ReplyError> {
    let mut r = Reader::new(payload);
    let header = ReplyHeader::decode(&mut r).map_err(ReplyError::Header)?;
    let (op, body) = match header.xid {
        xid::NOTIFICATION => {
            let ev = WatcherEvent::decode(&mut r);
            (
                OpCode::Notification,
                ev.map(|e| Some(ResponseBody::Notification(e))),
            )
        }
        xid::PING | xid::AUTH | xid::SET_WATCHES => (expected_op, Ok(None)),
        _ if header.err != 0 => (expected_op, Ok(None)),
        _ => (expected_op, decode_body(expected_op, &mut r)),
    };
    let body = body.map_err(|source| ReplyError::Body {
        xid: header.xid,
        op: op.code(),
        source,
    })?;
    Ok(Reply { header, body })
}

/// Decodes a reply body of the shape `op`'s successful reply has (`None` for ops whose
/// reply has no body). `bytes` starts right after the ReplyHeader.
pub fn decode_response_body(op: OpCode, bytes: &[u8]) -> Result<Option<ResponseBody>, DecodeError> {
    decode_body(op, &mut Reader::new(bytes))
}

fn decode_body(op: OpCode, r: &mut Reader<'_>) -> Result<Option<ResponseBody>, DecodeError> {
    Ok(Some(match op {
        OpCode::Create => ResponseBody::Create(PathResponse::decode(r)?),
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            ResponseBody::Create2(Create2Response::decode(r)?)
        }
        OpCode::Exists | OpCode::SetData | OpCode::SetAcl => ResponseBody::Stat(Stat::decode(r)?),
        OpCode::GetData | OpCode::Reconfig => ResponseBody::GetData(GetDataResponse::decode(r)?),
        OpCode::GetAcl => ResponseBody::GetAcl(GetAclResponse::decode(r)?),
        OpCode::GetChildren => ResponseBody::GetChildren(ChildrenResponse::decode(r)?),
        OpCode::Sync => ResponseBody::Sync(PathResponse::decode(r)?),
        OpCode::GetChildren2 => ResponseBody::GetChildren2(GetChildren2Response::decode(r)?),
        OpCode::Multi | OpCode::MultiRead => ResponseBody::Multi(MultiResponse::decode(r)?),
        OpCode::Sasl => ResponseBody::Sasl(SaslToken::decode(r)?),
        OpCode::GetEphemerals => ResponseBody::GetEphemerals(ChildrenResponse::decode(r)?),
        OpCode::GetAllChildrenNumber => ResponseBody::GetAllChildrenNumber(IntResponse::decode(r)?),
        OpCode::AddWatch => ResponseBody::Error(IntResponse::decode(r)?),
        OpCode::WhoAmI => ResponseBody::WhoAmI(WhoAmIResponse::decode(r)?),
        OpCode::Notification => ResponseBody::Notification(WatcherEvent::decode(r)?),
        OpCode::Delete
        | OpCode::Ping
        | OpCode::Check
        | OpCode::CheckWatches
        | OpCode::RemoveWatches
        | OpCode::DeleteContainer
        | OpCode::Auth
        | OpCode::SetWatches
        | OpCode::SetWatches2
        | OpCode::CreateSession
        | OpCode::CloseSession
        | OpCode::Error => return Ok(None),
    }))
}

#[cfg(test)]
mod tests;
