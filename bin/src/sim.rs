//! `arbor sim`: run one seed (with an optional full trace) or sweep a range of seeds with a
//! progress bar and a summary table. Any failure prints the checker that fired, the recent
//! trace and the exact replay command, and makes the process exit non-zero.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a CLI reports on stdout / stderr

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, Context};
use arbor_sim::{
    BuggifyOptions, DepthFaults, DiskFaults, Mutation, Options, Report, StorageFaults,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Flags of `arbor sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Run exactly this seed (full replay).
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Sweep a half-open range of seeds, `A..B`.
    #[arg(long)]
    seeds: Option<String>,
    /// Replicas (1, 3, 5, 7).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Clients.
    #[arg(long, default_value_t = 5)]
    clients: usize,
    /// Fault phase, simulated ms.
    #[arg(long, default_value_t = 20_000)]
    duration: u64,
    /// Heal window after the fault phase (liveness is checked at its end), simulated ms.
    #[arg(long, default_value_t = 20_000)]
    heal: u64,
    /// Replica tickTime, ms.
    #[arg(long, default_value_t = 200)]
    tick: u64,
    /// Crashes per simulated second.
    #[arg(long, default_value_t = 0.3)]
    crash_rate: f64,
    /// Probability of a crash around each persist (before fsync / before Persisted).
    #[arg(long, default_value_t = 0.002)]
    crash_on_persist: f64,
    /// Probability that a crash is a power loss of every node at once.
    #[arg(long, default_value_t = 0.0)]
    power_loss_prob: f64,
    /// Probability of a power loss of every node shortly after a node starts leading.
    #[arg(long, default_value_t = 0.0)]
    recovery_crash_prob: f64,
    /// Link breaks per simulated second.
    #[arg(long, default_value_t = 0.5)]
    link_break_rate: f64,
    /// Partitions (symmetric or one-way) per simulated second.
    #[arg(long, default_value_t = 0.3)]
    partition_rate: f64,
    /// Client connection drops per simulated second.
    #[arg(long, default_value_t = 0.5)]
    client_drop_rate: f64,
    /// Wall-clock jumps per simulated second.
    #[arg(long, default_value_t = 0.1)]
    clock_jump_rate: f64,
    /// Maximum peer / client link delay, µs.
    #[arg(long, default_value_t = 5_000)]
    net_delay_us: u64,
    /// Maximum fsync latency, µs.
    #[arg(long, default_value_t = 3_000)]
    disk_delay_us: u64,
    /// Probability that a fault kind is off for a run (so some runs have none of a kind).
    #[arg(long, default_value_t = 0.25)]
    kind_off_prob: f64,
    /// No faults at all.
    #[arg(long)]
    no_faults: bool,
    /// Print tracing output (simulated timestamps, node ids) for a single seed.
    #[arg(long)]
    trace: bool,
    /// Trace lines shown for a failure.
    #[arg(long, default_value_t = 60)]
    trace_keep: usize,
    /// Probability that a crash keeps a random prefix of unsynced writes and tears the next.
    #[arg(long, default_value_t = 0.0)]
    unsynced_survive_prob: f64,
    /// Per crash with an unsynced txn write pending: probability the write is torn.
    #[arg(long, default_value_t = StorageFaults::default().torn_write_prob)]
    torn_write_prob: f64,
    /// Per fsync: probability a bit of a stored record or snapshot flips.
    #[arg(long, default_value_t = StorageFaults::default().bit_flip_prob)]
    bit_flip_prob: f64,
    /// Per fsync that logged txns: probability the last record lands in the wrong slot.
    #[arg(long, default_value_t = StorageFaults::default().misdirect_prob)]
    misdirect_prob: f64,
    /// Per fsync: probability it fails (fatal: the node crashes and restarts).
    #[arg(long, default_value_t = StorageFaults::default().fsync_fail_prob)]
    fsync_fail_prob: f64,
    /// Jumps (forward or backward) of one node's timer (monotonic) clock per simulated second.
    #[arg(long, default_value_t = DepthFaults::default().timer_jump_rate)]
    timer_jump_rate: f64,
    /// Largest timer-clock jump, ms.
    #[arg(long, default_value_t = DepthFaults::default().timer_jump_ms_max)]
    timer_jump_ms_max: u64,
    /// Per link reconnect and direction: probability that the last frames of the old
    /// connection are delivered again.
    #[arg(long, default_value_t = DepthFaults::default().reconnect_dup_prob)]
    reconnect_dup_prob: f64,
    /// Bridge partitions (one node sees both sides) per simulated second.
    #[arg(long, default_value_t = DepthFaults::default().bridge_rate)]
    bridge_rate: f64,
    /// Flapping links per simulated second.
    #[arg(long, default_value_t = DepthFaults::default().flap_rate)]
    flap_rate: f64,
    /// Slow-node episodes per simulated second.
    #[arg(long, default_value_t = DepthFaults::default().slow_node_rate)]
    slow_node_rate: f64,
    /// Largest extra delay of a slow node's messages and wake-ups, ms.
    #[arg(long, default_value_t = DepthFaults::default().slow_delay_ms_max)]
    slow_delay_ms_max: u64,
    /// Probability that each of the core's fault points (BUGGIFY) is enabled for a run.
    #[arg(long, default_value_t = BuggifyOptions::default().site_prob)]
    buggify_site_prob: f64,
    /// Probability that an enabled fault point fires when the core reaches it.
    #[arg(long, default_value_t = BuggifyOptions::default().fire_prob)]
    buggify_fire_prob: f64,
    /// Inject a deliberate bug to prove the checkers catch it: an environment bug
    /// (lying-fsync, no-checksums, reorder-links) or a core canary (ack-before-persist,
    /// commit-without-quorum, current-epoch-before-sync, follower-keeps-ephemerals,
    /// keep-uncommitted-across-election, newleader-ack-before-sync, trunc-skipped-on-disk,
    /// watch-after-reply).
    #[arg(long, value_parser = parse_mutation)]
    mutation: Option<Mutation>,
    /// Maximum requests a client keeps in flight.
    #[arg(long, default_value_t = 3)]
    inflight: usize,
    /// Maximum client think time between requests, ms.
    #[arg(long, default_value_t = 50)]
    think_ms: u64,
    /// Ops per client session are drawn from 20..OPS_MAX.
    #[arg(long, default_value_t = 400)]
    ops_max: u32,
    /// The replicas' proposal window (`proposals_inflight_max`; 0 = the default).
    #[arg(long, default_value_t = 0)]
    window: usize,
    /// The replicas' client outstanding limit (`client_outstanding_max`; 0 = the default).
    #[arg(long, default_value_t = 0)]
    outstanding: usize,
    /// Workload mix `RARE:W0,...,W8` (rare-op probability; weights of create, create2,
    /// setData, delete, multi, getData, exists, getChildren, sync).
    #[arg(long)]
    mix: Option<String>,
    /// Swarm testing: each seed draws its own cluster size, clients, workload mix and fault
    /// rates (some kinds off) from the seed; the other flags give durations and tick.
    #[arg(long)]
    swarm: bool,
    /// With --seed: shrink a failing run and write a replay artifact (see --artifact).
    #[arg(long, requires = "seed")]
    shrink: bool,
    /// Runs the shrinker may spend.
    #[arg(long, default_value_t = 200)]
    shrink_runs: u32,
    /// Where --shrink writes the artifact (default sim-failure-SEED.json).
    #[arg(long)]
    artifact: Option<std::path::PathBuf>,
    /// Replay an artifact written by --shrink (its seed and exact options).
    #[arg(long, conflicts_with_all = ["seed", "seeds"])]
    replay: Option<std::path::PathBuf>,
    /// Threads a sweep runs seeds on (default: the machine's cores). Each run is still
    /// single-threaded and deterministic; results are reported in seed order, so the
    /// output does not depend on this number.
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
}

fn parse_mutation(name: &str) -> Result<Mutation, String> {
    Mutation::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Mutation::all().into_iter().map(Mutation::name).collect();
        format!("unknown mutation; one of: {}", names.join(", "))
    })
}

impl SimArgs {
    fn options(&self) -> anyhow::Result<Options> {
        let mix = match &self.mix {
            Some(m) => arbor_sim::Mix::parse(m).map_err(anyhow::Error::msg)?,
            None => arbor_sim::Mix::default(),
        };
        let o = Options {
            nodes: self.nodes,
            clients: self.clients,
            duration_ms: self.duration,
            heal_ms: self.heal,
            tick_ms: self.tick,
            crash_rate: self.crash_rate,
            crash_on_persist: self.crash_on_persist,
            power_loss_prob: self.power_loss_prob,
            recovery_crash_prob: self.recovery_crash_prob,
            link_break_rate: self.link_break_rate,
            partition_rate: self.partition_rate,
            client_drop_rate: self.client_drop_rate,
            clock_jump_rate: self.clock_jump_rate,
            net_delay_us_max: self.net_delay_us,
            disk_delay_us_max: self.disk_delay_us,
            kind_off_prob: self.kind_off_prob,
            trace_keep: self.trace_keep,
            mutation: self.mutation,
            unsynced_survive_prob: self.unsynced_survive_prob,
            storage: StorageFaults {
                torn_write_prob: self.torn_write_prob,
                bit_flip_prob: self.bit_flip_prob,
                misdirect_prob: self.misdirect_prob,
                fsync_fail_prob: self.fsync_fail_prob,
            },
            client_inflight_max: self.inflight,
            think_ms_max: self.think_ms,
            ops_max: self.ops_max,
            mix,
            depth: DepthFaults {
                timer_jump_rate: self.timer_jump_rate,
                timer_jump_ms_max: self.timer_jump_ms_max,
                reconnect_dup_prob: self.reconnect_dup_prob,
                bridge_rate: self.bridge_rate,
                flap_rate: self.flap_rate,
                slow_node_rate: self.slow_node_rate,
                slow_delay_ms_max: self.slow_delay_ms_max,
            },
            buggify: BuggifyOptions {
                site_prob: self.buggify_site_prob,
                fire_prob: self.buggify_fire_prob,
            },
            proposals_inflight_max: self.window,
            client_outstanding_max: self.outstanding,
        };
        Ok(if self.no_faults { o.no_faults() } else { o })
    }

    /// The options of `seed`: drawn from it under --swarm, else the flags.
    fn options_for(&self, seed: u64, base: &Options) -> Options {
        if self.swarm {
            let o = Options::swarm(seed, base);
            if self.no_faults {
                o.no_faults()
            } else {
                o
            }
        } else {
            base.clone()
        }
    }
}

/// Stamps log lines with the simulated time of the event being processed.
struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let t = arbor_sim::trace::sim_time_ns();
        write!(
            w,
            "{:>4}.{:06}s",
            t / 1_000_000_000,
            (t / 1_000) % 1_000_000
        )
    }
}

/// Runs `arbor sim`; returns whether every run passed.
pub fn main(args: SimArgs) -> anyhow::Result<bool> {
    if ![1, 3, 5, 7].contains(&args.nodes) {
        bail!("--nodes must be 1, 3, 5 or 7");
    }
    let base = args.options()?;
    arbor_sim::set_thread_cpu_clock(thread_cpu_ns);
    if let Some(path) = &args.replay {
        return replay(path);
    }
    if let Some(seed) = args.seed {
        let opts = args.options_for(seed, &base);
        if args.shrink {
            return shrink(&args, seed, &opts);
        }
        if args.trace {
            tracing_subscriber::fmt()
                .with_timer(SimTime)
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .init();
        }
        let cpu0 = process_cpu_secs();
        let wall = Instant::now();
        let r = arbor_sim::run(seed, &opts);
        let secs = wall.elapsed().as_secs_f64();
        let cpu = process_cpu_secs().zip(cpu0).map(|(b, a)| b - a);
        print_table(std::slice::from_ref(&r));
        let lin = r.lin_wall_ns as f64 / 1e9;
        let sim_secs = (secs - lin).max(1e-9);
        println!(
            "trace hash {:016x}; {:.0} events/s; simulated/wall time {:.0}x; \
             linearizability checker {:.1} ms ({} writes, {} reads, {} syncs)",
            r.trace_hash,
            r.events as f64 / sim_secs,
            r.sim_ns as f64 / 1e9 / sim_secs,
            lin * 1e3,
            r.lin.writes,
            r.lin.reads,
            r.lin.syncs
        );
        print_cpu(cpu, r.lin_cpu_ns, r.events, r.sim_ns as f64 / 1e9);
        report_failure(&r);
        return Ok(r.failure.is_none());
    }
    let Some(range) = args.seeds.as_deref() else {
        bail!("give --seed S or --seeds A..B");
    };
    let (a, b) = range.split_once("..").context("--seeds takes A..B")?;
    let (a, b): (u64, u64) = (a.parse()?, b.parse()?);
    if b <= a {
        bail!("empty seed range {a}..{b}");
    }
    let bar = ProgressBar::new(b - a);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} seeds {elapsed_precise} eta {eta} {msg}",
        )
        .expect("static template"),
    );
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, usize::try_from(b - a).unwrap_or(usize::MAX));
    let cpu0 = process_cpu_secs();
    let wall = Instant::now();
    let mut reports = Vec::new();
    let mut failures = 0;
    let worker_cpu = run_in_order(
        a..b,
        jobs,
        |seed| arbor_sim::run(seed, &args.options_for(seed, &base)),
        |r| {
            if r.failure.is_some() {
                failures += 1;
                bar.set_message(format!("{failures} failed"));
                bar.suspend(|| report_failure(&r));
            }
            reports.push(r);
            bar.inc(1);
        },
    );
    bar.finish();
    let secs = wall.elapsed().as_secs_f64();
    // The main thread's CPU plus the sweep threads'.
    let cpu = process_cpu_secs()
        .zip(cpu0)
        .map(|(b, a)| b - a + worker_cpu);
    print_summary(&reports, secs, cpu, jobs);
    Ok(failures == 0)
}

/// Runs `run(seed)` for every seed of `seeds` on `jobs` threads (each run on one thread,
/// start to end) and hands the results to `take` in seed order, as soon as every earlier
/// seed's result is in. Returns the CPU seconds the extra threads spent (0 with one job:
/// every run is then on the calling thread).
fn run_in_order<R: Send>(
    seeds: std::ops::Range<u64>,
    jobs: usize,
    run: impl Fn(u64) -> R + Sync,
    mut take: impl FnMut(R),
) -> f64 {
    if jobs <= 1 {
        seeds.map(run).for_each(take);
        return 0.0;
    }
    let next = AtomicU64::new(seeds.start);
    let (tx, rx) = mpsc::channel::<(u64, R)>();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                let (tx, next, run) = (tx.clone(), &next, &run);
                scope.spawn(move || {
                    let cpu0 = thread_cpu_secs();
                    loop {
                        let seed = next.fetch_add(1, Ordering::Relaxed);
                        if seed >= seeds.end || tx.send((seed, run(seed))).is_err() {
                            break;
                        }
                    }
                    thread_cpu_secs().zip(cpu0).map_or(0.0, |(b, a)| b - a)
                })
            })
            .collect();
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut due = seeds.start;
        for (seed, r) in rx {
            waiting.insert(seed, r);
            while let Some(r) = waiting.remove(&due) {
                take(r);
                due += 1;
            }
        }
        assert_eq!(due, seeds.end, "a sweep thread ended early");
        workers
            .into_iter()
            .map(|w| w.join().expect("sweep thread"))
            .sum()
    })
}

fn replay(path: &std::path::Path) -> anyhow::Result<bool> {
    let a =
        arbor_sim::Artifact::read(path).with_context(|| format!("reading {}", path.display()))?;
    println!(
        "replaying seed {} (recorded: checker `{}` at {:.6}s: {})",
        a.seed,
        a.checker,
        a.at_ns as f64 / 1e9,
        a.detail
    );
    let (r, same) = a.replay();
    print_table(std::slice::from_ref(&r));
    report_failure(&r);
    if same {
        println!("reproduced: same checker, trace hash {:016x}", r.trace_hash);
    } else {
        println!(
            "NOT reproduced: trace hash {:016x} (recorded {:016x})",
            r.trace_hash, a.trace_hash
        );
    }
    Ok(r.failure.is_none())
}

fn shrink(args: &SimArgs, seed: u64, opts: &Options) -> anyhow::Result<bool> {
    let wall = Instant::now();
    let Some(s) = arbor_sim::shrink(seed, opts, args.shrink_runs) else {
        println!("seed {seed} passes; nothing to shrink");
        return Ok(true);
    };
    println!(
        "shrunk in {} runs ({:.1} s wall); steps kept:",
        s.runs,
        wall.elapsed().as_secs_f64()
    );
    for step in &s.steps {
        println!("  {step}");
    }
    report_failure(&s.report);
    let path = args
        .artifact
        .clone()
        .unwrap_or_else(|| format!("sim-failure-{seed}.json").into());
    let a = arbor_sim::Artifact::from_report(&s.report, &s.options).context("shrunk run fails")?;
    a.write(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "artifact written: {}; replay: arbor sim --replay {}",
        path.display(),
        path.display()
    );
    Ok(false)
}

fn report_failure(r: &Report) {
    let Some(f) = &r.failure else {
        return;
    };
    eprintln!(
        "FAILED seed {} at {:.6}s: checker `{}`: {}",
        r.seed,
        f.at_ns as f64 / 1e9,
        f.violation.checker,
        f.violation.detail
    );
    eprintln!("recent trace:");
    for l in &f.recent {
        eprintln!("  {l}");
    }
    eprintln!("replay: {}", f.replay);
}

fn print_table(rs: &[Report]) {
    println!(
        "{:>8} {:>10} {:>10} {:>7} {:>9} {:>8} {:>9} {:>7}  result",
        "seed", "sim s", "events", "faults", "txns", "acked", "requests", "watches"
    );
    for r in rs {
        println!(
            "{:>8} {:>10.1} {:>10} {:>7} {:>9} {:>8} {:>9} {:>7}  {}",
            r.seed,
            r.sim_ns as f64 / 1e9,
            r.events,
            r.faults,
            r.txns_committed,
            r.writes_acked,
            r.requests,
            r.notifications,
            match &r.failure {
                None => "ok".to_string(),
                Some(f) => format!("FAIL {}", f.violation.checker),
            }
        );
    }
}

fn print_summary(rs: &[Report], secs: f64, cpu: Option<f64>, jobs: usize) {
    let failed: Vec<&Report> = rs.iter().filter(|r| r.failure.is_some()).collect();
    let sim: f64 = rs.iter().map(|r| r.sim_ns as f64 / 1e9).sum();
    let events: u64 = rs.iter().map(|r| r.events).sum();
    let faults: u64 = rs.iter().map(|r| r.faults).sum();
    let txns: usize = rs.iter().map(|r| r.txns_committed).sum();
    let acked: usize = rs.iter().map(|r| r.writes_acked).sum();
    println!("seeds            {}", rs.len());
    println!("simulated time   {sim:.1} s");
    println!("events           {events}");
    println!("faults injected  {faults}");
    let mut disk = DiskFaults::default();
    for r in rs {
        disk.add(&r.disk_faults);
    }
    println!(
        "  storage        {} torn, {} bit flips, {} misdirected, {} fsync failures; damage detected at {} restarts",
        disk.torn, disk.bit_flips, disk.misdirected, disk.fsync_failures, disk.damage_detected
    );
    println!("txns committed   {txns}");
    println!("writes acked     {acked}");
    println!(
        "watch events     {}",
        rs.iter().map(|r| r.notifications).sum::<u64>()
    );
    println!("failures         {}", failed.len());
    let lin_secs = rs.iter().map(|r| r.lin_wall_ns).sum::<u64>() as f64 / 1e9;
    if jobs <= 1 {
        let sim_secs = (secs - lin_secs).max(1e-9);
        println!(
            "wall time        {secs:.1} s: simulation {sim_secs:.1} s ({:.0} events/s, \
             simulated/wall {:.0}x), linearizability checker {lin_secs:.2} s \
             ({:.1} ms per run)",
            events as f64 / sim_secs,
            sim / sim_secs,
            lin_secs * 1e3 / rs.len().max(1) as f64
        );
    } else {
        // Runs overlap in time: the per-run speed is the CPU line's; this is throughput.
        println!(
            "wall time        {secs:.1} s on {jobs} threads ({:.0} events/s, simulated/wall \
             {:.0}x over all threads), linearizability checker {lin_secs:.2} s summed over \
             runs ({:.1} ms per run)",
            events as f64 / secs.max(1e-9),
            sim / secs.max(1e-9),
            lin_secs * 1e3 / rs.len().max(1) as f64
        );
    }
    let lin_cpu = rs.iter().map(|r| r.lin_cpu_ns).sum::<Option<u64>>();
    print_cpu(cpu, lin_cpu, events, sim);
    println!("faults fired (runs with any):");
    for (k, name) in arbor_sim::FAULT_KINDS.iter().enumerate() {
        let total: u64 = rs.iter().map(|r| r.fault_counts[k]).sum();
        let runs = rs.iter().filter(|r| r.fault_counts[k] > 0).count();
        println!("  {name:<18} {total:>9} ({runs} runs)");
    }
    println!("fault points fired (runs with any):");
    for site in arbor_core::buggify::Site::ALL {
        let k = site.index();
        let total: u64 = rs.iter().map(|r| r.buggify_fired[k]).sum();
        let runs = rs.iter().filter(|r| r.buggify_fired[k] > 0).count();
        println!("  {:<20} {total:>7} ({runs} runs)", site.name());
    }
    println!("checks that examined something (runs with any):");
    for (k, name) in arbor_sim::check::NAMES.iter().enumerate() {
        let total: u64 = rs.iter().map(|r| r.exercised[k]).sum();
        let runs = rs.iter().filter(|r| r.exercised[k] > 0).count();
        println!("  {name:<18} {total:>9} ({runs} runs)");
    }
    let lin = rs.iter().fold((0, 0, 0, 0), |a, r| {
        (
            a.0 + r.lin.writes,
            a.1 + r.lin.reads,
            a.2 + r.lin.syncs,
            a.3 + r.lin.maybe_applied,
        )
    });
    println!(
        "linearizability  {} writes ({} without reply but applied), {} reads, {} syncs checked",
        lin.0, lin.3, lin.1, lin.2
    );
    if !failed.is_empty() {
        print_table(&failed.into_iter().cloned().collect::<Vec<_>>());
    }
}

/// The CPU-time view of a run or sweep: on a shared machine wall time also counts the time
/// other processes held the core, CPU time does not. It covers everything the process did
/// on every thread, every checker and the linearizability checker included, so with
/// several sweep threads its rates are still those of one run on one core. The second
/// line takes out the CPU the end-of-run linearizability checker used (measured on its
/// thread around the check), which the issue asks to report apart: what remains is the
/// simulation with every per-step checker on.
fn print_cpu(cpu: Option<f64>, lin_cpu_ns: Option<u64>, events: u64, simulated_secs: f64) {
    let Some(cpu) = cpu.filter(|c| *c > 0.0) else {
        return;
    };
    println!(
        "cpu time         {cpu:.2} s, all checkers included ({:.0} events/s, simulated/cpu {:.0}x)",
        events as f64 / cpu,
        simulated_secs / cpu
    );
    if let Some(lin) = lin_cpu_ns {
        let lin = lin as f64 / 1e9;
        let rest = (cpu - lin).max(1e-9);
        println!(
            "                 {rest:.2} s simulating with per-step checkers + {lin:.2} s \
             linearizability checker ({:.0} events/s, simulated/cpu {:.0}x without the latter)",
            events as f64 / rest,
            simulated_secs / rest
        );
    }
}

/// CPU time of the main thread, from Linux's `/proc/self/schedstat` (first field, ns);
/// `None` elsewhere. Sweep threads add their own ([`thread_cpu_secs`]).
fn process_cpu_secs() -> Option<f64> {
    schedstat_secs("/proc/self/schedstat")
}

/// CPU time of the calling thread (ns-precise), `None` off Linux.
fn thread_cpu_secs() -> Option<f64> {
    thread_cpu_ns().map(|ns| ns as f64 / 1e9)
}

/// CPU time of the calling thread in ns, `None` off Linux (also the simulator's clock for
/// the linearizability checker's cost, [`arbor_sim::set_thread_cpu_clock`]).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn schedstat_secs(path: &str) -> Option<f64> {
    let s = std::fs::read_to_string(path).ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::run_in_order;

    /// Results arrive in seed order whatever the thread count and however the runs'
    /// finishing order is scrambled.
    #[test]
    fn sweep_results_come_in_seed_order_for_any_thread_count() {
        for jobs in [1, 2, 3, 8] {
            let mut got = Vec::new();
            run_in_order(
                10..60,
                jobs,
                |seed| {
                    // Later seeds often finish first.
                    std::thread::sleep(std::time::Duration::from_micros((60 - seed) % 7 * 300));
                    seed * 3
                },
                |r| got.push(r),
            );
            assert_eq!(
                got,
                (10..60).map(|s| s * 3).collect::<Vec<_>>(),
                "jobs {jobs}"
            );
        }
    }
}
