//! Watches through the pipeline: registration by reads, firing on apply, ordering against
//! replies, setWatches, connection close.

use super::harness::{create, Cluster};
use crate::proto::jute::{
    AddWatchRequest, PathWatchRequest, Request, SetDataRequest, SetWatches, WatchesRequest,
};
use crate::replica::{Input, Output};
use crate::types::{ConnId, ErrorCode, EventType, Zxid};

fn get_w(path: &str) -> Request {
    Request::GetData(PathWatchRequest {
        path: path.into(),
        watch: true,
    })
}

fn set(path: &str) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(b"new".to_vec()),
        version: -1,
    })
}

fn kinds(outs: &[Output]) -> Vec<String> {
    outs.iter()
        .map(|o| match o {
            Output::Notify { event, .. } => format!("notify:{}:{}", event.event_type, event.path),
            Output::Reply { header, .. } => format!("reply:{}", header.xid),
            Output::CloseClient { .. } => "close".into(),
            Output::ConnectResponse { .. } => "connected".into(),
            _ => "other".into(),
        })
        .collect()
}

#[test]
fn data_watch_fires_once_before_the_reply_that_reflects_the_change() {
    let mut c = Cluster::new(1);
    c.elect();
    c.connect(0, 1);
    c.send(0, 1, 1, create("/a"));
    c.send(0, 1, 2, get_w("/a"));
    c.settle();
    let mark = c.client[0].len();
    c.send(0, 1, 3, set("/a"));
    c.send(0, 1, 4, set("/a"));
    c.settle();
    let outs = c.client_since(0, 1, mark);
    let changed = EventType::NodeDataChanged.code();
    assert_eq!(
        kinds(&outs),
        vec![
            format!("notify:{changed}:/a"),
            "reply:3".into(),
            "reply:4".into()
        ]
    );
    let Output::Notify { zxid, .. } = &outs[0] else {
        unreachable!()
    };
    let Output::Reply { header, .. } = &outs[1] else {
        unreachable!()
    };
    assert_eq!(*zxid, header.zxid, "notification carries the txn zxid");
}

#[test]
fn watch_on_a_follower_fires_for_a_write_through_another_server() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (0..3).find(|i| *i != l).unwrap();
    c.connect(l, 1);
    c.connect(f, 2);
    c.send(l, 1, 1, create("/a"));
    c.settle();
    c.send(
        f,
        2,
        1,
        Request::Exists(PathWatchRequest {
            path: "/b".into(),
            watch: true,
        }),
    );
    c.send(
        f,
        2,
        2,
        Request::GetChildren(PathWatchRequest {
            path: "/".into(),
            watch: true,
        }),
    );
    let mark = c.client[f].len();
    c.send(l, 1, 2, create("/b"));
    c.settle();
    let outs = c.client_since(f, 2, mark);
    assert_eq!(
        kinds(&outs),
        vec![
            format!("notify:{}:/b", EventType::NodeCreated.code()),
            format!("notify:{}:/", EventType::NodeChildrenChanged.code())
        ]
    );
}

#[test]
fn set_watches_synthesizes_missed_events_and_watches_die_with_the_connection() {
    let mut c = Cluster::new(1);
    c.elect();
    c.connect(0, 1);
    c.send(0, 1, 1, create("/a"));
    c.settle();
    let mark = c.client[0].len();
    c.send(
        0,
        1,
        -8,
        Request::SetWatches(SetWatches {
            relative_zxid: Zxid(0),
            data_watches: vec!["/a".into(), "bad-path".into()],
            exist_watches: vec!["/gone".into()],
            child_watches: vec![],
        }),
    );
    let outs = c.client_since(0, 1, mark);
    assert_eq!(
        kinds(&outs),
        vec![
            format!("notify:{}:/a", EventType::NodeDataChanged.code()),
            "reply:-8".into()
        ]
    );
    let Output::Notify { zxid, .. } = &outs[0] else {
        unreachable!()
    };
    assert_eq!(*zxid, crate::watch::SYNTHESIZED_EVENT_ZXID);
    // The exist watch on /gone is armed: check, then the connection closes and drops it.
    let outs = c.send(
        0,
        1,
        5,
        Request::CheckWatches(WatchesRequest {
            path: "/gone".into(),
            watcher_type: 2,
        }),
    );
    assert!(matches!(&outs[0], Output::Reply { header, .. } if header.err == 0));
    c.step(0, Input::ClientClosed { conn: ConnId(1) });
    assert_eq!(c.nodes[0].pipeline.watches.watch_count(), 0);
}

#[test]
fn add_watch_persistent_recursive_and_remove_watches() {
    let mut c = Cluster::new(1);
    c.elect();
    c.connect(0, 1);
    let outs = c.send(
        0,
        1,
        1,
        Request::AddWatch(AddWatchRequest {
            path: "/".into(),
            mode: 1,
        }),
    );
    assert!(matches!(&outs[0], Output::Reply { header, body: Some(_), .. } if header.err == 0));
    let mark = c.client[0].len();
    c.send(0, 1, 2, create("/x"));
    c.send(0, 1, 3, create("/x/y"));
    c.settle();
    let k = kinds(&c.client_since(0, 1, mark));
    let created = EventType::NodeCreated.code();
    assert_eq!(
        k,
        vec![
            format!("notify:{created}:/x"),
            "reply:2".into(),
            format!("notify:{created}:/x/y"),
            "reply:3".into()
        ]
    );
    let outs = c.send(
        0,
        1,
        4,
        Request::RemoveWatches(WatchesRequest {
            path: "/".into(),
            watcher_type: 1,
        }),
    );
    assert!(
        matches!(&outs[0], Output::Reply { header, .. } if header.err == ErrorCode::NoWatcher.code())
    );
}
