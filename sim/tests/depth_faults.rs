//! Depth faults at rates far above the defaults, each kind alone: it fires (its counter in
//! the report is > 0) and every checker stays green, liveness after the heal included.

use arbor_sim::{run, BuggifyOptions, DepthFaults, Options, Report, FAULT_KINDS};

/// Short runs with the classic faults at their defaults and only the given depth faults.
fn opts(nodes: usize, depth: DepthFaults) -> Options {
    Options {
        nodes,
        clients: 3,
        duration_ms: 2_500,
        heal_ms: 5_000,
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
    let fired = sweep(&o, 0..2, "timer-jump");
    assert!(fired > 0, "no timer jump fired");
}

#[test]
fn duplicated_frames_on_reconnect_keep_every_checker_green() {
    let o = Options {
        link_break_rate: 3.0,
        ..opts(
            3,
            DepthFaults {
                reconnect_dup_prob: 1.0,
                ..DepthFaults::none()
            },
        )
    };
    let fired = sweep(&o, 0..2, "reconnect-dup");
    assert!(fired > 0, "no frame was resent on a reconnect");
}

#[test]
fn bridge_partitions_keep_every_checker_green() {
    let o = opts(
        5,
        DepthFaults {
            bridge_rate: 2.0,
            ..DepthFaults::none()
        },
    );
    let fired = sweep(&o, 0..2, "bridge");
    assert!(fired > 0, "no bridge partition");
}

#[test]
fn flapping_links_keep_every_checker_green() {
    let o = opts(
        3,
        DepthFaults {
            flap_rate: 2.0,
            ..DepthFaults::none()
        },
    );
    let fired = sweep(&o, 0..2, "flap");
    assert!(fired > 0, "no link flapped");
}

#[test]
fn slow_nodes_keep_every_checker_green() {
    let o = opts(
        3,
        DepthFaults {
            slow_node_rate: 2.0,
            slow_delay_ms_max: 1_000,
            ..DepthFaults::none()
        },
    );
    let fired = sweep(&o, 0..2, "slow-node");
    assert!(fired > 0, "no node was slow");
}

/// Every depth fault at once, on 3 and 5 nodes.
#[test]
fn all_depth_faults_together_keep_every_checker_green() {
    let d = DepthFaults {
        timer_jump_rate: 1.0,
        timer_jump_ms_max: 5_000,
        reconnect_dup_prob: 0.5,
        bridge_rate: 0.5,
        flap_rate: 0.5,
        slow_node_rate: 0.5,
        slow_delay_ms_max: 300,
    };
    for nodes in [3, 5] {
        sweep(&opts(nodes, d.clone()), 10..11, "crash");
    }
}

/// The core's BUGGIFY fault points, every site enabled and firing often: each site fires
/// and every checker stays green.
#[test]
fn every_fault_point_fires_and_checkers_stay_green() {
    use arbor_core::buggify::Site;
    let o = Options {
        buggify: BuggifyOptions {
            site_prob: 1.0,
            fire_prob: 0.3,
        },
        // Frequent crashes and small snapshot intervals make learners sync often.
        crash_rate: 1.0,
        ..opts(3, DepthFaults::none())
    };
    let mut fired = [0u64; Site::ALL.len()];
    let mut failures = Vec::new();
    for seed in 0..2 {
        let r = run(seed, &o);
        if r.failure.is_some() {
            failures.push(describe(seed, &r));
        }
        for (t, x) in fired.iter_mut().zip(r.buggify_fired) {
            *t += x;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for site in Site::ALL {
        assert!(
            fired[site.index()] > 0,
            "{} never fired: {fired:?}",
            site.name()
        );
    }
}

/// With the sites off (the option sets of older seeds), nothing fires.
#[test]
fn fault_points_off_never_fire() {
    let o = Options {
        buggify: BuggifyOptions::none(),
        ..opts(3, DepthFaults::none())
    };
    let r = run(3, &o);
    assert!(r.failure.is_none(), "{}", describe(3, &r));
    assert_eq!(r.buggify_fired, [0; 5]);
}
