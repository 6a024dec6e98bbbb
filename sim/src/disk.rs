//! A simulated disk per node: one append-only stream of token-bearing effects (the storage
//! contract in `arbor_core::replica::io`) with a synced prefix.
//!
//! Inputs: `Persist` / `TruncateLog` / `InstallSnapshot` / `Snapshot` outputs, in output
//! order (`push`); fsync completions (`sync_through`); crashes (`crash`).
//! Outputs: the durable state as a [`Recovered`] for restart.
//!
//! Invariants: effects become durable strictly in output order; a crash drops exactly the
//! effects not yet synced; durable epochs only move forward (checked by `check::epochs`).

use std::collections::VecDeque;

use arbor_core::replica::{LogRecord, Recovered};
use arbor_core::txn::Txn;
use arbor_core::types::{Epoch, PersistToken, Zxid};

/// One effect written to the stream.
#[derive(Clone, Debug)]
pub enum Effect {
    /// `Persist`: records appended.
    Records(Vec<LogRecord>),
    /// `TruncateLog`: drop txns above the bound.
    Truncate(Zxid),
    /// `InstallSnapshot`: replace the snapshot and discard the log.
    Install(Zxid, Vec<u8>),
    /// `Snapshot`: compaction hint (no token), durable with the next sync that covers it.
    Snapshot(Zxid, Vec<u8>),
}

/// What the disk durably holds.
#[derive(Clone, Debug, Default)]
pub struct Durable {
    /// Last durable acceptedEpoch.
    pub accepted: Epoch,
    /// Last durable currentEpoch.
    pub current: Epoch,
    /// Newest durable snapshot.
    pub snapshot: Option<(Zxid, Vec<u8>)>,
    /// Durable log after the snapshot.
    pub log: Vec<Txn>,
}

/// The simulated disk of one node.
#[derive(Debug, Default)]
pub struct Disk {
    /// Durable state.
    pub durable: Durable,
    pending: VecDeque<(Option<PersistToken>, Effect)>,
    /// Effects lost to crashes (for reports).
    pub lost_effects: u64,
}

impl Disk {
    /// Appends an effect (not yet durable).
    pub fn push(&mut self, token: Option<PersistToken>, effect: Effect) {
        self.pending.push_back((token, effect));
    }

    /// An fsync completed: everything up to and including `token` is durable. Returns
    /// whether anything changed.
    pub fn sync_through(&mut self, token: PersistToken) -> bool {
        let Some(pos) = self.pending.iter().position(|(t, _)| *t == Some(token)) else {
            return false;
        };
        for (_, e) in self.pending.drain(..=pos) {
            apply(&mut self.durable, e);
        }
        true
    }

    /// A crash: everything not synced is lost.
    pub fn crash(&mut self) {
        self.crash_keeping(0, None);
    }

    /// Unsynced effects not yet reported durable.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// A crash in which the OS had already written the first `keep` unsynced effects, and
    /// `torn` records of the one after it (a torn last write); everything else is lost.
    pub fn crash_keeping(&mut self, keep: usize, torn: Option<usize>) {
        let keep = keep.min(self.pending.len());
        for (_, e) in self.pending.drain(..keep) {
            apply(&mut self.durable, e);
        }
        if let (Some(n), Some((_, Effect::Records(recs)))) = (torn, self.pending.pop_front()) {
            let part: Vec<LogRecord> = recs.into_iter().take(n).collect();
            apply(&mut self.durable, Effect::Records(part));
        }
        self.lost_effects += self.pending.len() as u64;
        self.pending.clear();
    }

    /// What a restart reads back.
    pub fn recovered(&self) -> Recovered {
        Recovered {
            accepted_epoch: self.durable.accepted,
            current_epoch: self.durable.current,
            snapshot: self.durable.snapshot.clone(),
            log: self.durable.log.clone(),
        }
    }
}

fn apply(d: &mut Durable, e: Effect) {
    match e {
        Effect::Records(recs) => {
            for r in recs {
                match r {
                    LogRecord::AcceptedEpoch(e) => d.accepted = e,
                    LogRecord::CurrentEpoch(e) => d.current = e,
                    LogRecord::Txn(t) => d.log.push(t),
                }
            }
        }
        Effect::Truncate(after) => d.log.retain(|t| t.header.zxid <= after),
        Effect::Install(z, data) => {
            d.snapshot = Some((z, data));
            d.log.clear();
        }
        Effect::Snapshot(z, data) => {
            if !matches!(&d.snapshot, Some((s, _)) if *s >= z) {
                d.snapshot = Some((z, data));
                d.log.retain(|t| t.header.zxid > z);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_loses_only_unsynced_effects() {
        let mut d = Disk::default();
        d.push(
            Some(PersistToken(1)),
            Effect::Records(vec![LogRecord::AcceptedEpoch(Epoch(1))]),
        );
        d.push(
            Some(PersistToken(2)),
            Effect::Records(vec![LogRecord::CurrentEpoch(Epoch(1))]),
        );
        assert!(d.sync_through(PersistToken(1)));
        d.crash();
        let r = d.recovered();
        assert_eq!(r.accepted_epoch, Epoch(1));
        assert_eq!(r.current_epoch, Epoch(0));
        assert!(!d.sync_through(PersistToken(2)));
    }

    #[test]
    fn crash_can_keep_a_prefix_and_tear_the_next_write() {
        let mut d = Disk::default();
        d.push(
            Some(PersistToken(1)),
            Effect::Records(vec![LogRecord::AcceptedEpoch(Epoch(1))]),
        );
        d.push(
            Some(PersistToken(2)),
            Effect::Records(vec![
                LogRecord::CurrentEpoch(Epoch(1)),
                LogRecord::AcceptedEpoch(Epoch(2)),
            ]),
        );
        d.crash_keeping(1, Some(1));
        let r = d.recovered();
        assert_eq!(r.accepted_epoch, Epoch(1));
        assert_eq!(r.current_epoch, Epoch(1));
        assert_eq!(d.pending_len(), 0);
    }
}
