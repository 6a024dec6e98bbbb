//! Replays the watch conversations of the ZooKeeper 3.8.0 capture
//! (`tests/vectors/zookeeper-3.8.0/frames.jsonl`, frames up to the end of the setWatches2
//! section) through a real `DataTree` and the `WatchManager`, and checks that the watching
//! connections receive exactly the notifications 3.8 sent, at the same place among their
//! replies.
//!
//! How: every client frame is decoded; writes are prepared and applied with the zxid of the
//! captured reply (so mzxid / pzxid line up with the capture and setWatches' relativeZxid
//! means the same thing); watch-setting reads, addWatch, checkWatches, removeWatches and
//! setWatches drive the manager. For each connection a transcript is built of the frames the
//! server would write: notifications, then the reply of the request being processed. It must
//! equal the captured s2c frames of that connection (replies by stem, notifications by event
//! type and path). Multis, top-level checks and session ops are not replayed (they touch no
//! watched path); ephemeral creates before the watch section are skipped (they need the
//! session table, which this test does not drive).

use std::collections::BTreeMap;

use arbor_core::proto::jute::{decode_reply, decode_request, Request, ResponseBody};
use arbor_core::tree::{CreateOp, DataTree, PrepContext, TreeConfig, WriteOp};
use arbor_core::txn::{apply, OpResult};
use arbor_core::types::{
    AddWatchMode, ConnId, EventType, Id, OpCode, SessionId, WallMillis, WatcherType, Zxid,
};
use arbor_core::watch::{
    Notification, SetWatchesLists, WatchKind, WatchLimits, WatchManager, WatchQueryError,
    SYNTHESIZED_EVENT_ZXID,
};
use serde_json::Value;

const FRAMES: &str = include_str!("vectors/zookeeper-3.8.0/frames.jsonl");

/// Last frame replayed: the setWatches section ends here; later frames need the container /
/// TTL reaper and session expiry.
const LAST_SEQ: u64 = 365;
/// From here on every write is checked to succeed or fail as it did on 3.8.
const WATCH_SECTION_SEQ: u64 = 116;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Frame {
    Reply(String),
    Event(EventType, String),
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn rows() -> Vec<Value> {
    FRAMES
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["seq"].as_u64().unwrap() <= LAST_SEQ)
        .collect()
}

fn stem(id: &str) -> &str {
    id.strip_suffix("_req")
        .or_else(|| id.strip_suffix("_rep"))
        .unwrap_or(id)
}

/// The captured s2c frames per connection.
fn expected(rows: &[Value]) -> BTreeMap<u64, Vec<Frame>> {
    let mut out: BTreeMap<u64, Vec<Frame>> = BTreeMap::new();
    for v in rows
        .iter()
        .filter(|v| v["dir"] == "s2c" && v["op"] != "connect")
    {
        let conn = v["conn"].as_u64().unwrap();
        let id = v["id"].as_str().unwrap();
        let frame = if v["op"] == "notification" {
            let payload = &hex(v["hex"].as_str().unwrap())[4..];
            let reply = decode_reply(payload, OpCode::Notification).unwrap();
            assert_eq!(reply.header.zxid, Zxid(-1), "3.8 sends zxid -1 in {id}");
            let Some(ResponseBody::Notification(e)) = reply.body else {
                panic!("{id} is not a notification");
            };
            Frame::Event(EventType::from_code(e.event_type).unwrap(), e.path)
        } else {
            Frame::Reply(stem(id).to_string())
        };
        out.entry(conn).or_default().push(frame);
    }
    out
}

struct Replay {
    tree: DataTree,
    watches: WatchManager,
    got: BTreeMap<u64, Vec<Frame>>,
    sessions: BTreeMap<u64, SessionId>,
    /// stem -> (zxid, err) of captured replies.
    replies: BTreeMap<String, (i64, i32)>,
    setwatches_events: usize,
}

