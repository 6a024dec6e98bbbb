//! Scale check: 1M znodes shaped `/app/svc-NNNNN/key-NNNNN` with 32-byte values, built
//! through prep + apply, stay under ~200 bytes per znode (estimated heap) and keep their
//! invariants. Runs only in optimized builds (`cargo test --release`); it prints rough
//! per-op timings for information but asserts nothing about time.

#![allow(clippy::print_stdout)] // prints the measured figures

use arbor_core::tree::{CreateOp, DataTree, PrepContext, TreeConfig, WriteOp};
use arbor_core::txn::{apply, OpResult};
use arbor_core::types::{Acl, SessionId, WallMillis, Zxid};

const SERVICES: usize = 1_000;
const KEYS: usize = 1_000;

fn write(tree: &mut DataTree, zxid: &mut i64, op: WriteOp) -> OpResult {
    *zxid += 1;
    let ctx = PrepContext {
        session: SessionId(0x0100_0000_0000_0001),
        cxid: 0,
        zxid: Zxid(*zxid),
        time: WallMillis(*zxid),
        auth: &[],
    };
    let txn = tree.prep(&ctx, &op).expect("not rejected");
    apply(tree, &txn).result
}

fn create(path: String, data: Vec<u8>) -> WriteOp {
    WriteOp::Create {
        path,
        data: Some(data),
        acl: Acl::open_unsafe(),
        flags: 0,
        op: CreateOp::Create,
    }
}

fn median_ns(mut samples: Vec<u128>) -> u128 {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

#[test]
#[cfg_attr(debug_assertions, ignore = "1M nodes: run with --release")]
fn million_znodes_fit_the_memory_budget() {
    let mut tree = DataTree::new(TreeConfig::default());
    let mut zxid = 0i64;
    assert!(matches!(
        write(&mut tree, &mut zxid, create("/app".into(), vec![])),
        OpResult::Create { .. }
    ));
    let start = std::time::Instant::now();
    for s in 0..SERVICES {
        write(
            &mut tree,
            &mut zxid,
            create(format!("/app/svc-{s:05}"), vec![]),
        );
        for k in 0..KEYS {
            let r = write(
                &mut tree,
                &mut zxid,
                create(format!("/app/svc-{s:05}/key-{k:05}"), vec![7u8; 32]),
            );
            assert!(matches!(r, OpResult::Create { .. }));
        }
    }
    let build = start.elapsed();
    let n = tree.node_count();
    assert_eq!(n, SERVICES * KEYS + SERVICES + 1 + 4);
    let per_node = tree.heap_bytes_estimate() / n;
    println!(
        "nodes={n} heap/node≈{per_node}B build={:?} ({} ns/create)",
        build,
        build.as_nanos() / n as u128
    );
    assert!(per_node < 200, "≈{per_node} bytes per znode");
    assert_eq!(tree.digest(), tree.recompute_digest());

    // Rough latencies at 1M nodes (printed only). First a tight loop of reads.
    let paths: Vec<String> = (0..100_000usize)
        .map(|i| {
            format!(
                "/app/svc-{:05}/key-{:05}",
                (i * 7919) % SERVICES,
                (i * 104_729) % KEYS
            )
        })
        .collect();
    let t = std::time::Instant::now();
    let mut total = 0usize;
    for p in &paths {
        total += tree
            .get_data(p, &[])
            .map_or(0, |(d, _)| d.map_or(0, <[u8]>::len));
    }
    println!(
        "tight getData loop: {} ns/op",
        t.elapsed().as_nanos() / paths.len() as u128
    );
    assert_eq!(total, 32 * paths.len());
    let t = std::time::Instant::now();
    let mut found = 0usize;
    for p in &paths {
        found += usize::from(tree.exists(p).is_ok());
    }
    println!(
        "tight exists loop: {} ns/op",
        t.elapsed().as_nanos() / paths.len() as u128
    );
    assert_eq!(found, paths.len());
    let mut prep_ns = Vec::new();
    let mut apply_ns = Vec::new();
    for p in paths.iter().take(20_000) {
        zxid += 1;
        let ctx = PrepContext {
            session: SessionId(0x0100_0000_0000_0001),
            cxid: 0,
            zxid: Zxid(zxid),
            time: WallMillis(zxid),
            auth: &[],
        };
        let op = WriteOp::SetData {
            path: p.clone(),
            data: Some(vec![3; 32]),
            version: -1,
        };
        let t = std::time::Instant::now();
        let txn = tree.prep(&ctx, &op).expect("not rejected");
        prep_ns.push(t.elapsed().as_nanos());
        let t = std::time::Instant::now();
        apply(&mut tree, &txn);
        apply_ns.push(t.elapsed().as_nanos());
    }
    println!(
        "median ns: setData prep={} apply={}",
        median_ns(prep_ns),
        median_ns(apply_ns)
    );
    let mut get = Vec::new();
    let mut set = Vec::new();
    let mut cd = Vec::new();
    for i in 0..20_000usize {
        let path = format!(
            "/app/svc-{:05}/key-{:05}",
            (i * 7919) % SERVICES,
            (i * 104_729) % KEYS
        );
        let t = std::time::Instant::now();
        let (data, _) = tree.get_data(&path, &[]).expect("exists");
        assert_eq!(data.map(<[u8]>::len), Some(32));
        get.push(t.elapsed().as_nanos());
        let t = std::time::Instant::now();
        write(
            &mut tree,
            &mut zxid,
            WriteOp::SetData {
                path: path.clone(),
                data: Some(vec![1; 32]),
                version: -1,
            },
        );
        set.push(t.elapsed().as_nanos());
        let tmp = format!("/app/svc-{:05}/tmp", i % SERVICES);
        let t = std::time::Instant::now();
        write(&mut tree, &mut zxid, create(tmp.clone(), vec![2; 32]));
        write(
            &mut tree,
            &mut zxid,
            WriteOp::Delete {
                path: tmp,
                version: -1,
            },
        );
        cd.push(t.elapsed().as_nanos() / 2);
    }
    println!(
        "median ns: getData={} setData(prep+apply)={} create/delete(prep+apply)={}",
        median_ns(get),
        median_ns(set),
        median_ns(cd)
    );
    assert_eq!(tree.digest(), tree.recompute_digest());
}
