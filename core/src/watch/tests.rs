//! Unit tests of the watch manager: one test per rule, happy and rejection paths.

use super::*;
use crate::txn::WatchTrigger;
use crate::types::Stat;

const A: ConnId = ConnId(1);
const B: ConnId = ConnId(2);
const C: ConnId = ConnId(3);
const Z: Zxid = Zxid(0x42);

fn mgr() -> WatchManager {
    WatchManager::new(WatchLimits::default())
}

fn t(path: &str, event: EventType) -> WatchTrigger {
    WatchTrigger {
        path: path.to_string(),
        event,
    }
}

/// Fires triggers and returns (conn, event, path) triples, checking invariants after.
fn fire(m: &mut WatchManager, triggers: &[WatchTrigger]) -> Vec<(ConnId, EventType, String)> {
    let out = m.trigger(triggers, Z);
    m.check_invariants();
    assert!(
        out.iter().all(|n| n.zxid == Z),
        "trigger events carry the txn zxid"
    );
    out.into_iter().map(|n| (n.conn, n.event, n.path)).collect()
}

fn ev(conn: ConnId, event: EventType, path: &str) -> (ConnId, EventType, String) {
    (conn, event, path.to_string())
}

fn create(path: &str, parent: &str) -> Vec<WatchTrigger> {
    vec![
        t(path, EventType::NodeCreated),
        t(parent, EventType::NodeChildrenChanged),
    ]
}

fn delete(path: &str, parent: &str) -> Vec<WatchTrigger> {
    vec![
        t(path, EventType::NodeDeleted),
        t(parent, EventType::NodeChildrenChanged),
    ]
}

fn set(path: &str) -> Vec<WatchTrigger> {
    vec![t(path, EventType::NodeDataChanged)]
}

#[test]
fn exist_watch_on_missing_node_fires_node_created_once() {
    let mut m = mgr();
    // exists(watch) on a missing node registers a data watch.
    m.register(A, "/a", WatchKind::Data).unwrap();
    assert_eq!(
        fire(&mut m, &create("/a", "/")),
        vec![ev(A, EventType::NodeCreated, "/a")]
    );
    assert_eq!(m.watch_count(), 0, "the one-shot watch is spent");
    assert!(fire(&mut m, &set("/a")).is_empty());
}

#[test]
fn data_watch_fires_data_changed_and_deleted_then_is_gone() {
    let mut m = mgr();
    m.register(A, "/a", WatchKind::Data).unwrap();
    assert_eq!(
        fire(&mut m, &set("/a")),
        vec![ev(A, EventType::NodeDataChanged, "/a")]
    );
    assert!(!m.contains(A, "/a", WatchKind::Data));
    m.register(A, "/a", WatchKind::Data).unwrap();
    assert_eq!(
        fire(&mut m, &delete("/a", "/")),
        vec![ev(A, EventType::NodeDeleted, "/a")]
    );
    assert_eq!(m.watch_count(), 0);
}

#[test]
fn data_watch_ignores_children_changed_and_other_paths() {
    let mut m = mgr();
    m.register(A, "/a", WatchKind::Data).unwrap();
    assert!(fire(&mut m, &create("/a/b", "/a")).is_empty());
    assert!(fire(&mut m, &set("/b")).is_empty());
    assert!(fire(&mut m, &set("/a/b")).is_empty());
    assert!(
        m.contains(A, "/a", WatchKind::Data),
        "unrelated events leave it armed"
    );
}

#[test]
fn child_watch_fires_children_changed_not_data_changed() {
    let mut m = mgr();
    m.register(A, "/k", WatchKind::Child).unwrap();
    assert!(fire(&mut m, &set("/k")).is_empty());
    assert_eq!(
        fire(&mut m, &create("/k/c", "/k")),
        vec![ev(A, EventType::NodeChildrenChanged, "/k")]
    );
    assert!(fire(&mut m, &delete("/k/c", "/k")).is_empty(), "one-shot");
}

