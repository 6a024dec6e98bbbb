//! The simulated world: replicas, links, disks, clocks, clients and the event queue.
//!
//! One `ChaCha8Rng` seeded from the run's seed derives per-purpose streams (config, net,
//! disk, faults, clients). Events are ordered by (simulated time, sequence number). The
//! driver loop follows the core contract exactly: `handle(now, wall, input)`, drain
//! `poll_output` completely, perform each output, then schedule a `Tick` at
//! `next_deadline`. After every event, every live replica's `check_invariants()` runs and
//! the observations feed the checkers in `check/`.
//!
//! Invariants: a node's local monotonic clock never goes backwards (drift is a fixed
//! rate per node, restarts keep it); link deliveries are FIFO per direction and connection
//! generation; fsync completions are reported in output order; nothing unsynced survives a
//! crash.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::panic::{catch_unwind, AssertUnwindSafe};

use arbor_core::proto::jute::{
    xid, ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, ResponseBody,
};
use arbor_core::replica::{CloseReason, Config, Input, LogRecord, Output, Replica};
use arbor_core::txn::Txn;
use arbor_core::types::{ConnId, Nanos, PersistToken, ServerId, SessionId, WallMillis, Zxid};
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
use crate::check::liveness::{self, EndState};
use crate::check::monotonic_reads::MonotonicReads;
use crate::check::primary_order::PrimaryOrder;
use crate::check::watch_order::WatchOrder;
use crate::check::{session_fifo, CheckResult, Violation};
use crate::client::{gen_op, Client, ClientConn, HistEntry, Mode};
use crate::disk::{Disk, Effect};
use crate::options::{Mutation, Options};
use crate::trace::{set_sim_time_ns, Trace};

const MS: u64 = 1_000_000;
const US: u64 = 1_000;
const WALL_BASE_MS: i64 = 1_750_000_000_000;
/// A connection attempt not answered within this long is given up.
const CONNECT_TIMEOUT_NS: u64 = 2_000 * MS;
/// Requests of live sessions must be answered within this long once faults healed.
const REQUEST_BOUND_NS: u64 = 10_000 * MS;

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Simulated time reached, ns.
    pub sim_ns: u64,
    /// Events processed.
    pub events: u64,
    /// Faults injected.
    pub faults: u64,
    /// Distinct transactions committed.
    pub txns_committed: usize,
    /// Client writes acknowledged.
    pub writes_acked: usize,
    /// Client requests sent.
    pub requests: usize,
    /// Watch notifications delivered to clients.
    pub notifications: u64,
    /// Hash of the event trace.
    pub trace_hash: u64,
    /// The failure, if any.
    pub failure: Option<Failure>,
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

/// Runs one seed to the end (or to its first failure).
pub fn run(seed: u64, opts: &Options) -> Report {
    install_panic_capture();
    let mut w = World::new(seed, opts.clone());
    let report = w.run();
    IN_SIM.with(|c| c.set(false));
    report
}

#[derive(Debug)]
enum C2S {
    Closed,
    Connect(ConnectRequest),
    Request(RequestHeader, Request),
}

#[derive(Debug)]
enum S2C {
    Closed(CloseReason),
    Connected(ConnectResponse, Zxid),
    Lost,
    Notify(Zxid),
    Reply(ReplyHeader, Option<String>),
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
        msg: Box<PeerMessage>,
    },
    End,
    Fault,
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
}

impl Ev {
    /// A number per event kind (and its node / connection), mixed into the trace hash.
    fn kind(&self) -> u64 {
        match self {
            Ev::ClientWake { client, .. } => 1 | (*client as u64) << 8,
            Ev::Crash { node } => 2 | (*node as u64) << 8,
            Ev::Deliver { from, to, .. } => 3 | (*from as u64) << 8 | (*to as u64) << 16,
            Ev::End => 4,
            Ev::Fault => 5,
            Ev::HealAll => 6,
            Ev::LinkDown { a, b, .. } => 7 | (*a as u64) << 8 | (*b as u64) << 16,
            Ev::LinkUp { a, b } => 8 | (*a as u64) << 8 | (*b as u64) << 16,
            Ev::PartitionHeal { id } => 9 | id << 8,
            Ev::Restart { node } => 10 | (*node as u64) << 8,
            Ev::Synced { node, token, .. } => 11 | (*node as u64) << 8 | token.0 << 16,
            Ev::Tick { node, .. } => 12 | (*node as u64) << 8,
            Ev::ToClient { conn, .. } => 13 | conn << 8,
            Ev::ToServer { conn, .. } => 14 | conn << 8,
        }
    }
}

struct Queued {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
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
    drift_ppm: i64,
    wall_offset_ms: i64,
    /// What this incarnation logged (durable or not) above its applied zxid.
    shadow: BTreeMap<Zxid, Txn>,
    applied_seen: Zxid,
    role_seen: &'static str,
    serving_seen: Option<(ServerId, arbor_core::types::Epoch)>,
}

#[derive(Default)]
struct Link {
    up: bool,
    gen: u64,
    last_at: [u64; 2],
    poisoned: [bool; 2],
}

