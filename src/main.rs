//! The `crosstie` binary: parses the command line and wires the library together.

use clap::Parser;
use crosstie::cli::{Cli, Command, PortalCommand, ReconcileSource, ReconcileTarget};
use crosstie::gitops::api::{GitRepository, Kustomization};
use crosstie::gitops::trigger;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crosstie::telemetry::init(&cli.log);
    match cli.command {
        Command::Crds => print!("{}", crosstie::crds::all_yaml()?),
        Command::Run(args) => {
            let client = kube::Client::try_default().await?;
            tokio::select! {
                result = crosstie::controllers::run(client, args.options()) => result?,
                _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
            }
        }
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
        Command::Reconcile(target) => {
            let client = kube::Client::try_default().await?;
            let message = match target {
                ReconcileTarget::Source(ReconcileSource::Git(a)) => {
                    trigger::reconcile::<GitRepository>(client, &a.namespace, &a.name, a.timeout)
                        .await?
                }
                ReconcileTarget::Kustomization(a) => {
                    trigger::reconcile::<Kustomization>(client, &a.namespace, &a.name, a.timeout)
                        .await?
                }
            };
            println!("✔ {message}");
        }
        Command::Portal(PortalCommand::ExportBackstage(args)) => {
            let options = crosstie::web::portal::backstage::ExportOptions {
                claims_path: args.claims_path,
                owner: args.owner,
            };
            let written =
                crosstie::web::portal::backstage::export(&args.xrds, &args.dir, &options)?;
            for path in written {
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}
