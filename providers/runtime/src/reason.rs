//! Crossplane's condition types, condition reasons and event reasons, in one place.
//!
//! Users' dashboards and alerts match on these strings, so they are Crossplane's verbatim.

/// Condition type: whether the external resource is usable.
pub const READY: &str = "Ready";
/// Condition type: whether the last reconcile succeeded.
pub const SYNCED: &str = "Synced";

/// `Ready` reason: the external resource is usable.
pub const AVAILABLE: &str = "Available";
/// `Ready` reason: the external resource exists but is not usable.
pub const UNAVAILABLE: &str = "Unavailable";
/// `Ready` reason: the external resource is being created.
pub const CREATING: &str = "Creating";
/// `Ready` reason: the external resource is being deleted.
pub const DELETING: &str = "Deleting";
/// `Synced` reason: the last reconcile succeeded.
pub const RECONCILE_SUCCESS: &str = "ReconcileSuccess";
/// `Synced` reason: the last reconcile failed; the message says why.
pub const RECONCILE_ERROR: &str = "ReconcileError";
/// `Synced` reason: reconciliation is paused.
pub const RECONCILE_PAUSED: &str = "ReconcilePaused";

/// Event: reconciliation is paused by annotation or management policies.
pub const RECONCILIATION_PAUSED: &str = "ReconciliationPaused";
/// Event: the management policies are not a supported combination.
pub const INVALID_MANAGEMENT_POLICY: &str = "CannotUseInvalidManagementPolicy";
/// Event: an annotation the engine reads is invalid, or a create may have leaked.
pub const CANNOT_INITIALIZE: &str = "CannotInitializeManagedResource";
/// Event: a reference could not be resolved.
pub const CANNOT_RESOLVE_REFERENCES: &str = "CannotResolveResourceReferences";
/// Event: the ProviderConfig or the provider client could not be reached.
pub const CANNOT_CONNECT: &str = "CannotConnectToProvider";
/// Event: `observe` failed.
pub const CANNOT_OBSERVE: &str = "CannotObserveExternalResource";
/// Event: `create` failed.
pub const CANNOT_CREATE: &str = "CannotCreateExternalResource";
/// Event: `update` failed.
pub const CANNOT_UPDATE: &str = "CannotUpdateExternalResource";
/// Event: `delete` failed.
pub const CANNOT_DELETE: &str = "CannotDeleteExternalResource";
/// Event: the connection Secret could not be written.
pub const CANNOT_PUBLISH_CONNECTION: &str = "CannotPublishConnectionDetails";
/// Event: the managed resource itself (late-initialized spec, usage) could not be updated.
pub const CANNOT_UPDATE_MANAGED: &str = "CannotUpdateManagedResource";
/// Event: the external resource was created.
pub const CREATED: &str = "CreatedExternalResource";
/// Event: the external resource was updated; the note carries the diff.
pub const UPDATED: &str = "UpdatedExternalResource";
/// Event: deletion of the external resource was requested.
pub const DELETED: &str = "DeletedExternalResource";
/// Event and condition reason: a ProviderConfig cannot be deleted while resources use it.
pub const IN_USE: &str = "InUse";

/// `Synced` message of a paused resource.
pub const MSG_PAUSED: &str =
    "Reconciliation (including deletion) is paused via the pause annotation or managementPolicies";
/// Note of the [`CREATED`] event (Crossplane's words).
pub const MSG_CREATED: &str = "Successfully requested creation of external resource";
/// `Synced` message when a create may have succeeded without being recorded (Crossplane's words).
pub const MSG_CREATE_INCOMPLETE: &str = "cannot determine creation result - remove the crossplane.io/external-create-pending annotation if it is safe to proceed";
