//! One `Replica` (server 1 of {1, 2, 3}) driven by a byte string turned into inputs the way
//! a runtime would drive it: structured and raw peer messages from any sender, client
//! handshakes and request frames (well-formed or not), connection closes, ticks and time
//! jumps, `Persisted` for the tokens it issued (plus stale and unknown ones). The driver
//! and its checks live in `core/tests/support/replica_world.rs`, shared with
//! `core/tests/fuzz_regressions.rs` so that every crash found here replays in the normal
//! test suite: no panic, the replica's and the tree's invariants after every step,
//! consecutive tokens, durable-before-ACK, client outputs only for open connections.
#![no_main]

#[path = "../../core/tests/support/replica_world.rs"]
mod replica_world;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    replica_world::World::run(bytes);
});
