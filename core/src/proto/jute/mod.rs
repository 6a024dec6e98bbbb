//! The ZooKeeper client wire codec (jute), reference `zookeeper-wire.md` §1–§7.
//!
//! Pure bytes in, typed values out, and back; no I/O, no state.
//!
//! Inputs and outputs, by side:
//! - Framing ([`next_frame`], [`detect_four_letter_word`]): a runtime's receive buffer in,
//!   the range of the next complete frame payload (or the four-letter word) out.
//! - Server side: [`decode_connect_request`] and [`decode_request`] take a frame *payload*
//!   (length prefix already stripped by [`next_frame`]); [`encode_connect_response`],
//!   [`encode_reply`] and [`encode_notification`] append a *complete frame* (prefix
//!   included) to an output vector.
//! - Client side (for `arbor bench` / `arbor cli`): [`encode_connect_request`] and
//!   [`encode_request`] append complete frames; [`decode_connect_response`] and
//!   [`decode_reply`] take payloads.
//!
//! Invariants:
//! - No decoder panics, indexes unchecked, or allocates more than a constant factor of the
//!   input: every length and count is checked against the bytes left first (`wire`).
//! - Every error is typed, one enum per boundary ([`FrameError`], [`DecodeError`],
//!   [`RequestError`], [`ReplyError`]), and carries what is needed to answer or debug.
//! - Encoding a decoded server frame reproduces ZooKeeper 3.8.0's bytes exactly (checked
//!   against captured vectors in `core/tests/jute_golden.rs`), except that booleans
//!   normalise to 0/1.
//! - Null handling is per field type (see `records`), trailing bytes after a request
//!   record are ignored as ZooKeeper ignores them, and strings must be UTF-8.

mod connect;
mod error;
mod frame;
mod multi;
mod records;
mod request;
mod response;
pub mod wire;

pub use connect::{
    decode_connect_request, decode_connect_response, encode_connect_request,
    encode_connect_response, ConnectRequest, ConnectResponse,
};
pub use error::{DecodeError, ErrorReply, FrameError, ReplyError, RequestError};
pub use frame::{
    check_frame_len, detect_four_letter_word, next_frame, write_frame, FourLetterWord, Frame,
    DEFAULT_MAX_FRAME_LEN, FRAME_PREFIX_LEN,
};
pub use multi::{
    encode_multi, encode_multi_read, MultiHeader, MultiOp, MultiReadOp, MultiResponse, MultiResult,
};
pub use records::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, ChildrenResponse, ClientInfo,
    Create2Response, CreateRequest, CreateTtlRequest, DeleteRequest, GetAclResponse,
    GetChildren2Response, GetDataResponse, IntResponse, PathRequest, PathResponse,
    PathWatchRequest, ReconfigRequest, Record, SaslToken, SetAclRequest, SetDataRequest,
    SetWatches, SetWatches2, WatcherEvent, WatchesRequest, WhoAmIResponse,
};
pub use records::{
    CreateResponse, ErrorResponse, ExistsRequest, GetAclRequest, GetAllChildrenNumberResponse,
    GetChildrenRequest, GetChildrenResponse, GetDataRequest, GetEphemeralsResponse, GetSaslRequest,
    SetSaslResponse, SyncResponse,
};
pub use request::{decode_request, encode_request, Request, RequestHeader};
pub use response::{
    decode_reply, decode_response_body, encode_error_reply, encode_notification, encode_reply,
    Reply, ReplyHeader, ResponseBody,
};

/// Special xids (reference §4); ordinary requests use positive xids.
pub mod xid {
    /// Server → client watch notification.
    pub const NOTIFICATION: i32 = -1;
    /// Ping request and its reply (ZooKeeper answers -2 whatever xid the ping carried).
    pub const PING: i32 = -2;
    /// Auth packet and its reply.
    pub const AUTH: i32 = -4;
    /// SetWatches / SetWatches2 sent on reconnect, and their reply.
    pub const SET_WATCHES: i32 = -8;
}
