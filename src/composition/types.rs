//! `apiextensions.crossplane.io/v1` types: CompositeResourceDefinition and Composition, with
//! Crossplane's field names so existing manifests deserialize unchanged.

use crosstie_runtime::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pt::{ComposedTemplate, PatchSet};

/// Schema of a field holding arbitrary JSON (a base object, a function input, a schema).
pub(crate) fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// Defines a new composite resource kind and, optionally, its namespaced claim.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "apiextensions.crossplane.io",
    version = "v1",
    kind = "CompositeResourceDefinition",
    shortname = "xrd",
    shortname = "xrds",
    category = "crossplane",
    status = "CompositeResourceDefinitionStatus",
    printcolumn = r#"{"name":"ESTABLISHED","type":"string","jsonPath":".status.conditions[?(@.type=='Established')].status"}"#,
    printcolumn = r#"{"name":"OFFERED","type":"string","jsonPath":".status.conditions[?(@.type=='Offered')].status"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CompositeResourceDefinitionSpec {
    /// API group of the composite and claim kinds; the XRD is named `<plural>.<group>`.
    pub group: String,
    /// Names of the composite resource kind.
    pub names: Names,
    /// Names of the claim kind; absent means the composite cannot be claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_names: Option<Names>,
    /// Versions of the composite (and claim) kinds.
    #[serde(default)]
    pub versions: Vec<XrdVersion>,
    /// Composition used when a composite names none and selects none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_composition_ref: Option<NameRef>,
    /// Composition every composite of this kind must use, whatever it asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforced_composition_ref: Option<NameRef>,
    /// Connection secret keys propagated to composites and claims; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connection_secret_keys: Vec<String>,
    /// `LegacyCluster` (default: cluster-scoped composite with claims), `Cluster` or `Namespaced`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Kubernetes names of a kind (the CRD `names` stanza).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Names {
    /// Kind, e.g. `XPostgreSQLInstance`.
    pub kind: String,
    /// Plural resource name, e.g. `xpostgresqlinstances`.
    pub plural: String,
    /// Singular name; defaults to the lowercased kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub singular: Option<String>,
    /// List kind; defaults to `<kind>List`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_kind: Option<String>,
    /// Short names for kubectl.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    /// Extra categories (`composite` / `claim` are always added).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

/// One served version of the composite kind.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct XrdVersion {
    /// Version name, e.g. `v1alpha1`.
    pub name: String,
    /// Whether the API server serves this version.
    pub served: bool,
    /// Whether Compositions may reference this version; exactly one version is.
    pub referenceable: bool,
    /// Schema of the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<XrdSchema>,
    /// Extra printer columns, in CRD form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "any_array")]
    pub additional_printer_columns: Vec<Value>,
    /// Whether this version is deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<bool>,
}

fn any_array(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    })
}

/// The OpenAPI v3 schema of a version.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct XrdSchema {
    /// Structural schema of the composite's `spec` and `status`.
    #[serde(rename = "openAPIV3Schema", default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub open_api_v3_schema: Option<Value>,
}

/// A reference to an object by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct NameRef {
    /// Name of the referenced object.
    pub name: String,
}

/// Status of an XRD.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompositeResourceDefinitionStatus {
    /// `Established` (composite CRD served) and `Offered` (claim CRD served).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The kinds this XRD's controllers serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controllers: Option<XrdControllers>,
}

/// The kinds served for an XRD.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct XrdControllers {
    /// The composite kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composite_resource_type: Option<TypeRef>,
    /// The claim kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composite_resource_claim_type: Option<TypeRef>,
}

/// An API version and kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypeRef {
    /// `group/version`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
}

/// How a composite kind is composed of other resources.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "apiextensions.crossplane.io",
    version = "v1",
    kind = "Composition",
    shortname = "comp",
    category = "crossplane",
    printcolumn = r#"{"name":"XR-KIND","type":"string","jsonPath":".spec.compositeTypeRef.kind"}"#,
    printcolumn = r#"{"name":"XR-APIVERSION","type":"string","jsonPath":".spec.compositeTypeRef.apiVersion"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CompositionSpec {
    /// The composite kind this Composition composes.
    pub composite_type_ref: TypeRef,
    /// `Resources` (patch & transform templates) or `Pipeline` (function steps). Defaults to
    /// `Resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<CompositionMode>,
    /// Reusable groups of patches (`mode: Resources`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patch_sets: Vec<PatchSet>,
    /// Composed resource templates (`mode: Resources`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ComposedTemplate>,
    /// Function steps (`mode: Pipeline`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipeline: Vec<PipelineStep>,
    /// Namespace the composite's connection Secret is written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_connection_secrets_to_namespace: Option<String>,
}

/// How a Composition produces composed resources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum CompositionMode {
    /// Patch & transform templates in `spec.resources`.
    #[default]
    Resources,
    /// A pipeline of functions in `spec.pipeline`.
    Pipeline,
}

/// One step of a function pipeline.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStep {
    /// Step name, unique in the pipeline.
    pub step: String,
    /// The function this step runs.
    pub function_ref: NameRef,
    /// The function's input object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub input: Option<Value>,
}
