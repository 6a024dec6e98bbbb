//! multi (14) and multiRead (22) encoding (reference §7; `MultiOperationRecord`,
//! `MultiResponse` in ZooKeeper).
//!
//! Request body: for each sub-op a `MultiHeader{type, done=false, err=-1}` and the sub-op's
//! record; then the end marker `MultiHeader{-1, true, -1}`. No count prefix.
//! Response body: for each result a `MultiHeader{type, done=false, err}` and the result's
//! record (nothing for delete and check, an `ErrorResponse` for type -1); then the end
//! marker.
//!
//! Invariants and decisions:
//! - Like ZooKeeper, decoding stops at the first header with `done` set, whatever its type
//!   and err; the encoder always writes `{-1, true, -1}`.
//! - The sub-op type decides the record layout; a type not allowed in this multi flavour
//!   is a [`RequestError::NotAllowedInMulti`] (3.8 answers MarshallingError).
//! - Every header is 9 bytes, so the number of sub-ops is bounded by the frame size.
//! - For an error result the `ErrorResponse` body's code is kept; the header's copy is
//!   written equal to it (ZooKeeper always writes both the same).

use crate::proto::jute::error::{DecodeError, RequestError};
use crate::proto::jute::records::{
    CheckVersionRequest, ChildrenResponse, Create2Response, CreateRequest, CreateTtlRequest,
    DeleteRequest, GetDataResponse, PathResponse, PathWatchRequest, Record, SetDataRequest,
};
use crate::proto::jute::wire::{Reader, Writer};
use crate::types::{OpCode, Stat};

/// The header before every multi sub-op and sub-result (`MultiHeader`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MultiHeader {
    /// Sub-op code, or -1 for an error result / the end marker.
    pub op_type: i32,
    /// True only on the end marker.
    pub done: bool,
    /// -1 in requests; the result code in responses.
    pub err: i32,
}

impl MultiHeader {
    /// The end marker `{-1, true, -1}`.
    pub const END: MultiHeader = MultiHeader {
        op_type: -1,
        done: true,
        err: -1,
    };
}

impl Record for MultiHeader {
    const MIN_LEN: usize = 9;
    fn encode(&self, w: &mut Writer<'_>) {
        w.int(self.op_type);
        w.boolean(self.done);
        w.int(self.err);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(MultiHeader {
            op_type: r.int()?,
            done: r.boolean()?,
            err: r.int()?,
        })
    }
}

/// One sub-op of a multi (14). The variant is the sub-op type on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiOp {
    /// create (1).
    Create(CreateRequest),
    /// delete (2).
    Delete(DeleteRequest),
    /// setData (5).
    SetData(SetDataRequest),
    /// check (13).
    Check(CheckVersionRequest),
    /// create2 (15).
    Create2(CreateRequest),
    /// createContainer (19).
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateTtlRequest),
}

impl MultiOp {
    /// The sub-op's code.
    pub fn op(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.encode(w),
            MultiOp::Delete(r) => r.encode(w),
            MultiOp::SetData(r) => r.encode(w),
            MultiOp::Check(r) => r.encode(w),
            MultiOp::CreateTtl(r) => r.encode(w),
        }
    }

    fn decode_body(op: OpCode, r: &mut Reader<'_>) -> Option<Result<MultiOp, DecodeError>> {
        Some(match op {
            OpCode::Create => CreateRequest::decode(r).map(MultiOp::Create),
            OpCode::Delete => DeleteRequest::decode(r).map(MultiOp::Delete),
            OpCode::SetData => SetDataRequest::decode(r).map(MultiOp::SetData),
            OpCode::Check => CheckVersionRequest::decode(r).map(MultiOp::Check),
            OpCode::Create2 => CreateRequest::decode(r).map(MultiOp::Create2),
            OpCode::CreateContainer => CreateRequest::decode(r).map(MultiOp::CreateContainer),
            OpCode::CreateTtl => CreateTtlRequest::decode(r).map(MultiOp::CreateTtl),
            _ => return None,
        })
    }
}

/// One sub-op of a multiRead (22).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiReadOp {
    /// getData (4).
    GetData(PathWatchRequest),
    /// getChildren (8); ZooKeeper ignores the watch flag here.
    GetChildren(PathWatchRequest),
}

