//! `arbor bench`: a load generator for any server that speaks the ZooKeeper wire protocol
//! (Arbor or Apache ZooKeeper), built on `arbor_net::client` and core's jute codec.
//!
//! Modes:
//! - workload (default): `--sessions` sessions spread over the `--connect` servers, each
//!   keeping `--inflight` requests pipelined, for `--warmup` + `--duration` seconds (or
//!   `--ops` measured requests); reports throughput, latency p50/p90/p99/p99.9/max per op
//!   and error counts by ZooKeeper error code;
//! - `--load-znodes N`: creates `{prefix}/z0 .. z{N-1}` of `--value-size` bytes, pipelined,
//!   as fast as the server takes them (for memory measurements);
//! - `--fsync-probe` / `--rtt-probe`: the physical floor of a commit on this machine, the
//!   latency of a small append + `fdatasync` and of a loopback TCP round trip.
//!
//! Output: a human table on stdout (unless `--json`), progress on stderr (only on a
//! terminal), and always, as the last stdout line, one JSON object for machines.

mod probe;
mod report;
mod session;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use arbor_core::proto::jute::Request;
use arbor_net::client::{Client, ClientOptions};
use indicatif::{ProgressBar, ProgressStyle};

use session::{Op, SessionStats, Shared, Work};

/// Options of `arbor bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Servers, `host:port,host:port`; sessions are spread over them round-robin.
    #[arg(long, default_value = "127.0.0.1:2181", value_delimiter = ',')]
    connect: Vec<String>,
    /// Concurrent sessions (one TCP connection each).
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    /// Requests pipelined per session.
    #[arg(long, default_value_t = 1)]
    inflight: usize,
    /// The operation.
    #[arg(long, value_enum, default_value_t = Op::Mixed)]
    op: Op,
    /// Fraction of reads (getData) in `--op mixed`; the rest are setData.
    #[arg(long, default_value_t = 0.9)]
    read_ratio: f64,
    /// Bytes written by create / setData.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Key space: `{prefix}/k0 .. k{keys-1}`, created before the run.
    #[arg(long, default_value_t = 1000)]
    keys: u64,
    /// Seconds of unmeasured load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds measured (ignored with --ops).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Measure this many requests instead of a duration.
    #[arg(long)]
    ops: Option<u64>,
    /// Parent znode of everything the benchmark creates.
    #[arg(long, default_value = "/bench")]
    prefix: String,
    /// Create N znodes `{prefix}/z{i}` of --value-size bytes as fast as possible, then stop.
    #[arg(long, value_name = "N")]
    load_znodes: Option<u64>,
    /// Skip creating the key space (it exists from an earlier run).
    #[arg(long)]
    no_setup: bool,
    /// Print only the JSON summary line.
    #[arg(long)]
    json: bool,
    /// A name for this run in the JSON line (e.g. `arbor` or `zookeeper`).
    #[arg(long, default_value = "")]
    label: String,
    /// Client runtime threads (1: a current-thread runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds to wait for any reply before counting the connection lost.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Measure fdatasync of a small append instead (file in --probe-dir).
    #[arg(long)]
    fsync_probe: bool,
    /// Measure a loopback TCP round trip instead.
    #[arg(long)]
    rtt_probe: bool,
    /// Directory of the --fsync-probe file (use the servers' data disk).
    #[arg(long, default_value = ".")]
    probe_dir: std::path::PathBuf,
    /// Samples taken by a probe.
    #[arg(long, default_value_t = 2000)]
    probe_count: usize,
    /// --fsync-probe: also measure this many writers syncing at once, each its own
    /// preallocated file (the servers of a loopback ensemble share one disk).
    #[arg(long, default_value_t = 1)]
    probe_parallel: usize,
}

/// Runs `arbor bench`.
pub fn main(args: BenchArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if args.fsync_probe {
        return probe::fsync(
            &args.probe_dir,
            args.probe_count,
            args.probe_parallel,
            args.json,
        );
    }
    if args.rtt_probe {
        return probe::rtt(args.probe_count, args.json);
    }
    check_args(&args)?;
    let addrs = resolve(&args.connect)?;
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    rt.block_on(run(args, addrs))
}

fn check_args(args: &BenchArgs) -> anyhow::Result<()> {
    if args.sessions == 0 || args.inflight == 0 {
        bail!("--sessions and --inflight must be at least 1");
    }
    if args.keys == 0 {
        bail!("--keys must be at least 1");
    }
    if !(0.0..=1.0).contains(&args.read_ratio) {
        bail!("--read-ratio must be in 0..=1");
    }
    if !args.prefix.starts_with('/') || args.prefix.ends_with('/') || args.prefix.len() < 2 {
        bail!("--prefix must be an absolute znode path such as /bench");
    }
    for s in [args.warmup, args.duration, args.timeout] {
        if !s.is_finite() || s < 0.0 {
            bail!("durations must be non-negative seconds");
        }
    }
    Ok(())
}

