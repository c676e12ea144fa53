//! Spec and status fields common to every managed resource, with Crossplane's names.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Fields every managed resource's spec embeds (flattened next to `forProvider`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpec {
    /// The ProviderConfig that supplies credentials and endpoints. Defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_config_ref: Option<Reference>,
    /// What happens to the external resource when this object is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Which actions Crosstie may take on the external resource. Defaults to `["*"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policies: Option<Vec<ManagementAction>>,
    /// Where to write the connection Secret (endpoint, port, username, password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_connection_secret_to_ref: Option<SecretReference>,
}

impl ResourceSpec {
    /// The ProviderConfig name in effect (`default` when unset).
    pub fn provider_config_name(&self) -> &str {
        self.provider_config_ref.as_ref().map_or("default", |r| r.name.as_str())
    }

    /// The deletion policy in effect (`Delete` when unset).
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.deletion_policy.unwrap_or_default()
    }
}

/// What happens to the external resource when its managed resource is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the external resource.
    #[default]
    Delete,
    /// Leave the external resource in place.
    Orphan,
}

/// One action the engine may take on the external resource.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
pub enum ManagementAction {
    /// Read the external resource.
    Observe,
    /// Create it when absent.
    Create,
    /// Update it when it drifts.
    Update,
    /// Delete it with the managed resource.
    Delete,
    /// Fill unset spec fields from it.
    LateInitialize,
    /// All of the above.
    #[serde(rename = "*")]
    All,
}

/// A reference to another object by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    /// Name of the referenced object.
    pub name: String,
    /// How the reference is resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<ReferencePolicy>,
}

/// Selects a referenced object by labels.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// Labels the referenced object must carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Only select objects controlled by the same controller as this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_controller_ref: Option<bool>,
    /// How the selection is resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<ReferencePolicy>,
}

/// Resolution policy of a reference or selector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferencePolicy {
    /// `Required` (default) or `Optional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// `IfNotPresent` (default) or `Always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve: Option<ResolvePolicy>,
}

/// Whether an unresolvable reference is an error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Resolution {
    /// Unresolvable is an error.
    #[default]
    Required,
    /// Unresolvable is skipped.
    Optional,
}

/// When a reference is resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ResolvePolicy {
    /// Only when the value field is unset.
    #[default]
    IfNotPresent,
    /// On every reconcile.
    Always,
}

/// A Secret by name and namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Name of the Secret.
    pub name: String,
    /// Namespace of the Secret.
    pub namespace: String,
}

/// One key of a Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Name of the Secret.
    pub name: String,
    /// Namespace of the Secret.
    pub namespace: String,
    /// The key within the Secret.
    pub key: String,
}

/// Status fields every managed resource's status embeds (flattened next to `atProvider`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// `Ready` and `Synced`, with Crossplane's reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A status condition, shaped like Crossplane's and Kubernetes' conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type: `Ready`, `Synced`, …
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
    /// Machine-readable reason, e.g. `ReconcileSuccess`.
    pub reason: String,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The `metadata.generation` this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
