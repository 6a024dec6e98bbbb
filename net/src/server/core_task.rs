//! The task that owns the `Replica` and drives it by the core contract.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbor_core::proto::jute::{
    ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, ResponseBody,
    WatcherEvent,
};
use arbor_core::replica::{Input, Output, Replica};
use arbor_core::types::{ConnId, Nanos, PersistToken, ServerId, WallMillis, Zxid};
use arbor_core::watch::ZookeeperWatchCounts;
use arbor_core::zab::message::PeerMessage;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;
use tracing::{debug, error, warn};

use super::storage_task::StorageHandle;
use super::ServeError;
use crate::peer::{LinkId, LinkSendError, LinkSender, PeerEvent};
use crate::storage::{StorageError, StorageOp};

/// Requests remembered per connection for latency accounting.
const PENDING_MAX: usize = 10_000;

/// An input for the core task.
#[derive(Debug)]
pub(crate) enum Event {
    /// A connection sent its ConnectRequest.
    Connect {
        conn: ConnId,
        peer: SocketAddr,
        request: ConnectRequest,
        out: mpsc::Sender<ConnOut>,
        kill: Arc<Notify>,
        /// Set while the core wants this connection's reads paused (throttling).
        paused: watch::Sender<bool>,
    },
    /// A decoded request.
    Request {
        conn: ConnId,
        header: RequestHeader,
        request: Request,
    },
    /// A request that failed to decode, with the answer ZooKeeper gives; the core queues it
    /// behind the connection's earlier requests (and closes after it if ZooKeeper does).
    ErrorReply {
        conn: ConnId,
        reply: arbor_core::proto::jute::ErrorReply,
    },
    /// A registered connection went away.
    Closed { conn: ConnId },
    /// The storage thread synced everything up to `token`.
    Persisted { token: PersistToken },
    /// The storage thread failed; nothing more will be acknowledged.
    StorageFailed(StorageError),
    /// A four-letter word wants the server's statistics.
    Stats(oneshot::Sender<Stats>),
}

/// What a connection's writer sends, in order.
#[derive(Debug)]
pub(crate) enum ConnOut {
    Connect(ConnectResponse),
    Reply(ReplyHeader, Option<Box<ResponseBody>>),
    Notify(Zxid, WatcherEvent),
    /// Flush what came before, then close.
    Close,
}

/// One client as the four-letter words report it.
#[derive(Clone, Debug)]
pub(crate) struct ClientStats {
    pub peer: SocketAddr,
    pub queued: usize,
    pub received: u64,
    pub sent: u64,
}

/// The server's role as the four-letter words report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Mode {
    Follower,
    Leader,
    /// Electing or synchronizing: not serving clients.
    #[default]
    NotServing,
    Standalone,
}

impl Mode {
    /// ZooKeeper's name for the mode (`srvr` `Mode:`, `mntr` `zk_server_state`).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Mode::Follower => Some("follower"),
            Mode::Leader => Some("leader"),
            Mode::NotServing => None,
            Mode::Standalone => Some("standalone"),
        }
    }
}

/// Server statistics for the four-letter words.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    pub mode: Mode,
    /// On a leader: (learners connected, learners synced).
    pub learners: Option<(usize, usize)>,
    /// The tree digest at `zxid` (replicas at equal zxids must agree).
    pub digest: u64,
    pub received: u64,
    pub sent: u64,
    pub outstanding: usize,
    pub zxid: Zxid,
    pub node_count: usize,
    pub latency_min_ms: f64,
    pub latency_avg_ms: f64,
    pub latency_max_ms: f64,
    pub clients: Vec<ClientStats>,
    /// ZooKeeper 3.8's watch counts (`wchs`, `mntr` `zk_watch_count`).
    pub watches: ZookeeperWatchCounts,
    /// Live sessions (`mntr` `zk_global_sessions`).
    pub sessions: usize,
    /// Ephemeral znodes (`mntr` `zk_ephemerals_count`).
    pub ephemerals: usize,
}

pub(crate) struct CoreArgs {
    /// The replica, recovered from storage (its recovery outputs not drained yet).
    pub replica: Replica,
    /// Whether the replica has peers (`Mode::Standalone` otherwise).
    pub ensemble: bool,
    pub events: mpsc::Receiver<Event>,
    /// Link events from the peer transport (an ensemble; never fed for a standalone server).
    pub peer_events: mpsc::Receiver<PeerEvent>,
    pub storage: StorageHandle,
    pub shutdown: watch::Receiver<bool>,
    pub ready: watch::Sender<bool>,
    pub applied_zxid: Arc<AtomicI64>,
}

