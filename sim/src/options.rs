//! [`Options`]: the knobs of one simulated run. Everything else is decided by the seed.

use arbor_core::replica::Canary;

/// Run options (the CLI maps its flags onto these).
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Number of replicas (1, 3, 5, 7).
    pub nodes: usize,
    /// Number of clients.
    pub clients: usize,
    /// Length of the fault phase, simulated ms.
    pub duration_ms: u64,
    /// Length of the heal window after the fault phase, simulated ms (liveness is checked
    /// at its end).
    pub heal_ms: u64,
    /// tickTime of the replicas, ms.
    pub tick_ms: u64,
    /// Process crashes per simulated second (whole cluster).
    pub crash_rate: f64,
    /// Probability that a `Persist` is followed by a crash before its fsync completes, and
    /// that an fsync completion is followed by a crash before `Persisted` is delivered.
    pub crash_on_persist: f64,
    /// Probability that a crash fault is a power loss: every live node crashes at the same
    /// instant (losing its unsynced writes) and each restarts after its own delay.
    pub power_loss_prob: f64,
    /// Probability, each time a node starts leading, of a power loss of every node a few
    /// milliseconds later: while the new leader synchronizes its followers, when the
    /// durability of the synced history matters most (FoundationDB's "crash during
    /// recovery").
    pub recovery_crash_prob: f64,
    /// Link breaks per simulated second.
    pub link_break_rate: f64,
    /// Partitions (symmetric or one way) per simulated second.
    pub partition_rate: f64,
    /// Client connection drops per simulated second.
    pub client_drop_rate: f64,
    /// Wall-clock jumps per simulated second.
    pub clock_jump_rate: f64,
    /// Maximum one-way peer link delay, µs.
    pub net_delay_us_max: u64,
    /// Maximum fsync latency, µs.
    pub disk_delay_us_max: u64,
    /// Each fault kind is switched off for a run with this probability (decided by the
    /// seed), so some runs have none of a kind.
    pub kind_off_prob: f64,
    /// Maximum requests a client keeps outstanding.
    pub client_inflight_max: usize,
    /// Maximum think time between client requests, ms.
    pub think_ms_max: u64,
    /// Trace lines kept for failure reports.
    pub trace_keep: usize,
    /// Probability that a crash keeps a random prefix of the unsynced writes (the OS had
    /// flushed them) and tears the next one. 0 gives the pessimistic model in which a crash
    /// loses everything unsynced.
    pub unsynced_survive_prob: f64,
    /// Storage faults (simulated disk damage and failing fsyncs).
    pub storage: StorageFaults,
    /// A deliberate driver bug, to prove the checkers catch what it breaks.
    pub mutation: Option<Mutation>,
}

/// Storage fault probabilities. Damage (torn, bit flip, misdirected) is only injected while
/// fewer than `(nodes - 1) / 2` nodes hold damage that no resync has repaired yet, so a
/// quorum always keeps an intact copy of every committed txn; it is found by the disk's
/// checksums at the node's next restart. Faults stop with the fault phase.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageFaults {
    /// Per crash with an unsynced txn write pending: the write is torn (a prefix of its
    /// records reaches the disk, the last of them only partly).
    pub torn_write_prob: f64,
    /// Per completed fsync: a bit of a random durable record (or of the snapshot) of that
    /// node flips (a latent sector error, found at the next restart).
    pub bit_flip_prob: f64,
    /// Per completed fsync that wrote txns: the last record landed in the slot of an earlier
    /// record instead of its own.
    pub misdirect_prob: f64,
    /// Per fsync: it reports failure. The storage contract makes that fatal for the process:
    /// the node crashes (nothing unsynced survives) and restarts from its disk.
    pub fsync_fail_prob: f64,
}

impl Default for StorageFaults {
    fn default() -> StorageFaults {
        StorageFaults {
            torn_write_prob: 0.1,
            bit_flip_prob: 0.0003,
            misdirect_prob: 0.0002,
            fsync_fail_prob: 0.0002,
        }
    }
}

impl StorageFaults {
    /// No storage faults.
    pub fn none() -> StorageFaults {
        StorageFaults {
            torn_write_prob: 0.0,
            bit_flip_prob: 0.0,
            misdirect_prob: 0.0,
            fsync_fail_prob: 0.0,
        }
    }
}

