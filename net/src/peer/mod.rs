//! The peer transport: one TCP link per pair of ensemble members, carrying Zab's
//! [`PeerMessage`]s to and from the core task.
//!
//! Role: turn `server.N` addresses into FIFO links, the shape the core contract assumes
//! (ARCHITECTURE, "The core contract"). Inputs: TCP connections on this server's peer port
//! (the `peerPort` of its `server.N` line; the `electionPort` is not used: Arbor runs leader
//! election over the same link), outgoing connects, and the messages the core task queues on
//! a link. Outputs: [`PeerEvent`]s to the core task, in order per link: `Up` (with the
//! link's bounded send queue), every received message, then `Down`.
//!
//! Rules:
//! - **One link per pair**: the server with the higher id dials, the lower one accepts. An
//!   accepted hello from a lower id, an unknown id or for another server is refused. A new
//!   accepted link from a peer replaces the old one (the dialer only dials when it lost its
//!   link, so the old one is dead or dying); the core task closes the old link and reports
//!   `PeerDisconnected` then `PeerConnected`.
//! - **Handshake** ([`wire::Hello`]): magic, link version, cluster id, sender and receiver
//!   ids, both ways, within [`HANDSHAKE_TIMEOUT`]. A mismatch is a `warn!` and a close.
//! - **Reconnect**: a dialer retries with exponential backoff from [`BACKOFF_MIN`] to
//!   [`BACKOFF_MAX`], each delay with up to 50% random jitter.
//! - **Bounded**: frames above `max_frame_len` are refused (the link closes with a `warn!`);
//!   each link's send queue holds at most `queue_max` messages and `queue_bytes_max` encoded
//!   bytes (one larger message, e.g. a SNAP, is let through an empty queue), and the core
//!   task drops a link whose queue is full rather than wait (Zab resynchronizes the peer
//!   when it reconnects). Messages are encoded by [`LinkSender::send`], so the byte count
//!   is exact.
//! - **Keepalive**: a link's writer sends an empty frame after `keepalive` without sending
//!   anything, and a link on which nothing arrived for `idle_timeout` is closed (`Down`; the
//!   dialer then reconnects). ZooKeeper bounds every quorum socket read by syncLimit ×
//!   tickTime the same way; without it a peer that vanished without a FIN or RST (power
//!   loss, a dropped route) would hold a dead link until TCP gave up, minutes later.
//! - **Hostile bytes** close that link only, with a `warn!`; nothing here panics on input.

pub mod wire;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arbor_core::types::ServerId;
use arbor_core::zab::message::{encode_peer, PeerMessage};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use crate::rt::JoinSet;

pub use wire::PeerLinkError;
pub use wire::LINK_VERSION;
use wire::{read_frame, read_message, write_frame, write_keepalive, Hello};

/// Read buffer of a peer link (frames behind one another come from one `recv`).
const READ_BUFFER: usize = 64 * 1024;

/// How long a new connection may take to complete the hello exchange.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// First reconnect delay.
pub const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Largest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Default largest frame: snapshots travel in one SNAP message, so this bounds the tree a
/// follower can be synced with.
pub const MAX_FRAME_LEN_DEFAULT: u32 = 512 * 1024 * 1024;
/// Accepted peer connections (handshaking or linked) beyond which new ones are refused.
pub const PEER_CONNS_MAX: usize = 256;
/// Default messages queued per link before the link is dropped as too slow.
pub const QUEUE_MAX_DEFAULT: usize = 16 * 1024;
/// Default encoded bytes queued per link before the link is dropped as too slow.
pub const QUEUE_BYTES_MAX_DEFAULT: usize = 64 * 1024 * 1024;

/// The core task's end of one link: encodes messages and queues them without waiting.
#[derive(Clone, Debug)]
pub struct LinkSender {
    tx: mpsc::Sender<Vec<u8>>,
    queued_bytes: Arc<AtomicUsize>,
    bytes_max: usize,
    /// Dropped with the last clone: tells the link to close even while its writer is
    /// blocked on a peer that stopped reading.
    _alive: Arc<oneshot::Sender<()>>,
}

/// Why [`LinkSender::send`] did not queue a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkSendError {
    /// The link is gone.
    Closed,
    /// The queue is at its message or byte bound: the peer is too slow.
    Full,
}

