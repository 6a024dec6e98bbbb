//! Group-commit measurement: records/s and `sync` (write + one fdatasync) latency for
//! batches of 1, 8 and 64 txns on a real file system, and the time to write a snapshot
//! (temp file, fsync, rename, dir fsync) of 1 and 16 MiB: the work the runtime must keep
//! off the commit path. Prints figures; asserts nothing.
//!
//! `cargo run --release -p arbor-net --example wal_bench [DIR]` (DIR defaults to a temp dir
//! under the current directory, so the figures are for the disk you run it on).

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use arbor_core::replica::LogRecord;
use arbor_core::txn::{Txn, TxnBody, TxnHeader};
use arbor_core::types::{Epoch, PersistToken, SessionId, WallMillis, Zxid};
use arbor_net::storage::{write_snapshot_file, FileStorage, Storage, StorageOptions};

fn txn(counter: u32) -> Txn {
    Txn {
        header: TxnHeader {
            session: SessionId(0x1234),
            cxid: counter as i32,
            zxid: Zxid::new(Epoch(1), counter),
            time: WallMillis(1_700_000_000_000),
        },
        // A typical small write: a set-data-sized payload.
        body: TxnBody::Check {
            path: format!("/bench/node-{:08}/{}", counter, "x".repeat(64)),
            version: counter as i32,
        },
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let base = std::env::args().nth(1).unwrap_or_else(|| ".".to_string());
    let dir = tempfile::tempdir_in(base).expect("temp dir");
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
}
