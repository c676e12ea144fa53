//! Crossplane's well-known annotations and accessors for them.

use kube::Resource;

/// The identifier of the external resource; defaults to `metadata.name`.
pub const EXTERNAL_NAME: &str = "crossplane.io/external-name";
/// Set (RFC 3339) just before the engine calls `create`.
pub const EXTERNAL_CREATE_PENDING: &str = "crossplane.io/external-create-pending";
/// Set (RFC 3339) when `create` succeeded.
pub const EXTERNAL_CREATE_SUCCEEDED: &str = "crossplane.io/external-create-succeeded";
/// Set (RFC 3339) when `create` failed.
pub const EXTERNAL_CREATE_FAILED: &str = "crossplane.io/external-create-failed";
/// `"true"` stops reconciliation.
pub const PAUSED: &str = "crossplane.io/paused";
/// Per-resource poll interval (a Go-style duration such as `30s` or `5m`).
pub const POLL_INTERVAL: &str = "crossplane.io/poll-interval";

/// The external name of `obj`, if annotated.
pub fn external_name<T: Resource>(obj: &T) -> Option<&str> {
    obj.meta().annotations.as_ref()?.get(EXTERNAL_NAME).map(String::as_str)
}
