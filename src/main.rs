//! The `crosstie` binary: parses the command line and wires the library together.

use clap::Parser;
use crosstie::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crosstie::telemetry::init(&cli.log);
    match cli.command {
        Command::Crds => print!("{}", crosstie::crds::all_yaml()?),
    }
    Ok(())
}
