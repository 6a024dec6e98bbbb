//! One benchmark session: a [`Client`] kept `inflight` requests deep, its latency
//! histograms and error counts, and reconnection after a lost connection.
//!
//! Inputs: the shared run state (phase deadlines, the op budget, the progress counter) and
//! the workload. Outputs: a [`SessionStats`] at the end of the run.
//!
//! Decisions:
//! - Latency of a request is from the flush that sent it to the decoded reply
//!   ([`ClientReply::sent_at`]); only requests *sent* in the measured window count, so
//!   warm-up traffic never reaches the figures.
//! - A lost connection (close, reset, timeout, bad frame) counts every outstanding request
//!   as one client error of that kind, then the session reconnects, to the next server of
//!   the list, with a fresh ZooKeeper session, after a short pause; it never hangs, since
//!   every wait of the client is bounded.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbor_core::proto::jute::{CreateRequest, MultiOp, PathWatchRequest, Request, SetDataRequest};
use arbor_core::types::{Acl, ErrorCode};
use arbor_net::client::{Client, ClientError, ClientOptions};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which requests a session issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    /// getChildren of a key znode (a leaf: measures the request path, not list size).
    Children,
    /// create of a fresh znode per request.
    Create,
    /// exists of a key.
    Exists,
    /// getData of a key.
    Get,
    /// getData with probability `--read-ratio`, else setData.
    Mixed,
    /// multi of two setData on two keys.
    Multi,
    /// setData of a key.
    Set,
}

/// What every session shares.
pub struct Shared {
    /// Servers, sessions spread over them round-robin.
    pub addrs: Vec<SocketAddr>,
    /// Client options.
    pub client: ClientOptions,
    /// Requests kept in flight per session.
    pub inflight: usize,
    /// Start of the measured window (after warm-up).
    pub measure_from: Instant,
    /// End of the run in duration mode.
    pub end: Option<Instant>,
    /// Measured requests left to issue in `--ops` / load mode.
    pub budget: Option<AtomicU64>,
    /// Next znode index in load mode.
    pub next_index: AtomicU64,
    /// Replies received in the measured window (progress).
    pub done: AtomicU64,
    /// The workload.
    pub work: Work,
}

/// The requests to generate.
#[derive(Clone, Debug)]
pub struct Work {
    /// The operation (`None`: load mode, create `{prefix}/z{i}`).
    pub op: Option<Op>,
    /// Fraction of reads in `mixed`.
    pub read_ratio: f64,
    /// Value written by create and setData.
    pub value: Vec<u8>,
    /// Key space `{prefix}/k0 .. k{keys-1}`.
    pub keys: u64,
    /// Parent of every key.
    pub prefix: String,
    /// Distinguishes this run's created znodes from earlier runs'.
    pub run_id: u64,
}

