//! `arbor serve`: a ZooKeeper-compatible server over real TCP and real files.
//!
//! With no arguments it starts the embedded default: a standalone server on
//! 127.0.0.1:2181 with its data in `./arbor-data`. With `--config FILE` it reads a
//! ZooKeeper `zoo.cfg` (and `myid` in its dataDir), so an existing configuration works;
//! `server.N` lines make it an ensemble member.

use std::path::PathBuf;

use anyhow::Context;
use arbor_net::server::{run, ServeOptions};

/// Options of `arbor serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A ZooKeeper zoo.cfg file. Without it: standalone on 127.0.0.1:2181, data in ./arbor-data.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs the server until SIGTERM / SIGINT; an error says why it could not start or stopped.
pub fn main(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let opts = match &args.config {
        Some(path) => ServeOptions::from_config_file(path)
            .with_context(|| format!("reading configuration {}", path.display()))?,
        None => ServeOptions::embedded_default(),
    };
    run(opts).context("arbor serve stopped")
}

/// `tracing` to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}
