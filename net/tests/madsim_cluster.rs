//! Deterministic cluster test of the real runtime under madsim: a 3-server Arbor ensemble
//! (`arbor_net::server`, peer transport, client port, storage task; only the disk is an
//! in-memory model) on three simulated hosts, a client writing through our wire client, and
//! partitions and node restarts injected by the test. Built and run only with
//! `RUSTFLAGS="--cfg madsim"` (see `.ci/run`); in a normal build this file is empty.
//!
//! What it checks, for each seed:
//! 1. **Durability**: every write the client saw acknowledged (create answered with err 0) is
//!    present on all three servers after the faults healed and the replicas converged, with
//!    `czxid` equal to the zxid in the acknowledgement; and no server holds a node the client
//!    never tried to create.
//! 2. **Agreement**: after convergence all three servers report the same applied zxid and the
//!    same tree digest (`mntr` `zk_arbor_last_zxid` / `zk_arbor_tree_digest`).
//! 3. **Determinism**: the scenario runs twice with the same seed, each run in a fresh thread
//!    and a fresh madsim runtime, and the two outcome traces (fault schedule, every
//!    acknowledged (path, zxid) with its simulated time, final zxid and digest) are identical.
//!
//! Faults, one at a time, drawn from the seed: a server cut off from its peers (clients can
//! still reach it), a server cut off from everything, a server killed and restarted after a
//! pause, and the current leader killed and restarted. A killed server loses what its storage
//! task had written but not synced; the restart recovers the rest from its disk.
//!
//! Seeds: `MADSIM_TEST_SEED` (default 1) and `MADSIM_TEST_NUM` (default 1) seeds from it. A
//! failure prints the seed; `MADSIM_TEST_SEED=<seed>` replays it exactly. `RUST_LOG=info`
//! shows the servers' logs (with simulated timestamps), `MADSIM_CLUSTER_TRACE=1` the trace.
//!
//! The addresses (10.0.0.x) are madsim's simulated hosts: nothing here opens a real socket.

#![cfg(madsim)]
#![allow(clippy::print_stderr)]

#[path = "madsim/mem_storage.rs"]
mod mem_storage;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arbor_core::proto::jute::{
    CreateRequest, PathRequest, PathWatchRequest, Request, ResponseBody,
};
use arbor_core::types::{Acl, ServerId, Zxid};
use arbor_net::client::{Client, ClientError, ClientOptions};
use arbor_net::config::FourLetterWords;
use arbor_net::peer;
use arbor_net::server::{start_with_storage, EnsembleOptions, ServeOptions};
use madsim::net::NetSim;
use madsim::rand::{thread_rng, Rng};
use madsim::runtime::{Handle, NodeHandle, Runtime};
use mem_storage::{MemStorage, SharedDisk};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

const SERVERS: u64 = 3;
const CLIENT_PORT: u16 = 2181;
const PEER_PORT: u16 = 2888;
const ELECTION_PORT: u16 = 3888;
/// Upper bound on the client's create attempts (one path each); it writes until the faults
/// are over.
const WRITES_MAX: usize = 20_000;
/// Creates the client pipelines in one round trip, at most.
const PIPELINE_MAX: usize = 8;
/// Faults injected while the client writes.
const FAULT_ROUNDS: usize = 10;
/// Simulated time the replicas get to converge after the faults healed.
const CONVERGE_LIMIT: Duration = Duration::from_secs(120);
/// Simulated time after which a stuck run fails instead of spinning.
const TIME_LIMIT: Duration = Duration::from_secs(900);
/// Server tick (ZooKeeper's `tickTime`), short so that elections take little simulated time.
const TICK: Duration = Duration::from_millis(100);
/// Session timeout the client asks for (and the servers' maximum).
const SESSION_TIMEOUT: Duration = Duration::from_secs(4);

/// The test's name, to run it again in a child process.
const TEST_NAME: &str = "acknowledged_writes_survive_partitions_and_restarts";
/// Set in a child process: the seed of the one run it performs.
const CHILD_SEED_ENV: &str = "MADSIM_CLUSTER_CHILD_SEED";
/// Prefix of the outcome lines a child prints on stdout.
const OUTCOME_PREFIX: &str = "madsim_cluster outcome: ";

