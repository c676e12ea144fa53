//! Command-line interface definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Crosstie: cloud infrastructure the Crossplane way, Git sync the Flux way, in one binary.
#[derive(Debug, Parser)]
#[command(name = "crosstie", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `crosstie=debug`.
    #[arg(long, global = true, env = "CROSSTIE_LOG", default_value = "info")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every CustomResourceDefinition Crosstie serves, as multi-document YAML.
    Crds,
    /// Run the embedded Kubernetes-API-compatible server (SQLite-backed, HTTPS, bearer token).
    Serve(ServeArgs),
    /// Run the embedded API server and every controller in one process: Crosstie with no
    /// cluster. kubectl works against the kubeconfig it writes.
    Up {
        /// Server flags.
        #[command(flatten)]
        serve: ServeArgs,
        /// Controller flags.
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run every controller against the Kubernetes API of the current kubeconfig context (or the
    /// in-cluster config), installing Crosstie's CRDs first.
    Run(RunArgs),
    /// Print the resources a composite would produce with a Composition, offline.
    Render {
        /// The composite resource (XR) YAML.
        xr: PathBuf,
        /// The Composition YAML.
        composition: PathBuf,
        /// Directory of observed composed resources (YAML), as a controller would see them.
        #[arg(long)]
        observed: Option<PathBuf>,
    },
    /// Print a claim or composite and everything it composed, with Synced/Ready status.
    Trace {
        /// `KIND/NAME`, e.g. `PostgreSQLInstance/my-db`.
        target: String,
        /// Namespace of a namespaced object (claims).
        #[arg(short, long)]
        namespace: Option<String>,
    },
    /// Reconcile a Flux object now, like `flux reconcile` (sets `reconcile.fluxcd.io/requestedAt`).
    #[command(subcommand)]
    Reconcile(ReconcileTarget),
    /// The self-service portal's templates.
    #[command(subcommand)]
    Portal(PortalCommand),
}

/// `crosstie portal` subcommands.
#[derive(Debug, Subcommand)]
pub enum PortalCommand {
    /// Write Backstage scaffolder (`scaffolder.backstage.io/v1beta3`) Templates for every
    /// claimable XRD: `DIR/<xrd>/template.yaml` and `DIR/<xrd>/skeleton/`.
    ExportBackstage(ExportBackstageArgs),
}

/// Arguments of `crosstie portal export-backstage`.
#[derive(Debug, clap::Args)]
pub struct ExportBackstageArgs {
    /// Output directory.
    pub dir: PathBuf,
    /// XRD files, or directories of YAML files holding them.
    #[arg(long = "xrds", default_value = "compositions")]
    pub xrds: Vec<PathBuf>,
    /// Directory in the GitOps repository claims are written to (`<path>/<namespace>/<name>.yaml`).
    #[arg(long, default_value = "claims")]
    pub claims_path: String,
    /// `spec.owner` of the templates.
    #[arg(long, default_value = "group:platform-team")]
    pub owner: String,
}

/// Settings of the controllers, shared by `run` and `up`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// How often in-sync managed resources are observed (Go duration: `30s`, `1m`, `1h`); a
    /// resource's `crossplane.io/poll-interval` annotation overrides it.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub poll_interval: std::time::Duration,
    /// Managed-resource reconciles started per second per kind, and run at once per kind
    /// (Crossplane's `--max-reconcile-rate`). It bounds the calls made to the cloud: raise it
    /// when the cloud account's API limits allow.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_reconcile_rate: u16,
    /// Where controllers keep local state (Git caches).
    #[arg(long, default_value = ".crosstie/state")]
    pub state_dir: PathBuf,
    /// Address of the HTTP endpoints: the dashboard and portal, Flux webhook receivers
    /// (`/hook/…`) and `/metrics`. Plain HTTP: keep it on loopback or behind a TLS proxy.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub web_listen: std::net::SocketAddr,
    /// Dashboard login token; a random one is generated and printed when unset.
    #[arg(long, env = "CROSSTIE_WEB_TOKEN", hide_env_values = true)]
    pub web_token: Option<String>,
    /// Dashboard without actions or portal submissions.
    #[arg(long)]
    pub web_read_only: bool,
    /// Git repository the portal commits claims to (path, file:// or a URL pushable without a
    /// prompt); without it, portal claims are applied directly.
    #[arg(long)]
    pub portal_git_url: Option<String>,
    /// Branch the portal commits to.
    #[arg(long, default_value = "main")]
    pub portal_git_branch: String,
    /// Directory in the portal repository holding claims (`<dir>/<namespace>/<name>.yaml`).
    #[arg(long, default_value = "claims")]
    pub portal_git_path: String,
}

