//! An in-memory ensemble for measuring the commit path's CPU cost: N `Replica`s wired by
//! queues on one thread, with no I/O at all.
//!
//! Inputs: client requests ([`MemCluster::request`]). Outputs: the replies, in order
//! ([`MemCluster::run`] returns them). Wiring, following the core contract:
//! - every `handle` is followed by draining `poll_output`;
//! - `Send` becomes the peer's `Input::Peer` (FIFO, one global queue, so per-link FIFO holds);
//! - `Persist` / `TruncateLog` / `InstallSnapshot` are "durable" at once: `Persisted` is
//!   queued for the same replica right behind the outputs already queued, in output order;
//! - time stands still after the election (no timer fires), so what is measured is the
//!   CPU work of proposal, ack, commit, apply and reply on all replicas together.
//!
//! Invariant: [`MemCluster::run`] delivers until every queue is empty; it asserts a bound on
//! the number of deliveries so a protocol livelock cannot hang a benchmark.

use std::collections::VecDeque;

use arbor_core::proto::jute::{
    ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, ResponseBody,
};
use arbor_core::replica::{Config, Input, Output, Replica};
use arbor_core::types::{ConnId, Nanos, ServerId, SessionId, WallMillis, Zxid};

/// A reply delivered to a client connection.
#[derive(Clone, Debug)]
pub struct MemReply {
    /// The replica that answered (index).
    pub replica: usize,
    /// The connection.
    pub conn: ConnId,
    /// Header.
    pub header: ReplyHeader,
    /// Body.
    pub body: Option<ResponseBody>,
}

/// N replicas wired in memory.
pub struct MemCluster {
    replicas: Vec<Replica>,
    queue: VecDeque<(usize, Input)>,
    replies: Vec<MemReply>,
    connects: Vec<(ConnId, ConnectResponse)>,
    now: Nanos,
    next_xid: i32,
}

const WALL: WallMillis = WallMillis(1_750_000_000_000);
/// Deliveries allowed per `run` call before it is declared a livelock.
const DELIVERIES_MAX: usize = 10_000_000;

impl MemCluster {
    /// Starts `n` replicas, connects every link and runs the election until all of them
    /// serve the same leader.
    pub fn elect(n: u64) -> MemCluster {
        let voters: Vec<ServerId> = (1..=n).map(ServerId).collect();
        let replicas = voters
            .iter()
            .map(|&id| Replica::new(Config::new(id, voters.clone())))
            .collect();
        let mut c = MemCluster {
            replicas,
            queue: VecDeque::new(),
            replies: Vec::new(),
            connects: Vec::new(),
            now: Nanos(1),
            next_xid: 1,
        };
        for i in 0..c.replicas.len() {
            // A new replica may already hold outputs (its first election notifications).
            while let Some(out) = c.replicas[i].poll_output() {
                c.perform(i, out);
            }
            for &peer in &voters {
                if peer != c.replicas[i].id() {
                    c.queue.push_back((i, Input::PeerConnected { peer }));
                }
            }
        }
        for _ in 0..100_000 {
            c.run();
            if c.leader().is_some() {
                return c;
            }
            // Advance to the earliest deadline and tick everyone due.
            let next = c
                .replicas
                .iter()
                .filter_map(Replica::next_deadline)
                .min()
                .expect("a replica without a leader has a timer armed");
            c.now = c.now.max(next);
            for i in 0..c.replicas.len() {
                if c.replicas[i].next_deadline().is_some_and(|d| d <= c.now) {
                    c.queue.push_back((i, Input::Tick));
                }
            }
        }
        panic!("no leader after 100000 timer rounds");
    }

    /// The index of the leader, once every replica serves it.
    pub fn leader(&self) -> Option<usize> {
        let first = self.replicas.first()?.serving_leader()?;
        if self
            .replicas
            .iter()
            .all(|r| r.serving_leader() == Some(first))
        {
            self.replicas.iter().position(|r| r.id() == first.0)
        } else {
            None
        }
    }

