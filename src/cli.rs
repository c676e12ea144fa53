//! Command-line interface definitions.

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
