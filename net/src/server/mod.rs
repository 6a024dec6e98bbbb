//! The server: tokio tasks around one `Replica`, a ZooKeeper client port, `FileStorage` and,
//! for an ensemble (`server.N` lines), the peer transport of [`crate::peer`].
//!
//! Role: map the core contract onto real sockets and files. Inputs: TCP connections on the
//! client port, durability reports from the storage thread, timers, a shutdown signal.
//! Outputs: jute frames to clients, storage ops to disk, `tracing` events.
//!
//! Tasks and threads:
//! - the **core task** owns the `Replica`: every input goes through one `mpsc` channel into
//!   it; after each `handle` it drains `poll_output` completely, routes client outputs to
//!   the connection's FIFO, hands storage ops to the storage thread and re-arms its timer
//!   from `next_deadline`. Time is `Nanos` since a tokio `Instant` baseline; wall time is
//!   `SystemTime` in ms. Peer links reach it as `PeerEvent`s on a second channel
//!   (`PeerConnected` / messages / `PeerDisconnected`); `Output::Send` goes to the link's
//!   bounded queue, and a link whose queue is full is dropped rather than waited for.
//! - one **connection task** per client: four-letter words before the handshake, framing
//!   with the jute limit, ConnectRequest and requests decoded into inputs; a writer task
//!   per connection drains its bounded output queue (replies and notifications share it,
//!   so their order is the core's).
//! - the **storage thread** (blocking) group-commits every op queued at once with one
//!   `fdatasync` (`commit_batch`) and reports `Persisted` only after it returned; a
//!   **snapshot thread** writes compaction snapshots off the commit path. Under
//!   `cfg(madsim)` both are one madsim task instead (see `storage_task`).
//!
//! Invariants:
//! - nothing is acknowledged to the core before the sync covering it returned; after a
//!   storage failure nothing more is acknowledged and the server shuts down (`error!`);
//! - the core task never blocks on a client: a full per-connection queue closes that
//!   connection (`warn!`), nothing else is affected;
//! - bad bytes from a client close only that connection, with a `warn!`.

mod conn;
mod core_task;
mod fourlw;
mod storage_task;

pub use storage_task::RuntimeStorage;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use arbor_core::replica::{Config as ReplicaConfig, RecoverError, Recovered, Replica};
use arbor_core::types::{ServerId, Zxid};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::{Config, ConfigError, FourLetterWords, ServerRole};
use crate::peer::{self, PeerOptions, PeerTransport};
use crate::storage::{FileStorage, StorageError, StorageOptions};

/// Everything `arbor serve` needs to start a server (standalone or an ensemble member).
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Client port address (`clientPortAddress:clientPort`); port 0 picks a free port.
    pub client_addr: SocketAddr,
    /// Data and log directories.
    pub storage: StorageOptions,
    /// This server's id (`myid`, 1 when absent).
    pub id: ServerId,
    /// `tickTime`.
    pub tick: Duration,
    /// `minSessionTimeout`.
    pub min_session_timeout: Duration,
    /// `maxSessionTimeout`.
    pub max_session_timeout: Duration,
    /// `4lw.commands.whitelist`.
    pub four_letter_words: FourLetterWords,
    /// Largest accepted client frame payload (`jute.maxbuffer`).
    pub max_frame_len: u32,
    /// Outputs queued for one connection before it is closed as too slow.
    pub conn_queue_max: usize,
    /// `maxClientCnxns`: connections per client IP (0 = unlimited; default 60).
    pub max_client_cnxns: u32,
    /// A connection that sent neither a ConnectRequest nor a four-letter word within this
    /// is closed (default: `maxSessionTimeout`).
    pub handshake_timeout: Duration,
    /// A compaction snapshot every this many transactions.
    pub snapshot_every_txns: u64,
    /// Snapshots kept by purge (`autopurge.snapRetainCount`).
    pub snap_retain_count: usize,
    /// How long the server may take to elect itself before `start` gives up (standalone;
    /// an ensemble member starts serving as soon as its ports are bound, and answers
    /// clients once it has joined a quorum).
    pub ready_timeout: Duration,
    /// The ensemble this server belongs to; `None` for a standalone server.
    pub ensemble: Option<EnsembleOptions>,
    /// `extendedTypesEnabled`: TTL creates are served (otherwise Unimplemented).
    pub extended_types_enabled: bool,
    /// `globalOutstandingLimit`: requests this server holds unanswered before it stops
    /// reading from the clients that send more (`None`: the core's default, 1000 as
    /// ZooKeeper's).
    pub global_outstanding_limit: Option<usize>,
}

