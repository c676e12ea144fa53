//! The `crosstie` binary: parses the command line and wires the library together.

use clap::Parser;
use crosstie::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crosstie::telemetry::init(&cli.log);
    match cli.command {
        Command::Crds => print!("{}", crosstie::crds::all_yaml()?),
        Command::Serve(args) => {
            let server = crosstie::apiserver::start(args.into()).await?;
            tokio::select! {
                _ = server.wait() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
    }
    Ok(())
}
