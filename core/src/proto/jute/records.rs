//! Jute records: the [`Record`] trait, its impls for primitives and the shared data types
//! (`Stat`, `Id`, `ACL`), and every plain request and response record of the client
//! protocol (reference §6). Multi records live in `multi`, headers and the handshake in
//! `request` / `response` / `connect`.
//!
//! Invariants and decisions:
//! - A record is its fields in declaration order, nothing else (no length, no tag).
//! - Field types decide the null policy: `Option<..>` keeps null apart from empty where
//!   ZooKeeper shows the difference (znode data, SASL tokens, reconfig strings); `String`,
//!   `Vec<u8>` and `Vec<T>` read null as empty (paths, passwords, ACL and watch lists),
//!   and are written non-null.
//! - Decoding reads exactly the record's fields; bytes after it are left to the caller
//!   (ZooKeeper ignores trailing bytes after a request record).

use crate::proto::jute::error::DecodeError;
use crate::proto::jute::wire::{Reader, Writer};
use crate::types::{Acl, Id, Perms, Stat, Zxid};

/// A value with a jute encoding.
pub trait Record: Sized {
    /// The fewest bytes any encoding of this record takes; used to bound vector counts
    /// before allocating.
    const MIN_LEN: usize;

    /// Appends the encoding of `self`.
    fn encode(&self, w: &mut Writer<'_>);

    /// Reads one record from the cursor.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Encodes `self` into a fresh vector (convenience for tests and callers).
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut Writer::new(&mut out));
        out
    }

    /// Decodes one record from the start of `bytes`, ignoring trailing bytes.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(&mut Reader::new(bytes))
    }
}

impl Record for i32 {
    const MIN_LEN: usize = 4;
    fn encode(&self, w: &mut Writer<'_>) {
        w.int(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.int()
    }
}

impl Record for i64 {
    const MIN_LEN: usize = 8;
    fn encode(&self, w: &mut Writer<'_>) {
        w.long(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.long()
    }
}

impl Record for bool {
    const MIN_LEN: usize = 1;
    fn encode(&self, w: &mut Writer<'_>) {
        w.boolean(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.boolean()
    }
}

impl Record for Zxid {
    const MIN_LEN: usize = 8;
    fn encode(&self, w: &mut Writer<'_>) {
        w.long(self.0);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Zxid(r.long()?))
    }
}

/// A `ustring` that is never null on our side (null reads as "").
impl Record for String {
    const MIN_LEN: usize = 4;
    fn encode(&self, w: &mut Writer<'_>) {
        w.string(self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.string()
    }
}

/// A nullable `ustring`.
impl Record for Option<String> {
    const MIN_LEN: usize = 4;
    fn encode(&self, w: &mut Writer<'_>) {
        w.ustring(self.as_deref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.ustring()
    }
}

/// A `buffer` that is never null on our side (null reads as empty).
impl Record for Vec<u8> {
    const MIN_LEN: usize = 4;
    fn encode(&self, w: &mut Writer<'_>) {
        w.buffer(Some(self));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.buffer_or_empty()
    }
}

/// A nullable `buffer`.
impl Record for Option<Vec<u8>> {
    const MIN_LEN: usize = 4;
    fn encode(&self, w: &mut Writer<'_>) {
        w.buffer(self.as_deref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.buffer()
    }
}

/// A `vector<T>` that is never null on our side (null reads as empty).
impl<T: Record> Record for Vec<T> {
    const MIN_LEN: usize = 4;
    fn encode(&self, w: &mut Writer<'_>) {
        w.vector(self, |w, t| t.encode(w));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.vector_or_empty(T::MIN_LEN, T::decode)
    }
}

impl Record for Stat {
    const MIN_LEN: usize = 68;
    fn encode(&self, w: &mut Writer<'_>) {
        w.long(self.czxid);
        w.long(self.mzxid);
        w.long(self.ctime);
        w.long(self.mtime);
        w.int(self.version);
        w.int(self.cversion);
        w.int(self.aversion);
        w.long(self.ephemeral_owner);
        w.int(self.data_length);
        w.int(self.num_children);
        w.long(self.pzxid);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Stat {
            czxid: r.long()?,
            mzxid: r.long()?,
            ctime: r.long()?,
            mtime: r.long()?,
            version: r.int()?,
            cversion: r.int()?,
            aversion: r.int()?,
            ephemeral_owner: r.long()?,
            data_length: r.int()?,
            num_children: r.int()?,
            pzxid: r.long()?,
        })
    }
}

impl Record for Id {
    const MIN_LEN: usize = 8;
    fn encode(&self, w: &mut Writer<'_>) {
        w.string(&self.scheme);
        w.string(&self.id);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Id {
            scheme: r.string()?,
            id: r.string()?,
        })
    }
}

impl Record for Acl {
    const MIN_LEN: usize = 12;
    fn encode(&self, w: &mut Writer<'_>) {
        w.int(self.perms.0);
        self.id.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Acl {
            perms: Perms(r.int()?),
            id: Id::decode(r)?,
        })
    }
}

/// Declares a record struct whose fields are all [`Record`]s, in wire order, and derives
/// its [`Record`] impl. The doc comments given are kept on the struct and its fields.
macro_rules! jute_record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl Record for $name {
            const MIN_LEN: usize = 0 $( + <$ty as Record>::MIN_LEN )*;

            fn encode(&self, w: &mut Writer<'_>) {
                $( Record::encode(&self.$field, w); )*
            }

            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($name { $( $field: <$ty as Record>::decode(r)?, )* })
            }
        }
    };
}

