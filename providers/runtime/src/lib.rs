//! The generic managed-resource reconciler behind every Crosstie provider.
//!
//! A provider kind supplies three things: its types (a [`Managed`] custom resource), pure
//! converters, and an [`ExternalClient`] reached through a [`Connector`]. This crate owns every
//! Kubernetes concern around them — finalizers, conditions, events, annotations, connection
//! secrets, ProviderConfig usage and requeue timing — with Crossplane's semantics and names, so
//! Crossplane users' manifests, annotations and tooling keep working.
//!
//! Wire a provider with [`Runtime`]: `Runtime::new(..).manage::<Kind, _>(connector).run()`.

pub mod annotations;
pub mod conditions;
pub mod config;
pub mod connection;
pub mod controller;
pub mod external;
mod failure;
pub mod managed;
pub mod metrics;
pub mod passes;
pub mod patch;
pub mod policy;
pub mod predicate;
pub mod provider_config;
pub mod reason;
pub mod reconciler;
pub mod reference;
pub mod requeue;
pub mod spec;
pub mod sync;
pub mod tick;
pub mod usage;

pub use config::Config;
pub use controller::{Runtime, run, run_provider_config_controller};
pub use external::{
    ConnectionDetails, Connector, ExternalClient, ExternalCreation, ExternalError,
    ExternalObservation, ExternalUpdate, Readiness,
};
pub use managed::Managed;
pub use metrics::Metrics;
pub use reconciler::{Context, FINALIZER, error_policy, reconcile};
pub use spec::{
    Condition, DeletionPolicy, ManagementAction, Reference, ResourceSpec, ResourceStatus,
    SecretKeySelector, SecretReference, Selector,
};
pub use usage::ProviderConfigKinds;
