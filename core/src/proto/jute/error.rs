//! Error types of the jute codec, one per boundary.
//!
//! - [`FrameError`]: the length prefix of a frame is unacceptable; the connection must be
//!   closed without a reply (ZooKeeper's `NIOServerCnxn` does the same).
//! - [`DecodeError`]: a record's bytes are malformed (truncated, bad length, bad UTF-8, an
//!   unknown multi result type). Carries the byte offset inside the payload.
//! - [`RequestError`]: a client frame could not be turned into a request. Carries the xid
//!   and op code when the header was readable, so the server can still answer
//!   ([`RequestError::reply`]).
//! - [`ReplyError`]: a server frame could not be turned into a reply (client side).

use crate::types::ErrorCode;

/// The 4-byte length prefix of a frame is unacceptable. The connection must be closed.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix is negative (ZooKeeper closes the connection, no reply).
    #[error("frame length {len} is negative")]
    NegativeLength {
        /// The declared length.
        len: i32,
    },
    /// The length prefix exceeds the configured limit (`jute.maxbuffer`).
    #[error("frame length {len} exceeds limit {max}")]
    TooLong {
        /// The declared length.
        len: u32,
        /// The configured limit.
        max: u32,
    },
}

/// A record's bytes are malformed. Offsets (`at`) are relative to the start of the slice
/// handed to the decoder (for a request, the frame payload without the length prefix).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// A `ustring` is not valid UTF-8.
    #[error("string at byte {at} is not valid UTF-8")]
    BadUtf8 {
        /// Offset of the string's first byte (after its length).
        at: usize,
    },
    /// A buffer, string or vector length cannot fit in the bytes that are left, so it is
    /// rejected before anything is allocated.
    #[error("length {len} at byte {at} exceeds the {remaining} bytes left")]
    LengthExceedsInput {
        /// Offset of the length field.
        at: usize,
        /// The length (or element count) read.
        len: i32,
        /// Bytes left after the length field.
        remaining: usize,
    },
    /// A buffer, string or vector length is negative and not the null marker `-1`.
    #[error("length {len} at byte {at} is negative")]
    NegativeLength {
        /// Offset of the length field.
        at: usize,
        /// The length read.
        len: i32,
    },
    /// The input ends before the record does.
    #[error("input ends at byte {at}, record needs {need} more")]
    Truncated {
        /// Offset where the missing field starts.
        at: usize,
        /// How many more bytes the field needs.
        need: usize,
    },
    /// A multi response carries a result type ZooKeeper never sends.
    #[error("multi result at byte {at} has unknown type {op}")]
    UnknownMultiResult {
        /// Offset of the result's MultiHeader.
        at: usize,
        /// The type read.
        op: i32,
    },
}

/// A client frame (after the handshake) could not be decoded into a request.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The header was fine but the body did not parse. ZooKeeper answers MarshallingError.
    #[error("body of op {op} (xid {xid}): {source}")]
    Body {
        /// The request's xid.
        xid: i32,
        /// The request's op code.
        op: i32,
        /// What was wrong with the body.
        source: DecodeError,
    },
    /// Not even the 8-byte RequestHeader could be read: nothing to answer, close.
    #[error("request header: {0}")]
    Header(DecodeError),
    /// A multi (14) or multiRead (22) contains a sub-op that is not allowed in it
    /// (ZooKeeper 3.8 answers MarshallingError; for multiRead with an empty multi body).
    #[error("op {sub_op} at position {index} is not allowed in multi op {op} (xid {xid})")]
    NotAllowedInMulti {
        /// The request's xid.
        xid: i32,
        /// 14 (multi) or 22 (multiRead).
        op: i32,
        /// The offending sub-op type.
        sub_op: i32,
        /// Its position among the sub-ops (0-based).
        index: usize,
    },
    /// The op code is not one a client may send (unknown, 0, -1, -10). ZooKeeper answers
    /// Unimplemented (-6) with the request's xid, then closes the connection.
    #[error("unknown op code {op} (xid {xid})")]
    UnknownOp {
        /// The request's xid.
        xid: i32,
        /// The op code read.
        op: i32,
    },
}

/// How the server should answer a request that failed to decode, as ZooKeeper 3.8 does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorReply {
    /// The xid to echo.
    pub xid: i32,
    /// The error code for the ReplyHeader.
    pub err: ErrorCode,
    /// True when the reply carries an empty MultiResponse (just the end marker) after the
    /// header: 3.8 does this for a multiRead with a write sub-op (observed, 9-byte body).
    pub empty_multi_body: bool,
    /// True when the connection must be closed after the reply (unknown op code).
    pub close_after: bool,
}

impl RequestError {
    /// The reply ZooKeeper 3.8 sends for this error, or `None` when it closes the connection
    /// without answering (the header itself was unreadable).
    pub fn reply(&self) -> Option<ErrorReply> {
        match *self {
            RequestError::Header(_) => None,
            RequestError::UnknownOp { xid, .. } => Some(ErrorReply {
                xid,
                err: ErrorCode::Unimplemented,
                empty_multi_body: false,
                close_after: true,
            }),
            RequestError::Body { xid, .. } => Some(ErrorReply {
                xid,
                err: ErrorCode::MarshallingError,
                empty_multi_body: false,
                close_after: false,
            }),
            RequestError::NotAllowedInMulti { xid, op, .. } => Some(ErrorReply {
                xid,
                err: ErrorCode::MarshallingError,
                empty_multi_body: op == MULTI_READ_OP,
                close_after: false,
            }),
        }
    }
}

/// A server frame could not be decoded into a reply (client side).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// The header was fine but the body did not parse.
    #[error("body of reply to op {op} (xid {xid}): {source}")]
    Body {
        /// The reply's xid.
        xid: i32,
        /// The op code of the request this reply answers.
        op: i32,
        /// What was wrong with the body.
        source: DecodeError,
    },
    /// The 16-byte ReplyHeader could not be read.
    #[error("reply header: {0}")]
    Header(DecodeError),
}

/// Op code of multiRead, the one multi flavour whose marshalling failure carries a body.
const MULTI_READ_OP: i32 = 22;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_op_answers_unimplemented_and_closes() {
        let r = RequestError::UnknownOp { xid: 7, op: 999 }.reply();
        assert_eq!(
            r,
            Some(ErrorReply {
                xid: 7,
                err: ErrorCode::Unimplemented,
                empty_multi_body: false,
                close_after: true
            })
        );
    }

    #[test]
    fn multi_read_marshalling_error_has_body_but_multi_does_not() {
        let e = |op| RequestError::NotAllowedInMulti {
            xid: 3,
            op,
            sub_op: 1,
            index: 0,
        };
        let read = e(22).reply().map(|r| (r.err, r.empty_multi_body));
        let write = e(14).reply().map(|r| (r.err, r.empty_multi_body));
        assert_eq!(read, Some((ErrorCode::MarshallingError, true)));
        assert_eq!(write, Some((ErrorCode::MarshallingError, false)));
    }

    #[test]
    fn unreadable_header_gets_no_reply() {
        let e = RequestError::Header(DecodeError::Truncated { at: 0, need: 8 });
        assert_eq!(e.reply(), None);
        assert!(e.to_string().contains("needs 8 more"));
    }
}
