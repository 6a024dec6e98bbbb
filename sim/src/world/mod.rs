//! The simulated world: replicas, links, disks, clocks, clients and the event queue.
//!
//! One `ChaCha8Rng` seeded from the run's seed derives per-purpose streams (config, net,
//! disk, faults, clients). Events are ordered by (simulated time, sequence number). The
//! driver loop follows the core contract exactly: `handle(now, wall, input)`, drain
//! `poll_output` completely, perform each output, then schedule a `Tick` at
//! `next_deadline`. After every step, the replica's `check_invariants()` has run (at the end
//! of `handle`, feature `invariants`; a recovered replica is checked before its first step)
//! and the observations feed the checkers in `check/`.
//!
//! Invariants: a node's local monotonic clock drifts at a fixed rate per node (restarts
//! keep it) and goes backwards only by a timer-clock jump fault; link deliveries are FIFO per direction and connection
//! generation; fsync completions are reported in output order; nothing unsynced survives a
//! crash.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use arbor_core::buggify::{Buggify, Site};
use arbor_core::proto::jute::{
    ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, ResponseBody,
};
use arbor_core::replica::{CloseReason, Config, Input, LogRecord, Output, Replica};
use arbor_core::txn::{Txn, TxnBody};
use arbor_core::types::{Nanos, PersistToken, ServerId, SessionId, WallMillis, Zxid};
use arbor_core::PeerMessage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tracing::info;

use crate::check::agreement::Agreement;
use crate::check::digest::Digests;
use crate::check::durability::Durability;
use crate::check::ephemerals::Ephemerals;
use crate::check::epochs::EpochSanity;
use crate::check::integrity::Integrity;
use crate::check::leadership::Leadership;
use crate::check::linearizability::{self, Stats as LinStats};
use crate::check::liveness::{self, NodeEnd};
use crate::check::monotonic_reads::MonotonicReads;
use crate::check::primary_order::PrimaryOrder;
use crate::check::watch_order::WatchOrder;
use crate::check::{
    CheckResult, Violation, AGREEMENT, DIGEST, DURABILITY, EPHEMERALS, EPOCHS, INTEGRITY,
    LEADERSHIP, PRIMARY_ORDER,
};
use crate::client::Client;
use crate::disk::{Disk, Effect};
use crate::options::{Mutation, Options};
use crate::rng::{input_seed, ByteSource, SimRng};
use crate::slab::Slab;
use crate::trace::{set_sim_time_ns, Trace};
use crate::zxid_map::ZxidMap;

mod clients;
mod faults;

/// Fault kinds, in the order of [`Report::fault_counts`].
pub const FAULT_KINDS: [&str; 11] = [
    "crash",
    "crash-on-persist",
    "link-break",
    "partition",
    "client-drop",
    "clock-jump",
    "timer-jump",
    "reconnect-dup",
    "bridge",
    "flap",
    "slow-node",
];

/// Indices of the depth faults in [`FAULT_KINDS`].
const TIMER_JUMP: usize = 6;
const RECONNECT_DUP: usize = 7;
const BRIDGE: usize = 8;
const FLAP: usize = 9;
const SLOW_NODE: usize = 10;

/// Depth fault kinds (timer jump, bridge, flap, slow node: scheduled at their rates;
/// reconnect duplication: a probability per reconnect), in the order of
/// `World::depth_kinds`.
const DEPTH_KINDS: usize = 5;
/// The scheduled ones come first.
const DEPTH_SCHEDULED: usize = 4;

const MS: u64 = 1_000_000;
const US: u64 = 1_000;
const WALL_BASE_MS: i64 = 1_750_000_000_000;
/// A connection attempt not answered within this long is given up.
const CONNECT_TIMEOUT_NS: u64 = 2_000 * MS;
/// Requests of live sessions must be answered within this long once faults healed.
const REQUEST_BOUND_NS: u64 = 10_000 * MS;
/// After the heal window, clients stop issuing requests; within this long every replica
/// must serve under one leader at the same applied zxid and digest, and every request of a
/// live session must be answered.
const CONVERGE_NS: u64 = 5_000 * MS;

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Simulated time reached, ns.
    pub sim_ns: u64,
    /// Events processed.
    pub events: u64,
    /// Faults injected (every kind, storage faults included).
    pub faults: u64,
    /// Storage faults injected, by kind, and damage found at restarts.
    pub disk_faults: DiskFaults,
    /// Distinct transactions committed.
    pub txns_committed: usize,
    /// Client writes acknowledged.
    pub writes_acked: usize,
    /// Client requests sent.
    pub requests: usize,
    /// Watch notifications delivered to clients.
    pub notifications: u64,
    /// Times a server paused a client connection's reads (`Output::PauseReads`).
    pub reads_paused: u64,
    /// Hash of the event trace.
    pub trace_hash: u64,
    /// Wall time spent in the end-of-run linearizability checker, ns (not simulation).
    pub lin_wall_ns: u64,
    /// CPU time of the running thread spent in that checker, ns, when a thread CPU clock
    /// is installed ([`crate::set_thread_cpu_clock`]).
    pub lin_cpu_ns: Option<u64>,
    /// What the linearizability checker examined.
    pub lin: LinStats,
    /// How often each fault kind fired, indexed like [`FAULT_KINDS`].
    pub fault_counts: [u64; FAULT_KINDS.len()],
    /// How often each core fault point fired (all replicas), indexed by
    /// `arbor_core::buggify::Site::index`.
    pub buggify_fired: [u64; Site::ALL.len()],
    /// How many observations each checker examined, indexed like [`crate::check::NAMES`].
    pub exercised: [u64; crate::check::NAMES.len()],
    /// The failure, if any.
    pub failure: Option<Failure>,
}

/// Storage fault counts of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskFaults {
    /// Torn writes left by a crash.
    pub torn: u64,
    /// Bits flipped in stored records or snapshots.
    pub bit_flips: u64,
    /// Records written to the wrong slot.
    pub misdirected: u64,
    /// fsyncs that failed (each crashed its node).
    pub fsync_failures: u64,
    /// Restarts whose recovery found damage by checksum.
    pub damage_detected: u64,
    /// Damaged replicas repaired by a resync (their damage flag cleared).
    pub repaired: u64,
    /// Replicas still flagged damaged at the end of the run.
    pub damaged_at_end: u64,
}

impl DiskFaults {
    /// Adds another run's counts.
    pub fn add(&mut self, o: &DiskFaults) {
        self.torn += o.torn;
        self.bit_flips += o.bit_flips;
        self.misdirected += o.misdirected;
        self.fsync_failures += o.fsync_failures;
        self.damage_detected += o.damage_detected;
        self.repaired += o.repaired;
        self.damaged_at_end += o.damaged_at_end;
    }
}