/// Latency histogram, successes and errors of one op kind.
pub struct OpStats {
    /// Latency of successful replies, ns.
    pub hist: Histogram<u64>,
    /// Error replies by ZooKeeper error name.
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    /// No samples, no errors.
    pub fn empty() -> OpStats {
        OpStats {
            // 1 ns .. 10 min at 3 significant digits; `saturating_record` keeps outliers.
            hist: Histogram::new_with_bounds(1, 600_000_000_000, 3)
                .expect("constant bounds are valid"),
            errors: BTreeMap::new(),
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &OpStats) {
        self.hist
            .add(&other.hist)
            .expect("histograms with the same bounds merge");
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }
}

/// What one session measured.
#[derive(Default)]
pub struct SessionStats {
    /// Per op kind (`get`, `set`, `create`, ...).
    pub ops: BTreeMap<&'static str, OpStats>,
    /// Requests lost to connection failures, by failure kind.
    pub client_errors: BTreeMap<&'static str, u64>,
    /// Connections opened after the first.
    pub reconnects: u64,
    /// Time of the last measured reply.
    pub last_reply: Option<Instant>,
}

/// Runs session `idx` until the run is over.
pub async fn run(idx: usize, shared: Arc<Shared>) -> SessionStats {
    let mut st = SessionStats::default();
    let mut rng = ChaCha8Rng::seed_from_u64(shared.work.run_id ^ (idx as u64).wrapping_mul(0x9E37));
    let mut created = 0u64;
    let mut server = idx % shared.addrs.len();
    let mut first = true;
    let mut kinds: VecDeque<(&'static str, bool)> = VecDeque::new();
    'connect: loop {
        if finished(&shared) {
            break;
        }
        if !first {
            st.reconnects += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        first = false;
        let mut client = match Client::connect(shared.addrs[server], shared.client).await {
            Ok(c) => c,
            Err(e) => {
                *st.client_errors.entry(error_kind(&e, true)).or_default() += 1;
                server = (server + 1) % shared.addrs.len();
                continue;
            }
        };
        kinds.clear();
        loop {
            while client.pending() < shared.inflight {
                let Some(measured) = claim(&shared) else {
                    break;
                };
                let (kind, req) = next_request(&shared.work, &mut rng, idx, &mut created, &shared);
                client.queue(&req);
                kinds.push_back((kind, measured));
            }
            if client.pending() == 0 {
                let _ = tokio::time::timeout(shared.client.io_timeout, client.close()).await;
                break 'connect;
            }
            match client.next_reply().await {
                Ok(reply) => {
                    let (kind, measured) = kinds.pop_front().expect("one kind per pending request");
                    if !measured || reply.sent_at < shared.measure_from {
                        continue;
                    }
                    let now = Instant::now();
                    let s = st.ops.entry(kind).or_insert_with(OpStats::empty);
                    if reply.header.err == 0 {
                        let ns =
                            u64::try_from((now - reply.sent_at).as_nanos()).unwrap_or(u64::MAX);
                        s.hist.saturating_record(ns.max(1));
                    } else {
                        *s.errors.entry(error_name(reply.header.err)).or_default() += 1;
                    }
                    st.last_reply = Some(now);
                    shared.done.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let lost = kinds.len() as u64;
                    *st.client_errors.entry(error_kind(&e, false)).or_default() += lost.max(1);
                    tracing::warn!(session = idx, error = %e, lost, "connection lost; reconnecting");
                    server = (server + 1) % shared.addrs.len();
                    continue 'connect;
                }
            }
        }
    }
    st
}

/// Whether no more requests may be issued (checked before each connection attempt).
fn finished(shared: &Shared) -> bool {
    if let Some(end) = shared.end {
        return Instant::now() >= end;
    }
    shared
        .budget
        .as_ref()
        .is_some_and(|b| b.load(Ordering::Relaxed) == 0)
}

/// Takes the right to issue one more request: `Some(measured)` or `None` when the run is
/// over. Warm-up requests (before `measure_from`) are issued but not measured.
fn claim(shared: &Shared) -> Option<bool> {
    let now = Instant::now();
    if let Some(end) = shared.end {
        return (now < end).then_some(now >= shared.measure_from);
    }
    let budget = shared.budget.as_ref().expect("duration or budget is set");
    if now < shared.measure_from {
        return Some(false);
    }
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
        .ok()
        .map(|_| true)
}

fn next_request(
    work: &Work,
    rng: &mut ChaCha8Rng,
    idx: usize,
    created: &mut u64,
    shared: &Shared,
) -> (&'static str, Request) {
    let key = |rng: &mut ChaCha8Rng| format!("{}/k{}", work.prefix, rng.gen_range(0..work.keys));
    let set = |path: String| {
        Request::SetData(SetDataRequest {
            path,
            data: Some(work.value.clone()),
            version: -1,
        })
    };
    let read = |path: String| PathWatchRequest { path, watch: false };
    let Some(op) = work.op else {
        let i = shared.next_index.fetch_add(1, Ordering::Relaxed);
        return (
            "create",
            create(format!("{}/z{i}", work.prefix), &work.value),
        );
    };
    match op {
        Op::Children => ("children", Request::GetChildren(read(key(rng)))),
        Op::Create => {
            *created += 1;
            let path = format!("{}/c{}-{idx}-{created}", work.prefix, work.run_id);
            ("create", create(path, &work.value))
        }
        Op::Exists => ("exists", Request::Exists(read(key(rng)))),
        Op::Get => ("get", Request::GetData(read(key(rng)))),
        Op::Mixed if rng.gen_bool(work.read_ratio.clamp(0.0, 1.0)) => {
            ("get", Request::GetData(read(key(rng))))
        }
        Op::Mixed | Op::Set => ("set", set(key(rng))),
        Op::Multi => {
            let ops = (0..2)
                .map(|_| {
                    MultiOp::SetData(SetDataRequest {
                        path: key(rng),
                        data: Some(work.value.clone()),
                        version: -1,
                    })
                })
                .collect();
            ("multi", Request::Multi(ops))
        }
    }
}

/// A persistent create with the open ACL.
pub fn create(path: String, value: &[u8]) -> Request {
    Request::Create(CreateRequest {
        path,
        data: Some(value.to_vec()),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

/// A ZooKeeper error code's name (`NoNode`), or its number when unknown.
pub fn error_name(code: i32) -> String {
    match ErrorCode::from_code(code) {
        Some(c) => format!("{c:?}"),
        None => format!("code{code}"),
    }
}

fn error_kind(e: &ClientError, connecting: bool) -> &'static str {
    match e {
        _ if connecting => "connect_failed",
        ClientError::Closed { .. } | ClientError::Io(_) => "connection_loss",
        ClientError::Timeout(_) => "timeout",
        ClientError::SessionRefused => "session_refused",
        _ => "protocol_error",
    }
}
