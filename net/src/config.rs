//! ZooKeeper's `zoo.cfg`, so an existing ZooKeeper configuration works unchanged.
//!
//! Input: the text of a `zoo.cfg` (a subset of Java properties: `key=value` lines, `#` and
//! `!` comment lines, surrounding whitespace trimmed; a later duplicate key wins, as in
//! Java) and the `myid` file in `dataDir`. Output: a typed [`Config`] plus a list of
//! [`ConfigWarning`]s (unknown keys, adjusted values), each also logged with `warn!`.
//!
//! Invariants of a returned `Config`: `tick_time > 0`; `min_session_timeout <=
//! max_session_timeout`; `autopurge_snap_retain_count >= 3`; in an ensemble (any
//! `server.N` line) `init_limit`, `sync_limit` and `myid` are set and `myid` names one of
//! the servers. A bad value is a [`ConfigError`] carrying the 1-based line and the key.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use arbor_core::types::ServerId;
use tracing::warn;

/// A parsed `zoo.cfg`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `tickTime` (ms in the file; default 3000 as ZooKeeper's).
    pub tick_time: Duration,
    /// `initLimit` in ticks (required in an ensemble).
    pub init_limit_ticks: u32,
    /// `syncLimit` in ticks (required in an ensemble).
    pub sync_limit_ticks: u32,
    /// `dataDir` (required).
    pub data_dir: PathBuf,
    /// `dataLogDir` (defaults to `dataDir`).
    pub data_log_dir: PathBuf,
    /// `clientPortAddress:clientPort` (defaults 0.0.0.0 and 2181).
    pub client_addr: SocketAddr,
    /// `maxClientCnxns` per client IP (0 = unlimited; default 60).
    pub max_client_cnxns: u32,
    /// `minSessionTimeout` (ms; default 2 × tickTime).
    pub min_session_timeout: Duration,
    /// `maxSessionTimeout` (ms; default 20 × tickTime).
    pub max_session_timeout: Duration,
    /// `autopurge.snapRetainCount` (default 3, raised to 3 if lower).
    pub autopurge_snap_retain_count: usize,
    /// `autopurge.purgeInterval` (hours; 0 or absent = autopurge off).
    pub autopurge_purge_interval: Option<Duration>,
    /// `4lw.commands.whitelist`.
    pub four_letter_words: FourLetterWords,
    /// `server.N` lines.
    pub servers: BTreeMap<ServerId, ServerSpec>,
    /// `dataDir/myid` (read by [`Config::load`]; `None` for a standalone server without it).
    pub myid: Option<ServerId>,
    /// `arbor.clusterId` (an Arbor key, decimal or `0x` hex): the ensemble identity checked
    /// in the peer handshake. Absent: derived from the `server.N` lines.
    pub cluster_id: Option<u64>,
    /// `arbor.peerQueueMax` (an Arbor key): messages queued per peer link before the link
    /// is dropped as too slow (default [`crate::peer::QUEUE_MAX_DEFAULT`]).
    pub peer_queue_max: Option<usize>,
    /// `extendedTypesEnabled` (ZooKeeper turns this zoo.cfg key into the system property
    /// `zookeeper.extendedTypesEnabled`): TTL nodes are served only when `true`. Parsed as
    /// Java's `Boolean.parseBoolean`: `true` in any case is true, anything else false.
    pub extended_types_enabled: bool,
    /// `globalOutstandingLimit` (ZooKeeper turns it into `zookeeper.globalOutstandingLimit`):
    /// unanswered requests before the server stops reading from clients (throttling).
    pub global_outstanding_limit: Option<usize>,
    /// `preAllocSize` (kilobytes in the file, as ZooKeeper's `zookeeper.preAllocSize`; here in
    /// bytes): the log preallocation chunk, 0 = off. Absent: Arbor's default
    /// ([`crate::storage::StorageOptions::PREALLOCATE_BYTES_DEFAULT`]).
    pub pre_alloc_bytes: Option<u64>,
}

/// Which four-letter words are served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FourLetterWords {
    /// `*`: all of them.
    All,
    /// Only these (lowercase).
    Only(BTreeSet<String>),
}

impl FourLetterWords {
    /// Whether `word` is allowed.
    pub fn allows(&self, word: &str) -> bool {
        match self {
            FourLetterWords::All => true,
            FourLetterWords::Only(set) => set.contains(word),
        }
    }
}

/// One `server.N=host:peerPort:electionPort[:role][;clientAddr:clientPort]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// Host name or address (resolved when connecting, not when parsing).
    pub host: String,
    /// Quorum (peer) port.
    pub peer_port: u16,
    /// Leader-election port.
    pub election_port: u16,
    /// Voting participant or observer.
    pub role: ServerRole,
    /// The client address from the `;...` suffix, if any.
    pub client_addr: Option<SocketAddr>,
}

