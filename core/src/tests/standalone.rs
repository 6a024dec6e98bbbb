//! A 1-voter ensemble: the handshake, the request pipeline, sessions.

use super::harness::{Cluster, TICK_NS};
use crate::proto::jute::{
    CheckVersionRequest, ConnectRequest, CreateRequest, GetDataResponse, PathResponse,
    PathWatchRequest, ReplyHeader, Request, ResponseBody, SetDataRequest,
};
use crate::replica::{CloseReason, Input, LogRecord, Output};
use crate::session::session_password;
use crate::types::{Acl, ConnId, ErrorCode, SessionId, Zxid};

fn create(path: &str, data: &[u8]) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

fn get(path: &str) -> Request {
    Request::GetData(PathWatchRequest {
        path: path.into(),
        watch: false,
    })
}

fn reply_of(o: &Output) -> (ReplyHeader, Option<ResponseBody>) {
    match o {
        Output::Reply { header, body, .. } => (*header, body.as_deref().cloned()),
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn standalone() -> Cluster {
    let mut c = Cluster::new(1);
    assert_eq!(c.elect(), 0);
    c
}

#[test]
fn standalone_elects_itself_and_serves() {
    let c = standalone();
    assert_eq!(c.nodes[0].role_name(), "leading");
    assert_eq!(
        c.nodes[0].epochs(),
        (crate::types::Epoch(1), crate::types::Epoch(1))
    );
}

#[test]
fn standalone_create_get_set_round_trip_with_stat_and_reply_order() {
    let mut c = standalone();
    let resp = c.connect(0, 1);
    assert_eq!(resp.timeout_ms, 1_000);
    assert_eq!(resp.read_only, Some(false));
    assert_eq!(
        resp.passwd,
        session_password(resp.session_id, c.cfgs[0].ensemble_secret)
    );
    let mark = c.client[0].len();
    c.send(0, 1, 1, create("/a", b"x"));
    c.send(0, 1, 2, get("/a"));
    c.send(
        0,
        1,
        3,
        Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(b"y".to_vec()),
            version: 0,
        }),
    );
    c.send(0, 1, 4, get("/a"));
    c.settle();
    let outs = c.client_since(0, 1, mark);
    assert_eq!(outs.len(), 4, "{outs:?}");
    let (h1, b1) = reply_of(&outs[0]);
    assert_eq!((h1.xid, h1.err), (1, 0));
    assert_eq!(
        b1,
        Some(ResponseBody::Create(PathResponse { path: "/a".into() }))
    );
    let create_zxid = h1.zxid;
    let (h2, b2) = reply_of(&outs[1]);
    assert_eq!(h2.xid, 2);
    let Some(ResponseBody::GetData(GetDataResponse { data, stat })) = b2 else {
        panic!()
    };
    assert_eq!(data.as_deref(), Some(&b"x"[..]));
    assert_eq!(
        (stat.czxid, stat.mzxid, stat.version),
        (create_zxid.0, create_zxid.0, 0)
    );
    let (h3, b3) = reply_of(&outs[2]);
    assert_eq!(h3.xid, 3);
    assert!(h3.zxid > create_zxid);
    let Some(ResponseBody::Stat(s3)) = b3 else {
        panic!()
    };
    assert_eq!(
        (s3.version, s3.mzxid, s3.czxid),
        (1, h3.zxid.0, create_zxid.0)
    );
    let (h4, b4) = reply_of(&outs[3]);
    assert_eq!((h4.xid, h4.zxid), (4, h3.zxid));
    let Some(ResponseBody::GetData(GetDataResponse { data, .. })) = b4 else {
        panic!()
    };
    assert_eq!(data.as_deref(), Some(&b"y"[..]));
}

