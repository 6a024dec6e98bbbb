//! The ZooKeeper data vocabulary shared by every layer of Arbor.
//!
//! These are plain values: zxids, epochs, session ids, `Stat`, ACLs and their ids, the
//! error codes that travel in reply headers and multi results, create modes, watch event
//! kinds and op codes. Their numeric values are fixed by the ZooKeeper client protocol
//! (`reference/zookeeper-wire.md`), so enums here list variants in protocol order, not
//! alphabetically.
//!
//! Invariants:
//! - `Zxid::new(epoch, counter)` is the only way to build a zxid from parts, and
//!   `zxid.epoch()` / `zxid.counter()` invert it exactly.
//! - Every `ErrorCode` converts to and from its wire `i32` without loss; unknown wire values
//!   are a `None`, never a panic.

use serde::{Deserialize, Serialize};

/// A Zab epoch: the generation of a leader. The high 32 bits of a [`Zxid`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Epoch(pub u32);

/// A ZooKeeper transaction id: `epoch << 32 | counter`.
///
/// On the wire it is a signed 64-bit integer; real zxids are never negative, but `-1`
/// appears as a marker (for example in 3.8 notification headers), so the raw value is kept
/// signed.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Zxid(pub i64);

impl Zxid {
    /// The zxid before any transaction: epoch 0, counter 0.
    pub const ZERO: Zxid = Zxid(0);

    /// Builds a zxid from its epoch and its counter within the epoch.
    pub const fn new(epoch: Epoch, counter: u32) -> Zxid {
        Zxid((((epoch.0 as u64) << 32) | counter as u64) as i64)
    }

    /// The epoch (high 32 bits).
    pub const fn epoch(self) -> Epoch {
        Epoch(((self.0 as u64) >> 32) as u32)
    }

    /// The counter within the epoch (low 32 bits).
    pub const fn counter(self) -> u32 {
        (self.0 as u64 & 0xffff_ffff) as u32
    }
}

impl std::fmt::Display for Zxid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// A client session id. Never 0 for a real session (0 means "create a new session").
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SessionId(pub i64);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// A server's id in the ensemble (ZooKeeper's `myid`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ServerId(pub u64);

impl std::fmt::Display for ServerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A client connection, numbered by the driver (sim or net); unique for the life of a
/// server process. Watches and replies belong to a connection.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ConnId(pub u64);

/// Monotonic driver time in nanoseconds: the only clock the core sees (an input).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Nanos(pub u64);

impl Nanos {
    /// `self + ns`, saturating.
    pub const fn add_ns(self, ns: u64) -> Nanos {
        Nanos(self.0.saturating_add(ns))
    }

    /// `self - earlier` in ns, 0 if `earlier` is later.
    pub const fn since(self, earlier: Nanos) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Names one durable write the core asked for; the driver returns it in `Persisted`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct PersistToken(pub u64);

/// Wall-clock milliseconds since the Unix epoch, as stamped by the leader into the
/// transactions it creates (ctime, mtime). Never used to order or wait on anything.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct WallMillis(pub i64);

/// The `Stat` of a znode exactly as the client protocol carries it (11 fields, 68 bytes in
/// jute). Field order is the wire order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stat {
    /// zxid of the transaction that created the node.
    pub czxid: i64,
    /// zxid of the transaction that last changed the node's data (creation counts).
    pub mzxid: i64,
    /// Leader wall-clock ms when the node was created.
    pub ctime: i64,
    /// Leader wall-clock ms of the last data change.
    pub mtime: i64,
    /// Number of data changes.
    pub version: i32,
    /// Number of child-list changes (creations plus deletions of children).
    pub cversion: i32,
    /// Number of ACL changes.
    pub aversion: i32,
    /// Owning session for ephemerals; 0 for every other kind (as clients see it).
    pub ephemeral_owner: i64,
    /// Length of the node's data in bytes.
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
    /// zxid of the last change to the child list (initially `czxid`).
    pub pzxid: i64,
}

/// Permission bits of an ACL entry (`ZooDefs.Perms`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Perms(pub i32);

impl Perms {
    /// Read data and list children.
    pub const READ: Perms = Perms(1);
    /// Set data.
    pub const WRITE: Perms = Perms(2);
    /// Create children.
    pub const CREATE: Perms = Perms(4);
    /// Delete children.
    pub const DELETE: Perms = Perms(8);
    /// Set the ACL.
    pub const ADMIN: Perms = Perms(16);
    /// Every permission.
    pub const ALL: Perms = Perms(31);