#[test]
fn acknowledged_writes_survive_partitions_and_restarts() {
    if let Ok(seed) = std::env::var(CHILD_SEED_ENV) {
        let seed = seed.parse().expect("child seed");
        child_run(seed);
        return;
    }
    let first = env_u64("MADSIM_TEST_SEED", 1);
    let count = env_u64("MADSIM_TEST_NUM", 1);
    for seed in first..first + count {
        eprintln!("madsim_cluster: seed {seed} (replay with MADSIM_TEST_SEED={seed})");
        let a = run_in_child(seed);
        let b = run_in_child(seed);
        if std::env::var_os("MADSIM_CLUSTER_TRACE").is_some() {
            for line in &a {
                eprintln!("  {line}");
            }
        }
        if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
            panic!(
                "seed {seed}: two runs differ at outcome line {i}:\n  first:  {:?}\n  second: {:?}",
                a.get(i),
                b.get(i)
            );
        }
        let summary = a.last().map_or("", String::as_str);
        eprintln!("madsim_cluster: seed {seed}: {summary}; second run identical");
    }
}

/// Runs the scenario once in a child process and returns its outcome lines.
///
/// Each run is its own process because real tokio's `select!` (re-exported by madsim-tokio)
/// draws its starting branch from a thread-local RNG whose seed mixes in a process-global
/// counter: two runs in one process draw differently, two processes draw alike. A replay with
/// `MADSIM_TEST_SEED` is a fresh process too, so this is the determinism that matters.
fn run_in_child(seed: u64) -> Vec<String> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_SEED_ENV, seed.to_string())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "seed {seed} failed (replay with MADSIM_TEST_SEED={seed}):\n{}",
            tail.join("\n")
        );
    }
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(OUTCOME_PREFIX))
        .map(str::to_string)
        .collect()
}

/// The child's side: one run, its outcome lines on stdout.
#[allow(clippy::print_stdout)]
fn child_run(seed: u64) {
    let o = run_in_fresh_thread(seed);
    for line in &o.trace {
        println!("{OUTCOME_PREFIX}{line}");
    }
    println!(
        "{OUTCOME_PREFIX}{} of {} writes acknowledged, {} faults, final zxid {} digest {:#x}, \
         {} syncs, {} unsynced records lost to kills, simulated {:.1}s",
        o.acked.len(),
        o.attempted,
        o.faults,
        o.final_zxid,
        o.final_digest,
        o.syncs,
        o.lost_records,
        o.simulated.as_secs_f64(),
    );
}

/// What one run produced; two runs of a seed must produce equal outcomes.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Every event of the run with its simulated time.
    trace: Vec<String>,
    /// Acknowledged creates: (path, zxid of the reply).
    acked: Vec<(String, Zxid)>,
    /// Creates sent (acknowledged or not).
    attempted: usize,
    faults: usize,
    final_zxid: Zxid,
    final_digest: u64,
    syncs: u64,
    lost_records: u64,
    simulated: Duration,
}

/// Runs the scenario on a new thread: std's hash keys are per thread, and madsim seeds them
/// only on a thread that has not drawn them yet. A failure is reported with its seed.
fn run_in_fresh_thread(seed: u64) -> Outcome {
    let run = std::thread::spawn(move || {
        if std::env::var_os("RUST_LOG").is_some() {
            madsim::runtime::init_logger();
        }
        let mut rt = Runtime::with_seed_and_config(seed, sim_config());
        rt.set_time_limit(TIME_LIMIT);
        rt.block_on(scenario())
    })
    .join();
    match run {
        Ok(o) => o,
        Err(e) => {
            eprintln!("madsim_cluster: seed {seed} failed; replay with MADSIM_TEST_SEED={seed}");
            std::panic::resume_unwind(e)
        }
    }
}

/// madsim's network with LAN latencies (0.1 to 1 ms per message; madsim's default is 1 to
/// 10 ms): a round trip is then shorter than the simulated fsync (5 ms), as on a LAN with
/// real disks, so an acknowledgement sent before its sync would reach the client while the
/// data is still only in memory, and a kill in that window would lose it.
fn sim_config() -> madsim::Config {
    let mut c = madsim::Config::default();
    c.net.send_latency = Duration::from_micros(100)..Duration::from_millis(1);
    c
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be an integer, got {v:?}")),
        Err(_) => default,
    }
}

