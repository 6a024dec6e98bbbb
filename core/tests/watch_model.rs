//! Property test: random register / trigger / setWatches / check / remove / close sequences
//! against a naive model (a set of (conn, path, kind) triples, matched by brute force).
//! After every step the manager's invariants hold, its notifications equal the model's
//! exactly (so no connection without a matching watch is ever notified, and none with one is
//! missed), and its registrations and counts equal the model's.

use std::collections::{BTreeMap, BTreeSet};

use arbor_core::txn::WatchTrigger;
use arbor_core::types::{ConnId, EventType, Stat, WatcherType, Zxid};
use arbor_core::watch::{
    SetWatchesLists, WatchError, WatchKind, WatchLimits, WatchManager, WatchQueryError,
};
use proptest::prelude::*;

const PATHS: [&str; 7] = ["/", "/a", "/a/b", "/a/b/c", "/a/c", "/b", "/ab"];
const CONNS: u64 = 4;
const EVENTS: [EventType; 4] = [
    EventType::NodeCreated,
    EventType::NodeDeleted,
    EventType::NodeDataChanged,
    EventType::NodeChildrenChanged,
];
const TYPES: [WatcherType; 5] = [
    WatcherType::Children,
    WatcherType::Data,
    WatcherType::Any,
    WatcherType::Persistent,
    WatcherType::PersistentRecursive,
];

#[derive(Clone, Debug)]
enum Step {
    Register(u64, usize, WatchKind),
    Trigger(Vec<(usize, usize)>),
    RemoveConn(u64),
    Check(u64, usize, usize),
    Remove(u64, usize, usize),
    /// conn, relative zxid, per-path (exists, mzxid, pzxid), lists as path indexes.
    SetWatches(u64, i64, Vec<(bool, i64, i64)>, [Vec<usize>; 5]),
}

fn kind() -> impl Strategy<Value = WatchKind> {
    prop::sample::select(WatchKind::ALL.to_vec())
}

fn path_ix() -> impl Strategy<Value = usize> {
    0..PATHS.len()
}

fn list() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(path_ix(), 0..4)
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1..=CONNS, path_ix(), kind()).prop_map(|(c, p, k)| Step::Register(c, p, k)),
        4 => prop::collection::vec((path_ix(), 0..EVENTS.len()), 1..4).prop_map(Step::Trigger),
        1 => (1..=CONNS).prop_map(Step::RemoveConn),
        1 => (1..=CONNS, path_ix(), 0..TYPES.len()).prop_map(|(c, p, t)| Step::Check(c, p, t)),
        2 => (1..=CONNS, path_ix(), 0..TYPES.len()).prop_map(|(c, p, t)| Step::Remove(c, p, t)),
        1 => (
            1..=CONNS,
            0..6i64,
            prop::collection::vec((any::<bool>(), 0..6i64, 0..6i64), PATHS.len()),
            [list(), list(), list(), list(), list()],
        )
            .prop_map(|(c, z, s, l)| Step::SetWatches(c, z, s, l)),
    ]
}

