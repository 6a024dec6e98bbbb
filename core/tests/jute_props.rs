//! Property tests of the jute codec: every request and response round-trips through
//! encode → frame → decode, and no decoder entry point panics on arbitrary bytes or on
//! valid frames with mutated tails. Failing cases are persisted by proptest under
//! `proptest-regressions/` next to this file; commit them as regression seeds.

mod common;

use arbor_core::proto::jute::{
    decode_connect_request, decode_connect_response, decode_reply, decode_request,
    decode_response_body, detect_four_letter_word, encode_connect_request, encode_connect_response,
    encode_notification, encode_reply, encode_request, next_frame, AddWatchRequest, AuthPacket,
    CheckVersionRequest, ChildrenResponse, ClientInfo, ConnectRequest, ConnectResponse,
    Create2Response, CreateRequest, CreateTtlRequest, DeleteRequest, GetAclResponse,
    GetChildren2Response, GetDataResponse, IntResponse, MultiOp, MultiReadOp, MultiResponse,
    MultiResult, PathRequest, PathResponse, PathWatchRequest, ReconfigRequest, Record, ReplyHeader,
    Request, ResponseBody, SaslToken, SetAclRequest, SetDataRequest, SetWatches, SetWatches2,
    WatcherEvent, WatchesRequest, WhoAmIResponse, DEFAULT_MAX_FRAME_LEN,
};
use arbor_core::types::{Acl, Id, OpCode, Perms, SessionId, Stat, Zxid};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn s() -> impl Strategy<Value = String> {
    "\\PC{0,10}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..24)
}

fn opt_bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
    option::of(bytes())
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(s(), 0..4)
}

fn acls() -> impl Strategy<Value = Vec<Acl>> {
    vec(
        (any::<i32>(), s(), s()).prop_map(|(p, scheme, id)| Acl {
            perms: Perms(p),
            id: Id { scheme, id },
        }),
        0..3,
    )
}

fn stat() -> impl Strategy<Value = Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        (any::<i64>(), any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(|((cz, mz, ct, mt), (v, cv, av), (eo, dl, nc, pz))| Stat {
            czxid: cz,
            mzxid: mz,
            ctime: ct,
            mtime: mt,
            version: v,
            cversion: cv,
            aversion: av,
            ephemeral_owner: eo,
            data_length: dl,
            num_children: nc,
            pzxid: pz,
        })
}

fn create() -> impl Strategy<Value = CreateRequest> {
    (s(), opt_bytes(), acls(), any::<i32>()).prop_map(|(path, data, acl, flags)| CreateRequest {
        path,
        data,
        acl,
        flags,
    })
}

fn create_ttl() -> impl Strategy<Value = CreateTtlRequest> {
    (create(), any::<i64>()).prop_map(|(c, ttl)| CreateTtlRequest {
        path: c.path,
        data: c.data,
        acl: c.acl,
        flags: c.flags,
        ttl,
    })
}

fn path_watch() -> impl Strategy<Value = PathWatchRequest> {
    (s(), any::<bool>()).prop_map(|(path, watch)| PathWatchRequest { path, watch })
}

fn path() -> impl Strategy<Value = PathRequest> {
    s().prop_map(|path| PathRequest { path })
}

fn path_version() -> impl Strategy<Value = (String, i32)> {
    (s(), any::<i32>())
}

fn set_data() -> impl Strategy<Value = SetDataRequest> {
    (s(), opt_bytes(), any::<i32>()).prop_map(|(path, data, version)| SetDataRequest {
        path,
        data,
        version,
    })
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        create().prop_map(MultiOp::Create),
        create().prop_map(MultiOp::Create2),
        create().prop_map(MultiOp::CreateContainer),
        create_ttl().prop_map(MultiOp::CreateTtl),
        path_version().prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        set_data().prop_map(MultiOp::SetData),
        path_version()
            .prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
    ]
}

