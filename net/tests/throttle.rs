//! Load throttles clients, it does not disconnect them (ZooKeeper's `globalOutstandingLimit`):
//! thousands of pipelined writes from real sockets against a real standalone server, on one
//! connection and on several at once, are all answered in order, with no disconnect. The
//! server is past its proposal window (1000) and its outstanding limit (1000) throughout, so
//! it queues writes and pauses reading the connections, and TCP backpressure slows the
//! clients down.

use std::net::SocketAddr;
use std::time::Duration;

use arbor_core::proto::jute::{
    decode_connect_response, decode_reply, encode_connect_request, encode_request, next_frame,
    ConnectRequest, CreateRequest, Request, SetDataRequest,
};
use arbor_core::types::{Acl, OpCode, SessionId, Zxid};
use arbor_net::server::{start, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_FRAME: u32 = 4 * 1024 * 1024;

fn options(dir: &std::path::Path) -> ServeOptions {
    let mut o = ServeOptions::new("127.0.0.1:0".parse().expect("addr"), dir);
    o.tick = Duration::from_millis(200);
    o.min_session_timeout = Duration::from_millis(400);
    o.max_session_timeout = Duration::from_secs(30);
    o
}

/// One connection: the ConnectRequest, a create of `path` and `n` setData on it, all written
/// at once by a writer task while this task reads every reply. Returns the reply zxids
/// (panics on an error reply, a reply out of order, or the server closing the connection).
async fn pipeline_writes(addr: SocketAddr, path: String, n: i32) -> Vec<Zxid> {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let (mut rd, mut wr) = s.into_split();
    let mut out = Vec::new();
    let connect = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid::ZERO,
        timeout_ms: 30_000,
        session_id: SessionId(0),
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    encode_connect_request(&connect, &mut out);
    let create = Request::Create(CreateRequest {
        path: path.clone(),
        data: Some(Vec::new()),
        acl: Acl::open_unsafe(),
        flags: 0,
    });
    encode_request(1, &create, &mut out);
    for xid in 2..=n + 1 {
        let set = Request::SetData(SetDataRequest {
            path: path.clone(),
            data: Some(format!("{xid}").into_bytes()),
            version: -1,
        });
        encode_request(xid, &set, &mut out);
    }
    let writer = tokio::spawn(async move {
        wr.write_all(&out).await.expect("write requests");
        wr // the connection stays open until the reader is done
    });
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut connected = false;
    let mut next_xid = 1;
    let mut zxids = Vec::new();
    while next_xid <= n + 1 {
        let mut start = 0;
        while let Some(f) = next_frame(&buf[start..], MAX_FRAME).expect("frame") {
            let payload = &buf[start + f.payload.start..start + f.payload.end];
            start += f.consumed;
            if !connected {
                let r = decode_connect_response(payload).expect("connect response");
                assert!(r.timeout_ms > 0, "session refused");
                connected = true;
                continue;
            }
            let op = if next_xid == 1 {
                OpCode::Create
            } else {
                OpCode::SetData
            };
            let reply = decode_reply(payload, op).expect("reply");
            assert_eq!(
                reply.header.xid, next_xid,
                "{path}: replies in request order"
            );
            assert_eq!(reply.header.err, 0, "{path}: xid {next_xid} failed");
            zxids.push(reply.header.zxid);
            next_xid += 1;
        }
        buf.drain(..start);
        if next_xid > n + 1 {
            break;
        }
        let got = rd.read_buf(&mut buf).await.expect("read");
        assert!(
            got > 0,
            "{path}: the server closed the connection after {} of {} replies",
            next_xid - 1,
            n + 1
        );
    }
    drop(writer.await.expect("writer"));
    zxids
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn four_thousand_pipelined_writes_on_one_connection_are_all_answered() {
    let dir = tempfile::tempdir().expect("dir");
    rt().block_on(async {
        let server = start(options(dir.path())).await.expect("server starts");
        let run = pipeline_writes(server.local_addr(), "/one".into(), 4_000);
        let zxids = tokio::time::timeout(Duration::from_secs(120), run)
            .await
            .expect("all replies within the bound");
        assert_eq!(zxids.len(), 4_001);
        assert!(
            zxids.windows(2).all(|w| w[0] < w[1]),
            "one commit each, in order"
        );
        server.shutdown_handle().shutdown();
        server.wait().await.expect("clean stop");
    });
}

#[test]
fn pipelined_writes_on_eight_connections_at_once_are_all_answered() {
    let dir = tempfile::tempdir().expect("dir");
    rt().block_on(async {
        let server = start(options(dir.path())).await.expect("server starts");
        let addr = server.local_addr();
        let tasks: Vec<_> = (0..8)
            .map(|k| tokio::spawn(pipeline_writes(addr, format!("/c{k}"), 500)))
            .collect();
        let all = async {
            let mut zxids = Vec::new();
            for t in tasks {
                zxids.extend(t.await.expect("connection task"));
            }
            zxids
        };
        let mut zxids = tokio::time::timeout(Duration::from_secs(120), all)
            .await
            .expect("all replies within the bound");
        assert_eq!(zxids.len(), 8 * 501);
        zxids.sort();
        zxids.dedup();
        assert_eq!(zxids.len(), 8 * 501, "every write is its own transaction");
        server.shutdown_handle().shutdown();
        server.wait().await.expect("clean stop");
    });
}
