//! The generic managed-resource reconciler behind every Crosstie provider.
//!
//! A provider kind supplies three things: its types (a [`Managed`] custom resource), pure
//! converters, and an [`ExternalClient`] reached through a [`Connector`]. This crate owns every
//! Kubernetes concern around them — finalizers, conditions, events, annotations, connection
//! secrets, ProviderConfig usage and requeue timing — with Crossplane's semantics and names, so
//! Crossplane users' manifests, annotations and tooling keep working.

pub mod annotations;
pub mod external;
pub mod managed;
pub mod reference;
pub mod spec;

pub use external::{
    ConnectionDetails, Connector, ExternalClient, ExternalCreation, ExternalError,
    ExternalObservation, ExternalUpdate, Readiness,
};
pub use managed::Managed;
pub use spec::{
    Condition, DeletionPolicy, ManagementAction, Reference, ResourceSpec, ResourceStatus,
    SecretKeySelector, SecretReference, Selector,
};