type Triple = (u64, &'static str, WatchKind);

#[derive(Default)]
struct Model {
    watches: BTreeSet<Triple>,
    max: usize,
}

fn is_proper_ancestor(a: &str, p: &str) -> bool {
    if a == "/" {
        p != "/"
    } else {
        p.len() > a.len() && p.starts_with(a) && p.as_bytes()[a.len()] == b'/'
    }
}

fn reaches(kind: WatchKind, event: EventType) -> bool {
    match kind {
        WatchKind::Data => event != EventType::NodeChildrenChanged,
        WatchKind::Child => {
            matches!(
                event,
                EventType::NodeChildrenChanged | EventType::NodeDeleted
            )
        }
        WatchKind::Persistent => true,
        WatchKind::PersistentRecursive => event != EventType::NodeChildrenChanged,
    }
}

impl Model {
    fn count(&self, conn: u64) -> usize {
        self.watches.iter().filter(|w| w.0 == conn).count()
    }

    fn register(
        &mut self,
        conn: u64,
        path: &'static str,
        kind: WatchKind,
    ) -> Result<(), WatchError> {
        if self.watches.contains(&(conn, path, kind)) {
            return Ok(());
        }
        if self.count(conn) >= self.max {
            return Err(WatchError::TooManyWatches {
                conn: ConnId(conn),
                max: self.max,
            });
        }
        self.watches.insert((conn, path, kind));
        Ok(())
    }

    fn fire(&mut self, path: &str, event: EventType) -> Vec<u64> {
        let mut conns = BTreeSet::new();
        let mut spent = Vec::new();
        for w in &self.watches {
            let here = w.1 == path && reaches(w.2, event);
            let above = w.2 == WatchKind::PersistentRecursive
                && event != EventType::NodeChildrenChanged
                && is_proper_ancestor(w.1, path);
            if here || above {
                conns.insert(w.0);
            }
            if here && matches!(w.2, WatchKind::Data | WatchKind::Child) {
                spent.push(*w);
            }
        }
        for w in spent {
            self.watches.remove(&w);
        }
        conns.into_iter().collect()
    }

    fn matching(&self, conn: u64, path: &str, ty: WatcherType) -> Vec<Triple> {
        self.watches
            .iter()
            .filter(|w| w.0 == conn && w.1 == path)
            .filter(|w| match ty {
                WatcherType::Children => w.2 == WatchKind::Child,
                WatcherType::Data => w.2 == WatchKind::Data,
                _ => true,
            })
            .copied()
            .collect()
    }
}

fn query_code(r: &Result<(), WatchQueryError>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(WatchQueryError::NoWatcher { .. }) => -121,
        Err(WatchQueryError::UnsupportedType { .. }) => -5,
        Err(e) => panic!("{e:?}"),
    }
}

fn model_query_code(m: &Model, conn: u64, path: &str, ty: WatcherType) -> i32 {
    match ty {
        WatcherType::Persistent | WatcherType::PersistentRecursive => -5,
        _ if m.matching(conn, path, ty).is_empty() => -121,
        _ => 0,
    }
}

