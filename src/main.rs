//! The `crosstie` binary: parses the command line and wires the library together.

use clap::Parser;
use crosstie::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crosstie::telemetry::init(&cli.log);
    match cli.command {
        Command::Crds => print!("{}", crosstie::crds::all_yaml()?),
        Command::Render { xr, composition, observed } => {
            let out = crosstie::composition::command::render_files(
                &xr,
                &composition,
                observed.as_deref(),
            )?;
            print!("{}", out.yaml);
            if !out.errors.is_empty() {
                for e in &out.errors {
                    eprintln!("error: {e}");
                }
                std::process::exit(1);
            }
        }
        Command::Trace { target, namespace } => {
            let client = kube::Client::try_default().await?;
            print!(
                "{}",
                crosstie::composition::command::trace(client, &target, namespace.as_deref())
                    .await?
            );
        }
    }
    Ok(())
}