/// An ensemble member's view of the ensemble.
#[derive(Clone, Debug)]
pub struct EnsembleOptions {
    /// Every voter (this server included): host and peer port (`server.N=host:peerPort:..`).
    pub members: BTreeMap<ServerId, (String, u16)>,
    /// The ensemble's identity, checked in the peer handshake (derived from the sorted
    /// `server.N` lines by [`peer::derive_cluster_id`] unless `arbor.clusterId` is set).
    pub cluster_id: u64,
    /// `initLimit` in ticks.
    pub init_limit_ticks: u32,
    /// `syncLimit` in ticks.
    pub sync_limit_ticks: u32,
    /// Largest peer frame.
    pub max_frame_len: u32,
    /// Messages queued per peer link before it is dropped as too slow.
    pub queue_max: usize,
    /// Encoded bytes queued per peer link before it is dropped as too slow.
    pub queue_bytes_max: usize,
}

impl ServeOptions {
    /// The embedded default: standalone on 127.0.0.1:2181, data in `./arbor-data`,
    /// tickTime 2000 ms (ZooKeeper's sample `zoo.cfg`), only `srvr` whitelisted.
    pub fn embedded_default() -> ServeOptions {
        ServeOptions::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, crate::DEFAULT_CLIENT_PORT)),
            "./arbor-data",
        )
    }

    /// Defaults with this client address and data directory.
    pub fn new(client_addr: SocketAddr, data_dir: impl Into<PathBuf>) -> ServeOptions {
        let tick = Duration::from_millis(2000);
        ServeOptions {
            client_addr,
            storage: StorageOptions::new(data_dir),
            id: ServerId(1),
            tick,
            min_session_timeout: tick * 2,
            max_session_timeout: tick * 20,
            four_letter_words: FourLetterWords::Only(["srvr".to_string()].into()),
            max_frame_len: arbor_core::proto::jute::DEFAULT_MAX_FRAME_LEN,
            conn_queue_max: 4096,
            max_client_cnxns: 60,
            handshake_timeout: tick * 20,
            snapshot_every_txns: 100_000,
            snap_retain_count: 3,
            ready_timeout: Duration::from_secs(30),
            ensemble: None,
            extended_types_enabled: false,
            global_outstanding_limit: None,
        }
    }

    /// Options from a parsed `zoo.cfg` (with `myid` read, as [`Config::load`] does). More
    /// than one `server.N` line makes an ensemble: `myid` must name one of them, every
    /// member's peer and election ports must be distinct per host, and this server's client
    /// port must not be one of its peer ports. One `server.N` line is a standalone server
    /// with that id (as ZooKeeper with `standaloneEnabled=true`).
    pub fn from_config(cfg: &Config) -> Result<ServeOptions, ServeError> {
        cfg.check_myid()?;
        let ensemble = if cfg.servers.len() > 1 {
            Some(ensemble_options(cfg)?)
        } else {
            None
        };
        let mut o = ServeOptions::new(cfg.client_addr, &cfg.data_dir);
        o.ensemble = ensemble;
        o.storage = StorageOptions::from_config(cfg);
        o.id = cfg.myid.unwrap_or(ServerId(1));
        o.tick = cfg.tick_time;
        o.min_session_timeout = cfg.min_session_timeout;
        o.max_session_timeout = cfg.max_session_timeout;
        o.handshake_timeout = cfg.max_session_timeout;
        o.max_client_cnxns = cfg.max_client_cnxns;
        o.four_letter_words = cfg.four_letter_words.clone();
        o.snap_retain_count = cfg.autopurge_snap_retain_count;
        o.extended_types_enabled = cfg.extended_types_enabled;
        o.global_outstanding_limit = cfg.global_outstanding_limit;
        Ok(o)
    }

    /// Reads a `zoo.cfg` file (and `myid`) into options.
    pub fn from_config_file(path: &std::path::Path) -> Result<ServeOptions, ServeError> {
        let (cfg, _warnings) = Config::load(path)?;
        ServeOptions::from_config(&cfg)
    }

    fn replica_config(&self) -> Result<ReplicaConfig, ServeError> {
        let tick_ns = u64::try_from(self.tick.as_nanos()).unwrap_or(u64::MAX);
        let voters = match &self.ensemble {
            Some(e) => e.members.keys().copied().collect(),
            None => vec![self.id],
        };
        let mut cfg = ReplicaConfig::new(self.id, voters).with_tick_ns(tick_ns);
        if let Some(e) = &self.ensemble {
            cfg.init_limit_ticks = u64::from(e.init_limit_ticks);
            cfg.sync_limit_ticks = u64::from(e.sync_limit_ticks);
        }
        let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        cfg.session_timeout_ms_min = ms(self.min_session_timeout);
        cfg.session_timeout_ms_max = ms(self.max_session_timeout);
        cfg.snapshot_every_txns = self.snapshot_every_txns;
        cfg.tree.extended_types_enabled = self.extended_types_enabled;
        if let Some(n) = self.global_outstanding_limit {
            cfg.client_outstanding_max = n;
        }
        cfg.validate()
            .map_err(|reason| ServeError::InvalidOptions { reason })?;
        Ok(cfg)
    }
}

