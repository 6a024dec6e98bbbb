//! `arbor-sim`: the deterministic simulator.
//!
//! This crate will hold a seeded, single-threaded world of N `arbor_core` replicas and M
//! clients: an event queue ordered by (time, seq), FIFO links that delay, break and
//! partition, disks that lose unsynced writes and corrupt records, drifting clocks, client
//! workloads that record a history, and checkers (Zab safety, durability, digests, client
//! guarantees, liveness) run after every event. One `ChaCha` seed decides everything, so
//! any failure replays exactly with `arbor sim --seed S`.
//!
//! Today it holds only the crate skeleton; the replication core it drives arrives with the
//! "Replication core" issue.

/// The version of the simulator's replay format.
pub const REPLAY_FORMAT_VERSION: u32 = 1;
