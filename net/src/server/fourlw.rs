//! Four-letter words on the client port, with ZooKeeper 3.8's output shapes.
//!
//! `srvr` / `stat` report `Mode: leader|follower|standalone`, `mntr` reports
//! `zk_server_state` the same way, and on a leader `zk_learners`, `zk_followers` and
//! `zk_synced_followers`. A server that is electing or synchronizing answers `srvr`, `stat`,
//! `mntr` and `cons` with ZooKeeper's "not currently serving requests" line. Arbor adds two
//! `mntr` keys to compare replicas cheaply: `zk_arbor_last_zxid` (the applied zxid, decimal)
//! and `zk_arbor_tree_digest` (the tree digest at that zxid; equal zxids, equal digests).

use std::fmt::Write as _;
use std::time::Duration;

use arbor_core::proto::jute::FourLetterWord;
use arbor_core::types::ConnId;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;
use tracing::debug;

use super::conn::ConnShared;
use super::core_task::{Event, Stats};
use crate::rt::OwnedWriteHalf;

/// The version line's text (ZooKeeper clients and tools parse the leading `3.8.x`).
const VERSION: &str = concat!(
    "3.8.0-arbor-",
    env!("CARGO_PKG_VERSION"),
    ", built on 1970-01-01 00:00 UTC"
);
/// ZooKeeper's answer while the server is not serving (`ZK_NOT_SERVING`).
const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";
/// How long a four-letter word waits for the core's statistics.
const STATS_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers `word` and closes the connection.
pub(crate) async fn answer(
    word: FourLetterWord,
    conn: ConnId,
    wr: &mut OwnedWriteHalf,
    shared: &ConnShared,
) {
    let text = render(word, conn, shared).await;
    debug!(word = word.name(), "four-letter word");
    if let Some(text) = text {
        // The asker may already be gone; the connection is closed either way.
        let _ = wr.write_all(text.as_bytes()).await;
        // A no-op on a tokio socket; madsim's simulated TCP sends on flush.
        let _ = wr.flush().await;
    }
    let _ = wr.shutdown().await;
}

async fn stats(shared: &ConnShared) -> Option<Stats> {
    let (tx, rx) = oneshot::channel();
    shared.events.send(Event::Stats(tx)).await.ok()?;
    tokio::time::timeout(STATS_TIMEOUT, rx).await.ok()?.ok()
}

/// The brief lines (` /ip:port[0](queued=0,recved=N,sent=0)`) of connections without a
/// session; the asker itself has received its four letters (recved=1), as in ZooKeeper.
fn sessionless_lines(asker: ConnId, shared: &ConnShared) -> Vec<String> {
    let m = shared.sessionless.lock().unwrap_or_else(|e| e.into_inner());
    m.iter()
        .map(|(c, peer)| {
            let recved = u8::from(*c == asker);
            format!(" /{peer}[0](queued=0,recved={recved},sent=0)")
        })
        .collect()
}

