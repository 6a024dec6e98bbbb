//! Measurement, not a test: commit latency and write throughput of a 3-node loopback
//! ensemble of real `arbor serve` processes with fsync on (every WAL batch is fdatasync'ed).
//! Ignored by default; run in release:
//!
//! ```text
//! cargo test --release -p arbor --test ensemble_measure -- --ignored --nocapture
//! ```
//!
//! It prints (asserting nothing about speed): setData of 100 bytes, 1 client, 1 in flight,
//! through the leader and through a follower (p50 / p99 / max); then setData throughput for
//! several client counts, each with 1 and with 16 requests in flight.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbor_core::proto::jute::{Request, SetDataRequest};
use common::{Cluster, RawClient};

const SESSION_MS: i32 = 10_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn latency(addr: SocketAddr, path: &str, n: usize) -> Vec<Duration> {
    let mut c = RawClient::connect(addr, SESSION_MS).expect("connect");
    let data = vec![b'x'; 100];
    for _ in 0..50 {
        assert_eq!(c.set(path, &data).expect("warm-up set"), 0);
    }
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(c.set(path, &data).expect("set"), 0);
            t.elapsed()
        })
        .collect();
    v.sort();
    v
}

/// Acknowledged setData per second with `clients` sessions spread over `addrs`, each
/// keeping `depth` requests in flight, for `run`; and how many sessions the server closed
/// (none expected: beyond `proposals_inflight_max` the leader queues writes, and servers
/// throttle by pausing reads instead of closing connections).
fn throughput(addrs: &[SocketAddr], clients: usize, depth: usize, run: Duration) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|k| {
            let addr = addrs[k % addrs.len()];
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(addr, SESSION_MS).expect("connect");
                let path = format!("/tp-{clients}x{depth}-{k}");
                assert_eq!(c.create(&path, b"").expect("create"), 0);
                let req = Request::SetData(SetDataRequest {
                    path,
                    data: Some(vec![b'y'; 100]),
                    version: -1,
                });
                let op = req.op();
                let mut inflight = 0;
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    while inflight < depth {
                        if c.send(&req).is_err() {
                            return (done, 1);
                        }
                        inflight += 1;
                    }
                    let Ok(r) = c.recv(op) else {
                        return (done, 1);
                    };
                    assert_eq!(r.header.err, 0);
                    inflight -= 1;
                    done += 1;
                }
                for _ in 0..inflight {
                    if c.recv(op).is_err() {
                        return (done, 1);
                    }
                }
                (done, 0)
            })
        })
        .collect();
    let t = Instant::now();
    std::thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    let (mut total, mut closed) = (0, 0);
    for h in threads {
        let (d, c) = h.join().expect("client");
        total += d;
        closed += c;
    }
    (total as f64 / t.elapsed().as_secs_f64(), closed)
}

#[test]
#[ignore = "measurement: run with --ignored --nocapture, in release"]
#[allow(clippy::print_stderr)]
fn measure_commit_latency_and_throughput() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(Duration::from_secs(20));
    let follower = (leader + 1) % 3;
    let mut setup = RawClient::connect(c.nodes[leader].client, SESSION_MS).expect("connect");
    assert_eq!(setup.create("/lat", b"").expect("create"), 0);
    for (name, ix) in [("leader", leader), ("follower", follower)] {
        let v = latency(c.nodes[ix].client, "/lat", 2000);
        eprintln!(
            "setData 100 B, 1 client, 1 in flight, via {name}: p50 {:?} p99 {:?} max {:?} ({} ops)",
            percentile(&v, 0.50),
            percentile(&v, 0.99),
            v[v.len() - 1],
            v.len()
        );
    }
    let addrs: Vec<SocketAddr> = c.nodes.iter().map(|n| n.client).collect();
    for clients in [1, 4, 16, 64] {
        for depth in [1, 16] {
            let (ops, closed) = throughput(&addrs, clients, depth, Duration::from_secs(3));
            eprintln!(
                "setData 100 B throughput: {clients} clients x {depth} in flight: {ops:.0} ops/s \
                 ({closed} sessions closed by the server)"
            );
        }
    }
}
