//! Model test: random operations applied to the real tree (prep + apply) and to a naive,
//! independently written model (a `BTreeMap<String, ModelNode>` with stats computed by
//! scanning), comparing every result code, returned path and Stat field, and the whole
//! state after every op; `check_invariants_full` and the digest recomputation run after
//! every op, and a snapshot round trip every 97 ops. 20 cases × 500–700 ops ≥ 10,000 ops.

#![allow(clippy::print_stdout)] // the run prints its outcome mix

mod common;

#[path = "support/tree_world.rs"]
mod tree_world;

use proptest::prelude::*;
use tree_world::{GenOp, Step, Target, World};

fn target() -> impl Strategy<Value = Target> {
    let name = prop::sample::select(vec!["a", "b", "c"]);
    prop_oneof![
        3 => prop::collection::vec(name, 1..4).prop_map(|v| Target::Fixed(format!("/{}", v.join("/")))),
        3 => any::<usize>().prop_map(Target::Existing),
        1 => prop::sample::select(vec!["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota", "a", "/a/", "/a//b", "/a/.", ""])
            .prop_map(|s| Target::Fixed(s.to_string())),
    ]
}

fn version() -> impl Strategy<Value = i32> {
    prop_oneof![2 => Just(-1), 1 => 0..3i32]
}

fn data() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![1 => Just(None), 6 => prop::collection::vec(any::<u8>(), 0..6).prop_map(Some)]
}

/// (flags, op index) pairs, mostly valid combinations, sometimes invalid ones.
fn create_kind() -> impl Strategy<Value = (i32, usize)> {
    prop_oneof![
        6 => (0..4i32, 0..2usize),
        1 => (Just(4), 0..3usize),
        1 => (0..4i32, Just(2usize)),
        2 => (5..7i32, Just(3usize)),
        1 => (-1..8i32, 0..4usize),
    ]
}

fn acl_index() -> impl Strategy<Value = usize> {
    prop_oneof![8 => Just(0usize), 4 => 1..10usize]
}

fn simple_op() -> impl Strategy<Value = GenOp> {
    let child = prop_oneof![1 => Just(None), 4 => (0..4usize).prop_map(Some)];
    let ttl = prop_oneof![1 => Just(-1i64), 1 => Just(0), 6 => 1..40i64];
    prop_oneof![
        8 => (target(), child, data(), acl_index(), create_kind(), ttl)
            .prop_map(|(target, child, data, acl, (flags, op), ttl)| GenOp::Create { target, child, data, acl, flags, op, ttl }),
        3 => (target(), version()).prop_map(|(target, version)| GenOp::Delete { target, version }),
        3 => (target(), data(), version()).prop_map(|(target, data, version)| GenOp::SetData { target, data, version }),
        1 => (target(), acl_index(), version()).prop_map(|(target, acl, version)| GenOp::SetAcl { target, acl, version }),
        1 => (target(), version()).prop_map(|(target, version)| GenOp::Check { target, version }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (0..2usize, simple_op()).prop_map(|(session, op)| Step::Write { session, op }),
        2 => (0..2usize, prop::collection::vec(simple_op(), 0..4))
            .prop_map(|(session, ops)| Step::Write { session, op: GenOp::Multi(ops) }),
        1 => (0..2usize).prop_map(|session| Step::Write { session, op: GenOp::Close }),
        4 => (0..2usize, target()).prop_map(|(session, target)| Step::Read { session, target }),
        1 => target().prop_map(|target| Step::Expire { target }),
        1 => (0..60i64).prop_map(Step::Tick),
    ]
}

/// Runs 20 cases of 500–700 steps (≥ 10,000 operations) and then checks, over the whole
/// run, that every kind of outcome the model compares was actually exercised. (Per case
/// that would be flaky: a case may by chance contain no successful multi.)
#[test]
fn tree_matches_model() {
    use proptest::test_runner::{FileFailurePersistence, TestRunner};
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    let config = ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/tree_model.txt",
        ))),
        ..common::seeded("tree_model", 20)
    };
    let seen: RefCell<BTreeMap<&'static str, usize>> = RefCell::new(BTreeMap::new());
    let ops = RefCell::new(0usize);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(step(), 500..700), |steps| {
        let mut w = World::new();
        for step in &steps {
            w.run_step(step);
        }
        *ops.borrow_mut() += steps.len();
        let mut all = seen.borrow_mut();
        for (k, n) in &w.seen {
            *all.entry(k).or_default() += n;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    println!("{:?}", seen);
    assert!(ops.into_inner() >= 10_000, "fewer than 10,000 operations");
    for kind in [
        "create ok",
        "create err",
        "delete ok",
        "setData ok",
        "multi ok",
        "multi failed",
    ] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in the whole run: {seen:?}"
        );
    }
}