/// The ensemble part of [`ServeOptions::from_config`], validated.
fn ensemble_options(cfg: &Config) -> Result<EnsembleOptions, ServeError> {
    let bad = |reason: String| ServeError::InvalidEnsemble { reason };
    let me = cfg.myid.ok_or(ConfigError::Missing { key: "myid" })?;
    let mut ports: BTreeSet<(&str, u16)> = BTreeSet::new();
    let mut members = BTreeMap::new();
    for (id, spec) in &cfg.servers {
        if spec.role == ServerRole::Observer {
            return Err(bad(format!(
                "server.{id} is an observer; observers are not supported yet"
            )));
        }
        if spec.peer_port == spec.election_port {
            return Err(bad(format!(
                "server.{id}: peer port and election port are both {}",
                spec.peer_port
            )));
        }
        for p in [spec.peer_port, spec.election_port] {
            if !ports.insert((spec.host.as_str(), p)) {
                return Err(bad(format!(
                    "server.{id}: port {p} on {} is used by another server line",
                    spec.host
                )));
            }
        }
        members.insert(*id, (spec.host.clone(), spec.peer_port));
    }
    let mine = &cfg.servers[&me];
    let client_port = cfg.client_addr.port();
    if client_port == mine.peer_port || client_port == mine.election_port {
        return Err(bad(format!(
            "clientPort {client_port} is also a peer port of server.{me}"
        )));
    }
    let derived = peer::derive_cluster_id(cfg.servers.iter().map(|(id, s)| {
        let role = match s.role {
            ServerRole::Observer => "observer",
            ServerRole::Participant => "participant",
        };
        (*id, s.host.as_str(), s.peer_port, s.election_port, role)
    }));
    let cluster_id = cfg.cluster_id.unwrap_or(derived);
    Ok(EnsembleOptions {
        members,
        cluster_id,
        init_limit_ticks: cfg.init_limit_ticks,
        sync_limit_ticks: cfg.sync_limit_ticks,
        max_frame_len: peer::MAX_FRAME_LEN_DEFAULT,
        queue_max: cfg.peer_queue_max.unwrap_or(peer::QUEUE_MAX_DEFAULT),
        queue_bytes_max: peer::QUEUE_BYTES_MAX_DEFAULT,
    })
}

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The client port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The configuration file was rejected.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The `server.N` lines do not describe a usable ensemble.
    #[error("invalid ensemble: {reason}")]
    InvalidEnsemble {
        /// What is wrong.
        reason: String,
    },
    /// The peer port could not be bound.
    #[error("cannot listen on peer port {host}:{port}: {source}")]
    PeerBind {
        /// This server's host from its `server.N` line.
        host: String,
        /// The peer port.
        port: u16,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Option values the core rejects.
    #[error("invalid options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: &'static str,
    },
    /// The tokio runtime or signal handlers could not be set up.
    #[error("runtime: {0}")]
    Runtime(#[source] io::Error),
    /// The server did not elect itself in time.
    #[error("server did not become ready within {0:?}")]
    NotReady(Duration),
    /// The newest snapshot passed its checksum but does not hold a loadable tree (written
    /// by a different build, or damaged before its CRC was computed).
    #[error(
        "snapshot {zxid} in the data directory passes its checksum but its tree cannot be \
         loaded ({reason}); refusing to start: move that snapshot file aside (an older \
         snapshot and the log are then used) or restore the data directory from a replica"
    )]
    UnloadableSnapshot {
        /// The snapshot's zxid.
        zxid: Zxid,
        /// Why the tree does not load.
        reason: String,
    },
    /// The data directory cannot be used (refused at start), or a write or sync failed
    /// while serving (the server stopped without acknowledging anything after it).
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// Stops a running server (cloneable; any clone stops it).
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    tx: watch::Sender<bool>,
}

