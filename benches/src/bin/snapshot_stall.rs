//! Measures what compaction snapshots cost the commit path at 1M znodes: a standalone
//! `Replica` recovered from a `/app/svc-NNNNN/key-NNNNN` tree (1,000 × 1,000 leaves, 32-byte
//! values) takes one setData after another, with a compaction snapshot every `EVERY` applied
//! txns. Every `handle` step (plus draining its outputs, as a driver does) is timed. A
//! `Snapshot` output is handed to a background thread that serializes it, as `net`'s
//! snapshot thread does, so the steps that run while it works pay whatever sharing costs.
//!
//! Reports: the steps that emitted a snapshot (the stall), the other steps (p50 / p99 /
//! max), and the background serialization time.
//!
//! With `HOLD_MS` > 0 the background thread does not serialize: it holds the view for that
//! long and drops it, which isolates the copy-on-write cost from the CPU the serialization
//! takes from the core's thread on a small machine. With `KEEP` = 1 it never drops a view
//! before the writes end (so freeing the copied chunks does not overlap the steps either).
//!
//! Usage: `cargo run --release -p arbor-benches --bin snapshot_stall [SERVICES [KEYS [WRITES
//! [EVERY [HOLD_MS [KEEP]]]]]]`.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arbor_benches::{key_path, Fixture};
use arbor_core::proto::jute::{ConnectRequest, Request, RequestHeader, SetDataRequest};
use arbor_core::replica::{Config, Input, Output, Recovered, Replica};
use arbor_core::types::{ConnId, Epoch, Nanos, ServerId, SessionId, WallMillis, Zxid};

const WALL: WallMillis = WallMillis(1_750_000_000_000);

struct Driver {
    replica: Replica,
    now: Nanos,
    queue: VecDeque<Input>,
    snapshots: mpsc::Sender<Output>,
    snapshot_steps: Vec<Duration>,
    session: Option<SessionId>,
}

impl Driver {
    /// Feeds one input and drains its outputs; returns how long that took and whether the
    /// step emitted a snapshot.
    fn step(&mut self, input: Input) -> (Duration, bool) {
        let start = Instant::now();
        self.replica.handle(self.now, WALL, input);
        let mut snapshot = false;
        while let Some(out) = self.replica.poll_output() {
            match out {
                Output::Persist { token, .. }
                | Output::TruncateLog { token, .. }
                | Output::InstallSnapshot { token, .. } => {
                    self.queue.push_back(Input::Persisted { token })
                }
                Output::ConnectResponse { response, .. } => {
                    self.session = Some(response.session_id)
                }
                out @ Output::Snapshot { .. } => {
                    snapshot = true;
                    self.snapshots.send(out).expect("serializer thread lives");
                }
                _ => {}
            }
        }
        (start.elapsed(), snapshot)
    }

    /// Delivers until nothing is queued; returns the step times.
    fn run(&mut self) -> Vec<Duration> {
        let mut times = Vec::new();
        while let Some(input) = self.queue.pop_front() {
            let (t, snap) = self.step(input);
            if snap {
                self.snapshot_steps.push(t);
            } else {
                times.push(t);
            }
        }
        times
    }
}