#[test]
fn child_watch_fires_node_deleted_of_the_node_itself() {
    let mut m = mgr();
    m.register(A, "/k", WatchKind::Child).unwrap();
    assert_eq!(
        fire(&mut m, &delete("/k", "/")),
        vec![ev(A, EventType::NodeDeleted, "/k")]
    );
    assert_eq!(m.watch_count(), 0);
}

#[test]
fn child_watch_does_not_fire_on_node_created() {
    let mut m = mgr();
    m.register(A, "/k", WatchKind::Child).unwrap();
    assert!(fire(&mut m, &create("/k", "/")).is_empty());
    assert!(m.contains(A, "/k", WatchKind::Child));
}

#[test]
fn delete_with_data_and_child_watch_sends_one_node_deleted_and_spends_both() {
    let mut m = mgr();
    m.register(A, "/d", WatchKind::Data).unwrap();
    m.register(A, "/d", WatchKind::Child).unwrap();
    m.register(B, "/", WatchKind::Child).unwrap();
    assert_eq!(
        fire(&mut m, &delete("/d", "/")),
        vec![
            ev(A, EventType::NodeDeleted, "/d"),
            ev(B, EventType::NodeChildrenChanged, "/"),
        ]
    );
    assert_eq!(m.watch_count(), 0, "both one-shot watches are removed");
}

#[test]
fn duplicates_collapse() {
    let mut m = mgr();
    for _ in 0..3 {
        m.register(A, "/a", WatchKind::Data).unwrap();
    }
    assert_eq!(m.watch_count(), 1);
    assert_eq!(m.conn_watch_count(A), 1);
    assert_eq!(fire(&mut m, &set("/a")).len(), 1);
}

#[test]
fn several_connections_fire_in_conn_id_order() {
    let mut m = mgr();
    for c in [C, A, B] {
        m.register(c, "/a", WatchKind::Data).unwrap();
    }
    let got = fire(&mut m, &set("/a"));
    assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), vec![A, B, C]);
}

#[test]
fn events_follow_trigger_order() {
    let mut m = mgr();
    m.register(B, "/p", WatchKind::Data).unwrap();
    m.register(A, "/", WatchKind::Child).unwrap();
    assert_eq!(
        fire(&mut m, &create("/p", "/")),
        vec![
            ev(B, EventType::NodeCreated, "/p"),
            ev(A, EventType::NodeChildrenChanged, "/"),
        ]
    );
}

#[test]
fn persistent_watch_fires_repeatedly_including_children_changed() {
    let mut m = mgr();
    m.register(A, "/pw", WatchKind::from(AddWatchMode::Persistent))
        .unwrap();
    let mut got = Vec::new();
    got.extend(fire(&mut m, &create("/pw", "/")));
    got.extend(fire(&mut m, &set("/pw")));
    got.extend(fire(&mut m, &create("/pw/c", "/pw")));
    got.extend(fire(&mut m, &set("/pw/c")));
    got.extend(fire(&mut m, &delete("/pw/c", "/pw")));
    got.extend(fire(&mut m, &delete("/pw", "/")));
    got.extend(fire(&mut m, &create("/pw", "/")));
    assert_eq!(
        got,
        vec![
            ev(A, EventType::NodeCreated, "/pw"),
            ev(A, EventType::NodeDataChanged, "/pw"),
            ev(A, EventType::NodeChildrenChanged, "/pw"),
            ev(A, EventType::NodeChildrenChanged, "/pw"),
            ev(A, EventType::NodeDeleted, "/pw"),
            ev(A, EventType::NodeCreated, "/pw"),
        ]
    );
    assert!(m.contains(A, "/pw", WatchKind::Persistent));
}

