//! Criterion benchmarks (`benches/benches/`) and measurement programs (`src/bin/`) for
//! Arbor, plus the fixtures they share. Benchmarks report numbers; they never assert on
//! time.

pub mod cluster;

use arbor_core::tree::{CreateOp, DataTree, PrepContext, TreeConfig, WriteOp};
use arbor_core::txn::{apply, ApplyOutcome};
use arbor_core::types::{Acl, Epoch, Id, SessionId, WallMillis, Zxid};

/// A tree plus the bookkeeping a leader would do: the next zxid and the wall clock.
pub struct Fixture {
    /// The tree under test.
    pub tree: DataTree,
    next_counter: u32,
    auth: Vec<Id>,
}

impl Fixture {
    /// An empty tree.
    pub fn new() -> Fixture {
        Fixture {
            tree: DataTree::new(TreeConfig::default()),
            next_counter: 1,
            auth: Vec::new(),
        }
    }

    /// Prepares and applies one write as the leader would (prep against the committed tree,
    /// then apply), returning what apply reports.
    pub fn write(&mut self, op: &WriteOp) -> ApplyOutcome {
        let zxid = Zxid::new(Epoch(1), self.next_counter);
        self.next_counter += 1;
        let ctx = PrepContext {
            session: SessionId(0x100),
            cxid: 1,
            zxid,
            time: WallMillis(1_764_460_800_000 + i64::from(self.next_counter)),
            auth: &self.auth,
        };
        let txn = self
            .tree
            .prep(&ctx, op)
            .expect("benchmark writes are well-formed");
        apply(&mut self.tree, &txn)
    }

    /// Creates a persistent node with open ACL.
    pub fn create(&mut self, path: String, data: Vec<u8>) -> ApplyOutcome {
        self.write(&WriteOp::Create {
            path,
            data: Some(data),
            acl: Acl::open_unsafe(),
            flags: 0,
            op: CreateOp::Create,
        })
    }

    /// Builds `/app/svc-NNNNN/key-NNNNN` with `services × keys_per_service` leaves of
    /// `value_len`-byte values (plus the `/app` and service nodes).
    pub fn populate(&mut self, services: u32, keys_per_service: u32, value_len: usize) {
        self.create("/app".to_string(), Vec::new());
        for s in 0..services {
            self.create(service_path(s), Vec::new());
            for k in 0..keys_per_service {
                self.create(key_path(s, k), value(value_len, s ^ k));
            }
        }
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

/// `/app/svc-NNNNN`.
pub fn service_path(s: u32) -> String {
    format!("/app/svc-{s:05}")
}

/// `/app/svc-NNNNN/key-NNNNN`.
pub fn key_path(s: u32, k: u32) -> String {
    format!("/app/svc-{s:05}/key-{k:05}")
}

/// A deterministic value of `len` bytes.
pub fn value(len: usize, salt: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(salt) as u8)
        .collect()
}