fn multi_read_op() -> impl Strategy<Value = MultiReadOp> {
    prop_oneof![
        path_watch().prop_map(MultiReadOp::GetData),
        path_watch().prop_map(MultiReadOp::GetChildren),
    ]
}

fn watches() -> impl Strategy<Value = (Zxid, [Vec<String>; 5])> {
    (
        any::<i64>(),
        (strings(), strings(), strings(), strings(), strings()),
    )
        .prop_map(|(z, (a, b, c, d, e))| (Zxid(z), [a, b, c, d, e]))
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        create().prop_map(Request::Create),
        path_version().prop_map(|(path, version)| Request::Delete(DeleteRequest { path, version })),
        path_watch().prop_map(Request::Exists),
        path_watch().prop_map(Request::GetData),
        set_data().prop_map(Request::SetData),
        path().prop_map(Request::GetAcl),
        (s(), acls(), any::<i32>())
            .prop_map(|(path, acl, version)| Request::SetAcl(SetAclRequest { path, acl, version })),
        path_watch().prop_map(Request::GetChildren),
        path().prop_map(Request::Sync),
        Just(Request::Ping),
        path_watch().prop_map(Request::GetChildren2),
        path_version()
            .prop_map(|(path, version)| Request::Check(CheckVersionRequest { path, version })),
        vec(multi_op(), 0..5).prop_map(Request::Multi),
        create().prop_map(Request::Create2),
        (
            option::of(s()),
            option::of(s()),
            option::of(s()),
            any::<i64>()
        )
            .prop_map(|(j, l, n, c)| Request::Reconfig(ReconfigRequest {
                joining_servers: j,
                leaving_servers: l,
                new_members: n,
                cur_config_id: c,
            })),
        path_version().prop_map(
            |(path, watcher_type)| Request::CheckWatches(WatchesRequest { path, watcher_type })
        ),
        path_version().prop_map(
            |(path, watcher_type)| Request::RemoveWatches(WatchesRequest { path, watcher_type })
        ),
        create().prop_map(Request::CreateContainer),
        path().prop_map(Request::DeleteContainer),
        create_ttl().prop_map(Request::CreateTtl),
        vec(multi_read_op(), 0..5).prop_map(Request::MultiRead),
        (any::<i32>(), s(), bytes()).prop_map(|(auth_type, scheme, auth)| Request::Auth(
            AuthPacket {
                auth_type,
                scheme,
                auth
            }
        )),
        watches().prop_map(|(z, [a, b, c, _, _])| Request::SetWatches(SetWatches {
            relative_zxid: z,
            data_watches: a,
            exist_watches: b,
            child_watches: c,
        })),
        opt_bytes().prop_map(|token| Request::Sasl(SaslToken { token })),
        path().prop_map(Request::GetEphemerals),
        path().prop_map(Request::GetAllChildrenNumber),
        watches().prop_map(|(z, [a, b, c, d, e])| Request::SetWatches2(SetWatches2 {
            relative_zxid: z,
            data_watches: a,
            exist_watches: b,
            child_watches: c,
            persistent_watches: d,
            persistent_recursive_watches: e,
        })),
        path_version().prop_map(|(path, mode)| Request::AddWatch(AddWatchRequest { path, mode })),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

fn multi_result() -> impl Strategy<Value = MultiResult> {
    prop_oneof![
        s().prop_map(|path| MultiResult::Create(PathResponse { path })),
        Just(MultiResult::Delete),
        (opt_bytes(), stat())
            .prop_map(|(data, stat)| MultiResult::GetData(GetDataResponse { data, stat })),
        stat().prop_map(MultiResult::SetData),
        strings().prop_map(|children| MultiResult::GetChildren(ChildrenResponse { children })),
        Just(MultiResult::Check),
        (s(), stat()).prop_map(|(path, stat)| MultiResult::Create2(Create2Response { path, stat })),
        any::<i32>().prop_map(MultiResult::Error),
    ]
}

/// A reply body and the op of a request it can answer.
fn response() -> impl Strategy<Value = (OpCode, ResponseBody)> {
    prop_oneof![
        s().prop_map(|path| (OpCode::Create, ResponseBody::Create(PathResponse { path }))),
        (s(), stat()).prop_map(|(path, stat)| (
            OpCode::CreateTtl,
            ResponseBody::Create2(Create2Response { path, stat })
        )),
        stat().prop_map(|st| (OpCode::SetAcl, ResponseBody::Stat(st))),
        (opt_bytes(), stat()).prop_map(|(data, stat)| (
            OpCode::Reconfig,
            ResponseBody::GetData(GetDataResponse { data, stat })
        )),
        (acls(), stat()).prop_map(|(acl, stat)| (
            OpCode::GetAcl,
            ResponseBody::GetAcl(GetAclResponse { acl, stat })
        )),
        strings().prop_map(|children| (
            OpCode::GetChildren,
            ResponseBody::GetChildren(ChildrenResponse { children })
        )),
        s().prop_map(|path| (OpCode::Sync, ResponseBody::Sync(PathResponse { path }))),
        (strings(), stat()).prop_map(|(children, stat)| (
            OpCode::GetChildren2,
            ResponseBody::GetChildren2(GetChildren2Response { children, stat })
        )),
        vec(multi_result(), 0..6).prop_map(|results| (
            OpCode::Multi,
            ResponseBody::Multi(MultiResponse { results })
        )),
        opt_bytes().prop_map(|token| (OpCode::Sasl, ResponseBody::Sasl(SaslToken { token }))),
        strings().prop_map(|children| (
            OpCode::GetEphemerals,
            ResponseBody::GetEphemerals(ChildrenResponse { children })
        )),
        any::<i32>().prop_map(|value| (
            OpCode::GetAllChildrenNumber,
            ResponseBody::GetAllChildrenNumber(IntResponse { value })
        )),
        any::<i32>()
            .prop_map(|value| (OpCode::AddWatch, ResponseBody::Error(IntResponse { value }))),
        vec((s(), s()), 0..4).prop_map(|v| (
            OpCode::WhoAmI,
            ResponseBody::WhoAmI(WhoAmIResponse {
                client_info: v
                    .into_iter()
                    .map(|(auth_scheme, user)| ClientInfo { auth_scheme, user })
                    .collect()
            })
        )),
    ]
}

fn payload_of(frame: &[u8]) -> &[u8] {
    let f = next_frame(frame, u32::MAX).unwrap().unwrap();
    assert_eq!(f.consumed, frame.len());
    &frame[f.payload]
}

/// Runs every decoder entry point on `bytes`; they may fail but must not panic.
fn decode_everything(bytes: &[u8]) {
    let _ = next_frame(bytes, DEFAULT_MAX_FRAME_LEN);
    let _ = detect_four_letter_word(bytes);
    let _ = decode_connect_request(bytes);
    let _ = decode_connect_response(bytes);
    let _ = decode_request(bytes);
    let _ = MultiResponse::from_bytes(bytes);
    for op in OpCode::ALL {
        let _ = decode_reply(bytes, op);
        let _ = decode_response_body(op, bytes);
    }
}

proptest! {
    #![proptest_config(common::seeded("jute_props", 256))]

    #[test]
    fn requests_round_trip(xid in any::<i32>(), req in request()) {
        let mut out = Vec::new();
        encode_request(xid, &req, &mut out);
        let (h, got) = decode_request(payload_of(&out)).unwrap();
        prop_assert_eq!(h.xid, xid);
        prop_assert_eq!(h.op, req.op());
        prop_assert_eq!(got, req);
    }

    #[test]
    fn responses_round_trip(
        xid in 1..i32::MAX,
        zxid in any::<i64>(),
        (op, body) in response(),
    ) {
        let header = ReplyHeader { xid, zxid: Zxid(zxid), err: 0 };
        let mut out = Vec::new();
        encode_reply(&header, Some(&body), &mut out);
        let reply = decode_reply(payload_of(&out), op).unwrap();
        prop_assert_eq!(reply.header, header);
        prop_assert_eq!(reply.body, Some(body));
    }

    #[test]
    fn notifications_round_trip(zxid in any::<i64>(), t in any::<i32>(), st in any::<i32>(), p in s()) {
        let ev = WatcherEvent { event_type: t, state: st, path: p };
        let mut out = Vec::new();
        encode_notification(Zxid(zxid), &ev, &mut out);
        // The expected op is irrelevant for xid -1.
        let reply = decode_reply(payload_of(&out), OpCode::GetData).unwrap();
        prop_assert_eq!(reply.header.xid, -1);
        prop_assert_eq!(reply.body, Some(ResponseBody::Notification(ev)));
    }

    #[test]
    fn error_replies_are_header_only(xid in 1..i32::MAX, err in any::<i32>().prop_filter("non-zero", |e| *e != 0)) {
        let header = ReplyHeader { xid, zxid: Zxid(1), err };
        let mut out = Vec::new();
        encode_reply(&header, None, &mut out);
        prop_assert_eq!(out.len(), 20);
        let reply = decode_reply(payload_of(&out), OpCode::Multi).unwrap();
        prop_assert_eq!(reply.header, header);
        prop_assert_eq!(reply.body, None);
    }

    #[test]
    fn connect_round_trips(
        pv in any::<i32>(), z in any::<i64>(), t in any::<i32>(), sid in any::<i64>(),
        pw in bytes(), ro in option::of(any::<bool>()),
    ) {
        let req = ConnectRequest {
            protocol_version: pv, last_zxid_seen: Zxid(z), timeout_ms: t,
            session_id: SessionId(sid), passwd: pw.clone(), read_only: ro,
        };
        let mut out = Vec::new();
        encode_connect_request(&req, &mut out);
        prop_assert_eq!(decode_connect_request(payload_of(&out)).unwrap(), req);
        let resp = ConnectResponse {
            protocol_version: pv, timeout_ms: t, session_id: SessionId(sid), passwd: pw,
            read_only: ro,
        };
        out.clear();
        encode_connect_response(&resp, &mut out);
        prop_assert_eq!(decode_connect_response(payload_of(&out)).unwrap(), resp);
    }

    #[test]
    fn multi_response_round_trips(results in vec(multi_result(), 0..8)) {
        let m = MultiResponse { results };
        prop_assert_eq!(MultiResponse::from_bytes(&m.to_bytes()).unwrap(), m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in vec(any::<u8>(), 0..4096)) {
        decode_everything(&b);
    }

    #[test]
    fn valid_prefix_with_mutated_tail_never_panics(
        xid in any::<i32>(),
        req in request(),
        cut in any::<prop::sample::Index>(),
        tail in vec(any::<u8>(), 0..64),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut out = Vec::new();
        encode_request(xid, &req, &mut out);
        let payload = payload_of(&out).to_vec();
        // Truncate somewhere and append garbage.
        let mut mutated = payload[..cut.index(payload.len() + 1)].to_vec();
        mutated.extend_from_slice(&tail);
        decode_everything(&mutated);
        // Flip one bit of the intact payload.
        let mut flipped = payload;
        let i = flip.index(flipped.len());
        flipped[i] ^= 1 << bit;
        decode_everything(&flipped);
    }

    #[test]
    fn valid_reply_with_mutated_tail_never_panics(
        (op, body) in response(),
        cut in any::<prop::sample::Index>(),
        tail in vec(any::<u8>(), 0..64),
    ) {
        let mut out = Vec::new();
        encode_reply(&ReplyHeader { xid: 1, zxid: Zxid(2), err: 0 }, Some(&body), &mut out);
        let payload = payload_of(&out);
        let mut mutated = payload[..cut.index(payload.len() + 1)].to_vec();
        mutated.extend_from_slice(&tail);
        let _ = decode_reply(&mutated, op);
        decode_everything(&mutated);
    }
}