impl ShutdownHandle {
    /// Asks the server to stop: connections are closed, the storage thread finishes the
    /// batch in progress, then [`Server::wait`] returns.
    pub fn shutdown(&self) {
        self.tx.send_replace(true);
    }
}

/// A started server.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    shutdown: ShutdownHandle,
    core: JoinHandle<Result<(), ServeError>>,
    accept: JoinHandle<()>,
    peers: Option<PeerTransport>,
}

impl Server {
    /// The bound client address (the real port when options asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound peer address of an ensemble member.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peers.as_ref().map(PeerTransport::local_addr)
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Waits until the server stopped (after a shutdown request or a storage failure).
    pub async fn wait(self) -> Result<(), ServeError> {
        let res = match self.core.await {
            Ok(r) => r,
            Err(e) => Err(ServeError::Runtime(io::Error::other(e))),
        };
        self.shutdown.shutdown();
        self.accept.abort();
        // The accept task ends promptly once aborted; its result carries nothing.
        let _ = self.accept.await;
        if let Some(p) = self.peers {
            p.stop().await;
        }
        res
    }
}

/// Opens the storage, binds the client port (and for an ensemble the peer port), starts the
/// tasks and returns once the server accepts clients: a standalone server after it elected
/// itself, an ensemble member at once (it answers sessions once it joined a quorum). Must be
/// called inside a tokio runtime.
pub async fn start(opts: ServeOptions) -> Result<Server, ServeError> {
    opts.replica_config()?;
    let opened = FileStorage::open(opts.storage.clone())?;
    for (path, reason) in &opened.report.damaged_snapshots {
        warn!(path = %path.display(), reason, "damaged snapshot skipped");
    }
    start_with_storage(opts, opened.storage, opened.recovered).await
}

