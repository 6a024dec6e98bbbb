//! Golden tests of the jute codec against 519 frames captured from Apache ZooKeeper 3.8.0
//! (`tests/vectors/zookeeper-3.8.0/`, copied from the shared vectors so a fresh clone has
//! them).
//!
//! - Every client frame decodes with the server-side decoder to the request its note
//!   describes (op code, xid, and path / flags / version / watch / ttl / mode where the
//!   note states them), or to the typed error ZooKeeper's behaviour calls for.
//! - Every server frame decodes with the client-side decoder and re-encodes with the
//!   server-side encoder to the identical bytes.
//! - The three partial framing-limit records are checked against the framing layer.

use std::collections::BTreeMap;

use arbor_core::proto::jute::{
    decode_connect_request, decode_connect_response, decode_reply, decode_request,
    decode_response_body, encode_connect_request, encode_connect_response, encode_error_reply,
    encode_reply, encode_request, next_frame, DecodeError, FrameError, MultiOp, MultiResult, Reply,
    Request, RequestError, ResponseBody, DEFAULT_MAX_FRAME_LEN,
};
use arbor_core::types::{OpCode, SessionId, Zxid};
use serde_json::Value;

const FRAMES: &str = include_str!("vectors/zookeeper-3.8.0/frames.jsonl");

struct Row {
    v: Value,
    bytes: Vec<u8>,
}

