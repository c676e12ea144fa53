//! `Kustomization` `kustomize.toolkit.fluxcd.io/v1`: build a path of a source and apply it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Applies the manifests at `path` of a source artifact, with pruning, drift correction and
/// health checks.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "kustomize.toolkit.fluxcd.io",
    version = "v1",
    kind = "Kustomization",
    namespaced,
    status = "KustomizationStatus",
    shortname = "ks",
    category = "fluxcd",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    /// The source to build from.
    pub source_ref: CrossNamespaceRef,
    /// Directory inside the artifact (default: its root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How often to reconcile, including drift correction (Go duration).
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,
    /// Interval after a failure (default: `interval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub retry_interval: Option<String>,
    /// Timeout for build, apply and health checks (default: interval − 30s, at least 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// Delete objects removed from the source.
    pub prune: bool,
    /// Wait for every applied object to become ready (overrides `healthChecks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    /// Objects whose health gates Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<CrossNamespaceRef>,
    /// Kustomizations that must be Ready before this one applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyRef>,
    /// Variable substitution after the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild>,
    /// Stop applying new revisions and correcting drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Set (override) the namespace of every namespaced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    /// Recreate objects whose immutable fields changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Labels and annotations added to every applied object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// What deleting the Kustomization does to its objects: `MirrorPrune` (default: delete them
    /// when `prune` is true), `Delete` (always), `WaitForTermination` (always; no wait yet) or
    /// `Orphan` (never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(MirrorPrune|Delete|WaitForTermination|Orphan)$"))]
    pub deletion_policy: Option<String>,
    /// Kustomize patches (strategic merge or JSON 6902), applied by kubectl's kustomize.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<KustomizePatch>,
    /// Kustomize image overrides (`name`, `newName`, `newTag`, `digest`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<BTreeMap<String, String>>,
    /// Kustomize components, relative to `path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// SOPS decryption (not supported yet: refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<BTreeMap<String, String>>,
    /// Impersonation (not supported yet: refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Apply to a remote cluster (not supported yet: refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    /// CEL health rules per kind (not supported yet: refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<BTreeMap<String, String>>,
}

/// `spec.kubeConfig`: a Secret holding a kubeconfig.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeConfigReference {
    /// Secret name and key (`value` by default).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_ref: BTreeMap<String, String>,
}

/// `spec.commonMetadata`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct CommonMetadata {
    /// Labels to add.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations to add.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A kustomize patch with an optional target selector.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct KustomizePatch {
    /// Strategic-merge or JSON6902 patch.
    pub patch: String,
    /// Which objects to patch: `group`, `version`, `kind`, `name`, `namespace`,
    /// `labelSelector`, `annotationSelector`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target: BTreeMap<String, String>,
}

impl KustomizationSpec {
    /// The first field set to something this controller cannot honour yet, naming the field.
    pub fn unsupported(&self) -> Option<String> {
        let unsupported = [
            ("spec.decryption", self.decryption.is_some()),
            ("spec.serviceAccountName", self.service_account_name.is_some()),
            ("spec.kubeConfig", self.kube_config.is_some()),
            ("spec.healthCheckExprs", !self.health_check_exprs.is_empty()),
        ];
        unsupported.iter().find(|(_, set)| *set).map(|(field, _)| {
            format!(
                "{field} is not supported yet; put it in a kustomization.yaml in spec.path instead"
            )
        })
    }

    /// Whether deleting the Kustomization deletes the objects it applied.
    pub fn deletes_on_deletion(&self) -> bool {
        match self.deletion_policy.as_deref() {
            Some("Delete" | "WaitForTermination") => true,
            Some("Orphan") => false,
            _ => self.prune,
        }
    }
}

/// A reference to an object, optionally in another namespace.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceRef {
    /// API version of the referent, e.g. `apps/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent, e.g. `GitRepository`.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent (default: the Kustomization's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A Kustomization this one depends on.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct DependencyRef {
    /// Name of the Kustomization.
    pub name: String,
    /// Namespace (default: this Kustomization's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Post-build variable substitution.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostBuild {
    /// Inline variables; they win over `substituteFrom`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub substitute: BTreeMap<String, String>,
    /// ConfigMaps and Secrets whose data are variables; later entries win.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub substitute_from: Vec<SubstituteReference>,
}

/// A ConfigMap or Secret holding substitution variables.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct SubstituteReference {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// Name in the Kustomization's namespace.
    pub name: String,
    /// Tolerate a missing object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// Observed state of a Kustomization.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationStatus {
    /// The last generation reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, Healthy, Drifted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last source revision applied successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// The last source revision attempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Objects applied by the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
}

/// The set of applied objects, used for pruning.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct Inventory {
    /// One entry per object.
    pub entries: Vec<InventoryEntry>,
}

/// One applied object: `id` is `<namespace>_<name>_<group>_<kind>`, `v` its API version.
#[derive(
    Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
pub struct InventoryEntry {
    /// `<namespace>_<name>_<group>_<kind>` (empty namespace/group stay empty).
    pub id: String,
    /// API version, e.g. `v1`.
    pub v: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_policy_decides_whether_deleting_removes_objects() {
        let spec = |prune: bool, policy: Option<&str>| KustomizationSpec {
            prune,
            deletion_policy: policy.map(Into::into),
            ..Default::default()
        };
        assert!(spec(true, None).deletes_on_deletion());
        assert!(!spec(false, None).deletes_on_deletion());
        assert!(!spec(false, Some("MirrorPrune")).deletes_on_deletion());
        assert!(spec(false, Some("Delete")).deletes_on_deletion());
        assert!(!spec(true, Some("Orphan")).deletes_on_deletion());
    }

    #[test]
    fn fields_not_supported_yet_are_named_not_ignored() {
        let spec = KustomizationSpec { decryption: Some(BTreeMap::new()), ..Default::default() };
        assert!(spec.unsupported().unwrap().starts_with("spec.decryption"));
        assert_eq!(KustomizationSpec::default().unsupported(), None);
    }
}
