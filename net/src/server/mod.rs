//! The standalone server: tokio tasks around one `Replica`, a ZooKeeper client port and
//! `FileStorage`.
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
//!   `SystemTime` in ms.
//! - one **connection task** per client: four-letter words before the handshake, framing
//!   with the jute limit, ConnectRequest and requests decoded into inputs; a writer task
//!   per connection drains its bounded output queue (replies and notifications share it,
//!   so their order is the core's).
//! - the **storage thread** (blocking) group-commits every op queued at once with one
//!   `fdatasync` (`commit_batch`) and reports `Persisted` only after it returned; a
//!   **snapshot thread** writes compaction snapshots off the commit path.
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

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use arbor_core::replica::{Config as ReplicaConfig, Recovered};
use arbor_core::types::ServerId;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::{Config, ConfigError, FourLetterWords};
use crate::storage::{FileStorage, StorageError, StorageOptions};

/// Everything `arbor serve` needs to start a standalone server.
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
    /// How long the server may take to elect itself before `start` gives up.
    pub ready_timeout: Duration,
    /// `extendedTypesEnabled`: TTL creates are served (otherwise Unimplemented).
    pub extended_types_enabled: bool,
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
            extended_types_enabled: false,
        }
    }

    /// Options from a parsed `zoo.cfg`. A configuration naming more than one server is an
    /// ensemble, which this runtime does not serve yet.
    pub fn from_config(cfg: &Config) -> Result<ServeOptions, ServeError> {
        if cfg.servers.len() > 1 {
            return Err(ServeError::EnsembleUnsupported {
                servers: cfg.servers.len(),
            });
        }
        let mut o = ServeOptions::new(cfg.client_addr, &cfg.data_dir);
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
        Ok(o)
    }

    /// Reads a `zoo.cfg` file (and `myid`) into options.
    pub fn from_config_file(path: &std::path::Path) -> Result<ServeOptions, ServeError> {
        let (cfg, _warnings) = Config::load(path)?;
        ServeOptions::from_config(&cfg)
    }

    fn replica_config(&self) -> Result<ReplicaConfig, ServeError> {
        let tick_ns = u64::try_from(self.tick.as_nanos()).unwrap_or(u64::MAX);
        let mut cfg = ReplicaConfig::new(self.id, vec![self.id]).with_tick_ns(tick_ns);
        let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        cfg.session_timeout_ms_min = ms(self.min_session_timeout);
        cfg.session_timeout_ms_max = ms(self.max_session_timeout);
        cfg.snapshot_every_txns = self.snapshot_every_txns;
        cfg.tree.extended_types_enabled = self.extended_types_enabled;
        cfg.validate()
            .map_err(|reason| ServeError::InvalidOptions { reason })?;
        Ok(cfg)
    }
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
    /// More than one `server.N` line: ensembles are not served by this runtime yet.
    #[error("zoo.cfg names {servers} servers; only a standalone server is supported yet")]
    EnsembleUnsupported {
        /// How many servers the file names.
        servers: usize,
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
}

impl Server {
    /// The bound client address (the real port when options asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
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
        res
    }
}

/// Opens the storage, binds the client port, starts the tasks and returns once the server
/// elected itself and accepts clients. Must be called inside a tokio runtime.
pub async fn start(opts: ServeOptions) -> Result<Server, ServeError> {
    opts.replica_config()?;
    let opened = FileStorage::open(opts.storage.clone())?;
    for (path, reason) in &opened.report.damaged_snapshots {
        warn!(path = %path.display(), reason, "damaged snapshot skipped");
    }
    start_with_storage(opts, opened.storage, opened.recovered).await
}

/// [`start`] on an already opened store and what it recovered (`opts.storage` is not
/// used). For tests that wrap [`FileStorage`], e.g. to inject disk failures.
pub async fn start_with_storage<S: RuntimeStorage>(
    opts: ServeOptions,
    storage: S,
    recovered: Recovered,
) -> Result<Server, ServeError> {
    let replica_cfg = opts.replica_config()?;
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
    let storage = storage_task::spawn(storage, events_tx.clone(), opts.snap_retain_count);
    let core = tokio::spawn(core_task::run(core_task::CoreArgs {
        cfg: replica_cfg,
        recovered,
        events: events_rx,
        storage,
        shutdown: shutdown_rx.clone(),
        ready: ready_tx,
        applied_zxid,
    }));
    let ready = tokio::time::timeout(opts.ready_timeout, ready_rx.wait_for(|r| *r)).await;
    let shutdown = ShutdownHandle { tx: shutdown_tx };
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
    })
}

/// Resolves once `rx` saw a shutdown request (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: that is a shutdown too.
    let _ = rx.wait_for(|s| *s).await;
}

/// Runs a standalone server until SIGTERM or SIGINT (or a storage failure), on a
/// current-thread tokio runtime with a blocking pool for disk work.
pub fn run(opts: ServeOptions) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    rt.block_on(async move { serve_until_signal(start(opts).await?).await })
}

/// Serves until SIGTERM or SIGINT (or a storage failure), then shuts down gracefully.
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

    #[test]
    fn ensembles_are_refused_for_now() {
        let (cfg, _) = Config::parse(
            "tickTime=2000\ndataDir=/tmp/zk\ninitLimit=5\nsyncLimit=2\n\
             server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n",
        )
        .unwrap();
        let err = ServeOptions::from_config(&cfg).unwrap_err();
        assert!(matches!(
            err,
            ServeError::EnsembleUnsupported { servers: 3 }
        ));
    }
}