/// The run's event log, stamped with simulated time since the start.
#[derive(Clone)]
struct Trace {
    start: Instant,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Trace {
    fn new() -> Trace {
        Trace {
            start: Instant::now(),
            lines: Arc::default(),
        }
    }

    fn log(&self, what: String) {
        let t = self.start.elapsed().as_secs_f64();
        let mut l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        l.push(format!("{t:10.4}s {what}"));
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn server_ip(id: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8))
}

fn client_addr(id: u64) -> SocketAddr {
    SocketAddr::new(server_ip(id), CLIENT_PORT)
}

fn serve_options(id: u64) -> ServeOptions {
    // The data dir is never touched: storage is the in-memory model.
    let mut o = ServeOptions::new(client_addr(id), "/nonexistent/arbor-madsim");
    o.id = ServerId(id);
    o.tick = TICK;
    o.min_session_timeout = TICK * 2;
    o.max_session_timeout = SESSION_TIMEOUT;
    o.handshake_timeout = SESSION_TIMEOUT;
    o.four_letter_words = FourLetterWords::All;
    // Small, so compaction snapshots, purges and SNAP syncs happen during the run.
    o.snapshot_every_txns = 40;
    o.snap_retain_count = 2;
    let hosts: Vec<(u64, String)> = (1..=SERVERS)
        .map(|i| (i, server_ip(i).to_string()))
        .collect();
    let cluster_id = peer::derive_cluster_id(hosts.iter().map(|(i, h)| {
        (
            ServerId(*i),
            h.as_str(),
            PEER_PORT,
            ELECTION_PORT,
            "participant",
        )
    }));
    o.ensemble = Some(EnsembleOptions {
        members: hosts
            .iter()
            .map(|(i, h)| (ServerId(*i), (h.clone(), PEER_PORT)))
            .collect(),
        cluster_id,
        init_limit_ticks: 10,
        sync_limit_ticks: 5,
        max_frame_len: peer::MAX_FRAME_LEN_DEFAULT,
        queue_max: peer::QUEUE_MAX_DEFAULT,
        queue_bytes_max: peer::QUEUE_BYTES_MAX_DEFAULT,
    });
    o
}

/// Creates server `id`'s node: its init task opens the node's disk, starts the real server on
/// it and serves until the node is killed. A restart runs the init task again on the same disk.
fn server_node(handle: &Handle, id: u64, disk: SharedDisk) -> NodeHandle {
    handle
        .create_node()
        .name(format!("s{id}"))
        .ip(server_ip(id))
        .init(move || {
            let disk = disk.clone();
            async move {
                let (storage, recovered) = MemStorage::open(disk);
                let server = start_with_storage(serve_options(id), storage, recovered)
                    .await
                    .unwrap_or_else(|e| panic!("server {id} does not start: {e}"));
                // Only a kill ends a server here: stopping on its own (a storage failure) is
                // a failure of the test.
                let res = server.wait().await;
                panic!("server {id} stopped on its own: {res:?}");
            }
        })
        .build()
}

async fn scenario() -> Outcome {
    let handle = Handle::current();
    let trace = Trace::new();
    let disks: Vec<SharedDisk> = (0..SERVERS).map(|_| SharedDisk::default()).collect();
    let nodes: Vec<NodeHandle> = (1..=SERVERS)
        .map(|id| server_node(&handle, id, disks[(id - 1) as usize].clone()))
        .collect();
    let client = handle
        .create_node()
        .name("client")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100)))
        .build();
    let signals = Arc::new(Signals::default());
    let workload = client.spawn(workload(trace.clone(), signals.clone()));
    let faults = inject_faults(&handle, &nodes, &client, &signals, &disks, &trace).await;
    signals.stop.store(true, Ordering::Relaxed);
    let (acked, attempted) = workload.await.expect("the workload task ends");
    trace.log(format!(
        "workload done: {} of {attempted} acknowledged",
        acked.len()
    ));
    assert!(
        !acked.is_empty(),
        "no write was acknowledged: the ensemble never served"
    );

    let converged = converge(&client, &trace, "after faults").await;
    // Read back every acknowledged write from each server.
    for id in 1..=SERVERS {
        let res = client
            .spawn(read_back(id, acked.clone(), attempted))
            .await
            .expect("read-back task");
        if let Err(e) = res {
            panic!("server {id} after convergence at {}: {e}", converged.0);
        }
        trace.log(format!(
            "s{id}: all {} acknowledged writes present",
            acked.len()
        ));
    }
    // The read-back sessions are txns too: converge again for the final state. Wait out
    // the sessions of dropped connections first, so nothing expires after the comparison.
    madsim::time::sleep(SESSION_TIMEOUT * 2).await;
    let (final_zxid, final_digest) = converge(&client, &trace, "final").await;

    let (syncs, lost_records) = disks.iter().fold((0, 0), |(s, l), d| {
        let d = d.lock().unwrap_or_else(|e| e.into_inner());
        (s + d.syncs, l + d.lost_records)
    });
    Outcome {
        trace: trace.lines(),
        acked,
        attempted,
        faults,
        final_zxid,
        final_digest,
        syncs,
        lost_records,
        simulated: trace.start.elapsed(),
    }
}

