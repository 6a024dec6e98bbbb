//! A simulated disk per node: one append-only stream of token-bearing effects (the storage
//! contract in `arbor_core::replica::io`) with a synced prefix, and checksummed storage that
//! can be damaged.
//!
//! Inputs: `Persist` / `TruncateLog` / `InstallSnapshot` / `Snapshot` outputs, in output
//! order (`push`); fsync completions (`sync_through`); crashes (`crash`, `crash_keeping`,
//! `crash_tearing`); storage faults (`flip_bit`, `misdirect_last`).
//! Outputs: the durable state as a [`Recovered`] at restart (`recover`).
//!
//! Storage format: every logged txn is stored as its postcard bytes plus a CRC32C over the
//! record's *slot number* and those bytes (the slot is the record's position in the log
//! since the disk was new, as a file offset would be). The snapshot is stored with a CRC32C
//! over its zxid and bytes. So a flipped bit, a torn record and a record written to the
//! wrong slot (a misdirected write) all fail their checksum at recovery. The epochs, the
//! damage marker and `logged_max` (the highest txn zxid ever durably logged, a redundant copy
//! as a real runtime would keep it next to the epochs) model small, separately written files
//! that these faults do not touch.
//!
//! Recovery (`recover`): the snapshot and each record are verified in order; at the first
//! failure the rest of the log is discarded (a damaged snapshot discards the log too, which
//! only continues it), the damage marker is made durable *first* with the bound
//! `max(logged_max, old marker)`, and the `Recovered` reports it. `Detection::Off` is the
//! mutation that skips the checksums (`Mutation::NoChecksums`).
//!
//! Invariants: effects become durable strictly in output order; a crash drops exactly the
//! effects not yet synced (or, with `crash_keeping` / `crash_tearing`, a prefix of them
//! survives); durable epochs only move forward (checked by `check::epochs`).

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

/// A txn record as stored: what was meant to be written (`zxid`, for the simulator's own
/// bookkeeping only, never read by recovery), its bytes and its checksum.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The zxid of the txn that was written here (simulator bookkeeping).
    pub zxid: Zxid,
    content: Content,
}

/// A record's bytes, made only when something needs them.
///
/// A record no fault has touched holds exactly `postcard(txn)` with the checksum of its
/// own slot, so it is kept as the txn until a fault damages it (then its bytes and
/// checksum are made as they would have been written, and the fault applies to them) or
/// recovery reads it (which encodes and decodes it as it would have read the bytes). Most
/// records are never damaged nor read back, so the encoding and checksum are paid by the
/// few that are, not by every write.
#[derive(Clone, Debug)]
enum Content {
    Intact(Txn),
    Raw { bytes: Vec<u8>, crc: u32 },
}

impl Stored {
    fn intact(t: Txn) -> Stored {
        Stored {
            zxid: t.header.zxid,
            content: Content::Intact(t),
        }
    }

    /// The record's bytes and checksum, made from the txn if it was intact (`slot` is its
    /// own slot: the one its checksum was computed for when written).
    fn raw(&mut self, slot: u64) -> (&mut Vec<u8>, &mut u32) {
        if let Content::Intact(t) = &self.content {
            let bytes = encode(t);
            let crc = record_crc(slot, &bytes);
            self.content = Content::Raw { bytes, crc };
        }
        match &mut self.content {
            Content::Raw { bytes, crc } => (bytes, crc),
            Content::Intact(_) => unreachable!("made raw above"),
        }
    }
}

/// The stored snapshot.
#[derive(Clone, Debug)]
pub struct StoredSnapshot {
    /// Last zxid the snapshot contains.
    pub zxid: Zxid,
    bytes: Vec<u8>,
    crc: u32,
}

/// What the disk durably holds.
#[derive(Clone, Debug, Default)]
pub struct Durable {
    /// Last durable acceptedEpoch.
    pub accepted: Epoch,
    /// Last durable currentEpoch.
    pub current: Epoch,
    /// The damage marker (`LogRecord::Damaged`).
    pub damaged: Option<Zxid>,
    /// Highest txn zxid ever durably logged (redundant copy, never damaged).
    pub logged_max: Zxid,
    /// Newest durable snapshot.
    pub snapshot: Option<StoredSnapshot>,
    /// Durable log after the snapshot; `log[i]` sits in slot `first_slot + i`.
    pub log: Vec<Stored>,
    first_slot: u64,
}

impl Durable {
    /// The zxid of the last txn written to the log (simulator bookkeeping).
    pub fn last_txn_zxid(&self) -> Option<Zxid> {
        self.log.last().map(|s| s.zxid)
    }
}

/// Whether recovery verifies checksums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// Normal: checksums are verified.
    On,
    /// Mutation: checksums are ignored; a record that does not decode ends the log (as a
    /// naive torn-tail rule would), and no damage is ever reported.
    Off,
}