/// A server's role in the ensemble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerRole {
    /// A non-voting learner.
    Observer,
    /// A voter (the default).
    Participant,
}

/// Something accepted but worth telling the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// 1-based line (0 when not tied to a line).
    pub line: usize,
    /// The key.
    pub key: String,
    /// What happened.
    pub message: &'static str,
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value does not parse or is out of range.
    #[error("line {line}: {key}={value}: {reason}")]
    BadValue {
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Settings that contradict each other.
    #[error("{key}: {reason}")]
    Inconsistent {
        /// The key at fault.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A required key is absent.
    #[error("{key} is not set")]
    Missing {
        /// The key.
        key: &'static str,
    },
    /// The `myid` file is invalid.
    #[error("{path}: {reason}")]
    MyId {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// A line that is neither a comment nor `key=value`.
    #[error("line {line}: expected key=value, found {text:?}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// The line as written.
        text: String,
    },
}

impl Config {
    /// Reads `path`, then `myid` from the configured `dataDir`.
    pub fn load(path: &Path) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let text = fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let (mut cfg, warnings) = Config::parse(&text)?;
        cfg.myid = read_myid(&cfg.data_dir)?;
        cfg.check_myid()?;
        Ok((cfg, warnings))
    }

    /// Parses `zoo.cfg` text (no file access: `myid` stays `None`).
    pub fn parse(text: &str) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let mut b = Builder::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
                continue;
            }
            let Some((key, value)) = trimmed.split_once('=') else {
                return Err(ConfigError::Syntax {
                    line,
                    text: trimmed.to_string(),
                });
            };
            b.set(line, key.trim(), value.trim())?;
        }
        let (cfg, warnings) = b.finish()?;
        for w in &warnings {
            warn!(line = w.line, key = %w.key, message = w.message, "zoo.cfg");
        }
        Ok((cfg, warnings))
    }

    /// Checks that an ensemble member knows which server it is.
    pub fn check_myid(&self) -> Result<(), ConfigError> {
        if self.servers.is_empty() {
            return Ok(());
        }
        match self.myid {
            None => Err(ConfigError::Missing { key: "myid" }),
            Some(id) if !self.servers.contains_key(&id) => Err(ConfigError::Inconsistent {
                key: "myid",
                reason: format!("myid {id} has no server.{id} line"),
            }),
            Some(_) => Ok(()),
        }
    }
}

/// Reads `dir/myid`: one decimal server id (surrounding whitespace allowed).
pub fn read_myid(dir: &Path) -> Result<Option<ServerId>, ConfigError> {
    let path = dir.join("myid");
    let text = match fs::read(&path) {
        Ok(b) if b.len() > 64 => {
            return Err(ConfigError::MyId {
                path,
                reason: "file too long for a server id",
            })
        }
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ConfigError::Io { path, source }),
    };
    let parsed = std::str::from_utf8(&text)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    match parsed {
        Some(id) => Ok(Some(ServerId(id))),
        None => Err(ConfigError::MyId {
            path,
            reason: "not a decimal server id",
        }),
    }
}

#[derive(Default)]
struct Builder {
    tick_time_ms: Option<u64>,
    init_limit: Option<u32>,
    sync_limit: Option<u32>,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    client_port: Option<u16>,
    client_port_address: Option<IpAddr>,
    max_client_cnxns: Option<u32>,
    min_session_timeout_ms: Option<(usize, u64)>,
    max_session_timeout_ms: Option<(usize, u64)>,
    snap_retain_count: Option<(usize, u64)>,
    purge_interval_hours: Option<u64>,
    four_letter_words: Option<FourLetterWords>,
    cluster_id: Option<u64>,
    peer_queue_max: Option<usize>,
    extended_types_enabled: bool,
    global_outstanding_limit: Option<usize>,
    pre_alloc_kb: Option<u64>,
    servers: BTreeMap<ServerId, ServerSpec>,
    warnings: Vec<ConfigWarning>,
}

