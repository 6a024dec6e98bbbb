//! [`Config`]: everything a `Replica` is told at start-up.
//!
//! Invariants (checked by [`Config::validate`], asserted by `Replica::new`): the server is
//! one of the voters, voters are distinct, every tick / limit / bound is non-zero, and
//! `session_timeout_ms_min <= session_timeout_ms_max`.

use crate::replica::Canary;
use crate::tree::TreeConfig;
use crate::types::ServerId;

/// Replica configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// This server (`myid`).
    pub id: ServerId,
    /// The voting members, this server included.
    pub voters: Vec<ServerId>,
    /// tickTime in ns: heartbeat period and timeout granularity.
    pub tick_ns: u64,
    /// initLimit: ticks allowed for discovery + synchronization.
    pub init_limit_ticks: u64,
    /// syncLimit: ticks of silence after which a leader / follower gives up.
    pub sync_limit_ticks: u64,
    /// minSessionTimeout in ms (ZooKeeper default: 2 × tickTime).
    pub session_timeout_ms_min: i32,
    /// maxSessionTimeout in ms (ZooKeeper default: 20 × tickTime).
    pub session_timeout_ms_max: i32,
    /// Seed of this replica's ChaCha RNG (election nonces).
    pub seed: u64,
    /// Secret shared by the whole ensemble: session passwords are a keyed function of the
    /// session id and this value, so every member can verify them.
    pub ensemble_secret: u64,
    /// Tree configuration.
    pub tree: TreeConfig,
    /// Maximum proposals logged but not committed. Further writes wait, in arrival order,
    /// in the leader's write queue and are proposed as commits free the window.
    pub proposals_inflight_max: usize,
    /// Hard bound of the leader's queue of accepted writes waiting for the proposal window
    /// (its own clients' and forwarded ones). Every server throttles its clients at
    /// `client_outstanding_max`, so the queue stays near the sum of those limits; a write
    /// beyond this bound is refused (its connection closed) and logged.
    pub writes_queued_max: usize,
    /// ZooKeeper's `globalOutstandingLimit`: once this server has this many client requests
    /// queued and unanswered, a connection that sends one more gets `Output::PauseReads`;
    /// every paused connection gets `Output::ResumeReads` when the count is back to half of
    /// it. Load throttles clients (TCP backpressure), it never disconnects them.
    pub client_outstanding_max: usize,
    /// Hard bound of requests queued per client connection; beyond it the connection is
    /// closed as hostile. A driver that obeys `PauseReads` keeps a connection near
    /// `client_outstanding_max`, far below this; only a client that keeps sending while its
    /// reads are paused (a driver bug or a buffer full of pipelined frames) can reach it.
    pub client_requests_queued_max: usize,
    /// Maximum client connections.
    pub clients_max: usize,
    /// Emit a `Snapshot` every this many applied transactions.
    pub snapshot_every_txns: u64,
    /// Maximum transactions sent in one DIFF before SNAP is preferred.
    pub diff_txns_max: usize,
    /// A deliberately wrong variant of the core to run (simulation only: the real server
    /// always leaves this `None`). See [`Canary`].
    pub canary: Option<Canary>,
    /// Fault points enabled for this run (simulation only: the real server never sets
    /// it, and without the `buggify` feature the field does not exist). See
    /// [`crate::buggify`].
    #[cfg(feature = "buggify")]
    pub buggify: Option<crate::buggify::Buggify>,
    /// Run `Replica::check_invariants` after every step. Only builds that compile the checks
    /// in (tests, debug builds, the `invariants` feature) can run them; the default is on in
    /// tests and debug builds and off in release builds, so a release server whose binary
    /// also links the simulator (which turns the feature on) does not pay for them. The
    /// simulator and the fuzz harnesses set it.
    pub check_invariants: bool,
}

impl Config {
    /// A configuration with ZooKeeper-like defaults: tickTime 2 s, initLimit 10,
    /// syncLimit 5, session timeouts 2× / 20× tick.
    pub fn new(id: ServerId, voters: Vec<ServerId>) -> Config {
        let tick_ns = 2_000_000_000;
        let tick_ms = (tick_ns / 1_000_000) as i32;
        Config {
            id,
            voters,
            tick_ns,
            init_limit_ticks: 10,
            sync_limit_ticks: 5,
            session_timeout_ms_min: 2 * tick_ms,
            session_timeout_ms_max: 20 * tick_ms,
            seed: id.0,
            ensemble_secret: 0xB341_5C00,
            tree: TreeConfig::default(),
            proposals_inflight_max: 1000,
            writes_queued_max: 50_000,
            client_outstanding_max: 1000,
            client_requests_queued_max: 20_000,
            clients_max: 10_000,
            snapshot_every_txns: 10_000,
            diff_txns_max: 100_000,
            canary: None,
            #[cfg(feature = "buggify")]
            buggify: None,
            check_invariants: cfg!(any(test, debug_assertions)),
        }
    }

    /// Sets tickTime and the default session timeout bounds derived from it.
    pub fn with_tick_ns(mut self, tick_ns: u64) -> Config {
        self.tick_ns = tick_ns;
        let tick_ms = (tick_ns / 1_000_000).max(1) as i32;
        self.session_timeout_ms_min = 2 * tick_ms;
        self.session_timeout_ms_max = 20 * tick_ms;
        self
    }

    /// Why this configuration is unusable, if it is.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !self.voters.contains(&self.id) {
            return Err("this server is not a voter");
        }
        let mut v = self.voters.clone();
        v.sort();
        v.dedup();
        if v.len() != self.voters.len() {
            return Err("duplicate voter");
        }
        if self.tick_ns == 0 || self.init_limit_ticks == 0 || self.sync_limit_ticks == 0 {
            return Err("tick and limits must be non-zero");
        }
        if self.session_timeout_ms_min > self.session_timeout_ms_max {
            return Err("session timeout min above max");
        }
        if self.proposals_inflight_max == 0
            || self.writes_queued_max == 0
            || self.client_outstanding_max == 0
            || self.client_requests_queued_max == 0
            || self.clients_max == 0
            || self.snapshot_every_txns == 0
        {
            return Err("bounds must be non-zero");
        }
        Ok(())
    }

    /// Votes needed for a quorum (strict majority of voters).
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }
}
