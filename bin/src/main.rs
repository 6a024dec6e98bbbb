//! The `arbor` command.
//!
//! Subcommands: `serve` (a server over TCP and disk, standalone or an ensemble member),
//! `cluster` (a local ensemble of `serve` processes), `sim` (the deterministic simulator)
//! and `bench` (a load generator for any ZooKeeper-wire server). `cli` arrives with its
//! issue.

mod alloc;
mod bench;
mod cluster;
mod serve;
#[cfg(feature = "sim")]
mod sim;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator (see bin/Cargo.toml for why, and `alloc` for how).
#[global_allocator]
static GLOBAL: alloc::Mimalloc = alloc::Mimalloc;

/// arbor: a ZooKeeper-compatible coordination service.
#[derive(Parser, Debug)]
#[command(name = "arbor", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve clients: the embedded default (127.0.0.1:2181, ./arbor-data) or a zoo.cfg.
    Serve(serve::ServeArgs),
    /// Run a local ensemble: N `arbor serve` processes on loopback; prints the connect string.
    Cluster(cluster::ClusterArgs),
    /// Run the deterministic simulator: one seed (full replay), a sweep of seeds, a
    /// shrink or a replay.
    #[cfg(feature = "sim")]
    Sim(Box<sim::SimArgs>),
    /// Load-test a ZooKeeper-wire server (Arbor or Apache ZooKeeper): throughput, latency
    /// percentiles, errors; or load N znodes; or probe fsync / loopback RTT.
    Bench(bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::main(args)?,
        Command::Cluster(args) => {
            serve::init_logging();
            cluster::main(args)?
        }
        Command::Bench(args) => bench::main(args)?,
        #[cfg(feature = "sim")]
        Command::Sim(args) => {
            alloc::keep_freed_memory();
            let ok = sim::main(*args)?;
            if !ok {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}