    /// True if any bit of `wanted` is granted by `self`.
    pub const fn grants_any(self, wanted: Perms) -> bool {
        self.0 & wanted.0 != 0
    }

    /// The union of two permission sets.
    pub const fn union(self, other: Perms) -> Perms {
        Perms(self.0 | other.0)
    }
}

/// An identity: an authentication scheme and an id within it (`world:anyone`,
/// `digest:user:hash`, `ip:10.0.0.0/8`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Id {
    /// The scheme: `world`, `auth`, `digest`, `ip`, `super`, ...
    pub scheme: String,
    /// The id within the scheme.
    pub id: String,
}

impl Id {
    /// Builds an id from its scheme and id strings.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }
}

/// One ACL entry: permissions granted to an identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Acl {
    /// The permissions granted.
    pub perms: Perms,
    /// Who they are granted to.
    pub id: Id,
}

impl Acl {
    /// Builds an ACL entry.
    pub fn new(perms: Perms, scheme: impl Into<String>, id: impl Into<String>) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    /// `world:anyone` with every permission (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, "world", "anyone")]
    }

    /// `world:anyone` with READ only (`ZooDefs.Ids.READ_ACL_UNSAFE`).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::READ, "world", "anyone")]
    }

    /// `auth:` with every permission (`ZooDefs.Ids.CREATOR_ALL_ACL`).
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, "auth", "")]
    }
}

/// ZooKeeper's error codes as they travel in `ReplyHeader.err` and multi results
/// (`KeeperException.Code`). Protocol order (by code, descending), not alphabetical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(missing_docs)] // the names are ZooKeeper's; the table in the reference documents each
pub enum ErrorCode {
    Ok,
    SystemError,
    RuntimeInconsistency,
    DataInconsistency,
    ConnectionLoss,
    MarshallingError,
    Unimplemented,
    OperationTimeout,
    BadArguments,
    UnknownSession,
    NewConfigNoQuorum,
    ReconfigInProgress,
    ApiError,
    NoNode,
    NoAuth,
    BadVersion,
    NoChildrenForEphemerals,
    NodeExists,
    NotEmpty,
    SessionExpired,
    InvalidCallback,
    InvalidAcl,
    AuthFailed,
    SessionMoved,
    NotReadOnly,
    EphemeralOnLocalSession,
    NoWatcher,
    RequestTimeout,
    ReconfigDisabled,
    SessionClosedRequireSaslAuth,
    QuotaExceeded,
    ThrottledOp,
}

impl ErrorCode {
    /// Every code, for exhaustive tests.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::Ok,
        ErrorCode::SystemError,
        ErrorCode::RuntimeInconsistency,
        ErrorCode::DataInconsistency,
        ErrorCode::ConnectionLoss,
        ErrorCode::MarshallingError,
        ErrorCode::Unimplemented,
        ErrorCode::OperationTimeout,
        ErrorCode::BadArguments,
        ErrorCode::UnknownSession,
        ErrorCode::NewConfigNoQuorum,
        ErrorCode::ReconfigInProgress,
        ErrorCode::ApiError,
        ErrorCode::NoNode,
        ErrorCode::NoAuth,
        ErrorCode::BadVersion,
        ErrorCode::NoChildrenForEphemerals,
        ErrorCode::NodeExists,
        ErrorCode::NotEmpty,
        ErrorCode::SessionExpired,
        ErrorCode::InvalidCallback,
        ErrorCode::InvalidAcl,
        ErrorCode::AuthFailed,
        ErrorCode::SessionMoved,
        ErrorCode::NotReadOnly,
        ErrorCode::EphemeralOnLocalSession,
        ErrorCode::NoWatcher,
        ErrorCode::RequestTimeout,
        ErrorCode::ReconfigDisabled,
        ErrorCode::SessionClosedRequireSaslAuth,
        ErrorCode::QuotaExceeded,
        ErrorCode::ThrottledOp,
    ];

    /// The wire value.
    pub const fn code(self) -> i32 {
        match self {
            ErrorCode::Ok => 0,
            ErrorCode::SystemError => -1,
            ErrorCode::RuntimeInconsistency => -2,
            ErrorCode::DataInconsistency => -3,
            ErrorCode::ConnectionLoss => -4,
            ErrorCode::MarshallingError => -5,
            ErrorCode::Unimplemented => -6,
            ErrorCode::OperationTimeout => -7,
            ErrorCode::BadArguments => -8,
            ErrorCode::UnknownSession => -12,
            ErrorCode::NewConfigNoQuorum => -13,
            ErrorCode::ReconfigInProgress => -14,
            ErrorCode::ApiError => -100,
            ErrorCode::NoNode => -101,
            ErrorCode::NoAuth => -102,
            ErrorCode::BadVersion => -103,
            ErrorCode::NoChildrenForEphemerals => -108,
            ErrorCode::NodeExists => -110,
            ErrorCode::NotEmpty => -111,
            ErrorCode::SessionExpired => -112,
            ErrorCode::InvalidCallback => -113,
            ErrorCode::InvalidAcl => -114,
            ErrorCode::AuthFailed => -115,
            ErrorCode::SessionMoved => -118,
            ErrorCode::NotReadOnly => -119,
            ErrorCode::EphemeralOnLocalSession => -120,
            ErrorCode::NoWatcher => -121,
            ErrorCode::RequestTimeout => -122,
            ErrorCode::ReconfigDisabled => -123,
            ErrorCode::SessionClosedRequireSaslAuth => -124,
            ErrorCode::QuotaExceeded => -125,
            ErrorCode::ThrottledOp => -127,
        }
    }

    /// The code for a wire value, or `None` if ZooKeeper defines no such code.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.code() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} ({})", self, self.code())
    }
}