/// Between the fault injector and the client.
#[derive(Default)]
struct Signals {
    /// Set when the faults are over: the client stops writing.
    stop: AtomicBool,
    /// Notified each time the client has sent a batch of creates (kills aim at the moments
    /// right after, when the servers are writing them).
    sent: Notify,
}

/// The client: batches of 1 to `PIPELINE_MAX` pipelined creates of distinct paths until told
/// to stop, reconnecting to the next server whenever a connection fails. Returns the
/// acknowledged creates in order and how many were sent.
async fn workload(trace: Trace, signals: Arc<Signals>) -> (Vec<(String, Zxid)>, usize) {
    let opts = ClientOptions {
        session_timeout: SESSION_TIMEOUT,
        io_timeout: Duration::from_secs(2),
        ..ClientOptions::default()
    };
    let mut acked = Vec::new();
    let mut conn: Option<(u64, Client)> = None;
    let mut next = 1;
    let mut attempted = 0;
    while !signals.stop.load(Ordering::Relaxed) && attempted < WRITES_MAX {
        if conn.is_none() {
            for _ in 0..SERVERS {
                let id = next;
                next = next % SERVERS + 1;
                match Client::connect(client_addr(id), opts).await {
                    Ok(c) => {
                        trace.log(format!("client: session {:#x} on s{id}", c.session_id().0));
                        conn = Some((id, c));
                        break;
                    }
                    Err(e) => trace.log(format!("client: s{id} refused: {}", error_kind(&e))),
                }
            }
        }
        let Some((id, c)) = conn.as_mut() else {
            trace.log("client: no server".to_string());
            madsim::time::sleep(Duration::from_millis(300)).await;
            continue;
        };
        let batch = thread_rng()
            .gen_range(1..=PIPELINE_MAX)
            .min(WRITES_MAX - attempted);
        let paths: Vec<String> = (attempted..attempted + batch)
            .map(|i| format!("/w{i:05}"))
            .collect();
        attempted += batch;
        for p in &paths {
            c.queue(&Request::Create(CreateRequest {
                path: p.clone(),
                data: Some(p.as_bytes().to_vec()),
                acl: Acl::open_unsafe(),
                flags: 0,
            }));
        }
        let sent = c.flush().await;
        signals.sent.notify_waiters();
        let mut failed = sent.err();
        for path in paths {
            if let Some(e) = &failed {
                trace.log(format!("lost {path} via s{id}: {}", error_kind(e)));
                continue;
            }
            match c.next_reply().await {
                Ok(r) if r.header.err == 0 => {
                    trace.log(format!("ack {path} {} via s{id}", r.header.zxid));
                    acked.push((path, r.header.zxid));
                }
                Ok(r) => trace.log(format!("rejected {path} err {} via s{id}", r.header.err)),
                Err(e) => {
                    trace.log(format!("lost {path} via s{id}: {}", error_kind(&e)));
                    failed = Some(e);
                }
            }
        }
        if failed.is_some() {
            conn = None;
        }
        let pause = thread_rng().gen_range(5..60);
        madsim::time::sleep(Duration::from_millis(pause)).await;
    }
    if let Some((_, c)) = conn {
        // Best effort: a session left open expires by itself.
        let _ = c.close().await;
    }
    (acked, attempted)
}

fn error_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::Closed { .. } => "closed",
        ClientError::Io(_) => "io",
        ClientError::SessionRefused => "session refused",
        ClientError::Timeout(_) => "timeout",
        _ => "protocol error",
    }
}

