//! Model-based property test: random sequences of appends, syncs, truncations, snapshots,
//! installs, purges and crashes against `FileStorage` on real files; after every crash the
//! recovered state must contain everything synced and nothing that was never appended.

mod common;

use arbor_core::replica::LogRecord;
use arbor_core::txn::Txn;
use arbor_core::types::{Epoch, PersistToken, Zxid};
use arbor_net::storage::{FileStorage, Storage, StorageOptions};
use common::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Append {
        n: u32,
        new_epoch: bool,
    },
    Crash,
    /// A crash after the kernel wrote part of the unsynced frames.
    TornCrash {
        bytes: usize,
    },
    Install {
        jump: u32,
    },
    Purge {
        retain: usize,
    },
    Snapshot,
    Sync,
    Truncate {
        back: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u32..5, prop::bool::weighted(0.15)).prop_map(|(n, new_epoch)| Op::Append { n, new_epoch }),
        1 => Just(Op::Crash),
        1 => (0usize..400).prop_map(|bytes| Op::TornCrash { bytes }),
        1 => (1u32..4).prop_map(|jump| Op::Install { jump }),
        1 => (1usize..4).prop_map(|retain| Op::Purge { retain }),
        2 => Just(Op::Snapshot),
        4 => Just(Op::Sync),
        1 => (0usize..6).prop_map(|back| Op::Truncate { back }),
    ]
}

#[derive(Debug, Default)]
struct Model {
    durable: Vec<Txn>,
    pending: Vec<Txn>,
    snapshots: Vec<Zxid>,
    epoch: u32,
}

impl Model {
    fn newest_snapshot(&self) -> Zxid {
        self.snapshots.last().copied().unwrap_or(Zxid::ZERO)
    }

    fn last(&self) -> Zxid {
        let logged = self
            .pending
            .last()
            .or(self.durable.last())
            .map_or(Zxid::ZERO, |t| t.header.zxid);
        logged.max(self.newest_snapshot())
    }

    fn sync_all(&mut self) {
        self.durable.append(&mut self.pending);
    }
}

fn snap_data(z: Zxid) -> Vec<u8> {
    format!("tree@{z}").into_bytes()
}

fn options(dir: &std::path::Path) -> StorageOptions {
    StorageOptions {
        segment_bytes_max: 300,
        ..StorageOptions::new(dir)
    }
}

/// Crash (drop without sync), reopen, check, and adopt what was recovered.
fn crash_and_check(
    dir: &std::path::Path,
    s: FileStorage,
    torn_bytes: usize,
    m: &mut Model,
) -> FileStorage {
    s.simulate_crash(torn_bytes);
    let o = FileStorage::open(options(dir)).expect("recovery after a crash");
    assert_eq!(o.recovered.accepted_epoch, Epoch(m.epoch));
    let base = m.newest_snapshot();
    let want_snap = m.snapshots.last().map(|z| (*z, snap_data(*z)));
    assert_eq!(o.recovered.snapshot, want_snap);
    let durable: Vec<&Txn> = m.durable.iter().filter(|t| t.header.zxid > base).collect();
    let possible: Vec<&Txn> = m
        .durable
        .iter()
        .chain(&m.pending)
        .filter(|t| t.header.zxid > base)
        .collect();
    let got: Vec<&Txn> = o.recovered.log.iter().collect();
    assert!(
        got.len() >= durable.len() && got.len() <= possible.len(),
        "recovered {} txns, synced {}, appended {}",
        got.len(),
        durable.len(),
        possible.len()
    );
    assert_eq!(got[..], possible[..got.len()], "recovered a wrong record");
    // Adopt: unsynced appends that survived are durable now, the rest is gone.
    let keep = m.durable.len() + (got.len() - durable.len());
    let mut all: Vec<Txn> = m.durable.drain(..).chain(m.pending.drain(..)).collect();
    all.truncate(keep);
    m.durable = all;
    o.storage
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = FileStorage::open(options(dir.path())).unwrap().storage;
    let mut m = Model {
        epoch: 1,
        ..Model::default()
    };
    let mut token = 0u64;
    let mut next_token = || {
        token += 1;
        PersistToken(token)
    };
    s.append(next_token(), &[LogRecord::AcceptedEpoch(Epoch(1))])
        .unwrap();
    s.sync().unwrap();
    for op in ops {
        match op {
            Op::Append { n, new_epoch } => {
                let mut records = Vec::new();
                let mut last = m.last();
                if new_epoch {
                    m.epoch += 1;
                    records.push(LogRecord::AcceptedEpoch(Epoch(m.epoch)));
                    // Writing an epoch makes everything before it durable.
                    m.sync_all();
                    last = z(m.epoch, 0);
                }
                for i in 0..n {
                    let zx = if last.epoch().0 == m.epoch {
                        z(m.epoch, last.counter() + 1)
                    } else {
                        z(m.epoch, 1)
                    };
                    let t = txn(zx, i);
                    m.pending.push(t.clone());
                    records.push(LogRecord::Txn(t));
                    last = zx;
                }
                s.append(next_token(), &records).unwrap();
            }
            Op::Crash => s = crash_and_check(dir.path(), s, 0, &mut m),
            Op::TornCrash { bytes } => s = crash_and_check(dir.path(), s, bytes, &mut m),
            Op::Install { jump } => {
                let last = m.last();
                let zx = if last.epoch().0 == m.epoch {
                    z(m.epoch, last.counter() + jump)
                } else {
                    z(m.epoch, jump)
                };
                s.install_snapshot(next_token(), zx, &snap_data(zx))
                    .unwrap();
                m.durable.clear();
                m.pending.clear();
                m.snapshots = vec![zx];
            }
            Op::Purge { retain } => {
                s.purge(retain).unwrap();
                let n = m.snapshots.len();
                if n > retain {
                    m.snapshots.drain(..n - retain);
                }
            }
            Op::Snapshot => {
                let Some(t) = m.durable.last() else { continue };
                let zx = t.header.zxid;
                if zx <= m.newest_snapshot() {
                    continue;
                }
                s.save_snapshot(zx, &snap_data(zx)).unwrap();
                m.snapshots.push(zx);
            }
            Op::Sync => {
                let had = !m.pending.is_empty();
                let got = s.sync().unwrap();
                if had {
                    assert!(got.is_some(), "pending appends but no token reported");
                }
                m.sync_all();
            }
            Op::Truncate { back } => {
                let mut all: Vec<Txn> = m.durable.drain(..).chain(m.pending.drain(..)).collect();
                let floor = m.newest_snapshot();
                let after = all
                    .len()
                    .checked_sub(1 + back)
                    .map(|i| all[i].header.zxid)
                    .unwrap_or(floor)
                    .max(floor);
                s.truncate_log(next_token(), after).unwrap();
                all.retain(|t| t.header.zxid <= after);
                m.durable = all;
            }
        }
        s.check_invariants();
    }
    crash_and_check(dir.path(), s, 0, &mut m);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn recover_matches_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