impl Replay {
    fn new(rows: &[Value]) -> Replay {
        let mut replies = BTreeMap::new();
        let mut sessions = BTreeMap::new();
        for v in rows.iter().filter(|v| v["dir"] == "s2c") {
            let id = v["id"].as_str().unwrap();
            if let Some(s) = v["session_id"].as_i64() {
                sessions.insert(v["conn"].as_u64().unwrap(), SessionId(s));
            }
            if v["op"] != "notification" && v["op"] != "connect" {
                let zxid = v["zxid"].as_i64().unwrap();
                let err = v["err"].as_i64().unwrap() as i32;
                replies.insert(stem(id).to_string(), (zxid, err));
            }
        }
        let config = TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        };
        Replay {
            tree: DataTree::new(config),
            watches: WatchManager::new(WatchLimits::default()),
            got: BTreeMap::new(),
            sessions,
            replies,
            setwatches_events: 0,
        }
    }

    fn deliver(&mut self, notes: Vec<Notification>) {
        for n in notes {
            self.got
                .entry(n.conn.0)
                .or_default()
                .push(Frame::Event(n.event, n.path));
        }
    }

    /// Applies a write with the captured reply's zxid; returns whether it succeeded.
    fn write(&mut self, conn: u64, stem: &str, op: WriteOp) -> bool {
        let (zxid, _) = self.replies[stem];
        let auth = [Id::new("ip", "127.0.0.1")];
        let ctx = PrepContext {
            session: self.sessions.get(&conn).copied().unwrap_or(SessionId(0)),
            cxid: 0,
            zxid: Zxid(zxid),
            time: WallMillis(1_700_000_000_000),
            auth: &auth,
        };
        let Ok(txn) = self.tree.prep(&ctx, &op) else {
            return false;
        };
        let outcome = apply(&mut self.tree, &txn);
        let notes = self.watches.trigger(&outcome.triggers, outcome.zxid);
        self.watches.check_invariants();
        self.deliver(notes);
        !matches!(outcome.result, OpResult::Error(_))
    }

    /// Processes one client frame; returns the captured err the reply must carry as far as
    /// the replay decides it (None: the replay does not decide this op).
    fn request(&mut self, v: &Value) -> Option<bool> {
        let conn = v["conn"].as_u64().unwrap();
        let id = v["id"].as_str().unwrap();
        let stem = stem(id).to_string();
        let seq = v["seq"].as_u64().unwrap();
        if v["op"] == "connect" {
            return None;
        }
        let payload = &hex(v["hex"].as_str().unwrap())[4..];
        // A few captured requests are refused by the decoder by design (a multi holding a
        // read op, ...); they touch no watch.
        let Ok((_, req)) = decode_request(payload) else {
            return None;
        };
        let c = ConnId(conn);
        let create = |r: arbor_core::proto::jute::CreateRequest, op| WriteOp::Create {
            path: r.path,
            data: r.data,
            acl: r.acl,
            flags: r.flags,
            op,
        };
        let ok = match req {
            Request::Create(r) | Request::Create2(r)
                if seq < WATCH_SECTION_SEQ && r.flags & 1 == 1 =>
            {
                return None; // ephemeral: needs the session table
            }
            Request::Create(r) => self.write(conn, &stem, create(r, CreateOp::Create)),
            Request::Create2(r) => self.write(conn, &stem, create(r, CreateOp::Create2)),
            Request::CreateContainer(r) => {
                self.write(conn, &stem, create(r, CreateOp::CreateContainer))
            }
            Request::CreateTtl(r) => {
                let op = WriteOp::Create {
                    path: r.path,
                    data: r.data,
                    acl: r.acl,
                    flags: r.flags,
                    op: CreateOp::CreateTtl { ttl: r.ttl },
                };
                self.write(conn, &stem, op)
            }
            Request::Delete(r) => self.write(
                conn,
                &stem,
                WriteOp::Delete {
                    path: r.path,
                    version: r.version,
                },
            ),
            Request::SetData(r) => self.write(
                conn,
                &stem,
                WriteOp::SetData {
                    path: r.path,
                    data: r.data,
                    version: r.version,
                },
            ),
            Request::SetAcl(r) => self.write(
                conn,
                &stem,
                WriteOp::SetAcl {
                    path: r.path,
                    acl: r.acl,
                    version: r.version,
                },
            ),
            Request::Exists(r) => {
                let found = self.tree.stat(&r.path).is_some();
                if r.watch {
                    // statNode registers before looking the node up.
                    self.watches.register(c, &r.path, WatchKind::Data).unwrap();
                }
                found
            }
            Request::GetData(r) => {
                let found = self.tree.stat(&r.path).is_some();
                if r.watch && found {
                    self.watches.register(c, &r.path, WatchKind::Data).unwrap();
                }
                found
            }
            Request::GetChildren(r) | Request::GetChildren2(r) => {
                let found = self.tree.stat(&r.path).is_some();
                if r.watch && found {
                    self.watches.register(c, &r.path, WatchKind::Child).unwrap();
                }
                found
            }
            Request::AddWatch(r) => match AddWatchMode::from_code(r.mode) {
                Some(mode) => {
                    self.watches.register(c, &r.path, mode.into()).unwrap();
                    true
                }
                None => false,
            },
            Request::CheckWatches(r) | Request::RemoveWatches(r) => {
                let ty = WatcherType::from_code(r.watcher_type).unwrap();
                let res = if id.starts_with("check") {
                    self.watches.check_watches(c, &r.path, ty)
                } else {
                    self.watches.remove_watches(c, &r.path, ty)
                };
                let want = self.replies[&stem].1;
                let code = match &res {
                    Ok(()) => 0,
                    Err(WatchQueryError::NoWatcher { .. }) => -121,
                    Err(WatchQueryError::UnsupportedType { .. }) => -5,
                    Err(e) => panic!("{e:?}"),
                };
                assert_eq!(code, want, "{id}: reply code");
                res.is_ok()
            }
            Request::SetWatches(r) => {
                let lists = SetWatchesLists {
                    data: &r.data_watches,
                    exist: &r.exist_watches,
                    child: &r.child_watches,
                    ..SetWatchesLists::default()
                };
                self.set_watches(c, r.relative_zxid, &lists)
            }
            Request::SetWatches2(r) => {
                let lists = SetWatchesLists {
                    data: &r.data_watches,
                    exist: &r.exist_watches,
                    child: &r.child_watches,
                    persistent: &r.persistent_watches,
                    persistent_recursive: &r.persistent_recursive_watches,
                };
                self.set_watches(c, r.relative_zxid, &lists)
            }
            _ => return None,
        };
        self.watches.check_invariants();
        Some(ok)
    }

    fn set_watches(&mut self, c: ConnId, relative: Zxid, lists: &SetWatchesLists<'_>) -> bool {
        let tree = &self.tree;
        let notes = self
            .watches
            .set_watches(c, relative, lists, |p| tree.stat(p))
            .unwrap();
        assert!(notes.iter().all(|n| n.zxid == SYNTHESIZED_EVENT_ZXID));
        self.setwatches_events += notes.len();
        self.deliver(notes);
        true
    }
}

