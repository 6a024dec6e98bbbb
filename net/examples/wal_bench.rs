//! Group-commit measurement: records/s and `sync` (write + one fdatasync) latency for
//! batches of 1, 8 and 64 txns on a real file system, and the time to write a snapshot
//! (temp file, fsync, rename, dir fsync) of 1 and 16 MiB: the work the runtime must keep
//! off the commit path. Then preallocation A/B: single-record commits alternated one by one
//! between a storage with `preallocate_bytes` 0 (every fdatasync also commits the grown
//! size) and one with the default chunk (fdatasync into written zeros), so that both see the
//! same disk moods; and the cost of the commits that extend the zeros by a chunk. Prints
//! figures; asserts nothing.
//!
//! `cargo run --release -p arbor-net --example wal_bench [DIR [prealloc]]` (DIR defaults to a
//! temp dir under the current directory, so the figures are for the disk you run it on;
//! `prealloc` runs only the preallocation part).

#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use arbor_core::replica::LogRecord;
use arbor_core::txn::{Txn, TxnBody, TxnHeader};
use arbor_core::types::{Epoch, PersistToken, SessionId, WallMillis, Zxid};
use arbor_net::storage::{write_snapshot_file, FileStorage, Storage, StorageOptions};

fn txn(counter: u32) -> Txn {
    Txn::new(
        TxnHeader {
            session: SessionId(0x1234),
            cxid: counter as i32,
            zxid: Zxid::new(Epoch(1), counter),
            time: WallMillis(1_700_000_000_000),
        },
        // A typical small write: a set-data-sized payload.
        TxnBody::Check {
            path: format!("/bench/node-{:08}/{}", counter, "x".repeat(64)),
            version: counter as i32,
        },
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn open_with(dir: &Path, preallocate_bytes: u64) -> FileStorage {
    let mut s = FileStorage::open(StorageOptions {
        preallocate_bytes,
        ..StorageOptions::new(dir)
    })
    .expect("open")
    .storage;
    s.append(PersistToken(1), &[LogRecord::AcceptedEpoch(Epoch(1))])
        .expect("epoch");
    s.sync().expect("sync");
    s
}

/// One synced commit of `records` consecutive txns after `counter`: its latency.
fn commit(s: &mut FileStorage, counter: &mut u32, records: usize) -> Duration {
    let batch: Vec<LogRecord> = (0..records)
        .map(|_| {
            *counter += 1;
            LogRecord::Txn(txn(*counter))
        })
        .collect();
    s.append(PersistToken(u64::from(*counter) + 1), &batch)
        .expect("append");
    let t = Instant::now();
    s.sync().expect("sync").expect("a token");
    t.elapsed()
}

fn us(d: Duration) -> u128 {
    d.as_micros()
}

fn preallocation_ab(base: &str) {
    const ROUNDS: usize = 3_000;
    let dirs = [
        tempfile::tempdir_in(base).expect("temp dir"),
        tempfile::tempdir_in(base).expect("temp dir"),
    ];
    let chunk = StorageOptions::PREALLOCATE_BYTES_DEFAULT;
    let mut stores = [
        open_with(dirs[0].path(), 0),
        open_with(dirs[1].path(), chunk),
    ];
    let mut counters = [0u32, 0u32];
    let mut lat: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither always follows the other's sync.
        for k in [round % 2, 1 - round % 2] {
            let d = commit(&mut stores[k], &mut counters[k], 1);
            lat[k].push(d);
        }
    }
    println!("preallocate_bytes  commits  sync_p50_us  sync_p90_us  sync_p99_us  sync_max_us");
    for (k, name) in [(0, "0 (off)".to_string()), (1, format!("{chunk}"))] {
        let l = &mut lat[k];
        l.sort();
        println!(
            "{name:>17}  {:>7}  {:>11}  {:>11}  {:>11}  {:>11}",
            l.len(),
            us(percentile(l, 0.50)),
            us(percentile(l, 0.90)),
            us(percentile(l, 0.99)),
            us(*l.last().expect("non-empty"))
        );
    }
    drop(stores);

    // The commits that extend the zeros, per chunk size: batches of 16 records until 8
    // extensions were seen.
    println!("chunk_bytes  commit (16 records)     count  p50_us  max_us");
    for chunk in [256 * 1024, chunk, 4 * chunk] {
        let dir = tempfile::tempdir_in(base).expect("temp dir");
        let mut s = open_with(dir.path(), chunk);
        let mut counter = 0u32;
        let (mut ext, mut plain) = (Vec::new(), Vec::new());
        let seg_len = |s: &FileStorage| {
            s.segments()
                .last()
                .map_or(0, |p| std::fs::metadata(p).expect("stat segment").len())
        };
        while ext.len() < 8 {
            let before = seg_len(&s);
            let d = commit(&mut s, &mut counter, 16);
            if seg_len(&s) > before {
                ext.push(d);
            } else {
                plain.push(d);
            }
        }
        ext.sort();
        plain.sort();
        for (name, l) in [("extends by a chunk", &ext), ("inside the zeros", &plain)] {
            println!(
                "{chunk:>11}  {name:<22}  {:>5}  {:>6}  {:>6}",
                l.len(),
                us(percentile(l, 0.50)),
                us(*l.last().expect("non-empty"))
            );
        }
    }
}

fn main() {
    let base = std::env::args().nth(1).unwrap_or_else(|| ".".to_string());
    if std::env::args().nth(2).as_deref() == Some("prealloc") {
        preallocation_ab(&base);
        return;
    }
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let mut s = FileStorage::open(StorageOptions::new(dir.path()))
        .expect("open")
        .storage;
    s.append(PersistToken(1), &[LogRecord::AcceptedEpoch(Epoch(1))])
        .expect("epoch");
    s.sync().expect("sync");
    let mut counter = 0u32;
    let mut token = 1u64;
    println!("batch  batches  records/s  sync_p50_us  sync_p99_us  sync_max_us");
    for (batch, batches) in [(1usize, 400usize), (8, 300), (64, 150)] {
        let mut lat = Vec::with_capacity(batches);
        let start = Instant::now();
        for _ in 0..batches {
            let records: Vec<LogRecord> = (0..batch)
                .map(|_| {
                    counter += 1;
                    LogRecord::Txn(txn(counter))
                })
                .collect();
            token += 1;
            s.append(PersistToken(token), &records).expect("append");
            let t = Instant::now();
            let got = s.sync().expect("sync");
            lat.push(t.elapsed());
            assert_eq!(got, Some(PersistToken(token)));
        }
        let total = start.elapsed();
        lat.sort();
        let rps = (batch * batches) as f64 / total.as_secs_f64();
        println!(
            "{batch:>5}  {batches:>7}  {rps:>9.0}  {:>11}  {:>11}  {:>11}",
            percentile(&lat, 0.50).as_micros(),
            percentile(&lat, 0.99).as_micros(),
            lat.last().expect("non-empty").as_micros()
        );
    }
    println!("snapshot_mib  write_ms");
    for mib in [1usize, 16] {
        let data = vec![0x5a; mib << 20];
        let t = Instant::now();
        write_snapshot_file(dir.path(), Zxid::new(Epoch(1), mib as u32), &data).expect("snapshot");
        println!("{mib:>12}  {:>8.1}", t.elapsed().as_secs_f64() * 1e3);
    }
    preallocation_ab(&base);
}