struct ConnEntry {
    peer: SocketAddr,
    out: mpsc::Sender<ConnOut>,
    kill: Arc<Notify>,
    /// The connection's reader stops taking frames while this is `true`.
    paused: watch::Sender<bool>,
    /// (xid, arrival) of requests not answered yet, oldest first.
    pending: VecDeque<(i32, Nanos)>,
    received: u64,
    sent: u64,
}

#[derive(Default)]
struct Driver {
    conns: BTreeMap<ConnId, ConnEntry>,
    /// The current link to each connected peer and its bounded send queue.
    links: BTreeMap<ServerId, (LinkId, LinkSender)>,
    /// Inputs produced while draining (a link dropped as too slow), fed after the drain.
    deferred: VecDeque<Input>,
    /// Whether the replica has peers (`Mode::Standalone` otherwise).
    ensemble: bool,
    received: u64,
    sent: u64,
    latency_count: u64,
    latency_sum_ns: u128,
    latency_min_ns: u64,
    latency_max_ns: u64,
}

fn wall() -> WallMillis {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    WallMillis(ms)
}

fn now_since(base: Instant) -> Nanos {
    Nanos(u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

pub(crate) async fn run(mut a: CoreArgs) -> Result<(), ServeError> {
    let base = Instant::now();
    let mut replica = a.replica;
    let mut d = Driver {
        latency_min_ns: u64::MAX,
        ensemble: a.ensemble,
        ..Driver::default()
    };
    d.drain(&mut replica, &a.storage, Nanos(0));
    let mut peers_open = true;
    let result = loop {
        if !*a.ready.borrow() && replica.serving_leader().is_some() {
            a.ready.send_replace(true);
        }
        a.applied_zxid
            .store(replica.applied_zxid().0, Ordering::Relaxed);
        let deadline = replica
            .next_deadline()
            .map(|t| base + Duration::from_nanos(t.0));
        let far = base + Duration::from_secs(86_400 * 365);
        let input = tokio::select! {
            _ = super::stopped(&mut a.shutdown) => break Ok(()),
            ev = a.events.recv() => match ev {
                None => break Ok(()),
                Some(Event::StorageFailed(e)) => {
                    error!(error = %e, "storage failed; shutting down without acknowledging");
                    break Err(ServeError::Storage(e));
                }
                Some(ev) => d.on_event(ev, &replica, now_since(base)),
            },
            pe = a.peer_events.recv(), if peers_open => match pe {
                Some(pe) => d.on_peer_event(pe),
                // The transport is gone (shutting down) or there never was one.
                None => {
                    peers_open = false;
                    None
                }
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {
                Some(Input::Tick)
            }
        };
        if let Some(input) = input {
            d.deferred.push_back(input);
        }
        while let Some(input) = d.deferred.pop_front() {
            let now = now_since(base);
            replica.handle(now, wall(), input);
            d.drain(&mut replica, &a.storage, now);
        }
    };
    d.links.clear();
    for c in d.conns.values() {
        c.kill.notify_one();
    }
    // Nobody reads events any more: senders (connections, the storage thread) must not
    // block on a full channel while the storage thread finishes its queue.
    a.events.close();
    a.storage.stop().await;
    result
}

impl Driver {
    /// Turns a link event into replica inputs, by the contract the simulator keeps: a link
    /// is announced (`PeerConnected`) before its first message, messages of a replaced or
    /// closed link are never delivered, and every announced link is closed exactly once
    /// (`PeerDisconnected`).
    fn on_peer_event(&mut self, ev: PeerEvent) -> Option<Input> {
        match ev {
            PeerEvent::Up { peer, link, tx } => {
                if let Some((old, _)) = self.links.insert(peer, (link, tx)) {
                    // A newer link replaces one the peer abandoned; dropping the old queue
                    // closes that link.
                    debug!(peer = %peer, old = old.0, new = link.0, "peer link replaced");
                    self.deferred.push_back(Input::PeerDisconnected { peer });
                }
                self.deferred.push_back(Input::PeerConnected { peer });
                None
            }
            PeerEvent::Message { peer, link, msg } => match self.links.get(&peer) {
                Some((current, _)) if *current == link => Some(Input::Peer { from: peer, msg }),
                _ => None,
            },
            PeerEvent::Down { peer, link } => match self.links.get(&peer) {
                Some((current, _)) if *current == link => {
                    self.links.remove(&peer);
                    Some(Input::PeerDisconnected { peer })
                }
                _ => None,
            },
        }
    }

    /// Queues `msg` on the link to `to`. Without a link the message is lost, as on a broken
    /// connection (the core retransmits what matters after `PeerConnected`). A full queue
    /// drops the link instead of blocking the core task.
    fn send_peer(&mut self, to: ServerId, msg: PeerMessage) {
        let Some((link, tx)) = self.links.get(&to) else {
            debug!(to = %to, "no link to peer; message dropped");
            return;
        };
        let link = *link;
        if let Err(e) = tx.send(&msg) {
            if e == LinkSendError::Full {
                warn!(peer = %to, link = link.0, "peer send queue full; dropping the link");
            }
            self.links.remove(&to);
            self.deferred
                .push_back(Input::PeerDisconnected { peer: to });
        }
    }

    /// Turns an event into a replica input (or answers it here).
    fn on_event(&mut self, ev: Event, replica: &Replica, now: Nanos) -> Option<Input> {
        match ev {
            Event::Connect {
                conn,
                peer,
                request,
                out,
                kill,
                paused,
            } => {
                self.conns.insert(
                    conn,
                    ConnEntry {
                        peer,
                        out,
                        kill,
                        paused,
                        pending: VecDeque::new(),
                        received: 0,
                        sent: 0,
                    },
                );
                self.received += 1;
                Some(Input::ClientConnect { conn, request })
            }
            Event::Request {
                conn,
                header,
                request,
            } => {
                self.received += 1;
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.received += 1;
                    if c.pending.len() >= PENDING_MAX {
                        c.pending.pop_front();
                    }
                    c.pending.push_back((header.xid, now));
                }
                Some(Input::ClientRequest {
                    conn,
                    header,
                    request: Box::new(request),
                })
            }
            Event::ErrorReply { conn, reply } => Some(Input::ClientRequestRejected { conn, reply }),
            Event::Closed { conn } => {
                self.conns.remove(&conn);
                Some(Input::ClientClosed { conn })
            }
            Event::Persisted { token } => Some(Input::Persisted { token }),
            Event::Stats(reply) => {
                // The asker may have gone away; nothing to do then.
                let _ = reply.send(self.stats(replica));
                None
            }
            // Handled by the loop before this is called.
            Event::StorageFailed(_) => None,
        }
    }

    fn stats(&self, replica: &Replica) -> Stats {
        let ms = |ns: u64| ns as f64 / 1e6;
        let (min, avg, max) = if self.latency_count == 0 {
            (0.0, 0.0, 0.0)
        } else {
            (
                ms(self.latency_min_ns),
                self.latency_sum_ns as f64 / self.latency_count as f64 / 1e6,
                ms(self.latency_max_ns),
            )
        };
        let mode = match replica.serving_leader() {
            None => Mode::NotServing,
            Some(_) if !self.ensemble => Mode::Standalone,
            Some((leader, _)) if leader == replica.id() => Mode::Leader,
            Some(_) => Mode::Follower,
        };
        Stats {
            mode,
            learners: replica.learner_counts(),
            digest: replica.tree().digest(),
            received: self.received,
            sent: self.sent,
            outstanding: self.conns.values().map(|c| c.pending.len()).sum(),
            zxid: replica.applied_zxid(),
            node_count: replica.tree().node_count(),
            latency_min_ms: min,
            latency_avg_ms: avg,
            latency_max_ms: max,
            clients: self
                .conns
                .values()
                .map(|c| ClientStats {
                    peer: c.peer,
                    queued: c.pending.len(),
                    received: c.received,
                    sent: c.sent,
                })
                .collect(),
            watches: replica.watches().zookeeper_counts(),
            sessions: replica.tree().sessions().len(),
            ephemerals: replica
                .tree()
                .sessions()
                .keys()
                .map(|s| replica.tree().get_ephemerals(*s, "/").len())
                .sum(),
        }
    }

    /// Drains every output: storage ops go to the storage thread as one batch, client
    /// outputs to their connection's queue.
    fn drain(&mut self, replica: &mut Replica, storage: &StorageHandle, now: Nanos) {
        let mut ops = Vec::new();
        while let Some(out) = replica.poll_output() {
            match StorageOp::from_output(out) {
                Ok(op) => ops.push(op),
                // Only the frozen view crosses here; the snapshot thread serializes it.
                Err(Output::Snapshot { zxid, view }) => storage.snapshot(zxid, view),
                Err(Output::ConnectResponse { conn, response }) => {
                    self.route(conn, ConnOut::Connect(response))
                }
                Err(Output::Reply { conn, header, body }) => {
                    self.record_reply(conn, header.xid, now);
                    self.route(conn, ConnOut::Reply(header, body));
                }
                Err(Output::Notify { conn, zxid, event }) => {
                    self.route(conn, ConnOut::Notify(zxid, event))
                }
                Err(Output::CloseClient { conn, reason }) => {
                    debug!(conn = conn.0, ?reason, "core closes client");
                    self.route(conn, ConnOut::Close);
                    self.conns.remove(&conn);
                }
                Err(Output::Send { to, msg }) => self.send_peer(to, msg),
                Err(Output::PauseReads { conn }) => self.set_paused(conn, true),
                Err(Output::ResumeReads { conn }) => self.set_paused(conn, false),
                // `from_output` returned every storage op as `Ok`.
                Err(other) => debug!(?other, "unexpected output"),
            }
        }
        if !ops.is_empty() {
            storage.commit(ops);
        }
    }

    fn record_reply(&mut self, conn: ConnId, xid: i32, now: Nanos) {
        self.sent += 1;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.sent += 1;
        let Some(i) = c.pending.iter().position(|(x, _)| *x == xid) else {
            return;
        };
        if let Some((_, t)) = c.pending.remove(i) {
            let ns = now.since(t);
            self.latency_count += 1;
            self.latency_sum_ns += u128::from(ns);
            self.latency_min_ns = self.latency_min_ns.min(ns);
            self.latency_max_ns = self.latency_max_ns.max(ns);
        }
    }

    /// Throttling: the connection's reader stops (or resumes) taking frames off its socket,
    /// so a client that keeps sending is slowed down by TCP flow control.
    fn set_paused(&mut self, conn: ConnId, paused: bool) {
        if let Some(c) = self.conns.get(&conn) {
            debug!(conn = conn.0, paused, "client reads");
            c.paused.send_replace(paused);
        }
    }

    /// Queues `out` for `conn`; a connection whose queue is full is closed as too slow.
    fn route(&mut self, conn: ConnId, out: ConnOut) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        match c.out.try_send(out) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(conn = conn.0, peer = %c.peer, "client output queue full; closing slow client");
                c.kill.notify_one();
                self.conns.remove(&conn);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.conns.remove(&conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::LinkSender;

    fn up(d: &mut Driver, peer: u64, link: u64, messages_max: usize) -> crate::peer::LinkReceiver {
        let (tx, rx) = LinkSender::channel(messages_max, usize::MAX);
        let ev = PeerEvent::Up {
            peer: ServerId(peer),
            link: LinkId(link),
            tx,
        };
        assert!(d.on_peer_event(ev).is_none());
        rx
    }

    fn msg(peer: u64, link: u64) -> PeerEvent {
        PeerEvent::Message {
            peer: ServerId(peer),
            link: LinkId(link),
            msg: PeerMessage::Ping,
        }
    }

    fn down(peer: u64, link: u64) -> PeerEvent {
        PeerEvent::Down {
            peer: ServerId(peer),
            link: LinkId(link),
        }
    }

    #[test]
    fn link_events_follow_the_core_contract() {
        let mut d = Driver::default();
        let _rx1 = up(&mut d, 2, 1, 8);
        assert!(matches!(
            d.deferred.pop_front(),
            Some(Input::PeerConnected { peer: ServerId(2) })
        ));
        assert!(matches!(
            d.on_peer_event(msg(2, 1)),
            Some(Input::Peer {
                from: ServerId(2),
                ..
            })
        ));
        // A newer link replaces the old: disconnect, then connect; the old link's late
        // messages and its close are not delivered.
        let _rx2 = up(&mut d, 2, 2, 8);
        assert!(matches!(
            d.deferred.pop_front(),
            Some(Input::PeerDisconnected { peer: ServerId(2) })
        ));
        assert!(matches!(
            d.deferred.pop_front(),
            Some(Input::PeerConnected { peer: ServerId(2) })
        ));
        assert!(d.on_peer_event(msg(2, 1)).is_none());
        assert!(d.on_peer_event(down(2, 1)).is_none());
        assert!(d.on_peer_event(msg(2, 2)).is_some());
        assert!(matches!(
            d.on_peer_event(down(2, 2)),
            Some(Input::PeerDisconnected { peer: ServerId(2) })
        ));
        assert!(d.links.is_empty());
        assert!(d.deferred.is_empty());
    }

    #[test]
    fn a_full_link_queue_drops_the_link_without_waiting() {
        let mut d = Driver::default();
        let mut rx = up(&mut d, 3, 7, 1);
        d.deferred.clear();
        d.send_peer(ServerId(3), PeerMessage::Ping);
        assert!(d.deferred.is_empty());
        d.send_peer(ServerId(3), PeerMessage::Ping);
        assert!(matches!(
            d.deferred.pop_front(),
            Some(Input::PeerDisconnected { peer: ServerId(3) })
        ));
        assert!(d.links.is_empty());
        // Later sends to the peer are dropped like on a broken connection.
        d.send_peer(ServerId(3), PeerMessage::Ping);
        assert!(d.deferred.is_empty());
        // The link's own close arrives later and is not reported twice.
        assert!(d.on_peer_event(down(3, 7)).is_none());
        // Exactly the one queued message reached the writer; the queue is now closed.
        assert!(rx.try_recv().is_some());
        assert!(rx.try_recv().is_none());
        // Sending to a peer that never connected is a no-op.
        d.send_peer(ServerId(9), PeerMessage::Ping);
        assert!(d.deferred.is_empty());
    }
}
