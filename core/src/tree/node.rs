//! The compact znode record and the arena that owns every node.
//!
//! A node is ~100 bytes plus ONE heap allocation holding its name followed by its data.
//! Nodes live in a chunked copy-on-write vector ([`CowVec`]) indexed by a `u32` id with a
//! free list; a node knows its parent, and a parent's child list is kept sorted by name
//! (found by binary search on removal). A clone of the slots ([`Arena::frozen`]) is a snapshot's
//! frozen view of every node, taken without copying any node.
//!
//! The node kind is stored as ZooKeeper stores it, in the raw `ephemeralOwner`
//! (`EphemeralType`): 0 persistent, `i64::MIN` container, `0xFF00_0000_0000_0000 | ttl` TTL,
//! anything else the owning session of an ephemeral.
//!
//! Invariants:
//! - A slot is free iff its `acl` is [`NONE`]; free slots own no heap memory.
//! - `name_len` (without the null-data bit) never exceeds the byte buffer's length.

use serde::{Deserialize, Serialize};

use super::cow::CowVec;
use crate::types::{SessionId, Stat};

/// The "no node" id (also the root's parent).
pub(crate) const NONE: u32 = u32::MAX;
/// The root's id.
pub(crate) const ROOT: u32 = 0;
/// Set in `name_len` when the node's data is null (a create with a `-1` buffer length).
const DATA_NULL_BIT: u32 = 1 << 31;
/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
const CONTAINER_OWNER: i64 = i64::MIN;
/// High byte that marks an extended ephemeral type (`EphemeralType.EXTENDED_MASK`).
const EXTENDED_MASK: u64 = 0xff00_0000_0000_0000;
/// The two bytes after the high byte: 0 for TTL, other values reserved.
const RESERVED_MASK: u64 = 0x00ff_ff00_0000_0000;

/// What kind of znode a node is. Alphabetical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeKind {
    /// Deleted by the leader once it has had a child and has none (op 19).
    Container,
    /// Owned by a session, deleted when the session closes.
    Ephemeral(SessionId),
    /// A plain node.
    Persistent,
    /// Deleted by the leader once childless and unmodified for this many ms (op 21).
    Ttl(i64),
}

impl NodeKind {
    /// Largest TTL in ms (40 bits), `EphemeralType.TTL.maxValue()`.
    pub const TTL_MAX_MS: i64 = (1 << 40) - 1;

    /// The raw `ephemeralOwner` ZooKeeper stores for this kind.
    pub fn to_ephemeral_owner(self) -> i64 {
        match self {
            NodeKind::Container => CONTAINER_OWNER,
            NodeKind::Ephemeral(s) => s.0,
            NodeKind::Persistent => 0,
            NodeKind::Ttl(ms) => {
                assert!(
                    (1..=Self::TTL_MAX_MS).contains(&ms),
                    "TTL out of range: {ms}"
                );
                (EXTENDED_MASK | ms as u64) as i64
            }
        }
    }

    /// Decodes a raw `ephemeralOwner`.
    pub fn from_ephemeral_owner(raw: i64) -> NodeKind {
        let u = raw as u64;
        if raw == 0 {
            NodeKind::Persistent
        } else if raw == CONTAINER_OWNER {
            NodeKind::Container
        } else if u & EXTENDED_MASK == EXTENDED_MASK && u & RESERVED_MASK == 0 {
            NodeKind::Ttl((u & !(EXTENDED_MASK | RESERVED_MASK)) as i64)
        } else {
            NodeKind::Ephemeral(SessionId(raw))
        }
    }

    /// The `ephemeralOwner` clients see: the session for ephemerals, 0 otherwise.
    pub fn client_ephemeral_owner(self) -> i64 {
        match self {
            NodeKind::Ephemeral(s) => s.0,
            _ => 0,
        }
    }

    /// True if a session id can own ephemerals without colliding with the container / TTL
    /// markers. Arbor's session ids must satisfy this.
    pub fn is_usable_session(session: SessionId) -> bool {
        session.0 != 0 && NodeKind::from_ephemeral_owner(session.0) == NodeKind::Ephemeral(session)
    }
}

/// The stored form of a node's stat (`StatPersisted`): the child counter counts creations
/// only, and `ephemeral_owner` carries the container / TTL markers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoredStat {
    /// zxid of the creating transaction.
    pub czxid: i64,
    /// zxid of the last data change.
    pub mzxid: i64,
    /// zxid of the last child-list change.
    pub pzxid: i64,
    /// Creation time (leader wall-clock ms).
    pub ctime: i64,
    /// Last data change time.
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// Child-creation counter (NOT the client cversion).
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// Raw owner / kind marker.
    pub ephemeral_owner: i64,
}

impl StoredStat {
    /// The kind encoded in `ephemeral_owner`.
    pub fn kind(&self) -> NodeKind {
        NodeKind::from_ephemeral_owner(self.ephemeral_owner)
    }