impl MultiReadOp {
    /// The sub-op's code.
    pub fn op(&self) -> OpCode {
        match self {
            MultiReadOp::GetData(_) => OpCode::GetData,
            MultiReadOp::GetChildren(_) => OpCode::GetChildren,
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        match self {
            MultiReadOp::GetData(r) | MultiReadOp::GetChildren(r) => r.encode(w),
        }
    }

    fn decode_body(op: OpCode, r: &mut Reader<'_>) -> Option<Result<MultiReadOp, DecodeError>> {
        Some(match op {
            OpCode::GetData => PathWatchRequest::decode(r).map(MultiReadOp::GetData),
            OpCode::GetChildren => PathWatchRequest::decode(r).map(MultiReadOp::GetChildren),
            _ => return None,
        })
    }
}

/// Appends a multi (14) request body.
pub fn encode_multi(ops: &[MultiOp], w: &mut Writer<'_>) {
    for op in ops {
        sub_header(op.op()).encode(w);
        op.encode_body(w);
    }
    MultiHeader::END.encode(w);
}

/// Appends a multiRead (22) request body.
pub fn encode_multi_read(ops: &[MultiReadOp], w: &mut Writer<'_>) {
    for op in ops {
        sub_header(op.op()).encode(w);
        op.encode_body(w);
    }
    MultiHeader::END.encode(w);
}

/// Reads a multi (14) request body; `xid` is only used to label errors.
pub(crate) fn decode_multi(r: &mut Reader<'_>, xid: i32) -> Result<Vec<MultiOp>, RequestError> {
    decode_sub_ops(r, xid, OpCode::Multi, MultiOp::decode_body)
}

/// Reads a multiRead (22) request body; `xid` is only used to label errors.
pub(crate) fn decode_multi_read(
    r: &mut Reader<'_>,
    xid: i32,
) -> Result<Vec<MultiReadOp>, RequestError> {
    decode_sub_ops(r, xid, OpCode::MultiRead, MultiReadOp::decode_body)
}

fn decode_sub_ops<T>(
    r: &mut Reader<'_>,
    xid: i32,
    multi: OpCode,
    body: impl Fn(OpCode, &mut Reader<'_>) -> Option<Result<T, DecodeError>>,
) -> Result<Vec<T>, RequestError> {
    let op = multi.code();
    let wrap = |source| RequestError::Body { xid, op, source };
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::decode(r).map_err(wrap)?;
        if h.done {
            return Ok(ops);
        }
        let not_allowed = RequestError::NotAllowedInMulti {
            xid,
            op,
            sub_op: h.op_type,
            index: ops.len(),
        };
        let sub = OpCode::from_code(h.op_type).ok_or_else(|| not_allowed.clone())?;
        match body(sub, r) {
            None => return Err(not_allowed),
            Some(rec) => ops.push(rec.map_err(wrap)?),
        }
    }
}

fn sub_header(op: OpCode) -> MultiHeader {
    MultiHeader {
        op_type: op.code(),
        done: false,
        err: -1,
    }
}

/// One result of a multi or multiRead reply. The variant is the result type on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiResult {
    /// create (1): the path. 3.8 also answers a create2 sub-op this way.
    Create(PathResponse),
    /// delete (2): no body.
    Delete,
    /// getData (4), in multiRead.
    GetData(GetDataResponse),
    /// setData (5): the new Stat.
    SetData(Stat),
    /// getChildren (8), in multiRead.
    GetChildren(ChildrenResponse),
    /// check (13): no body.
    Check,
    /// create2 (15): path and Stat (also createContainer / createTTL results).
    Create2(Create2Response),
    /// error (-1): the sub-op's code (0 for ops before the failing one in a failed multi,
    /// -2 RuntimeInconsistency for those after it).
    Error(i32),
}

impl MultiResult {
    fn header(&self) -> MultiHeader {
        let (op_type, err) = match self {
            MultiResult::Create(_) => (OpCode::Create.code(), 0),
            MultiResult::Delete => (OpCode::Delete.code(), 0),
            MultiResult::GetData(_) => (OpCode::GetData.code(), 0),
            MultiResult::SetData(_) => (OpCode::SetData.code(), 0),
            MultiResult::GetChildren(_) => (OpCode::GetChildren.code(), 0),
            MultiResult::Check => (OpCode::Check.code(), 0),
            MultiResult::Create2(_) => (OpCode::Create2.code(), 0),
            MultiResult::Error(e) => (OpCode::Error.code(), *e),
        };
        MultiHeader {
            op_type,
            done: false,
            err,
        }
    }
}

/// The body of a multi or multiRead reply (`MultiResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultiResponse {
    /// One result per sub-op, in request order.
    pub results: Vec<MultiResult>,
}

impl Record for MultiResponse {
    const MIN_LEN: usize = MultiHeader::MIN_LEN;

    fn encode(&self, w: &mut Writer<'_>) {
        for res in &self.results {
            res.header().encode(w);
            match res {
                MultiResult::Create(p) => p.encode(w),
                MultiResult::GetData(d) => d.encode(w),
                MultiResult::SetData(s) => s.encode(w),
                MultiResult::GetChildren(c) => c.encode(w),
                MultiResult::Create2(c) => c.encode(w),
                MultiResult::Error(e) => w.int(*e),
                MultiResult::Delete | MultiResult::Check => {}
            }
        }
        MultiHeader::END.encode(w);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        loop {
            let at = r.position();
            let h = MultiHeader::decode(r)?;
            if h.done {
                return Ok(MultiResponse { results });
            }
            let res = match OpCode::from_code(h.op_type) {
                Some(OpCode::Create) => MultiResult::Create(PathResponse::decode(r)?),
                Some(OpCode::Delete) => MultiResult::Delete,
                Some(OpCode::GetData) => MultiResult::GetData(GetDataResponse::decode(r)?),
                Some(OpCode::SetData) => MultiResult::SetData(Stat::decode(r)?),
                Some(OpCode::GetChildren) => MultiResult::GetChildren(ChildrenResponse::decode(r)?),
                Some(OpCode::Check) => MultiResult::Check,
                Some(OpCode::Create2) => MultiResult::Create2(Create2Response::decode(r)?),
                Some(OpCode::Error) => MultiResult::Error(r.int()?),
                _ => return Err(DecodeError::UnknownMultiResult { at, op: h.op_type }),
            };
            results.push(res);
        }
    }
}

#[cfg(test)]
mod tests;