/// Where a bit flip lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlipTarget {
    /// The `i`-th durable log record.
    Record(usize),
    /// The snapshot.
    Snapshot,
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

    /// Records in the first unsynced effect, if it is a `Persist` of txns (the candidate for
    /// a torn write).
    pub fn next_txn_records(&self) -> usize {
        match self.pending.front() {
            Some((_, Effect::Records(recs))) => recs
                .iter()
                .filter(|r| matches!(r, LogRecord::Txn(_)))
                .count(),
            _ => 0,
        }
    }

    /// A crash in which the OS had already written the first `keep` unsynced effects, and
    /// `torn` records of the one after it (whole records); everything else is lost.
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

    /// A crash that tears the first unsynced write: its first `whole` txn records reached
    /// the disk, then only `part_num / part_den` of the next record's bytes (a damaged
    /// record). Needs `next_txn_records() > whole`. Returns whether a record was torn.
    pub fn crash_tearing(&mut self, whole: usize, part_num: usize, part_den: usize) -> bool {
        let Some((_, Effect::Records(recs))) = self.pending.pop_front() else {
            self.crash();
            return false;
        };
        let txns: Vec<Txn> = recs
            .into_iter()
            .filter_map(|r| match r {
                LogRecord::Txn(t) => Some(t),
                _ => None, // epochs / marker of a torn write: not written
            })
            .collect();
        let torn = txns.get(whole).cloned();
        apply(
            &mut self.durable,
            Effect::Records(txns.into_iter().take(whole).map(LogRecord::Txn).collect()),
        );
        let done = if let Some(t) = torn {
            let d = &mut self.durable;
            let slot = d.first_slot + d.log.len() as u64;
            d.logged_max = d.logged_max.max(t.header.zxid);
            let mut s = Stored::intact(t);
            let (bytes, _) = s.raw(slot);
            let keep = bytes.len() * part_num / part_den.max(1);
            bytes.truncate(keep.min(bytes.len().saturating_sub(1)));
            d.log.push(s);
            true
        } else {
            false
        };
        self.lost_effects += self.pending.len() as u64;
        self.pending.clear();
        done
    }

    /// Flips bit `bit` (modulo the length) of a durable record or of the snapshot. Returns
    /// whether there was something to flip.
    pub fn flip_bit(&mut self, target: FlipTarget, bit: usize) -> bool {
        let first_slot = self.durable.first_slot;
        let bytes = match target {
            FlipTarget::Record(i) => match self.durable.log.get_mut(i) {
                Some(s) => s.raw(first_slot + i as u64).0,
                None => return false,
            },
            FlipTarget::Snapshot => match self.durable.snapshot.as_mut() {
                Some(s) => &mut s.bytes,
                None => return false,
            },
        };
        if bytes.is_empty() {
            return false;
        }
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        true
    }

    /// A misdirected write: the last durable record had in fact landed in the slot of
    /// record `to` (overwriting it), and its own slot kept stale bytes. Returns whether
    /// anything changed (`to` must be an earlier record).
    pub fn misdirect_last(&mut self, to: usize) -> bool {
        let log = &mut self.durable.log;
        let Some(last) = log.len().checked_sub(1) else {
            return false;
        };
        if to >= last {
            return false;
        }
        let first_slot = self.durable.first_slot;
        let (bytes, crc) = log[last].raw(first_slot + last as u64);
        let moved = Content::Raw {
            bytes: bytes.clone(),
            crc: *crc,
        };
        *bytes = vec![0; bytes.len()];
        *crc = 0;
        log[to].content = moved;
        true
    }

    /// Whether durable storage holds damage recovery would find, or a damage marker.
    pub fn is_damaged(&self) -> bool {
        self.durable.damaged.is_some() || self.scan(Detection::On, false).damage_at.is_some()
    }

    /// What a restart reads back. With damage detected, the damage marker is made durable
    /// and then the damaged records are removed (in that order, as a driver must).
    pub fn recover(&mut self, detection: Detection) -> Recovered {
        let scan = self.scan(detection, true);
        let d = &mut self.durable;
        let mut damaged = d.damaged;
        if let Some(at) = scan.damage_at {
            let bound = d.logged_max.max(d.damaged.unwrap_or(Zxid::ZERO));
            d.damaged = Some(bound);
            damaged = Some(bound);
            if scan.snapshot_damaged {
                d.snapshot = None;
            }
            d.log.truncate(at);
        } else if let Some(end) = scan.end {
            // Detection off: the undecodable tail is dropped like a torn tail.
            d.log.truncate(end);
        }
        Recovered {
            accepted_epoch: d.accepted,
            current_epoch: d.current,
            snapshot: scan.snapshot,
            log: scan.log,
            damaged,
        }
    }

    /// Verifies (and with `read`, decodes) the durable state as recovery reads it. Without
    /// `read`, records kept intact are skipped: they cannot be damaged.
    fn scan(&self, detection: Detection, read: bool) -> Scan {
        let d = &self.durable;
        let check = detection == Detection::On;
        let mut out = Scan::default();
        if let Some(s) = &d.snapshot {
            if check && s.crc != snapshot_crc(s.zxid, &s.bytes) {
                out.snapshot_damaged = true;
                out.damage_at = Some(0);
                return out;
            }
            out.snapshot = Some((s.zxid, s.bytes.clone()));
        }
        for (i, s) in d.log.iter().enumerate() {
            let slot = d.first_slot + i as u64;
            let encoded;
            let bytes = match &s.content {
                Content::Intact(_) if !read => continue,
                // The bytes that were written, with the checksum of their own slot.
                Content::Intact(t) => {
                    encoded = encode(t);
                    &encoded
                }
                Content::Raw { bytes, crc } => {
                    if check && *crc != record_crc(slot, bytes) {
                        out.damage_at = Some(i);
                        return out;
                    }
                    bytes
                }
            };
            match postcard::from_bytes::<Txn>(bytes) {
                Ok(t) => out.log.push(t),
                Err(_) if check => {
                    // A record whose checksum matches but does not decode: a bug in the
                    // writer, reported as damage all the same.
                    out.damage_at = Some(i);
                    return out;
                }
                Err(_) => {
                    out.end = Some(i);
                    return out;
                }
            }
        }
        out
    }
}