/// A deliberate bug injected into the simulated environment (never in normal runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// The disk reports `Persisted` for every write but makes only every other fsync
    /// durable, so a crash can lose acknowledged data (the ZOOKEEPER-3911 / -4646 class
    /// seen from the storage side). Durability / agreement checkers must fire.
    LyingFsync,
    /// Recovery ignores the disk's checksums: damaged records are read as if valid (a
    /// record that does not decode ends the log) and no damage is reported to the core.
    /// Agreement / durability checkers must fire under storage faults.
    NoChecksums,
    /// Peer links deliver out of order (the contract promises FIFO). Some checker or a
    /// core assertion must fire.
    ReorderLinks,
    /// A deliberately wrong core (every replica runs with `Config::canary` set): the
    /// mechanism of a real ZooKeeper bug or a classic consensus mistake.
    Core(Canary),
}

impl Mutation {
    /// Every mutation: the environment bugs, then every core canary.
    pub fn all() -> Vec<Mutation> {
        let mut v = vec![
            Mutation::LyingFsync,
            Mutation::NoChecksums,
            Mutation::ReorderLinks,
        ];
        v.extend(Canary::ALL.into_iter().map(Mutation::Core));
        v
    }

    /// The kebab-case name `arbor sim --mutation` takes.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::LyingFsync => "lying-fsync",
            Mutation::NoChecksums => "no-checksums",
            Mutation::ReorderLinks => "reorder-links",
            Mutation::Core(c) => c.name(),
        }
    }

    /// The mutation named `name` (see [`Mutation::name`]).
    pub fn from_name(name: &str) -> Option<Mutation> {
        Mutation::all().into_iter().find(|m| m.name() == name)
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            nodes: 3,
            clients: 5,
            duration_ms: 20_000,
            heal_ms: 20_000,
            tick_ms: 200,
            crash_rate: 0.3,
            crash_on_persist: 0.002,
            power_loss_prob: 0.0,
            recovery_crash_prob: 0.0,
            link_break_rate: 0.5,
            partition_rate: 0.3,
            client_drop_rate: 0.5,
            clock_jump_rate: 0.1,
            net_delay_us_max: 5_000,
            disk_delay_us_max: 3_000,
            kind_off_prob: 0.25,
            client_inflight_max: 3,
            think_ms_max: 50,
            trace_keep: 60,
            mutation: None,
            unsynced_survive_prob: 0.0,
            storage: StorageFaults::default(),
        }
    }
}

impl Options {
    /// No faults at all (for speed measurements and steady-state tests).
    pub fn no_faults(mut self) -> Options {
        self.crash_rate = 0.0;
        self.crash_on_persist = 0.0;
        self.power_loss_prob = 0.0;
        self.recovery_crash_prob = 0.0;
        self.link_break_rate = 0.0;
        self.partition_rate = 0.0;
        self.client_drop_rate = 0.0;
        self.clock_jump_rate = 0.0;
        self.storage = StorageFaults::none();
        self
    }

    /// The `arbor sim` flags that reproduce these options for `seed`.
    pub fn replay_command(&self, seed: u64) -> String {
        let mutation = self
            .mutation
            .map(|m| format!(" --mutation {}", m.name()))
            .unwrap_or_default();
        format!(
            "arbor sim --seed {seed} --nodes {} --clients {} --duration {} --heal {} --tick {} \
             --crash-rate {} --crash-on-persist {} --power-loss-prob {} --recovery-crash-prob {} --link-break-rate {} --partition-rate {} \
             --client-drop-rate {} --clock-jump-rate {} --net-delay-us {} --disk-delay-us {} \
             --kind-off-prob {} --unsynced-survive-prob {} --torn-write-prob {} \
             --bit-flip-prob {} --misdirect-prob {} --fsync-fail-prob {}{mutation}",
            self.nodes,
            self.clients,
            self.duration_ms,
            self.heal_ms,
            self.tick_ms,
            self.crash_rate,
            self.crash_on_persist,
            self.power_loss_prob,
            self.recovery_crash_prob,
            self.link_break_rate,
            self.partition_rate,
            self.client_drop_rate,
            self.clock_jump_rate,
            self.net_delay_us_max,
            self.disk_delay_us_max,
            self.kind_off_prob,
            self.unsynced_survive_prob,
            self.storage.torn_write_prob,
            self.storage.bit_flip_prob,
            self.storage.misdirect_prob,
            self.storage.fsync_fail_prob,
        )
    }
}
