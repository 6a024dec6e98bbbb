//! Replicated transactions and their pure `apply`.
//!
//! Role: a [`Txn`] is what the leader proposes and every replica logs and applies. It is
//! produced by [`crate::tree::prep`] with every decision already made — final paths,
//! versions, the parent's child counter, ctime / mtime, zxid, session ids — so that
//! [`apply`] is a pure function of (tree, txn) and all replicas end identical.
//!
//! Inputs: txns (from prep on the leader, from the log or a peer elsewhere). Outputs: an
//! [`ApplyOutcome`] — the per-op results for the reply, and the watch triggers
//! (path, event type) in the order ZooKeeper fires them, for the watch manager.
//!
//! Invariants:
//! - zxids applied to one tree strictly increase;
//! - apply never fails for a txn prepped against the same state (it asserts the
//!   preconditions prep checked);
//! - an error txn, and a multi containing an error, change nothing;
//! - `Txn::from_bytes(&t.to_bytes()) == Ok(t)`.
//!
//! A txn's body is shared ([`Arc`]): every replica, log, proposal and checker copy of one
//! txn points at a single body allocation, so cloning a txn is a header copy and a
//! reference-count increment. serde's `rc` feature encodes `Arc<T>` exactly as `T`, so the
//! bytes are those of a plain body.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::tree::{parent_for_events, DataTree, Misfit, NodeKind};
use crate::types::{Acl, ErrorCode, EventType, SessionId, Stat, WallMillis, Zxid};

/// The envelope of every txn (`TxnHeader`): who, which request, which zxid, when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnHeader {
    /// The session that issued the request (or whose expiry this is).
    pub session: SessionId,
    /// The client's request id.
    pub cxid: i32,
    /// The txn's zxid.
    pub zxid: Zxid,
    /// Leader wall-clock ms when the txn was prepared.
    pub time: WallMillis,
}

/// A replicated transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// Envelope.
    pub header: TxnHeader,
    /// What to do; shared by every copy of the txn (immutable once built: change a copy's
    /// body with `Arc::make_mut`).
    pub body: Arc<TxnBody>,
}

/// A fully decided node creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTxn {
    /// Final path (sequential suffix applied).
    pub path: String,
    /// Data; `None` is null data.
    pub data: Option<Vec<u8>>,
    /// Final ACL (validated, `auth` expanded).
    pub acl: Vec<Acl>,
    /// Kind (ephemeral owner, container, TTL).
    pub kind: NodeKind,
    /// The parent's child-creation counter after this create.
    pub parent_cversion: i32,
}

/// The operation a txn performs. Alphabetical.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnBody {
    /// A passed version check (inside a multi); changes nothing.
    Check {
        /// Path checked.
        path: String,
        /// Version requested.
        version: i32,
    },
    /// Session close or expiry: deletes the listed ephemerals (computed at prep, as 3.8's
    /// `CloseSessionTxn`) and any others the session still owns.
    CloseSession {
        /// The session.
        session: SessionId,
        /// Its ephemerals as prep saw them, sorted.
        ephemerals: Vec<String>,
    },
    /// Node creation.
    Create(CreateTxn),
    /// Session creation.
    CreateSession {
        /// The session.
        session: SessionId,
        /// Negotiated timeout (ms).
        timeout_ms: i32,
    },
    /// Node deletion.
    Delete {
        /// Path.
        path: String,
    },
    /// Leader-issued deletion of a due container / TTL node.
    DeleteExpired {
        /// Path.
        path: String,
    },
    /// A failed write (or a slot of a failed multi); changes nothing.
    Error {
        /// The error code the client gets.
        err: ErrorCode,
    },
    /// All-or-nothing group sharing the header's zxid and time.
    Multi(Vec<TxnBody>),
    /// ACL replacement.
    SetAcl {
        /// Path.
        path: String,
        /// New ACL.
        acl: Vec<Acl>,
        /// New aversion.
        aversion: i32,
    },
    /// Data replacement.
    SetData {
        /// Path.
        path: String,
        /// New data.
        data: Option<Vec<u8>>,
        /// New version.
        version: i32,
    },
}

