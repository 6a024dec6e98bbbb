//! The `arbor` command.
//!
//! Subcommands: `serve` (a standalone server over TCP and disk) and `sim` (the
//! deterministic simulator). `cluster`, `bench` and `cli` arrive with their issues.

mod serve;
mod sim;

use clap::{Parser, Subcommand};

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
    /// Run the deterministic simulator: one seed (full replay), a sweep of seeds, a
    /// shrink or a replay.
    Sim(Box<sim::SimArgs>),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::main(args)?,
        Command::Sim(args) => {
            let ok = sim::main(*args)?;
            if !ok {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}
