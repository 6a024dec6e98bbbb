//! [`Options`]: the knobs of one simulated run. Everything else is decided by the seed.
//! [`Options::swarm`] draws a whole option set from a seed (swarm testing).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use arbor_core::replica::Canary;

/// Run options (the CLI maps its flags onto these).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    #[serde(default = "StorageFaults::none")]
    pub storage: StorageFaults,
    /// A deliberate driver bug, to prove the checkers catch what it breaks.
    pub mutation: Option<Mutation>,
    /// Operations a client session issues are drawn from `20..ops_max` (then it closes or
    /// abandons the session).
    #[serde(default = "default_ops_max")]
    pub ops_max: u32,
    /// The workload mix.
    #[serde(default)]
    pub mix: Mix,
    /// Timer-clock and network-depth faults. Absent from older artifacts: those replay
    /// without them, as they ran.
    #[serde(default = "DepthFaults::none")]
    pub depth: DepthFaults,
    /// The core's BUGGIFY fault points (`arbor_core::buggify`). Absent from older
    /// artifacts: those replay without them.
    #[serde(default = "BuggifyOptions::none")]
    pub buggify: BuggifyOptions,
    /// Overrides the replicas' `proposals_inflight_max` when non-zero: a small window makes
    /// the leader queue writes (see `Config`).
    #[serde(default)]
    pub proposals_inflight_max: usize,
    /// Overrides the replicas' `client_outstanding_max` when non-zero: a small limit makes
    /// servers pause and resume their clients' reads.
    #[serde(default)]
    pub client_outstanding_max: usize,
}

/// Which of the core's fault points a run enables: each site is on with probability
/// `site_prob` (drawn per seed), and an enabled site fires with probability `fire_prob`
/// each time the core reaches it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuggifyOptions {
    /// Probability that a site is enabled for the run (0: no fault points at all).
    pub site_prob: f64,
    /// Probability that an enabled site fires when reached.
    pub fire_prob: f64,
}

impl Default for BuggifyOptions {
    fn default() -> BuggifyOptions {
        BuggifyOptions {
            site_prob: 0.5,
            fire_prob: 0.05,
        }
    }
}

impl BuggifyOptions {
    /// No fault points.
    pub fn none() -> BuggifyOptions {
        BuggifyOptions {
            site_prob: 0.0,
            fire_prob: 0.0,
        }
    }
}

/// Fault kinds with their own random stream and their own fault schedule, so that with all
/// of them off a seed runs exactly as it did before they existed. Faults stop with the
/// fault phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepthFaults {
    /// Jumps (forward or backward) of one node's timer clock — the monotonic `now` its core
    /// sees — per simulated second. A forward jump is a VM pause as the node sees it;
    /// a backward one a broken clock source.
    pub timer_jump_rate: f64,
    /// Largest timer-clock jump, ms.
    pub timer_jump_ms_max: u64,
    /// Per link reconnect (fault phase), per direction: probability that the last frames
    /// sent on the old connection (up to 4) are delivered again first on the new one, as a
    /// peer layer resending unacknowledged frames would. Only while both ends are the
    /// incarnations that exchanged them.
    pub reconnect_dup_prob: f64,
    /// Bridge partitions per simulated second: one node sees both sides, the two sides do
    /// not see each other (3 nodes or more).
    pub bridge_rate: f64,
    /// Flapping links per simulated second: one link goes down and up 4 to 20 times, a few
    /// ms to 80 ms apart.
    pub flap_rate: f64,
    /// Slow-node episodes per simulated second: for 0.5 to 5 s every message from or to
    /// one node (peers and clients) and its timer wake-ups are delayed by up to
    /// `slow_delay_ms_max` more; nothing is dropped.
    pub slow_node_rate: f64,
    /// Largest extra delay of a slow node, ms.
    pub slow_delay_ms_max: u64,
}

impl Default for DepthFaults {
    fn default() -> DepthFaults {
        DepthFaults {
            timer_jump_rate: 0.1,
            timer_jump_ms_max: 5_000,
            reconnect_dup_prob: 0.3,
            bridge_rate: 0.1,
            flap_rate: 0.1,
            slow_node_rate: 0.1,
            slow_delay_ms_max: 200,
        }
    }
}

impl DepthFaults {
    /// None of these faults.
    pub fn none() -> DepthFaults {
        DepthFaults {
            timer_jump_rate: 0.0,
            timer_jump_ms_max: 5_000,
            reconnect_dup_prob: 0.0,
            bridge_rate: 0.0,
            flap_rate: 0.0,
            slow_node_rate: 0.0,
            slow_delay_ms_max: 200,
        }
    }
}

/// Relative weights of the client operations (see `client::gen_op`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mix {
    /// Probability that an op is one of the rare ones (ACLs, containers, multiRead, ...).
    pub rare: f64,
    /// Weights: create, create2, setData, delete, multi, getData, exists, getChildren, sync.
    pub weights: [u32; 9],
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            rare: 0.15,
            weights: [20, 5, 15, 10, 8, 15, 10, 10, 7],
        }
    }
}