#[test]
fn read_behind_pending_write_waits_for_it() {
    let mut c = standalone();
    c.connect(0, 1);
    c.auto_persist[0] = false;
    let outs = c.send(0, 1, 1, create("/a", b"x"));
    assert!(
        matches!(outs.as_slice(), [Output::Persist { records, .. }] if matches!(records.as_slice(), [LogRecord::Txn(_)]))
    );
    let outs = c.send(0, 1, 2, get("/a"));
    assert!(outs.is_empty(), "read must wait behind the write: {outs:?}");
    let token = c.disks[0].pending_tokens()[0];
    let outs = c.persist(0, token);
    assert_eq!(outs.len(), 2, "{outs:?}");
    assert_eq!(reply_of(&outs[0]).0.xid, 1);
    let (h, b) = reply_of(&outs[1]);
    assert_eq!(h.xid, 2);
    assert!(matches!(b, Some(ResponseBody::GetData(_))));
}

#[test]
fn failed_write_is_an_error_txn_and_consumes_a_zxid() {
    let mut c = standalone();
    c.connect(0, 1);
    let before = c.nodes[0].applied_zxid();
    let mark = c.client[0].len();
    c.send(0, 1, 1, get("/nope"));
    c.send(0, 1, 2, create("/a/b", b""));
    c.settle();
    let outs = c.client_since(0, 1, mark);
    assert_eq!(reply_of(&outs[0]).0.err, ErrorCode::NoNode.code());
    let (h, b) = reply_of(&outs[1]);
    assert_eq!(h.err, ErrorCode::NoNode.code());
    assert_eq!(b, None);
    assert_eq!(h.zxid, Zxid(before.0 + 1));
}

#[test]
fn ping_replies_with_xid_minus_two_and_last_zxid() {
    let mut c = standalone();
    c.connect(0, 1);
    let outs = c.send(0, 1, -2, Request::Ping);
    let (h, b) = reply_of(&outs[0]);
    assert_eq!((h.xid, h.err, h.zxid), (-2, 0, c.nodes[0].applied_zxid()));
    assert_eq!(b, None);
}

#[test]
fn top_level_check_is_unimplemented_then_close() {
    let mut c = standalone();
    c.connect(0, 1);
    let outs = c.send(
        0,
        1,
        5,
        Request::Check(CheckVersionRequest {
            path: "/".into(),
            version: 0,
        }),
    );
    assert_eq!(outs.len(), 2, "{outs:?}");
    assert_eq!(reply_of(&outs[0]).0.err, ErrorCode::Unimplemented.code());
    assert!(matches!(
        outs[1],
        Output::CloseClient {
            reason: CloseReason::ProtocolViolation,
            ..
        }
    ));
}

#[test]
fn connect_with_last_zxid_ahead_is_closed_without_response() {
    let mut c = standalone();
    let ahead = Zxid(c.nodes[0].applied_zxid().0 + 100);
    let r = c.connect_with(
        0,
        9,
        ConnectRequest {
            last_zxid_seen: ahead,
            timeout_ms: 1_000,
            passwd: vec![0; 16],
            ..Default::default()
        },
    );
    assert_eq!(r, None);
    assert!(matches!(
        c.client[0].last(),
        Some(Output::CloseClient {
            reason: CloseReason::StaleServer,
            ..
        })
    ));
}

