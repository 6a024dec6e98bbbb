//! `arbor_net::client` against a real standalone server over real TCP and files: pipelined
//! requests answered in order with the right bodies, a server that goes away becomes an
//! error (not a hang), a silent server becomes a timeout, and a non-ZooKeeper peer is a
//! bad-frame error. Every wait is bounded by the client's io timeout.

use std::time::Duration;

use arbor_core::proto::jute::{
    CreateRequest, PathWatchRequest, Request, ResponseBody, SetDataRequest,
};
use arbor_core::types::{Acl, OpCode};
use arbor_net::client::{Client, ClientError, ClientOptions};
use arbor_net::server::{start, ServeOptions};
use tokio::io::AsyncWriteExt;

fn options(dir: &std::path::Path) -> ServeOptions {
    let mut o = ServeOptions::new("127.0.0.1:0".parse().expect("addr"), dir);
    o.tick = Duration::from_millis(200);
    o.min_session_timeout = Duration::from_millis(400);
    o.max_session_timeout = Duration::from_secs(30);
    o
}

fn client_opts() -> ClientOptions {
    ClientOptions {
        io_timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn pipelined_requests_are_answered_in_order_with_their_bodies() {
    let dir = tempfile::tempdir().expect("dir");
    rt().block_on(async {
        let server = start(options(dir.path())).await.expect("server starts");
        let mut c = Client::connect(server.local_addr(), client_opts())
            .await
            .expect("connect");
        assert_ne!(c.session_id().0, 0, "a session id was assigned");
        c.queue(&Request::Create(CreateRequest {
            path: "/p".into(),
            data: Some(b"0".to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
        }));
        let n = 50;
        for i in 1..=n {
            c.queue(&Request::SetData(SetDataRequest {
                path: "/p".into(),
                data: Some(format!("{i}").into_bytes()),
                version: -1,
            }));
        }
        c.queue(&Request::GetData(PathWatchRequest {
            path: "/p".into(),
            watch: false,
        }));
        c.queue(&Request::GetData(PathWatchRequest {
            path: "/missing".into(),
            watch: false,
        }));
        assert_eq!(c.pending(), n + 3);
        let first = c.next_reply().await.expect("create reply");
        assert_eq!((first.op, first.header.err), (OpCode::Create, 0));
        let mut last_xid = first.xid;
        for i in 1..=n {
            let r = c.next_reply().await.expect("setData reply");
            assert!(r.xid > last_xid, "replies come back in request order");
            last_xid = r.xid;
            match r.body {
                Some(ResponseBody::Stat(s)) => assert_eq!(s.version, i as i32),
                other => panic!("setData body {other:?}"),
            }
        }
        let get = c.next_reply().await.expect("getData reply");
        match get.body {
            Some(ResponseBody::GetData(d)) => {
                assert_eq!(d.data.as_deref(), Some(format!("{n}").as_bytes()))
            }
            other => panic!("getData body {other:?}"),
        }
        let missing = c.next_reply().await.expect("getData reply");
        assert_eq!(missing.header.err, -101, "NoNode");
        assert_eq!(c.pending(), 0);
        c.close().await.expect("closeSession answered");
        server.shutdown_handle().shutdown();
        server.wait().await.expect("clean stop");
    });
}

#[test]
fn a_server_that_goes_away_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().expect("dir");
    rt().block_on(async {
        let server = start(options(dir.path())).await.expect("server starts");
        let addr = server.local_addr();
        let mut c = Client::connect(addr, client_opts()).await.expect("connect");
        server.shutdown_handle().shutdown();
        server.wait().await.expect("clean stop");
        c.queue(&Request::Exists(PathWatchRequest {
            path: "/".into(),
            watch: false,
        }));
        let err = c.next_reply().await.expect_err("server is gone");
        assert!(
            matches!(err, ClientError::Closed { .. } | ClientError::Io(_)),
            "unexpected error {err:?}"
        );
        let again = Client::connect(addr, client_opts()).await;
        assert!(again.is_err(), "nothing listens any more");
    });
}

#[test]
fn a_silent_server_is_a_timeout_and_garbage_is_a_frame_error() {
    rt().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let opts = ClientOptions {
            io_timeout: Duration::from_millis(300),
            ..ClientOptions::default()
        };
        let accept = tokio::spawn(async move {
            let (silent, _) = listener.accept().await.expect("accept");
            let (mut garbage, _) = listener.accept().await.expect("accept");
            // A negative frame length: not a ZooKeeper server.
            garbage
                .write_all(&[0xff, 0xff, 0xff, 0xf0, 1, 2, 3])
                .await
                .expect("write");
            (silent, garbage)
        });
        let err = Client::connect(addr, opts).await.err().expect("times out");
        assert!(matches!(err, ClientError::Timeout(_)), "got {err:?}");
        let err = Client::connect(addr, opts).await.err().expect("bad frame");
        assert!(matches!(err, ClientError::Frame(_)), "got {err:?}");
        drop(accept.await.expect("acceptor"));
    });
}