/// What the background thread does with a `Snapshot` output: serialize the frozen view,
/// as `net`'s snapshot thread does, then drop it (which ends its sharing of the tree).
fn serialize_off_thread(out: Output, hold_ms: u64, kept: &mut Option<Vec<Output>>) -> usize {
    if hold_ms > 0 {
        std::thread::sleep(Duration::from_millis(hold_ms));
        if let Some(k) = kept {
            k.push(out);
        }
        return 0;
    }
    match out {
        Output::Snapshot { view, .. } => view.serialize().len(),
        _ => 0,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

#[allow(clippy::print_stdout)] // a measurement program's output is its report
fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a count"));
    let services = args.next().unwrap_or(1000) as u32;
    let keys = args.next().unwrap_or(1000) as u32;
    let writes = args.next().unwrap_or(20_000);
    let every = args.next().unwrap_or(2_000);
    let hold_ms = args.next().unwrap_or(0);
    let keep = args.next().unwrap_or(0) == 1;

    let mut fx = Fixture::new();
    fx.populate(services, keys, 32);
    let znodes = fx.tree.node_count();
    let rec = Recovered {
        accepted_epoch: Epoch(1),
        current_epoch: Epoch(1),
        snapshot: Some((fx.tree.last_zxid(), fx.tree.serialize())),
        ..Recovered::default()
    };
    drop(fx);
    let mut cfg = Config::new(ServerId(1), vec![ServerId(1)]);
    cfg.snapshot_every_txns = every;
    cfg.proposals_inflight_max = 100_000;
    cfg.client_requests_queued_max = 100_000;

    let (tx, rx) = mpsc::channel::<Output>();
    let serializer = std::thread::spawn(move || {
        let mut times = Vec::new();
        let mut kept = keep.then(Vec::new);
        while let Ok(out) = rx.recv() {
            let start = Instant::now();
            let len = serialize_off_thread(out, hold_ms, &mut kept);
            times.push((start.elapsed(), len));
        }
        times
    });

    let mut d = Driver {
        replica: Replica::recover(cfg, rec).expect("the loaded snapshot recovers"),
        now: Nanos(1),
        queue: VecDeque::new(),
        snapshots: tx,
        snapshot_steps: Vec::new(),
        session: None,
    };
    while let Some(out) = d.replica.poll_output() {
        if let Output::Persist { token, .. } = out {
            d.queue.push_back(Input::Persisted { token });
        }
    }
    d.run();
    while d.replica.serving_leader().is_none() {
        let next = d.replica.next_deadline().expect("a timer is armed");
        d.now = d.now.max(next);
        d.queue.push_back(Input::Tick);
        d.run();
    }
    let conn = ConnId(1);
    d.queue.push_back(Input::ClientConnect {
        conn,
        request: ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid::ZERO,
            timeout_ms: 30_000,
            session_id: SessionId(0),
            passwd: vec![0; 16],
            read_only: Some(false),
        },
    });
    d.run();
    assert!(d.session.is_some(), "session opened");
    d.snapshot_steps.clear();

    // Saturated writes: a window of requests in flight, one step at a time.
    let mut times = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let window = 64;
    let mut sent = 0u64;
    let started = Instant::now();
    while sent < writes {
        for _ in 0..window.min(writes - sent) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let s = ((x >> 33) % u64::from(services)) as u32;
            let k = ((x >> 13) % u64::from(keys)) as u32;
            let request = Request::SetData(SetDataRequest {
                path: key_path(s, k),
                data: Some(vec![b'v'; 32]),
                version: -1,
            });
            sent += 1;
            d.queue.push_back(Input::ClientRequest {
                conn,
                header: RequestHeader {
                    xid: sent as i32,
                    op: request.op(),
                },
                request: Box::new(request),
            });
        }
        times.extend(d.run());
    }
    let elapsed = started.elapsed();
    drop(d.snapshots);
    let bg = serializer.join().expect("serializer thread");

    times.sort_unstable();
    let mut snap = d.snapshot_steps.clone();
    snap.sort_unstable();
    println!("znodes:                       {znodes}");
    println!("writes / snapshot every:      {writes} / {every}");
    println!(
        "wall time:                    {:.0} ms ({:.0} writes/s)",
        ms(elapsed),
        writes as f64 / elapsed.as_secs_f64()
    );
    println!(
        "snapshot steps:               {} (median {:.3} ms, max {:.3} ms)",
        snap.len(),
        ms(pct(&snap, 0.5)),
        ms(pct(&snap, 1.0))
    );
    println!(
        "other steps:                  {} (p50 {:.4} ms, p99 {:.4} ms, p99.9 {:.4} ms, max {:.3} ms)",
        times.len(),
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.99)),
        ms(pct(&times, 0.999)),
        ms(pct(&times, 1.0))
    );
    let bg_total: Duration = bg.iter().map(|(t, _)| *t).sum();
    println!(
        "background serialize:         {} snapshots, mean {:.1} ms, {} bytes each",
        bg.len(),
        ms(bg_total / bg.len().max(1) as u32),
        bg.last().map_or(0, |(_, l)| *l)
    );
}
