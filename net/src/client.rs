//! A small pipelined ZooKeeper wire client on tokio and core's jute codec, for `arbor bench`
//! (and any tool that must talk to Arbor *or* Apache ZooKeeper at a plain address).
//!
//! Role: one TCP connection, one session. Inputs: typed [`Request`]s queued by the caller
//! and server frames. Outputs: request frames on the socket and [`ClientReply`]s in the
//! order the requests were sent (ZooKeeper answers a session's requests in order, so the
//! oldest outstanding request tells which body shape to decode, as ZooKeeper's own client
//! does with its pending-packet queue).
//!
//! Invariants and decisions:
//! - Every wait is bounded: connect, handshake and each reply wait use
//!   [`ClientOptions::io_timeout`]; a silent server becomes [`ClientError::Timeout`], never
//!   a hang.
//! - A reply whose xid is not the oldest outstanding one is a protocol error (the session
//!   is unusable, the caller reconnects); pings and watch notifications are skipped.
//! - Frames longer than the jute limit are refused ([`ClientError::Frame`]) before any
//!   allocation of their size.
//! - The client sends a ping when it has been idle for a third of the negotiated session
//!   timeout and is waiting for a reply, so a long wait cannot expire the session.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arbor_core::proto::jute::{
    decode_connect_response, decode_reply, encode_connect_request, encode_request, next_frame, xid,
    ConnectRequest, ConnectResponse, FrameError, ReplyError, ReplyHeader, Request, ResponseBody,
    DEFAULT_MAX_FRAME_LEN,
};
use arbor_core::types::{OpCode, SessionId, Zxid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a [`Client`] connects.
#[derive(Clone, Copy, Debug)]
pub struct ClientOptions {
    /// Session timeout requested in the handshake.
    pub session_timeout: Duration,
    /// Bound on connect, handshake and every wait for a reply.
    pub io_timeout: Duration,
    /// Largest frame accepted from the server (jute.maxbuffer).
    pub max_frame_len: u32,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            session_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(10),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }
}