impl LinkSender {
    /// A sender and the receiving end its writer drains (for tests of the core task).
    pub fn channel(messages_max: usize, bytes_max: usize) -> (LinkSender, LinkReceiver) {
        let (tx, rx) = mpsc::channel(messages_max);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let (alive_tx, alive_rx) = oneshot::channel();
        let s = LinkSender {
            tx,
            queued_bytes: queued_bytes.clone(),
            bytes_max,
            _alive: Arc::new(alive_tx),
        };
        let r = LinkReceiver {
            rx,
            queued_bytes,
            alive: Some(alive_rx),
        };
        (s, r)
    }

    /// Encodes `msg` and queues it, or says why not; never waits.
    pub fn send(&self, msg: &PeerMessage) -> Result<(), LinkSendError> {
        if self.tx.is_closed() {
            return Err(LinkSendError::Closed);
        }
        let bytes = encode_peer(msg);
        let len = bytes.len();
        let queued = self.queued_bytes.load(Ordering::Relaxed);
        if queued > 0 && queued.saturating_add(len) > self.bytes_max {
            return Err(LinkSendError::Full);
        }
        self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        match self.tx.try_send(bytes) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                Err(match e {
                    mpsc::error::TrySendError::Full(_) => LinkSendError::Full,
                    mpsc::error::TrySendError::Closed(_) => LinkSendError::Closed,
                })
            }
        }
    }
}

/// The writer's end of a link queue.
#[derive(Debug)]
pub struct LinkReceiver {
    rx: mpsc::Receiver<Vec<u8>>,
    queued_bytes: Arc<AtomicUsize>,
    alive: Option<oneshot::Receiver<()>>,
}

impl LinkReceiver {
    /// The next encoded message (waits); `None` once every sender is dropped.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        let b = self.rx.recv().await?;
        self.queued_bytes.fetch_sub(b.len(), Ordering::Relaxed);
        Some(b)
    }

    /// A future that resolves once every [`LinkSender`] clone is gone (the core dropped the
    /// link), split off so the writer can own the queue while the link waits on it.
    pub fn take_abandoned(&mut self) -> impl std::future::Future<Output = ()> {
        let rx = self.alive.take();
        async move {
            if let Some(rx) = rx {
                let _ = rx.await;
            } else {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The next encoded message if one is queued.
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        let b = self.rx.try_recv().ok()?;
        self.queued_bytes.fetch_sub(b.len(), Ordering::Relaxed);
        Some(b)
    }
}

/// Identifies one link incarnation (a new TCP connection gets a new id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkId(pub u64);

/// What the transport tells the core task, in order per link.
#[derive(Debug)]
pub enum PeerEvent {
    /// A link to `peer` completed its handshake; `tx` queues messages on it.
    Up {
        /// The peer.
        peer: ServerId,
        /// This link.
        link: LinkId,
        /// The link's bounded send queue (dropping every clone closes the link).
        tx: LinkSender,
    },
    /// A message arrived on `link`.
    Message {
        /// The peer.
        peer: ServerId,
        /// The link it came on.
        link: LinkId,
        /// The message.
        msg: PeerMessage,
    },
    /// `link` closed (messages queued on it are lost).
    Down {
        /// The peer.
        peer: ServerId,
        /// The link.
        link: LinkId,
    },
}

/// Where the peers are and how links behave.
#[derive(Clone, Debug)]
pub struct PeerOptions {
    /// This server.
    pub id: ServerId,
    /// Every member (this one included): host and peer port.
    pub members: BTreeMap<ServerId, (String, u16)>,
    /// Ensemble identity checked in the handshake.
    pub cluster_id: u64,
    /// Largest frame accepted or sent.
    pub max_frame_len: u32,
    /// Messages queued per link.
    pub queue_max: usize,
    /// Encoded bytes queued per link.
    pub queue_bytes_max: usize,
    /// A link that sent nothing for this long sends a keepalive frame.
    pub keepalive: Duration,
    /// A link that received nothing (keepalives included) for this long is closed.
    pub idle_timeout: Duration,
}

/// The running transport (its tasks stop on shutdown or when dropped with the runtime).
#[derive(Debug)]
pub struct PeerTransport {
    local_addr: SocketAddr,
    tasks: JoinSet<()>,
}

impl PeerTransport {
    /// The bound peer address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops every task of the transport (links close).
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Binds this server's peer port and starts the acceptor and one dialer per lower-id peer.
pub async fn start(
    opts: PeerOptions,
    events: mpsc::Sender<PeerEvent>,
    shutdown: watch::Receiver<bool>,
) -> Result<PeerTransport, std::io::Error> {
    let (host, port) = opts.members.get(&opts.id).cloned().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "this server is not a member",
        )
    })?;
    let listener = TcpListener::bind((host.as_str(), port)).await?;
    let local_addr = listener.local_addr()?;
    info!(addr = %local_addr, members = opts.members.len(), "peer port listening");
    let shared = Arc::new(Shared {
        opts,
        events,
        next_link: AtomicU64::new(1),
    });
    let mut tasks = JoinSet::new();
    tasks.spawn(accept_loop(listener, shared.clone(), shutdown.clone()));
    for (&peer, (host, port)) in &shared.opts.members {
        if peer < shared.opts.id {
            tasks.spawn(dial_loop(
                peer,
                host.clone(),
                *port,
                shared.clone(),
                shutdown.clone(),
            ));
        }
    }
    Ok(PeerTransport { local_addr, tasks })
}

