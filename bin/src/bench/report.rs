//! The result of a run: per-op throughput and latency percentiles, error counts, and the
//! human table and JSON line printed from them.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::session::{OpStats, SessionStats};
use super::BenchArgs;

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        let us = |ns: u64| ns as f64 / 1000.0;
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
            mean_us: h.mean() / 1000.0,
        }
    }
}

/// Figures of one op kind.
#[derive(Clone, Debug, Serialize)]
pub struct OpSummary {
    /// Successful replies in the measured window.
    pub ops: u64,
    /// Successful replies per second.
    pub ops_per_s: f64,
    /// Latency of successful replies.
    #[serde(flatten)]
    pub latency: Latency,
    /// Error replies by ZooKeeper error name.
    pub errors: BTreeMap<String, u64>,
}

/// The whole run, as printed in the JSON line.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// `--label`.
    pub label: String,
    /// `workload` or `load`.
    pub mode: &'static str,
    /// The op (`load` in load mode).
    pub op: String,
    /// Servers.
    pub connect: Vec<String>,
    /// Sessions.
    pub sessions: usize,
    /// In flight per session.
    pub inflight: usize,
    /// Value size, bytes.
    pub value_size: usize,
    /// Key space.
    pub keys: u64,
    /// Read fraction of `mixed`.
    pub read_ratio: f64,
    /// Measured window, seconds.
    pub window_s: f64,
    /// Successful replies, all ops.
    pub ops: u64,
    /// Successful replies per second, all ops.
    pub ops_per_s: f64,
    /// Latency over all ops.
    #[serde(flatten)]
    pub latency: Latency,
    /// Error replies, all ops.
    pub errors: u64,
    /// Requests lost to connection failures, by kind.
    pub client_errors: BTreeMap<String, u64>,
    /// Reconnections.
    pub reconnects: u64,
    /// Per op kind.
    pub per_op: BTreeMap<String, OpSummary>,
}

impl Summary {
    /// Merges the sessions' stats.
    pub fn build(
        args: &BenchArgs,
        addrs: &[SocketAddr],
        stats: &[SessionStats],
        window: Duration,
    ) -> Summary {
        let secs = window.as_secs_f64();
        let rate = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let mut merged: BTreeMap<&'static str, OpStats> = BTreeMap::new();
        let mut client_errors = BTreeMap::new();
        let mut reconnects = 0;
        for s in stats {
            for (k, v) in &s.ops {
                match merged.get_mut(k) {
                    Some(m) => m.merge(v),
                    None => {
                        let mut m = OpStats::empty();
                        m.merge(v);
                        merged.insert(k, m);
                    }
                }
            }
            for (k, v) in &s.client_errors {
                *client_errors.entry(k.to_string()).or_default() += v;
            }
            reconnects += s.reconnects;
        }
        let mut all = OpStats::empty();
        let mut per_op = BTreeMap::new();
        for (k, v) in &merged {
            all.merge(v);
            let ops = v.hist.len();
            per_op.insert(
                k.to_string(),
                OpSummary {
                    ops,
                    ops_per_s: rate(ops),
                    latency: Latency::of(&v.hist),
                    errors: v.errors.clone(),
                },
            );
        }
        let ops = all.hist.len();
        Summary {
            label: args.label.clone(),
            mode: if args.load_znodes.is_some() {
                "load"
            } else {
                "workload"
            },
            op: match args.load_znodes {
                Some(_) => "load".to_string(),
                None => format!("{:?}", args.op).to_lowercase(),
            },
            connect: addrs.iter().map(|a| a.to_string()).collect(),
            sessions: args.sessions,
            inflight: args.inflight,
            value_size: args.value_size,
            keys: args.load_znodes.unwrap_or(args.keys),
            read_ratio: args.read_ratio,
            window_s: secs,
            ops,
            ops_per_s: rate(ops),
            latency: Latency::of(&all.hist),
            errors: all.errors.values().sum(),
            client_errors,
            reconnects,
            per_op,
        }
    }
}

/// Prints the table (unless `json_only`) and the JSON line to stdout.
pub fn print(s: &Summary, json_only: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if !json_only {
        writeln!(
            out,
            "{} {} on {}: {} sessions x {} in flight, {} B values, {:.1} s measured",
            if s.label.is_empty() {
                "bench"
            } else {
                &s.label
            },
            s.op,
            s.connect.join(","),
            s.sessions,
            s.inflight,
            s.value_size,
            s.window_s
        )?;
        writeln!(
            out,
            "{:<9} {:>10} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}  errors",
            "op", "ops", "ops/s", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us"
        )?;
        let mut rows: Vec<(&str, u64, f64, &Latency, String)> = s
            .per_op
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    v.ops,
                    v.ops_per_s,
                    &v.latency,
                    errors(&v.errors),
                )
            })
            .collect();
        if s.per_op.len() > 1 {
            rows.push(("all", s.ops, s.ops_per_s, &s.latency, String::new()));
        }
        for (name, ops, rate, l, errs) in rows {
            writeln!(
                out,
                "{name:<9} {ops:>10} {rate:>11.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0}  {errs}",
                l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
            )?;
        }
        if !s.client_errors.is_empty() {
            writeln!(
                out,
                "requests lost to connection failures: {} ({} reconnects)",
                s.client_errors
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                s.reconnects
            )?;
        }
    }
    writeln!(out, "{}", serde_json::to_string(s)?)?;
    Ok(())
}

fn errors(e: &BTreeMap<String, u64>) -> String {
    e.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