#[test]
fn recursive_watch_gets_descendant_events_but_no_children_changed() {
    let mut m = mgr();
    m.register(A, "/pr", WatchKind::from(AddWatchMode::PersistentRecursive))
        .unwrap();
    let mut got = Vec::new();
    got.extend(fire(&mut m, &create("/pr", "/")));
    got.extend(fire(&mut m, &create("/pr/a", "/pr")));
    got.extend(fire(&mut m, &create("/pr/a/b", "/pr/a")));
    got.extend(fire(&mut m, &set("/pr/a/b")));
    got.extend(fire(&mut m, &delete("/pr/a/b", "/pr/a")));
    got.extend(fire(&mut m, &create("/prx", "/")));
    assert_eq!(
        got,
        vec![
            ev(A, EventType::NodeCreated, "/pr"),
            ev(A, EventType::NodeCreated, "/pr/a"),
            ev(A, EventType::NodeCreated, "/pr/a/b"),
            ev(A, EventType::NodeDataChanged, "/pr/a/b"),
            ev(A, EventType::NodeDeleted, "/pr/a/b"),
        ],
        "no NodeChildrenChanged, nothing for the sibling /prx"
    );
}

#[test]
fn recursive_watch_on_root_sees_everything_but_children_changed() {
    let mut m = mgr();
    m.register(A, "/", WatchKind::PersistentRecursive).unwrap();
    assert_eq!(
        fire(&mut m, &create("/x", "/")),
        vec![ev(A, EventType::NodeCreated, "/x")]
    );
}

#[test]
fn one_event_per_connection_per_trigger_across_kinds_and_ancestors() {
    let mut m = mgr();
    m.register(A, "/", WatchKind::PersistentRecursive).unwrap();
    m.register(A, "/a", WatchKind::PersistentRecursive).unwrap();
    m.register(A, "/a/b", WatchKind::Persistent).unwrap();
    m.register(A, "/a/b", WatchKind::Data).unwrap();
    m.register(B, "/a/b", WatchKind::Data).unwrap();
    assert_eq!(
        fire(&mut m, &set("/a/b")),
        vec![
            ev(A, EventType::NodeDataChanged, "/a/b"),
            ev(B, EventType::NodeDataChanged, "/a/b"),
        ]
    );
    assert!(
        !m.contains(A, "/a/b", WatchKind::Data),
        "spent even though deduplicated"
    );
    assert!(m.contains(A, "/a/b", WatchKind::Persistent));
    assert_eq!(m.watch_count(), 3);
}

#[test]
fn one_shot_and_persistent_coexist_on_one_path() {
    let mut m = mgr();
    m.register(A, "/a", WatchKind::Persistent).unwrap();
    m.register(A, "/a", WatchKind::Data).unwrap();
    assert_eq!(m.watch_count(), 2);
    assert_eq!(fire(&mut m, &set("/a")).len(), 1);
    assert_eq!(
        fire(&mut m, &set("/a")).len(),
        1,
        "the persistent one still fires"
    );
    assert_eq!(m.watch_count(), 1);
}

#[test]
fn remove_connection_drops_everything_of_that_connection_only() {
    let mut m = mgr();
    m.register(A, "/a", WatchKind::Data).unwrap();
    m.register(A, "/a", WatchKind::PersistentRecursive).unwrap();
    m.register(A, "/b", WatchKind::Child).unwrap();
    m.register(B, "/a", WatchKind::Data).unwrap();
    assert_eq!(m.remove_connection(A), 3);
    m.check_invariants();
    assert_eq!(m.remove_connection(A), 0);
    assert_eq!(m.watch_count(), 1);
    assert_eq!(fire(&mut m, &create("/a/x", "/a")), vec![]);
    assert_eq!(
        fire(&mut m, &set("/a")),
        vec![ev(B, EventType::NodeDataChanged, "/a")]
    );
}

#[test]
fn check_watches_types() {
    let mut m = mgr();
    m.register(A, "/wm", WatchKind::Data).unwrap();
    m.register(A, "/pw", WatchKind::Persistent).unwrap();
    assert_eq!(m.check_watches(A, "/wm", WatcherType::Data), Ok(()));
    assert_eq!(m.check_watches(A, "/wm", WatcherType::Any), Ok(()));
    assert!(matches!(
        m.check_watches(A, "/wm", WatcherType::Children),
        Err(WatchQueryError::NoWatcher { .. })
    ));
    assert!(
        matches!(
            m.check_watches(B, "/wm", WatcherType::Data),
            Err(WatchQueryError::NoWatcher { .. })
        ),
        "another connection's watch does not count"
    );
    assert!(matches!(
        m.check_watches(A, "/pw", WatcherType::Data),
        Err(WatchQueryError::NoWatcher { .. })
    ));
    assert_eq!(m.check_watches(A, "/pw", WatcherType::Any), Ok(()));
    for ty in [WatcherType::Persistent, WatcherType::PersistentRecursive] {
        assert_eq!(
            m.check_watches(A, "/pw", ty),
            Err(WatchQueryError::UnsupportedType { ty })
        );
    }
    assert_eq!(m.watch_count(), 2, "checking removes nothing");
}