/// The `flags` of a create request (`CreateMode`). Protocol order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CreateMode {
    /// 0: a plain node.
    Persistent,
    /// 1: deleted with its owning session.
    Ephemeral,
    /// 2: persistent, name suffixed with the parent's child-creation counter.
    PersistentSequential,
    /// 3: ephemeral and sequential.
    EphemeralSequential,
    /// 4: a container, deleted by the leader once it had children and has none.
    Container,
    /// 5: persistent, deleted once unmodified for its TTL and childless.
    PersistentWithTtl,
    /// 6: TTL and sequential.
    PersistentSequentialWithTtl,
}

impl CreateMode {
    /// The wire `flags` value.
    pub const fn flags(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
            CreateMode::PersistentWithTtl => 5,
            CreateMode::PersistentSequentialWithTtl => 6,
        }
    }

    /// The mode for wire `flags`, or `None` (ZooKeeper answers BadArguments).
    pub const fn from_flags(flags: i32) -> Option<CreateMode> {
        Some(match flags {
            0 => CreateMode::Persistent,
            1 => CreateMode::Ephemeral,
            2 => CreateMode::PersistentSequential,
            3 => CreateMode::EphemeralSequential,
            4 => CreateMode::Container,
            5 => CreateMode::PersistentWithTtl,
            6 => CreateMode::PersistentSequentialWithTtl,
            _ => return None,
        })
    }

    /// True for the two ephemeral modes.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// True for the three sequential modes.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// True for the container mode.
    pub const fn is_container(self) -> bool {
        matches!(self, CreateMode::Container)
    }

    /// True for the two TTL modes.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

/// Watch event types (`Watcher.Event.EventType`). Protocol order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// -1: a session state change (client side only).
    None,
    /// 1
    NodeCreated,
    /// 2
    NodeDeleted,
    /// 3
    NodeDataChanged,
    /// 4
    NodeChildrenChanged,
    /// 5 (client side, after removeWatches)
    DataWatchRemoved,
    /// 6 (client side)
    ChildWatchRemoved,
    /// 7 (client side)
    PersistentWatchRemoved,
}

impl EventType {
    /// The wire value.
    pub const fn code(self) -> i32 {
        match self {
            EventType::None => -1,
            EventType::NodeCreated => 1,
            EventType::NodeDeleted => 2,
            EventType::NodeDataChanged => 3,
            EventType::NodeChildrenChanged => 4,
            EventType::DataWatchRemoved => 5,
            EventType::ChildWatchRemoved => 6,
            EventType::PersistentWatchRemoved => 7,
        }
    }

