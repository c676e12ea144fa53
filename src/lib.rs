//! Crosstie: provisions cloud infrastructure the Crossplane way and syncs Git the Flux way.
//!
//! `main.rs` only wires; everything testable lives here.

pub mod apiserver;
pub mod cli;
pub mod composition;
pub mod controllers;
pub mod crds;
pub mod endpoints;
pub mod gitops;
pub mod telemetry;
pub mod web;
