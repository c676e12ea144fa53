//! The `crosstie` binary: parses the command line and wires the library together.

use clap::Parser;
use crosstie::cli::{Cli, Command, PortalCommand, ReconcileSource, ReconcileTarget, RunArgs};
use crosstie::controllers::Controllers;
use crosstie::endpoints;
use crosstie::gitops::api::{GitRepository, Kustomization};
use crosstie::gitops::trigger;

// glibc malloc spent over a quarter of the server's CPU under load (fragmentation and
// consolidation across the many threads that parse and drop JSON); mimalloc avoids most of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    runtime(&cli.command)?.block_on(run(cli))
}

/// The embedded API server commits every write on a thread of its own, busy whenever writes
/// are: async workers on every core besides would make it time-share a core with one of them
/// (and with the cloud API or whatever else runs on the machine). So the commands that serve
/// leave it a core: on 2 cores, 2,000 claims were Ready sooner with one worker than with two,
/// on less CPU (docs/benchmarks.md). `TOKIO_WORKER_THREADS` still overrides.
fn runtime(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    let serves = matches!(command, Command::Serve(_) | Command::Up { .. });
    if serves && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        builder.worker_threads(cores.saturating_sub(1).max(1));
    }
    builder.build()
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    crosstie::telemetry::init(&cli.log);
    disable_transparent_huge_pages();
    match cli.command {
        Command::Crds => print!("{}", crosstie::crds::all_yaml()?),
        Command::Run(args) => {
            let client = kube::Client::try_default().await?;
            let controllers = Controllers::new(client.clone(), args.options());
            controllers.install_crds().await?;
            run_controllers(client, controllers, &args).await?;
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
        Command::Serve(args) => {
            let server = crosstie::apiserver::start(args.into()).await?;
            tokio::select! {
                _ = server.wait() => {}
                () = shutdown_signal() => {}
            }
        }
        Command::Up { mut serve, run } => {
            // The kubeconfig is written only once the CRDs are established, so whoever waits for
            // it (a user, the demo, a test) can apply Crosstie's kinds at once.
            let kubeconfig = serve.kubeconfig_out.take();
            let server = crosstie::apiserver::start(serve.into()).await?;
            let controllers = Controllers::new(server.client()?, run.options())
                .with_git_client(server.client_with_managed_fields()?);
            controllers.install_crds().await?;
            eprintln!("crosstie is serving the Kubernetes API on https://{}", server.addr);
            if let Some(path) = kubeconfig {
                server.write_kubeconfig(&path)?;
                eprintln!("  kubectl: export KUBECONFIG={}", path.display());
            }
            run_controllers(server.client()?, controllers, &run).await?;
            server.shutdown().await;
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

/// mimalloc asks for transparent huge pages, and the kernel then zeroes a whole 2 MiB page on the
/// first touch of any byte in it: 3-4 % of the CPU under load, for a heap used sparsely. With
/// 4 KiB pages the same work costs less and the resident set is smaller.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(err) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %err, "cannot disable transparent huge pages");
    }
}

/// Run every controller and the HTTP endpoints until one fails or Ctrl-C.
async fn run_controllers(
    client: kube::Client,
    controllers: Controllers,
    args: &RunArgs,
) -> anyhow::Result<()> {
    // A token the user chose is never echoed; a generated one is the only way to log in.
    let token = match &args.web_token {
        Some(token) => {
            eprintln!("dashboard: http://{} (login with the --web-token value)", args.web_listen);
            token.clone()
        }
        None => {
            let token = crosstie::web::auth::generate_token();
            eprintln!("dashboard: http://{} (login token: {token})", args.web_listen);
            token
        }
    };
    let endpoints =
        endpoints::serve(args.web_listen, client, controllers.metrics(), args.web_config(token));
    tokio::select! {
        () = controllers.run() => {}
        result = endpoints => result?,
        () = shutdown_signal() => tracing::info!("stopping"),
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (what service managers and `kill` send).
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
