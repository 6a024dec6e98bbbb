//! Unit tests for request decoding and encoding, with hand-derived bytes.

use super::*;
use crate::proto::jute::error::DecodeError;
use crate::types::{Acl, Zxid};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn get_data_hand_bytes() {
    let (h, req) = decode_request(&hex("00000007 00000004 00000004 2f766563 01")).unwrap();
    assert_eq!(
        h,
        RequestHeader {
            xid: 7,
            op: OpCode::GetData
        }
    );
    assert_eq!(
        req,
        Request::GetData(PathWatchRequest {
            path: "/vec".into(),
            watch: true
        })
    );
}

#[test]
fn bodiless_ops() {
    for (op, want) in [
        (11, Request::Ping),
        (107, Request::WhoAmI),
        (-11, Request::CloseSession),
    ] {
        let mut b = hex("00000003");
        b.extend_from_slice(&i32::to_be_bytes(op));
        assert_eq!(decode_request(&b).map(|(_, r)| r), Ok(want));
    }
}

#[test]
fn unknown_and_client_forbidden_ops_keep_the_xid() {
    for op in [999, 0, -1, -10, 10] {
        let mut b = hex("00000009");
        b.extend_from_slice(&i32::to_be_bytes(op));
        b.extend_from_slice(&hex("000000042f766563"));
        assert_eq!(
            decode_request(&b),
            Err(RequestError::UnknownOp { xid: 9, op })
        );
    }
}

#[test]
fn short_header_cannot_be_answered() {
    assert_eq!(
        decode_request(&hex("00000001 0000")),
        Err(RequestError::Header(DecodeError::Truncated {
            at: 4,
            need: 2
        }))
    );
    assert!(decode_request(&[]).is_err());
}

#[test]
fn bad_body_carries_xid_and_op() {
    // deleteContainer whose body is the raw path without a length (vector
    // deletecontainer_raw_path_persistent_req): the "length" 0x2f766563 is far too big.
    let got = decode_request(&hex("00000003 00000014 2f7665632f6433"));
    assert_eq!(
        got,
        Err(RequestError::Body {
            xid: 3,
            op: 20,
            source: DecodeError::LengthExceedsInput {
                at: 8,
                len: 0x2f76_6563,
                remaining: 3
            }
        })
    );
}

#[test]
fn trailing_bytes_after_a_body_are_ignored() {
    let (_, req) = decode_request(&hex("00000001 00000009 00000002 2f61 deadbeef")).unwrap();
    assert_eq!(req, Request::Sync(PathRequest { path: "/a".into() }));
}

#[test]
fn auth_and_sasl_hand_bytes() {
    let b = hex("fffffffc 00000064 00000000 00000006 646967657374 00000003 613a62");
    let (h, req) = decode_request(&b).unwrap();
    assert_eq!(h.xid, -4);
    assert_eq!(
        req,
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"a:b".to_vec()
        })
    );
    let b = hex("00000005 00000066 00000002 beef");
    let (_, req) = decode_request(&b).unwrap();
    assert_eq!(
        req,
        Request::Sasl(SaslToken {
            token: Some(vec![0xbe, 0xef])
        })
    );
    let b = hex("00000005 00000066 ffffffff");
    assert_eq!(
        decode_request(&b).map(|(_, r)| r),
        Ok(Request::Sasl(SaslToken { token: None }))
    );
}

#[test]
fn reconfig_and_create_ttl_hand_bytes() {
    let b = hex("00000001 00000010 ffffffff 00000001 32 ffffffff 0000000000000005");
    let (_, req) = decode_request(&b).unwrap();
    assert_eq!(
        req,
        Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some("2".into()),
            new_members: None,
            cur_config_id: 5
        })
    );
    let b = hex("00000001 00000015 00000002 2f74 00000000 00000000 00000005 000000000000ea60");
    let (_, req) = decode_request(&b).unwrap();
    assert_eq!(
        req,
        Request::CreateTtl(CreateTtlRequest {
            path: "/t".into(),
            data: Some(Vec::new()),
            acl: Vec::new(),
            flags: 5,
            ttl: 60_000
        })
    );
}

#[test]
fn encode_request_writes_frame_header_and_body() {
    let mut out = Vec::new();
    encode_request(
        -8,
        &Request::SetWatches(SetWatches {
            relative_zxid: Zxid(0x6c),
            data_watches: vec!["/d".into()],
            exist_watches: vec![],
            child_watches: vec![],
        }),
        &mut out,
    );
    let want =
        hex("00000022 fffffff8 00000065 000000000000006c 00000001 00000002 2f64 00000000 00000000");
    assert_eq!(out, want);
}

#[test]
fn every_request_round_trips() {
    let create = CreateRequest {
        path: "/c".into(),
        data: None,
        acl: Acl::creator_all(),
        flags: 2,
    };
    let pw = PathWatchRequest {
        path: "/p".into(),
        watch: true,
    };
    let p = PathRequest { path: "/q".into() };
    let all = vec![
        Request::Create(create.clone()),
        Request::Delete(DeleteRequest {
            path: "/d".into(),
            version: -1,
        }),
        Request::Exists(pw.clone()),
        Request::GetData(pw.clone()),
        Request::SetData(SetDataRequest {
            path: "/s".into(),
            data: Some(vec![1, 2]),
            version: 9,
        }),
        Request::GetAcl(p.clone()),
        Request::SetAcl(SetAclRequest {
            path: "/a".into(),
            acl: Acl::read_unsafe(),
            version: 1,
        }),
        Request::GetChildren(pw.clone()),
        Request::Sync(p.clone()),
        Request::Ping,
        Request::GetChildren2(pw.clone()),
        Request::Check(CheckVersionRequest {
            path: "/k".into(),
            version: 2,
        }),
        Request::Multi(vec![MultiOp::Create(create.clone())]),
        Request::Create2(create.clone()),
        Request::Reconfig(ReconfigRequest::default()),
        Request::CheckWatches(WatchesRequest {
            path: "/w".into(),
            watcher_type: 3,
        }),
        Request::RemoveWatches(WatchesRequest {
            path: "/w".into(),
            watcher_type: 1,
        }),
        Request::CreateContainer(create.clone()),
        Request::DeleteContainer(p.clone()),
        Request::CreateTtl(CreateTtlRequest::default()),
        Request::MultiRead(vec![MultiReadOp::GetChildren(pw.clone())]),
        Request::Auth(AuthPacket::default()),
        Request::SetWatches(SetWatches::default()),
        Request::Sasl(SaslToken::default()),
        Request::GetEphemerals(p.clone()),
        Request::GetAllChildrenNumber(p.clone()),
        Request::SetWatches2(SetWatches2::default()),
        Request::AddWatch(AddWatchRequest {
            path: "/x".into(),
            mode: 1,
        }),
        Request::WhoAmI,
        Request::CloseSession,
    ];
    assert_eq!(all.len(), 30, "one request per client op code");
    for (i, req) in all.into_iter().enumerate() {
        let mut out = Vec::new();
        let xid = i32::try_from(i).unwrap();
        encode_request(xid, &req, &mut out);
        let got = decode_request(&out[4..]).unwrap();
        assert_eq!(got.0, RequestHeader { xid, op: req.op() });
        assert_eq!(got.1, req);
    }
}