    /// The event type for a wire value.
    pub const fn from_code(code: i32) -> Option<EventType> {
        Some(match code {
            -1 => EventType::None,
            1 => EventType::NodeCreated,
            2 => EventType::NodeDeleted,
            3 => EventType::NodeDataChanged,
            4 => EventType::NodeChildrenChanged,
            5 => EventType::DataWatchRemoved,
            6 => EventType::ChildWatchRemoved,
            7 => EventType::PersistentWatchRemoved,
            _ => return None,
        })
    }
}

/// The keeper state carried in a notification. The server only ever sends
/// `SyncConnected` (3); the others are client-side, listed for completeness.
pub mod keeper_state {
    /// Disconnected (client side).
    pub const DISCONNECTED: i32 = 0;
    /// Connected: the only state a server puts on the wire.
    pub const SYNC_CONNECTED: i32 = 3;
    /// Authentication failed (client side).
    pub const AUTH_FAILED: i32 = 4;
    /// Connected to a read-only server (client side).
    pub const CONNECTED_READ_ONLY: i32 = 5;
    /// Session expired (client side).
    pub const EXPIRED: i32 = -112;
}

/// Watcher types used by checkWatches / removeWatches (`Watcher.WatcherType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WatcherType {
    /// 1: child watches.
    Children,
    /// 2: data (and exist) watches.
    Data,
    /// 3: any one-shot or persistent watch.
    Any,
    /// 4: persistent watches (3.9).
    Persistent,
    /// 5: persistent recursive watches (3.9).
    PersistentRecursive,
}

impl WatcherType {
    /// The wire value.
    pub const fn code(self) -> i32 {
        match self {
            WatcherType::Children => 1,
            WatcherType::Data => 2,
            WatcherType::Any => 3,
            WatcherType::Persistent => 4,
            WatcherType::PersistentRecursive => 5,
        }
    }

    /// The watcher type for a wire value.
    pub const fn from_code(code: i32) -> Option<WatcherType> {
        Some(match code {
            1 => WatcherType::Children,
            2 => WatcherType::Data,
            3 => WatcherType::Any,
            4 => WatcherType::Persistent,
            5 => WatcherType::PersistentRecursive,
            _ => return None,
        })
    }
}

/// Modes of `addWatch` (op 106).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AddWatchMode {
    /// 0: data, exist and child events on exactly this path, never auto-removed.
    Persistent,
    /// 1: data-style events on this path and every descendant.
    PersistentRecursive,
}

impl AddWatchMode {
    /// The wire value.
    pub const fn code(self) -> i32 {
        match self {
            AddWatchMode::Persistent => 0,
            AddWatchMode::PersistentRecursive => 1,
        }
    }

    /// The mode for a wire value.
    pub const fn from_code(code: i32) -> Option<AddWatchMode> {
        match code {
            0 => Some(AddWatchMode::Persistent),
            1 => Some(AddWatchMode::PersistentRecursive),
            _ => None,
        }
    }
}

/// Op codes of the client protocol (`ZooDefs.OpCode`). Protocol order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(missing_docs)] // names are ZooKeeper's; the reference's op table documents each
pub enum OpCode {
    Notification,
    Create,
    Delete,
    Exists,
    GetData,
    SetData,
    GetAcl,
    SetAcl,
    GetChildren,
    Sync,
    Ping,
    GetChildren2,
    Check,
    Multi,
    Create2,
    Reconfig,
    CheckWatches,
    RemoveWatches,
    CreateContainer,
    DeleteContainer,
    CreateTtl,
    MultiRead,
    Auth,
    SetWatches,
    Sasl,
    GetEphemerals,
    GetAllChildrenNumber,
    SetWatches2,
    AddWatch,
    WhoAmI,
    CreateSession,
    CloseSession,
    Error,
}

impl OpCode {
    /// Every op code, for exhaustive tests.
    pub const ALL: [OpCode; 33] = [
        OpCode::Notification,
        OpCode::Create,
        OpCode::Delete,
        OpCode::Exists,
        OpCode::GetData,
        OpCode::SetData,
        OpCode::GetAcl,
        OpCode::SetAcl,
        OpCode::GetChildren,
        OpCode::Sync,
        OpCode::Ping,
        OpCode::GetChildren2,
        OpCode::Check,
        OpCode::Multi,
        OpCode::Create2,
        OpCode::Reconfig,
        OpCode::CheckWatches,
        OpCode::RemoveWatches,
        OpCode::CreateContainer,
        OpCode::DeleteContainer,
        OpCode::CreateTtl,
        OpCode::MultiRead,
        OpCode::Auth,
        OpCode::SetWatches,
        OpCode::Sasl,
        OpCode::GetEphemerals,
        OpCode::GetAllChildrenNumber,
        OpCode::SetWatches2,
        OpCode::AddWatch,
        OpCode::WhoAmI,
        OpCode::CreateSession,
        OpCode::CloseSession,
        OpCode::Error,
    ];