#[test]
fn remove_watches_data_then_none_left() {
    let mut m = mgr();
    m.register(A, "/wm", WatchKind::Data).unwrap();
    assert_eq!(m.remove_watches(A, "/wm", WatcherType::Data), Ok(()));
    assert!(matches!(
        m.remove_watches(A, "/wm", WatcherType::Data),
        Err(WatchQueryError::NoWatcher { .. })
    ));
    assert!(
        fire(&mut m, &set("/wm")).is_empty(),
        "removed watches never fire"
    );
}

#[test]
fn remove_watches_children_leaves_data() {
    let mut m = mgr();
    m.register(A, "/wm", WatchKind::Data).unwrap();
    m.register(A, "/wm", WatchKind::Child).unwrap();
    assert_eq!(m.remove_watches(A, "/wm", WatcherType::Children), Ok(()));
    assert!(m.contains(A, "/wm", WatchKind::Data));
    assert!(!m.contains(A, "/wm", WatchKind::Child));
    m.check_invariants();
}

#[test]
fn remove_watches_any_removes_persistent_and_recursive() {
    let mut m = mgr();
    m.register(A, "/pw", WatchKind::Persistent).unwrap();
    m.register(A, "/pw", WatchKind::Data).unwrap();
    m.register(A, "/pr", WatchKind::PersistentRecursive)
        .unwrap();
    assert_eq!(m.remove_watches(A, "/pw", WatcherType::Any), Ok(()));
    assert_eq!(m.remove_watches(A, "/pr", WatcherType::Any), Ok(()));
    m.check_invariants();
    assert_eq!(m.watch_count(), 0);
    assert!(fire(&mut m, &set("/pw")).is_empty());
    assert!(fire(&mut m, &create("/pr/after", "/pr")).is_empty());
    assert!(matches!(
        m.remove_watches(A, "/pw", WatcherType::Any),
        Err(WatchQueryError::NoWatcher { .. })
    ));
}

#[test]
fn remove_watches_persistent_types_are_refused_and_the_watch_stays_armed() {
    let mut m = mgr();
    m.register(A, "/pw", WatchKind::Persistent).unwrap();
    m.register(A, "/pr", WatchKind::PersistentRecursive)
        .unwrap();
    assert_eq!(
        m.remove_watches(A, "/pw", WatcherType::Persistent),
        Err(WatchQueryError::UnsupportedType {
            ty: WatcherType::Persistent
        })
    );
    assert_eq!(
        m.remove_watches(A, "/pr", WatcherType::PersistentRecursive),
        Err(WatchQueryError::UnsupportedType {
            ty: WatcherType::PersistentRecursive
        })
    );
    assert_eq!(
        fire(&mut m, &set("/pw")),
        vec![ev(A, EventType::NodeDataChanged, "/pw")]
    );
    assert_eq!(m.watch_count(), 2);
}

#[test]
fn remove_watches_data_does_not_touch_persistent() {
    let mut m = mgr();
    m.register(A, "/pw", WatchKind::Persistent).unwrap();
    assert!(matches!(
        m.remove_watches(A, "/pw", WatcherType::Data),
        Err(WatchQueryError::NoWatcher { .. })
    ));
    assert!(m.contains(A, "/pw", WatchKind::Persistent));
}

