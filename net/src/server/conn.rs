//! Client connections: accept, four-letter words, handshake, request decoding, writer.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arbor_core::proto::jute::{
    decode_connect_request, decode_request, detect_four_letter_word, encode_connect_response,
    encode_notification, encode_reply, next_frame,
};
use arbor_core::types::ConnId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tracing::{debug, warn, Instrument};

use super::core_task::{ConnOut, Event};
use super::fourlw;
use crate::config::FourLetterWords;
use crate::rt::{OwnedReadHalf, OwnedWriteHalf};

/// What every connection task shares.
#[derive(Debug)]
pub(crate) struct ConnShared {
    pub events: mpsc::Sender<Event>,
    pub four_letter_words: FourLetterWords,
    pub max_frame_len: u32,
    pub conn_queue_max: usize,
    /// `maxClientCnxns`: connections per client IP (0 = unlimited).
    pub max_client_cnxns: u32,
    /// How long a new connection may take to send its ConnectRequest or four-letter word.
    pub handshake_timeout: Duration,
    /// The options the server runs with (for `conf`, `envi`, `dirs`).
    pub options: Arc<super::ServeOptions>,
    /// Open connections the core does not know yet (no ConnectRequest passed on: mid
    /// handshake, or asking a four-letter word). ZooKeeper counts and lists them in
    /// `srvr` / `stat` / `cons` / `mntr` too.
    pub sessionless: Mutex<BTreeMap<ConnId, SocketAddr>>,
}

/// Keeps a connection in [`ConnShared::sessionless`] until dropped.
struct Sessionless<'a> {
    shared: &'a ConnShared,
    conn: ConnId,
}

impl<'a> Sessionless<'a> {
    fn enter(shared: &'a ConnShared, conn: ConnId, peer: SocketAddr) -> Sessionless<'a> {
        // The critical sections only insert or remove: a poisoned lock still holds a
        // consistent map.
        let mut m = shared.sessionless.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(conn, peer);
        Sessionless { shared, conn }
    }
}

impl Drop for Sessionless<'_> {
    fn drop(&mut self) {
        let mut m = self
            .shared
            .sessionless
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.remove(&self.conn);
    }
}

