//! The `arbor` command.
//!
//! Subcommands arrive with their issues: `serve` and `cluster` (real runtime), `sim`
//! (simulator), `bench` (load generator), `cli`. Today it prints what it is.

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("--help") | Some("-h") | Some("help") => {
            #[allow(clippy::print_stdout)] // a CLI's help goes to stdout
            {
                println!("arbor {version}: a ZooKeeper-compatible coordination service");
                println!(
                    "subcommands (arriving with their issues): serve, cluster, sim, bench, cli"
                );
            }
        }
        Some("--version") | Some("-V") => {
            #[allow(clippy::print_stdout)]
            {
                println!("arbor {version}");
            }
        }
        Some(other) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("arbor: subcommand `{other}` is not available yet");
            }
            std::process::exit(2);
        }
    }
}