/// A failed run.
#[derive(Clone, Debug)]
pub struct Failure {
    /// What fired.
    pub violation: Violation,
    /// Simulated time of the failure, ns.
    pub at_ns: u64,
    /// The last trace lines.
    pub recent: Vec<String>,
    /// The command that replays this run.
    pub replay: String,
}

/// Runs a world driven by fuzz input (see [`crate::rng`]); `Report::seed` is the input's
/// hash. Replay by running the same input again.
pub fn run_driven(input: &[u8], opts: &Options) -> Report {
    install_panic_capture();
    let seed = input_seed(input);
    let source = Rc::new(RefCell::new(ByteSource::new(input, seed)));
    let mut w = World::with_source(seed, opts.clone(), Some(source));
    let report = w.run();
    IN_SIM.with(|c| c.set(false));
    report
}

/// Runs one seed to the end (or to its first failure).
pub fn run(seed: u64, opts: &Options) -> Report {
    install_panic_capture();
    let mut w = World::new(seed, opts.clone());
    let report = w.run();
    IN_SIM.with(|c| c.set(false));
    report
}

// Payloads are boxed so that events stay small (they sit in a slab while queued).
#[derive(Debug)]
enum C2S {
    Closed,
    Connect(Box<ConnectRequest>),
    Request(RequestHeader, Box<Request>),
}

#[derive(Debug)]
enum S2C {
    Closed(CloseReason),
    Connected(Box<ConnectResponse>, Zxid),
    Lost,
    Notify(Zxid),
    Reply(ReplyHeader, Option<Box<ResponseBody>>),
}

#[derive(Debug)]
enum Ev {
    ClientWake {
        client: usize,
        gen: u64,
    },
    Crash {
        node: usize,
    },
    Deliver {
        from: usize,
        to: usize,
        gen: u64,
        /// Its slot in `World::in_flight`.
        msg: u32,
    },
    End,
    Converge,
    Flap {
        a: usize,
        b: usize,
        left: u32,
    },
    Fault,
    DepthFault,
    HealAll,
    LinkDown {
        a: usize,
        b: usize,
        gen: u64,
    },
    LinkUp {
        a: usize,
        b: usize,
    },
    PartitionHeal {
        id: u64,
    },
    Restart {
        node: usize,
    },
    Synced {
        node: usize,
        inc: u64,
        token: PersistToken,
    },
    Tick {
        node: usize,
        inc: u64,
        seq: u64,
    },
    ToClient {
        conn: u64,
        msg: S2C,
    },
    ToServer {
        conn: u64,
        msg: C2S,
    },
    /// The server resumed reading `conn`: feed what is buffered.
    ReadUnread {
        conn: u64,
    },
}

impl Ev {
    /// A number per event kind (and its node / connection), mixed into the trace hash.
    fn kind(&self) -> u64 {
        match self {
            Ev::ClientWake { client, .. } => 1 | (*client as u64) << 8,
            Ev::Crash { node } => 2 | (*node as u64) << 8,
            Ev::Deliver { from, to, .. } => 3 | (*from as u64) << 8 | (*to as u64) << 16,
            Ev::End => 4,
            Ev::Converge => 15,
            Ev::Fault => 5,
            Ev::DepthFault => 16,
            Ev::Flap { a, b, .. } => 17 | (*a as u64) << 8 | (*b as u64) << 16,
            Ev::HealAll => 6,
            Ev::LinkDown { a, b, .. } => 7 | (*a as u64) << 8 | (*b as u64) << 16,
            Ev::LinkUp { a, b } => 8 | (*a as u64) << 8 | (*b as u64) << 16,
            Ev::PartitionHeal { id } => 9 | id << 8,
            Ev::Restart { node } => 10 | (*node as u64) << 8,
            Ev::Synced { node, token, .. } => 11 | (*node as u64) << 8 | token.0 << 16,
            Ev::Tick { node, .. } => 12 | (*node as u64) << 8,
            Ev::ToClient { conn, .. } => 13 | conn << 8,
            Ev::ToServer { conn, .. } => 14 | conn << 8,
            Ev::ReadUnread { conn } => 16 | conn << 8,
        }
    }
}

/// A queued event's place in the order, (time, seq), and the slot of its `Ev` in
/// `World::queued`, packed into one `u128`: time in the high 64 bits, then `seq` (40 bits),
/// then the slot (24 bits). Comparing the packed words compares (time, seq) exactly as the
/// fields would (`seq` is unique, so the slot never decides), and the heap moves and
/// compares 16 bytes per entry instead of a 24-byte struct field by field.
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy, Debug)]
struct Queued(u128);

const SLOT_BITS: u32 = 24;
const SEQ_BITS: u32 = 64 - SLOT_BITS;

impl Queued {
    fn new(at: u64, seq: u64, slot: u32) -> Queued {
        assert!(
            seq >> SEQ_BITS == 0,
            "event sequence number {seq} out of range"
        );
        assert!(slot >> SLOT_BITS == 0, "more than 2^24 queued events");
        Queued(u128::from(at) << 64 | u128::from(seq << SLOT_BITS | u64::from(slot)))
    }

    fn at(self) -> u64 {
        (self.0 >> 64) as u64
    }

    fn seq(self) -> u64 {
        (self.0 as u64) >> SLOT_BITS
    }

    fn slot(self) -> u32 {
        (self.0 as u32) & ((1 << SLOT_BITS) - 1)
    }
}

struct Node {
    id: ServerId,
    cfg: Config,
    replica: Option<Replica>,
    inc: u64,
    disk: Disk,
    disk_done_at: u64,
    tick_seq: u64,
    tick_at: Option<u64>,
    /// The last deadline converted to global time: (local deadline, timer offset then,
    /// `global_raw` of it). Most steps leave the next deadline where it was.
    tick_memo: Option<(u64, i64, Option<u64>)>,
    drift_ppm: i64,
    wall_offset_ms: i64,
    /// Sum of this node's timer-clock jumps, ns (the monotonic clock its core sees).
    timer_offset_ns: i64,
    /// Slow-node episode: until this simulated time, messages from / to this node and its
    /// wake-ups take up to `slow_extra_ns` longer.
    slow_until: u64,
    slow_extra_ns: u64,
    /// What this incarnation logged (durable or not) above its applied zxid.
    shadow: ZxidMap<Txn>,
    applied_seen: Zxid,
    role_seen: &'static str,
    /// The replica was flagged damaged at the last observation.
    damaged_seen: bool,
    serving_seen: Option<(ServerId, arbor_core::types::Epoch)>,
}

#[derive(Default)]
struct Link {
    up: bool,
    gen: u64,
    last_at: [u64; 2],
    poisoned: [bool; 2],
    /// The last frames sent per direction on this connection (only with reconnect
    /// duplication on): a reconnect may deliver them again.
    sent: [std::collections::VecDeque<PeerMessage>; 2],
}