/// Injects `FAULT_ROUNDS` faults one after another, each healed before the next; returns how
/// many were injected. The kinds rotate so each run has every kind; targets, durations and
/// pauses come from the seed.
async fn inject_faults(
    handle: &Handle,
    nodes: &[NodeHandle],
    client: &NodeHandle,
    signals: &Signals,
    disks: &[SharedDisk],
    trace: &Trace,
) -> usize {
    let net = NetSim::current();
    let mut rng = thread_rng();
    for round in 0..FAULT_ROUNDS {
        madsim::time::sleep(Duration::from_millis(rng.gen_range(1_000..3_000))).await;
        let target = rng.gen_range(1..=SERVERS);
        let down = Duration::from_millis(rng.gen_range(1_000..5_000));
        let node = |id: u64| nodes[(id - 1) as usize].id();
        match round % 5 {
            0 => {
                trace.log(format!(
                    "fault: s{target} cut off from its peers for {down:?}"
                ));
                let others = (1..=SERVERS).filter(|&o| o != target);
                for o in others.clone() {
                    net.clog_link(node(target), node(o));
                    net.clog_link(node(o), node(target));
                }
                madsim::time::sleep(down).await;
                for o in others {
                    net.unclog_link(node(target), node(o));
                    net.unclog_link(node(o), node(target));
                }
            }
            1 => {
                trace.log(format!("fault: s{target} isolated for {down:?}"));
                net.clog_node(node(target));
                madsim::time::sleep(down).await;
                net.unclog_node(node(target));
            }
            2 => {
                let disk = &disks[(target - 1) as usize];
                let victims = [(node(target), target)];
                kill_restart(handle, &victims, down, signals, disk, trace).await
            }
            3 => {
                let leader = match find_leader(client).await {
                    Some(l) => l,
                    None => target,
                };
                trace.log(format!("fault: leader is s{leader}"));
                let disk = &disks[(leader - 1) as usize];
                let victims = [(node(leader), leader)];
                kill_restart(handle, &victims, down, signals, disk, trace).await;
            }
            _ => {
                // A power loss of the whole ensemble while the leader is writing: what was
                // acknowledged must have been synced on a quorum before.
                let leader = match find_leader(client).await {
                    Some(l) => l,
                    None => target,
                };
                trace.log(format!("fault: every server, leader s{leader}"));
                let disk = &disks[(leader - 1) as usize];
                let victims: Vec<_> = (1..=SERVERS).map(|id| (node(id), id)).collect();
                kill_restart(handle, &victims, down, signals, disk, trace).await;
            }
        }
        trace.log("fault healed".to_string());
    }
    FAULT_ROUNDS
}