    /// The client-visible `Stat` (`DataNode.copyStat`): cversion = counter*2 - numChildren.
    pub fn to_stat(&self, num_children: i32, data_length: i32) -> Stat {
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner: self.kind().client_ephemeral_owner(),
            data_length,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

/// One znode. Field order is chosen for packing (see the size test). `Clone` is a deep copy
/// (used when a write unshares an arena chunk that a snapshot still reads).
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub ephemeral_owner: i64,
    /// Name bytes followed by data bytes.
    bytes: Box<[u8]>,
    /// Boxed so a leaf pays 8 bytes, not a 24-byte empty `Vec`.
    #[allow(clippy::box_collection)]
    pub children: Option<Box<Vec<u32>>>,
    pub parent: u32,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub acl: u32,
    /// Length of the name in `bytes`; the top bit marks null data.
    name_len: u32,
}

impl Node {
    /// A fresh node with the given stored stat.
    pub fn new(name: &str, data: Option<&[u8]>, stat: &StoredStat, acl: u32) -> Node {
        let mut node = Node {
            czxid: 0,
            mzxid: 0,
            pzxid: 0,
            ctime: 0,
            mtime: 0,
            ephemeral_owner: 0,
            bytes: Box::default(),
            children: None,
            parent: NONE,
            version: 0,
            cversion: 0,
            aversion: 0,
            acl,
            name_len: 0,
        };
        node.set_stored_stat(stat);
        node.set_name_and_data(name.as_bytes(), data);
        node
    }

    /// A free slot.
    fn vacant() -> Node {
        Node::new("", None, &StoredStat::default(), NONE)
    }

    fn set_name_and_data(&mut self, name: &[u8], data: Option<&[u8]>) {
        assert!(name.len() < DATA_NULL_BIT as usize, "name too long");
        let d = data.unwrap_or(&[]);
        let mut v = Vec::with_capacity(name.len() + d.len());
        v.extend_from_slice(name);
        v.extend_from_slice(d);
        self.bytes = v.into_boxed_slice();
        self.name_len = name.len() as u32 | if data.is_none() { DATA_NULL_BIT } else { 0 };
    }

    fn name_end(&self) -> usize {
        (self.name_len & !DATA_NULL_BIT) as usize
    }

    /// The node's own name (last path component) as bytes.
    pub fn name_bytes(&self) -> &[u8] {
        &self.bytes[..self.name_end()]
    }

    /// The node's own name.
    pub fn name(&self) -> &str {
        // Names are copied from `&str` in `new`, so they are valid UTF-8.
        std::str::from_utf8(self.name_bytes()).expect("znode names are UTF-8")
    }

    /// The data, or `None` for null data.
    pub fn data(&self) -> Option<&[u8]> {
        if self.name_len & DATA_NULL_BIT != 0 {
            None
        } else {
            Some(&self.bytes[self.name_end()..])
        }
    }

    /// Data length as `Stat.dataLength` reports it (0 for null).
    pub fn data_length(&self) -> i32 {
        (self.bytes.len() - self.name_end()) as i32
    }

    /// Replaces the data, keeping the name.
    pub fn set_data(&mut self, data: Option<&[u8]>) {
        let name = self.name_bytes().to_vec();
        self.set_name_and_data(&name, data);
    }

    /// Number of children.
    pub fn num_children(&self) -> usize {
        self.children.as_ref().map_or(0, |c| c.len())
    }

    /// The children ids, sorted by name.
    pub fn child_ids(&self) -> &[u32] {
        self.children.as_deref().map_or(&[], |c| c.as_slice())
    }

    /// True for a free arena slot.
    pub fn is_vacant(&self) -> bool {
        self.acl == NONE
    }

    /// The stored stat.
    pub fn stored_stat(&self) -> StoredStat {
        StoredStat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            pzxid: self.pzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
        }
    }

    /// Overwrites every stored stat field.
    pub fn set_stored_stat(&mut self, s: &StoredStat) {
        self.czxid = s.czxid;
        self.mzxid = s.mzxid;
        self.pzxid = s.pzxid;
        self.ctime = s.ctime;
        self.mtime = s.mtime;
        self.version = s.version;
        self.cversion = s.cversion;
        self.aversion = s.aversion;
        self.ephemeral_owner = s.ephemeral_owner;
    }

    /// The node kind.
    pub fn kind(&self) -> NodeKind {
        NodeKind::from_ephemeral_owner(self.ephemeral_owner)
    }

    /// The client `Stat`.
    pub fn stat(&self) -> Stat {
        self.stored_stat()
            .to_stat(self.num_children() as i32, self.data_length())
    }
}

/// Every node slot (live and free), copy-on-write: a clone is a frozen view.
pub(crate) type NodeSlots = CowVec<Node>;

/// The node with this id in `slots` (a live arena's or a frozen view's).
pub(crate) fn node_at(slots: &NodeSlots, id: u32) -> &Node {
    let n = slots.get(id as usize);
    debug_assert!(!n.is_vacant(), "reading a vacant slot");
    n
}

