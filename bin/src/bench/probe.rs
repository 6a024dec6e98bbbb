//! The physical floor of a replicated commit on this machine: the latency of appending a
//! small record and `fdatasync`ing it (`--fsync-probe`), and of a loopback TCP round trip
//! (`--rtt-probe`). A quorum write cannot be faster than about one fsync plus two network
//! hops (proposal out, ack back), so commit latency is best read as a multiple of
//! `fsync p50 + 2 × RTT`.

use std::fs::OpenOptions;
use std::io::{Read, Write};
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
}

/// Appends 128 bytes and `fdatasync`s, `count` times, in a temporary file in `dir`.
pub fn fsync(dir: &Path, count: usize, json_only: bool) -> anyhow::Result<()> {
    let path = dir.join(format!(".arbor-fsync-probe-{}", std::process::id()));
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let record = [0x5au8; 128];
    let mut h = histogram();
    let result = (|| -> anyhow::Result<()> {
        for _ in 0..count.max(1) {
            let t = Instant::now();
            f.write_all(&record)?;
            f.sync_data()?;
            h.saturating_record(t.elapsed().as_nanos().max(1) as u64);
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&path);
    result.context("append + fdatasync")?;
    print("fsync", &h, json_only)
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
    print("rtt", &h, json_only)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("constant bounds are valid")
}

fn print(probe: &'static str, h: &Histogram<u64>, json_only: bool) -> anyhow::Result<()> {
    let us = |ns: u64| ns as f64 / 1000.0;
    let r = ProbeResult {
        probe,
        count: h.len() as usize,
        p50_us: us(h.value_at_quantile(0.5)),
        p99_us: us(h.value_at_quantile(0.99)),
        max_us: us(h.max()),
    };
    let mut out = std::io::stdout().lock();
    if !json_only {
        writeln!(
            out,
            "{probe}: {} samples, p50 {:.1} us, p99 {:.1} us, max {:.1} us",
            r.count, r.p50_us, r.p99_us, r.max_us
        )?;
    }
    writeln!(out, "{}", serde_json::to_string(&r)?)?;
    Ok(())
}