/// Every client connection of the run by id. Ids are handed out densely from 1 and a
/// connection's record is kept to the end of the run, so a vector indexed by `id - 1` is
/// the map (in id order).
#[derive(Default)]
struct Conns(Vec<Conn>);

impl Conns {
    fn get(&self, id: &u64) -> Option<&Conn> {
        self.0.get(usize::try_from(id.checked_sub(1)?).ok()?)
    }

    fn get_mut(&mut self, id: &u64) -> Option<&mut Conn> {
        self.0.get_mut(usize::try_from(id.checked_sub(1)?).ok()?)
    }

    /// Adds connection `id`, which must be the next id.
    fn insert(&mut self, id: u64, c: Conn) {
        assert_eq!(
            id,
            self.0.len() as u64 + 1,
            "connection ids are dense from 1"
        );
        self.0.push(c);
    }

    /// (id, connection) in id order.
    fn iter(&self) -> impl Iterator<Item = (u64, &Conn)> {
        (1..).zip(self.0.iter())
    }
}

impl std::ops::Index<&u64> for Conns {
    type Output = Conn;
    fn index(&self, id: &u64) -> &Conn {
        self.get(id).expect("a known connection")
    }
}

struct Conn {
    client: usize,
    server: usize,
    server_inc: u64,
    server_open: bool,
    client_open: bool,
    c2s_last: u64,
    s2c_last: u64,
    /// The server told the driver to stop reading this connection (`Output::PauseReads`).
    paused: bool,
    /// What reached the server while paused and is not read yet, in order: the socket's
    /// receive buffer (TCP backpressure keeps it bounded; here the client's own in-flight
    /// limit does).
    unread: std::collections::VecDeque<C2S>,
}

struct Rngs {
    net: SimRng,
    disk: SimRng,
    fault: SimRng,
    client: SimRng,
    /// Storage faults only (drawn last from the master, so the other streams are unchanged).
    storage: SimRng,
    /// Depth faults only (drawn after `storage`, for the same reason).
    depth: SimRng,
}

struct Checkers {
    agreement: Agreement,
    digests: Digests,
    durability: Durability,
    ephemerals: Ephemerals,
    epochs: EpochSanity,
    integrity: Integrity,
    leadership: Leadership,
    monotonic: MonotonicReads,
    primary: PrimaryOrder,
    watches: WatchOrder,
}

/// The whole simulated world of one run.
pub struct World {
    seed: u64,
    opts: Options,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Queued>>,
    /// The queued events, by the slot their `Queued` names.
    queued: Slab<Ev>,
    /// Peer messages in flight, by slot (a `Deliver` names its slot): no allocation per
    /// message.
    in_flight: Slab<PeerMessage>,
    nodes: Vec<Node>,
    links: Vec<Link>,
    /// Directed blocks: `blocked[from * n + to]` counts partitions cutting from → to.
    blocked: Vec<u32>,
    partitions: BTreeMap<u64, Vec<(usize, usize)>>,
    partition_next: u64,
    conns: Conns,
    conn_next: u64,
    clients: Vec<Client>,
    rng: Rngs,
    chk: Checkers,
    trace: Trace,
    events: u64,
    faults: u64,
    disk_faults: DiskFaults,
    fault_end: u64,
    end: u64,
    in_fault_phase: bool,
    kinds: [bool; 5],
    /// Depth fault kinds on for this run (timer jump, ...).
    depth_kinds: [bool; DEPTH_KINDS],
    acked_after_heal: usize,
    writes_after_heal: bool,
    notifications: u64,
    reads_paused: u64,
    /// A violation found where no `CheckResult` can be returned (inside a crash).
    pending_violation: Option<Violation>,
    lin_wall_ns: u64,
    lin_cpu_ns: Option<u64>,
    lin: LinStats,
    /// Past the heal window: clients issue no new requests.
    quiescing: bool,
    converge_deadline: u64,
    fault_counts: [u64; FAULT_KINDS.len()],
    /// Sessions a server answered `timeOut = 0` for while their closeSession was not yet
    /// committed (the leader rejects a closing session at once, as ZooKeeper does), with
    /// that server's applied zxid: they count as ended at their closeSession's zxid.
    expiry_pending: BTreeMap<SessionId, Zxid>,
    /// Fault-point firings of replicas that have since crashed.
    buggify_fired: [u64; Site::ALL.len()],
    exercised: [u64; crate::check::NAMES.len()],
    done: bool,
    /// Output buffers of steps (one per nesting level, kept to reuse their allocations).
    outs: Vec<std::collections::VecDeque<Output>>,
}

impl World {
    /// A world for `seed`.
    pub fn new(seed: u64, opts: Options) -> World {
        World::with_source(seed, opts, None)
    }