/// Bytes written per syscall batch by the writer.
const WRITE_BATCH: usize = 64 * 1024;
/// How long a connection closing after an error reply may take to flush it.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: ConnShared,
    mut shutdown: watch::Receiver<bool>,
) {
    let shared = Arc::new(shared);
    let per_ip: Arc<Mutex<HashMap<IpAddr, u32>>> = Arc::default();
    let mut next = 1u64;
    loop {
        tokio::select! {
            _ = super::stopped(&mut shutdown) => return,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let Some(slot) = IpSlot::take(&per_ip, peer.ip(), shared.max_client_cnxns) else {
                        warn!(%peer, max = shared.max_client_cnxns, "too many connections from this address; closing");
                        drop(stream);
                        continue;
                    };
                    let conn = ConnId(next);
                    next += 1;
                    debug!(conn = conn.0, %peer, "accepted");
                    let shared = shared.clone();
                    let shutdown = shutdown.clone();
                    let span = tracing::info_span!("client", conn = conn.0, %peer);
                    tokio::spawn(
                        async move {
                            serve(stream, peer, conn, shared, shutdown).await;
                            drop(slot);
                        }
                        .instrument(span),
                    );
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// One counted connection from an IP; released on drop.
struct IpSlot {
    map: Arc<Mutex<HashMap<IpAddr, u32>>>,
    ip: IpAddr,
}

impl IpSlot {
    fn take(map: &Arc<Mutex<HashMap<IpAddr, u32>>>, ip: IpAddr, max: u32) -> Option<IpSlot> {
        // A poisoned lock means a panic while holding it, which cannot happen: the
        // critical sections below do not panic. Recover the data either way.
        let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if max != 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            map: map.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

enum ReadEnd {
    /// EOF, a socket error, a bad frame or the core gone: close now.
    Closed,
    /// An error reply with close-after was queued: flush, then close.
    CloseAfterReply,
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    conn: ConnId,
    shared: Arc<ConnShared>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Latency matters more than packet count for request/response traffic.
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = crate::rt::split(stream);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let handshake_deadline = tokio::time::Instant::now() + shared.handshake_timeout;
    let sessionless = Sessionless::enter(&shared, conn, peer);
    let request = loop {
        if let Some(word) = detect_four_letter_word(&buf) {
            fourlw::answer(word, conn, &mut wr, &shared).await;
            return;
        }
        match next_frame(&buf, shared.max_frame_len) {
            Err(e) => {
                warn!(conn = conn.0, %peer, error = %e, "bad handshake frame; closing connection");
                return;
            }
            Ok(Some(f)) => match decode_connect_request(&buf[f.payload.clone()]) {
                Ok(r) => {
                    buf.drain(..f.consumed);
                    break r;
                }
                Err(e) => {
                    warn!(conn = conn.0, %peer, error = %e, "malformed ConnectRequest; closing connection");
                    return;
                }
            },
            Ok(None) => {}
        }
        buf.reserve(4096);
        tokio::select! {
            _ = super::stopped(&mut shutdown) => return,
            _ = tokio::time::sleep_until(handshake_deadline) => {
                warn!(conn = conn.0, %peer, bytes = buf.len(), "no handshake in time; closing connection");
                return;
            }
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) => {
                    if !buf.is_empty() {
                        debug!(conn = conn.0, %peer, bytes = buf.len(), "closed mid-handshake");
                    }
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    debug!(conn = conn.0, %peer, error = %e, "read failed before handshake");
                    return;
                }
            }
        }
    };
    // From here on the core knows the connection.
    drop(sessionless);
    let (tx, rx) = mpsc::channel(shared.conn_queue_max);
    let kill = Arc::new(Notify::new());
    let (paused_tx, paused) = watch::channel(false);
    let connect = Event::Connect {
        conn,
        peer,
        request,
        out: tx,
        kill: kill.clone(),
        paused: paused_tx,
    };
    if shared.events.send(connect).await.is_err() {
        return;
    }
    // ZooKeeper reads nothing after the ConnectRequest until the session is set up
    // (ZooKeeperServer.processConnectRequest disables receive until finishSessionInit),
    // and clients rely on it: they pipeline auth packets and setWatches right behind the
    // ConnectRequest. So requests already buffered or still to come wait here until the
    // writer has taken the ConnectResponse, which the core emits once the session exists.
    let (answered_tx, answered_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write_loop(wr, rx, conn, Some(answered_tx)));
    let reader = async {
        if answered_rx.await.is_err() {
            // The writer ended without a ConnectResponse: the connection is going away.
            return ReadEnd::Closed;
        }
        read_loop(rd, buf, conn, peer, paused, &shared).await
    };
    tokio::pin!(reader);
    tokio::select! {
        end = &mut reader => {
            if let ReadEnd::CloseAfterReply = end {
                // Bounded: a client that does not read its error reply is just dropped.
                let _ = tokio::time::timeout(FLUSH_TIMEOUT, &mut writer).await;
            }
        }
        _ = &mut writer => {}
        _ = kill.notified() => debug!(conn = conn.0, "connection killed"),
        _ = super::stopped(&mut shutdown) => {}
    }
    writer.abort();
    // The core may be gone during shutdown; then nobody needs to know.
    let _ = shared.events.send(Event::Closed { conn }).await;
}

async fn read_loop(
    mut rd: OwnedReadHalf,
    mut buf: Vec<u8>,
    conn: ConnId,
    peer: SocketAddr,
    mut paused: watch::Receiver<bool>,
    shared: &ConnShared,
) -> ReadEnd {
    loop {
        let mut start = 0;
        loop {
            // Throttled by the core: take no frame (and read nothing from the socket) until
            // it resumes us. The client's sends then back up in TCP (ZooKeeper's disableRecv).
            // If the core dropped the connection (sender gone), the writer ends it.
            if paused.wait_for(|p| !*p).await.is_err() {
                std::future::pending::<()>().await;
            }
            match next_frame(&buf[start..], shared.max_frame_len) {
                Err(e) => {
                    warn!(conn = conn.0, %peer, error = %e, "bad frame; closing connection");
                    return ReadEnd::Closed;
                }
                Ok(None) => break,
                Ok(Some(f)) => {
                    let payload = &buf[start + f.payload.start..start + f.payload.end];
                    let decoded = decode_request(payload);
                    start += f.consumed;
                    match decoded {
                        Ok((header, request)) => {
                            let ev = Event::Request {
                                conn,
                                header,
                                request,
                            };
                            if shared.events.send(ev).await.is_err() {
                                return ReadEnd::Closed;
                            }
                        }
                        Err(e) => {
                            let Some(reply) = e.reply() else {
                                warn!(conn = conn.0, %peer, error = %e, "unreadable request header; closing connection");
                                return ReadEnd::Closed;
                            };
                            warn!(conn = conn.0, %peer, error = %e, close = reply.close_after, "undecodable request; answering with an error");
                            let close_after = reply.close_after;
                            // Through the core (Input::ClientRequestRejected), so that it is
                            // queued behind the replies to this connection's earlier
                            // requests, including writes the core has not answered yet.
                            let ev = Event::ErrorReply { conn, reply };
                            if shared.events.send(ev).await.is_err() {
                                return ReadEnd::Closed;
                            }
                            if close_after {
                                return ReadEnd::CloseAfterReply;
                            }
                        }
                    }
                }
            }
        }
        buf.drain(..start);
        buf.reserve(8192);
        match rd.read_buf(&mut buf).await {
            Ok(0) => {
                debug!(conn = conn.0, %peer, "client closed the connection");
                return ReadEnd::Closed;
            }
            Ok(_) => {}
            Err(e) => {
                debug!(conn = conn.0, %peer, error = %e, "read failed");
                return ReadEnd::Closed;
            }
        }
    }
}

/// Encodes `m` into `out`; true for `Close`.
fn encode(m: ConnOut, out: &mut Vec<u8>) -> bool {
    match m {
        ConnOut::Connect(r) => encode_connect_response(&r, out),
        ConnOut::Reply(h, body) => encode_reply(&h, body.as_deref(), out),
        ConnOut::Notify(zxid, event) => encode_notification(zxid, &event, out),
        ConnOut::Close => return true,
    }
    false
}

/// Writes what the core sends; `answered` fires once the ConnectResponse is taken.
async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<ConnOut>,
    conn: ConnId,
    mut answered: Option<oneshot::Sender<()>>,
) {
    let mut out = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut seen_connect = matches!(first, ConnOut::Connect(_));
        let mut close = encode(first, &mut out);
        while !close && out.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(m) => {
                    seen_connect |= matches!(m, ConnOut::Connect(_));
                    close = encode(m, &mut out)
                }
                Err(_) => break,
            }
        }
        if seen_connect && !close {
            if let Some(tx) = answered.take() {
                // The reader may be gone already; then nobody waits.
                let _ = tx.send(());
            }
        }
        // The flush is a no-op on a tokio socket; madsim's simulated TCP sends on flush.
        if let Err(e) = async {
            wr.write_all(&out).await?;
            wr.flush().await
        }
        .await
        {
            debug!(conn = conn.0, error = %e, "write failed");
            return;
        }
        out.clear();
        if close {
            // The peer may already be gone; the connection ends either way.
            let _ = wr.shutdown().await;
            return;
        }
    }
}