/// Owner of every node, indexed by id, with slot reuse.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    nodes: NodeSlots,
    free: Vec<u32>,
}

impl Arena {
    /// Stores a node and returns its id.
    pub fn alloc(&mut self, node: Node) -> u32 {
        assert!(!node.is_vacant(), "allocating a vacant node");
        if let Some(id) = self.free.pop() {
            let slot = self.nodes.get_mut(id as usize);
            assert!(slot.is_vacant(), "free list names a live node");
            *slot = node;
            id
        } else {
            let id = u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes");
            assert!(id != NONE, "arena full");
            self.nodes.push(node);
            id
        }
    }

    /// Frees a slot and returns the node that was there.
    pub fn release(&mut self, id: u32) -> Node {
        let node = std::mem::replace(self.nodes.get_mut(id as usize), Node::vacant());
        assert!(!node.is_vacant(), "releasing a vacant slot");
        self.free.push(id);
        node
    }

    /// The node with this id.
    pub fn get(&self, id: u32) -> &Node {
        node_at(&self.nodes, id)
    }

    /// The node with this id, mutably (copies its chunk first if a snapshot shares it).
    pub fn get_mut(&mut self, id: u32) -> &mut Node {
        let n = self.nodes.get_mut(id as usize);
        debug_assert!(!n.is_vacant(), "writing a vacant slot");
        n
    }

    /// The slots, for walking them.
    pub fn slots_ref(&self) -> &NodeSlots {
        &self.nodes
    }

    /// A frozen view of every slot, O(slots / CHUNK_SLOTS): later writes to this arena
    /// never change what it reads.
    pub fn frozen(&self) -> NodeSlots {
        self.nodes.clone()
    }

    /// Number of slots (live and free).
    pub fn slots(&self) -> usize {
        self.nodes.len()
    }

    /// Number of free slots.
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub fn free_slots(&self) -> usize {
        self.free.len()
    }

    /// Checks the slot storage's chunk layout.
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub fn check_invariants(&self) {
        self.nodes.check_invariants();
    }

    /// Approximate heap bytes owned by the arena and its nodes, counting allocator
    /// rounding as 16-byte size classes plus an 8-byte header per allocation.
    pub fn heap_bytes_estimate(&self) -> usize {
        let alloc = |n: usize| if n == 0 { 0 } else { (n + 8).div_ceil(16) * 16 };
        let mut total = self.nodes.heap_bytes() + self.free.capacity() * 4;
        for n in self.nodes.iter() {
            total += alloc(n.bytes.len());
            if let Some(kids) = &n.children {
                total += alloc(std::mem::size_of::<Vec<u32>>()) + alloc(kids.capacity() * 4);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_stays_small() {
        assert!(
            std::mem::size_of::<Node>() <= 104,
            "{}",
            std::mem::size_of::<Node>()
        );
    }

    #[test]
    fn kind_encoding_round_trips() {
        for k in [
            NodeKind::Persistent,
            NodeKind::Container,
            NodeKind::Ttl(1),
            NodeKind::Ttl(NodeKind::TTL_MAX_MS),
            NodeKind::Ephemeral(SessionId(0x0100_0000_0000_0001)),
        ] {
            assert_eq!(NodeKind::from_ephemeral_owner(k.to_ephemeral_owner()), k);
        }
        assert_eq!(
            NodeKind::Ttl(60000).to_ephemeral_owner() as u64,
            0xff00_0000_0000_ea60
        );
        assert_eq!(NodeKind::Container.client_ephemeral_owner(), 0);
        assert_eq!(NodeKind::Ttl(5).client_ephemeral_owner(), 0);
        assert!(!NodeKind::is_usable_session(SessionId(i64::MIN)));
        assert!(!NodeKind::is_usable_session(SessionId(0)));
        assert!(NodeKind::is_usable_session(SessionId(
            0x0100_0000_0000_0001
        )));
    }

    #[test]
    fn name_and_data_share_one_buffer() {
        let mut n = Node::new("key", Some(b"value"), &StoredStat::default(), 0);
        assert_eq!(n.name(), "key");
        assert_eq!(n.data(), Some(&b"value"[..]));
        assert_eq!(n.data_length(), 5);
        n.set_data(None);
        assert_eq!(n.name(), "key");
        assert_eq!(n.data(), None);
        assert_eq!(n.data_length(), 0);
        n.set_data(Some(b""));
        assert_eq!(n.data(), Some(&b""[..]));
    }

    #[test]
    fn arena_reuses_slots() {
        let mut a = Arena::default();
        let x = a.alloc(Node::new("x", None, &StoredStat::default(), 0));
        let y = a.alloc(Node::new("y", None, &StoredStat::default(), 0));
        assert_eq!(a.release(x).name(), "x");
        let z = a.alloc(Node::new("z", None, &StoredStat::default(), 0));
        assert_eq!(z, x);
        assert_eq!(a.get(y).name(), "y");
        assert_eq!(a.slots(), 2);
        assert_eq!(a.free_slots(), 0);
    }
}