impl Builder {
    fn set(&mut self, line: usize, key: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |reason: &'static str| ConfigError::BadValue {
            line,
            key: key.to_string(),
            value: value.to_string(),
            reason,
        };
        let uint = |max: u64| -> Result<u64, ConfigError> {
            let v: u64 = value
                .parse()
                .map_err(|_| bad("not a non-negative integer"))?;
            if v > max {
                return Err(bad("out of range"));
            }
            Ok(v)
        };
        // ZooKeeper writes -1 for "use the default" in its session timeout keys.
        let timeout = || -> Result<Option<u64>, ConfigError> {
            if value == "-1" {
                return Ok(None);
            }
            uint(i32::MAX as u64).map(Some)
        };
        match key {
            "tickTime" => {
                let v = uint(i32::MAX as u64)?;
                if v == 0 {
                    return Err(bad("must be positive"));
                }
                self.tick_time_ms = Some(v);
            }
            "initLimit" => self.init_limit = Some(positive_u32(uint(u32::MAX as u64)?, &bad)?),
            "syncLimit" => self.sync_limit = Some(positive_u32(uint(u32::MAX as u64)?, &bad)?),
            "dataDir" | "dataLogDir" => {
                if value.is_empty() {
                    return Err(bad("empty path"));
                }
                let p = Some(PathBuf::from(value));
                if key == "dataDir" {
                    self.data_dir = p;
                } else {
                    self.data_log_dir = p;
                }
            }
            "clientPort" => self.client_port = Some(port(value).ok_or_else(|| bad("not a port"))?),
            "clientPortAddress" => {
                self.client_port_address = Some(value.parse().map_err(|_| bad("not an IP"))?)
            }
            "maxClientCnxns" => self.max_client_cnxns = Some(uint(u32::MAX as u64)? as u32),
            "minSessionTimeout" => {
                self.min_session_timeout_ms = timeout()?.map(|v| (line, v));
            }
            "maxSessionTimeout" => {
                self.max_session_timeout_ms = timeout()?.map(|v| (line, v));
            }
            "autopurge.snapRetainCount" => {
                self.snap_retain_count = Some((line, uint(u32::MAX as u64)?));
            }
            "autopurge.purgeInterval" => self.purge_interval_hours = Some(uint(24 * 365 * 100)?),
            "arbor.clusterId" => {
                let parsed = match value.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).ok(),
                    None => value.parse().ok(),
                };
                self.cluster_id = Some(parsed.ok_or_else(|| bad("not a u64 (decimal or 0x hex)"))?);
            }
            "arbor.peerQueueMax" => {
                let v = uint(u32::MAX as u64)?;
                if v == 0 {
                    return Err(bad("must be positive"));
                }
                self.peer_queue_max = Some(v as usize);
            }
            "globalOutstandingLimit" => {
                let v = uint(i32::MAX as u64)?;
                if v == 0 {
                    return Err(bad("must be positive"));
                }
                self.global_outstanding_limit = Some(v as usize);
            }
            "preAllocSize" => self.pre_alloc_kb = Some(uint(u32::MAX as u64)?),
            "4lw.commands.whitelist" => {
                self.four_letter_words = Some(four_letter_words(value, &bad)?)
            }
            "extendedTypesEnabled" => {
                self.extended_types_enabled = value.eq_ignore_ascii_case("true");
            }
            _ => {
                if let Some(n) = key.strip_prefix("server.") {
                    let id: u64 = n.parse().map_err(|_| bad("server.N needs a numeric N"))?;
                    let spec = server_spec(value, &bad)?;
                    self.servers.insert(ServerId(id), spec);
                } else {
                    self.warnings.push(ConfigWarning {
                        line,
                        key: key.to_string(),
                        message: "unknown key ignored",
                    });
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let tick_ms = self.tick_time_ms.unwrap_or(TICK_TIME_MS_DEFAULT);
        let data_dir = self
            .data_dir
            .ok_or(ConfigError::Missing { key: "dataDir" })?;
        let ensemble = !self.servers.is_empty();
        let init_limit = match (self.init_limit, ensemble) {
            (Some(v), _) => v,
            (None, true) => return Err(ConfigError::Missing { key: "initLimit" }),
            (None, false) => INIT_LIMIT_STANDALONE,
        };
        let sync_limit = match (self.sync_limit, ensemble) {
            (Some(v), _) => v,
            (None, true) => return Err(ConfigError::Missing { key: "syncLimit" }),
            (None, false) => SYNC_LIMIT_STANDALONE,
        };
        let min_ms = self.min_session_timeout_ms.map_or(2 * tick_ms, |(_, v)| v);
        let max_ms = self.max_session_timeout_ms.map_or(20 * tick_ms, |(_, v)| v);
        if min_ms > max_ms {
            return Err(ConfigError::Inconsistent {
                key: "minSessionTimeout",
                reason: format!(
                    "minSessionTimeout {min_ms} ms exceeds maxSessionTimeout {max_ms} ms"
                ),
            });
        }
        let retain = match self.snap_retain_count {
            Some((line, v)) if v < SNAP_RETAIN_COUNT_MIN as u64 => {
                self.warnings.push(ConfigWarning {
                    line,
                    key: "autopurge.snapRetainCount".into(),
                    message: "below the minimum of 3; using 3",
                });
                SNAP_RETAIN_COUNT_MIN
            }
            Some((_, v)) => v as usize,
            None => SNAP_RETAIN_COUNT_MIN,
        };
        let cfg = Config {
            tick_time: Duration::from_millis(tick_ms),
            init_limit_ticks: init_limit,
            sync_limit_ticks: sync_limit,
            data_log_dir: self.data_log_dir.unwrap_or_else(|| data_dir.clone()),
            data_dir,
            client_addr: SocketAddr::new(
                self.client_port_address
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                self.client_port.unwrap_or(crate::DEFAULT_CLIENT_PORT),
            ),
            max_client_cnxns: self.max_client_cnxns.unwrap_or(MAX_CLIENT_CNXNS_DEFAULT),
            min_session_timeout: Duration::from_millis(min_ms),
            max_session_timeout: Duration::from_millis(max_ms),
            autopurge_snap_retain_count: retain,
            autopurge_purge_interval: match self.purge_interval_hours {
                None | Some(0) => None,
                Some(h) => Some(Duration::from_secs(h * 3600)),
            },
            four_letter_words: self
                .four_letter_words
                .unwrap_or_else(|| FourLetterWords::Only(BTreeSet::from(["srvr".to_string()]))),
            servers: self.servers,
            myid: None,
            cluster_id: self.cluster_id,
            peer_queue_max: self.peer_queue_max,
            extended_types_enabled: self.extended_types_enabled,
            global_outstanding_limit: self.global_outstanding_limit,
            pre_alloc_bytes: self.pre_alloc_kb.map(|kb| kb * 1024),
        };
        Ok((cfg, self.warnings))
    }
}