#[derive(Default)]
struct Scan {
    snapshot: Option<(Zxid, Vec<u8>)>,
    log: Vec<Txn>,
    damage_at: Option<usize>,
    snapshot_damaged: bool,
    end: Option<usize>,
}

fn record_crc(slot: u64, bytes: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&slot.to_le_bytes()), bytes)
}

fn snapshot_crc(zxid: Zxid, bytes: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&zxid.0.to_le_bytes()), bytes)
}

/// A txn's record bytes (postcard).
fn encode(t: &Txn) -> Vec<u8> {
    // Serializing our own txn into a Vec cannot fail.
    // Sized for a typical txn up front: growing from empty reallocated four or five times.
    postcard::to_extend(t, Vec::with_capacity(TXN_BYTES_GUESS)).expect("txn encodes")
}

fn stored_snapshot(zxid: Zxid, bytes: Vec<u8>) -> StoredSnapshot {
    StoredSnapshot {
        zxid,
        crc: snapshot_crc(zxid, &bytes),
        bytes,
    }
}

fn apply(d: &mut Durable, e: Effect) {
    match e {
        Effect::Records(recs) => {
            for r in recs {
                match r {
                    LogRecord::AcceptedEpoch(e) => d.accepted = e,
                    LogRecord::CurrentEpoch(e) => d.current = e,
                    LogRecord::Damaged(b) => d.damaged = b,
                    LogRecord::Txn(t) => {
                        d.logged_max = d.logged_max.max(t.header.zxid);
                        d.log.push(Stored::intact(t));
                    }
                }
            }
        }
        Effect::Truncate(after) => {
            let keep = d.log.iter().take_while(|s| s.zxid <= after).count();
            d.log.truncate(keep);
        }
        Effect::Install(z, data) => {
            d.snapshot = Some(stored_snapshot(z, data));
            d.first_slot += d.log.len() as u64;
            d.log.clear();
        }
        Effect::Snapshot(z, data) => {
            if !matches!(&d.snapshot, Some(s) if s.zxid >= z) {
                d.snapshot = Some(stored_snapshot(z, data));
                let drop = d.log.iter().take_while(|s| s.zxid <= z).count();
                d.log.drain(..drop);
                d.first_slot += drop as u64;
            }
        }
    }
}