fn run(steps: Vec<Step>, max: usize) {
    let mut m = WatchManager::new(WatchLimits {
        watches_per_conn_max: max,
    });
    let mut model = Model {
        max,
        ..Model::default()
    };
    for (i, s) in steps.into_iter().enumerate() {
        match s {
            Step::Register(c, p, k) => {
                let got = m.register(ConnId(c), PATHS[p], k);
                assert_eq!(got, model.register(c, PATHS[p], k), "step {i}");
            }
            Step::Trigger(ts) => {
                let triggers: Vec<WatchTrigger> = ts
                    .iter()
                    .map(|&(p, e)| WatchTrigger {
                        path: PATHS[p].to_string(),
                        event: EVENTS[e],
                    })
                    .collect();
                let got: Vec<(u64, EventType, String)> = m
                    .trigger(&triggers, Zxid(7))
                    .into_iter()
                    .map(|n| (n.conn.0, n.event, n.path))
                    .collect();
                let mut want = Vec::new();
                for &(p, e) in &ts {
                    for c in model.fire(PATHS[p], EVENTS[e]) {
                        want.push((c, EVENTS[e], PATHS[p].to_string()));
                    }
                }
                assert_eq!(got, want, "step {i}: notifications");
            }
            Step::RemoveConn(c) => {
                let n = m.remove_connection(ConnId(c));
                let before = model.watches.len();
                model.watches.retain(|w| w.0 != c);
                assert_eq!(n, before - model.watches.len(), "step {i}");
            }
            Step::Check(c, p, t) => {
                let got = m.check_watches(ConnId(c), PATHS[p], TYPES[t]);
                let want = model_query_code(&model, c, PATHS[p], TYPES[t]);
                assert_eq!(query_code(&got), want, "step {i}");
            }
            Step::Remove(c, p, t) => {
                let got = m.remove_watches(ConnId(c), PATHS[p], TYPES[t]);
                let want = model_query_code(&model, c, PATHS[p], TYPES[t]);
                assert_eq!(query_code(&got), want, "step {i}");
                if want == 0 {
                    for w in model.matching(c, PATHS[p], TYPES[t]) {
                        model.watches.remove(&w);
                    }
                }
            }
            Step::SetWatches(c, rel, stats, lists) => {
                let lookup = |path: &str| {
                    let ix = PATHS.iter().position(|p| *p == path).unwrap();
                    let (exists, mzxid, pzxid) = stats[ix];
                    exists.then(|| Stat {
                        mzxid,
                        pzxid,
                        ..Stat::default()
                    })
                };
                let strs: Vec<Vec<String>> = lists
                    .iter()
                    .map(|l| l.iter().map(|&p| PATHS[p].to_string()).collect())
                    .collect();
                let set_lists = SetWatchesLists {
                    data: &strs[0],
                    exist: &strs[1],
                    child: &strs[2],
                    persistent: &strs[3],
                    persistent_recursive: &strs[4],
                };
                let got = m.set_watches(ConnId(c), Zxid(rel), &set_lists, lookup);
                // Model: same rules, brute force.
                let mut want = Vec::new();
                let mut err = None;
                let plan: Vec<(usize, WatchKind)> = [
                    (0, WatchKind::Data),
                    (1, WatchKind::Data),
                    (2, WatchKind::Child),
                    (3, WatchKind::Persistent),
                    (4, WatchKind::PersistentRecursive),
                ]
                .to_vec();
                'lists: for (li, kind) in plan {
                    for &p in &lists[li] {
                        let (exists, mzxid, pzxid) = stats[p];
                        let event = match li {
                            0 if !exists => Some(EventType::NodeDeleted),
                            0 if mzxid > rel => Some(EventType::NodeDataChanged),
                            1 if exists => Some(EventType::NodeCreated),
                            2 if !exists => Some(EventType::NodeDeleted),
                            2 if pzxid > rel => Some(EventType::NodeChildrenChanged),
                            _ => None,
                        };
                        match event {
                            Some(e) => want.push((e, PATHS[p].to_string())),
                            None => {
                                if let Err(e) = model.register(c, PATHS[p], kind) {
                                    err = Some(e);
                                    break 'lists;
                                }
                            }
                        }
                    }
                }
                match (got, err) {
                    (Ok(notes), None) => {
                        let got: Vec<_> = notes.into_iter().map(|n| (n.event, n.path)).collect();
                        assert_eq!(got, want, "step {i}: setWatches events");
                    }
                    (Err(g), Some(w)) => assert_eq!(g, w, "step {i}"),
                    (g, w) => panic!("step {i}: setWatches {g:?} vs model {w:?}"),
                }
            }
        }
        m.check_invariants();
        // Registrations and counts equal the model's.
        let mut held = BTreeSet::new();
        for c in 1..=CONNS {
            for (path, kinds) in m.watches_of(ConnId(c)) {
                for k in kinds {
                    let p = *PATHS.iter().find(|x| **x == path).unwrap();
                    held.insert((c, p, k));
                }
            }
            assert_eq!(m.conn_watch_count(ConnId(c)), model.count(c), "step {i}");
        }
        assert_eq!(held, model.watches, "step {i}: registrations");
        assert_eq!(m.watch_count(), model.watches.len(), "step {i}");
        let paths: BTreeMap<&str, ()> = model.watches.iter().map(|w| (w.1, ())).collect();
        assert_eq!(m.summary().paths, paths.len(), "step {i}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn manager_matches_naive_model(steps in prop::collection::vec(step(), 1..80)) {
        run(steps, 1_000_000);
    }

    #[test]
    fn manager_matches_naive_model_under_a_tight_limit(
        steps in prop::collection::vec(step(), 1..80),
        max in 1usize..5,
    ) {
        run(steps, max);
    }
}