/// The result of one applied op, for the reply. Alphabetical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    /// Check passed.
    Check,
    /// Session closed; these ephemerals were deleted, in order.
    CloseSession {
        /// Deleted paths.
        deleted: Vec<String>,
    },
    /// Node created.
    Create {
        /// Final path.
        path: String,
        /// Its stat.
        stat: Stat,
    },
    /// Session created.
    CreateSession,
    /// Node deleted (also for expiry deletes).
    Delete,
    /// The op failed with this code (inside a failed multi: Ok before the failing op,
    /// RuntimeInconsistency after it).
    Error(ErrorCode),
    /// Results of a multi's ops.
    Multi(Vec<OpResult>),
    /// ACL set; the node's new stat.
    SetAcl {
        /// Stat.
        stat: Stat,
    },
    /// Data set; the node's new stat.
    SetData {
        /// Stat.
        stat: Stat,
    },
}

/// A watch trigger: an event of `event` type on `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchTrigger {
    /// The path the event is about.
    pub path: String,
    /// NodeCreated, NodeDeleted, NodeDataChanged or NodeChildrenChanged.
    pub event: EventType,
}

/// What applying a txn did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The txn's zxid.
    pub zxid: Zxid,
    /// Result for the reply.
    pub result: OpResult,
    /// Watch triggers in firing order (for a create: NodeCreated on the path, then
    /// NodeChildrenChanged on the parent; for a delete: NodeDeleted, then the parent's
    /// NodeChildrenChanged; for setData: NodeDataChanged).
    pub triggers: Vec<WatchTrigger>,
    /// Operations of the txn that did not fit the tree and were skipped (their result is
    /// `RuntimeInconsistency`); empty for every txn an honest leader prepped against the
    /// same state. See [`crate::tree::Misfit`].
    pub misfits: Vec<Misfit>,
}

/// Why txn bytes were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxnCodecError {
    /// postcard could not decode the bytes.
    #[error("txn decode failed: {0}")]
    Decode(postcard::Error),
}

impl Txn {
    /// A txn of `header` and `body` (the body is moved into a new shared allocation).
    pub fn new(header: TxnHeader, body: TxnBody) -> Txn {
        Txn {
            header,
            body: Arc::new(body),
        }
    }

    /// The txn as postcard bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain owned data into a Vec cannot fail.
        postcard::to_allocvec(self).expect("txn serializes")
    }

    /// A txn from postcard bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Txn, TxnCodecError> {
        postcard::from_bytes(bytes).map_err(TxnCodecError::Decode)
    }
}

/// Applies `txn` to `tree`: a pure function of the two.
///
/// A txn (or an operation of a multi) that does not fit the tree is skipped and reported in
/// [`ApplyOutcome::misfits`], as ZooKeeper's `processTxn` records the failure and carries
/// on; the other operations of a multi still apply, as in 3.8.
pub fn apply(tree: &mut DataTree, txn: &Txn) -> ApplyOutcome {
    apply_with(tree, txn, true)
}

/// [`apply`], leaving `triggers` empty when `want_triggers` is false: a replica with no watch
/// registered needs none, and skips building their paths on every commit.
pub fn apply_with(tree: &mut DataTree, txn: &Txn, want_triggers: bool) -> ApplyOutcome {
    tree.begin_txn(txn.header.zxid);
    let mut triggers = Vec::new();
    let mut misfits = Vec::new();
    let mut one = |op: &TxnBody, triggers: &mut Vec<WatchTrigger>| match apply_one(
        tree,
        &txn.header,
        op,
        want_triggers.then_some(triggers),
    ) {
        Ok(result) => result,
        Err(m) => {
            misfits.push(m);
            OpResult::Error(ErrorCode::RuntimeInconsistency)
        }
    };
    let result = match &*txn.body {
        TxnBody::Multi(ops) => {
            if let Some(failed) = multi_failure(ops) {
                OpResult::Multi(failed)
            } else {
                OpResult::Multi(ops.iter().map(|op| one(op, &mut triggers)).collect())
            }
        }
        body => one(body, &mut triggers),
    };
    ApplyOutcome {
        zxid: txn.header.zxid,
        result,
        triggers,
        misfits,
    }
}

