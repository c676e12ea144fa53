//! `GitRepository` `source.toolkit.fluxcd.io/v1`: where to fetch manifests from.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::LocalObjectReference;

/// Fetches a Git repository and produces an artifact (a directory tree) for one ref.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "GitRepository",
    namespaced,
    status = "GitRepositoryStatus",
    shortname = "gitrepo",
    category = "fluxcd",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositorySpec {
    /// Repository URL: `https://`, `http://` or `file://` (`ssh://` is recognised and refused
    /// until this binary ships an SSH transport).
    #[schemars(regex(pattern = r"^(http|https|ssh|file)://.*$"))]
    pub url: String,
    /// Secret with credentials: `username`/`password` or `bearerToken`, and `ca.crt` for a
    /// private CA. SSH keys are refused with a clear condition until supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// How often to check the remote for new commits (Go duration, e.g. `1m`).
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,
    /// Timeout for Git operations (default `60s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// The ref to check out; defaults to branch `master`.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<GitRepositoryRef>,
    /// `.gitignore`-style rules applied when producing the artifact; they override the default
    /// exclusions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Stop reconciling this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Auth provider: only `generic` (credentials from `secretRef`) is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Commit signature verification (not supported yet: refused, never silently skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<GitRepositoryVerification>,
    /// Fetch submodules (not supported yet: `true` is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurse_submodules: Option<bool>,
    /// Directories to check out (not supported yet: refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sparse_checkout: Vec<String>,
    /// Other GitRepositories' artifacts to include (not supported yet: refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<GitRepositoryInclude>,
}

/// `spec.include[]`: copy another GitRepository's artifact into this one.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryInclude {
    /// The GitRepository to include.
    pub repository: LocalObjectReference,
    /// Path in the included artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// Path in this artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_path: Option<String>,
}

/// `spec.verify`: how to verify commit or tag signatures.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryVerification {
    /// `HEAD`, `Tag` or `TagAndHEAD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Secret with the trusted public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

impl GitRepositorySpec {
    /// The first field set to something this controller cannot honour yet, as a message naming
    /// the field; users get a Stalled condition rather than a silently weaker result.
    pub fn unsupported(&self) -> Option<String> {
        if self.provider.as_deref().is_some_and(|p| p != "generic") {
            return Some("spec.provider: only \"generic\" is supported".into());
        }
        if self.verify.is_some() {
            return Some("spec.verify: signature verification is not supported yet".into());
        }
        if self.recurse_submodules == Some(true) {
            return Some("spec.recurseSubmodules: submodules are not supported yet".into());
        }
        if !self.sparse_checkout.is_empty() {
            return Some("spec.sparseCheckout is not supported yet".into());
        }
        if !self.include.is_empty() {
            return Some("spec.include is not supported yet".into());
        }
        None
    }
}

/// The Git ref to check out. Precedence: `commit` > `name` > `semver` > `tag` > `branch`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryRef {
    /// Branch name, e.g. `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag name, e.g. `v1.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Semver range over tags, e.g. `>=1.0.0 <2.0.0`; the highest matching tag wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Full reference name, e.g. `refs/heads/main` or `refs/pull/420/head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Commit SHA-1; with `branch`, the commit must be on that branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Observed state of a GitRepository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryStatus {
    /// The last generation reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, FetchFailed, ArtifactInStorage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The artifact for the last successfully fetched revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// `spec.ignore` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// A fetched revision, stored as a directory tree under the controller's data dir.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Path relative to the storage root: `gitrepository/<ns>/<name>/<sha>`.
    pub path: String,
    /// `file://` URL of the artifact directory.
    pub url: String,
    /// `<ref>@sha1:<sha>` exactly as Flux writes it, e.g. `main@sha1:1a2b…`.
    pub revision: String,
    /// `sha256:<hex>` over the artifact's files (paths, modes and contents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// When the artifact was produced.
    pub last_update_time: Time,
    /// Total size of the artifact's files in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}
