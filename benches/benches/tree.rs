//! Criterion: znode tree operations at 10k and 1M znodes (`/app/svc-NNNNN/key-NNNNN`,
//! 32-byte values). Writes are measured as the leader performs them: prep (validation and
//! every decision) plus apply. Reads are measured as a server answers them.
//!
//! Reports numbers only; nothing here asserts on time.

use std::hint::black_box;

use arbor_benches::{key_path, service_path, value, Fixture};
use arbor_core::tree::WriteOp;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

/// (label, services, keys per service).
const SIZES: [(&str, u32, u32); 2] = [("10k", 100, 100), ("1M", 1000, 1000)];
const VALUE_LEN: usize = 32;

fn bench_tree(c: &mut Criterion) {
    for (label, services, keys) in SIZES {
        let mut fx = Fixture::new();
        fx.populate(services, keys, VALUE_LEN);
        let mut group = c.benchmark_group(format!("tree_{label}"));
        // Deterministic pseudo-random walk over existing keys.
        let mut i: u64 = 0;
        let mut next_key = move || {
            i = i
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let s = ((i >> 33) % u64::from(services)) as u32;
            let k = ((i >> 13) % u64::from(keys)) as u32;
            (s, k)
        };
        group.bench_function("getData", |b| {
            b.iter_batched(
                || {
                    let (s, k) = next_key();
                    key_path(s, k)
                },
                |path| {
                    black_box(
                        fx.tree
                            .get_data(&path, &[])
                            .map(|(d, st)| (d.map(<[u8]>::len), st)),
                    )
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("getChildren", |b| {
            let mut s = 0;
            b.iter_batched(
                || {
                    s = (s + 7) % services;
                    service_path(s)
                },
                |path| black_box(fx.tree.get_children(&path, &[]).map(|(c, _)| c.len())),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("setData", |b| {
            b.iter_batched(
                || {
                    let (s, k) = next_key();
                    WriteOp::SetData {
                        path: key_path(s, k),
                        data: Some(value(VALUE_LEN, s)),
                        version: -1,
                    }
                },
                |op| black_box(fx.write(&op).zxid),
                BatchSize::SmallInput,
            )
        });
        let mut fresh = 0u64;
        group.bench_function("create", |b| {
            b.iter_batched(
                || {
                    fresh += 1;
                    let (s, _) = next_key();
                    (
                        format!("{}/new-{fresh:08}", service_path(s)),
                        value(VALUE_LEN, s),
                    )
                },
                |(path, data)| black_box(fx.create(path, data).zxid),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("delete", |b| {
            // Setup (creating the victims) and the timed deletes both need the fixture, so
            // time the deletes by hand: create `iters` fresh leaves, then delete them.
            b.iter_custom(|iters| {
                let victims: Vec<String> = (0..iters)
                    .map(|_| {
                        fresh += 1;
                        let (s, _) = next_key();
                        let path = format!("{}/del-{fresh:08}", service_path(s));
                        fx.create(path.clone(), value(VALUE_LEN, s));
                        path
                    })
                    .collect();
                let start = std::time::Instant::now();
                for path in victims {
                    black_box(fx.write(&WriteOp::Delete { path, version: -1 }).zxid);
                }
                start.elapsed()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_tree);
criterion_main!(benches);