jute_record! {
    /// One identity of a connection, as listed by whoAmI (`ClientInfo`).
    pub struct ClientInfo {
        /// The authentication scheme (`ip`, `digest`, `sasl`, ...).
        pub auth_scheme: String,
        /// The user within the scheme.
        pub user: String,
    }
}

jute_record! {
    /// create (1), create2 (15), createContainer (19): `CreateRequest`.
    pub struct CreateRequest {
        /// Path to create (a sequential create gets a suffix).
        pub path: String,
        /// Initial data; `None` is a null buffer (ZooKeeper stores it and later returns null).
        pub data: Option<Vec<u8>>,
        /// The node's ACL.
        pub acl: Vec<Acl>,
        /// Raw `CreateMode` flags; see [`crate::types::CreateMode::from_flags`].
        pub flags: i32,
    }
}

jute_record! {
    /// createTTL (21): `CreateTTLRequest`.
    pub struct CreateTtlRequest {
        /// Path to create.
        pub path: String,
        /// Initial data; `None` is a null buffer.
        pub data: Option<Vec<u8>>,
        /// The node's ACL.
        pub acl: Vec<Acl>,
        /// Raw `CreateMode` flags (5 or 6 are valid with a TTL).
        pub flags: i32,
        /// Time to live in ms.
        pub ttl: i64,
    }
}