    /// A world whose network, disk, fault, client and storage decisions are read from
    /// `source` (fuzz input) instead of the seed's streams; the seed still decides the
    /// configuration and the clients' identities.
    pub fn with_source(seed: u64, opts: Options, source: Option<Rc<RefCell<ByteSource>>>) -> World {
        assert!(opts.nodes >= 1, "at least one node");
        let mut master = ChaCha8Rng::seed_from_u64(seed);
        let mut cfg_rng = ChaCha8Rng::seed_from_u64(master.gen());
        let stream = |seed: u64| match &source {
            Some(s) => SimRng::Driven(s.clone()),
            None => SimRng::Seeded(ChaCha8Rng::seed_from_u64(seed)),
        };
        let rng = Rngs {
            net: stream(master.gen()),
            disk: stream(master.gen()),
            fault: stream(master.gen()),
            client: stream(master.gen()),
            storage: stream(master.gen()),
            depth: stream(master.gen()),
        };
        let n = opts.nodes;
        let voters: Vec<ServerId> = (1..=n as u64).map(ServerId).collect();
        let snapshot_every = cfg_rng.gen_range(20..600);
        let diff_max = cfg_rng.gen_range(5..2_000);
        let nodes = (0..n)
            .map(|i| {
                let mut cfg =
                    Config::new(voters[i], voters.clone()).with_tick_ns(opts.tick_ms * MS);
                cfg.seed = cfg_rng.gen();
                cfg.check_invariants = true;
                cfg.snapshot_every_txns = snapshot_every;
                cfg.diff_txns_max = diff_max;
                if opts.proposals_inflight_max != 0 {
                    cfg.proposals_inflight_max = opts.proposals_inflight_max;
                }
                if opts.client_outstanding_max != 0 {
                    cfg.client_outstanding_max = opts.client_outstanding_max;
                }
                if let Some(Mutation::Core(c)) = opts.mutation {
                    cfg.canary = Some(c);
                }
                Node {
                    id: voters[i],
                    cfg,
                    replica: None,
                    inc: 0,
                    disk: Disk::default(),
                    disk_done_at: 0,
                    tick_seq: 0,
                    tick_at: None,
                    tick_memo: None,
                    drift_ppm: cfg_rng.gen_range(-200..=200),
                    wall_offset_ms: cfg_rng.gen_range(-5_000..5_000),
                    timer_offset_ns: 0,
                    slow_until: 0,
                    slow_extra_ns: 0,
                    shadow: ZxidMap::new(),
                    applied_seen: Zxid(0),
                    role_seen: "",
                    damaged_seen: false,
                    serving_seen: None,
                }
            })
            .collect();
        let mut kinds = [true; 5];
        for k in kinds.iter_mut() {
            *k = !cfg_rng.gen_bool(opts.kind_off_prob.clamp(0.0, 1.0));
        }
        let mut rng = rng;
        let depth_rates = [
            opts.depth.timer_jump_rate,
            opts.depth.bridge_rate,
            opts.depth.flap_rate,
            opts.depth.slow_node_rate,
            opts.depth.reconnect_dup_prob,
        ];
        let mut depth_kinds = [false; DEPTH_KINDS];
        for (k, r) in depth_kinds.iter_mut().zip(depth_rates) {
            // No draw for a kind that is off anyway: such runs keep their old draws.
            *k = r > 0.0 && !rng.depth.gen_bool(opts.kind_off_prob.clamp(0.0, 1.0));
        }
        let mut nodes: Vec<Node> = nodes;
        if opts.buggify.site_prob > 0.0 {
            let p = opts.buggify.site_prob.clamp(0.0, 1.0);
            let enabled = Site::ALL.map(|_| rng.depth.gen_bool(p));
            for node in &mut nodes {
                node.cfg.buggify = Some(Buggify {
                    enabled,
                    fire_prob: opts.buggify.fire_prob.clamp(0.0, 1.0),
                });
            }
        }
        let mut client_rng = ChaCha8Rng::seed_from_u64(cfg_rng.gen());
        let clients = (0..opts.clients)
            .map(|i| Client::new(i, &mut client_rng, opts.ops_max))
            .collect();
        let fault_end = opts.duration_ms * MS;
        let end = fault_end + opts.heal_ms * MS;
        World {
            seed,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            queued: Slab::default(),
            in_flight: Slab::default(),
            nodes,
            links: (0..n * n).map(|_| Link::default()).collect(),
            blocked: vec![0; n * n],
            partitions: BTreeMap::new(),
            partition_next: 0,
            conns: Conns::default(),
            conn_next: 1,
            clients,
            rng,
            chk: Checkers {
                agreement: Agreement::default(),
                digests: Digests::default(),
                durability: Durability::default(),
                ephemerals: Ephemerals::default(),
                epochs: EpochSanity::default(),
                integrity: Integrity::default(),
                leadership: Leadership::default(),
                monotonic: MonotonicReads::default(),
                primary: PrimaryOrder::default(),
                watches: WatchOrder::default(),
            },
            trace: Trace::new(opts.trace_keep),
            events: 0,
            faults: 0,
            disk_faults: DiskFaults::default(),
            fault_end,
            end,
            in_fault_phase: true,
            kinds,
            depth_kinds,
            acked_after_heal: 0,
            writes_after_heal: false,
            notifications: 0,
            reads_paused: 0,
            pending_violation: None,
            lin_wall_ns: 0,
            lin_cpu_ns: None,
            lin: LinStats::default(),
            quiescing: false,
            converge_deadline: 0,
            fault_counts: [0; FAULT_KINDS.len()],
            buggify_fired: [0; Site::ALL.len()],
            expiry_pending: BTreeMap::new(),
            exercised: [0; crate::check::NAMES.len()],
            done: false,
            outs: Vec::new(),
            opts,
        }
    }

    fn report(&self, failure: Option<Failure>) -> Report {
        Report {
            seed: self.seed,
            sim_ns: self.now,
            events: self.events,
            faults: self.faults,
            disk_faults: DiskFaults {
                damaged_at_end: self
                    .nodes
                    .iter()
                    .filter(|n| n.replica.as_ref().is_some_and(|r| r.damaged().is_some()))
                    .count() as u64,
                ..self.disk_faults
            },
            txns_committed: self.chk.agreement.len(),
            writes_acked: self.chk.durability.len(),
            requests: self.clients.iter().map(|c| c.history.len()).sum(),
            notifications: self.notifications,
            reads_paused: self.reads_paused,
            trace_hash: self.trace.hash(),
            lin_wall_ns: self.lin_wall_ns,
            lin_cpu_ns: self.lin_cpu_ns,
            lin: self.lin,
            fault_counts: self.fault_counts,
            buggify_fired: {
                let mut f = self.buggify_fired;
                for r in self.nodes.iter().filter_map(|n| n.replica.as_ref()) {
                    for (t, x) in f.iter_mut().zip(r.buggify_fired()) {
                        *t += x;
                    }
                }
                f
            },
            exercised: self.exercised,
            failure,
        }
    }

    fn failure(&self, violation: Violation) -> Failure {
        Failure {
            violation,
            at_ns: self.now,
            recent: self.trace.recent(),
            replay: self.opts.replay_command(self.seed),
        }
    }

    /// Runs to the end or the first failure.
    pub fn run(&mut self) -> Report {
        let r = catch_unwind(AssertUnwindSafe(|| self.start()));
        if let Some(f) = self.settle(r) {
            return self.report(Some(f));
        }
        // One unwind guard around the whole loop: a panic or violation ends the run at the
        // event that raised it, exactly as a guard per event would.
        let r = catch_unwind(AssertUnwindSafe(|| {
            while !self.done {
                let Some(Reverse(q)) = self.queue.pop() else {
                    break;
                };
                let ev = self.queued.take(q.slot());
                let at = q.at();
                self.now = at;
                set_sim_time_ns(at);
                self.events += 1;
                self.trace.mix(at);
                self.trace.mix(q.seq());
                self.trace.mix(ev.kind());
                self.event(ev)?;
                if let Some(v) = self.pending_violation.take() {
                    return Err(v);
                }
            }
            Ok(())
        }));
        let failure = self.settle(r);
        self.report(failure)
    }

    fn settle(&mut self, r: std::thread::Result<CheckResult>) -> Option<Failure> {
        match r {
            Ok(Ok(())) => None,
            Ok(Err(v)) => Some(self.failure(v)),
            Err(payload) => {
                let detail = take_panic_message().unwrap_or_else(|| panic_text(&payload));
                Some(self.failure(Violation {
                    checker: "core-assert",
                    detail,
                }))
            }
        }
    }