/// A stable id for an ensemble: FNV-1a over the sorted `server.N` entries (id, host, peer
/// port, election port, role). Members configured alike agree; a server from another
/// ensemble (or with a different member list) is refused at the handshake.
pub fn derive_cluster_id<'a>(
    entries: impl IntoIterator<Item = (ServerId, &'a str, u16, u16, &'a str)>,
) -> u64 {
    let mut v: Vec<_> = entries.into_iter().collect();
    v.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (id, host, peer, election, role) in v {
        mix(&id.0.to_be_bytes());
        mix(host.as_bytes());
        mix(&[0]);
        mix(&peer.to_be_bytes());
        mix(&election.to_be_bytes());
        mix(role.as_bytes());
        mix(&[0xFF]);
    }
    h
}

struct Shared {
    opts: PeerOptions,
    events: mpsc::Sender<PeerEvent>,
    next_link: AtomicU64,
}

impl Shared {
    fn hello_to(&self, to: ServerId) -> Hello {
        Hello {
            version: LINK_VERSION,
            cluster_id: self.opts.cluster_id,
            from: self.opts.id,
            to,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            a = listener.accept() => a,
            // Reap finished link tasks so the set stays small.
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        match accepted {
            Ok((stream, addr)) if conns.len() >= PEER_CONNS_MAX => {
                // A real ensemble holds one link per member; this many is a flood.
                warn!(%addr, open = conns.len(), "too many peer connections; refused");
                drop(stream);
            }
            Ok((stream, addr)) => {
                let shared = shared.clone();
                conns.spawn(async move {
                    match accept_handshake(stream, &shared).await {
                        Ok((stream, peer)) => run_link(stream, peer, &shared).await,
                        Err(e) => warn!(%addr, error = %e, "peer connection refused"),
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!(error = %e, "peer accept failed");
                tokio::time::sleep(BACKOFF_MIN).await;
            }
        }
    }
    conns.shutdown().await;
}

async fn accept_handshake(
    mut stream: TcpStream,
    shared: &Shared,
) -> Result<(TcpStream, ServerId), PeerLinkError> {
    let fut = async {
        let bytes = read_frame(&mut stream, wire::HELLO_LEN as u32).await?;
        let hello = Hello::decode(&bytes)?;
        let me = shared.opts.id;
        hello.check(shared.opts.cluster_id, me, |from| {
            if !shared.opts.members.contains_key(&from) {
                Err("not a member of this ensemble")
            } else if from <= me {
                Err("the higher id dials; this server dials that one")
            } else {
                Ok(())
            }
        })?;
        write_frame(
            &mut stream,
            &shared.hello_to(hello.from).encode(),
            wire::HELLO_LEN as u32,
        )
        .await?;
        stream.flush().await?;
        Ok::<_, PeerLinkError>(hello.from)
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, fut).await {
        Ok(Ok(peer)) => Ok((stream, peer)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(PeerLinkError::HandshakeTimeout),
    }
}

async fn dial_loop(
    peer: ServerId,
    host: String,
    port: u16,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_MIN;
    let mut failures = 0u64;
    loop {
        let attempt = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            r = dial(peer, &host, port, &shared) => r,
        };
        match attempt {
            Ok(stream) => {
                failures = 0;
                backoff = BACKOFF_MIN;
                tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => return,
                    () = run_link(stream, peer, &shared) => {}
                }
            }
            Err(e) => {
                failures += 1;
                // The first failure says why; repeats (a peer that is down) stay at debug.
                if failures == 1 {
                    info!(peer = %peer, %host, port, error = %e, "cannot reach peer; retrying");
                } else {
                    debug!(peer = %peer, error = %e, failures, "peer still unreachable");
                }
            }
        }
        let delay = jittered(backoff);
        backoff = (backoff * 2).min(BACKOFF_MAX);
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

async fn dial(
    peer: ServerId,
    host: &str,
    port: u16,
    shared: &Shared,
) -> Result<TcpStream, PeerLinkError> {
    let fut = async {
        let mut stream = TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        write_frame(
            &mut stream,
            &shared.hello_to(peer).encode(),
            wire::HELLO_LEN as u32,
        )
        .await?;
        stream.flush().await?;
        let bytes = read_frame(&mut stream, wire::HELLO_LEN as u32).await?;
        let hello = Hello::decode(&bytes)?;
        hello.check(shared.opts.cluster_id, shared.opts.id, |from| {
            if from == peer {
                Ok(())
            } else {
                Err("answered by another server than the one dialed")
            }
        })?;
        Ok::<_, PeerLinkError>(stream)
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, fut).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e @ (PeerLinkError::ClusterId { .. } | PeerLinkError::Ids { .. }))) => {
            warn!(peer = %peer, error = %e, "peer handshake refused");
            Err(e)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(PeerLinkError::HandshakeTimeout),
    }
}

/// Runs one established link until either direction fails or the core drops its queue:
/// `Up`, the received messages, then `Down`.
async fn run_link(stream: TcpStream, peer: ServerId, shared: &Shared) {
    let link = LinkId(shared.next_link.fetch_add(1, Ordering::Relaxed));
    // Small frames (ACK, COMMIT) must not wait for Nagle.
    if let Err(e) = stream.set_nodelay(true) {
        debug!(peer = %peer, error = %e, "set_nodelay failed");
    }
    let (mut rd, wr) = crate::rt::split(stream);
    let (tx, mut rx) = LinkSender::channel(shared.opts.queue_max, shared.opts.queue_bytes_max);
    let abandoned = rx.take_abandoned();
    if shared
        .events
        .send(PeerEvent::Up { peer, link, tx })
        .await
        .is_err()
    {
        return; // the core task is gone: shutting down
    }
    info!(peer = %peer, link = link.0, "peer link up");
    let max = shared.opts.max_frame_len;
    let events = &shared.events;
    let (keepalive, idle) = (shared.opts.keepalive, shared.opts.idle_timeout);
    // When bytes last arrived, as ns since `base` (any progress counts: a large SNAP frame
    // that keeps arriving is not silence).
    let base = tokio::time::Instant::now();
    let heard = AtomicU64::new(0);
    // Buffered: a frame's length and body (and the frames behind it) come from one read
    // instead of two `recv` calls per frame.
    let mut rd = tokio::io::BufReader::with_capacity(
        READ_BUFFER,
        Heard {
            inner: &mut rd,
            base,
            heard: &heard,
        },
    );
    let watchdog = async {
        loop {
            let last = base + Duration::from_nanos(heard.load(Ordering::Relaxed));
            if last.elapsed() >= idle {
                return Err::<(), _>(PeerLinkError::Silent(idle));
            }
            tokio::time::sleep_until(last + idle).await;
        }
    };
    let reader = async {
        loop {
            let msg = read_message(&mut rd, max).await?;
            match events.try_send(PeerEvent::Message { peer, link, msg }) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                Err(mpsc::error::TrySendError::Full(ev)) => {
                    if events.send(ev).await.is_err() {
                        return Ok(());
                    }
                    // Time spent waiting for the core task to take the message is not
                    // silence.
                    let ns = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    heard.store(ns, Ordering::Relaxed);
                }
            }
        }
    };
    let writer = async {
        let mut w = BufWriter::new(wr);
        loop {
            let bytes = match tokio::time::timeout(keepalive, rx.recv()).await {
                Ok(Some(bytes)) => bytes,
                Ok(None) => break,
                Err(_) => {
                    write_keepalive(&mut w).await?;
                    w.flush().await?;
                    continue;
                }
            };
            write_frame(&mut w, &bytes, max).await?;
            // Batch what is already queued, then flush once.
            while let Some(bytes) = rx.try_recv() {
                write_frame(&mut w, &bytes, max).await?;
            }
            w.flush().await?;
        }
        Ok::<(), PeerLinkError>(())
    };
    let ended: Result<(), PeerLinkError> = tokio::select! {
        () = abandoned => Ok(()),
        r = reader => r,
        w = writer => w,
        s = watchdog => s,
    };
    match ended {
        Ok(()) => info!(peer = %peer, link = link.0, "peer link closed"),
        Err(PeerLinkError::Io(e)) => {
            info!(peer = %peer, link = link.0, error = %e, "peer link closed")
        }
        Err(e @ PeerLinkError::Silent(_)) => {
            warn!(peer = %peer, link = link.0, error = %e, "peer link closed: peer silent")
        }
        Err(e) => warn!(peer = %peer, link = link.0, error = %e, "peer link closed: bad input"),
    }
    // Fails only when the core task is gone, which needs no report.
    let _ = events.send(PeerEvent::Down { peer, link }).await;
}

/// A read half that records when bytes last arrived (for the idle watchdog).
struct Heard<'a, R> {
    inner: &'a mut R,
    base: tokio::time::Instant,
    heard: &'a AtomicU64,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Heard<'_, R> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut *this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let ns = u64::try_from(this.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            this.heard.store(ns, Ordering::Relaxed);
        }
        r
    }
}

