//! `arbor bench` end to end: a real `arbor serve` process on loopback and real files, the
//! `arbor bench` binary against it. Checks the JSON summary line (counts of a fixed-size
//! run, no errors, per-op entries), the load mode, and that a server killed mid-run turns
//! into counted connection errors and a bench that still ends. Every wait is bounded.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ARBOR: &str = env!("CARGO_BIN_EXE_arbor");

struct Server {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn start_server(tag: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("arbor-bench-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    let port = free_port();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n",
            dir.join("data").display()
        ),
    )
    .expect("write zoo.cfg");
    let child = Command::new(ARBOR)
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn arbor serve");
    let server = Server {
        child,
        addr: format!("127.0.0.1:{port}"),
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&server.addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "arbor serve did not listen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Runs `arbor bench ARGS`, bounded to 60 s; returns its output.
fn bench(args: &[&str]) -> Output {
    let mut child = Command::new(ARBOR)
        .arg("bench")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn arbor bench");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("arbor bench {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn summary(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "arbor bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8");
    let last = stdout.lines().last().expect("a JSON line");
    serde_json::from_str(last).expect("the last line is JSON")
}

#[test]
fn a_fixed_size_run_reports_every_request_and_no_errors() {
    let s = start_server("fixed");
    let out = bench(&[
        "--connect",
        &s.addr,
        "--op",
        "mixed",
        "--read-ratio",
        "0.5",
        "--sessions",
        "4",
        "--inflight",
        "4",
        "--ops",
        "400",
        "--warmup",
        "0",
        "--keys",
        "50",
    ]);
    let j = summary(&out);
    assert_eq!(j["ops"], 400, "{j}");
    assert_eq!(j["errors"], 0, "{j}");
    assert_eq!(j["client_errors"], serde_json::json!({}), "{j}");
    let per_op = j["per_op"].as_object().expect("per_op");
    assert!(
        per_op.contains_key("get") && per_op.contains_key("set"),
        "{j}"
    );
    let get_ops = j["per_op"]["get"]["ops"].as_u64().expect("count");
    let set_ops = j["per_op"]["set"]["ops"].as_u64().expect("count");
    assert_eq!(get_ops + set_ops, 400);
    assert!(j["p50_us"].as_f64().expect("p50") > 0.0);
    assert!(j["max_us"].as_f64() >= j["p99_us"].as_f64());
    // The human table precedes the JSON line.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("p99.9 us"), "{stdout}");
}

#[test]
fn load_mode_creates_exactly_n_znodes_and_a_second_load_sees_them_exist() {
    let s = start_server("load");
    let args = [
        "--connect",
        &s.addr,
        "--load-znodes",
        "300",
        "--value-size",
        "32",
        "--sessions",
        "2",
        "--inflight",
        "16",
        "--prefix",
        "/load/deep",
        "--json",
    ];
    let j = summary(&bench(&args));
    assert_eq!(j["mode"], "load");
    assert_eq!(j["ops"], 300, "{j}");
    assert_eq!(j["errors"], 0, "{j}");
    // The same names again: every create now fails with NodeExists, and is counted so.
    let again = summary(&bench(&args));
    assert_eq!(again["ops"], 0, "{again}");
    assert_eq!(
        again["per_op"]["create"]["errors"]["NodeExists"], 300,
        "{again}"
    );
}

#[test]
fn a_server_killed_mid_run_becomes_counted_errors_and_the_bench_ends() {
    let mut s = start_server("kill");
    // Key space first, so the killed run's own set-up is one request and the kill lands in
    // the measured phase (a failed set-up is a fatal error, by design).
    let setup = bench(&[
        "--connect",
        &s.addr,
        "--op",
        "set",
        "--ops",
        "1",
        "--warmup",
        "0",
        "--keys",
        "10",
    ]);
    summary(&setup);
    let mut child = Command::new(ARBOR)
        .args([
            "bench",
            "--connect",
            &s.addr,
            "--op",
            "set",
            "--sessions",
            "2",
            "--inflight",
            "4",
            "--warmup",
            "0",
            "--duration",
            "4",
            "--timeout",
            "1",
            "--keys",
            "10",
            "--no-setup",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn arbor bench");
    std::thread::sleep(Duration::from_millis(1000));
    s.child.kill().expect("kill the server");
    let _ = s.child.wait();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("arbor bench hung after the server died");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let j = summary(&child.wait_with_output().expect("output"));
    let lost: u64 = j["client_errors"]
        .as_object()
        .expect("client_errors")
        .values()
        .map(|v| v.as_u64().expect("count"))
        .sum();
    assert!(lost > 0, "connection failures are counted: {j}");
    assert!(
        j["ops"].as_u64().expect("ops") > 0,
        "requests before the kill: {j}"
    );
}
