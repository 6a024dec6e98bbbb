//! Real-process ensembles for the runtime tests: `arbor serve --config` children on loopback
//! ports found free by binding port 0, a raw jute client built on core's codec, and
//! four-letter-word probes. Every wait is bounded.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arbor_core::proto::jute::{
    decode_connect_response, decode_reply, encode_connect_request, encode_request, next_frame,
    ConnectRequest, CreateRequest, PathRequest, PathWatchRequest, Reply, Request, ResponseBody,
    SetDataRequest, DEFAULT_MAX_FRAME_LEN,
};
use arbor_core::types::{Acl, OpCode, SessionId, Zxid};

/// Socket timeouts of the raw client and probes.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// tickTime of test ensembles (short, so elections and syncLimit are quick).
pub const TICK_MS: u64 = 200;

/// One `arbor serve` child.
pub struct Node {
    pub id: usize,
    pub client: SocketAddr,
    pub peer: SocketAddr,
    pub dir: PathBuf,
    pub child: Option<Child>,
}

/// An ensemble of `arbor serve` processes.
pub struct Cluster {
    pub nodes: Vec<Node>,
    _tmp: tempfile::TempDir,
}

/// `n` distinct free loopback ports (bound together, then released).
pub fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind port 0"))
        .collect();
    ls.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

impl Cluster {
    /// Writes zoo.cfg and myid for `n` nodes and starts them all.
    pub fn start(n: usize) -> Cluster {
        Cluster::start_with(n, "")
    }

    /// [`Cluster::start`] with `extra` zoo.cfg lines for every node.
    pub fn start_with(n: usize, extra: &str) -> Cluster {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ports = free_ports(3 * n);
        let mut servers = String::new();
        for i in 0..n {
            servers.push_str(&format!(
                "server.{}=127.0.0.1:{}:{}\n",
                i + 1,
                ports[n + i],
                ports[2 * n + i]
            ));
        }
        let mut nodes = Vec::new();
        for i in 0..n {
            let dir = tmp.path().join(format!("node{}", i + 1));
            let data = dir.join("data");
            std::fs::create_dir_all(&data).expect("mkdir");
            std::fs::write(data.join("myid"), format!("{}\n", i + 1)).expect("myid");
            let cfg = format!(
                "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
                 clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n\
                 minSessionTimeout=400\nmaxSessionTimeout=10000\n{extra}{servers}",
                data.display(),
                ports[i]
            );
            std::fs::write(dir.join("zoo.cfg"), cfg).expect("zoo.cfg");
            nodes.push(Node {
                id: i + 1,
                client: SocketAddr::from(([127, 0, 0, 1], ports[i])),
                peer: SocketAddr::from(([127, 0, 0, 1], ports[n + i])),
                dir,
                child: None,
            });
        }
        let mut c = Cluster { nodes, _tmp: tmp };
        for i in 0..n {
            c.start_node(i);
        }
        c
    }

    /// Starts node `i` (index) from its zoo.cfg; its log goes to `arbor.log` in its dir.
    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {} already running", node.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("arbor.log"))
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_arbor"))
            .arg("serve")
            .arg("--config")
            .arg(node.dir.join("zoo.cfg"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn arbor serve");
        node.child = Some(child);
    }

    /// Sends `sig` (e.g. STOP / CONT) to node `i`.
    pub fn signal(&self, i: usize, sig: rustix::process::Signal) {
        let child = self.nodes[i].child.as_ref().expect("running node");
        let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, sig).expect("signal");
    }

