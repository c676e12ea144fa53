//! The contract between the engine and a provider's cloud client.
//!
//! Mirrors crossplane-runtime's `ExternalConnector` / `ExternalClient`: none of the calls should
//! block for long, and all of them must be idempotent, because the engine may repeat any of them
//! after a crash or a lost write.

use std::collections::BTreeMap;
use std::future::Future;

use crate::Managed;

/// Connection details published to the resource's connection Secret (`username`, `password`,
/// `endpoint`, `port`, …). Values are raw bytes, as in a Secret's `data`.
pub type ConnectionDetails = BTreeMap<String, Vec<u8>>;

/// How ready the external resource is; the engine turns it into the `Ready` condition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Readiness {
    /// Ready for use (`Ready=True`, reason `Available`).
    Available,
    /// Being created (`Ready=False`, reason `Creating`).
    Creating,
    /// Being deleted (`Ready=False`, reason `Deleting`).
    Deleting,
    /// Exists but not usable; the message says why (e.g. the cloud's own status).
    Unavailable(String),
    /// The provider cannot tell; the engine leaves `Ready` as it was.
    #[default]
    Unknown,
}

/// What [`ExternalClient::observe`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalObservation {
    /// The external resource exists. `false` makes the engine create it (policy permitting).
    pub resource_exists: bool,
    /// The external resource matches the desired spec. `false` makes the engine update it.
    pub resource_up_to_date: bool,
    /// `observe` filled unset spec fields from the cloud: the engine patches the spec once.
    pub resource_late_initialized: bool,
    /// Readiness of the external resource.
    pub readiness: Readiness,
    /// Details to publish to the connection Secret.
    pub connection_details: ConnectionDetails,
    /// Human-readable difference between desired and observed state, when not up to date.
    pub diff: String,
}

/// What [`ExternalClient::create`] produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalCreation {
    /// Details known only at creation (e.g. a generated password).
    pub connection_details: ConnectionDetails,
    /// `create` filled unset spec fields from the cloud's answer: the engine saves them with the
    /// record of the create's success, so the observation that follows has nothing to add.
    pub resource_late_initialized: bool,
}

/// What [`ExternalClient::update`] produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalUpdate {
    /// Details changed by the update.
    pub connection_details: ConnectionDetails,
}

/// A provider failure, classified so the engine can choose how to retry.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    /// Retrying will not help until someone changes the spec or the cloud (an immutable field
    /// changed, an invalid parameter, deletion protection). Reported in `Synced=False` and retried
    /// at the poll interval rather than with fast backoff.
    #[error("{0}")]
    Terminal(String),
    /// A transient or unknown failure (network, throttling, 5xx): retried with backoff.
    #[error("{message}")]
    Transient {
        /// What failed, in the provider's words.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl ExternalError {
    /// A terminal error with the given message.
    pub fn terminal(message: impl Into<String>) -> Self {
        Self::Terminal(message.into())
    }

    /// A transient error with the given message and no source.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient { message: message.into(), source: None }
    }

    /// A transient error wrapping `source`, described by `message`.
    pub fn wrap(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let message = format!("{}: {}", message.into(), source);
        Self::Transient { message, source: Some(Box::new(source)) }
    }
}

/// Produces an [`ExternalClient`] for one managed resource, typically by reading its
/// ProviderConfig and credentials. The engine records ProviderConfig usage before calling it.
pub trait Connector<M: Managed>: Send + Sync + 'static {
    /// The client this connector produces.
    type Client: ExternalClient<M>;

    /// Build (or reuse) a client for `mr`. A missing ProviderConfig or unreadable credentials are
    /// errors whose message names the missing object.
    fn connect(&self, mr: &M) -> impl Future<Output = Result<Self::Client, ExternalError>> + Send;
}

/// Operations on the external (cloud) resource behind one managed resource.
///
/// `observe` may fill `status.atProvider` and late-initialize unset `spec.forProvider` fields on
/// `mr`; the engine persists those changes. `create` may set the `crossplane.io/external-name`
/// annotation when the cloud chooses the identifier, and late-initialize from the cloud's
/// answer. No call touches Kubernetes conditions, finalizers or events: the engine owns them.
pub trait ExternalClient<M: Managed>: Send + Sync {
    /// Observe the external resource. Never mutates the cloud. A missing resource is
    /// `resource_exists: false`, not an error.
    fn observe(
        &self,
        mr: &mut M,
    ) -> impl Future<Output = Result<ExternalObservation, ExternalError>> + Send;

    /// Create the external resource. A retry after an unrecorded success must not fail with
    /// "already exists".
    fn create(
        &self,
        mr: &mut M,
    ) -> impl Future<Output = Result<ExternalCreation, ExternalError>> + Send;

    /// Bring the external resource in line with the spec.
    fn update(
        &self,
        mr: &mut M,
    ) -> impl Future<Output = Result<ExternalUpdate, ExternalError>> + Send;

    /// Delete the external resource. Succeeds when it is already deleting or gone.
    fn delete(&self, mr: &mut M) -> impl Future<Output = Result<(), ExternalError>> + Send;
}