/// Builds the replica from what storage recovered, refusing (with a message) a snapshot
/// whose tree does not load or is at another zxid, before anything is served.
fn recover_replica(recovered: Recovered, cfg: &ReplicaConfig) -> Result<Replica, ServeError> {
    let e = match Replica::recover(cfg.clone(), recovered) {
        Ok(r) => return Ok(r),
        Err(e) => e,
    };
    let err = match e {
        RecoverError::UnloadableSnapshot { zxid, source } => ServeError::UnloadableSnapshot {
            zxid,
            reason: source.to_string(),
        },
        RecoverError::SnapshotZxidMismatch { zxid, tree_zxid } => ServeError::UnloadableSnapshot {
            zxid,
            reason: format!("its tree is at {tree_zxid}, not {zxid}"),
        },
        RecoverError::InvalidConfig(reason) => ServeError::InvalidOptions { reason },
        other => {
            error!(error = %other, "recovered state refused");
            ServeError::InvalidOptions {
                reason: "recovered state refused by the replica",
            }
        }
    };
    error!(error = %err, "cannot start from the recovered state");
    Err(err)
}

/// [`start`] on an already opened store and what it recovered (`opts.storage` is not
/// used). For tests that wrap [`FileStorage`], e.g. to inject disk failures.
pub async fn start_with_storage<S: RuntimeStorage>(
    opts: ServeOptions,
    storage: S,
    recovered: Recovered,
) -> Result<Server, ServeError> {
    let replica_cfg = opts.replica_config()?;
    let replica = recover_replica(recovered, &replica_cfg)?;
    let listener = TcpListener::bind(opts.client_addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.client_addr,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(ServeError::Runtime)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (events_tx, events_rx) = mpsc::channel(1024);
    let (ready_tx, mut ready_rx) = watch::channel(false);
    let applied_zxid = Arc::new(AtomicI64::new(0));
    let (peer_tx, peer_rx) = mpsc::channel(1024);
    let peers = match &opts.ensemble {
        None => None,
        Some(e) => {
            let (host, port) = e.members[&opts.id].clone();
            let popts = PeerOptions {
                id: opts.id,
                members: e.members.clone(),
                cluster_id: e.cluster_id,
                max_frame_len: e.max_frame_len,
                queue_max: e.queue_max,
                queue_bytes_max: e.queue_bytes_max,
                // ZooKeeper's quorum sockets time out reads after syncLimit ticks; both ends
                // send a keepalive after a tick of not sending, so a live link never idles.
                keepalive: opts.tick,
                idle_timeout: opts.tick * e.sync_limit_ticks.max(1),
            };
            let t = peer::start(popts, peer_tx, shutdown_rx.clone())
                .await
                .map_err(|source| ServeError::PeerBind { host, port, source })?;
            Some(t)
        }
    };
    let storage = storage_task::spawn(storage, events_tx.clone(), opts.snap_retain_count);
    let core = tokio::spawn(core_task::run(core_task::CoreArgs {
        replica,
        ensemble: replica_cfg.voters.len() > 1,
        events: events_rx,
        peer_events: peer_rx,
        storage,
        shutdown: shutdown_rx.clone(),
        ready: ready_tx,
        applied_zxid,
    }));
    let shutdown = ShutdownHandle { tx: shutdown_tx };
    // An ensemble member serves its client port at once: until it joins a quorum the core
    // closes new sessions as not serving, and clients try another server.
    let ready = if opts.ensemble.is_some() {
        Ok(Ok(()))
    } else {
        tokio::time::timeout(opts.ready_timeout, ready_rx.wait_for(|r| *r))
            .await
            .map(|r| r.map(|_| ()))
    };
    if !matches!(ready, Ok(Ok(_))) {
        shutdown.shutdown();
        return match core.await {
            Ok(Err(e)) => Err(e),
            _ => Err(ServeError::NotReady(opts.ready_timeout)),
        };
    }
    info!(addr = %local_addr, data_dir = %opts.storage.data_dir.display(), "serving clients");
    let accept = tokio::spawn(conn::accept_loop(
        listener,
        conn::ConnShared {
            events: events_tx,
            four_letter_words: opts.four_letter_words.clone(),
            max_frame_len: opts.max_frame_len,
            conn_queue_max: opts.conn_queue_max,
            max_client_cnxns: opts.max_client_cnxns,
            handshake_timeout: opts.handshake_timeout,
            options: Arc::new(opts.clone()),
            sessionless: std::sync::Mutex::default(),
        },
        shutdown_rx,
    ));
    Ok(Server {
        local_addr,
        shutdown,
        core,
        accept,
        peers,
    })
}

/// Resolves once `rx` saw a shutdown request (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: that is a shutdown too.
    let _ = rx.wait_for(|s| *s).await;
}