fn positive_u32(v: u64, bad: &dyn Fn(&'static str) -> ConfigError) -> Result<u32, ConfigError> {
    if v == 0 {
        return Err(bad("must be positive"));
    }
    Ok(v as u32)
}

fn port(s: &str) -> Option<u16> {
    s.trim().parse::<u16>().ok().filter(|p| *p != 0)
}

fn four_letter_words(
    value: &str,
    bad: &dyn Fn(&'static str) -> ConfigError,
) -> Result<FourLetterWords, ConfigError> {
    let mut set = BTreeSet::new();
    for w in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if w == "*" {
            return Ok(FourLetterWords::All);
        }
        if w.len() != 4 || !w.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad("each entry must be a four-letter word or *"));
        }
        set.insert(w.to_ascii_lowercase());
    }
    Ok(FourLetterWords::Only(set))
}

fn server_spec(
    value: &str,
    bad: &dyn Fn(&'static str) -> ConfigError,
) -> Result<ServerSpec, ConfigError> {
    let (peer_part, client_part) = match value.split_once(';') {
        Some((p, c)) => (p.trim(), Some(c.trim())),
        None => (value, None),
    };
    // An IPv6 host is written in brackets: [::1]:2888:3888.
    let (host, rest) = if let Some(r) = peer_part.strip_prefix('[') {
        let (h, rest) = r.split_once(']').ok_or_else(|| bad("unclosed [ in host"))?;
        (
            h,
            rest.strip_prefix(':')
                .ok_or_else(|| bad("expected :port after ]"))?,
        )
    } else {
        peer_part
            .split_once(':')
            .ok_or_else(|| bad("expected host:peerPort:electionPort"))?
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    let mut parts = rest.split(':');
    let peer_port = parts
        .next()
        .and_then(port)
        .ok_or_else(|| bad("bad peer port"))?;
    let election_port = parts
        .next()
        .and_then(port)
        .ok_or_else(|| bad("bad election port"))?;
    let role = match parts.next().map(str::trim) {
        None | Some("participant") => ServerRole::Participant,
        Some("observer") => ServerRole::Observer,
        Some(_) => return Err(bad("role must be participant or observer")),
    };
    if parts.next().is_some() {
        return Err(bad("too many : fields"));
    }
    let client_addr = match client_part {
        None => None,
        Some(c) => Some(match c.rsplit_once(':') {
            None => SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                port(c).ok_or_else(|| bad("bad client port"))?,
            ),
            Some((a, p)) => {
                let a = a.trim_start_matches('[').trim_end_matches(']');
                SocketAddr::new(
                    a.parse().map_err(|_| bad("client address must be an IP"))?,
                    port(p).ok_or_else(|| bad("bad client port"))?,
                )
            }
        }),
    };
    Ok(ServerSpec {
        host: host.to_string(),
        peer_port,
        election_port,
        role,
        client_addr,
    })
}

/// ZooKeeper's `DEFAULT_TICK_TIME`.
const TICK_TIME_MS_DEFAULT: u64 = 3000;
/// ZooKeeper's default `maxClientCnxns`.
const MAX_CLIENT_CNXNS_DEFAULT: u32 = 60;
/// ZooKeeper refuses to keep fewer than 3 snapshots.
const SNAP_RETAIN_COUNT_MIN: usize = 3;
/// Limits for a standalone server (unused without peers; the sample config's values).
const INIT_LIMIT_STANDALONE: u32 = 10;
const SYNC_LIMIT_STANDALONE: u32 = 5;

#[cfg(test)]
mod tests;