impl RunArgs {
    /// The dashboard's settings, with `token` as the login token.
    pub fn web_config(&self, token: String) -> crate::web::Config {
        crate::web::Config {
            token,
            read_only: self.web_read_only,
            git: self.portal_git_url.as_ref().map(|url| crate::web::GitTarget {
                url: url.clone(),
                branch: self.portal_git_branch.clone(),
                path: self.portal_git_path.clone(),
                cache_dir: self.state_dir.join("portal"),
            }),
        }
    }

    /// The controllers' options.
    pub fn options(&self) -> crate::controllers::Options {
        crate::controllers::Options {
            poll_interval: self.poll_interval,
            max_reconcile_rate: self.max_reconcile_rate,
            data_dir: self.state_dir.clone(),
        }
    }
}

/// What `crosstie reconcile` reconciles.
#[derive(Debug, Subcommand)]
pub enum ReconcileTarget {
    /// A source.
    #[command(subcommand)]
    Source(ReconcileSource),
    /// A Kustomization.
    Kustomization(ReconcileArgs),
}

/// Source kinds `crosstie reconcile source` accepts.
#[derive(Debug, Subcommand)]
pub enum ReconcileSource {
    /// A GitRepository.
    Git(ReconcileArgs),
}

/// The object to reconcile.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// Object name.
    pub name: String,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "flux-system")]
    pub namespace: String,
    /// How long to wait for the controller to handle the request.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

fn parse_duration(value: &str) -> Result<std::time::Duration, String> {
    crate::gitops::api::duration::parse("duration", value).map_err(|e| e.to_string())
}

/// Flags of `crosstie serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Directory holding the database, TLS material and token (created if missing).
    #[arg(long, default_value = "crosstie-data")]
    pub data_dir: std::path::PathBuf,
    /// Address to listen on; port 0 picks a free port (the kubeconfig names the real one).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: std::net::SocketAddr,
    /// Where to write a kubeconfig for kubectl, once the server is listening.
    #[arg(long)]
    pub kubeconfig_out: Option<std::path::PathBuf>,
}

impl From<ServeArgs> for crate::apiserver::ServeOptions {
    fn from(args: ServeArgs) -> Self {
        crate::apiserver::ServeOptions {
            data_dir: args.data_dir,
            listen: args.listen,
            kubeconfig_out: args.kubeconfig_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{Cli, Command};

    #[test]
    fn max_reconcile_rate_sets_the_rate_and_concurrency_of_the_managed_controllers() {
        let cli = Cli::try_parse_from(["crosstie", "run", "--max-reconcile-rate", "50"]).unwrap();
        let Command::Run(args) = cli.command else { panic!("run") };
        assert_eq!(args.options().max_reconcile_rate, 50);
        let default = Cli::try_parse_from(["crosstie", "run"]).unwrap();
        let Command::Run(args) = default.command else { panic!("run") };
        assert_eq!(args.options().max_reconcile_rate, 10, "Crossplane's default");
        let zero = Cli::try_parse_from(["crosstie", "run", "--max-reconcile-rate", "0"]);
        assert!(zero.unwrap_err().to_string().contains("--max-reconcile-rate"));
    }
}
