//! Wiring of the [`WatchManager`] into the request path.
//!
//! - Reads with the watch flag register on the connection when answered: `exists` registers
//!   a data watch whether or not the node exists; `getData` a data watch and
//!   `getChildren(2)` a child watch only when they succeed (ZooKeeper 3.8's `statNode`,
//!   `getData`, `getChildren`). Invalid paths never register.
//! - Applying a transaction fires its triggers; the notifications are emitted *before* any
//!   reply released by that transaction, so an event precedes every later reply that
//!   reflects the change (reference §8.6).
//! - setWatches / setWatches2 / addWatch / checkWatches / removeWatches are answered in
//!   queue order; synthesized setWatches events precede its reply.
//! - A connection's watches die with it.
//!
//! A connection over its watch bound is closed (it would otherwise believe it holds a watch
//! it does not).

use tracing::warn;

use crate::proto::jute::{IntResponse, ReplyHeader, Request, ResponseBody, WatcherEvent};
use crate::replica::{CloseReason, Output, Replica};
use crate::tree::validate_path;
use crate::txn::ApplyOutcome;
use crate::types::{AddWatchMode, ConnId, ErrorCode, WatcherType};
use crate::watch::{Notification, SetWatchesLists, WatchKind, WatchQueryError};

/// ZooKeeper's `KeeperState.SyncConnected`, the state of every server-sent event.
const SYNC_CONNECTED: i32 = 3;

pub(crate) fn is_watch_op(request: &Request) -> bool {
    matches!(
        request,
        Request::SetWatches(_)
            | Request::SetWatches2(_)
            | Request::AddWatch(_)
            | Request::CheckWatches(_)
            | Request::RemoveWatches(_)
    )
}

impl Replica {
    fn emit_notifications(&mut self, notes: Vec<Notification>) {
        for n in notes {
            if !self.pipeline.has_conn(n.conn) {
                continue;
            }
            self.emit(Output::Notify {
                conn: n.conn,
                zxid: n.zxid,
                event: WatcherEvent {
                    event_type: n.event.code(),
                    state: SYNC_CONNECTED,
                    path: n.path,
                },
            });
        }
    }

    /// Fires the watches a just-applied transaction reaches.
    pub(crate) fn pipeline_fire_watches(&mut self, outcome: &ApplyOutcome) {
        if outcome.triggers.is_empty() {
            return;
        }
        let notes = self
            .pipeline
            .watches
            .trigger(&outcome.triggers, outcome.zxid);
        self.emit_notifications(notes);
    }

    /// Registers the watch a read asked for, given its answer. False if the connection
    /// must be closed (watch bound reached).
    pub(crate) fn register_read_watch(
        &mut self,
        conn: ConnId,
        request: &Request,
        err: ErrorCode,
    ) -> bool {
        let (path, kind) = match request {
            Request::Exists(r) if r.watch && matches!(err, ErrorCode::Ok | ErrorCode::NoNode) => {
                (&r.path, WatchKind::Data)
            }
            Request::GetData(r) if r.watch && err == ErrorCode::Ok => (&r.path, WatchKind::Data),
            Request::GetChildren(r) | Request::GetChildren2(r)
                if r.watch && err == ErrorCode::Ok =>
            {
                (&r.path, WatchKind::Child)
            }
            _ => return true,
        };
        if validate_path(path).is_err() {
            return true;
        }
        if let Err(e) = self.pipeline.watches.register(conn, path, kind) {
            warn!(?conn, %e, "watch refused; closing the connection");
            return false;
        }
        true
    }

    /// Answers a watch-management request at the head of the queue.
    pub(crate) fn answer_watch_op(&mut self, conn: ConnId, xid: i32, request: &Request) {
        let applied = self.history.applied();
        let (err, body) = match request {
            Request::SetWatches(_) | Request::SetWatches2(_) => {
                let empty: Vec<String> = Vec::new();
                let valid = |v: &Vec<String>| -> Vec<String> {
                    v.iter()
                        .filter(|p| validate_path(p).is_ok())
                        .cloned()
                        .collect()
                };
                let (rel, data, exist, child, persistent, recursive) = match request {
                    Request::SetWatches(s) => (
                        s.relative_zxid,
                        valid(&s.data_watches),
                        valid(&s.exist_watches),
                        valid(&s.child_watches),
                        empty.clone(),
                        empty.clone(),
                    ),
                    Request::SetWatches2(s) => (
                        s.relative_zxid,
                        valid(&s.data_watches),
                        valid(&s.exist_watches),
                        valid(&s.child_watches),
                        valid(&s.persistent_watches),
                        valid(&s.persistent_recursive_watches),
                    ),
                    _ => unreachable!("matched above"),
                };
                let lists = SetWatchesLists {
                    data: &data,
                    exist: &exist,
                    child: &child,
                    persistent: &persistent,
                    persistent_recursive: &recursive,
                };
                let tree = &self.history.tree;
                match self
                    .pipeline
                    .watches
                    .set_watches(conn, rel, &lists, |p| tree.stat(p))
                {
                    Ok(notes) => {
                        self.emit_notifications(notes);
                        (ErrorCode::Ok, None)
                    }
                    Err(e) => {
                        warn!(?conn, %e, "setWatches over the watch bound; closing");
                        self.pipeline_close(conn, CloseReason::Overloaded);
                        return;
                    }
                }
            }
            Request::AddWatch(r) => match AddWatchMode::from_code(r.mode) {
                Some(mode) if validate_path(&r.path).is_ok() => {
                    match self.pipeline.watches.register(conn, &r.path, mode.into()) {
                        Ok(()) => (
                            ErrorCode::Ok,
                            Some(ResponseBody::Error(IntResponse { value: 0 })),
                        ),
                        Err(e) => {
                            warn!(?conn, %e, "addWatch over the watch bound; closing");
                            self.pipeline_close(conn, CloseReason::Overloaded);
                            return;
                        }
                    }
                }
                _ => (ErrorCode::BadArguments, None),
            },
            Request::CheckWatches(r) | Request::RemoveWatches(r) => {
                let res = match WatcherType::from_code(r.watcher_type) {
                    None => Err(ErrorCode::MarshallingError),
                    Some(ty) => {
                        let w = &mut self.pipeline.watches;
                        let q = if matches!(request, Request::CheckWatches(_)) {
                            w.check_watches(conn, &r.path, ty)
                        } else {
                            w.remove_watches(conn, &r.path, ty)
                        };
                        q.map_err(|e| match e {
                            WatchQueryError::NoWatcher { .. } => ErrorCode::NoWatcher,
                            _ => ErrorCode::MarshallingError,
                        })
                    }
                };
                match res {
                    Ok(()) => (ErrorCode::Ok, None),
                    Err(e) => (e, None),
                }
            }
            _ => unreachable!("not a watch op"),
        };
        let header = ReplyHeader::new(xid, applied, err);
        let body = if err == ErrorCode::Ok {
            body.map(Box::new)
        } else {
            None
        };
        self.emit(Output::Reply { conn, header, body });
    }
}
