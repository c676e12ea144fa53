//! Flux condition types and reasons, and kstatus-style helpers to set them on a status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// `Ready`: the object reached its desired state (`Unknown` while reconciling).
pub const READY: &str = "Ready";
/// `Reconciling`: work is in progress; present only while `True`.
pub const RECONCILING: &str = "Reconciling";
/// `Stalled`: the object cannot make progress without a change from a human.
pub const STALLED: &str = "Stalled";
/// `FetchFailed`: the last Git operation failed; present only while `True`.
pub const FETCH_FAILED: &str = "FetchFailed";
/// `ArtifactInStorage`: an artifact for the last good revision exists.
pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
/// `Healthy`: the applied objects passed their health checks.
pub const HEALTHY: &str = "Healthy";
/// `Drifted` (Crosstie): live objects differed from Git and were reverted at this revision.
pub const DRIFTED: &str = "Drifted";

/// Condition reasons, as Flux spells them.
pub mod reason {
    /// Ready=True.
    pub const SUCCEEDED: &str = "Succeeded";
    /// Reconciling=True on a first or changed reconcile.
    pub const PROGRESSING: &str = "Progressing";
    /// Reconciling=True after a failure.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// Credentials were rejected, or the referenced Secret is missing or invalid.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Any other Git failure (network, missing ref, timeout).
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// The spec is invalid and will not work until edited.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// Kustomization Ready=True.
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// Kustomization apply failed.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// The source has no artifact yet or cannot be read.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// Building the manifests failed (YAML, kustomize, substitution).
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Health checks failed or timed out.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// A `dependsOn` Kustomization is not Ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// Deleting stale objects failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// Reconciliation is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// Live objects were changed outside Git and have been reverted.
    pub const DRIFT_CORRECTED: &str = "DriftCorrected";
}

/// Set (or replace) condition `type_`, keeping `lastTransitionTime` when the status is unchanged.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) {
    set_status(
        conditions,
        type_,
        if status { "True" } else { "False" },
        reason,
        message,
        generation,
    );
}

/// Like [`set`] with an explicit status string (`True`, `False` or `Unknown`).
pub fn set_status(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) {
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(jiff::Timestamp::now()));
    remove(conditions, type_);
    conditions.push(Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time,
    });
}

/// Remove condition `type_` (negative-polarity conditions exist only while `True`).
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// The condition `type_`, if present.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether condition `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}
