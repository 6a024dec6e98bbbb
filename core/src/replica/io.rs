//! The values that cross the `Replica` boundary: [`Input`], [`Output`], [`LogRecord`],
//! [`SyncMode`], [`CloseReason`] and [`Recovered`].
//!
//! Storage contract (binding on drivers):
//! - Every token-bearing output (`Persist`, `TruncateLog`, `InstallSnapshot`) is performed
//!   by the driver **in output order**, on one append-only log.
//! - `Persisted { token }` is **cumulative**: it reports that the output carrying `token`
//!   *and every earlier token-bearing output* is durable (an `fdatasync` covers everything
//!   written before it). Reporting tokens out of order is a driver bug; a stale token is
//!   ignored.
//! - `Snapshot` is a compaction hint: the driver may write it in the background and, once
//!   it is durable, drop log records with zxid ≤ its zxid. Nothing in the core waits on it.
//!   It carries a frozen [`TreeSnapshot`], not bytes: taking it costs the core's step
//!   O(nodes / 512), and the driver calls [`TreeSnapshot::serialize`] off the commit path
//!   (a driver may also skip a snapshot when a newer one is already queued).
//!
//! Client flow control (binding on drivers): `PauseReads { conn }` means *stop reading
//! requests from that connection* (leave them in the socket, so TCP backpressure slows the
//! client down), `ResumeReads { conn }` means read again. Requests the driver had already
//! read or decoded may still be fed after a pause; the core takes them. The core pauses a
//! connection when the server has `client_outstanding_max` requests unanswered (ZooKeeper's
//! `globalOutstandingLimit`) and never closes a connection for load; a connection that keeps
//! sending past `client_requests_queued_max` is closed as `Overloaded`.
//!
//! Recovery: what storage returns is a [`Recovered`]; log records are replayed in order
//! (a `TruncateLog` removes records with zxid above its bound, an `InstallSnapshot`
//! replaces the snapshot and discards the log).
//!
//! Storage faults: drivers checksum every stored record and snapshot. At recovery, a record
//! that fails its checksum (bit flip, torn or misdirected write) and everything after it is
//! discarded and reported in [`Recovered::damaged`] (the replica then rejoins by a sync). A
//! failed fsync is fatal for the process: the driver never reports `Persisted` for it and
//! restarts the replica from what is durable (ZooKeeper exits on a failed txn-log sync;
//! ZOOKEEPER-4882 shows what goes wrong when memory keeps running ahead of the disk).

use crate::proto::jute::{
    ConnectRequest, ConnectResponse, ReplyHeader, ResponseBody, WatcherEvent,
};
use crate::proto::jute::{ErrorReply, Request, RequestHeader};
use crate::tree::TreeSnapshot;
use crate::txn::Txn;
use crate::types::{ConnId, Epoch, PersistToken, ServerId, Zxid};
use crate::zab::PeerMessage;
use serde::{Deserialize, Serialize};

/// One input to [`crate::replica::Replica::handle`].
#[derive(Clone, Debug)]
pub enum Input {
    /// The client connection went away (the session survives until it expires).
    ClientClosed {
        /// The connection.
        conn: ConnId,
    },
    /// The first frame of a new client connection.
    ClientConnect {
        /// The connection, numbered by the driver.
        conn: ConnId,
        /// The decoded handshake.
        request: ConnectRequest,
    },
    /// A decoded client request after the handshake.
    ClientRequest {
        /// The connection.
        conn: ConnId,
        /// xid and op code.
        header: RequestHeader,
        /// The request record (boxed: inputs move by value, and it is the largest).
        request: Box<Request>,
    },
    /// A client frame that failed to decode (`RequestError::reply()` said how to answer).
    /// The answer is queued behind the connection's earlier requests, so per-connection
    /// reply order holds; the connection is closed after it when `close_after` is set.
    ClientRequestRejected {
        /// The connection.
        conn: ConnId,
        /// The answer the decoder prescribed.
        reply: ErrorReply,
    },
    /// A decoded peer message, delivered in FIFO order per link.
    Peer {
        /// The sending server.
        from: ServerId,
        /// The message.
        msg: PeerMessage,
    },
    /// A link to `peer` is up.
    PeerConnected {
        /// The peer.
        peer: ServerId,
    },
    /// The link to `peer` broke; messages may have been lost.
    PeerDisconnected {
        /// The peer.
        peer: ServerId,
    },
    /// The token-bearing output `token` and every earlier one are durable.
    Persisted {
        /// The token.
        token: PersistToken,
    },
    /// Time reached a deadline from `next_deadline` (extra ticks are harmless).
    Tick,
}

/// Whether a `Persist` must reach stable storage before `Persisted` is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncMode {
    /// Buffered write is enough (unused by the core today; reserved for observers).
    Buffered,
    /// fsync before reporting `Persisted`.
    Required,
}