    fn start(&mut self) -> CheckResult {
        for n in 0..self.nodes.len() {
            self.restart(n)?;
        }
        for c in 0..self.clients.len() {
            let at = self.rng.client.gen_range(0..500 * MS);
            self.wake_client(c, at);
        }
        self.schedule_fault();
        self.schedule_depth_fault();
        self.push(self.fault_end, Ev::HealAll);
        self.push(self.end, Ev::End);
        Ok(())
    }

    /// Parks a message in flight; the slot goes into its `Deliver`.
    fn put_in_flight(&mut self, msg: PeerMessage) -> u32 {
        self.in_flight.put(msg)
    }

    /// Takes the message of a `Deliver` (delivered or dropped), freeing its slot.
    fn take_in_flight(&mut self, slot: u32) -> PeerMessage {
        self.in_flight.take(slot)
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        let slot = self.queued.put(ev);
        self.queue.push(Reverse(Queued::new(at, self.seq, slot)));
    }

    fn line(&mut self, s: String) {
        self.trace.line(self.now, s);
    }

    // ----- events -----

    fn event(&mut self, ev: Ev) -> CheckResult {
        match ev {
            Ev::ClientWake { client, gen } => {
                if self.clients[client].wake_gen == gen {
                    self.client_wake(client)?;
                }
            }
            Ev::Crash { node } => self.crash(node),
            Ev::Deliver { from, to, gen, msg } => {
                let msg = self.take_in_flight(msg);
                let l = &self.links[link_ix(from, to, self.nodes.len())];
                if l.up && l.gen == gen && self.nodes[to].replica.is_some() {
                    self.trace
                        .deliver(self.now, from as u64 + 1, to as u64 + 1, msg_name(&msg));
                    let from_id = self.nodes[from].id;
                    self.step(to, Input::Peer { from: from_id, msg })?;
                }
            }
            Ev::End => {
                self.line("end of heal window; clients quiesce".to_string());
                self.check_liveness()?;
                self.quiescing = true;
                self.converge_deadline = self.now + CONVERGE_NS;
                self.push(self.now + 50 * MS, Ev::Converge);
            }
            Ev::Converge => match self.not_converged() {
                None => {
                    self.line("end: converged".to_string());
                    self.exercised[crate::check::LIVENESS] += 1;
                    self.done = true;
                    return self.check_linearizability();
                }
                Some(why) if self.now >= self.converge_deadline => {
                    return Err(Violation {
                        checker: "liveness",
                        detail: format!(
                            "{} ms after the heal window, clients quiet: {why}",
                            CONVERGE_NS / MS
                        ),
                    });
                }
                Some(_) => self.push(self.now + 100 * MS, Ev::Converge),
            },
            Ev::Fault => self.fault()?,
            Ev::DepthFault => self.depth_fault()?,
            Ev::Flap { a, b, left } => self.flap(a, b, left)?,
            Ev::HealAll => self.heal_all()?,
            Ev::LinkDown { a, b, gen } => {
                if self.links[link_ix(a, b, self.nodes.len())].gen == gen {
                    self.break_link(a, b)?;
                }
            }
            Ev::LinkUp { a, b } => self.link_up(a, b)?,
            Ev::PartitionHeal { id } => self.heal_partition(id),
            Ev::Restart { node } => {
                if self.nodes[node].replica.is_none() {
                    self.restart(node)?;
                }
            }
            Ev::Synced { node, inc, token } => self.synced(node, inc, token)?,
            Ev::Tick { node, inc, seq } => {
                let nd = &self.nodes[node];
                if nd.inc == inc && nd.tick_seq == seq && nd.replica.is_some() {
                    self.nodes[node].tick_at = None;
                    self.step(node, Input::Tick)?;
                }
            }
            Ev::ToClient { conn, msg } => self.deliver_to_client(conn, msg)?,
            Ev::ToServer { conn, msg } => self.deliver_to_server(conn, msg)?,
            Ev::ReadUnread { conn } => self.read_unread(conn)?,
        }
        Ok(())
    }

    // ----- the driver loop for one replica -----

    /// Node `n`'s drifting clock (without timer jumps): the base of its wall clock.
    fn drift_now(&self, n: usize) -> u64 {
        drifted(self.now, self.nodes[n].drift_ppm)
    }

    /// Node `n`'s monotonic (timer) clock: drift plus its timer jumps, never below 0.
    fn local_now(&self, n: usize) -> u64 {
        (self.drift_now(n) as i64 + self.nodes[n].timer_offset_ns).max(0) as u64
    }

    /// The earliest global time at which node `n`'s timer clock reads `local`, or `None`
    /// if it already did at time 0; the caller clamps it to now. A pure function of
    /// (`local`, the node's timer offset, its drift).
    fn global_raw(&self, n: usize, local: u64) -> Option<u64> {
        let target = local as i64 - self.nodes[n].timer_offset_ns;
        if target <= 0 {
            return None;
        }
        let local = target as u64;
        let p = self.nodes[n].drift_ppm;
        // First guess ceil(local * 1e6 / (1e6 + p)); 64-bit while `local * 1e6` fits (the
        // first 2.5 simulated hours), 128-bit beyond.
        let mut g = match (local as i64)
            .checked_mul(1_000_000)
            .and_then(|x| x.checked_add(1_000_000 + p - 1))
        {
            Some(x) => (x / (1_000_000 + p)) as u64,
            None => {
                let p = p as i128;
                ((local as i128 * 1_000_000 + (1_000_000 + p) - 1) / (1_000_000 + p)) as u64
            }
        };
        loop {
            if drifted(g, p) >= local {
                return Some(g);
            }
            g += 1;
        }
    }

    fn step(&mut self, n: usize, input: Input) -> CheckResult {
        let local = Nanos(self.local_now(n));
        let wall = WallMillis(
            WALL_BASE_MS + (self.drift_now(n) / MS) as i64 + self.nodes[n].wall_offset_ms,
        );
        let mut outs = {
            let node = &mut self.nodes[n];
            let replica = node.replica.as_mut().expect("step on a live node");
            let span = tracing::info_span!("replica", id = node.id.0);
            let _g = span.enter();
            replica.handle(local, wall, input);
            // Buffers swap with the replica's output queue, so allocations are reused and
            // outputs are not moved one by one (a nested step takes another buffer).
            let mut outs = self.outs.pop().unwrap_or_default();
            replica.take_outputs(&mut outs);
            outs
        };
        let inc = self.nodes[n].inc;
        let mut performed = Ok(());
        while let Some(o) = outs.pop_front() {
            if self.nodes[n].inc != inc {
                break; // crashed while performing (crash-on-persist)
            }
            performed = self.perform(n, o);
            if performed.is_err() {
                break;
            }
        }
        outs.clear();
        self.outs.push(outs);
        performed?;
        if self.nodes[n].inc == inc {
            self.observe_checked(n)?;
            self.schedule_tick(n);
        }
        Ok(())
    }

