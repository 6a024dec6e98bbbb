//! `arbor cluster`: a local ensemble of N `arbor serve` processes on loopback.
//!
//! For node i (1-based) under `--dir D` it writes `D/node<i>/zoo.cfg` and
//! `D/node<i>/data/myid`, then starts `arbor serve --config D/node<i>/zoo.cfg` as a child
//! process (its log goes to `D/node<i>/arbor.log`). Ports, from `--base-port P`: client
//! `P + i - 1`, peer `P + 100 + i - 1`, election `P + 200 + i - 1` (the election port is
//! written for ZooKeeper compatibility; Arbor elects over the peer port). Re-running on the
//! same directory keeps each node's data.
//!
//! It prints each node's pid, client address and log, then the connect string (a line
//! `connect: 127.0.0.1:P,127.0.0.1:P+1,...`), forwards SIGINT / SIGTERM to the children as SIGTERM and
//! waits for them (SIGKILL after [`STOP_GRACE`]), and exits non-zero if a child exits on
//! its own.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rustix::process::{kill_process, Pid, Signal};
use tokio::sync::mpsc;

/// How long children get to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long to wait for every client port to accept connections before printing.
const START_WAIT: Duration = Duration::from_secs(10);
/// Offsets of the peer and election ports from the client port.
const PEER_PORT_OFFSET: u16 = 100;
const ELECTION_PORT_OFFSET: u16 = 200;

/// Options of `arbor cluster`.
#[derive(clap::Args, Debug)]
pub struct ClusterArgs {
    /// Number of servers (1 to 99; an odd number tolerates the most failures).
    #[arg(long, default_value_t = 3)]
    nodes: u16,
    /// First client port; node i listens on base + i - 1 (peers on +100, election on +200).
    #[arg(long, default_value_t = 2181)]
    base_port: u16,
    /// Directory holding each node's zoo.cfg, data and log.
    #[arg(long, default_value = "./arbor-cluster")]
    dir: PathBuf,
    /// tickTime in ms for every node.
    #[arg(long, default_value_t = 2000)]
    tick_ms: u32,
}

/// One node's ports.
#[derive(Clone, Copy, Debug)]
struct Ports {
    client: u16,
    peer: u16,
    election: u16,
}

/// Runs the cluster until a signal (exit 0 once all children stopped) or until a child
/// exits on its own (an error).
pub fn main(args: ClusterArgs) -> anyhow::Result<()> {
    if !(1..=99).contains(&args.nodes) {
        bail!("--nodes must be between 1 and 99");
    }
    let ports = ports(args.base_port, args.nodes)?;
    let configs = write_configs(&args.dir, &ports, args.tick_ms)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(run(configs, ports))
}

fn ports(base: u16, nodes: u16) -> anyhow::Result<Vec<Ports>> {
    (0..nodes)
        .map(|i| {
            let at = |off: u16| {
                base.checked_add(off + i)
                    .filter(|p| *p != 0)
                    .context("--base-port too high for this many nodes")
            };
            Ok(Ports {
                client: at(0)?,
                peer: at(PEER_PORT_OFFSET)?,
                election: at(ELECTION_PORT_OFFSET)?,
            })
        })
        .collect()
}

/// Writes every node's zoo.cfg and myid; returns the zoo.cfg paths.
fn write_configs(dir: &Path, ports: &[Ports], tick_ms: u32) -> anyhow::Result<Vec<PathBuf>> {
    let mut servers = String::new();
    for (i, p) in ports.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = writeln!(
            servers,
            "server.{}=127.0.0.1:{}:{}",
            i + 1,
            p.peer,
            p.election
        );
    }
    let mut out = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let node = dir.join(format!("node{}", i + 1));
        let data = node.join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        let data = data
            .canonicalize()
            .with_context(|| format!("resolving {}", data.display()))?;
        std::fs::write(data.join("myid"), format!("{}\n", i + 1))
            .with_context(|| format!("writing myid in {}", data.display()))?;
        let mut cfg = String::new();
        let _ = writeln!(cfg, "# written by arbor cluster");
        let _ = writeln!(cfg, "tickTime={tick_ms}");
        let _ = writeln!(cfg, "initLimit=10");
        let _ = writeln!(cfg, "syncLimit=5");
        let _ = writeln!(cfg, "dataDir={}", data.display());
        let _ = writeln!(cfg, "clientPort={}", p.client);
        let _ = writeln!(cfg, "clientPortAddress=127.0.0.1");
        let _ = writeln!(cfg, "4lw.commands.whitelist=*");
        if ports.len() > 1 {
            cfg.push_str(&servers);
        }
        let path = node.join("zoo.cfg");
        std::fs::write(&path, cfg).with_context(|| format!("writing {}", path.display()))?;
        out.push(path);
    }
    Ok(out)
}

