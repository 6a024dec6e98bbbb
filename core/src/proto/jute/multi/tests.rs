//! Unit tests for multi encoding, with hand-derived bytes from reference §7.

use super::*;
use crate::proto::jute::records::Record;
use crate::types::Acl;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decode(bytes: &[u8]) -> Result<Vec<MultiOp>, RequestError> {
    decode_multi(&mut Reader::new(bytes), 77)
}

#[test]
fn failure_pattern_round_trips() {
    // Three error results 0, -103, -2, then the end marker.
    let bytes = hex("ffffffff 00 00000000 00000000
         ffffffff 00 ffffff99 ffffff99
         ffffffff 00 fffffffe fffffffe
         ffffffff 01 ffffffff");
    let resp = MultiResponse::from_bytes(&bytes).unwrap();
    assert_eq!(
        resp.results,
        vec![
            MultiResult::Error(0),
            MultiResult::Error(-103),
            MultiResult::Error(-2)
        ]
    );
    assert_eq!(resp.to_bytes(), bytes);
}

#[test]
fn empty_multi_is_just_the_end_marker() {
    let end = hex("ffffffff 01 ffffffff");
    assert_eq!(MultiResponse::default().to_bytes(), end);
    assert_eq!(decode(&end), Ok(Vec::new()));
    // Any header with done set ends the list, whatever its type and err.
    assert_eq!(decode(&hex("00000001 07 00000000")), Ok(Vec::new()));
}

#[test]
fn check_and_delete_sub_ops_hand_bytes() {
    let bytes = hex("0000000d 00 ffffffff 00000002 2f61 00000004
         00000002 00 ffffffff 00000002 2f62 ffffffff
         ffffffff 01 ffffffff");
    let ops = decode(&bytes).unwrap();
    assert_eq!(
        ops,
        vec![
            MultiOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 4
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/b".into(),
                version: -1
            }),
        ]
    );
    let mut out = Vec::new();
    encode_multi(&ops, &mut Writer::new(&mut out));
    assert_eq!(out, bytes);
}

#[test]
fn read_sub_op_in_multi_is_not_allowed() {
    let bytes = hex("00000004 00 ffffffff 00000002 2f61 00 ffffffff 01 ffffffff");
    assert_eq!(
        decode(&bytes),
        Err(RequestError::NotAllowedInMulti {
            xid: 77,
            op: 14,
            sub_op: 4,
            index: 0
        })
    );
}

#[test]
fn write_sub_op_in_multi_read_is_not_allowed() {
    let bytes = hex("00000004 00 ffffffff 00000002 2f61 00
         00000002 00 ffffffff 00000002 2f62 ffffffff
         ffffffff 01 ffffffff");
    assert_eq!(
        decode_multi_read(&mut Reader::new(&bytes), 5),
        Err(RequestError::NotAllowedInMulti {
            xid: 5,
            op: 22,
            sub_op: 2,
            index: 1
        })
    );
}

#[test]
fn unknown_sub_op_is_not_allowed() {
    let bytes = hex("000003e7 00 ffffffff");
    assert!(matches!(
        decode(&bytes),
        Err(RequestError::NotAllowedInMulti { sub_op: 999, .. })
    ));
}

#[test]
fn missing_end_marker_is_a_body_error() {
    let bytes = hex("0000000d 00 ffffffff 00000002 2f61 00000004");
    assert_eq!(
        decode(&bytes),
        Err(RequestError::Body {
            xid: 77,
            op: 14,
            source: DecodeError::Truncated { at: 19, need: 4 }
        })
    );
}

#[test]
fn unknown_result_type_is_rejected() {
    let bytes = hex("00000063 00 00000000 ffffffff 01 ffffffff");
    assert_eq!(
        MultiResponse::from_bytes(&bytes),
        Err(DecodeError::UnknownMultiResult { at: 0, op: 99 })
    );
}

#[test]
fn every_sub_op_and_result_round_trips() {
    let create = CreateRequest {
        path: "/c".into(),
        data: Some(b"d".to_vec()),
        acl: Acl::open_unsafe(),
        flags: 1,
    };
    let ops = vec![
        MultiOp::Create(create.clone()),
        MultiOp::Create2(create.clone()),
        MultiOp::CreateContainer(create.clone()),
        MultiOp::CreateTtl(CreateTtlRequest {
            path: "/t".into(),
            data: None,
            acl: vec![],
            flags: 5,
            ttl: 60_000,
        }),
        MultiOp::SetData(SetDataRequest {
            path: "/s".into(),
            data: None,
            version: 3,
        }),
    ];
    let mut out = Vec::new();
    encode_multi(&ops, &mut Writer::new(&mut out));
    assert_eq!(decode(&out), Ok(ops));

    let reads = vec![
        MultiReadOp::GetData(PathWatchRequest {
            path: "/a".into(),
            watch: true,
        }),
        MultiReadOp::GetChildren(PathWatchRequest {
            path: "/b".into(),
            watch: false,
        }),
    ];
    out.clear();
    encode_multi_read(&reads, &mut Writer::new(&mut out));
    assert_eq!(decode_multi_read(&mut Reader::new(&out), 1), Ok(reads));

    let resp = MultiResponse {
        results: vec![
            MultiResult::Create(PathResponse { path: "/c".into() }),
            MultiResult::Delete,
            MultiResult::GetData(GetDataResponse::default()),
            MultiResult::SetData(Stat::default()),
            MultiResult::GetChildren(ChildrenResponse {
                children: vec!["x".into()],
            }),
            MultiResult::Check,
            MultiResult::Create2(Create2Response::default()),
            MultiResult::Error(-101),
        ],
    };
    assert_eq!(MultiResponse::from_bytes(&resp.to_bytes()), Ok(resp));
}
