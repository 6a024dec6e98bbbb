//! Criterion: the WAL commit path — frame encode / decode (CPU only) and group commit
//! (append a batch of 1, 8 or 64 txns, then one write + fdatasync) on a real file in a
//! temp dir under the current directory.
//!
//! Reports throughput only; nothing here asserts on time. Figures depend on the disk.

use std::hint::black_box;

use arbor_core::replica::LogRecord;
use arbor_core::txn::{Txn, TxnBody, TxnHeader};
use arbor_core::types::{Epoch, PersistToken, SessionId, WallMillis, Zxid};
use arbor_net::storage::{decode_frame, encode_frame, FileStorage, Storage, StorageOptions};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn txn(counter: u32) -> Txn {
    Txn::new(
        TxnHeader {
            session: SessionId(0x1234),
            cxid: counter as i32,
            zxid: Zxid::new(Epoch(1), counter),
            time: WallMillis(1_764_460_800_000),
        },
        TxnBody::Check {
            path: format!("/app/svc-{:05}/key-{:05}", counter % 100, counter),
            version: 3,
        },
    )
}

fn frames(c: &mut Criterion) {
    let t = txn(42);
    let mut frame = Vec::new();
    encode_frame(&t, &mut frame).expect("encodes");
    let mut g = c.benchmark_group("wal_frame");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            encode_frame(black_box(&t), &mut out).expect("encodes");
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| decode_frame(black_box(&frame)).expect("decodes"))
    });
    g.finish();
}

fn group_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(".").expect("temp dir");
    let mut s = FileStorage::open(StorageOptions::new(dir.path()))
        .expect("open")
        .storage;
    s.append(PersistToken(1), &[LogRecord::AcceptedEpoch(Epoch(1))])
        .expect("epoch");
    s.sync().expect("sync");
    let mut counter = 0u32;
    let mut token = 1u64;
    let mut g = c.benchmark_group("wal_group_commit");
    g.sample_size(10);
    for batch in [1u32, 8, 64] {
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("batch_{batch}"), |b| {
            b.iter_batched(
                || {
                    (0..batch)
                        .map(|_| {
                            counter += 1;
                            LogRecord::Txn(txn(counter))
                        })
                        .collect::<Vec<_>>()
                },
                |records| {
                    token += 1;
                    s.append(PersistToken(token), &records).expect("append");
                    s.sync().expect("sync")
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, frames, group_commit);
criterion_main!(benches);
