//! Unit tests for reply decoding and encoding, with hand-derived bytes.

use super::*;
use crate::proto::jute::records::ClientInfo;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn error_reply_is_header_only_and_body_is_not_parsed() {
    let b = hex("00000005 0000000000000010 ffffff9b deadbeef");
    let reply = decode_reply(&b, OpCode::GetData).unwrap();
    assert_eq!(reply.header.error_code(), Some(ErrorCode::NoNode));
    assert_eq!(reply.body, None);
    let mut out = Vec::new();
    encode_reply(&reply.header, None, &mut out);
    assert_eq!(out, hex("00000010 00000005 0000000000000010 ffffff9b"));
}

#[test]
fn special_xids_ignore_the_expected_op() {
    let ping = hex("fffffffe 0000000000000001 00000000");
    assert_eq!(decode_reply(&ping, OpCode::GetData).unwrap().body, None);
    let ev = hex("ffffffff ffffffffffffffff 00000000 00000001 00000003 00000002 2f61");
    let reply = decode_reply(&ev, OpCode::Create).unwrap();
    assert_eq!(
        reply.body,
        Some(ResponseBody::Notification(WatcherEvent {
            event_type: 1,
            state: 3,
            path: "/a".into()
        }))
    );
    let mut out = Vec::new();
    if let Some(ResponseBody::Notification(e)) = &reply.body {
        encode_notification(Zxid(-1), e, &mut out);
    }
    assert_eq!(&out[4..], &ev[..]);
}

#[test]
fn whoami_and_children_number_hand_bytes() {
    let b = hex("00000001 0000000000000074 00000000
         00000001 00000002 6970 00000003 312e32");
    let reply = decode_reply(&b, OpCode::WhoAmI).unwrap();
    assert_eq!(
        reply.body,
        Some(ResponseBody::WhoAmI(WhoAmIResponse {
            client_info: vec![ClientInfo {
                auth_scheme: "ip".into(),
                user: "1.2".into()
            }]
        }))
    );
    let b = hex("00000002 0000000000000074 00000000 0000002a");
    let reply = decode_reply(&b, OpCode::GetAllChildrenNumber).unwrap();
    assert_eq!(
        reply.body,
        Some(ResponseBody::GetAllChildrenNumber(IntResponse {
            value: 42
        }))
    );
}

#[test]
fn get_ephemerals_with_many_entries_hand_bytes() {
    let mut b = hex("00000002 0000000000000001 00000000 00000064");
    for _ in 0..100 {
        b.extend_from_slice(&hex("00000002 2f65"));
    }
    let reply = decode_reply(&b, OpCode::GetEphemerals).unwrap();
    match &reply.body {
        Some(ResponseBody::GetEphemerals(c)) => {
            assert_eq!(c.children.len(), 100);
            assert!(c.children.iter().all(|p| p == "/e"));
        }
        other => panic!("unexpected body {other:?}"),
    }
    let mut out = Vec::new();
    encode_reply(&reply.header, reply.body.as_ref(), &mut out);
    assert_eq!(&out[4..], &b[..]);
}

#[test]
fn truncated_body_reports_xid_and_op() {
    let b = hex("00000002 0000000000000001 00000000 0000");
    assert_eq!(
        decode_reply(&b, OpCode::Exists),
        Err(ReplyError::Body {
            xid: 2,
            op: 3,
            source: DecodeError::Truncated { at: 16, need: 6 }
        })
    );
    assert!(matches!(
        decode_reply(&b[..10], OpCode::Exists),
        Err(ReplyError::Header(_))
    ));
}

#[test]
fn bodiless_ops_and_sasl() {
    let ok = hex("00000002 0000000000000001 00000000");
    for op in [OpCode::Delete, OpCode::SetWatches2, OpCode::CloseSession] {
        assert_eq!(decode_reply(&ok, op).unwrap().body, None);
    }
    assert_eq!(
        decode_response_body(OpCode::Sasl, &hex("00000001 aa")),
        Ok(Some(ResponseBody::Sasl(SaslToken {
            token: Some(vec![0xaa])
        })))
    );
}

#[test]
fn multi_read_marshalling_error_body_is_readable() {
    let body = hex("ffffffff 01 ffffffff");
    assert_eq!(
        decode_response_body(OpCode::MultiRead, &body),
        Ok(Some(ResponseBody::Multi(MultiResponse::default())))
    );
}
