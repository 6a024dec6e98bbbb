//! `arbor-sim`: the deterministic simulator.
//!
//! A seeded, single-threaded [`world::World`] of N `arbor_core` replicas and M clients: an
//! event queue ordered by (time, seq), FIFO peer links that delay, break and partition
//! (also one way), disks that lose unsynced writes on a crash, per-node drifting monotonic
//! clocks and jumping wall clocks, client workloads that record a history, and checkers
//! (`check/`) run after every event. One `ChaCha8` seed decides everything, so any failure
//! replays exactly with `arbor sim --seed S`.

pub mod check;
pub mod client;
pub mod disk;
pub mod fast_hash;
pub mod options;
pub mod rng;
pub mod shrink;
mod slab;
pub mod trace;
pub mod world;
pub mod zxid_map;

pub use check::Violation;
pub use options::{BuggifyOptions, DepthFaults, Mix, Mutation, Options, StorageFaults};
pub use shrink::{shrink, Artifact, Shrunk};
pub use world::{run, run_driven, DiskFaults, Failure, Report, FAULT_KINDS};

/// The version of the simulator's replay format.
pub const REPLAY_FORMAT_VERSION: u32 = 2;