/// `d` plus up to 50% random jitter (OS-seeded: `net` is allowed randomness).
fn jittered(d: Duration) -> Duration {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(d.as_nanos() as u64);
    let r = h.finish();
    let extra = d.as_nanos() as u64 / 2;
    if extra == 0 {
        return d;
    }
    d + Duration::from_nanos(r % extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_order_independent_and_sensitive_to_members() {
        let a = derive_cluster_id([
            (ServerId(1), "h1", 2888, 3888, "participant"),
            (ServerId(2), "h2", 2888, 3888, "participant"),
        ]);
        let b = derive_cluster_id([
            (ServerId(2), "h2", 2888, 3888, "participant"),
            (ServerId(1), "h1", 2888, 3888, "participant"),
        ]);
        let c = derive_cluster_id([
            (ServerId(1), "h1", 2888, 3888, "participant"),
            (ServerId(2), "h2", 2889, 3888, "participant"),
        ]);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[tokio::test]
    async fn link_queue_bounds_messages_and_bytes() {
        let ping = PeerMessage::Ping;
        let one = encode_peer(&ping).len();
        // Message bound.
        let (tx, mut rx) = LinkSender::channel(2, usize::MAX);
        tx.send(&ping).unwrap();
        tx.send(&ping).unwrap();
        assert_eq!(tx.send(&ping), Err(LinkSendError::Full));
        assert!(rx.recv().await.is_some());
        tx.send(&ping).unwrap();
        // Byte bound: a message larger than the bound passes an empty queue only.
        let (tx, mut rx) = LinkSender::channel(100, one);
        tx.send(&ping).unwrap();
        assert_eq!(tx.send(&ping), Err(LinkSendError::Full));
        assert_eq!(rx.recv().await.map(|b| b.len()), Some(one));
        tx.send(&ping).unwrap();
        drop(rx);
        assert_eq!(tx.send(&ping), Err(LinkSendError::Closed));
        // Dropping every sender clone signals the link even if nothing is read.
        let (tx, mut rx) = LinkSender::channel(1, usize::MAX);
        let tx2 = tx.clone();
        let abandoned = rx.take_abandoned();
        drop(tx);
        tx2.send(&ping).unwrap();
        drop(tx2);
        tokio::time::timeout(Duration::from_secs(5), abandoned)
            .await
            .expect("abandonment signalled");
    }

    #[test]
    fn jitter_stays_within_half() {
        for _ in 0..100 {
            let j = jittered(BACKOFF_MIN);
            assert!(j >= BACKOFF_MIN && j < BACKOFF_MIN * 3 / 2, "{j:?}");
        }
    }
}
