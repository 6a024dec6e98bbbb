//! Peer link keepalive over real sockets: an idle link to a peer that answers keepalives
//! stays up well past the idle timeout, and a peer that goes silent (socket open, nothing
//! sent or read: a frozen process or a dropped route) is detected, its link is closed
//! (`Down`), and the dialer reconnects.
//!
//! The other end is a hand-written peer speaking the link protocol (hello, frames), so the
//! test controls exactly when it answers.

use std::collections::BTreeMap;
use std::time::Duration;

use arbor_core::types::ServerId;
use arbor_net::peer::{self, PeerEvent, PeerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

const CLUSTER: u64 = 0xA5B0;
const KEEPALIVE: Duration = Duration::from_millis(50);
const IDLE: Duration = Duration::from_millis(300);
/// Bound on every wait for something that must happen.
const BOUND: Duration = Duration::from_secs(10);

/// The hello the fake server 1 answers with (link protocol version 2).
fn hello_from_1_to_2() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&30u32.to_be_bytes());
    b.extend_from_slice(b"ARBP");
    b.extend_from_slice(&2u16.to_be_bytes());
    b.extend_from_slice(&CLUSTER.to_be_bytes());
    b.extend_from_slice(&1u64.to_be_bytes());
    b.extend_from_slice(&2u64.to_be_bytes());
    b
}

/// Accepts the next link from server 2 and completes the handshake.
async fn accept_link(listener: &TcpListener) -> TcpStream {
    let (mut s, _) = tokio::time::timeout(BOUND, listener.accept())
        .await
        .expect("server 2 dials")
        .expect("accept");
    let mut hello = [0u8; 34];
    s.read_exact(&mut hello).await.expect("hello");
    assert_eq!(&hello[4..8], b"ARBP");
    s.write_all(&hello_from_1_to_2()).await.expect("answer");
    s
}

/// Reads one frame; `None` for a keepalive (empty frame).
async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let len = s.read_u32().await.expect("frame length");
    if len == 0 {
        return None;
    }
    let mut b = vec![0; len as usize];
    s.read_exact(&mut b).await.expect("frame");
    Some(b)
}

async fn next_event(rx: &mut mpsc::Receiver<PeerEvent>) -> PeerEvent {
    tokio::time::timeout(BOUND, rx.recv())
        .await
        .expect("an event in time")
        .expect("transport running")
}

#[tokio::test]
async fn idle_link_is_kept_alive_and_a_silent_peer_is_dropped_and_redialed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port1 = listener.local_addr().expect("addr").port();
    let members = BTreeMap::from([
        (ServerId(1), ("127.0.0.1".to_string(), port1)),
        (ServerId(2), ("127.0.0.1".to_string(), 0)),
    ]);
    let opts = PeerOptions {
        id: ServerId(2),
        members,
        cluster_id: CLUSTER,
        max_frame_len: 1 << 20,
        queue_max: 64,
        queue_bytes_max: 1 << 20,
        keepalive: KEEPALIVE,
        idle_timeout: IDLE,
    };
    let (events_tx, mut events) = mpsc::channel(64);
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let transport = peer::start(opts, events_tx, shutdown).await.expect("start");

    // Server 2 (the higher id) dials us.
    let mut s = accept_link(&listener).await;
    // The queue stays held, as the core task holds it (dropping it closes the link).
    let PeerEvent::Up {
        peer,
        link,
        tx: _tx,
    } = next_event(&mut events).await
    else {
        panic!("first event is Up");
    };
    assert_eq!(peer, ServerId(1));

    // Idle, but alive: nothing is queued, so everything server 2 sends is keepalives; we
    // answer each. Twelve keepalive periods are twice the idle timeout.
    let mut keepalives = 0;
    while keepalives < 12 {
        let f = tokio::time::timeout(BOUND, read_frame(&mut s))
            .await
            .expect("a keepalive in time");
        assert_eq!(f, None, "only keepalives on an idle link");
        keepalives += 1;
        s.write_all(&0u32.to_be_bytes()).await.expect("keepalive");
    }
    assert!(
        events.try_recv().is_err(),
        "an idle link answering keepalives stays up"
    );

    // Silent: the socket stays open, but we neither read nor write any more.
    let PeerEvent::Down { peer, link: down } = next_event(&mut events).await else {
        panic!("a silent peer's link goes down");
    };
    assert_eq!((peer, down), (ServerId(1), link));

    // The dialer reconnects: a new link comes up.
    let _s2 = accept_link(&listener).await;
    let PeerEvent::Up {
        peer,
        link: again,
        tx: _tx2,
    } = next_event(&mut events).await
    else {
        panic!("the link comes back up");
    };
    assert_eq!(peer, ServerId(1));
    assert_ne!(again, link, "a new link");
    drop(s);
    transport.stop().await;
}
