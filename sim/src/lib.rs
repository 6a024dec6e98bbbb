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
/// Reads the calling thread's CPU time in ns, for reports only (never for decisions).
static THREAD_CPU_CLOCK: std::sync::OnceLock<fn() -> Option<u64>> = std::sync::OnceLock::new();

/// Installs the clock that reports how much CPU the end-of-run linearizability checker
/// took ([`Report::lin_cpu_ns`]), so that its cost can be reported apart from the
/// simulation's. The simulator reads no OS clock itself; the binary provides this one.
/// Later calls are ignored.
pub fn set_thread_cpu_clock(f: fn() -> Option<u64>) {
    let _ = THREAD_CPU_CLOCK.set(f);
}

fn thread_cpu_ns() -> Option<u64> {
    THREAD_CPU_CLOCK.get().and_then(|f| f())
}

pub const REPLAY_FORMAT_VERSION: u32 = 2;