    fn schedule_tick(&mut self, n: usize) {
        let Some(r) = self.nodes[n].replica.as_ref() else {
            return;
        };
        let Some(d) = r.next_deadline() else {
            self.nodes[n].tick_at = None;
            self.nodes[n].tick_seq += 1;
            return;
        };
        let offset = self.nodes[n].timer_offset_ns;
        let g = match self.nodes[n].tick_memo {
            Some((local, off, g)) if local == d.0 && off == offset => g,
            _ => {
                let g = self.global_raw(n, d.0);
                self.nodes[n].tick_memo = Some((d.0, offset, g));
                g
            }
        };
        let at = g.map_or(self.now, |g| g.max(self.now)) + self.slow_extra(n);
        if self.nodes[n].tick_at == Some(at) {
            return;
        }
        let node = &mut self.nodes[n];
        node.tick_seq += 1;
        node.tick_at = Some(at);
        let (inc, seq) = (node.inc, node.tick_seq);
        self.push(at, Ev::Tick { node: n, inc, seq });
    }

    fn perform(&mut self, n: usize, out: Output) -> CheckResult {
        match out {
            Output::Send { to, msg } => self.send(n, (to.0 - 1) as usize, msg),
            Output::Persist { token, records, .. } => {
                for r in &records {
                    if let LogRecord::Txn(t) = r {
                        self.nodes[n].shadow.insert(t.header.zxid, t.clone());
                    }
                }
                self.nodes[n]
                    .disk
                    .push(Some(token), Effect::Records(records));
                self.schedule_sync(n, token);
            }
            Output::TruncateLog { token, after_zxid } => {
                self.line(format!("node {} truncate after {after_zxid}", n + 1));
                let removed = self.nodes[n].shadow.split_off(&Zxid(after_zxid.0 + 1));
                let id = self.nodes[n].id;
                self.chk
                    .durability
                    .on_truncate(&self.chk.agreement, id, removed.values())?;
                self.nodes[n]
                    .disk
                    .push(Some(token), Effect::Truncate(after_zxid));
                self.schedule_sync(n, token);
            }
            Output::InstallSnapshot { token, zxid, data } => {
                self.line(format!("node {} install snapshot {zxid}", n + 1));
                let id = self.nodes[n].id;
                self.chk.primary.on_install(id, zxid)?;
                let node = &mut self.nodes[n];
                node.shadow.clear();
                node.applied_seen = zxid;
                node.disk.push(Some(token), Effect::Install(zxid, data));
                self.schedule_sync(n, token);
            }
            Output::Snapshot { zxid, view } => {
                // The simulator is single-threaded: serialize the frozen view at once (the
                // bytes are those of the tree at `zxid` whatever was applied since).
                let node = &mut self.nodes[n];
                node.disk
                    .push(None, Effect::Snapshot(zxid, view.serialize()));
            }
            Output::Reply { conn, header, body } => {
                self.server_to_client(conn.0, S2C::Reply(header, body))
            }
            Output::Notify { conn, zxid, .. } => self.server_to_client(conn.0, S2C::Notify(zxid)),
            Output::ConnectResponse { conn, response } => {
                let applied = self.nodes[n]
                    .replica
                    .as_ref()
                    .map(|r| r.applied_zxid())
                    .unwrap_or_default();
                self.server_to_client(conn.0, S2C::Connected(Box::new(response), applied));
            }
            Output::PauseReads { conn } => {
                self.reads_paused += 1;
                if let Some(c) = self.conns.get_mut(&conn.0) {
                    c.paused = true;
                }
            }
            Output::ResumeReads { conn } => {
                if let Some(c) = self.conns.get_mut(&conn.0) {
                    c.paused = false;
                    if !c.unread.is_empty() {
                        self.push(self.now, Ev::ReadUnread { conn: conn.0 });
                    }
                }
            }
            Output::CloseClient { conn, reason } => {
                if let Some(c) = self.conns.get_mut(&conn.0) {
                    c.server_open = false;
                    c.paused = false;
                    c.unread.clear();
                }
                self.server_to_client(conn.0, S2C::Closed(reason));
            }
        }
        Ok(())
    }

    /// Checks replica `n`'s invariants, then feeds its observations to the checkers (for a
    /// replica that did not just run `handle`, e.g. one just recovered).
    fn observe(&mut self, n: usize) -> CheckResult {
        if let Some(r) = self.nodes[n].replica.as_ref() {
            r.check_invariants();
        }
        self.observe_checked(n)
    }