impl Mix {
    /// The `--mix` flag value: `rare:w0,w1,...`.
    pub fn to_flag(&self) -> String {
        let w: Vec<String> = self.weights.iter().map(|w| w.to_string()).collect();
        format!("{}:{}", self.rare, w.join(","))
    }

    /// Parses [`Mix::to_flag`]'s format.
    pub fn parse(s: &str) -> Result<Mix, String> {
        let (rare, w) = s.split_once(':').ok_or("--mix takes RARE:W0,...,W8")?;
        let rare: f64 = rare.parse().map_err(|e| format!("--mix rare: {e}"))?;
        let ws: Vec<u32> = w
            .split(',')
            .map(|x| x.parse().map_err(|e| format!("--mix weight {x}: {e}")))
            .collect::<Result<_, _>>()?;
        let weights: [u32; 9] = ws
            .try_into()
            .map_err(|_| "--mix takes 9 weights".to_string())?;
        if weights.iter().sum::<u32>() == 0 || !(0.0..=1.0).contains(&rare) {
            return Err("--mix needs a positive weight sum and 0 <= rare <= 1".to_string());
        }
        Ok(Mix { rare, weights })
    }
}

fn default_ops_max() -> u32 {
    400
}

/// Storage fault probabilities. Damage (torn, bit flip, misdirected) is only injected while
/// fewer than `(nodes - 1) / 2` nodes hold damage that no resync has repaired yet, so a
/// quorum always keeps an intact copy of every committed txn; it is found by the disk's
/// checksums at the node's next restart. Faults stop with the fault phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
            ops_max: default_ops_max(),
            mix: Mix::default(),
            depth: DepthFaults::default(),
            buggify: BuggifyOptions::default(),
            proposals_inflight_max: 0,
            client_outstanding_max: 0,
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
        self.depth = DepthFaults::none();
        self.buggify = BuggifyOptions::none();
        self
    }

    /// The options of the `sim_run` fuzz target: short runs (3 nodes, 2 clients, 2 s of
    /// faults, 6 s of healing) with frequent crashes and partitions, storage faults at high
    /// rates, and the depth faults (timer jumps, resent frames, bridges, flapping links,
    /// slow nodes) and BUGGIFY fault points. Drawing for those shifts every later choice an
    /// input drives, so the inputs pinned before they joined replay with
    /// [`Options::fuzz_profile_v1`]; the seed corpus is only a starting point either way.
    pub fn fuzz_profile() -> Options {
        Options {
            // 2 s of faults: rates per second high enough that most runs draw some.
            depth: DepthFaults {
                timer_jump_rate: 1.0,
                timer_jump_ms_max: 5_000,
                reconnect_dup_prob: 0.5,
                bridge_rate: 0.5,
                flap_rate: 0.5,
                slow_node_rate: 0.5,
                slow_delay_ms_max: 500,
            },
            buggify: BuggifyOptions {
                site_prob: 0.5,
                fire_prob: 0.1,
            },
            ..Options::fuzz_profile_v1()
        }
    }

    /// The `sim_run` profile before the depth faults and fault points joined it (storage,
    /// crash and partition faults only); the regression inputs that fuzzer found replay with
    /// it.
    pub fn fuzz_profile_v1() -> Options {
        Options {
            nodes: 3,
            clients: 2,
            duration_ms: 2_000,
            heal_ms: 6_000,
            crash_rate: 1.0,
            partition_rate: 0.5,
            storage: StorageFaults {
                torn_write_prob: 0.3,
                bit_flip_prob: 0.01,
                misdirect_prob: 0.01,
                fsync_fail_prob: 0.005,
            },
            depth: DepthFaults::none(),
            buggify: BuggifyOptions::none(),
            ..Options::default()
        }
    }

    /// The `arbor sim` flags that reproduce these options for `seed`.
    pub fn replay_command(&self, seed: u64) -> String {
        let mut mutation = self
            .mutation
            .map(|m| format!(" --mutation {}", m.name()))
            .unwrap_or_default();
        if self.proposals_inflight_max != 0 {
            mutation += &format!(" --window {}", self.proposals_inflight_max);
        }
        if self.client_outstanding_max != 0 {
            mutation += &format!(" --outstanding {}", self.client_outstanding_max);
        }
        format!(
            "arbor sim --seed {seed} --nodes {} --clients {} --duration {} --heal {} --tick {} \
             --crash-rate {} --crash-on-persist {} --power-loss-prob {} --recovery-crash-prob {} --link-break-rate {} --partition-rate {} \
             --client-drop-rate {} --clock-jump-rate {} --net-delay-us {} --disk-delay-us {} \
             --kind-off-prob {} --unsynced-survive-prob {} --torn-write-prob {} \
             --bit-flip-prob {} --misdirect-prob {} --fsync-fail-prob {} --inflight {} \
             --think-ms {} --ops-max {} --mix {} --timer-jump-rate {} --timer-jump-ms-max {} \
             --reconnect-dup-prob {} --bridge-rate {} --flap-rate {} --slow-node-rate {} \
             --slow-delay-ms-max {} --buggify-site-prob {} --buggify-fire-prob {}{mutation}",
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
            self.client_inflight_max,
            self.think_ms_max,
            self.ops_max,
            self.mix.to_flag(),
            self.depth.timer_jump_rate,
            self.depth.timer_jump_ms_max,
            self.depth.reconnect_dup_prob,
            self.depth.bridge_rate,
            self.depth.flap_rate,
            self.depth.slow_node_rate,
            self.depth.slow_delay_ms_max,
            self.buggify.site_prob,
            self.buggify.fire_prob,
        )
    }

    /// Swarm testing: a whole option set drawn from `seed` (reproducibly), on top of
    /// `base` (which gives the durations, tick, trace and mutation). Each seed draws its
    /// cluster size (1, 3 or 5), client count, workload mix, client pacing and fault
    /// probabilities, and switches some fault kinds fully off.
    pub fn swarm(seed: u64, base: &Options) -> Options {
        let mut r = ChaCha8Rng::seed_from_u64(seed ^ 0x053a_7aa1_1ce5_eed5);
        let mut o = base.clone();
        o.nodes = match r.gen_range(0..20) {
            0 => 1,
            1..=11 => 3,
            _ => 5,
        };
        o.clients = r.gen_range(1..=10);
        o.client_inflight_max = r.gen_range(1..=5);
        o.think_ms_max = [5, 20, 50, 200][r.gen_range(0..4)];
        o.ops_max = r.gen_range(30..600);
        let mut weights = [0u32; 9];
        for w in weights.iter_mut() {
            // A third of the ops are absent in a given run.
            *w = if r.gen_bool(0.3) {
                0
            } else {
                r.gen_range(1..=30)
            };
        }
        if weights.iter().sum::<u32>() == 0 {
            weights[0] = 1;
        }
        o.mix = Mix {
            rare: [0.0, 0.05, 0.15, 0.4][r.gen_range(0..4)],
            weights,
        };
        // Each fault kind is off (rate 0) with probability 0.3, else 0.2x..3x its default.
        let rate = |d: f64, r: &mut ChaCha8Rng| {
            if r.gen_bool(0.3) {
                0.0
            } else {
                (d * r.gen_range(0.2..3.0) * 1000.0).round() / 1000.0
            }
        };
        let d = Options::default();
        o.crash_rate = rate(d.crash_rate, &mut r);
        o.crash_on_persist = rate(d.crash_on_persist, &mut r);
        o.link_break_rate = rate(d.link_break_rate, &mut r);
        o.partition_rate = rate(d.partition_rate, &mut r);
        o.client_drop_rate = rate(d.client_drop_rate, &mut r);
        o.clock_jump_rate = rate(d.clock_jump_rate, &mut r);
        o.unsynced_survive_prob = if r.gen_bool(0.5) {
            0.0
        } else {
            [0.1, 0.5, 1.0][r.gen_range(0..3)]
        };
        o.net_delay_us_max = [500, 2_000, 5_000, 20_000][r.gen_range(0..4)];
        o.disk_delay_us_max = [200, 1_000, 3_000, 10_000][r.gen_range(0..4)];
        // The kinds are already drawn here; no second, hidden switch.
        o.kind_off_prob = 0.0;
        // Drawn last, so the draws above keep their values across this addition.
        o.power_loss_prob = [0.0, 0.0, 0.1, 0.3][r.gen_range(0..4)];
        o.recovery_crash_prob = [0.0, 0.0, 0.2, 0.5][r.gen_range(0..4)];
        o.storage = StorageFaults {
            torn_write_prob: rate(d.storage.torn_write_prob, &mut r),
            bit_flip_prob: rate(d.storage.bit_flip_prob, &mut r),
            misdirect_prob: rate(d.storage.misdirect_prob, &mut r),
            fsync_fail_prob: rate(d.storage.fsync_fail_prob, &mut r),
        };
        // Drawn after everything above, which keeps its values.
        o.depth = DepthFaults {
            timer_jump_rate: rate(d.depth.timer_jump_rate, &mut r),
            timer_jump_ms_max: [500, 2_000, 5_000, 30_000][r.gen_range(0..4)],
            reconnect_dup_prob: rate(d.depth.reconnect_dup_prob, &mut r).min(1.0),
            bridge_rate: rate(d.depth.bridge_rate, &mut r),
            flap_rate: rate(d.depth.flap_rate, &mut r),
            slow_node_rate: rate(d.depth.slow_node_rate, &mut r),
            slow_delay_ms_max: [50, 200, 1_000][r.gen_range(0..3)],
        };
        o.buggify = BuggifyOptions {
            site_prob: [0.0, 0.3, 0.6, 1.0][r.gen_range(0..4)],
            fire_prob: [0.01, 0.05, 0.2][r.gen_range(0..3)],
        };
        o
    }
}