#[test]
fn session_timeout_is_clamped_and_old_clients_get_no_read_only_byte() {
    let mut c = standalone();
    let r = c
        .connect_with(
            0,
            1,
            ConnectRequest {
                timeout_ms: 1,
                passwd: vec![],
                read_only: None,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r.timeout_ms, c.cfgs[0].session_timeout_ms_min);
    assert_eq!(r.read_only, None);
}

#[test]
fn session_resume_wrong_password_and_expiry() {
    let mut c = standalone();
    let r = c.connect(0, 1);
    let s = r.session_id;
    c.step(0, Input::ClientClosed { conn: ConnId(1) });
    // Resume with id + password.
    let again = c
        .connect_with(
            0,
            2,
            ConnectRequest {
                session_id: s,
                passwd: r.passwd.clone(),
                timeout_ms: 1_000,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((again.session_id, again.timeout_ms), (s, 1_000));
    // Wrong password: timeOut 0, id 0, zero password, then close.
    let bad = c
        .connect_with(
            0,
            3,
            ConnectRequest {
                session_id: s,
                passwd: vec![1; 16],
                timeout_ms: 1_000,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (bad.timeout_ms, bad.session_id, bad.passwd),
        (0, SessionId(0), vec![0; 16])
    );
    assert!(matches!(
        c.client[0].last(),
        Some(Output::CloseClient {
            reason: CloseReason::InvalidSession,
            ..
        })
    ));
    // Let the session expire: the leader issues closeSession; the connection is closed.
    c.step(0, Input::ClientClosed { conn: ConnId(2) });
    c.advance(20 * TICK_NS);
    assert!(
        !c.nodes[0].tree().sessions().contains_key(&s),
        "session not expired"
    );
    let gone = c
        .connect_with(
            0,
            4,
            ConnectRequest {
                session_id: s,
                passwd: r.passwd,
                timeout_ms: 1_000,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(gone.timeout_ms, 0);
}

#[test]
fn touched_session_does_not_expire_and_expiry_deletes_ephemerals() {
    let mut c = standalone();
    let r = c.connect(0, 1);
    c.send(
        0,
        1,
        1,
        Request::Create(CreateRequest {
            path: "/e".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 1,
        }),
    );
    for _ in 0..30 {
        c.advance(TICK_NS);
        c.send(0, 1, -2, Request::Ping);
    }
    assert!(c.nodes[0].tree().sessions().contains_key(&r.session_id));
    assert!(c.nodes[0].tree().stat("/e").is_some());
    c.advance(30 * TICK_NS);
    assert!(
        c.nodes[0].tree().stat("/e").is_none(),
        "ephemeral outlived its session"
    );
    assert!(c.client[0].iter().any(|o| matches!(
        o,
        Output::CloseClient {
            conn: ConnId(1),
            reason: CloseReason::SessionClosed
        }
    )));
}

#[test]
fn close_session_replies_then_closes() {
    let mut c = standalone();
    let r = c.connect(0, 1);
    let mark = c.client[0].len();
    c.send(0, 1, 7, Request::CloseSession);
    c.settle();
    let outs = c.client_since(0, 1, mark);
    assert_eq!(outs.len(), 2, "{outs:?}");
    assert_eq!(reply_of(&outs[0]).0.xid, 7);
    assert!(matches!(
        outs[1],
        Output::CloseClient {
            reason: CloseReason::SessionClosed,
            ..
        }
    ));
    assert!(!c.nodes[0].tree().sessions().contains_key(&r.session_id));
}

#[test]
fn digest_auth_and_who_am_i() {
    let mut c = standalone();
    c.connect(0, 1);
    let outs = c.send(
        0,
        1,
        -4,
        Request::Auth(crate::proto::jute::AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"bob:secret".to_vec(),
        }),
    );
    assert_eq!(reply_of(&outs[0]).0.err, 0);
    let outs = c.send(0, 1, 3, Request::WhoAmI);
    let (_, b) = reply_of(&outs[0]);
    let Some(ResponseBody::WhoAmI(w)) = b else {
        panic!()
    };
    assert!(w
        .client_info
        .iter()
        .any(|i| i.auth_scheme == "digest" && i.user.starts_with("bob:")));
}

/// ZooKeeper dispatches auth on its op code and echoes the request's xid; clients such as
/// zookeeper-client-rust send auth with an ordinary xid. Arbor once answered those with
/// Unimplemented and closed the connection.
#[test]
fn digest_auth_with_an_ordinary_xid() {
    let mut c = standalone();
    c.connect(0, 1);
    let outs = c.send(
        0,
        1,
        5,
        Request::Auth(crate::proto::jute::AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"bob:secret".to_vec(),
        }),
    );
    assert_eq!(outs.len(), 1, "{outs:?}");
    let (h, b) = reply_of(&outs[0]);
    assert_eq!((h.xid, h.err, b), (5, 0, None));
    let outs = c.send(0, 1, 6, Request::WhoAmI);
    let (_, b) = reply_of(&outs[0]);
    let Some(ResponseBody::WhoAmI(w)) = b else {
        panic!()
    };
    assert!(w
        .client_info
        .iter()
        .any(|i| i.auth_scheme == "digest" && i.user.starts_with("bob:")));
}

#[test]
fn sync_on_leader_answers_with_path() {
    let mut c = standalone();
    c.connect(0, 1);
    let mark = c.client[0].len();
    c.send(0, 1, 1, create("/a", b""));
    c.send(
        0,
        1,
        2,
        Request::Sync(crate::proto::jute::PathRequest { path: "/a".into() }),
    );
    c.settle();
    let outs = c.client_since(0, 1, mark);
    let (h, b) = reply_of(&outs[1]);
    assert_eq!(h.xid, 2);
    assert_eq!(
        b,
        Some(ResponseBody::Sync(PathResponse { path: "/a".into() }))
    );
}

#[test]
fn standalone_restart_recovers_committed_state() {
    let mut c = standalone();
    c.connect(0, 1);
    c.send(0, 1, 1, create("/a", b"x"));
    c.settle();
    let digest = c.nodes[0].tree().digest();
    c.crash(0);
    c.restart(0);
    c.elect();
    assert_eq!(c.nodes[0].tree().digest(), digest);
    assert!(c.nodes[0].tree().stat("/a").is_some());
    assert_eq!(c.nodes[0].epochs().1, crate::types::Epoch(2));
}

#[test]
fn leader_expires_empty_containers_and_ttl_nodes_on_ticks() {
    let mut c = standalone();
    c.connect(0, 1);
    let mark = c.client[0].len();
    c.send(
        0,
        1,
        1,
        Request::CreateContainer(CreateRequest {
            path: "/c".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 4,
        }),
    );
    c.send(0, 1, 2, create("/c/x", b""));
    c.send(
        0,
        1,
        3,
        Request::Delete(crate::proto::jute::DeleteRequest {
            path: "/c/x".into(),
            version: -1,
        }),
    );
    c.send(
        0,
        1,
        4,
        Request::CreateTtl(crate::proto::jute::CreateTtlRequest {
            path: "/t".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 5,
            ttl: 500,
        }),
    );
    c.settle();
    let outs = c.client_since(0, 1, mark);
    assert!(
        outs.iter()
            .all(|o| matches!(o, Output::Reply { header, .. } if header.err == 0)),
        "{outs:?}"
    );
    assert!(c.nodes[0].tree().stat("/t").is_some());
    c.advance(2 * TICK_NS);
    assert!(
        c.nodes[0].tree().stat("/c").is_none(),
        "empty container not reaped"
    );
    assert!(
        c.nodes[0].tree().stat("/t").is_some(),
        "TTL node reaped early"
    );
    c.advance(10 * TICK_NS);
    assert!(
        c.nodes[0].tree().stat("/t").is_none(),
        "TTL node not reaped"
    );
}

#[test]
fn undecodable_request_is_answered_in_order_then_closes() {
    let mut c = standalone();
    c.connect(0, 1);
    c.auto_persist[0] = false;
    c.send(0, 1, 1, create("/a", b""));
    let reply = crate::proto::jute::RequestError::UnknownOp { xid: 2, op: 999 }
        .reply()
        .unwrap();
    let outs = c.step(
        0,
        Input::ClientRequestRejected {
            conn: ConnId(1),
            reply,
        },
    );
    assert!(
        outs.is_empty(),
        "the -6 overtook the pending write: {outs:?}"
    );
    let token = c.disks[0].pending_tokens()[0];
    let outs = c.persist(0, token);
    assert_eq!(outs.len(), 3, "{outs:?}");
    assert_eq!(reply_of(&outs[0]).0.xid, 1);
    let (h, _) = reply_of(&outs[1]);
    assert_eq!((h.xid, h.err), (2, ErrorCode::Unimplemented.code()));
    assert!(matches!(
        outs[2],
        Output::CloseClient {
            reason: CloseReason::ProtocolViolation,
            ..
        }
    ));
}