/// Why a client connection failed. After any of these the connection is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server closed the connection.
    #[error("server closed the connection ({pending} requests outstanding)")]
    Closed {
        /// Requests that got no reply.
        pending: usize,
    },
    /// A socket operation failed.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    /// A bad frame length from the server.
    #[error("bad frame from server: {0}")]
    Frame(#[from] FrameError),
    /// A reply frame that does not decode.
    #[error("bad reply from server: {0}")]
    Reply(#[from] ReplyError),
    /// The handshake answer does not decode.
    #[error("bad connect response: {0}")]
    Handshake(arbor_core::proto::jute::DecodeError),
    /// The server refused the session (`timeOut = 0` in the ConnectResponse).
    #[error("server refused the session")]
    SessionRefused,
    /// A reply arrived for a request that is not the oldest outstanding one.
    #[error("reply xid {got} but the oldest outstanding request is xid {want:?}")]
    OutOfOrder {
        /// The xid received.
        got: i32,
        /// The oldest outstanding xid, if any.
        want: Option<i32>,
    },
    /// No reply within the io timeout.
    #[error("no answer from the server within {0:?}")]
    Timeout(Duration),
}

/// One answered request.
#[derive(Clone, Debug)]
pub struct ClientReply {
    /// The request's xid.
    pub xid: i32,
    /// The request's op.
    pub op: OpCode,
    /// When the request frame was handed to the socket.
    pub sent_at: Instant,
    /// The reply header (`err` is 0 or a ZooKeeper error code).
    pub header: ReplyHeader,
    /// The reply body (only when `header.err == 0` and the op has one).
    pub body: Option<ResponseBody>,
}

/// One session over one TCP connection, with any number of requests in flight.
pub struct Client {
    stream: TcpStream,
    opts: ClientOptions,
    session: ConnectResponse,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    pending: VecDeque<(i32, OpCode, Instant)>,
    next_xid: i32,
    last_zxid: Zxid,
    last_send: Instant,
    /// How many of the newest `pending` entries are still in `wbuf`.
    unflushed: usize,
}

impl Client {
    /// Connects to `addr` and creates a new session.
    pub async fn connect(addr: SocketAddr, opts: ClientOptions) -> Result<Client, ClientError> {
        let stream = tokio::time::timeout(opts.io_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout(opts.io_timeout))??;
        stream.set_nodelay(true)?;
        let mut c = Client {
            stream,
            opts,
            session: ConnectResponse::default(),
            rbuf: Vec::with_capacity(64 * 1024),
            wbuf: Vec::with_capacity(64 * 1024),
            pending: VecDeque::new(),
            next_xid: 1,
            last_zxid: Zxid::ZERO,
            last_send: Instant::now(),
            unflushed: 0,
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid::ZERO,
            timeout_ms: i32::try_from(opts.session_timeout.as_millis()).unwrap_or(i32::MAX),
            session_id: SessionId(0),
            passwd: vec![0; 16],
            read_only: Some(false),
        };
        encode_connect_request(&req, &mut c.wbuf);
        c.flush().await?;
        let payload = c.read_frame().await?;
        let resp = decode_connect_response(&payload).map_err(ClientError::Handshake)?;
        if resp.timeout_ms <= 0 {
            return Err(ClientError::SessionRefused);
        }
        c.session = resp;
        Ok(c)
    }

    /// The session id the server assigned.
    pub fn session_id(&self) -> SessionId {
        self.session.session_id
    }

    /// The negotiated session timeout.
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.session.timeout_ms).unwrap_or(0))
    }

    /// Requests sent (or queued) and not yet answered.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The highest zxid seen in a reply header.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Encodes `req` into the send buffer and returns its xid; [`Client::flush`] sends it.
    /// The latency clock of the request starts at the flush that sends it.
    pub fn queue(&mut self, req: &Request) -> i32 {
        let xid = self.next_xid;
        // xids stay positive: wrap to 1 (special xids are negative).
        self.next_xid = if xid == i32::MAX { 1 } else { xid + 1 };
        encode_request(xid, req, &mut self.wbuf);
        self.pending.push_back((xid, req.op(), Instant::now()));
        self.unflushed += 1;
        xid
    }

    /// Writes everything queued; stamps the send time of the requests it carries.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        for p in self.pending.iter_mut().rev().take(self.unflushed) {
            p.2 = now;
        }
        self.unflushed = 0;
        let t = self.opts.io_timeout;
        // The flush is a no-op on a tokio socket; madsim's simulated TCP sends on flush.
        tokio::time::timeout(t, async {
            self.stream.write_all(&self.wbuf).await?;
            self.stream.flush().await
        })
        .await
        .map_err(|_| ClientError::Timeout(t))??;
        self.wbuf.clear();
        self.last_send = now;
        Ok(())
    }

    /// Waits for the reply to the oldest outstanding request (skipping pings and watch
    /// notifications). Flushes first.
    pub async fn next_reply(&mut self) -> Result<ClientReply, ClientError> {
        self.flush().await?;
        loop {
            let payload = self.read_frame_pinging().await?;
            let Some(&(want_xid, op, sent_at)) = self.pending.front() else {
                // Nothing outstanding: only pings and notifications may arrive.
                let reply = decode_reply(&payload, OpCode::Ping)?;
                if reply.header.xid == xid::PING || reply.header.xid == xid::NOTIFICATION {
                    continue;
                }
                return Err(ClientError::OutOfOrder {
                    got: reply.header.xid,
                    want: None,
                });
            };
            let reply = decode_reply(&payload, op)?;
            let got = reply.header.xid;
            if got == xid::PING || got == xid::NOTIFICATION {
                continue;
            }
            if got != want_xid {
                return Err(ClientError::OutOfOrder {
                    got,
                    want: Some(want_xid),
                });
            }
            self.pending.pop_front();
            if reply.header.zxid > self.last_zxid {
                self.last_zxid = reply.header.zxid;
            }
            return Ok(ClientReply {
                xid: got,
                op,
                sent_at,
                header: reply.header,
                body: reply.body,
            });
        }
    }

    /// Closes the session (closeSession, waits for its answer) and the connection.
    pub async fn close(mut self) -> Result<(), ClientError> {
        while !self.pending.is_empty() {
            self.next_reply().await?;
        }
        self.queue(&Request::CloseSession);
        self.next_reply().await?;
        Ok(())
    }

    /// Reads one frame; while waiting, pings whenever a third of the session timeout passes
    /// without a send. Gives up after `io_timeout` of silence.
    async fn read_frame_pinging(&mut self) -> Result<Vec<u8>, ClientError> {
        let ping_every = (self.session_timeout() / 3).max(Duration::from_millis(100));
        let deadline = Instant::now() + self.opts.io_timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Timeout(self.opts.io_timeout));
            }
            let next_ping = self.last_send + ping_every;
            let wait = deadline.min(next_ping.max(now)) - now;
            match tokio::time::timeout(wait, self.fill_frame()).await {
                Ok(r) => return r,
                Err(_) if Instant::now() >= next_ping => {
                    let mut out = Vec::new();
                    encode_request(xid::PING, &Request::Ping, &mut out);
                    let t = self.opts.io_timeout;
                    tokio::time::timeout(t, async {
                        self.stream.write_all(&out).await?;
                        self.stream.flush().await
                    })
                    .await
                    .map_err(|_| ClientError::Timeout(t))??;
                    self.last_send = Instant::now();
                }
                Err(_) => {}
            }
        }
    }

    async fn read_frame(&mut self) -> Result<Vec<u8>, ClientError> {
        let t = self.opts.io_timeout;
        tokio::time::timeout(t, self.fill_frame())
            .await
            .map_err(|_| ClientError::Timeout(t))?
    }

    /// Reads until `rbuf` holds a whole frame and takes it out. Cancel-safe: bytes read are
    /// kept in `rbuf`.
    async fn fill_frame(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(f) = next_frame(&self.rbuf, self.opts.max_frame_len)? {
                let payload = self.rbuf[f.payload].to_vec();
                self.rbuf.drain(..f.consumed);
                return Ok(payload);
            }
            let n = self.stream.read_buf(&mut self.rbuf).await?;
            if n == 0 {
                return Err(ClientError::Closed {
                    pending: self.pending.len(),
                });
            }
        }
    }
}