    /// Opens a session on replica `at` as connection `conn`; returns its id.
    pub fn connect(&mut self, at: usize, conn: ConnId) -> SessionId {
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid::ZERO,
            timeout_ms: 30_000,
            session_id: SessionId(0),
            passwd: vec![0; 16],
            read_only: Some(false),
        };
        self.queue
            .push_back((at, Input::ClientConnect { conn, request }));
        self.run();
        let (_, resp) = self
            .connects
            .iter()
            .rev()
            .find(|(c, _)| *c == conn)
            .expect("the replica answered the handshake");
        assert!(resp.timeout_ms > 0, "session refused");
        resp.session_id
    }

    /// Queues a client request on replica `at` (delivered by the next `run`).
    pub fn request(&mut self, at: usize, conn: ConnId, request: Request) {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        let header = RequestHeader {
            xid,
            op: request.op(),
        };
        self.queue.push_back((
            at,
            Input::ClientRequest {
                conn,
                header,
                request: Box::new(request),
            },
        ));
    }

    /// Delivers until nothing is queued; returns the client replies produced, in order.
    pub fn run(&mut self) -> Vec<MemReply> {
        let mut deliveries = 0;
        while let Some((i, input)) = self.queue.pop_front() {
            deliveries += 1;
            assert!(
                deliveries <= DELIVERIES_MAX,
                "livelock: {deliveries} deliveries"
            );
            self.replicas[i].handle(self.now, WALL, input);
            while let Some(out) = self.replicas[i].poll_output() {
                self.perform(i, out);
            }
        }
        std::mem::take(&mut self.replies)
    }

    /// The replicas (for assertions).
    pub fn replicas(&self) -> &[Replica] {
        &self.replicas
    }

    fn perform(&mut self, i: usize, out: Output) {
        let from = self.replicas[i].id();
        match out {
            Output::Send { to, msg } => {
                let to = usize::try_from(to.0 - 1).expect("server ids are 1..=n");
                self.queue.push_back((to, Input::Peer { from, msg }));
            }
            Output::Persist { token, .. }
            | Output::TruncateLog { token, .. }
            | Output::InstallSnapshot { token, .. } => {
                self.queue.push_back((i, Input::Persisted { token }));
            }
            Output::Reply { conn, header, body } => self.replies.push(MemReply {
                replica: i,
                conn,
                header,
                body: body.map(|b| *b),
            }),
            Output::ConnectResponse { conn, response } => self.connects.push((conn, response)),
            Output::CloseClient { conn, reason } => {
                panic!("connection {conn:?} closed by replica {i}: {reason:?}")
            }
            // The benches feed requests explicitly, a batch at a time; pausing is for sockets.
            Output::Notify { .. }
            | Output::PauseReads { .. }
            | Output::ResumeReads { .. }
            | Output::Snapshot { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_core::proto::jute::{CreateRequest, PathWatchRequest, SetDataRequest};
    use arbor_core::types::Acl;

    #[test]
    fn three_replicas_commit_a_write_everywhere_and_answer_reads() {
        let mut c = MemCluster::elect(3);
        let leader = c.leader().expect("elected");
        let follower = (leader + 1) % 3;
        c.connect(follower, ConnId(7));
        c.request(
            follower,
            ConnId(7),
            Request::Create(CreateRequest {
                path: "/a".into(),
                data: Some(b"v1".to_vec()),
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
        );
        c.request(
            follower,
            ConnId(7),
            Request::SetData(SetDataRequest {
                path: "/a".into(),
                data: Some(b"v2".to_vec()),
                version: -1,
            }),
        );
        c.request(
            follower,
            ConnId(7),
            Request::GetData(PathWatchRequest {
                path: "/a".into(),
                watch: false,
            }),
        );
        let replies = c.run();
        assert_eq!(replies.len(), 3);
        assert!(replies
            .iter()
            .all(|r| r.header.err == 0 && r.replica == follower));
        match &replies[2].body {
            Some(ResponseBody::GetData(d)) => assert_eq!(d.data.as_deref(), Some(&b"v2"[..])),
            other => panic!("unexpected body {other:?}"),
        }
        // Every replica applied the same zxids.
        let z = c.replicas()[leader].applied_zxid();
        assert!(c.replicas().iter().all(|r| r.applied_zxid() == z));
    }
}
