//! Shrinking and replay, proven on a canary: under a deliberate environment bug
//! (`Mutation::ReorderLinks`), find a failing seed, shrink it, write the artifact, read it
//! back and replay it: the same checker fires with the same trace hash.

use arbor_sim::{run, shrink, Artifact, Mutation, Options};

#[test]
fn canary_failure_shrinks_and_replays() {
    let opts = Options {
        duration_ms: 10_000,
        heal_ms: 3_000,
        mutation: Some(Mutation::ReorderLinks),
        ..Options::default()
    };
    let seed = (0..30)
        .find(|s| run(*s, &opts).failure.is_some())
        .expect("reorder-links is caught within 30 seeds");
    let s = shrink(seed, &opts, 25).expect("the seed fails");
    let f = s.report.failure.as_ref().expect("shrunk run still fails");
    assert!(!s.steps.is_empty(), "seed {seed}: nothing shrunk");
    let o = &s.options;
    assert!(
        o.nodes <= opts.nodes
            && o.clients <= opts.clients
            && o.duration_ms <= opts.duration_ms
            && o.heal_ms <= opts.heal_ms
            && o.ops_max <= opts.ops_max,
        "seed {seed}: shrinking grew the run: {o:?}"
    );
    assert_ne!(
        *o, opts,
        "seed {seed}: options unchanged after {:?}",
        s.steps
    );

    let a = Artifact::from_report(&s.report, o).expect("failed report");
    let path = std::env::temp_dir().join(format!(
        "arbor-sim-canary-{}-{seed}.json",
        std::process::id()
    ));
    a.write(&path).expect("artifact written");
    let back = Artifact::read(&path).expect("artifact read back");
    std::fs::remove_file(&path).ok();
    assert_eq!(back, a, "artifact round trip");
    let (r, same) = back.replay();
    assert!(
        same,
        "seed {seed}: replay of {path:?} did not reproduce `{}` (got {:?}, hash {:x} vs {:x})",
        f.violation.checker,
        r.failure.map(|f| f.violation),
        r.trace_hash,
        a.trace_hash
    );
}

#[test]
fn swarm_options_come_from_the_seed() {
    let base = Options::default();
    let mut nodes = std::collections::BTreeSet::new();
    let mut some_kind_off = false;
    for seed in 0..200 {
        let a = Options::swarm(seed, &base);
        assert_eq!(
            a,
            Options::swarm(seed, &base),
            "seed {seed}: not reproducible"
        );
        nodes.insert(a.nodes);
        some_kind_off |= a.crash_rate == 0.0 || a.partition_rate == 0.0;
        assert!(a.mix.weights.iter().sum::<u32>() > 0);
        assert!(a.clients >= 1 && [1, 3, 5].contains(&a.nodes));
    }
    assert_eq!(nodes.into_iter().collect::<Vec<_>>(), vec![1, 3, 5]);
    assert!(some_kind_off, "no seed switched a fault kind off");
    assert_ne!(Options::swarm(1, &base), Options::swarm(2, &base));
}

#[test]
fn a_few_swarm_seeds_pass() {
    let base = Options {
        duration_ms: 3_000,
        heal_ms: 4_000,
        ..Options::default()
    };
    for seed in 0..3 {
        let o = Options::swarm(seed, &base);
        let r = run(seed, &o);
        if let Some(f) = &r.failure {
            panic!(
                "swarm seed {seed} failed: `{}`: {}\nreplay: {}",
                f.violation.checker, f.violation.detail, f.replay
            );
        }
        assert!(
            r.lin.writes + r.lin.reads > 0,
            "seed {seed}: nothing checked"
        );
    }
}