impl Row {
    fn id(&self) -> &str {
        self.v["id"].as_str().unwrap()
    }
    fn dir(&self) -> &str {
        self.v["dir"].as_str().unwrap()
    }
    fn op(&self) -> &str {
        self.v["op"].as_str().unwrap()
    }
    fn note(&self) -> &str {
        self.v["note"].as_str().unwrap()
    }
    fn int(&self, key: &str) -> Option<i64> {
        self.v.get(key).and_then(Value::as_i64)
    }
    fn opcode(&self) -> Option<i32> {
        self.int("opcode").map(|o| i32::try_from(o).unwrap())
    }
    fn xid(&self) -> Option<i32> {
        self.int("xid").map(|x| i32::try_from(x).unwrap())
    }
    fn partial(&self) -> bool {
        self.v
            .get("partial")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    /// The payload of a complete frame, after checking the framing layer agrees.
    fn payload(&self) -> &[u8] {
        let f = next_frame(&self.bytes, DEFAULT_MAX_FRAME_LEN)
            .unwrap()
            .unwrap_or_else(|| panic!("{}: incomplete frame", self.id()));
        assert_eq!(f.consumed, self.bytes.len(), "{}: frame length", self.id());
        &self.bytes[f.payload]
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn rows() -> Vec<Row> {
    FRAMES
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let bytes = hex(v["hex"].as_str().unwrap());
            Row { v, bytes }
        })
        .collect()
}

fn by_id(rows: &[Row]) -> BTreeMap<&str, &Row> {
    rows.iter().map(|r| (r.id(), r)).collect()
}

/// The integer right after `key` in a note (`flags=4`, `version=-1`), if any.
fn note_int(note: &str, key: &str) -> Option<i64> {
    let at = note.find(key)? + key.len();
    let digits: String = note[at..]
        .chars()
        .enumerate()
        .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
        .map(|(_, c)| c)
        .collect();
    // "ttl=2^40" is an expression, not a value.
    if note[at + digits.len()..].starts_with('^') {
        return None;
    }
    digits.parse().ok()
}

/// The first `/vec...` path mentioned in a note.
fn note_path(note: &str) -> Option<&str> {
    let at = note.find("/vec")?;
    let end = note[at..]
        .find(|c: char| c.is_whitespace() || "',):;\"".contains(c))
        .map_or(note.len(), |e| at + e);
    Some(&note[at..end])
}

fn path_of(req: &Request) -> Option<&str> {
    Some(match req {
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => &r.path,
        Request::CreateTtl(r) => &r.path,
        Request::Delete(r) => &r.path,
        Request::Exists(r) | Request::GetData(r) | Request::GetChildren(r) => &r.path,
        Request::GetChildren2(r) => &r.path,
        Request::SetData(r) => &r.path,
        Request::SetAcl(r) => &r.path,
        Request::Check(r) => &r.path,
        Request::CheckWatches(r) | Request::RemoveWatches(r) => &r.path,
        Request::AddWatch(r) => &r.path,
        Request::GetAcl(r)
        | Request::Sync(r)
        | Request::DeleteContainer(r)
        | Request::GetEphemerals(r)
        | Request::GetAllChildrenNumber(r) => &r.path,
        _ => return None,
    })
}

/// Checks the note's `key=N` against a decoded field; returns whether it was checked.
fn check_int(row: &Row, key: &str, got: Option<i64>) -> bool {
    // "(/vec/c1 was made with createContainer flags=4)" describes another request.
    if row.note().contains("made with") {
        return false;
    }
    match (note_int(row.note(), key), got) {
        (Some(want), Some(got)) => {
            assert_eq!(got, want, "{}: {key}", row.id());
            true
        }
        _ => false,
    }
}

fn check_request_fields(row: &Row, req: &Request) -> usize {
    let mut checked = 0;
    if let (Some(p), Some(want)) = (path_of(req), note_path(row.note())) {
        assert_eq!(p, want, "{}: path", row.id());
        checked += 1;
    }
    let (flags, version, ttl, watch, mode, wtype) = match req {
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => {
            (Some(r.flags), None, None, None, None, None)
        }
        Request::CreateTtl(r) => (Some(r.flags), None, Some(r.ttl), None, None, None),
        Request::Delete(r) => (None, Some(r.version), None, None, None, None),
        Request::SetData(r) => (None, Some(r.version), None, None, None, None),
        Request::SetAcl(r) => (None, Some(r.version), None, None, None, None),
        Request::Check(r) => (None, Some(r.version), None, None, None, None),
        Request::Exists(r) | Request::GetData(r) | Request::GetChildren(r) => {
            (None, None, None, Some(r.watch), None, None)
        }
        Request::GetChildren2(r) => (None, None, None, Some(r.watch), None, None),
        Request::AddWatch(r) => (None, None, None, None, Some(r.mode), None),
        Request::CheckWatches(r) | Request::RemoveWatches(r) => {
            (None, None, None, None, None, Some(r.watcher_type))
        }
        _ => (None, None, None, None, None, None),
    };
    let wide = |v: Option<i32>| v.map(i64::from);
    checked += usize::from(check_int(row, "flags=", wide(flags)));
    checked += usize::from(check_int(row, "version=", wide(version)));
    checked += usize::from(check_int(row, "ttl=", ttl));
    checked += usize::from(check_int(row, "mode=", wide(mode)));
    checked += usize::from(check_int(row, "type=", wide(wtype)));
    if let Some(w) = watch {
        for (text, want) in [("watch=true", true), ("watch=false", false)] {
            if row.note().contains(text) {
                assert_eq!(w, want, "{}: watch", row.id());
                checked += 1;
            }
        }
    }
    checked
}

/// Client frames whose decoding must fail, and how.
fn expected_request_error(row: &Row) -> Option<RequestError> {
    let xid = row.xid().unwrap();
    match row.id() {
        "unknown_opcode_999_req" => Some(RequestError::UnknownOp { xid, op: 999 }),
        "multi_with_read_op_req" => Some(RequestError::NotAllowedInMulti {
            xid,
            op: 14,
            sub_op: 4,
            index: 0,
        }),
        "multi_read_with_write_op_req" => Some(RequestError::NotAllowedInMulti {
            xid,
            op: 22,
            sub_op: 1,
            index: 0,
        }),
        // The body is the raw path without its length: "/vec" read as a length.
        "deletecontainer_raw_path_persistent_req" | "deletecontainer_raw_path_container_req" => {
            Some(RequestError::Body {
                xid,
                op: 20,
                source: DecodeError::LengthExceedsInput {
                    at: 8,
                    len: 0x2f76_6563,
                    remaining: 3,
                },
            })
        }
        _ => None,
    }
}

#[test]
fn vector_file_has_the_documented_shape() {
    let rows = rows();
    assert_eq!(rows.len(), 519);
    assert_eq!(rows.iter().filter(|r| r.dir() == "c2s").count(), 245);
    assert_eq!(rows.iter().filter(|r| r.dir() == "s2c").count(), 274);
    assert_eq!(rows.iter().filter(|r| r.partial()).count(), 3);
}

#[test]
fn partial_frames_are_judged_by_the_framing_layer() {
    let rows = rows();
    let ids = by_id(&rows);
    let over = &ids["frame_over_limit_req"].bytes;
    assert_eq!(
        next_frame(over, DEFAULT_MAX_FRAME_LEN),
        Err(FrameError::TooLong {
            len: 1_048_576,
            max: 1_048_575
        })
    );
    let neg = &ids["frame_negative_len_req"].bytes;
    assert_eq!(
        next_frame(neg, DEFAULT_MAX_FRAME_LEN),
        Err(FrameError::NegativeLength { len: -1 })
    );
    // Exactly jute.maxbuffer: accepted, just not complete yet (64 of 1,048,579 bytes).
    let max = &ids["frame_max_len_req"].bytes;
    assert_eq!(next_frame(max, DEFAULT_MAX_FRAME_LEN), Ok(None));
    // Its visible part is a setData header whose data length runs past what we hold.
    assert_eq!(
        decode_request(&max[4..]),
        Err(RequestError::Body {
            xid: 7,
            op: 5,
            source: DecodeError::LengthExceedsInput {
                at: 18,
                len: 1_048_549,
                remaining: 38
            }
        })
    );
}

#[test]
fn every_client_frame_decodes_as_its_note_says() {
    let rows = rows();
    let (mut decoded, mut rejected, mut fields) = (0, 0, 0);
    for row in rows.iter().filter(|r| r.dir() == "c2s" && !r.partial()) {
        let payload = row.payload();
        if row.op() == "connect" {
            let req = decode_connect_request(payload).unwrap();
            let legacy = row.note().contains("without the trailing readOnly byte");
            assert_eq!(req.read_only.is_none(), legacy, "{}", row.id());
            check_int(row, "timeOut=", Some(i64::from(req.timeout_ms)));
            assert_eq!(req.protocol_version, 0);
            let mut out = Vec::new();
            encode_connect_request(&req, &mut out);
            assert_eq!(out, row.bytes, "{}: re-encoded", row.id());
            decoded += 1;
            continue;
        }
        if let Some(want) = expected_request_error(row) {
            assert_eq!(decode_request(payload), Err(want), "{}", row.id());
            rejected += 1;
            continue;
        }
        let (h, req) = decode_request(payload).unwrap_or_else(|e| panic!("{}: {e}", row.id()));
        assert_eq!(Some(h.xid), row.xid(), "{}: xid", row.id());
        assert_eq!(Some(h.op.code()), row.opcode(), "{}: op", row.id());
        assert_eq!(req.op(), h.op);
        fields += check_request_fields(row, &req);
        // Our client-side encoder writes what the capture script wrote.
        let mut out = Vec::new();
        encode_request(h.xid, &req, &mut out);
        assert_eq!(out, row.bytes, "{}: re-encoded", row.id());
        decoded += 1;
    }
    assert_eq!(decoded + rejected, 242);
    assert_eq!(rejected, 5);
    assert!(fields >= 200, "only {fields} note fields checked");
}

#[test]
fn every_server_frame_re_encodes_byte_identically() {
    let rows = rows();
    let ids = by_id(&rows);
    let mut count = 0;
    for row in rows.iter().filter(|r| r.dir() == "s2c") {
        let payload = row.payload();
        let mut out = Vec::new();
        if row.op() == "connect" {
            let resp = decode_connect_response(payload).unwrap();
            assert_eq!(Some(resp.session_id), row.int("session_id").map(SessionId));
            assert_eq!(Some(i64::from(resp.timeout_ms)), row.int("timeout"));
            let req_id = row.id().replace("_rep", "_req");
            let req = decode_connect_request(ids[req_id.as_str()].payload()).unwrap();
            assert_eq!(
                resp.read_only.is_some(),
                req.read_only.is_some(),
                "{}: readOnly byte mirrors the request",
                row.id()
            );
            encode_connect_response(&resp, &mut out);
        } else {
            // The reply's op is that of the request it answers; notifications have none.
            let op = match row.opcode() {
                None => OpCode::Notification,
                Some(code) => OpCode::from_code(code).unwrap_or(OpCode::Error),
            };
            let Reply { header, mut body } = decode_reply(payload, op).unwrap();
            assert_eq!(Some(header.xid), row.xid(), "{}: xid", row.id());
            assert_eq!(Some(header.zxid), row.int("zxid").map(Zxid), "{}", row.id());
            assert_eq!(Some(i64::from(header.err)), row.int("err"), "{}", row.id());
            if header.err != 0 && payload.len() > 16 {
                body = decode_response_body(op, &payload[16..]).unwrap();
            }
            if let Some(ResponseBody::Notification(ev)) = &body {
                assert_eq!(Some(i64::from(ev.event_type)), row.int("event_type"));
                assert_eq!(Some(i64::from(ev.state)), row.int("state"));
                assert_eq!(Some(ev.path.as_str()), row.v["path"].as_str());
            }
            encode_reply(&header, body.as_ref(), &mut out);
        }
        assert_eq!(out, row.bytes, "{}: re-encoded", row.id());
        count += 1;
    }
    assert_eq!(count, 274);
}

fn reply(ids: &BTreeMap<&str, &Row>, id: &str, op: OpCode) -> Reply {
    decode_reply(ids[id].payload(), op).unwrap()
}

fn multi(r: &Reply) -> &[MultiResult] {
    match &r.body {
        Some(ResponseBody::Multi(m)) => &m.results,
        other => panic!("not a multi body: {other:?}"),
    }
}

#[test]
fn multi_results_have_the_documented_shapes() {
    let rows = rows();
    let ids = by_id(&rows);
    let ok = reply(&ids, "multi_success_rep", OpCode::Multi);
    let kinds: Vec<_> = multi(&ok)
        .iter()
        .map(std::mem::discriminant)
        .collect::<Vec<_>>();
    assert_eq!(kinds.len(), 5);
    assert!(matches!(multi(&ok)[1], MultiResult::Create(ref p) if p.path == "/vec/m2"));
    assert!(matches!(multi(&ok)[2], MultiResult::SetData(s) if s.version == 1));
    assert_eq!(multi(&ok)[3..], [MultiResult::Check, MultiResult::Delete]);

    let failed = reply(&ids, "multi_failure_rep", OpCode::Multi);
    assert_eq!(failed.header.err, 0);
    let codes: Vec<_> = multi(&failed)
        .iter()
        .map(|r| match r {
            MultiResult::Error(e) => *e,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(codes, vec![0, 0, -103, -2, -2]);

    let variants = reply(&ids, "multi_create_variants_rep", OpCode::Multi);
    let shapes: Vec<&str> = multi(&variants)
        .iter()
        .map(|r| match r {
            MultiResult::Create(_) => "create",
            MultiResult::Create2(_) => "create2",
            _ => "other",
        })
        .collect();
    assert_eq!(shapes, ["create", "create2", "create2", "create"]);

    let read = reply(&ids, "multi_read_rep", OpCode::MultiRead);
    let r = multi(&read);
    assert_eq!(r.len(), 4);
    assert!(matches!(&r[0], MultiResult::GetData(d) if d.data.as_deref() == Some(&b"m2"[..])));
    assert!(matches!(&r[1], MultiResult::GetChildren(c) if c.children.contains(&"m1".into())));
    assert_eq!(r[2..], [MultiResult::Error(-101), MultiResult::Error(-101)]);

    let marsh = &ids["multi_read_with_write_op_rep"];
    assert_eq!(marsh.bytes.len(), 4 + 16 + 9);
    let req = decode_request(ids["multi_read_with_write_op_req"].payload()).unwrap_err();
    let answer = req.reply().unwrap();
    assert!(answer.empty_multi_body);
    assert_eq!(answer.err.code(), -5);
    let header_only = &ids["multi_with_read_op_rep"];
    assert_eq!(header_only.bytes.len(), 20);
}

#[test]
fn selected_requests_decode_to_exact_values() {
    let rows = rows();
    let ids = by_id(&rows);
    let req = |id: &str| decode_request(ids[id].payload()).unwrap().1;
    match req("multi_create_variants_req") {
        Request::Multi(ops) => {
            let kinds: Vec<OpCode> = ops.iter().map(MultiOp::op).collect();
            assert_eq!(
                kinds,
                [
                    OpCode::Create2,
                    OpCode::CreateContainer,
                    OpCode::CreateTtl,
                    OpCode::Create
                ]
            );
            assert!(matches!(&ops[2], MultiOp::CreateTtl(t) if t.ttl == 60_000));
        }
        other => panic!("{other:?}"),
    }
    match req("setwatches2_req") {
        Request::SetWatches2(sw) => {
            assert_eq!(sw.relative_zxid, Zxid(0x70));
            assert_eq!(sw.data_watches, ["/vec/sw-data"]);
            assert_eq!(sw.persistent_watches, ["/vec/sw2-p"]);
            assert_eq!(sw.persistent_recursive_watches, ["/vec/sw2-r"]);
        }
        other => panic!("{other:?}"),
    }
    match req("auth_digest_req") {
        Request::Auth(a) => assert_eq!(
            (a.scheme.as_str(), &a.auth[..]),
            ("digest", &b"alice:secret"[..])
        ),
        other => panic!("{other:?}"),
    }
    match req("reconfig_disabled_req") {
        Request::Reconfig(r) => {
            assert_eq!(r.joining_servers, None);
            assert_eq!(r.new_members.as_deref(), Some("server.1=127.0.0.1:1:2"));
            assert_eq!(r.cur_config_id, -1);
        }
        other => panic!("{other:?}"),
    }
    match req("create_bad_path_nul_req") {
        Request::Create(c) => assert!(c.path.contains('\0')),
        other => panic!("{other:?}"),
    }
    match req("multi_failure_req") {
        Request::Multi(ops) => {
            assert!(matches!(&ops[1], MultiOp::SetData(s) if s.data.as_deref() == Some(&b"x"[..])));
            assert!(matches!(&ops[3], MultiOp::Delete(d) if d.version == -1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn special_replies() {
    let rows = rows();
    let ids = by_id(&rows);
    let add = reply(&ids, "addwatch_persistent_rep", OpCode::AddWatch);
    assert!(matches!(add.body, Some(ResponseBody::Error(e)) if e.value == 0));
    let who = reply(&ids, "whoami_two_identities_rep", OpCode::WhoAmI);
    match who.body {
        Some(ResponseBody::WhoAmI(w)) => {
            let ids: Vec<(&str, &str)> = w
                .client_info
                .iter()
                .map(|c| (c.auth_scheme.as_str(), c.user.as_str()))
                .collect();
            assert_eq!(
                ids,
                [("digest", "alice"), ("digest", "bob"), ("ip", "127.0.0.1")]
            );
        }
        other => panic!("{other:?}"),
    }
    let unknown = reply(&ids, "unknown_opcode_999_rep", OpCode::Error);
    assert_eq!((unknown.header.zxid, unknown.header.err), (Zxid(-1), -6));
    let null_data = reply(&ids, "getdata_null_data_rep", OpCode::GetData);
    assert!(matches!(null_data.body, Some(ResponseBody::GetData(d)) if d.data.is_none()));
    let legacy = decode_connect_response(ids["connect_new_no_readonly_byte_rep"].payload());
    assert_eq!(legacy.unwrap().read_only, None);
}

#[test]
fn undecodable_requests_are_answered_as_zookeeper_did() {
    let rows = rows();
    let ids = by_id(&rows);
    for (req_id, rep_id) in [
        ("unknown_opcode_999_req", "unknown_opcode_999_rep"),
        ("multi_with_read_op_req", "multi_with_read_op_rep"),
        (
            "multi_read_with_write_op_req",
            "multi_read_with_write_op_rep",
        ),
    ] {
        let err = decode_request(ids[req_id].payload()).unwrap_err();
        let answer = err.reply().unwrap();
        let rep = ids[rep_id];
        let mut out = Vec::new();
        encode_error_reply(&answer, Zxid(rep.int("zxid").unwrap()), &mut out);
        assert_eq!(out, rep.bytes, "{rep_id}");
        assert_eq!(
            answer.close_after,
            rep.note().contains("server closed"),
            "{rep_id}"
        );
    }
}
