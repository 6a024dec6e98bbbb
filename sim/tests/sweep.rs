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

/// Small proposal windows and outstanding limits: writes queue at the leader, connections
/// are paused and resumed, and every checker (liveness included) still holds.
#[test]
fn sweep_3_nodes_throttled() {
    let opts = Options {
        nodes: 3,
        clients: 5,
        client_inflight_max: 5,
        duration_ms: 5_000,
        heal_ms: 8_000,
        proposals_inflight_max: 2,
        client_outstanding_max: 3,
        ..Options::default()
    };
    let mut failures = Vec::new();
    let mut paused = 0;
    for seed in 2_000..2_015 {
        let r = run(seed, &opts);
        paused += r.reads_paused;
        if let Some(f) = r.failure {
            failures.push(format!(
                "seed {seed}: `{}`: {}\n  replay: {}",
                f.violation.checker, f.violation.detail, f.replay
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        paused > 0,
        "no connection was ever paused: the sweep tests nothing"
    );
}
