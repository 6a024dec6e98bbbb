//! The `arbor` command.
//!
//! Subcommands arrive with their issues: `sim` (simulator) is here; `serve` and `cluster`
//! (real runtime), `bench` (load generator) and `cli` come later.

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
    /// Run the deterministic simulator: one seed (full replay) or a sweep of seeds.
    Sim(sim::SimArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Sim(args) => {
            let ok = sim::main(args)?;
            if !ok {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}