struct Conn {
    client: usize,
    server: usize,
    server_inc: u64,
    server_open: bool,
    client_open: bool,
    c2s_last: u64,
    s2c_last: u64,
}

struct Rngs {
    net: ChaCha8Rng,
    disk: ChaCha8Rng,
    fault: ChaCha8Rng,
    client: ChaCha8Rng,
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
    nodes: Vec<Node>,
    links: Vec<Link>,
    /// Directed blocks: `blocked[from * n + to]` counts partitions cutting from → to.
    blocked: Vec<u32>,
    partitions: BTreeMap<u64, Vec<(usize, usize)>>,
    partition_next: u64,
    conns: BTreeMap<u64, Conn>,
    conn_next: u64,
    clients: Vec<Client>,
    rng: Rngs,
    chk: Checkers,
    trace: Trace,
    events: u64,
    faults: u64,
    fault_end: u64,
    end: u64,
    in_fault_phase: bool,
    kinds: [bool; 5],
    acked_after_heal: usize,
    writes_after_heal: bool,
    notifications: u64,
    done: bool,
}

impl World {
    /// A world for `seed`.
    pub fn new(seed: u64, opts: Options) -> World {
        assert!(opts.nodes >= 1, "at least one node");
        let mut master = ChaCha8Rng::seed_from_u64(seed);
        let mut cfg_rng = ChaCha8Rng::seed_from_u64(master.gen());
        let rng = Rngs {
            net: ChaCha8Rng::seed_from_u64(master.gen()),
            disk: ChaCha8Rng::seed_from_u64(master.gen()),
            fault: ChaCha8Rng::seed_from_u64(master.gen()),
            client: ChaCha8Rng::seed_from_u64(master.gen()),
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
                cfg.snapshot_every_txns = snapshot_every;
                cfg.diff_txns_max = diff_max;
                Node {
                    id: voters[i],
                    cfg,
                    replica: None,
                    inc: 0,
                    disk: Disk::default(),
                    disk_done_at: 0,
                    tick_seq: 0,
                    tick_at: None,
                    drift_ppm: cfg_rng.gen_range(-200..=200),
                    wall_offset_ms: cfg_rng.gen_range(-5_000..5_000),
                    shadow: BTreeMap::new(),
                    applied_seen: Zxid(0),
                    role_seen: "",
                    serving_seen: None,
                }
            })
            .collect();
        let mut kinds = [true; 5];
        for k in kinds.iter_mut() {
            *k = !cfg_rng.gen_bool(opts.kind_off_prob.clamp(0.0, 1.0));
        }
        let mut client_rng = ChaCha8Rng::seed_from_u64(cfg_rng.gen());
        let clients = (0..opts.clients)
            .map(|i| Client::new(i, &mut client_rng))
            .collect();
        let fault_end = opts.duration_ms * MS;
        let end = fault_end + opts.heal_ms * MS;
        World {
            seed,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            links: (0..n * n).map(|_| Link::default()).collect(),
            blocked: vec![0; n * n],
            partitions: BTreeMap::new(),
            partition_next: 0,
            conns: BTreeMap::new(),
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
            fault_end,
            end,
            in_fault_phase: true,
            kinds,
            acked_after_heal: 0,
            writes_after_heal: false,
            notifications: 0,
            done: false,
            opts,
        }
    }

    fn report(&self, failure: Option<Failure>) -> Report {
        Report {
            seed: self.seed,
            sim_ns: self.now,
            events: self.events,
            faults: self.faults,
            txns_committed: self.chk.agreement.len(),
            writes_acked: self.chk.durability.len(),
            requests: self.clients.iter().map(|c| c.history.len()).sum(),
            notifications: self.notifications,
            trace_hash: self.trace.hash(),
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
        while !self.done {
            let Some(Reverse(q)) = self.queue.pop() else {
                break;
            };
            self.now = q.at;
            set_sim_time_ns(q.at);
            self.events += 1;
            self.trace.mix(q.at);
            self.trace.mix(q.seq);
            self.trace.mix(q.ev.kind());
            let r = catch_unwind(AssertUnwindSafe(|| self.event(q.ev)));
            if let Some(f) = self.settle(r) {
                return self.report(Some(f));
            }
        }
        self.report(None)
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
        self.push(self.fault_end, Ev::HealAll);
        self.push(self.end, Ev::End);
        Ok(())
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            seq: self.seq,
            ev,
        }));
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
                let l = &self.links[link_ix(from, to, self.nodes.len())];
                if l.up && l.gen == gen && self.nodes[to].replica.is_some() {
                    self.line(format!(
                        "deliver {}->{} {}",
                        from + 1,
                        to + 1,
                        msg_name(&msg)
                    ));
                    let from_id = self.nodes[from].id;
                    self.step(
                        to,
                        Input::Peer {
                            from: from_id,
                            msg: *msg,
                        },
                    )?;
                }
            }
            Ev::End => {
                self.line("end".to_string());
                self.done = true;
                return self.check_liveness();
            }
            Ev::Fault => self.fault()?,
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
        }
        Ok(())
    }

    // ----- the driver loop for one replica -----

    fn local_now(&self, n: usize) -> u64 {
        let p = self.nodes[n].drift_ppm;
        let g = self.now as i128;
        (g + g * p as i128 / 1_000_000) as u64
    }

    fn global_for_local(&self, n: usize, local: u64) -> u64 {
        let p = self.nodes[n].drift_ppm as i128;
        let mut g = ((local as i128 * 1_000_000 + (1_000_000 + p) - 1) / (1_000_000 + p)) as u64;
        loop {
            let gi = g as i128;
            if (gi + gi * p / 1_000_000) as u64 >= local {
                return g.max(self.now);
            }
            g += 1;
        }
    }

    fn step(&mut self, n: usize, input: Input) -> CheckResult {
        let local = Nanos(self.local_now(n));
        let wall = WallMillis(WALL_BASE_MS + (local.0 / MS) as i64 + self.nodes[n].wall_offset_ms);
        let outs = {
            let node = &mut self.nodes[n];
            let replica = node.replica.as_mut().expect("step on a live node");
            let span = tracing::info_span!("replica", id = node.id.0);
            let _g = span.enter();
            replica.handle(local, wall, input);
            let mut outs = Vec::new();
            while let Some(o) = replica.poll_output() {
                outs.push(o);
            }
            outs
        };
        let inc = self.nodes[n].inc;
        for o in outs {
            if self.nodes[n].inc != inc {
                break; // crashed while performing (crash-on-persist)
            }
            self.perform(n, o)?;
        }
        if self.nodes[n].inc == inc {
            self.observe(n)?;
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
        let at = self.global_for_local(n, d.0);
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
            Output::Snapshot { zxid, data } => {
                let node = &mut self.nodes[n];
                node.disk.push(None, Effect::Snapshot(zxid, data));
            }
            Output::Reply { conn, header, body } => {
                // Only created sequential paths matter to the workload (it deletes them).
                let created = match body {
                    Some(ResponseBody::Create(p)) => Some(p.path),
                    Some(ResponseBody::Create2(p)) => Some(p.path),
                    _ => None,
                }
                .filter(|p| p.starts_with("/s"));
                self.server_to_client(conn.0, S2C::Reply(header, created))
            }
            Output::Notify { conn, zxid, .. } => self.server_to_client(conn.0, S2C::Notify(zxid)),
            Output::ConnectResponse { conn, response } => {
                let applied = self.nodes[n]
                    .replica
                    .as_ref()
                    .map(|r| r.applied_zxid())
                    .unwrap_or_default();
                self.server_to_client(conn.0, S2C::Connected(response, applied));
            }
            Output::CloseClient { conn, reason } => {
                if let Some(c) = self.conns.get_mut(&conn.0) {
                    c.server_open = false;
                }
                self.server_to_client(conn.0, S2C::Closed(reason));
            }
        }
        Ok(())
    }

    /// Feeds observations of replica `n` after a step to the checkers.
    fn observe(&mut self, n: usize) -> CheckResult {
        let node = &self.nodes[n];
        let Some(r) = node.replica.as_ref() else {
            return Ok(());
        };
        r.check_invariants();
        let id = node.id;
        let applied = r.applied_zxid();
        let old = node.applied_seen;
        if applied > old {
            let mut prev = old;
            for (z, t) in node.shadow.range(Zxid(old.0 + 1)..=applied) {
                self.chk.integrity.on_apply(id, t)?;
                self.chk.agreement.on_apply(id, prev, t)?;
                self.chk.primary.on_apply(id, *z)?;
                self.chk.durability.on_apply(id, prev, *z)?;
                prev = *z;
            }
            self.chk.digests.observe(id, applied, r.tree().digest())?;
            self.chk.ephemerals.check(id, old, applied, r.tree())?;
        }
        let serving = r.serving_leader();
        let role = r.role_name();
        let mut newly_leader = false;
        if serving != node.serving_seen || role != node.role_seen {
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
            self.line(l);
        }
        self.chk.leadership.observe(id, serving)?;
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
            node.shadow = node.shadow.split_off(&Zxid(applied.0 + 1));
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
        if self.in_fault_phase
            && self.kinds[0]
            && self
                .rng
                .fault
                .gen_bool(self.opts.crash_on_persist.clamp(0.0, 1.0))
        {
            // Crash before this write is durable (between two persisted writes).
            self.push(self.now, Ev::Crash { node: n });
        }
    }

    fn synced(&mut self, n: usize, inc: u64, token: PersistToken) -> CheckResult {
        if self.nodes[n].inc != inc || self.nodes[n].replica.is_none() {
            return Ok(());
        }
        let lie = self.opts.mutation == Some(Mutation::LyingFsync) && token.0 % 2 == 1;
        let node = &mut self.nodes[n];
        if !lie && node.disk.sync_through(token) {
            let d = &node.disk.durable;
            let last = d.log.last().map(|t| t.header.zxid);
            self.chk
                .epochs
                .on_durable(node.id, d.accepted, d.current, last)?;
        }
        if self.in_fault_phase
            && self.kinds[0]
            && self
                .rng
                .fault
                .gen_bool(self.opts.crash_on_persist.clamp(0.0, 1.0))
        {
            // Durable, but the crash comes before `Persisted` reaches the core.
            self.crash(n);
            return Ok(());
        }
        self.step(n, Input::Persisted { token })
    }

    // ----- crashes -----

    fn crash(&mut self, n: usize) {
        if self.nodes[n].replica.is_none() {
            return;
        }
        self.line(format!("crash node {}", n + 1));
        info!(node = n + 1, "crash");
        self.faults += 1;
        let node = &mut self.nodes[n];
        node.replica = None;
        node.inc += 1;
        node.disk.crash();
        node.tick_at = None;
        node.role_seen = "down";
        node.serving_seen = None;
        for m in 0..self.nodes.len() {
            if m != n && self.links[link_ix(n, m, self.nodes.len())].up {
                // The peer notices; this cannot fail a check except via the core.
                let _ = self.break_link(n, m);
            }
        }
        let lost: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.server == n && c.server_open)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            if let Some(c) = self.conns.get_mut(&id) {
                c.server_open = false;
            }
            self.server_to_client(id, S2C::Lost);
        }
        if self.in_fault_phase {
            let down = self.rng.fault.gen_range(50 * MS..3_000 * MS);
            self.push(self.now + down, Ev::Restart { node: n });
        }
    }

    fn restart(&mut self, n: usize) -> CheckResult {
        self.line(format!("start node {}", n + 1));
        let rec = self.nodes[n].disk.recovered();
        let log: BTreeMap<Zxid, Txn> = rec.log.iter().map(|t| (t.header.zxid, t.clone())).collect();
        let cfg = self.nodes[n].cfg.clone();
        let replica = {
            let span = tracing::info_span!("replica", id = cfg.id.0);
            let _g = span.enter();
            Replica::recover(cfg, rec)
        };
        let applied = replica.applied_zxid();
        let id = self.nodes[n].id;
        self.chk.primary.on_restart(id, applied);
        {
            let node = &mut self.nodes[n];
            node.shadow = log;
            node.applied_seen = applied;
            node.replica = Some(replica);
            node.disk_done_at = self.now;
        }
        let outs = {
            let r = self.nodes[n].replica.as_mut().expect("just started");
            let mut outs = Vec::new();
            while let Some(o) = r.poll_output() {
                outs.push(o);
            }
            outs
        };
        let inc = self.nodes[n].inc;
        for o in outs {
            if self.nodes[n].inc != inc {
                return Ok(());
            }
            self.perform(n, o)?;
        }
        {
            let r = self.nodes[n].replica.as_ref().expect("live");
            self.chk.ephemerals.check(id, Zxid(-1), applied, r.tree())?;
        }
        self.observe(n)?;
        self.schedule_tick(n);
        for m in 0..self.nodes.len() {
            if m != n {
                let d = self.rng.net.gen_range(MS..50 * MS);
                self.push(
                    self.now + d,
                    Ev::LinkUp {
                        a: n.min(m),
                        b: n.max(m),
                    },
                );
            }
        }
        Ok(())
    }

    // ----- links -----

    fn send(&mut self, from: usize, to: usize, msg: PeerMessage) {
        let nn = self.nodes.len();
        let dir = usize::from(from > to);
        if self.nodes[to].replica.is_none() {
            return;
        }
        let blocked = self.blocked[from * nn + to] > 0;
        let l = &mut self.links[link_ix(from, to, nn)];
        if !l.up || l.poisoned[dir] {
            return;
        }
        if blocked {
            // TCP-like: the stream stalls, then the connection times out and breaks.
            l.poisoned[dir] = true;
            let gen = l.gen;
            let t = self.rng.net.gen_range(200 * MS..1_000 * MS);
            self.push(
                self.now + t,
                Ev::LinkDown {
                    a: from.min(to),
                    b: from.max(to),
                    gen,
                },
            );
            return;
        }
        let delay = self
            .rng
            .net
            .gen_range(10 * US..=self.opts.net_delay_us_max.max(11) * US);
        let l = &mut self.links[link_ix(from, to, nn)];
        let at = if self.opts.mutation == Some(Mutation::ReorderLinks) {
            self.now + delay
        } else {
            (self.now + delay).max(l.last_at[dir])
        };
        l.last_at[dir] = at;
        let gen = l.gen;
        self.push(
            at,
            Ev::Deliver {
                from,
                to,
                gen,
                msg: Box::new(msg),
            },
        );
    }

    fn break_link(&mut self, a: usize, b: usize) -> CheckResult {
        let nn = self.nodes.len();
        let l = &mut self.links[link_ix(a, b, nn)];
        if !l.up {
            return Ok(());
        }
        l.up = false;
        l.gen += 1;
        l.poisoned = [false; 2];
        self.line(format!("link {}-{} down", a + 1, b + 1));
        for (x, y) in [(a, b), (b, a)] {
            if self.nodes[x].replica.is_some() {
                let peer = self.nodes[y].id;
                self.step(x, Input::PeerDisconnected { peer })?;
            }
        }
        let d = self.rng.net.gen_range(20 * MS..500 * MS);
        self.push(
            self.now + d,
            Ev::LinkUp {
                a: a.min(b),
                b: a.max(b),
            },
        );
        Ok(())
    }

    fn link_up(&mut self, a: usize, b: usize) -> CheckResult {
        let nn = self.nodes.len();
        if self.links[link_ix(a, b, nn)].up
            || self.nodes[a].replica.is_none()
            || self.nodes[b].replica.is_none()
        {
            return Ok(());
        }
        if self.blocked[a * nn + b] > 0 || self.blocked[b * nn + a] > 0 {
            let d = self.rng.net.gen_range(200 * MS..800 * MS);
            self.push(self.now + d, Ev::LinkUp { a, b });
            return Ok(());
        }
        let l = &mut self.links[link_ix(a, b, nn)];
        l.up = true;
        l.gen += 1;
        l.last_at = [0; 2];
        self.line(format!("link {}-{} up", a + 1, b + 1));
        let (ia, ib) = (self.nodes[a].id, self.nodes[b].id);
        self.step(a, Input::PeerConnected { peer: ib })?;
        if self.nodes[b].replica.is_some() && self.links[link_ix(a, b, nn)].up {
            self.step(b, Input::PeerConnected { peer: ia })?;
        }
        Ok(())
    }

    // ----- faults -----

    fn schedule_fault(&mut self) {
        let o = &self.opts;
        let rates = [
            o.crash_rate,
            o.link_break_rate,
            o.partition_rate,
            o.client_drop_rate,
            o.clock_jump_rate,
        ];
        let total: f64 = rates
            .iter()
            .zip(self.kinds.iter())
            .filter(|(_, on)| **on)
            .map(|(r, _)| *r)
            .sum();
        if total <= 0.0 {
            return;
        }
        let u: f64 = self.rng.fault.gen_range(f64::EPSILON..1.0);
        let dt = (-u.ln() / total * 1e9) as u64;
        let at = self.now + dt.max(1);
        if at < self.fault_end {
            self.push(at, Ev::Fault);
        }
    }

    fn fault(&mut self) -> CheckResult {
        if !self.in_fault_phase {
            return Ok(());
        }
        let o = &self.opts;
        let rates = [
            o.crash_rate,
            o.link_break_rate,
            o.partition_rate,
            o.client_drop_rate,
            o.clock_jump_rate,
        ];
        let total: f64 = (0..5).filter(|k| self.kinds[*k]).map(|k| rates[k]).sum();
        let mut x = self.rng.fault.gen_range(0.0..total);
        let mut kind = 0;
        #[allow(clippy::needless_range_loop)] // `kinds` and `rates` are parallel arrays
        for k in 0..5 {
            if !self.kinds[k] {
                continue;
            }
            kind = k;
            if x < rates[k] {
                break;
            }
            x -= rates[k];
        }
        let nn = self.nodes.len();
        match kind {
            0 => {
                let n = self.rng.fault.gen_range(0..nn);
                self.crash(n);
            }
            1 if nn > 1 => {
                let a = self.rng.fault.gen_range(0..nn);
                let b = (a + self.rng.fault.gen_range(1..nn)) % nn;
                if self.links[link_ix(a, b, nn)].up {
                    self.faults += 1;
                    self.break_link(a, b)?;
                }
            }
            2 if nn > 1 => self.partition(),
            3 => {
                let open: Vec<u64> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.client_open)
                    .map(|(id, _)| *id)
                    .collect();
                if !open.is_empty() {
                    let id = open[self.rng.fault.gen_range(0..open.len())];
                    self.faults += 1;
                    self.line(format!("drop client conn {id}"));
                    self.client_drop_conn(id);
                }
            }
            4 => {
                let n = self.rng.fault.gen_range(0..nn);
                self.nodes[n].wall_offset_ms += self.rng.fault.gen_range(-60_000..60_000);
                self.faults += 1;
                self.line(format!("wall clock jump node {}", n + 1));
            }
            _ => {}
        }
        self.schedule_fault();
        Ok(())
    }

    fn partition(&mut self) {
        let nn = self.nodes.len();
        let mut side: Vec<bool> = (0..nn).map(|_| self.rng.fault.gen_bool(0.5)).collect();
        if side.iter().all(|s| *s) || side.iter().all(|s| !*s) {
            let i = self.rng.fault.gen_range(0..nn);
            side[i] = !side[i];
        }
        let one_way = self.rng.fault.gen_bool(0.3);
        let mut cuts = Vec::new();
        for a in 0..nn {
            for b in 0..nn {
                if side[a] && !side[b] || (!one_way && !side[a] && side[b]) {
                    cuts.push((a, b));
                    self.blocked[a * nn + b] += 1;
                }
            }
        }
        let id = self.partition_next;
        self.partition_next += 1;
        self.faults += 1;
        let members: Vec<usize> = (0..nn).filter(|i| side[*i]).map(|i| i + 1).collect();
        self.line(format!(
            "partition {id} {} {members:?} | rest",
            if one_way { "one-way from" } else { "symmetric" }
        ));
        self.partitions.insert(id, cuts);
        let d = self.rng.fault.gen_range(300 * MS..5_000 * MS);
        self.push(self.now + d, Ev::PartitionHeal { id });
    }

    fn heal_partition(&mut self, id: u64) {
        let Some(cuts) = self.partitions.remove(&id) else {
            return;
        };
        let nn = self.nodes.len();
        self.line(format!("heal partition {id}"));
        for (a, b) in cuts {
            self.blocked[a * nn + b] -= 1;
        }
    }

    fn heal_all(&mut self) -> CheckResult {
        self.line("heal all; faults stop".to_string());
        info!("fault phase over; healing");
        self.in_fault_phase = false;
        let ids: Vec<u64> = self.partitions.keys().copied().collect();
        for id in ids {
            self.heal_partition(id);
        }
        for n in 0..self.nodes.len() {
            if self.nodes[n].replica.is_none() {
                self.restart(n)?;
            }
        }
        let nn = self.nodes.len();
        for a in 0..nn {
            for b in a + 1..nn {
                if !self.links[link_ix(a, b, nn)].up {
                    let d = self.rng.net.gen_range(MS..20 * MS);
                    self.push(self.now + d, Ev::LinkUp { a, b });
                }
            }
        }
        Ok(())
    }

    fn check_liveness(&mut self) -> CheckResult {
        let quorum = self.nodes.len() / 2 + 1;
        let mut by_leader: BTreeMap<(u64, u32), usize> = BTreeMap::new();
        for node in &self.nodes {
            if let Some((l, e)) = node.replica.as_ref().and_then(|r| r.serving_leader()) {
                *by_leader.entry((l.0, e.0)).or_default() += 1;
            }
        }
        let quorum_serving = by_leader.values().copied().max().unwrap_or(0);
        let mut stuck = Vec::new();
        for c in &self.clients {
            if !c.live() {
                continue;
            }
            for h in &c.history {
                if h.reply_ns.is_none() && !h.lost && h.sent_ns + REQUEST_BOUND_NS <= self.now {
                    stuck.push((c.idx, h.xid, (self.now - h.sent_ns) / MS));
                }
            }
        }
        liveness::check(&EndState {
            quorum_serving,
            quorum,
            stuck,
            acked_after_heal: self.acked_after_heal,
            writes_tried_after_heal: self.writes_after_heal,
        })
    }

    // ----- client transport -----

    fn server_to_client(&mut self, conn: u64, msg: S2C) {
        let d = self
            .rng
            .net
            .gen_range(10 * US..=self.opts.net_delay_us_max.max(11) * US);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let at = (self.now + d).max(c.s2c_last);
        c.s2c_last = at;
        self.push(at, Ev::ToClient { conn, msg });
    }

    fn client_to_server(&mut self, conn: u64, msg: C2S) {
        let d = self
            .rng
            .net
            .gen_range(10 * US..=self.opts.net_delay_us_max.max(11) * US);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let at = (self.now + d).max(c.c2s_last);
        c.c2s_last = at;
        self.push(at, Ev::ToServer { conn, msg });
    }

    fn deliver_to_server(&mut self, conn: u64, msg: C2S) -> CheckResult {
        let Some(c) = self.conns.get(&conn) else {
            return Ok(());
        };
        let n = c.server;
        if !c.server_open || c.server_inc != self.nodes[n].inc || self.nodes[n].replica.is_none() {
            return Ok(());
        }
        let id = ConnId(conn);
        match msg {
            C2S::Closed => {
                self.conns.get_mut(&conn).expect("exists").server_open = false;
                self.step(n, Input::ClientClosed { conn: id })
            }
            C2S::Connect(request) => self.step(n, Input::ClientConnect { conn: id, request }),
            C2S::Request(header, request) => self.step(
                n,
                Input::ClientRequest {
                    conn: id,
                    header,
                    request,
                },
            ),
        }
    }

    fn deliver_to_client(&mut self, conn: u64, msg: S2C) -> CheckResult {
        let Some(c) = self.conns.get(&conn) else {
            return Ok(());
        };
        if !c.client_open {
            return Ok(());
        }
        let ci = c.client;
        let server = c.server;
        match msg {
            S2C::Closed(_) | S2C::Lost => {
                let why = match msg {
                    S2C::Closed(r) => format!("closed {r:?}"),
                    _ => "lost".to_string(),
                };
                self.line(format!("client {ci} conn {conn} {why}"));
                self.chk.watches.on_closed(conn);
                self.conns.get_mut(&conn).expect("exists").client_open = false;
                self.client_lost_conn(ci);
                Ok(())
            }
            S2C::Connected(resp, server_applied) => self.client_connected(ci, resp, server_applied),
            S2C::Notify(z) => {
                self.notifications += 1;
                self.chk.watches.on_notify(conn, z)
            }
            S2C::Reply(h, created) => {
                self.chk.watches.on_reply(conn, h.zxid);
                self.client_reply(ci, server, h, created)
            }
        }
    }

    // ----- clients -----

    fn wake_client(&mut self, c: usize, at: u64) {
        self.clients[c].wake_gen += 1;
        let gen = self.clients[c].wake_gen;
        self.push(at, Ev::ClientWake { client: c, gen });
    }

    fn think(&mut self) -> u64 {
        self.rng
            .client
            .gen_range(MS..=self.opts.think_ms_max.max(2) * MS)
    }

    fn client_drop_conn(&mut self, id: u64) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if !c.client_open {
            return;
        }
        c.client_open = false;
        let ci = c.client;
        self.client_to_server(id, C2S::Closed);
        self.client_lost_conn(ci);
    }

    fn client_lost_conn(&mut self, ci: usize) {
        let now = self.now;
        let cl = &mut self.clients[ci];
        if let Some(conn) = cl.conn.take() {
            for h in conn.outstanding {
                cl.history[h].lost = true;
            }
        }
        cl.connecting = false;
        if cl.mode == Mode::Closing {
            cl.mode = Mode::Idle;
            cl.session = None;
            cl.resume_ns = now + 100 * MS;
        }
        let d = self.rng.client.gen_range(10 * MS..300 * MS);
        self.wake_client(ci, now + d);
    }

    fn client_connected(
        &mut self,
        ci: usize,
        resp: ConnectResponse,
        server_applied: Zxid,
    ) -> CheckResult {
        let now = self.now;
        if resp.timeout_ms == 0 {
            // Session expired (or invalid): its ephemerals must be gone everywhere at or
            // beyond this server's applied zxid.
            if let Some((s, _)) = self.clients[ci].session.take() {
                self.line(format!("client {ci} session {s} expired"));
                self.chk.ephemerals.on_session_ended(s, server_applied);
            }
            let cl = &mut self.clients[ci];
            cl.last_zxid_seen = Zxid(0);
            if let Some(conn) = cl.conn.take() {
                self.client_drop_known(conn.conn.0);
            }
            self.clients[ci].connecting = false;
            let d = self.think();
            self.wake_client(ci, now + d);
            return Ok(());
        }
        let cl = &mut self.clients[ci];
        let Some(conn) = cl.conn.as_mut() else {
            return Ok(());
        };
        conn.established = true;
        conn.last_send_ns = now;
        cl.connecting = false;
        cl.negotiated_ms = resp.timeout_ms;
        cl.session = Some((resp.session_id, resp.passwd));
        let s = resp.session_id;
        self.line(format!("client {ci} session {s} connected"));
        self.wake_client(ci, now + MS);
        Ok(())
    }

    fn client_drop_known(&mut self, id: u64) {
        if let Some(c) = self.conns.get_mut(&id) {
            if c.client_open {
                c.client_open = false;
                self.client_to_server(id, C2S::Closed);
            }
        }
    }

    fn client_reply(
        &mut self,
        ci: usize,
        server: usize,
        h: ReplyHeader,
        created: Option<String>,
    ) -> CheckResult {
        let now = self.now;
        let sid = self.nodes[server].id.0;
        let heal = !self.in_fault_phase;
        let cl = &mut self.clients[ci];
        let Some((session, _)) = cl.session.clone() else {
            return Ok(());
        };
        let Some(conn) = cl.conn.as_mut() else {
            return Ok(());
        };
        conn.last_send_ns = conn.last_send_ns.max(now.saturating_sub(1));
        if h.xid == xid::NOTIFICATION {
            return Ok(());
        }
        if h.xid == xid::PING {
            return self.chk.monotonic.on_reply(session, sid, h.xid, h.zxid);
        }
        let expected = conn.outstanding.front().map(|i| cl.history[*i].xid);
        session_fifo::check_reply(ci, expected, h.xid)?;
        let hi = conn.outstanding.pop_front().expect("checked non-empty");
        let e = &mut cl.history[hi];
        e.reply_ns = Some(now);
        e.zxid = Some(h.zxid);
        e.err = Some(h.err);
        let (write, op) = (e.write, e.op);
        if h.zxid > cl.last_zxid_seen {
            cl.last_zxid_seen = h.zxid;
        }
        if let Some(p) = created {
            cl.sequentials.push(p);
        }
        self.chk.monotonic.on_reply(session, sid, h.xid, h.zxid)?;
        if write && h.err == 0 {
            self.chk
                .durability
                .on_ack(&self.chk.agreement, session, h.xid, h.zxid)?;
            if heal {
                self.acked_after_heal += 1;
            }
        }
        if op == "closeSession" && h.err == 0 {
            self.line(format!("client {ci} session {session} closed"));
            self.chk.ephemerals.on_session_ended(session, h.zxid);
            let cl = &mut self.clients[ci];
            cl.mode = Mode::Idle;
            cl.session = None;
            cl.resume_ns = now + 100 * MS;
        }
        Ok(())
    }

    fn client_wake(&mut self, ci: usize) -> CheckResult {
        let now = self.now;
        let nn = self.nodes.len();
        let inflight_max = self.opts.client_inflight_max.max(1);
        let cl = &self.clients[ci];
        if cl.mode == Mode::Idle {
            if now < cl.resume_ns {
                let at = cl.resume_ns;
                self.wake_client(ci, at);
                return Ok(());
            }
            let ops = self.rng.client.gen_range(20..400);
            let cl = &mut self.clients[ci];
            cl.mode = Mode::Active;
            cl.session = None;
            cl.last_zxid_seen = Zxid(0);
            cl.ops_left = ops;
        }
        let cl = &self.clients[ci];
        let Some(conn) = cl.conn.as_ref() else {
            return self.client_connect(ci, nn);
        };
        if !conn.established {
            if now >= conn.last_send_ns + CONNECT_TIMEOUT_NS {
                let id = conn.conn.0;
                self.client_drop_conn(id);
            } else {
                let at = conn.last_send_ns + CONNECT_TIMEOUT_NS;
                self.wake_client(ci, at);
            }
            return Ok(());
        }
        let negotiated_ns = cl.negotiated_ms.max(1) as u64 * MS;
        // A ZooKeeper client gives up on a silent server after 2/3 of the session timeout.
        if let Some(oldest) = conn.outstanding.front() {
            if now > cl.history[*oldest].sent_ns + negotiated_ns * 2 / 3
                && now > conn.last_send_ns + negotiated_ns * 2 / 3
            {
                let id = conn.conn.0;
                self.line(format!("client {ci} gives up on silent conn {id}"));
                self.client_drop_conn(id);
                return Ok(());
            }
        }
        let conn_id = conn.conn.0;
        let server_id = self.nodes[conn.server].id.0;
        let outstanding = conn.outstanding.len();
        let idle_ns = now.saturating_sub(conn.last_send_ns);
        let (session, _) = cl.session.clone().expect("established ⇒ session");
        let mode = cl.mode;
        if mode == Mode::Active && cl.ops_left == 0 && outstanding == 0 {
            if self.rng.client.gen_bool(0.5) {
                self.client_send(
                    ci,
                    conn_id,
                    server_id,
                    session,
                    Request::CloseSession,
                    "closeSession",
                    true,
                );
                self.clients[ci].mode = Mode::Closing;
            } else {
                // Abandon: the session is left to expire.
                self.line(format!("client {ci} abandons session {session}"));
                let cl = &mut self.clients[ci];
                cl.mode = Mode::Idle;
                cl.session = None;
                cl.resume_ns = now + self.rng.client.gen_range(100 * MS..3_000 * MS);
                self.client_drop_conn(conn_id);
                return Ok(());
            }
        } else if mode == Mode::Active && cl.ops_left > 0 && outstanding < inflight_max {
            let (req, op, write) = gen_op(&mut self.rng.client, &mut self.clients[ci].sequentials);
            if write && !self.in_fault_phase {
                self.writes_after_heal = true;
            }
            self.client_send(ci, conn_id, server_id, session, req, op, write);
            self.clients[ci].ops_left -= 1;
        } else if idle_ns > negotiated_ns / 3 {
            let header = RequestHeader {
                xid: xid::PING,
                op: Request::Ping.op(),
            };
            if let Some(c) = self.clients[ci].conn.as_mut() {
                c.last_send_ns = now;
            }
            self.client_to_server(conn_id, C2S::Request(header, Request::Ping));
        }
        let d = self.think();
        self.wake_client(ci, now + d);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn client_send(
        &mut self,
        ci: usize,
        conn_id: u64,
        server_id: u64,
        session: SessionId,
        req: Request,
        op: &'static str,
        write: bool,
    ) {
        let now = self.now;
        let cl = &mut self.clients[ci];
        let x = cl.next_xid;
        cl.next_xid += 1;
        cl.history.push(HistEntry {
            session,
            server: server_id,
            op,
            xid: x,
            write,
            sent_ns: now,
            reply_ns: None,
            zxid: None,
            err: None,
            lost: false,
        });
        let hi = cl.history.len() - 1;
        self.chk.integrity.on_request(session, x);
        if let Some(c) = cl.conn.as_mut() {
            c.outstanding.push_back(hi);
            c.last_send_ns = now;
        }
        let header = RequestHeader {
            xid: x,
            op: req.op(),
        };
        self.client_to_server(conn_id, C2S::Request(header, req));
    }

    fn client_connect(&mut self, ci: usize, nn: usize) -> CheckResult {
        let now = self.now;
        let server = self.rng.client.gen_range(0..nn);
        let id = self.conn_next;
        self.conn_next += 1;
        let up = self.nodes[server].replica.is_some();
        self.conns.insert(
            id,
            Conn {
                client: ci,
                server,
                server_inc: self.nodes[server].inc,
                server_open: up,
                client_open: true,
                c2s_last: 0,
                s2c_last: 0,
            },
        );
        let cl = &mut self.clients[ci];
        cl.connecting = true;
        cl.conn = Some(ClientConn {
            conn: ConnId(id),
            server,
            established: false,
            outstanding: Default::default(),
            last_send_ns: now,
        });
        let (session_id, passwd) = cl.session.clone().unwrap_or((SessionId(0), vec![0; 16]));
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: cl.last_zxid_seen,
            timeout_ms: cl.timeout_ms,
            session_id,
            passwd,
            read_only: Some(false),
        };
        self.line(format!(
            "client {ci} connects to node {} conn {id} session {session_id}",
            server + 1
        ));
        if !up {
            self.server_to_client(id, S2C::Lost);
            return Ok(());
        }
        self.client_to_server(id, C2S::Connect(request));
        let at = now + CONNECT_TIMEOUT_NS;
        self.wake_client(ci, at);
        Ok(())
    }
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