    /// Feeds observations of replica `n` after a step to the checkers. The core ran
    /// `check_invariants` at the end of that `handle` (the simulator builds it with the
    /// `invariants` feature) and only `handle` changes a replica, so its state is the one
    /// just checked: draining and performing its outputs does not touch it.
    fn observe_checked(&mut self, n: usize) -> CheckResult {
        let node = &self.nodes[n];
        let Some(r) = node.replica.as_ref() else {
            return Ok(());
        };
        // Honest peers never commit a txn that does not fit a replica's tree.
        if r.counters().misfit_txns != 0 {
            return crate::check::fail(
                "integrity",
                format!(
                    "server {} applied {} committed txn operation(s) that do not fit its tree",
                    node.id,
                    r.counters().misfit_txns
                ),
            );
        }
        let id = node.id;
        let applied = r.applied_zxid();
        let old = node.applied_seen;
        if applied > old {
            let mut prev = old;
            let mut n_applied = 0;
            for (z, t) in node.shadow.range(Zxid(old.0 + 1)..=applied) {
                self.chk.integrity.on_apply(id, t)?;
                self.chk.agreement.on_apply(id, prev, t)?;
                self.chk.primary.on_apply(id, *z)?;
                self.chk.durability.on_apply(id, prev, *z)?;
                if matches!(*t.body, TxnBody::CloseSession { .. }) {
                    if let Some(at) = self.expiry_pending.remove(&t.header.session) {
                        self.chk
                            .ephemerals
                            .on_session_ended(t.header.session, (*z).max(at));
                    }
                }
                prev = *z;
                n_applied += 1;
            }
            self.chk.digests.observe(id, applied, r.tree().digest())?;
            self.chk.ephemerals.check(id, old, applied, r.tree())?;
            for ix in [AGREEMENT, INTEGRITY, PRIMARY_ORDER, DURABILITY] {
                self.exercised[ix] += n_applied;
            }
            self.exercised[DIGEST] += 1;
            self.exercised[EPHEMERALS] += 1;
        }
        let damaged = r.damaged().is_some();
        if node.damaged_seen && !damaged {
            self.disk_faults.repaired += 1;
            self.line(format!("node {} storage damage repaired by resync", id.0));
        }
        let node = &mut self.nodes[n];
        node.damaged_seen = damaged;
        let node = &self.nodes[n];
        let Some(r) = node.replica.as_ref() else {
            return Ok(());
        };
        let serving = r.serving_leader();
        let role = r.role_name();
        let mut newly_leader = false;
        // Role names are literals: equal pointers (the usual case) skip the byte compare.
        let role_changed = !std::ptr::eq(role, node.role_seen) && role != node.role_seen;
        let serving_changed = serving != node.serving_seen;
        if serving_changed || role_changed {
            let (a, c) = r.epochs();
            info!(
                node = id.0,
                role,
                accepted_epoch = a.0,
                current_epoch = c.0,
                last_zxid = %r.last_logged_zxid(),
                committed = %r.committed_zxid(),
                serving = ?serving.map(|(l, e)| (l.0, e.0)),
                "state"
            );
            let l = format!(
                "node {} {role} epochs={}/{} last={} committed={} serving={:?}",
                id.0,
                a.0,
                c.0,
                r.last_logged_zxid(),
                r.committed_zxid(),
                serving.map(|(l, e)| (l.0, e.0))
            );
            newly_leader = serving.is_some_and(|(l, _)| l == id) && serving != node.serving_seen;
            let started_leading = role == "leading" && node.role_seen != "leading";
            self.line(l);
            if started_leading {
                self.maybe_crash_during_recovery();
            }
        }
        // The checker's verdict on an unchanged (node, serving) pair is the one it gave when
        // the pair was last observed (a conflicting claim fails when it is made).
        if serving_changed {
            self.chk.leadership.observe(id, serving)?;
        }
        if serving.is_some() {
            self.ex(LEADERSHIP);
        }
        if newly_leader {
            let node = &self.nodes[n];
            self.chk.durability.on_leader_established(
                &self.chk.agreement,
                id,
                applied,
                &node.shadow,
            )?;
        }
        let node = &mut self.nodes[n];
        node.applied_seen = applied;
        node.serving_seen = serving;
        node.role_seen = role;
        // Entries at or below the applied zxid are no longer needed for checks.
        if node
            .shadow
            .first_key_value()
            .is_some_and(|(z, _)| *z <= applied)
            && node.shadow.len() > 256
        {
            node.shadow.remove_below(Zxid(applied.0 + 1));
        }
        Ok(())
    }

    // ----- disks -----

    fn schedule_sync(&mut self, n: usize, token: PersistToken) {
        let delay = self
            .rng
            .disk
            .gen_range(20 * US..=self.opts.disk_delay_us_max.max(21) * US);
        let at = (self.now + delay).max(self.nodes[n].disk_done_at);
        self.nodes[n].disk_done_at = at;
        let inc = self.nodes[n].inc;
        self.push(
            at,
            Ev::Synced {
                node: n,
                inc,
                token,
            },
        );
        if self.roll_crash_on_persist() {
            // Crash before this write is durable (between two persisted writes).
            self.fault_counts[1] += 1;
            self.push(self.now, Ev::Crash { node: n });
        }
    }

    /// A node just started leading: with probability `--recovery-crash-prob` (during the
    /// fault phase, crashes enabled), every node loses power at one instant within the
    /// next few fsync / network delays, while the followers synchronize.
    fn maybe_crash_during_recovery(&mut self) {
        let p = self.opts.recovery_crash_prob.clamp(0.0, 1.0);
        if p <= 0.0 || !self.in_fault_phase || !self.kinds[0] || !self.rng.fault.gen_bool(p) {
            return;
        }
        let window = 6 * (self.opts.disk_delay_us_max + self.opts.net_delay_us_max).max(1) * 1_000;
        let at = self.now + self.rng.fault.gen_range(0..window) + 1;
        if at >= self.fault_end {
            return; // a crash in the heal phase would never be restarted
        }
        self.line("power loss scheduled during recovery".to_string());
        for node in 0..self.nodes.len() {
            self.push(at, Ev::Crash { node });
        }
    }

    /// During the fault phase, with crashes enabled for this run: whether to crash at this
    /// persist boundary (probability `--crash-on-persist`).
    fn roll_crash_on_persist(&mut self) -> bool {
        self.in_fault_phase
            && self.kinds[0]
            && self
                .rng
                .fault
                .gen_bool(self.opts.crash_on_persist.clamp(0.0, 1.0))
    }

    fn synced(&mut self, n: usize, inc: u64, token: PersistToken) -> CheckResult {
        if self.nodes[n].inc != inc || self.nodes[n].replica.is_none() {
            return Ok(());
        }
        if self.roll_storage(self.opts.storage.fsync_fail_prob) {
            // A failed fsync is fatal for the process (storage contract): it never reports
            // `Persisted`, and what it wrote is not trusted to be on disk.
            self.disk_faults.fsync_failures += 1;
            self.line(format!("node {} fsync failed", n + 1));
            self.crash(n);
            return Ok(());
        }
        let lie = self.opts.mutation == Some(Mutation::LyingFsync) && token.0 % 2 == 1;
        let node = &mut self.nodes[n];
        let logged_before = node.disk.durable.log.len();
        if !lie && node.disk.sync_through(token) {
            let d = &node.disk.durable;
            let last = d.last_txn_zxid();
            self.chk
                .epochs
                .on_durable(node.id, d.accepted, d.current, last)?;
            let grew = self.nodes[n].disk.durable.log.len() > logged_before;
            self.maybe_damage_after_sync(n, grew);
            self.exercised[EPOCHS] += 1;
        }
        if self.roll_crash_on_persist() {
            // Durable, but the crash comes before `Persisted` reaches the core.
            self.fault_counts[1] += 1;
            self.crash(n);
            return Ok(());
        }
        self.step(n, Input::Persisted { token })
    }
}

impl World {
    /// Why the cluster has not converged yet (None: converged): every replica up and
    /// serving under the same leader, at the same applied zxid with the same digest, and no
    /// request of a live session unanswered.
    fn not_converged(&self) -> Option<String> {
        let nodes: Vec<Option<NodeEnd>> = self
            .nodes
            .iter()
            .map(|n| {
                n.replica.as_ref().map(|r| NodeEnd {
                    serving: r.serving_leader().map(|(l, e)| (l.0, e.0)),
                    role: r.role_name(),
                    applied: r.applied_zxid(),
                    digest: r.tree().digest(),
                })
            })
            .collect();
        let unanswered = self.clients.iter().find_map(|c| {
            let conn = c.conn.as_ref().filter(|k| k.established)?;
            let e = &c.history[*conn.outstanding.front()?];
            Some(format!(
                "client {} {} xid {} (sent at {} ms) unanswered",
                c.idx,
                e.op,
                e.xid,
                e.sent_ns / MS
            ))
        });
        liveness::not_converged(&nodes, unanswered)
    }