#[test]
fn watch_conversations_match_zookeeper_3_8() {
    let rows = rows();
    let want = expected(&rows);
    let mut r = Replay::new(&rows);
    let mut checked_writes = 0;
    for v in rows.iter().filter(|v| v["dir"] == "c2s") {
        let id = v["id"].as_str().unwrap();
        let stem = stem(id).to_string();
        let conn = v["conn"].as_u64().unwrap();
        let ok = r.request(v);
        if let (Some(ok), Some(&(_, err))) = (ok, r.replies.get(&stem)) {
            if v["seq"].as_u64().unwrap() >= WATCH_SECTION_SEQ {
                assert_eq!(ok, err == 0, "{id}: success differs from 3.8 (err {err})");
                checked_writes += 1;
            }
        }
        if r.replies.contains_key(&stem) {
            r.got.entry(conn).or_default().push(Frame::Reply(stem));
        }
    }
    assert!(
        checked_writes > 80,
        "only {checked_writes} requests were checked"
    );
    assert_eq!(
        r.setwatches_events, 5,
        "setWatches synthesised 4 events, setWatches2 one"
    );

    // The watching connection (8) and the writing one (11) receive exactly what 3.8 sent,
    // in the same place among their replies; every other connection too.
    let events = |f: &Vec<Frame>| f.iter().filter(|x| matches!(x, Frame::Event(..))).count();
    assert_eq!(
        events(&want[&8]),
        27,
        "vector sanity: conn 8's notifications up to seq 365"
    );
    for (conn, frames) in &want {
        let got = r.got.get(conn).cloned().unwrap_or_default();
        let first_diff = frames.iter().zip(&got).position(|(a, b)| a != b);
        assert_eq!(
            &got, frames,
            "conn {conn}: transcripts differ (first difference at index {first_diff:?})"
        );
    }
    // Nothing remains armed that 3.8 would not hold: the one-shot watches left at the end.
    r.watches.check_invariants();
}