/// Initial buffer of an encoded txn (header, path, small data).
const TXN_BYTES_GUESS: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_core::txn::{TxnBody, TxnHeader};
    use arbor_core::types::{SessionId, WallMillis};

    fn txn(e: u32, c: u32) -> LogRecord {
        let zxid = Zxid::new(Epoch(e), c);
        LogRecord::Txn(Txn::new(
            TxnHeader {
                session: SessionId(1),
                cxid: c as i32,
                zxid,
                time: WallMillis(0),
            },
            TxnBody::CloseSession {
                session: SessionId(1),
                ephemerals: vec!["/e".to_string()],
            },
        ))
    }

    fn disk_with(n: u32) -> Disk {
        let mut d = Disk::default();
        d.push(
            Some(PersistToken(1)),
            Effect::Records(vec![
                LogRecord::AcceptedEpoch(Epoch(1)),
                LogRecord::CurrentEpoch(Epoch(1)),
            ]),
        );
        d.push(
            Some(PersistToken(2)),
            Effect::Records((1..=n).map(|c| txn(1, c)).collect()),
        );
        assert!(d.sync_through(PersistToken(2)));
        d
    }

    fn zxids(r: &Recovered) -> Vec<u32> {
        r.log.iter().map(|t| t.header.zxid.counter()).collect()
    }

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
        let r = d.recover(Detection::On);
        assert_eq!(r.accepted_epoch, Epoch(1));
        assert_eq!(r.current_epoch, Epoch(0));
        assert_eq!(r.damaged, None);
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
        let r = d.recover(Detection::On);
        assert_eq!(r.accepted_epoch, Epoch(1));
        assert_eq!(r.current_epoch, Epoch(1));
        assert_eq!(d.pending_len(), 0);
    }

    #[test]
    fn intact_log_recovers_everything() {
        let mut d = disk_with(4);
        let r = d.recover(Detection::On);
        assert_eq!(zxids(&r), vec![1, 2, 3, 4]);
        assert_eq!(r.damaged, None);
        assert!(!d.is_damaged());
    }

    #[test]
    fn bit_flip_is_detected_and_cuts_the_log_with_a_durable_marker() {
        let mut d = disk_with(4);
        assert!(d.flip_bit(FlipTarget::Record(2), 13));
        assert!(d.is_damaged());
        let r = d.recover(Detection::On);
        assert_eq!(zxids(&r), vec![1, 2]);
        assert_eq!(r.damaged, Some(Zxid::new(Epoch(1), 4)));
        assert_eq!(d.durable.damaged, Some(Zxid::new(Epoch(1), 4)));
        assert_eq!(d.durable.log.len(), 2, "damaged records removed");
        // The marker survives the next restart although the log now looks intact.
        let r = d.recover(Detection::On);
        assert_eq!(r.damaged, Some(Zxid::new(Epoch(1), 4)));
    }

    #[test]
    fn torn_record_is_detected() {
        let mut d = disk_with(2);
        d.push(
            Some(PersistToken(3)),
            Effect::Records(vec![txn(1, 3), txn(1, 4)]),
        );
        assert_eq!(d.next_txn_records(), 2);
        assert!(d.crash_tearing(1, 1, 2));
        let r = d.recover(Detection::On);
        assert_eq!(zxids(&r), vec![1, 2, 3]);
        assert_eq!(r.damaged, Some(Zxid::new(Epoch(1), 4)));
    }

    #[test]
    fn misdirected_write_is_detected_by_slot_checksum() {
        let mut d = disk_with(4);
        assert!(d.misdirect_last(1));
        let r = d.recover(Detection::On);
        assert_eq!(zxids(&r), vec![1]);
        assert!(r.damaged.is_some());
    }

    #[test]
    fn without_checksums_a_misdirected_record_is_read_as_valid() {
        let mut d = disk_with(4);
        assert!(d.misdirect_last(1));
        let r = d.recover(Detection::Off);
        // Slot 1 now holds txn 4 (out of order), slot 3 stale bytes: nothing reports damage.
        assert_eq!(zxids(&r)[..3], [1, 4, 3]);
        assert_eq!(r.damaged, None);
    }

    #[test]
    fn damaged_snapshot_discards_snapshot_and_log() {
        let mut d = disk_with(3);
        d.push(
            None,
            Effect::Snapshot(Zxid::new(Epoch(1), 2), vec![1, 2, 3]),
        );
        d.push(Some(PersistToken(3)), Effect::Records(vec![txn(1, 4)]));
        assert!(d.sync_through(PersistToken(3)));
        assert_eq!(d.durable.log.len(), 2);
        assert!(d.flip_bit(FlipTarget::Snapshot, 3));
        let r = d.recover(Detection::On);
        assert!(r.snapshot.is_none());
        assert!(r.log.is_empty());
        assert_eq!(r.damaged, Some(Zxid::new(Epoch(1), 4)));
    }

    #[test]
    fn slots_survive_compaction_and_truncation() {
        let mut d = disk_with(3);
        d.push(None, Effect::Snapshot(Zxid::new(Epoch(1), 2), vec![9]));
        d.push(
            Some(PersistToken(3)),
            Effect::Truncate(Zxid::new(Epoch(1), 3)),
        );
        d.push(
            Some(PersistToken(4)),
            Effect::Records(vec![txn(1, 4), txn(1, 5)]),
        );
        assert!(d.sync_through(PersistToken(4)));
        let r = d.recover(Detection::On);
        assert_eq!(zxids(&r), vec![3, 4, 5]);
        assert_eq!(r.damaged, None);
    }
}
