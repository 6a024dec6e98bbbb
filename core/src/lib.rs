//! `arbor-core`: the sans-IO heart of Arbor.
//!
//! Everything in this crate is a pure state machine or a pure codec: it takes values in and
//! gives values out, and never touches a socket, a file, a clock, a thread or an unseeded
//! random number (see `ARCHITECTURE.md` and `STYLE.md`; `core/tests/tidy.rs` enforces it).
//!
//! What it holds today:
//! - [`types`]: the ZooKeeper data vocabulary shared by every layer (zxids, session ids,
//!   `Stat`, ACLs, error codes, create modes, watch event kinds, op codes).
//! - [`tree`]: the znode tree with ZooKeeper 3.8's exact semantics, ACL checks, the
//!   incrementally maintained digest, and the container / TTL expiry query.
//! - [`txn`]: the replicated transactions and their pure `apply`.
//! - [`proto::jute`]: the ZooKeeper client wire codec.
//! - [`watch`]: the per-server watch manager.
//! - [`replica`]: the `Replica` — one whole server (its contract: `Input`, `Output`,
//!   `Config`, `Recovered`, `LogRecord`), built from [`zab`] (election, discovery, sync,
//!   broadcast, the peer protocol), [`session`] and the request pipeline.

#![warn(missing_docs)]

pub mod buggify;
pub(crate) mod pipeline;
pub mod proto;
pub mod replica;
pub mod session;
pub mod tree;
pub mod txn;
pub mod types;
pub mod vec_map;
pub mod watch;
pub mod zab;

#[cfg(test)]
mod tests;

pub use replica::{
    CloseReason, Config, Input, LogRecord, Output, RecoverError, Recovered, Replica, SyncMode,
};
pub use zab::PeerMessage;