fn resolve(list: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    for s in list {
        let a = s
            .to_socket_addrs()
            .with_context(|| format!("resolving {s}"))?
            .next()
            .with_context(|| format!("{s} resolves to no address"))?;
        out.push(a);
    }
    if out.is_empty() {
        bail!("--connect names no server");
    }
    Ok(out)
}

async fn run(args: BenchArgs, addrs: Vec<SocketAddr>) -> anyhow::Result<()> {
    let client = ClientOptions {
        io_timeout: Duration::from_secs_f64(args.timeout.max(0.1)),
        ..ClientOptions::default()
    };
    let load = args.load_znodes;
    let value = vec![b'x'; args.value_size];
    setup(&args, addrs[0], client, &value).await?;
    let warmup = if load.is_some() { 0.0 } else { args.warmup };
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let budget = load.or(args.ops);
    let end = budget
        .is_none()
        .then(|| measure_from + Duration::from_secs_f64(args.duration));
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let shared = Arc::new(Shared {
        addrs: addrs.clone(),
        client,
        inflight: args.inflight,
        measure_from,
        end,
        budget: budget.map(AtomicU64::new),
        next_index: AtomicU64::new(0),
        done: AtomicU64::new(0),
        work: Work {
            op: if load.is_some() { None } else { Some(args.op) },
            read_ratio: args.read_ratio,
            value,
            keys: args.keys,
            prefix: args.prefix.clone(),
            run_id,
        },
    });
    let tasks: Vec<_> = (0..args.sessions)
        .map(|i| tokio::spawn(session::run(i, shared.clone())))
        .collect();
    let progress = progress_bar(&args, budget);
    let ticker = {
        let shared = shared.clone();
        let bar = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let done = shared.done.load(Ordering::Relaxed);
                let now = Instant::now();
                match budget {
                    Some(_) => bar.set_position(done),
                    None => bar.set_position((now - start).as_millis() as u64),
                }
                let secs = now
                    .saturating_duration_since(shared.measure_from)
                    .as_secs_f64();
                if secs > 0.0 {
                    bar.set_message(format!("{done} ops, {:.0} ops/s", done as f64 / secs));
                } else {
                    bar.set_message("warming up".to_string());
                }
            }
        })
    };
    let mut stats: Vec<SessionStats> = Vec::with_capacity(tasks.len());
    for t in tasks {
        stats.push(t.await.context("bench session task")?);
    }
    ticker.abort();
    progress.finish_and_clear();
    let window = match end {
        Some(e) => e.saturating_duration_since(measure_from),
        None => stats
            .iter()
            .filter_map(|s| s.last_reply)
            .max()
            .map_or(Duration::ZERO, |l| {
                l.saturating_duration_since(measure_from)
            }),
    };
    let summary = report::Summary::build(&args, &addrs, &stats, window);
    report::print(&summary, args.json)?;
    Ok(())
}

fn progress_bar(args: &BenchArgs, budget: Option<u64>) -> ProgressBar {
    let (len, unit) = match budget {
        Some(n) => (n, "ops"),
        None => (((args.warmup + args.duration) * 1000.0) as u64, "ms"),
    };
    let bar = ProgressBar::new(len);
    let template =
        format!("{{spinner}} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {unit} {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// Creates the prefix (and its ancestors) and, for key-based ops, the key space, pipelined.
/// Existing znodes are fine (NodeExists is ignored); any other error stops the run.
async fn setup(
    args: &BenchArgs,
    addr: SocketAddr,
    opts: ClientOptions,
    value: &[u8],
) -> anyhow::Result<()> {
    let mut c = Client::connect(addr, opts)
        .await
        .with_context(|| format!("connecting to {addr} for setup"))?;
    let mut path = String::new();
    let mut parents = Vec::new();
    for part in args.prefix.split('/').skip(1) {
        path.push('/');
        path.push_str(part);
        parents.push(session::create(path.clone(), b""));
    }
    run_ignoring_exists(&mut c, parents, 1).await?;
    let needs_keys = args.load_znodes.is_none() && args.op != Op::Create && !args.no_setup;
    if needs_keys {
        let keys = (0..args.keys).map(|k| session::create(format!("{}/k{k}", args.prefix), value));
        run_ignoring_exists(&mut c, keys, 256).await?;
    }
    let _ = c.close().await;
    Ok(())
}

async fn run_ignoring_exists(
    c: &mut Client,
    reqs: impl IntoIterator<Item = Request>,
    depth: usize,
) -> anyhow::Result<()> {
    const NODE_EXISTS: i32 = -110;
    let mut reqs = reqs.into_iter().peekable();
    while reqs.peek().is_some() || c.pending() > 0 {
        while c.pending() < depth {
            let Some(r) = reqs.next() else { break };
            c.queue(&r);
        }
        let reply = c.next_reply().await.context("setup request")?;
        let err = reply.header.err;
        if err != 0 && err != NODE_EXISTS {
            bail!("setup create failed: {}", session::error_name(err));
        }
    }
    Ok(())
}