    fn check_linearizability(&mut self) -> CheckResult {
        let t0 = std::time::Instant::now();
        let cpu0 = crate::thread_cpu_ns();
        let histories: Vec<&[crate::client::HistEntry]> =
            self.clients.iter().map(|c| c.history.as_slice()).collect();
        let r = linearizability::check(
            self.chk.agreement.above(Zxid(0)).map(|(_, c)| &c.txn),
            &histories,
        );
        self.lin_wall_ns = t0.elapsed().as_nanos() as u64;
        self.lin_cpu_ns = cpu0
            .zip(crate::thread_cpu_ns())
            .map(|(a, b)| b.saturating_sub(a));
        let stats = r?;
        self.lin = stats;
        self.exercised[crate::check::LINEARIZABILITY] += stats.writes + stats.reads + stats.syncs;
        Ok(())
    }

    /// A server answered `timeOut = 0` for session `s` at applied zxid `at`: the session
    /// ended at its closeSession's zxid, or at `at` if that is later. A leader rejects a
    /// closing session before its closeSession commits, so that txn may still be to come.
    fn session_expired(&mut self, s: SessionId, at: Zxid) {
        let close = self
            .chk
            .agreement
            .above(Zxid(0))
            .find(|(_, c)| {
                c.txn.header.session == s && matches!(*c.txn.body, TxnBody::CloseSession { .. })
            })
            .map(|(z, _)| *z);
        match close {
            Some(z) => self.chk.ephemerals.on_session_ended(s, z.max(at)),
            None => {
                self.expiry_pending.insert(s, at);
            }
        }
    }

    /// Counts one examined observation for checker `ix` (an index into `check::NAMES`).
    fn ex(&mut self, ix: usize) {
        self.exercised[ix] += 1;
    }
}

/// `g + g * ppm / 1e6` (the division truncating toward zero) without 128-bit division:
/// `g * ppm = (q * 1e6 + r) * ppm`, and both parts have the sign of `ppm`, so truncating
/// the sum equals `q * ppm` plus the truncated rest.
fn drifted(g: u64, ppm: i64) -> u64 {
    let (q, r) = ((g / 1_000_000) as i64, (g % 1_000_000) as i64);
    (g as i64 + q * ppm + r * ppm / 1_000_000) as u64
}

fn link_ix(a: usize, b: usize, n: usize) -> usize {
    a.min(b) * n + a.max(b)
}

fn msg_name(m: &PeerMessage) -> &'static str {
    match m {
        PeerMessage::Notification { .. } => "Notification",
        PeerMessage::FollowerInfo { .. } => "FollowerInfo",
        PeerMessage::LeaderInfo { .. } => "LeaderInfo",
        PeerMessage::AckEpoch { .. } => "AckEpoch",
        PeerMessage::Diff { .. } => "Diff",
        PeerMessage::Trunc { .. } => "Trunc",
        PeerMessage::Snap { .. } => "Snap",
        PeerMessage::NewLeader { .. } => "NewLeader",
        PeerMessage::UpToDate { .. } => "UpToDate",
        PeerMessage::Proposal { .. } => "Proposal",
        PeerMessage::Ack { .. } => "Ack",
        PeerMessage::Commit { .. } => "Commit",
        PeerMessage::Ping => "Ping",
        PeerMessage::Touch { .. } => "Touch",
        PeerMessage::Request { .. } => "Request",
        PeerMessage::Rejected { .. } => "Rejected",
        PeerMessage::Revalidate { .. } => "Revalidate",
        PeerMessage::Sync { .. } => "Sync",
        PeerMessage::SyncReply { .. } => "SyncReply",
        #[allow(unreachable_patterns)]
        _ => "Other",
    }
}

// ----- panic capture: a core assert becomes a reported failure, not a crash -----

use std::cell::{Cell, RefCell};
use std::sync::Once;

thread_local! {
    static IN_SIM: Cell<bool> = const { Cell::new(false) };
    static PANIC_MSG: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_panic_capture() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_SIM.with(|c| c.get()) {
                let msg = match info.location() {
                    Some(l) => format!(
                        "{} at {}:{}",
                        panic_text(info.payload()),
                        l.file(),
                        l.line()
                    ),
                    None => panic_text(info.payload()),
                };
                PANIC_MSG.with(|m| *m.borrow_mut() = Some(msg));
            } else {
                prev(info);
            }
        }));
    });
    IN_SIM.with(|c| c.set(true));
}

fn take_panic_message() -> Option<String> {
    PANIC_MSG.with(|m| m.borrow_mut().take())
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{drifted, Queued};
    use rand::{Rng, SeedableRng};

    #[test]
    #[allow(clippy::print_stdout)] // the seed, for replay
    fn packed_queue_keys_order_and_unpack_like_their_fields() {
        let seed = 0x9e0e_0001;
        println!("seed {seed}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let draw = |rng: &mut rand_chacha::ChaCha8Rng| {
            // Few distinct times, so that equal times (ordered by seq) are common.
            let at = match rng.gen_range(0..4) {
                0 => 0,
                1 => u64::MAX,
                _ => rng.gen_range(0..8u64) << rng.gen_range(0..60),
            };
            let seq = rng.gen_range(0..(1u64 << 40));
            let slot = rng.gen_range(0..(1u32 << 24));
            (at, seq, slot)
        };
        for _ in 0..100_000 {
            let a = draw(&mut rng);
            let b = draw(&mut rng);
            let (qa, qb) = (Queued::new(a.0, a.1, a.2), Queued::new(b.0, b.1, b.2));
            assert_eq!((qa.at(), qa.seq(), qa.slot()), a);
            assert_eq!(qa.cmp(&qb), a.cmp(&b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    #[should_panic(expected = "queued events")]
    fn packed_queue_key_rejects_an_oversized_slot() {
        let _ = Queued::new(1, 1, 1 << 24);
    }

    #[test]
    #[allow(clippy::print_stdout)] // the seed, for replay
    fn drifted_matches_the_128_bit_formula() {
        let seed = 0x5eed_d21f;
        println!("seed {seed}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let edges = [0u64, 1, 999_999, 1_000_000, 1_000_001, u64::from(u32::MAX)];
        for i in 0..200_000 {
            let g = if i < edges.len() {
                edges[i]
            } else {
                rng.gen_range(0..4_000_000_000_000u64)
            };
            let p: i64 = rng.gen_range(-200_000..=200_000);
            let want = (g as i128 + g as i128 * p as i128 / 1_000_000) as u64;
            assert_eq!(drifted(g, p), want, "g={g} ppm={p}");
        }
    }
}