/// A record of the append-only log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogRecord {
    /// The new `acceptedEpoch` (Zab discovery; written before ACKEPOCH).
    AcceptedEpoch(Epoch),
    /// The new `currentEpoch` (Zab synchronization; written before the NEWLEADER ack).
    CurrentEpoch(Epoch),
    /// A logged (not necessarily committed) transaction.
    Txn(Txn),
    /// The damage marker. `Some(bound)`: recovery found damage in this replica's log or
    /// snapshot and cut it; the replica may have acknowledged txns up to `bound` that it no
    /// longer holds, so it must not vote or count towards a quorum. `None`: a sync from a
    /// leader replaced the damaged history (written right after that sync's `CurrentEpoch`).
    /// Drivers keep the latest value durably next to the epochs (never purged with the log)
    /// and return it as [`Recovered::damaged`]. Last variant: the postcard encoding of the
    /// earlier variants is unchanged.
    Damaged(Option<Zxid>),
}

/// Why the core closes a client connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CloseReason {
    /// `AuthFailed` was answered.
    AuthFailed,
    /// The handshake named an unknown / expired session or a wrong password (after the
    /// `timeOut = 0` response).
    InvalidSession,
    /// The server is not serving (no established leader, or it left that state).
    NotServing,
    /// A hard bound was hit: the connection kept sending past `client_requests_queued_max`
    /// (ignoring `PauseReads`), the leader's write queue is at `writes_queued_max`, or the
    /// server is at `clients_max` connections. Never sent for ordinary load, which pauses
    /// reads instead.
    Overloaded,
    /// The client sent an op the server does not accept (after the -6 reply).
    ProtocolViolation,
    /// The session was closed by request (op -11) or expired.
    SessionClosed,
    /// The session moved to another connection.
    SessionMoved,
    /// The client has seen a newer zxid than this server applied (§3.3 step 2).
    StaleServer,
}

/// One output, drained with [`crate::replica::Replica::poll_output`].
#[derive(Clone, Debug)]
pub enum Output {
    /// Close a client connection (after sending anything queued before this output).
    CloseClient {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// The handshake answer.
    ConnectResponse {
        /// The connection.
        conn: ConnId,
        /// The response (`timeout_ms == 0` means the session is invalid).
        response: ConnectResponse,
    },
    /// Replace the snapshot with `data` at `zxid` and discard the whole log (SNAP sync).
    InstallSnapshot {
        /// Durability token.
        token: PersistToken,
        /// Last zxid the snapshot contains.
        zxid: Zxid,
        /// `DataTree::serialize` bytes.
        data: Vec<u8>,
    },
    /// A watch notification (ReplyHeader xid -1).
    Notify {
        /// The connection.
        conn: ConnId,
        /// The zxid of the transaction that fired it.
        zxid: Zxid,
        /// The event.
        event: WatcherEvent,
    },
    /// Stop reading requests from `conn` until `ResumeReads` (throttling; see the module
    /// doc). Anything already read may still be fed.
    PauseReads {
        /// The connection.
        conn: ConnId,
    },
    /// Append `records` to the log.
    Persist {
        /// Durability token.
        token: PersistToken,
        /// Records, in order.
        records: Vec<LogRecord>,
        /// Sync requirement.
        sync: SyncMode,
    },
    /// A reply to a client request (body only when `header.err == 0`).
    Reply {
        /// The connection.
        conn: ConnId,
        /// Header.
        header: ReplyHeader,
        /// Body (boxed: outputs move by value through the driver's queue, and a reply
        /// body is the largest payload).
        body: Option<Box<ResponseBody>>,
    },
    /// Read requests from `conn` again (after `PauseReads`).
    ResumeReads {
        /// The connection.
        conn: ConnId,
    },
    /// Send a peer message (dropped by the driver if the link is down).
    Send {
        /// Destination.
        to: ServerId,
        /// Message.
        msg: PeerMessage,
    },
    /// Compaction: a snapshot of the applied tree at `zxid`.
    Snapshot {
        /// Last zxid applied in `view`.
        zxid: Zxid,
        /// The frozen tree; `view.serialize()` gives the `DataTree::serialize` bytes of
        /// the tree at `zxid`. Serialize it off the commit path.
        view: TreeSnapshot,
    },
    /// Remove every log record of a transaction with zxid > `after_zxid`.
    TruncateLog {
        /// Durability token.
        token: PersistToken,
        /// The last zxid kept.
        after_zxid: Zxid,
    },
}

/// What durable storage returned at start-up.
#[derive(Clone, Debug, Default)]
pub struct Recovered {
    /// Last persisted `acceptedEpoch` (0 if none).
    pub accepted_epoch: Epoch,
    /// Last persisted `currentEpoch` (0 if none).
    pub current_epoch: Epoch,
    /// The newest durable snapshot: its zxid and `DataTree::serialize` bytes.
    pub snapshot: Option<(Zxid, Vec<u8>)>,
    /// Logged transactions after the snapshot, in zxid order (committed or not).
    pub log: Vec<Txn>,
    /// Damage found at recovery (a record or snapshot failed its checksum, so the log was
    /// cut at the first damaged record), or a durable [`LogRecord::Damaged`] marker not yet
    /// cleared: the highest zxid this replica may have acknowledged before the damage.
    ///
    /// A damaged replica must not help elect a leader that lacks txns it had acknowledged:
    /// until a sync from a leader has replaced its history (durably), it announces itself
    /// as OBSERVING in elections (its vote is never counted), never leads, and answers
    /// LEADERINFO with a non-fresh ACKEPOCH (not counted towards the epoch quorum). It joins
    /// an established leader through the settled servers' notifications. The driver must
    /// make the marker durable before it physically removes the damaged records.
    pub damaged: Option<Zxid>,
}