    /// The wire value.
    pub const fn code(self) -> i32 {
        match self {
            OpCode::Notification => 0,
            OpCode::Create => 1,
            OpCode::Delete => 2,
            OpCode::Exists => 3,
            OpCode::GetData => 4,
            OpCode::SetData => 5,
            OpCode::GetAcl => 6,
            OpCode::SetAcl => 7,
            OpCode::GetChildren => 8,
            OpCode::Sync => 9,
            OpCode::Ping => 11,
            OpCode::GetChildren2 => 12,
            OpCode::Check => 13,
            OpCode::Multi => 14,
            OpCode::Create2 => 15,
            OpCode::Reconfig => 16,
            OpCode::CheckWatches => 17,
            OpCode::RemoveWatches => 18,
            OpCode::CreateContainer => 19,
            OpCode::DeleteContainer => 20,
            OpCode::CreateTtl => 21,
            OpCode::MultiRead => 22,
            OpCode::Auth => 100,
            OpCode::SetWatches => 101,
            OpCode::Sasl => 102,
            OpCode::GetEphemerals => 103,
            OpCode::GetAllChildrenNumber => 104,
            OpCode::SetWatches2 => 105,
            OpCode::AddWatch => 106,
            OpCode::WhoAmI => 107,
            OpCode::CreateSession => -10,
            OpCode::CloseSession => -11,
            OpCode::Error => -1,
        }
    }

    /// The op code for a wire value, or `None` for a value ZooKeeper does not define.
    pub fn from_code(code: i32) -> Option<OpCode> {
        OpCode::ALL.iter().copied().find(|c| c.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_parts_round_trip() {
        let z = Zxid::new(Epoch(7), 0xffff_fffe);
        assert_eq!(z.epoch(), Epoch(7));
        assert_eq!(z.counter(), 0xffff_fffe);
        assert_eq!(z.0, (7i64 << 32) | 0xffff_fffe);
        assert!(Zxid::new(Epoch(1), 0) > Zxid::new(Epoch(0), u32::MAX));
        assert_eq!(Zxid::new(Epoch(0x93), 0).to_string(), "0x9300000000");
    }

    #[test]
    fn error_codes_round_trip_and_are_distinct() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        assert_eq!(ErrorCode::from_code(-9), None);
        assert_eq!(ErrorCode::NoNode.code(), -101);
        assert_eq!(ErrorCode::ThrottledOp.code(), -127);
    }

    #[test]
    fn op_codes_round_trip() {
        for c in OpCode::ALL {
            assert_eq!(OpCode::from_code(c.code()), Some(c));
        }
        assert_eq!(OpCode::from_code(10), None);
        assert_eq!(OpCode::from_code(999), None);
    }

    #[test]
    fn create_mode_flags() {
        for f in 0..7 {
            assert_eq!(CreateMode::from_flags(f).map(CreateMode::flags), Some(f));
        }
        assert_eq!(CreateMode::from_flags(7), None);
        assert_eq!(CreateMode::from_flags(-1), None);
        assert!(CreateMode::EphemeralSequential.is_ephemeral());
        assert!(CreateMode::EphemeralSequential.is_sequential());
        assert!(!CreateMode::Container.is_sequential());
        assert!(CreateMode::PersistentSequentialWithTtl.is_ttl());
    }

    #[test]
    fn nanos_arithmetic_saturates() {
        assert_eq!(Nanos(5).add_ns(7), Nanos(12));
        assert_eq!(Nanos(u64::MAX).add_ns(1), Nanos(u64::MAX));
        assert_eq!(Nanos(10).since(Nanos(4)), 6);
        assert_eq!(Nanos(4).since(Nanos(10)), 0);
    }

    #[test]
    fn perms_any_bit() {
        assert!(Perms(Perms::READ.0 | Perms::ADMIN.0).grants_any(Perms::ADMIN));
        assert!(!Perms::READ.grants_any(Perms::WRITE));
        assert_eq!(Perms::READ.union(Perms::WRITE), Perms(3));
    }
}
