//! A small seed sweep with mixed faults on 3 and 5 nodes; every checker must stay green.
//! (The CI sweep of 300 seeds runs through `arbor sim --seeds`; see sim/README.md.)

use arbor_sim::{run, Options};

fn sweep(nodes: usize, seeds: std::ops::Range<u64>) {
    let opts = Options {
        nodes,
        clients: 3,
        duration_ms: 5_000,
        heal_ms: 8_000,
        ..Options::default()
    };
    let mut failures = Vec::new();
    for seed in seeds {
        let r = run(seed, &opts);
        if let Some(f) = r.failure {
            failures.push(format!(
                "seed {seed}: `{}`: {}\n  replay: {}\n  recent:\n    {}",
                f.violation.checker,
                f.violation.detail,
                f.replay,
                f.recent.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sweep_3_nodes_mixed_faults() {
    sweep(3, 0..25);
}

#[test]
fn sweep_5_nodes_mixed_faults() {
    sweep(5, 1_000..1_025);
}