jute_record! {
    /// delete (2): `DeleteRequest`.
    pub struct DeleteRequest {
        /// Node to delete.
        pub path: String,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// exists (3), getData (4), getChildren (8), getChildren2 (12): a path and a watch flag
    /// (`ExistsRequest`, `GetDataRequest`, `GetChildrenRequest`, `GetChildren2Request`
    /// share this layout).
    pub struct PathWatchRequest {
        /// The node.
        pub path: String,
        /// Whether to leave a watch.
        pub watch: bool,
    }
}

jute_record! {
    /// setData (5): `SetDataRequest`.
    pub struct SetDataRequest {
        /// The node.
        pub path: String,
        /// New data; `None` is a null buffer.
        pub data: Option<Vec<u8>>,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// A request that is just a path: getACL (6), sync (9), deleteContainer (20),
    /// getEphemerals (103, the prefix), getAllChildrenNumber (104).
    pub struct PathRequest {
        /// The node (or prefix).
        pub path: String,
    }
}

jute_record! {
    /// setACL (7): `SetACLRequest`.
    pub struct SetAclRequest {
        /// The node.
        pub path: String,
        /// The new ACL.
        pub acl: Vec<Acl>,
        /// Expected ACL version (aversion), -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// check (13), normally inside a multi: `CheckVersionRequest`.
    pub struct CheckVersionRequest {
        /// The node.
        pub path: String,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// reconfig (16): `ReconfigRequest`. The strings may be null.
    pub struct ReconfigRequest {
        /// Servers to add (incremental mode).
        pub joining_servers: Option<String>,
        /// Server ids to remove (incremental mode).
        pub leaving_servers: Option<String>,
        /// Complete new membership (non-incremental mode).
        pub new_members: Option<String>,
        /// Expected current config version, -1 for don't check.
        pub cur_config_id: i64,
    }
}

jute_record! {
    /// checkWatches (17) and removeWatches (18): `CheckWatchesRequest` /
    /// `RemoveWatchesRequest`.
    pub struct WatchesRequest {
        /// The node.
        pub path: String,
        /// Raw `WatcherType`; see [`crate::types::WatcherType::from_code`]. 3.8 accepts 1-3.
        pub watcher_type: i32,
    }
}

jute_record! {
    /// auth (100): `AuthPacket`.
    pub struct AuthPacket {
        /// Clients send 0.
        pub auth_type: i32,
        /// The scheme (`digest`, ...).
        pub scheme: String,
        /// The credential (for digest, clear `user:password`). Null reads as empty.
        pub auth: Vec<u8>,
    }
}

jute_record! {
    /// setWatches (101): `SetWatches`.
    pub struct SetWatches {
        /// The client's last seen zxid.
        pub relative_zxid: Zxid,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
    }
}

jute_record! {
    /// setWatches2 (105): `SetWatches2`.
    pub struct SetWatches2 {
        /// The client's last seen zxid.
        pub relative_zxid: Zxid,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
        /// Paths with persistent watches.
        pub persistent_watches: Vec<String>,
        /// Paths with persistent recursive watches.
        pub persistent_recursive_watches: Vec<String>,
    }
}

jute_record! {
    /// sasl (102) request `GetSASLRequest` and its reply `SetSASLResponse`: a token.
    pub struct SaslToken {
        /// The SASL token; `None` is a null buffer.
        pub token: Option<Vec<u8>>,
    }
}

jute_record! {
    /// addWatch (106): `AddWatchRequest`.
    pub struct AddWatchRequest {
        /// The node.
        pub path: String,
        /// Raw `AddWatchMode`; see [`crate::types::AddWatchMode::from_code`].
        pub mode: i32,
    }
}

jute_record! {
    /// create (1) reply: `CreateResponse`; also sync's `SyncResponse` (the path).
    pub struct PathResponse {
        /// The created (or synced) path.
        pub path: String,
    }
}

jute_record! {
    /// create2 (15), createContainer (19), createTTL (21) reply: `Create2Response`.
    pub struct Create2Response {
        /// The created path, including any sequence suffix.
        pub path: String,
        /// The new node's Stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// getData (4) and reconfig (16) reply: `GetDataResponse`.
    pub struct GetDataResponse {
        /// The data; `None` is a null buffer (a node created with null data).
        pub data: Option<Vec<u8>>,
        /// The node's Stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// getACL (6) reply: `GetACLResponse`.
    pub struct GetAclResponse {
        /// The ACL.
        pub acl: Vec<Acl>,
        /// The node's Stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// getChildren (8) reply `GetChildrenResponse`; also getEphemerals' (103)
    /// `GetEphemeralsResponse` (a list of paths).
    pub struct ChildrenResponse {
        /// Child names (or ephemeral paths).
        pub children: Vec<String>,
    }
}

jute_record! {
    /// getChildren2 (12) reply: `GetChildren2Response`.
    pub struct GetChildren2Response {
        /// Child names.
        pub children: Vec<String>,
        /// The node's Stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// whoAmI (107) reply: `WhoAmIResponse`.
    pub struct WhoAmIResponse {
        /// Every identity attached to the connection.
        pub client_info: Vec<ClientInfo>,
    }
}

jute_record! {
    /// A single int: addWatch's (106) reply `ErrorResponse`, multi error results, and
    /// getAllChildrenNumber's (104) `GetAllChildrenNumberResponse` share this layout.
    pub struct IntResponse {
        /// The value (an error code, or the descendant count).
        pub value: i32,
    }
}

jute_record! {
    /// A watch notification body: `WatcherEvent`.
    pub struct WatcherEvent {
        /// Raw `EventType`; see [`crate::types::EventType::from_code`].
        pub event_type: i32,
        /// Keeper state; servers send 3 (SyncConnected).
        pub state: i32,
        /// The node the event is about.
        pub path: String,
    }
}

// ZooKeeper's names for records that share a layout with one above.

/// `ExistsRequest` (op 3).
pub type ExistsRequest = PathWatchRequest;
/// `GetDataRequest` (op 4).
pub type GetDataRequest = PathWatchRequest;
/// `GetChildrenRequest` / `GetChildren2Request` (ops 8, 12).
pub type GetChildrenRequest = PathWatchRequest;
/// `GetACLRequest` (op 6).
pub type GetAclRequest = PathRequest;
/// `GetSASLRequest` (op 102).
pub type GetSaslRequest = SaslToken;
/// `SetSASLResponse` (op 102).
pub type SetSaslResponse = SaslToken;
/// `CreateResponse` (op 1).
pub type CreateResponse = PathResponse;
/// `SyncResponse` (op 9).
pub type SyncResponse = PathResponse;
/// `GetChildrenResponse` (op 8).
pub type GetChildrenResponse = ChildrenResponse;
/// `GetEphemeralsResponse` (op 103).
pub type GetEphemeralsResponse = ChildrenResponse;
/// `ErrorResponse` (addWatch reply, multi error results).
pub type ErrorResponse = IntResponse;
/// `GetAllChildrenNumberResponse` (op 104).
pub type GetAllChildrenNumberResponse = IntResponse;

#[cfg(test)]
mod tests;
