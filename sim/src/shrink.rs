//! Shrinking a failing run and the replay artifact.
//!
//! [`shrink`] greedily simplifies the options of a failing seed — fewer nodes, fewer
//! clients, fewer ops per session, a shorter fault phase (cut right after the failure) and
//! heal window, fault kinds switched off, a plainer workload — keeping each step only if
//! the run still fails with the same checker. The seed stays; the result is as
//! reproducible as the original. [`Artifact`] is the JSON file that names the seed, the
//! final options and the failure; `arbor sim --replay FILE` runs exactly that.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::options::Options;
use crate::world::{run, Report};
use crate::REPLAY_FORMAT_VERSION;

/// A replayable failing run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// [`REPLAY_FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// The seed.
    pub seed: u64,
    /// The exact options.
    pub options: Options,
    /// The checker that fired.
    pub checker: String,
    /// Its message.
    pub detail: String,
    /// Simulated time of the failure, ns.
    pub at_ns: u64,
    /// Trace hash of the failing run (a replay must give the same).
    pub trace_hash: u64,
}

impl Artifact {
    /// The artifact for a failed report.
    pub fn from_report(r: &Report, options: &Options) -> Option<Artifact> {
        let f = r.failure.as_ref()?;
        Some(Artifact {
            format: REPLAY_FORMAT_VERSION,
            seed: r.seed,
            options: options.clone(),
            checker: f.violation.checker.to_string(),
            detail: f.violation.detail.clone(),
            at_ns: f.at_ns,
            trace_hash: r.trace_hash,
        })
    }

    /// Writes the artifact as JSON.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, json + "\n")
    }

    /// Reads an artifact written by [`Artifact::write`].
    pub fn read(path: &Path) -> std::io::Result<Artifact> {
        let text = std::fs::read_to_string(path)?;
        let a: Artifact = serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if a.format != REPLAY_FORMAT_VERSION {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "replay format {} (this simulator reads {REPLAY_FORMAT_VERSION})",
                    a.format
                ),
            ));
        }
        Ok(a)
    }

    /// Runs the artifact; returns the report and whether it failed the same way (same
    /// checker, same trace hash).
    pub fn replay(&self) -> (Report, bool) {
        let r = run(self.seed, &self.options);
        let same = r
            .failure
            .as_ref()
            .is_some_and(|f| f.violation.checker == self.checker)
            && r.trace_hash == self.trace_hash;
        (r, same)
    }
}

/// The outcome of [`shrink`].
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest failing options found.
    pub options: Options,
    /// Its failing report.
    pub report: Report,
    /// Runs spent (including the first).
    pub runs: u32,
    /// Shrinking steps kept.
    pub steps: Vec<String>,
}

/// Shrinks a failing `seed` under `opts` using at most `max_runs` runs. Returns None if
/// the seed does not fail.
pub fn shrink(seed: u64, opts: &Options, max_runs: u32) -> Option<Shrunk> {
    let first = run(seed, opts);
    let checker = first.failure.as_ref()?.violation.checker;
    let mut best = Shrunk {
        options: opts.clone(),
        report: first,
        runs: 1,
        steps: Vec::new(),
    };
    'outer: loop {
        for (what, cand) in candidates(&best.options, &best.report) {
            if best.runs >= max_runs {
                break 'outer;
            }
            if cand == best.options {
                continue;
            }
            best.runs += 1;
            let r = run(seed, &cand);
            if r.failure
                .as_ref()
                .is_some_and(|f| f.violation.checker == checker)
            {
                best.options = cand;
                best.report = r;
                best.steps.push(what);
                continue 'outer;
            }
        }
        break;
    }
    Some(best)
}

/// A fault-rate field of [`Options`].
type RateField = fn(&mut Options) -> &mut f64;

/// Simpler option sets to try, most effective first.
fn candidates(o: &Options, r: &Report) -> Vec<(String, Options)> {
    let mut out = Vec::new();
    let mut push = |what: String, f: &dyn Fn(&mut Options)| {
        let mut c = o.clone();
        f(&mut c);
        out.push((what, c));
    };
    let fail_ms = r.failure.as_ref().map_or(u64::MAX, |f| f.at_ns / 1_000_000);
    if fail_ms < o.duration_ms {
        // Everything after the failure is irrelevant; the run is identical up to it.
        let d = fail_ms + 1;
        push(format!("duration {d} ms (failure at {fail_ms} ms)"), &|c| {
            c.duration_ms = d;
        });
    }
    if o.nodes > 3 {
        push(format!("nodes {}", o.nodes - 2), &|c| c.nodes -= 2);
    }
    if o.nodes == 3 {
        push("nodes 1".into(), &|c| c.nodes = 1);
    }
    if o.clients > 1 {
        push(format!("clients {}", o.clients / 2), &|c| c.clients /= 2);
        push(format!("clients {}", o.clients - 1), &|c| c.clients -= 1);
    }
    if o.duration_ms > 1_000 {
        push(format!("duration {} ms", o.duration_ms / 2), &|c| {
            c.duration_ms /= 2;
        });
    }
    if o.heal_ms > 2_000 {
        push(format!("heal {} ms", o.heal_ms / 2), &|c| c.heal_ms /= 2);
    }
    if o.ops_max > 21 {
        push(format!("ops per session < {}", o.ops_max / 2), &|c| {
            c.ops_max = (c.ops_max / 2).max(21);
        });
    }
    let rates: [(&str, RateField); 13] = [
        ("crash", |c| &mut c.crash_rate),
        ("crash-on-persist", |c| &mut c.crash_on_persist),
        ("link-break", |c| &mut c.link_break_rate),
        ("partition", |c| &mut c.partition_rate),
        ("client-drop", |c| &mut c.client_drop_rate),
        ("clock-jump", |c| &mut c.clock_jump_rate),
        ("unsynced-survive", |c| &mut c.unsynced_survive_prob),
        ("timer-jump", |c| &mut c.depth.timer_jump_rate),
        ("reconnect-dup", |c| &mut c.depth.reconnect_dup_prob),
        ("bridge", |c| &mut c.depth.bridge_rate),
        ("flap", |c| &mut c.depth.flap_rate),
        ("slow-node", |c| &mut c.depth.slow_node_rate),
        ("buggify", |c| &mut c.buggify.site_prob),
    ];
    for (name, field) in rates {
        let mut probe = o.clone();
        if *field(&mut probe) > 0.0 {
            push(format!("no {name}"), &|c| *field(c) = 0.0);
        }
    }
    if o.client_inflight_max > 1 {
        push("1 request in flight".into(), &|c| c.client_inflight_max = 1);
    }
    if o.mix.rare > 0.0 {
        push("no rare ops".into(), &|c| c.mix.rare = 0.0);
    }
    for i in 0..o.mix.weights.len() {
        let rest: u32 = o.mix.weights.iter().sum::<u32>() - o.mix.weights[i];
        if o.mix.weights[i] > 0 && rest > 0 {
            push(format!("mix weight {i} off"), &|c| c.mix.weights[i] = 0);
        }
    }
    out
}
