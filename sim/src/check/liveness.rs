//! Liveness after faults heal.
//!
//! Source: Zab paper §III (liveness under a stable quorum); zab.md §1.3 (election terminates
//! once a quorum is connected and stable) and the ZOOKEEPER-1818 / -4685 liveness rows.
//! Statement checked at the end of the heal window (every fault healed, every node up,
//! every link reconnected for at least the window): (1) some server is an established
//! leader and a quorum of servers serve under it; (2) every request that a live session
//! sent at least `request_bound` before the end was answered or failed by a connection
//! loss; (3) at least one write was acknowledged during the heal window. Then, with clients
//! quiet (no new requests), within a bound: (4) every replica is up and serves under the
//! same leader and epoch, at the same applied zxid with the same tree digest, and (5) no
//! request of a live session on an established connection is unanswered
//! ([`not_converged`]).

use arbor_core::types::Zxid;

use super::{fail, CheckResult};

/// One live replica at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEnd {
    /// The established leader and epoch it serves under.
    pub serving: Option<(u64, u32)>,
    /// Its role name.
    pub role: &'static str,
    /// Applied zxid.
    pub applied: Zxid,
    /// Tree digest.
    pub digest: u64,
}

/// Why the cluster has not converged (None: converged). `nodes[i]` is None for a down
/// replica; `unanswered` names a request of a live session still unanswered, if any.
pub fn not_converged(nodes: &[Option<NodeEnd>], unanswered: Option<String>) -> Option<String> {
    let mut first: Option<(usize, &NodeEnd)> = None;
    for (i, n) in nodes.iter().enumerate() {
        let Some(n) = n else {
            return Some(format!("node {} is down", i + 1));
        };
        if n.serving.is_none() {
            return Some(format!("node {} ({}) serves no leader", i + 1, n.role));
        }
        match first {
            None => first = Some((i, n)),
            Some((j, f))
                if (f.serving, f.applied, f.digest) != (n.serving, n.applied, n.digest) =>
            {
                return Some(format!(
                    "node {} (leader {:?}, applied {}, digest {:x}) differs from node {} \
                     (leader {:?}, applied {}, digest {:x})",
                    i + 1,
                    n.serving,
                    n.applied,
                    n.digest,
                    j + 1,
                    f.serving,
                    f.applied,
                    f.digest
                ));
            }
            Some(_) => {}
        }
    }
    unanswered
}

/// What the world observed at the end of the heal window.
#[derive(Clone, Debug, Default)]
pub struct EndState {
    /// Servers that serve under the most common established leader (incl. it).
    pub quorum_serving: usize,
    /// Quorum size.
    pub quorum: usize,
    /// Requests of live sessions older than the bound still unanswered: (client, xid, age_ms).
    pub stuck: Vec<(usize, i32, u64)>,
    /// Writes acknowledged after the heal began.
    pub acked_after_heal: usize,
    /// Whether any client tried to write after the heal began.
    pub writes_tried_after_heal: bool,
}

/// Checks the end state.
pub fn check(s: &EndState) -> CheckResult {
    if s.quorum_serving < s.quorum {
        return fail(
            "liveness",
            format!(
                "after healing, only {} servers serve under an established leader (quorum {})",
                s.quorum_serving, s.quorum
            ),
        );
    }
    if let Some((c, x, age)) = s.stuck.first() {
        return fail(
            "liveness",
            format!(
                "after healing, client {c} request xid {x} unanswered for {age} ms ({} stuck in all)",
                s.stuck.len()
            ),
        );
    }
    if s.writes_tried_after_heal && s.acked_after_heal == 0 {
        return fail(
            "liveness",
            "after healing, no write was answered".to_string(),
        );
    }
    Ok(())
}