async fn run(configs: Vec<PathBuf>, ports: Vec<Ports>) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the arbor executable")?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("SIGTERM handler")?;
    let (exited_tx, mut exited_rx) = mpsc::unbounded_channel();
    let mut pids = Vec::new();
    let mut lines = Vec::new();
    for (i, cfg) in configs.iter().enumerate() {
        let log_path = cfg.with_file_name("arbor.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let spawned = tokio::process::Command::new(&exe)
            .arg("serve")
            .arg("--config")
            .arg(cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("log file")?)
            .stderr(log)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                stop_all(&pids, &mut exited_rx).await;
                return Err(e).context("spawning arbor serve");
            }
        };
        let raw_pid = child.id();
        let pid = raw_pid.and_then(|p| Pid::from_raw(p as i32));
        pids.push((i + 1, pid));
        lines.push(format!(
            "node {}: pid {} client 127.0.0.1:{} log {}",
            i + 1,
            raw_pid.map_or_else(|| "?".to_string(), |p| p.to_string()),
            ports[i].client,
            log_path.display()
        ));
        let tx = exited_tx.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            // The receiver lives as long as `run`.
            let _ = tx.send((i + 1, status));
        });
    }
    drop(exited_tx);
    wait_for_client_ports(&ports).await;
    let connect: Vec<String> = ports
        .iter()
        .map(|p| format!("127.0.0.1:{}", p.client))
        .collect();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "arbor cluster: {} nodes", ports.len())?;
    for l in &lines {
        writeln!(stdout, "{l}")?;
    }
    writeln!(stdout, "connect: {}", connect.join(","))?;
    stdout.flush()?;
    tokio::select! {
        _ = term.recv() => {
            tracing::info!("SIGTERM: stopping the cluster");
        }
        r = tokio::signal::ctrl_c() => {
            r.context("SIGINT handler")?;
            tracing::info!("SIGINT: stopping the cluster");
        }
        Some((node, status)) = exited_rx.recv() => {
            let others: Vec<_> = pids.iter().filter(|(n, _)| *n != node).copied().collect();
            stop_all(&others, &mut exited_rx).await;
            bail!("node {node} exited unexpectedly ({status:?}); stopped the others");
        }
    }
    let clean = stop_all(&pids, &mut exited_rx).await;
    if !clean {
        bail!("a node did not stop cleanly (see its arbor.log)");
    }
    Ok(())
}

/// SIGTERM to every listed child, then waits for their exits (SIGKILL after the grace
/// period). True when every one exited with success.
async fn stop_all(
    pids: &[(usize, Option<Pid>)],
    exited: &mut mpsc::UnboundedReceiver<(usize, std::io::Result<std::process::ExitStatus>)>,
) -> bool {
    for (node, pid) in pids {
        if let Some(pid) = pid {
            if let Err(e) = kill_process(*pid, Signal::TERM) {
                tracing::warn!(node, error = %e, "SIGTERM failed");
            }
        }
    }
    let mut left: Vec<usize> = pids.iter().map(|(n, _)| *n).collect();
    let mut clean = true;
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    while !left.is_empty() {
        match tokio::time::timeout_at(deadline, exited.recv()).await {
            Ok(Some((node, status))) => {
                if !matches!(&status, Ok(s) if s.success()) {
                    tracing::warn!(node, ?status, "node stopped with an error");
                    clean = false;
                }
                left.retain(|n| *n != node);
            }
            Ok(None) => break,
            Err(_) => {
                for (node, pid) in pids.iter().filter(|(n, _)| left.contains(n)) {
                    tracing::warn!(node, "node did not stop in time: SIGKILL");
                    if let Some(pid) = pid {
                        // Already gone is fine.
                        let _ = kill_process(*pid, Signal::KILL);
                    }
                }
                clean = false;
                break;
            }
        }
    }
    clean
}

/// Waits (bounded) until every client port accepts TCP connections.
async fn wait_for_client_ports(ports: &[Ports]) {
    let start = Instant::now();
    for p in ports {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, p.client));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if start.elapsed() > START_WAIT {
                tracing::warn!(%addr, "client port not accepting yet");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
