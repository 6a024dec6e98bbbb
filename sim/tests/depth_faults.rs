//! Depth faults at rates far above the defaults, each kind alone: it fires (its counter in
//! the report is > 0) and every checker stays green, liveness after the heal included.

use arbor_sim::{run, DepthFaults, Options, Report, FAULT_KINDS};

/// Short runs with the classic faults at their defaults and only the given depth faults.
fn opts(nodes: usize, depth: DepthFaults) -> Options {
    Options {
        nodes,
        clients: 3,
        duration_ms: 4_000,
        heal_ms: 8_000,
        depth,
        ..Options::default()
    }
}

fn kind(name: &str) -> usize {
    FAULT_KINDS
        .iter()
        .position(|k| *k == name)
        .expect("a fault kind")
}

fn describe(seed: u64, r: &Report) -> String {
    match &r.failure {
        Some(f) => format!(
            "seed {seed}: `{}`: {}\n  replay: {}\n  recent:\n    {}",
            f.violation.checker,
            f.violation.detail,
            f.replay,
            f.recent.join("\n    ")
        ),
        None => format!("seed {seed}: ok"),
    }
}

/// Runs `seeds`; asserts no failure; returns the total count of fault kind `name`.
fn sweep(o: &Options, seeds: std::ops::Range<u64>, name: &str) -> u64 {
    let k = kind(name);
    let mut fired = 0;
    let mut failures = Vec::new();
    for seed in seeds {
        let r = run(seed, o);
        if r.failure.is_some() {
            failures.push(describe(seed, &r));
        }
        fired += r.fault_counts[k];
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    fired
}

#[test]
fn timer_clock_jumps_keep_every_checker_green() {
    let o = opts(
        3,
        DepthFaults {
            timer_jump_rate: 3.0,
            timer_jump_ms_max: 20_000,
            ..DepthFaults::none()
        },
    );
    let fired = sweep(&o, 0..4, "timer-jump");
    assert!(fired > 0, "no timer jump fired");
}