fn stat(mzxid: i64, pzxid: i64) -> Stat {
    Stat {
        mzxid,
        pzxid,
        ..Stat::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn set_watches_each_case_and_event_order() {
    let mut m = mgr();
    // Tree: sw-data changed at 0x6d, sw-same unchanged (0x6a), sw-kids got a child at 0x70,
    // sw-created exists now, sw-deleted is gone, sw-never never existed.
    let lookup = |p: &str| match p {
        "/sw-data" => Some(stat(0x6d, 0x67)),
        "/sw-same" => Some(stat(0x6a, 0x6a)),
        "/sw-kids" => Some(stat(0x69, 0x70)),
        "/sw-kids-same" => Some(stat(0x69, 0x69)),
        "/sw-created" => Some(stat(0x6f, 0x6f)),
        _ => None,
    };
    // Lists given in an order unlike the event order: events must still be data, exist,
    // child.
    let data = strings(&["/sw-data", "/sw-deleted", "/sw-same"]);
    let exist = strings(&["/sw-created", "/sw-never"]);
    let child = strings(&["/sw-kids", "/sw-kids-same", "/sw-deleted"]);
    let lists = SetWatchesLists {
        data: &data,
        exist: &exist,
        child: &child,
        ..SetWatchesLists::default()
    };
    let got = m.set_watches(A, Zxid(0x6c), &lists, lookup).unwrap();
    m.check_invariants();
    assert!(got
        .iter()
        .all(|n| n.conn == A && n.zxid == SYNTHESIZED_EVENT_ZXID));
    let got: Vec<_> = got.into_iter().map(|n| (n.event, n.path)).collect();
    assert_eq!(
        got,
        vec![
            (EventType::NodeDataChanged, "/sw-data".to_string()),
            (EventType::NodeDeleted, "/sw-deleted".to_string()),
            (EventType::NodeCreated, "/sw-created".to_string()),
            (EventType::NodeChildrenChanged, "/sw-kids".to_string()),
            (EventType::NodeDeleted, "/sw-deleted".to_string()),
        ]
    );
    // Re-armed silently: sw-same (data), sw-never (exist), sw-kids-same (child).
    assert_eq!(m.watch_count(), 3);
    assert!(m.contains(A, "/sw-same", WatchKind::Data));
    assert!(m.contains(A, "/sw-never", WatchKind::Data));
    assert!(m.contains(A, "/sw-kids-same", WatchKind::Child));
    assert!(
        !m.contains(A, "/sw-data", WatchKind::Data),
        "fired now, not registered"
    );
    assert_eq!(
        fire(&mut m, &set("/sw-same")),
        vec![ev(A, EventType::NodeDataChanged, "/sw-same")]
    );
    assert_eq!(
        fire(&mut m, &create("/sw-never", "/")),
        vec![ev(A, EventType::NodeCreated, "/sw-never")]
    );
}

#[test]
fn set_watches_equal_zxid_is_not_a_change() {
    let mut m = mgr();
    let data = strings(&["/n"]);
    let child = strings(&["/n"]);
    let lists = SetWatchesLists {
        data: &data,
        child: &child,
        ..SetWatchesLists::default()
    };
    let got = m
        .set_watches(A, Zxid(5), &lists, |_| Some(stat(5, 5)))
        .unwrap();
    assert!(
        got.is_empty(),
        "mzxid == relativeZxid was seen by the client"
    );
    assert_eq!(m.watch_count(), 2);
}

#[test]
fn set_watches2_registers_persistent_kinds_unconditionally() {
    let mut m = mgr();
    let p = strings(&["/gone"]);
    let r = strings(&["/r"]);
    let lists = SetWatchesLists {
        persistent: &p,
        persistent_recursive: &r,
        ..SetWatchesLists::default()
    };
    let got = m.set_watches(A, Zxid(0), &lists, |_| None).unwrap();
    assert!(got.is_empty(), "no events for persistent kinds");
    assert!(m.contains(A, "/gone", WatchKind::Persistent));
    assert!(m.contains(A, "/r", WatchKind::PersistentRecursive));
    assert_eq!(
        fire(&mut m, &create("/r/x", "/r")),
        vec![ev(A, EventType::NodeCreated, "/r/x")]
    );
}

#[test]
fn limit_refuses_new_watches_but_not_duplicates() {
    let mut m = WatchManager::new(WatchLimits {
        watches_per_conn_max: 2,
    });
    m.register(A, "/a", WatchKind::Data).unwrap();
    m.register(A, "/a", WatchKind::Child).unwrap();
    assert_eq!(
        m.register(A, "/b", WatchKind::Data),
        Err(WatchError::TooManyWatches { conn: A, max: 2 })
    );
    assert_eq!(
        m.register(A, "/a", WatchKind::Data),
        Ok(()),
        "duplicate is free"
    );
    assert_eq!(
        m.register(B, "/b", WatchKind::Data),
        Ok(()),
        "per connection"
    );
    m.check_invariants();
    // Firing frees room.
    fire(&mut m, &set("/a"));
    assert_eq!(m.register(A, "/b", WatchKind::Data), Ok(()));
}

#[test]
fn set_watches_reports_the_limit() {
    let mut m = WatchManager::new(WatchLimits {
        watches_per_conn_max: 1,
    });
    let data = strings(&["/a", "/b"]);
    let lists = SetWatchesLists {
        data: &data,
        ..SetWatchesLists::default()
    };
    let got = m.set_watches(A, Zxid(9), &lists, |_| Some(stat(1, 1)));
    assert_eq!(got, Err(WatchError::TooManyWatches { conn: A, max: 1 }));
    m.check_invariants();
    assert_eq!(m.conn_watch_count(A), 1);
}

#[test]
#[should_panic(expected = "zero watch limit")]
fn zero_limit_is_a_configuration_bug() {
    let _ = WatchManager::new(WatchLimits {
        watches_per_conn_max: 0,
    });
}

#[test]
fn summary_and_listings() {
    let mut m = mgr();
    m.register(B, "/a", WatchKind::Data).unwrap();
    m.register(A, "/a", WatchKind::Child).unwrap();
    m.register(A, "/a", WatchKind::Data).unwrap();
    m.register(A, "/b", WatchKind::Persistent).unwrap();
    assert_eq!(
        m.summary(),
        WatchSummary {
            connections: 2,
            paths: 2,
            watches: 4
        }
    );
    assert_eq!(m.watched_paths(), vec!["/a", "/b"]);
    assert_eq!(
        m.watches_of(A),
        vec![
            ("/a", vec![WatchKind::Child, WatchKind::Data]),
            ("/b", vec![WatchKind::Persistent])
        ]
    );
    assert_eq!(
        m.watchers_of("/a"),
        vec![
            (A, vec![WatchKind::Child, WatchKind::Data]),
            (B, vec![WatchKind::Data])
        ]
    );
    assert!(m.watchers_of("/none").is_empty());
    assert!(m.watches_of(C).is_empty());
}

#[test]
fn ancestors_walk_to_root() {
    use super::trigger::Ancestors;
    assert_eq!(
        Ancestors::of("/a/b/c").collect::<Vec<_>>(),
        vec!["/a/b", "/a", "/"]
    );
    assert_eq!(Ancestors::of("/a").collect::<Vec<_>>(), vec!["/"]);
    assert!(Ancestors::of("/").next().is_none());
}

#[test]
#[should_panic(expected = "not a server-side watch event")]
fn client_side_event_types_are_never_triggered() {
    let mut m = mgr();
    m.trigger(&[t("/a", EventType::DataWatchRemoved)], Z);
}

#[test]
fn zookeeper_counts_follow_the_two_tables() {
    let mut m = mgr();
    m.register(A, "/a", WatchKind::Child).unwrap();
    m.register(A, "/b", WatchKind::Persistent).unwrap();
    m.register(A, "/b", WatchKind::Data).unwrap();
    m.register(B, "/c", WatchKind::PersistentRecursive).unwrap();
    let z = m.zookeeper_counts();
    // Data table: A /b (persistent and data collapse into one entry), B /c.
    assert_eq!(
        z.wchs,
        WatchSummary {
            connections: 2,
            paths: 2,
            watches: 2
        }
    );
    // Child table: A /a, A /b, B /c.
    assert_eq!(z.watch_count, 5);
    assert_eq!(m.summary().watches, 4);
}
