//! The few runtime types whose tokio API madsim's simulated tokio (madsim-tokio 0.2.30 on
//! madsim 0.2.34) lacks, chosen by `cfg(madsim)`.
//!
//! Role: let the runtime code say one thing under both builds. In a normal build every item
//! here is tokio's own, unchanged. Under `--cfg madsim`:
//! - madsim's `TcpStream` has no `into_split`, so a stream is split with the generic
//!   [`tokio::io::split`] (a lock shared by the two halves, taken per poll, never held across
//!   a pending read);
//! - madsim has no `JoinSet`, so [`JoinSet`] is a small set of join handles with the part of
//!   tokio's API the peer transport uses (`spawn`, `join_next`, `len`, `is_empty`,
//!   `shutdown`; dropping the set aborts its tasks, as tokio's does).
//!
//! Invariant: nothing here changes behaviour of the normal build (plain re-exports).
//!
//! Not substituted, and worth knowing: `tokio::select!` is real tokio's macro under madsim
//! too. It picks its first branch from a per-thread RNG whose seed mixes in a process-global
//! counter, so a simulation replays exactly in a fresh process (as `MADSIM_TEST_SEED` does)
//! but a second simulation in the same process may schedule differently
//! (`net/tests/madsim_cluster.rs` runs each simulation in its own process for that reason).

#[cfg(not(madsim))]
pub(crate) use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
#[cfg(not(madsim))]
pub(crate) use tokio::task::JoinSet;

/// The read half of a split client or peer connection.
#[cfg(madsim)]
pub(crate) type OwnedReadHalf = tokio::io::ReadHalf<tokio::net::TcpStream>;
/// The write half of a split client or peer connection.
#[cfg(madsim)]
pub(crate) type OwnedWriteHalf = tokio::io::WriteHalf<tokio::net::TcpStream>;

/// Splits a connection into halves that can be used from two tasks.
#[cfg(not(madsim))]
pub(crate) fn split(stream: tokio::net::TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    stream.into_split()
}

/// Splits a connection into halves that can be used from two tasks.
#[cfg(madsim)]
pub(crate) fn split(stream: tokio::net::TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    tokio::io::split(stream)
}

#[cfg(madsim)]
pub(crate) use sim::JoinSet;

#[cfg(madsim)]
mod sim {
    use std::future::{poll_fn, Future};
    use std::pin::Pin;
    use std::task::Poll;

    use tokio::task::{JoinError, JoinHandle};

    /// A set of spawned tasks (the subset of `tokio::task::JoinSet` the runtime uses).
    #[derive(Debug)]
    pub(crate) struct JoinSet<T> {
        tasks: Vec<JoinHandle<T>>,
    }

    impl<T: Send + 'static> JoinSet<T> {
        pub(crate) fn new() -> JoinSet<T> {
            JoinSet { tasks: Vec::new() }
        }

        pub(crate) fn spawn<F>(&mut self, task: F)
        where
            F: Future<Output = T> + Send + 'static,
        {
            self.tasks.push(tokio::spawn(task));
        }

        pub(crate) fn len(&self) -> usize {
            self.tasks.len()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.tasks.is_empty()
        }

        /// The output of the first task found finished (in spawn order), or `None` when the
        /// set is empty.
        pub(crate) async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
            if self.tasks.is_empty() {
                return None;
            }
            poll_fn(|cx| {
                for i in 0..self.tasks.len() {
                    if let Poll::Ready(r) = Pin::new(&mut self.tasks[i]).poll(cx) {
                        self.tasks.remove(i);
                        return Poll::Ready(Some(r));
                    }
                }
                Poll::Pending
            })
            .await
        }

        /// Aborts every task and waits until they ended.
        pub(crate) async fn shutdown(&mut self) {
            for t in &self.tasks {
                t.abort();
            }
            for t in self.tasks.drain(..) {
                // Cancelled (or finished first): the result carries nothing.
                let _ = t.await;
            }
        }
    }

    impl<T> Drop for JoinSet<T> {
        fn drop(&mut self) {
            for t in &self.tasks {
                t.abort();
            }
        }
    }
}
