//! `arbor-net`: the thin real runtime.
//!
//! This crate will map the `arbor_core` contract onto tokio: one task owns the `Replica`,
//! peer connections and ZooKeeper client connections (jute frames from
//! `arbor_core::proto::jute`) are tasks that decode frames into inputs, a storage task
//! appends length + CRC32C framed WAL records and group-commits them with one `fdatasync`
//! per batch before reporting `Persisted`, and snapshots are written without stalling the
//! commit path. It also builds under madsim (`--cfg madsim`): the same code then runs on
//! madsim's simulated time and network, with the storage task inline on a madsim task
//! (`net/tests/madsim_cluster.rs`; the few substitutions are in `rt` and marked
//! `cfg(madsim)` where they are used).
//!
//! It holds [`storage`] (the durable log, epochs and snapshots), [`config`]
//! (ZooKeeper's `zoo.cfg`), [`peer`] (the TCP links between ensemble members),
//! [`server`] (the runtime behind `arbor serve`, standalone or ensemble) and [`client`] (a
//! pipelined ZooKeeper wire client for `arbor bench`).

pub mod client;
pub mod config;
pub mod peer;
mod rt;
pub mod server;
pub mod storage;

/// The default ZooKeeper client port.
pub const DEFAULT_CLIENT_PORT: u16 = 2181;
