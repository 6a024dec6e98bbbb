//! [`History`]: the replica's transaction history — the applied tree, the in-memory log of
//! logged transactions, and the commit point.
//!
//! Inputs: appended transactions (proposals, sync payloads), commit points, truncations,
//! installed snapshots. Outputs: the next committed transaction to apply, and log slices
//! for DIFF / TRUNC / SNAP.
//!
//! Invariants (`check_invariants`):
//! - log entries are strictly increasing by zxid and all above `log_start`;
//! - `log_start <= applied <= committed <= last_logged` (the tree only ever holds committed
//!   transactions, so a TRUNC never has to undo applied state);
//! - every txn in `(log_start, applied]` is still in the log (so DIFF can serve it).

use std::collections::VecDeque;

use crate::tree::DataTree;
use crate::txn::Txn;
use crate::types::Zxid;

#[derive(Debug)]
pub(crate) struct History {
    pub(crate) tree: DataTree,
    log: VecDeque<Txn>,
    log_start: Zxid,
    committed: Zxid,
    /// Logged txns above `committed` (kept so that the leader's per-request window check is
    /// O(1) instead of a binary search over a log of up to a snapshot interval).
    uncommitted: usize,
}

impl History {
    pub(crate) fn new(tree: DataTree) -> History {
        let start = tree.last_zxid();
        History {
            tree,
            log: VecDeque::new(),
            log_start: start,
            committed: start,
            uncommitted: 0,
        }
    }

    pub(crate) fn applied(&self) -> Zxid {
        self.tree.last_zxid()
    }

    pub(crate) fn committed(&self) -> Zxid {
        self.committed
    }

    pub(crate) fn log_start(&self) -> Zxid {
        self.log_start
    }

    pub(crate) fn last_logged(&self) -> Zxid {
        self.log.back().map_or(self.log_start, |t| t.header.zxid)
    }

    /// Logged transactions not yet committed.
    pub(crate) fn uncommitted_len(&self) -> usize {
        self.uncommitted
    }

    fn recount_uncommitted(&mut self) {
        self.uncommitted = self.log.len() - self.position_after(self.committed);
    }

    /// Index of the first entry above the commit point (O(1): the counter says it).
    fn commit_pos(&self) -> usize {
        self.log.len() - self.uncommitted
    }

    /// Appends a txn above the last logged one.
    pub(crate) fn append(&mut self, txn: Txn) {
        assert!(
            txn.header.zxid > self.last_logged(),
            "log append out of order: {} after {}",
            txn.header.zxid,
            self.last_logged()
        );
        self.log.push_back(txn);
        // Appends are above the last logged zxid, hence above the commit point.
        self.uncommitted += 1;
    }

    /// Raises the commit point (never beyond the log, never down).
    pub(crate) fn commit_through(&mut self, zxid: Zxid) {
        let z = zxid.min(self.last_logged());
        if z > self.committed {
            // Walk forward over the newly committed entries (O(newly committed), not a
            // search over the whole log).
            let mut i = self.commit_pos();
            while self.log.get(i).is_some_and(|t| t.header.zxid <= z) {
                i += 1;
            }
            self.committed = z;
            self.uncommitted = self.log.len() - i;
        }
    }

    /// The next committed transaction the tree has not applied yet.
    pub(crate) fn next_to_apply(&self) -> Option<&Txn> {
        let applied = self.applied();
        if applied >= self.committed {
            return None;
        }
        // Committed but unapplied entries are few (a commit batch): look back from the
        // commit point first, search only when the gap is wide (after a long sync).
        let c = self.commit_pos();
        let mut i = c;
        while i > 0 && c - i < 8 && self.log[i - 1].header.zxid > applied {
            i -= 1;
        }
        if i > 0 && self.log[i - 1].header.zxid > applied {
            i = self.position_after(applied);
        }
        // The commit point is a watermark ("everything up to here"); it need not name a
        // logged txn.
        self.log.get(i).filter(|t| t.header.zxid <= self.committed)
    }

    /// Drops every logged txn above `after`. The caller guarantees `after >= applied`.
    pub(crate) fn truncate_after(&mut self, after: Zxid) {
        assert!(after >= self.applied(), "truncating applied state");
        while self.log.back().is_some_and(|t| t.header.zxid > after) {
            self.log.pop_back();
        }
        if self.committed > after {
            self.committed = after.max(self.applied());
        }
        self.recount_uncommitted();
    }

    /// Replaces the whole state with a snapshot tree.
    pub(crate) fn install(&mut self, tree: DataTree) {
        let z = tree.last_zxid();
        self.tree = tree;
        self.log.clear();
        self.log_start = z;
        self.committed = z;
        self.uncommitted = 0;
    }

    /// Forgets log entries up to `upto` (they are in a durable snapshot).
    pub(crate) fn compact(&mut self, upto: Zxid) {
        let upto = upto.min(self.applied());
        while self.log.front().is_some_and(|t| t.header.zxid <= upto) {
            self.log.pop_front();
        }
        if upto > self.log_start {
            self.log_start = upto;
        }
    }

    /// True if `zxid` names a point of this history (the log start or a logged txn).
    pub(crate) fn contains(&self, zxid: Zxid) -> bool {
        zxid == self.log_start
            || self
                .log
                .binary_search_by_key(&zxid, |t| t.header.zxid)
                .is_ok()
    }

    /// Logged txns above `zxid` (which must be at or above `log_start`).
    pub(crate) fn entries_after(&self, zxid: Zxid) -> Vec<Txn> {
        self.log
            .range(self.position_after(zxid)..)
            .cloned()
            .collect()
    }

    /// The largest point of this history at or below `zxid`, if not below `log_start`.
    pub(crate) fn floor(&self, zxid: Zxid) -> Option<Zxid> {
        if zxid < self.log_start {
            return None;
        }
        let i = self.position_after(zxid);
        Some(if i == 0 {
            self.log_start
        } else {
            self.log[i - 1].header.zxid
        })
    }

    /// Index of the first entry with zxid > `zxid`.
    fn position_after(&self, zxid: Zxid) -> usize {
        self.log.partition_point(|t| t.header.zxid <= zxid)
    }

    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub(crate) fn check_invariants(&self) {
        let applied = self.applied();
        assert!(self.log_start <= applied, "applied below log start");
        assert!(applied <= self.committed, "applied beyond commit point");
        assert!(
            self.committed <= self.last_logged(),
            "commit point beyond log"
        );
        // The counter splits the (strictly increasing) log at the commit point: O(1)
        // instead of a search over up to a snapshot interval of entries every step.
        let c = self
            .log
            .len()
            .checked_sub(self.uncommitted)
            .expect("uncommitted count above the log length");
        assert!(
            (c == 0 || self.log[c - 1].header.zxid <= self.committed)
                && self
                    .log
                    .get(c)
                    .is_none_or(|t| t.header.zxid > self.committed),
            "uncommitted count out of step with the log"
        );
        assert!(
            self.log
                .front()
                .is_none_or(|t| t.header.zxid > self.log_start),
            "log entry at or below log start"
        );
        debug_assert!(
            self.log
                .iter()
                .zip(self.log.iter().skip(1))
                .all(|(a, b)| a.header.zxid < b.header.zxid),
            "log not strictly increasing"
        );
    }
}
