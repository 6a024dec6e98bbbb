//! Criterion: the in-process commit path. Three `Replica`s wired in memory on one thread
//! (`arbor_benches::cluster::MemCluster`: no I/O, persist completions fed back at once), so
//! each figure is the CPU cost, summed over the whole ensemble, of:
//! - `setData_leader`: one setData (100 B) submitted on the leader, until its reply:
//!   proposal, two logs, acks, commit, apply on three trees, reply;
//! - `setData_follower`: the same submitted through a follower (forwarded to the leader);
//! - `setData_batch64`: 64 setData submitted at once on the leader (per-element figures
//!   show the amortised cost when proposals pipeline);
//! - `getData_leader` / `getData_follower`: one read answered from the local tree.
//!
//! Reports numbers only; nothing here asserts on time.

use std::hint::black_box;

use arbor_benches::cluster::MemCluster;
use arbor_core::proto::jute::{CreateRequest, PathWatchRequest, Request, SetDataRequest};
use arbor_core::types::{Acl, ConnId};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const KEYS: u32 = 1000;
const VALUE_LEN: usize = 100;

fn key(i: u32) -> String {
    format!("/bench/k{}", i % KEYS)
}

fn set(i: u32) -> Request {
    Request::SetData(SetDataRequest {
        path: key(i),
        data: Some(vec![b'x'; VALUE_LEN]),
        version: -1,
    })
}

fn get(i: u32) -> Request {
    Request::GetData(PathWatchRequest {
        path: key(i),
        watch: false,
    })
}

/// An elected 3-replica ensemble with `/bench/k0..k999` and one session on the leader
/// (conn 1) and one on a follower (conn 2). Returns (cluster, leader, follower).
fn fixture() -> (MemCluster, usize, usize) {
    let mut c = MemCluster::elect(3);
    let leader = c.leader().expect("elected");
    let follower = (leader + 1) % 3;
    c.connect(leader, ConnId(1));
    c.connect(follower, ConnId(2));
    let create = |path: String| {
        Request::Create(CreateRequest {
            path,
            data: Some(vec![b'x'; VALUE_LEN]),
            acl: Acl::open_unsafe(),
            flags: 0,
        })
    };
    c.request(leader, ConnId(1), create("/bench".into()));
    let mut replies = c.run();
    // In chunks: the core closes a connection with more than 1000 requests queued.
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(250) {
        for &i in chunk {
            c.request(leader, ConnId(1), create(key(i)));
        }
        replies.extend(c.run());
    }
    assert_eq!(replies.len(), KEYS as usize + 1);
    assert!(
        replies.iter().all(|r| r.header.err == 0),
        "fixture creates failed"
    );
    (c, leader, follower)
}

fn one(c: &mut MemCluster, at: usize, conn: ConnId, req: Request) {
    c.request(at, conn, req);
    let replies = c.run();
    assert_eq!(replies.len(), 1, "one reply per request");
    black_box(replies);
}

fn bench_commit(cr: &mut Criterion) {
    let (mut c, leader, follower) = fixture();
    let mut g = cr.benchmark_group("commit_3_replicas");
    let mut i = 0u32;
    g.throughput(Throughput::Elements(1));
    g.bench_function("setData_leader", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            one(&mut c, leader, ConnId(1), set(i));
        })
    });
    g.bench_function("setData_follower", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            one(&mut c, follower, ConnId(2), set(i));
        })
    });
    g.bench_function("getData_leader", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            one(&mut c, leader, ConnId(1), get(i));
        })
    });
    g.bench_function("getData_follower", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            one(&mut c, follower, ConnId(2), get(i));
        })
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("setData_batch64", |b| {
        b.iter(|| {
            for _ in 0..64 {
                i = i.wrapping_add(1);
                c.request(leader, ConnId(1), set(i));
            }
            let replies = c.run();
            assert_eq!(replies.len(), 64, "one reply per request");
            black_box(replies);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_commit);
criterion_main!(benches);