async fn render(word: FourLetterWord, asker: ConnId, shared: &ConnShared) -> Option<String> {
    if word == FourLetterWord::TelnetClose {
        return None;
    }
    let name = word.name();
    if !shared.four_letter_words.allows(name) {
        return Some(format!(
            "{name} is not executed because it is not in the whitelist.\n"
        ));
    }
    let mut s = String::new();
    match word {
        FourLetterWord::Ruok => s.push_str("imok"),
        FourLetterWord::Isro => s.push_str("rw"),
        FourLetterWord::Srvr | FourLetterWord::Stat => {
            let st = stats(shared).await?;
            let Some(mode) = st.mode.name() else {
                return Some(NOT_SERVING.to_string());
            };
            let others = sessionless_lines(asker, shared);
            // Writing to a String cannot fail.
            let _ = writeln!(s, "Zookeeper version: {VERSION}");
            if word == FourLetterWord::Stat {
                s.push_str("Clients:\n");
                for c in &st.clients {
                    let _ = writeln!(
                        s,
                        " /{}[1](queued={},recved={},sent={})",
                        c.peer, c.queued, c.received, c.sent
                    );
                }
                for line in &others {
                    let _ = writeln!(s, "{line}");
                }
                s.push('\n');
            }
            let _ = writeln!(
                s,
                "Latency min/avg/max: {}/{}/{}",
                st.latency_min_ms.round(),
                java_double(st.latency_avg_ms),
                st.latency_max_ms.round()
            );
            let _ = writeln!(s, "Received: {}", st.received);
            let _ = writeln!(s, "Sent: {}", st.sent);
            let _ = writeln!(s, "Connections: {}", st.clients.len() + others.len());
            let _ = writeln!(s, "Outstanding: {}", st.outstanding);
            let _ = writeln!(s, "Zxid: 0x{:x}", st.zxid.0);
            let _ = writeln!(s, "Mode: {mode}");
            let _ = writeln!(s, "Node count: {}", st.node_count);
        }
        FourLetterWord::Mntr => {
            let st = stats(shared).await?;
            let Some(mode) = st.mode.name() else {
                return Some(NOT_SERVING.to_string());
            };
            let alive = st.clients.len() + sessionless_lines(asker, shared).len();
            let mut kv = vec![
                ("zk_version", VERSION.to_string()),
                ("zk_server_state", mode.to_string()),
                ("zk_avg_latency", java_double(st.latency_avg_ms)),
                ("zk_max_latency", format!("{}", st.latency_max_ms.round())),
                ("zk_min_latency", format!("{}", st.latency_min_ms.round())),
                ("zk_packets_received", st.received.to_string()),
                ("zk_packets_sent", st.sent.to_string()),
                ("zk_num_alive_connections", alive.to_string()),
                ("zk_outstanding_requests", st.outstanding.to_string()),
                ("zk_znode_count", st.node_count.to_string()),
                ("zk_arbor_last_zxid", st.zxid.0.to_string()),
                ("zk_arbor_tree_digest", st.digest.to_string()),
                ("zk_watch_count", st.watches.watch_count.to_string()),
                ("zk_ephemerals_count", st.ephemerals.to_string()),
                ("zk_global_sessions", st.sessions.to_string()),
                ("zk_local_sessions", "0".to_string()),
            ];
            if let Some((learners, synced)) = st.learners {
                kv.push(("zk_learners", learners.to_string()));
                kv.push(("zk_followers", learners.to_string()));
                kv.push(("zk_synced_followers", synced.to_string()));
            }
            for (k, v) in kv {
                let _ = writeln!(s, "{k}\t{v}");
            }
        }
        FourLetterWord::Cons => {
            let st = stats(shared).await?;
            if st.mode.name().is_none() {
                return Some(NOT_SERVING.to_string());
            }
            for c in &st.clients {
                let _ = writeln!(
                    s,
                    " /{}[1](queued={},recved={},sent={})",
                    c.peer, c.queued, c.received, c.sent
                );
            }
            for line in sessionless_lines(asker, shared) {
                let _ = writeln!(s, "{line}");
            }
            s.push('\n');
        }
        FourLetterWord::Conf => {
            // ZooKeeperServer.dumpConf's keys, in its order (standalone).
            let o = shared.options.clone();
            let sizes = dir_sizes(&o).await?;
            let _ = writeln!(s, "clientPort={}", o.client_addr.port());
            s.push_str("secureClientPort=-1\n");
            let _ = writeln!(s, "dataDir={}", o.storage.data_dir.display());
            let _ = writeln!(s, "dataDirSize={}", sizes.0);
            let _ = writeln!(s, "dataLogDir={}", o.storage.data_log_dir.display());
            let _ = writeln!(s, "dataLogSize={}", sizes.1);
            let _ = writeln!(s, "tickTime={}", o.tick.as_millis());
            let _ = writeln!(s, "maxClientCnxns={}", o.max_client_cnxns);
            let _ = writeln!(s, "minSessionTimeout={}", o.min_session_timeout.as_millis());
            let _ = writeln!(s, "maxSessionTimeout={}", o.max_session_timeout.as_millis());
            s.push_str("clientPortListenBacklog=-1\n");
            let _ = writeln!(s, "serverId={}", o.id.0);
        }
        FourLetterWord::Envi => {
            s.push_str("Environment:\n");
            let _ = writeln!(s, "zookeeper.version={VERSION}");
            let _ = writeln!(s, "os.name={}", std::env::consts::OS);
            let _ = writeln!(s, "os.arch={}", std::env::consts::ARCH);
            if let Ok(dir) = std::env::current_dir() {
                let _ = writeln!(s, "user.dir={}", dir.display());
            }
        }
        FourLetterWord::Wchs => {
            // 3.8 prints its data-watch table (WatchManager.toString) then a newline.
            let w = stats(shared).await?.watches.wchs;
            let _ = writeln!(
                s,
                "{} connections watching {} paths",
                w.connections, w.paths
            );
            let _ = writeln!(s, "Total watches:{}", w.watches);
        }
        FourLetterWord::Dirs => {
            let sizes = dir_sizes(&shared.options).await?;
            let _ = writeln!(s, "datadir_size: {}", sizes.0);
            let _ = writeln!(s, "logdir_size: {}", sizes.1);
        }
        _ => {
            let _ = writeln!(s, "{name} is not supported by this server.");
        }
    }
    Some(s)
}

/// A double as Java prints it for small values: at least one decimal (`0.0`, `1.5`),
/// rounded to 4 decimals here.
fn java_double(v: f64) -> String {
    let r = (v * 10_000.0).round() / 10_000.0;
    if r.fract() == 0.0 {
        format!("{r:.1}")
    } else {
        format!("{r}")
    }
}

/// (data dir, log dir) sizes, read off the async threads.
#[cfg(not(madsim))]
async fn dir_sizes(o: &std::sync::Arc<super::ServeOptions>) -> Option<(u64, u64)> {
    let o = o.clone();
    tokio::task::spawn_blocking(move || {
        (
            dir_size(&o.storage.data_dir),
            dir_size(&o.storage.data_log_dir),
        )
    })
    .await
    .ok()
}

/// Under madsim the store is in memory (madsim does not simulate files) and there are no
/// blocking threads: there is no data directory to measure, so both sizes are 0.
#[cfg(madsim)]
async fn dir_sizes(_o: &std::sync::Arc<super::ServeOptions>) -> Option<(u64, u64)> {
    Some((0, 0))
}

/// Bytes in the regular files directly inside `dir` (0 if unreadable).
#[cfg(not(madsim))]
fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