    /// The text of node `i`'s log.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].dir.join("arbor.log")).unwrap_or_default()
    }

    /// SIGKILL node `i` and reap it.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
        }
    }

    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].child.is_some())
            .collect()
    }

    /// Each live node's `srvr` Mode (`None`: not serving or unreachable).
    pub fn modes(&self) -> Vec<(usize, Option<String>)> {
        self.live()
            .into_iter()
            .map(|i| {
                let text = four_letter(self.nodes[i].client, "srvr").unwrap_or_default();
                let mode = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Mode: "))
                    .map(str::to_string);
                (i, mode)
            })
            .collect()
    }

    /// Waits until every live node serves: exactly one leader, the rest followers.
    /// Returns the leader's index.
    pub fn wait_for_leader(&self, within: Duration) -> usize {
        let start = Instant::now();
        loop {
            let modes = self.modes();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(i, _)| *i)
                .collect();
            let all_serving = modes
                .iter()
                .all(|(_, m)| matches!(m.as_deref(), Some("leader" | "follower")));
            if leaders.len() == 1 && all_serving {
                return leaders[0];
            }
            assert!(leaders.len() <= 1, "two leaders at once: {modes:?}");
            assert!(
                start.elapsed() < within,
                "no single serving leader within {within:?}: {modes:?}\n{}",
                self.logs_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every live node reports the same applied zxid and tree digest (`mntr`);
    /// returns them.
    pub fn wait_converged(&self, within: Duration) -> (u64, u64) {
        let start = Instant::now();
        loop {
            let seen: Vec<Option<(u64, u64)>> = self
                .live()
                .into_iter()
                .map(|i| mntr_zxid_digest(self.nodes[i].client))
                .collect();
            if let Some(Some(first)) = seen.first() {
                if seen.iter().all(|s| s.as_ref() == Some(first)) {
                    return *first;
                }
            }
            assert!(
                start.elapsed() < within,
                "replicas did not converge within {within:?}: {seen:?}\n{}",
                self.logs_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of every node's log (for failure messages).
    pub fn logs_tail(&self) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            let text = std::fs::read_to_string(n.dir.join("arbor.log")).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            s.push_str(&format!(
                "--- node {} log (warnings, then tail) ---\n",
                n.id
            ));
            let warns = lines
                .iter()
                .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "));
            let tail = &lines[lines.len().saturating_sub(15)..];
            for l in warns.take(20).chain(tail.iter()) {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill9(i);
        }
    }
}

/// Sends a four-letter word and reads the answer until close.
pub fn four_letter(addr: SocketAddr, word: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).ok()?;
    s.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// (`zk_arbor_last_zxid`, `zk_arbor_tree_digest`) from `mntr`, if the node serves.
pub fn mntr_zxid_digest(addr: SocketAddr) -> Option<(u64, u64)> {
    let text = four_letter(addr, "mntr")?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('\t')?.trim().parse().ok())
    };
    Some((get("zk_arbor_last_zxid")?, get("zk_arbor_tree_digest")?))
}

/// A raw ZooKeeper client (one request in flight). Every failure is an `Err`, so load
/// generators can reconnect elsewhere.
pub struct RawClient {
    s: TcpStream,
    buf: Vec<u8>,
    xid: i32,
}

/// Why a call did not produce a reply.
#[derive(Debug)]
pub struct Broken;

impl RawClient {
    /// A new session; `Err` if the server is down, not serving, or refused.
    pub fn connect(addr: SocketAddr, timeout_ms: i32) -> Result<RawClient, Broken> {
        let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|_| Broken)?;
        s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|_| Broken)?;
        s.set_write_timeout(Some(IO_TIMEOUT)).map_err(|_| Broken)?;
        s.set_nodelay(true).map_err(|_| Broken)?;
        let mut c = RawClient {
            s,
            buf: Vec::new(),
            xid: 0,
        };
        let mut out = Vec::new();
        encode_connect_request(
            &ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: Zxid(0),
                timeout_ms,
                session_id: SessionId(0),
                passwd: vec![0; 16],
                read_only: Some(false),
            },
            &mut out,
        );
        c.s.write_all(&out).map_err(|_| Broken)?;
        let p = c.frame()?;
        let resp = decode_connect_response(&p).map_err(|_| Broken)?;
        if resp.timeout_ms <= 0 {
            return Err(Broken);
        }
        Ok(c)
    }

    fn frame(&mut self) -> Result<Vec<u8>, Broken> {
        loop {
            if let Some(f) = next_frame(&self.buf, DEFAULT_MAX_FRAME_LEN).map_err(|_| Broken)? {
                let p = self.buf[f.payload.clone()].to_vec();
                self.buf.drain(..f.consumed);
                return Ok(p);
            }
            let mut chunk = [0u8; 16384];
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return Err(Broken),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends `req`, returns its reply (watch notifications are skipped).
    pub fn call(&mut self, req: Request) -> Result<Reply, Broken> {
        let op = req.op();
        self.xid += 1;
        let mut out = Vec::new();
        encode_request(self.xid, &req, &mut out);
        self.s.write_all(&out).map_err(|_| Broken)?;
        loop {
            let p = self.frame()?;
            let r = decode_reply(&p, op).map_err(|_| Broken)?;
            if r.header.xid == -1 {
                continue;
            }
            assert_eq!(r.header.xid, self.xid, "replies in request order");
            return Ok(r);
        }
    }

    /// Sends `req` without waiting; returns its xid (read the reply with `recv`).
    pub fn send(&mut self, req: &Request) -> Result<i32, Broken> {
        self.xid += 1;
        let mut out = Vec::new();
        encode_request(self.xid, req, &mut out);
        self.s.write_all(&out).map_err(|_| Broken)?;
        Ok(self.xid)
    }

    /// The next reply (not a notification) for a request of op `op`.
    pub fn recv(&mut self, op: OpCode) -> Result<Reply, Broken> {
        loop {
            let p = self.frame()?;
            let r = decode_reply(&p, op).map_err(|_| Broken)?;
            if r.header.xid != -1 {
                return Ok(r);
            }
        }
    }

    /// create; Ok(err code).
    pub fn create(&mut self, path: &str, data: &[u8]) -> Result<i32, Broken> {
        let r = self.call(Request::Create(CreateRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
        }))?;
        Ok(r.header.err)
    }

    /// setData (any version); Ok(err code).
    pub fn set(&mut self, path: &str, data: &[u8]) -> Result<i32, Broken> {
        let r = self.call(Request::SetData(SetDataRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            version: -1,
        }))?;
        Ok(r.header.err)
    }

    /// getData: `Some(data)` or `None` when the node does not exist.
    pub fn get(&mut self, path: &str) -> Result<Option<Vec<u8>>, Broken> {
        let r = self.call(Request::GetData(PathWatchRequest {
            path: path.to_string(),
            watch: false,
        }))?;
        Ok(match r.body {
            Some(ResponseBody::GetData(d)) => Some(d.data.unwrap_or_default()),
            _ => None,
        })
    }

    /// getChildren of `path`.
    pub fn children(&mut self, path: &str) -> Result<Vec<String>, Broken> {
        let r = self.call(Request::GetChildren(PathWatchRequest {
            path: path.to_string(),
            watch: false,
        }))?;
        match r.body {
            Some(ResponseBody::GetChildren(c)) => Ok(c.children),
            _ => Err(Broken),
        }
    }

    /// sync(path): this server has caught up with the leader as of the call.
    pub fn sync(&mut self, path: &str) -> Result<i32, Broken> {
        let r = self.call(Request::Sync(PathRequest {
            path: path.to_string(),
        }))?;
        Ok(r.header.err)
    }
}
