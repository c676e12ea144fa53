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
    crate::gitops::api::duration::parse("--timeout", value).map_err(|e| e.to_string())
}
