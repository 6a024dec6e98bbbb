//! The physical floor of a replicated commit on this machine: the latency of appending a
//! small record and `fdatasync`ing it (`--fsync-probe`), and of a loopback TCP round trip
//! (`--rtt-probe`). A quorum write cannot be faster than about one fsync plus two network
//! hops (proposal out, ack back), so commit latency is best read as a multiple of
//! `fsync p50 + 2 × RTT`, with the fsync of a preallocated log (as both servers write).

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Serialize)]
struct ProbeResult {
    probe: &'static str,
    count: usize,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    /// fsync probe only: the same for appends that grow the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    append_p50_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    append_p99_us: Option<f64>,
    /// fsync probe with `--probe-parallel N > 1`: N writers at once, each syncing its own
    /// preallocated file; latencies of all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_p50_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_p99_us: Option<f64>,
}

/// Bytes preallocated for the overwrite half of the fsync probe (ZooKeeper preallocates its
/// log files 64 MiB at a time; Arbor's WAL segments are preallocated too).
const PREALLOC_BYTES: u64 = 64 << 20;
const RECORD_BYTES: usize = 128;

/// Measures `write 128 B + fdatasync`, `count` times, two ways, in temporary files in `dir`:
/// into a preallocated file (what a WAL with preallocated segments does: the reported
/// `p50_us` / `p99_us`) and appending to a growing file (`append_*`: each sync also commits
/// the new file size to the file system journal).
///
/// With `parallel` > 1, then `parallel` threads do the preallocated probe at once, each in
/// its own file (`parallel_*`): the servers of an ensemble on one machine share its disk,
/// and a quorum commit waits for the second of their concurrent syncs.
pub fn fsync(dir: &Path, count: usize, parallel: usize, json_only: bool) -> anyhow::Result<()> {
    let n = count.max(1);
    let pre = probe_file(dir, "pre", n, true)?;
    let app = probe_file(dir, "append", n, false)?;
    let mut r = result("fsync", &pre);
    r.append_p50_us = Some(us(app.value_at_quantile(0.5)));
    r.append_p99_us = Some(us(app.value_at_quantile(0.99)));
    if parallel > 1 {
        let all = std::thread::scope(|s| {
            let writers: Vec<_> = (0..parallel)
                .map(|i| s.spawn(move || probe_file(dir, &format!("par{i}"), n, true)))
                .collect();
            let mut all = histogram();
            for w in writers {
                let h = w
                    .join()
                    .map_err(|_| anyhow::anyhow!("probe thread panicked"))??;
                all.add(&h).context("merging histograms")?;
            }
            anyhow::Ok(all)
        })?;
        r.parallel = Some(parallel);
        r.parallel_p50_us = Some(us(all.value_at_quantile(0.5)));
        r.parallel_p99_us = Some(us(all.value_at_quantile(0.99)));
    }
    print(&r, json_only)
}

fn probe_file(
    dir: &Path,
    tag: &str,
    count: usize,
    preallocate: bool,
) -> anyhow::Result<Histogram<u64>> {
    let path = dir.join(format!(".arbor-fsync-probe-{tag}-{}", std::process::id()));
    let result = (|| -> anyhow::Result<Histogram<u64>> {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        if preallocate {
            // Real zeros (not a sparse hole), synced, so later syncs change no metadata
            // but the modification time.
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..(PREALLOC_BYTES >> 20) {
                f.write_all(&zeros)?;
            }
            f.sync_all()?;
            f.seek(SeekFrom::Start(0))?;
        }
        let record = [0x5au8; RECORD_BYTES];
        let mut h = histogram();
        for i in 0..count {
            if preallocate && (i + 1) * RECORD_BYTES > PREALLOC_BYTES as usize {
                f.seek(SeekFrom::Start(0))?;
            }
            let t = Instant::now();
            f.write_all(&record)?;
            f.sync_data()?;
            h.saturating_record(t.elapsed().as_nanos().max(1) as u64);
        }
        Ok(h)
    })();
    let _ = std::fs::remove_file(&path);
    result.context("write + fdatasync")
}

/// Sends 64 bytes to an echo thread over loopback TCP and reads them back, `count` times.
pub fn rtt(count: usize, json_only: bool) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let n = count.max(1);
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = [0u8; 64];
        for _ in 0..n {
            s.read_exact(&mut buf)?;
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut buf = [7u8; 64];
    let mut h = histogram();
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(&buf)?;
        s.read_exact(&mut buf)?;
        h.saturating_record(t.elapsed().as_nanos().max(1) as u64);
    }
    echo.join()
        .map_err(|_| anyhow::anyhow!("echo thread panicked"))?
        .context("echo thread")?;
    print(&result("rtt", &h), json_only)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("constant bounds are valid")
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn result(probe: &'static str, h: &Histogram<u64>) -> ProbeResult {
    ProbeResult {
        probe,
        count: h.len() as usize,
        p50_us: us(h.value_at_quantile(0.5)),
        p99_us: us(h.value_at_quantile(0.99)),
        max_us: us(h.max()),
        append_p50_us: None,
        append_p99_us: None,
        parallel: None,
        parallel_p50_us: None,
        parallel_p99_us: None,
    }
}

fn print(r: &ProbeResult, json_only: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if !json_only {
        writeln!(
            out,
            "{}: {} samples, p50 {:.1} us, p99 {:.1} us, max {:.1} us",
            r.probe, r.count, r.p50_us, r.p99_us, r.max_us
        )?;
        if let (Some(p50), Some(p99)) = (r.append_p50_us, r.append_p99_us) {
            writeln!(
                out,
                "  appending to a growing file: p50 {p50:.1} us, p99 {p99:.1} us"
            )?;
        }
        if let (Some(n), Some(p50), Some(p99)) = (r.parallel, r.parallel_p50_us, r.parallel_p99_us)
        {
            writeln!(
                out,
                "  {n} writers at once, each its own preallocated file: p50 {p50:.1} us, p99 {p99:.1} us"
            )?;
        }
    }
    writeln!(out, "{}", serde_json::to_string(r)?)?;
    Ok(())
}