/// For a multi containing an error slot, the per-op error results (nothing is applied).
fn multi_failure(ops: &[TxnBody]) -> Option<Vec<OpResult>> {
    if !ops.iter().any(|op| matches!(op, TxnBody::Error { .. })) {
        return None;
    }
    let mut after_error = false;
    Some(
        ops.iter()
            .map(|op| match op {
                TxnBody::Error { err } => {
                    after_error = true;
                    OpResult::Error(*err)
                }
                _ if after_error => OpResult::Error(ErrorCode::RuntimeInconsistency),
                _ => OpResult::Error(ErrorCode::Ok),
            })
            .collect(),
    )
}

fn apply_one(
    tree: &mut DataTree,
    header: &TxnHeader,
    body: &TxnBody,
    mut triggers: Option<&mut Vec<WatchTrigger>>,
) -> Result<OpResult, Misfit> {
    let zxid = header.zxid;
    let mut fire = |path: &str, event: EventType| {
        if let Some(t) = triggers.as_deref_mut() {
            t.push(WatchTrigger {
                path: path.to_string(),
                event,
            });
        }
    };
    Ok(match body {
        TxnBody::Check { .. } => OpResult::Check,
        TxnBody::CloseSession {
            session,
            ephemerals,
        } => {
            let deleted = tree.apply_close_session(*session, ephemerals, zxid);
            for path in &deleted {
                fire(path, EventType::NodeDeleted);
                fire(parent_for_events(path), EventType::NodeChildrenChanged);
            }
            OpResult::CloseSession { deleted }
        }
        TxnBody::Create(c) => {
            let stat = tree.apply_create(
                &c.path,
                c.data.as_deref(),
                &c.acl,
                c.kind,
                c.parent_cversion,
                zxid,
                header.time,
            )?;
            fire(&c.path, EventType::NodeCreated);
            fire(parent_for_events(&c.path), EventType::NodeChildrenChanged);
            OpResult::Create {
                path: c.path.clone(),
                stat,
            }
        }
        TxnBody::CreateSession {
            session,
            timeout_ms,
        } => {
            tree.apply_create_session(*session, *timeout_ms);
            OpResult::CreateSession
        }
        TxnBody::Delete { path } | TxnBody::DeleteExpired { path } => {
            tree.apply_delete(path, zxid)?;
            fire(path, EventType::NodeDeleted);
            fire(parent_for_events(path), EventType::NodeChildrenChanged);
            OpResult::Delete
        }
        TxnBody::Error { err } => OpResult::Error(*err),
        TxnBody::Multi(_) => {
            return Err(Misfit {
                op: "multi",
                path: String::new(),
                what: "nested multi",
            })
        }
        TxnBody::SetAcl {
            path,
            acl,
            aversion,
        } => OpResult::SetAcl {
            stat: tree.apply_set_acl(path, acl, *aversion)?,
        },
        TxnBody::SetData {
            path,
            data,
            version,
        } => {
            let stat = tree.apply_set_data(path, data.as_deref(), *version, zxid, header.time)?;
            fire(path, EventType::NodeDataChanged);
            OpResult::SetData { stat }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Acl;

    #[test]
    fn txn_bytes_round_trip() {
        let t = Txn::new(
            TxnHeader {
                session: SessionId(7),
                cxid: 3,
                zxid: Zxid(0x1_0000_0002),
                time: WallMillis(1234),
            },
            TxnBody::Multi(vec![
                TxnBody::Create(CreateTxn {
                    path: "/a".into(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    kind: NodeKind::Ttl(5),
                    parent_cversion: 1,
                }),
                TxnBody::Error {
                    err: ErrorCode::NoNode,
                },
            ]),
        );
        assert_eq!(Txn::from_bytes(&t.to_bytes()), Ok(t.clone()));
        assert!(matches!(
            Txn::from_bytes(&[0xff, 0xff]),
            Err(TxnCodecError::Decode(_))
        ));
        assert!(Txn::from_bytes(&t.to_bytes()[..5]).is_err());
    }

    /// The shared body (`Arc<TxnBody>`, serde `rc`) encodes exactly as the plain body did:
    /// these bytes were produced by the build where `Txn::body` was a `TxnBody`, so logs,
    /// snapshots and proposals written before stay readable and peers stay compatible.
    #[test]
    fn txn_bytes_unchanged_by_shared_body() {
        let header = TxnHeader {
            session: SessionId(7),
            cxid: 3,
            zxid: Zxid(0x1_0000_0002),
            time: WallMillis(1234),
        };
        let multi = Txn::new(
            header,
            TxnBody::Multi(vec![
                TxnBody::Create(CreateTxn {
                    path: "/a".into(),
                    data: Some(b"xy".to_vec()),
                    acl: Acl::open_unsafe(),
                    kind: NodeKind::Ttl(5),
                    parent_cversion: 1,
                }),
                TxnBody::SetData {
                    path: "/b".into(),
                    data: None,
                    version: 2,
                },
                TxnBody::Error {
                    err: ErrorCode::NoNode,
                },
            ]),
        );
        let multi_bytes: &[u8] = &[
            14, 6, 132, 128, 128, 128, 32, 164, 19, 7, 3, 2, 2, 47, 97, 1, 2, 120, 121, 1, 62, 5,
            119, 111, 114, 108, 100, 6, 97, 110, 121, 111, 110, 101, 3, 10, 2, 9, 2, 47, 98, 0, 4,
            6, 13,
        ];
        assert_eq!(multi.to_bytes(), multi_bytes);
        assert_eq!(Txn::from_bytes(multi_bytes), Ok(multi));

        let close = Txn::new(
            header,
            TxnBody::CloseSession {
                session: SessionId(9),
                ephemerals: vec!["/e".into()],
            },
        );
        let close_bytes: &[u8] = &[14, 6, 132, 128, 128, 128, 32, 164, 19, 1, 18, 1, 2, 47, 101];
        assert_eq!(close.to_bytes(), close_bytes);
        assert_eq!(Txn::from_bytes(close_bytes), Ok(close));
    }

    /// Clones share the body allocation, and equality still compares contents.
    #[test]
    fn clones_share_the_body() {
        let t = txn(1, create("/a", 1));
        let c = t.clone();
        assert!(Arc::ptr_eq(&t.body, &c.body));
        assert_eq!(t, c);
        let rebuilt = Txn::from_bytes(&t.to_bytes()).unwrap();
        assert!(!Arc::ptr_eq(&t.body, &rebuilt.body));
        assert_eq!(t, rebuilt);
        assert_ne!(t, txn(1, create("/b", 1)));
    }

    #[test]
    fn failed_multi_result_pattern() {
        let ops = [
            TxnBody::Delete { path: "/a".into() },
            TxnBody::Error {
                err: ErrorCode::BadVersion,
            },
            TxnBody::Delete { path: "/b".into() },
        ];
        assert_eq!(
            multi_failure(&ops),
            Some(vec![
                OpResult::Error(ErrorCode::Ok),
                OpResult::Error(ErrorCode::BadVersion),
                OpResult::Error(ErrorCode::RuntimeInconsistency)
            ])
        );
        assert_eq!(multi_failure(&ops[..1]), None);
    }

    fn txn(zxid: i64, body: TxnBody) -> Txn {
        Txn::new(
            TxnHeader {
                session: SessionId(1),
                cxid: 1,
                zxid: Zxid(zxid),
                time: WallMillis(7),
            },
            body,
        )
    }

    fn create(path: &str, parent_cversion: i32) -> TxnBody {
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            kind: NodeKind::Persistent,
            parent_cversion,
        })
    }

    /// Without triggers, apply changes the tree and answers exactly as with them.
    #[test]
    fn apply_without_triggers_differs_only_in_triggers() {
        let mut with = DataTree::new(crate::tree::TreeConfig::default());
        let mut without = DataTree::new(crate::tree::TreeConfig::default());
        let bodies = [
            create("/a", 1),
            create("/a/b", 1),
            TxnBody::SetData {
                path: "/a/b".into(),
                data: Some(b"y".to_vec()),
                version: 1,
            },
            TxnBody::Multi(vec![
                create("/a/c", 2),
                TxnBody::Delete {
                    path: "/a/b".into(),
                },
            ]),
        ];
        for (i, body) in bodies.into_iter().enumerate() {
            let t = txn(1 + i as i64, body);
            let a = apply(&mut with, &t);
            let mut b = apply_with(&mut without, &t, false);
            assert!(a.misfits.is_empty(), "{t:?} fits");
            assert!(!a.triggers.is_empty(), "{t:?} fires watches");
            assert!(b.triggers.is_empty(), "{t:?}");
            b.triggers.clone_from(&a.triggers);
            assert_eq!(a, b, "{t:?}");
            assert_eq!(with.digest(), without.digest(), "{t:?}");
        }
    }

    /// A lying (or damaged) leader's txn that does not fit is skipped and reported, like
    /// ZooKeeper's processTxn; the tree is left exactly as it was and stays whole.
    #[test]
    fn misfit_txns_are_skipped_not_fatal() {
        let mut tree = DataTree::new(crate::tree::TreeConfig::default());
        let ok = apply(&mut tree, &txn(1, create("/a", 1)));
        assert!(ok.misfits.is_empty());
        let before = tree.digest();
        let misfits = [
            create("/x/y", 1),  // parent missing
            create("/a", 2),    // exists
            create("/b", 5),    // child counter mismatch
            create("/", 2),     // the root
            create("/a//b", 1), // invalid path
            TxnBody::Delete {
                path: "/zookeeper".into(),
            },
            TxnBody::Delete { path: "/".into() },
            TxnBody::Delete {
                path: "/nope".into(),
            },
            TxnBody::SetData {
                path: "/a".into(),
                data: None,
                version: 5,
            },
            TxnBody::SetAcl {
                path: "/nope".into(),
                acl: Acl::open_unsafe(),
                aversion: 1,
            },
            TxnBody::Multi(vec![TxnBody::Multi(Vec::new())]),
        ];
        for (i, body) in misfits.into_iter().enumerate() {
            let out = apply(&mut tree, &txn(2 + i as i64, body.clone()));
            assert_eq!(out.misfits.len(), 1, "{body:?}");
            assert!(out.triggers.is_empty(), "{body:?}");
            assert_eq!(tree.digest(), before, "{body:?} changed the tree");
            tree.check_invariants_full();
        }
        // A node with children cannot be deleted; the rest of a multi still applies.
        apply(&mut tree, &txn(20, create("/a/c", 1)));
        let out = apply(
            &mut tree,
            &txn(
                21,
                TxnBody::Multi(vec![TxnBody::Delete { path: "/a".into() }, create("/d", 2)]),
            ),
        );
        assert_eq!(out.misfits.len(), 1);
        match out.result {
            OpResult::Multi(r) => {
                assert_eq!(r[0], OpResult::Error(ErrorCode::RuntimeInconsistency));
                assert!(matches!(r[1], OpResult::Create { .. }));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(tree.last_zxid(), Zxid(21));
        tree.check_invariants_full();
    }
}
