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
}