/// Runs a server until SIGTERM or SIGINT (or a storage failure), on a
/// current-thread tokio runtime with a blocking pool for disk work. Not in the madsim build,
/// where the simulation owns the runtime and starts servers with [`start_with_storage`].
#[cfg(not(madsim))]
pub fn run(opts: ServeOptions) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    rt.block_on(async move { serve_until_signal(start(opts).await?).await })
}

/// Serves until SIGTERM or SIGINT (or a storage failure), then shuts down gracefully.
#[cfg(not(madsim))]
pub async fn serve_until_signal(server: Server) -> Result<(), ServeError> {
    let handle = server.shutdown_handle();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(ServeError::Runtime)?;
    let signals = tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            r = tokio::signal::ctrl_c() => match r {
                Ok(()) => info!("SIGINT: shutting down"),
                Err(e) => {
                    error!(error = %e, "cannot wait for SIGINT; waiting for SIGTERM only");
                    term.recv().await;
                    info!("SIGTERM: shutting down");
                }
            },
        }
        handle.shutdown();
    });
    finish(server, signals).await
}

/// Serves until the simulated ctrl-c (`madsim::runtime::Handle::send_ctrl_c`) or a storage
/// failure, then shuts down gracefully. madsim simulates SIGINT only (madsim 0.2.34 has no
/// `signal::unix`), so there is no SIGTERM here.
#[cfg(madsim)]
pub async fn serve_until_signal(server: Server) -> Result<(), ServeError> {
    let handle = server.shutdown_handle();
    let signals = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            info!("SIGINT: shutting down");
            handle.shutdown();
        }
    });
    finish(server, signals).await
}

