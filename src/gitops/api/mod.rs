//! Flux's v1 APIs, field for field: `GitRepository` (`source.toolkit.fluxcd.io/v1`),
//! `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`) and `Receiver`
//! (`notification.toolkit.fluxcd.io/v1`), so users' Flux manifests run unmodified.

pub mod conditions;
pub mod duration;
pub mod git_repository;
pub mod kustomization;
pub mod receiver;

pub use git_repository::{
    Artifact, GitRepository, GitRepositoryRef, GitRepositorySpec, GitRepositoryStatus,
};
pub use kustomization::{
    CrossNamespaceRef, DependencyRef, Inventory, InventoryEntry, Kustomization, KustomizationSpec,
    KustomizationStatus, PostBuild, SubstituteReference,
};
pub use receiver::{Receiver, ReceiverSpec, ReceiverStatus, WebhookTarget};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The annotation `flux reconcile` (and `crosstie reconcile`) sets to request a reconcile now.
pub const REQUESTED_AT_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";

/// A reference to a Secret (or ConfigMap) in the same namespace.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct LocalObjectReference {
    /// Name of the referent.
    pub name: String,
}