#[test]
fn named_watch_events_are_all_replayed() {
    // Every `_evt` frame up to LAST_SEQ belongs to the scenarios named in the task, so the
    // transcript comparison above covers each of them.
    let names: Vec<String> = rows()
        .iter()
        .filter(|v| v["op"] == "notification")
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    for prefix in [
        "watch_exists_",
        "watch_getdata_",
        "watch_own_write_",
        "watch_getchildren_",
        "watch_getchildren2_",
        "persistent_watch_",
        "recursive_watch_",
        "setwatches_",
        "setwatches2_",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "no {prefix} event in the replayed range"
        );
    }
    assert!(names.iter().all(|n| !n.starts_with("container_")));
}

#[test]
fn four_letter_word_counts_match_zookeeper_3_8() {
    // The watches live when the capture sent wchs / wchc / mntr (fourletter.jsonl): session
    // ...0000 held the persistent and recursive watches setWatches2 armed and the exist
    // watches on the containers c2 and c3 that the reaper never deleted; session ...0005 an
    // exist watch on /vec/p.
    let fourletter = include_str!("vectors/zookeeper-3.8.0/fourletter.jsonl");
    let reply = |cmd: &str| -> String {
        fourletter
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["cmd"] == cmd)
            .unwrap()["reply_text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b) = (ConnId(8), ConnId(11));
    let mut m = WatchManager::new(WatchLimits::default());
    m.register(a, "/vec/sw2-p", WatchKind::Persistent).unwrap();
    m.register(a, "/vec/sw2-r", WatchKind::PersistentRecursive)
        .unwrap();
    m.register(a, "/vec/c2", WatchKind::Data).unwrap();
    m.register(a, "/vec/c3", WatchKind::Data).unwrap();
    m.register(b, "/vec/p", WatchKind::Data).unwrap();
    let z = m.zookeeper_counts();
    let wchs = format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        z.wchs.connections, z.wchs.paths, z.wchs.watches
    );
    assert_eq!(wchs, reply("wchs"));
    let mntr = reply("mntr");
    assert!(
        mntr.contains(&format!("zk_watch_count\t{}\n", z.watch_count)),
        "mntr says {mntr}"
    );
    // wchp lists the same paths (its order is ZooKeeper's hash order; ours is sorted).
    let wchp_text = reply("wchp");
    let mut wchp: Vec<&str> = wchp_text.lines().filter(|l| l.starts_with('/')).collect();
    wchp.sort_unstable();
    assert_eq!(m.watched_paths(), wchp);
}