/// Waits for the server to stop, then stops the signal task and logs the outcome.
async fn finish(server: Server, signals: JoinHandle<()>) -> Result<(), ServeError> {
    let res = server.wait().await;
    signals.abort();
    match &res {
        Ok(()) => info!("server stopped"),
        Err(e) => error!(error = %e, "server stopped"),
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_standalone_on_loopback_2181() {
        let o = ServeOptions::embedded_default();
        assert_eq!(o.client_addr, "127.0.0.1:2181".parse().unwrap());
        assert_eq!(o.storage.data_dir, PathBuf::from("./arbor-data"));
        assert_eq!(o.tick, Duration::from_millis(2000));
        assert!(o.four_letter_words.allows("srvr"));
        assert!(!o.four_letter_words.allows("ruok"));
        o.replica_config().unwrap();
    }

    #[test]
    fn from_zoo_cfg() {
        let (cfg, _) = Config::parse(
            "tickTime=500\ndataDir=/tmp/zk\nclientPort=2999\nmaxClientCnxns=7\n\
             4lw.commands.whitelist=ruok, srvr\n",
        )
        .unwrap();
        let o = ServeOptions::from_config(&cfg).unwrap();
        assert_eq!(o.tick, Duration::from_millis(500));
        assert_eq!(o.client_addr.port(), 2999);
        assert_eq!(o.max_client_cnxns, 7);
        assert_eq!(o.storage.data_dir, PathBuf::from("/tmp/zk"));
        assert!(o.four_letter_words.allows("ruok"));
        assert_eq!(o.min_session_timeout, Duration::from_millis(1000));
        o.replica_config().unwrap();
    }

    const ENSEMBLE: &str = "tickTime=2000\ndataDir=/tmp/zk\ninitLimit=5\nsyncLimit=2\n\
             server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n";

    fn ensemble_cfg(text: &str, myid: Option<u64>) -> Config {
        let (mut cfg, _) = Config::parse(text).unwrap();
        cfg.myid = myid.map(ServerId);
        cfg
    }

    #[test]
    fn ensemble_from_zoo_cfg() {
        let o = ServeOptions::from_config(&ensemble_cfg(ENSEMBLE, Some(2))).unwrap();
        assert_eq!(o.id, ServerId(2));
        let e = o.ensemble.as_ref().expect("an ensemble");
        assert_eq!(e.members.len(), 3);
        assert_eq!(e.members[&ServerId(3)], ("c".to_string(), 2888));
        assert_eq!((e.init_limit_ticks, e.sync_limit_ticks), (5, 2));
        let rc = o.replica_config().unwrap();
        assert_eq!(rc.voters, vec![ServerId(1), ServerId(2), ServerId(3)]);
        assert_eq!((rc.init_limit_ticks, rc.sync_limit_ticks), (5, 2));
        // Every member derives the same cluster id.
        let o1 = ServeOptions::from_config(&ensemble_cfg(ENSEMBLE, Some(1))).unwrap();
        assert_eq!(o1.ensemble.unwrap().cluster_id, e.cluster_id);
    }

    #[test]
    fn ensemble_refusals_say_why() {
        // No myid.
        let err = ServeOptions::from_config(&ensemble_cfg(ENSEMBLE, None)).unwrap_err();
        assert!(matches!(
            err,
            ServeError::Config(ConfigError::Missing { key: "myid" })
        ));
        // myid not among the servers.
        let err = ServeOptions::from_config(&ensemble_cfg(ENSEMBLE, Some(7))).unwrap_err();
        assert!(err.to_string().contains("myid 7"), "{err}");
        // Two servers on one host and port.
        let dup = "dataDir=/tmp/zk\ninitLimit=5\nsyncLimit=2\nclientPort=2181\n\
                   server.1=h:2888:3888\nserver.2=h:2888:3889\n";
        let err = ServeOptions::from_config(&ensemble_cfg(dup, Some(1))).unwrap_err();
        assert!(matches!(err, ServeError::InvalidEnsemble { .. }), "{err}");
        assert!(err.to_string().contains("port 2888"), "{err}");
        // Client port equal to our own peer port.
        let clash = "dataDir=/tmp/zk\ninitLimit=5\nsyncLimit=2\nclientPort=2888\n\
                     server.1=h:2888:3888\nserver.2=h:2889:3889\n";
        let err = ServeOptions::from_config(&ensemble_cfg(clash, Some(1))).unwrap_err();
        assert!(err.to_string().contains("clientPort 2888"), "{err}");
        // Observers are not supported.
        let obs = "dataDir=/tmp/zk\ninitLimit=5\nsyncLimit=2\n\
                   server.1=a:2888:3888\nserver.2=b:2888:3888:observer\n";
        let err = ServeOptions::from_config(&ensemble_cfg(obs, Some(1))).unwrap_err();
        assert!(err.to_string().contains("observer"), "{err}");
    }

    #[test]
    fn one_server_line_is_standalone_with_that_id() {
        let one = "dataDir=/tmp/zk\ninitLimit=5\nsyncLimit=2\nserver.4=a:2888:3888\n";
        let o = ServeOptions::from_config(&ensemble_cfg(one, Some(4))).unwrap();
        assert!(o.ensemble.is_none());
        assert_eq!(o.id, ServerId(4));
        o.replica_config().unwrap();
    }
}