/// Kills the `victims` (node, server id) while `disk`'s server is writing: after the client
/// sent a batch, once that store holds unsynced records, at a random point of its fsync
/// window (or 2 s after the batch if it never writes). Restarts them on their disks after `down`.
async fn kill_restart(
    handle: &Handle,
    victims: &[(madsim::task::NodeId, u64)],
    down: Duration,
    signals: &Signals,
    disk: &SharedDisk,
    trace: &Trace,
) {
    // Bounded: if no batch is sent (no server serves) the kill happens anyway.
    let _ = madsim::time::timeout(Duration::from_secs(2), signals.sent.notified()).await;
    let writing = async {
        while disk.lock().unwrap_or_else(|e| e.into_inner()).unsynced == 0 {
            madsim::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let mid_write = madsim::time::timeout(Duration::from_secs(2), writing)
        .await
        .is_ok();
    // Somewhere in the fsync window (5 ms, the runtime's simulated fdatasync), so that
    // sometimes replies went out meanwhile.
    let into = Duration::from_micros(thread_rng().gen_range(0..5_000));
    madsim::time::sleep(into).await;
    let when = if mid_write { "mid-write" } else { "idle" };
    let ids: Vec<String> = victims.iter().map(|(_, id)| format!("s{id}")).collect();
    trace.log(format!("fault: {ids:?} killed ({when}) for {down:?}"));
    // Kill first (closes their sockets), then restart on the same disks after the pause.
    for (node, _) in victims {
        handle.kill(*node);
    }
    madsim::time::sleep(down).await;
    for (node, _) in victims {
        handle.restart(*node);
    }
    trace.log(format!("{ids:?} restarted"));
}

/// The server that says it leads, asked from the client host.
async fn find_leader(client: &NodeHandle) -> Option<u64> {
    for id in 1..=SERVERS {
        let Ok(Some(m)) = client.spawn(mntr(id)).await else {
            continue;
        };
        if m.get("zk_server_state").map(String::as_str) == Some("leader") {
            return Some(id);
        }
    }
    None
}

/// One `mntr` answer as key/value pairs (`None` if the server did not answer).
async fn mntr(id: u64) -> Option<BTreeMap<String, String>> {
    let io = Duration::from_secs(2);
    let mut s = madsim::time::timeout(io, tokio::net::TcpStream::connect(client_addr(id)))
        .await
        .ok()?
        .ok()?;
    s.write_all(b"mntr").await.ok()?;
    s.flush().await.ok()?;
    let mut out = Vec::new();
    madsim::time::timeout(io, s.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8(out).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Waits until every server serves and all report the same applied zxid and tree digest;
/// fails the test after `CONVERGE_LIMIT`.
async fn converge(client: &NodeHandle, trace: &Trace, when: &str) -> (Zxid, u64) {
    let start = Instant::now();
    loop {
        let mut seen = Vec::new();
        for id in 1..=SERVERS {
            let m = client.spawn(mntr(id)).await.ok().flatten();
            let state = m.as_ref().and_then(|m| {
                let role = m.get("zk_server_state")?.clone();
                let zxid = m.get("zk_arbor_last_zxid")?.parse::<i64>().ok()?;
                let digest = m.get("zk_arbor_tree_digest")?.parse::<u64>().ok()?;
                Some((role, Zxid(zxid), digest))
            });
            seen.push(state);
        }
        let states: BTreeSet<(Zxid, u64)> = seen.iter().flatten().map(|s| (s.1, s.2)).collect();
        if seen.iter().all(Option::is_some) && states.len() == 1 {
            let (zxid, digest) = states.into_iter().next().expect("one state");
            let roles: Vec<String> = seen.iter().flatten().map(|s| s.0.clone()).collect();
            trace.log(format!(
                "converged ({when}): zxid {zxid} digest {digest:#x} roles {roles:?}"
            ));
            return (zxid, digest);
        }
        assert!(
            start.elapsed() < CONVERGE_LIMIT,
            "replicas did not converge ({when}) within {CONVERGE_LIMIT:?}: {seen:?}"
        );
        madsim::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reads every acknowledged write back from server `id` (after a `sync`), and checks that
/// every child of `/` is a path the client tried to create.
async fn read_back(id: u64, acked: Vec<(String, Zxid)>, attempted: usize) -> Result<(), String> {
    let opts = ClientOptions {
        session_timeout: SESSION_TIMEOUT,
        io_timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    };
    let mut c = Client::connect(client_addr(id), opts)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let reply = |r: Result<arbor_net::client::ClientReply, ClientError>| {
        r.map_err(|e| format!("read failed: {e}"))
    };
    c.queue(&Request::Sync(PathRequest {
        path: "/".to_string(),
    }));
    reply(c.next_reply().await)?;
    c.queue(&Request::GetChildren(PathWatchRequest {
        path: "/".to_string(),
        watch: false,
    }));
    let r = reply(c.next_reply().await)?;
    let children: BTreeSet<String> = match r.body {
        Some(ResponseBody::GetChildren(ch)) => ch.children.into_iter().collect(),
        other => return Err(format!("getChildren(/) answered {other:?}")),
    };
    for child in &children {
        let attempted = child
            .strip_prefix('w')
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n < attempted);
        if !attempted && child != "zookeeper" {
            return Err(format!("/{child} exists but was never written"));
        }
    }
    for (path, _) in &acked {
        c.queue(&Request::GetData(PathWatchRequest {
            path: path.clone(),
            watch: false,
        }));
    }
    for (path, zxid) in &acked {
        let r = reply(c.next_reply().await)?;
        if r.header.err != 0 {
            return Err(format!(
                "acknowledged {path} (zxid {zxid}) is missing: err {}",
                r.header.err
            ));
        }
        match r.body {
            Some(ResponseBody::GetData(d)) if d.stat.czxid == zxid.0 => {}
            Some(ResponseBody::GetData(d)) => {
                return Err(format!(
                    "{path} was acknowledged at zxid {zxid} but has czxid {}",
                    Zxid(d.stat.czxid)
                ))
            }
            other => return Err(format!("getData({path}) answered {other:?}")),
        }
        if !children.contains(&path[1..]) {
            return Err(format!("{path} readable but not listed under /"));
        }
    }
    c.close().await.map_err(|e| format!("close: {e}"))?;
    Ok(())
}
