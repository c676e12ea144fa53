//! `ProviderConfig` and `ProviderConfigUsage` in `aws.crossplane.io/v1beta1`, shaped exactly as
//! classic provider-aws (`apis/v1beta1/providerconfig_types.go`) and crossplane-runtime.

use crosstie_runtime::{Condition, Reference, SecretKeySelector};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How to reach AWS: credentials and an optional endpoint override. Cluster-scoped.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "aws.crossplane.io",
    version = "v1beta1",
    kind = "ProviderConfig",
    status = "ProviderConfigStatus",
    category = "crossplane",
    category = "provider",
    category = "aws",
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"SECRET-NAME","type":"string","jsonPath":".spec.credentials.secretRef.name","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigSpec {
    /// Where the AWS credentials come from.
    pub credentials: ProviderCredentials,
    /// Override the AWS endpoint (LocalStack, moto, private endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointConfig>,
}

/// Credentials of a ProviderConfig.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderCredentials {
    /// `Secret`, `Environment`, `Filesystem`, `InjectedIdentity` or `None`.
    pub source: CredentialsSource,
    /// The Secret key holding an AWS INI profile (`source: Secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// The environment variable holding an AWS INI profile (`source: Environment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvSelector>,
    /// The file holding an AWS INI profile (`source: Filesystem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs: Option<FsSelector>,
}

/// Where credentials come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum CredentialsSource {
    /// No credentials. RDS requires signed requests, so connecting fails with a clear error.
    None,
    /// An AWS INI profile in a Secret key.
    #[default]
    Secret,
    /// The process's default credential chain (environment, web identity/IRSA, IMDS).
    InjectedIdentity,
    /// An AWS INI profile in an environment variable.
    Environment,
    /// An AWS INI profile in a file.
    Filesystem,
}

/// An environment variable by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct EnvSelector {
    /// Name of the environment variable.
    pub name: String,
}

/// A file by path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct FsSelector {
    /// Path of the file.
    pub path: String,
}

/// The classic provider-aws endpoint override.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConfig {
    /// The endpoint URL.
    pub url: EndpointUrl,
    /// Accepted for compatibility; the URL is always used as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_immutable: Option<bool>,
    /// Accepted for compatibility (the SDK derives the partition from the region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_id: Option<String>,
    /// Region used to sign requests sent to the endpoint; defaults to the resource's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_region: Option<String>,
    /// Accepted for compatibility (RDS always signs as `rds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_name: Option<String>,
    /// Accepted for compatibility (SigV4 is always used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_method: Option<String>,
    /// Accepted for compatibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The endpoint URL, static or built per service and region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct EndpointUrl {
    /// `Static` (one URL for everything) or `Dynamic` (`<protocol>://rds.<region>.<host>`).
    #[serde(rename = "type")]
    pub type_: EndpointUrlType,
    /// The URL when `type: Static`.
    #[serde(default, rename = "static", skip_serializing_if = "Option::is_none")]
    pub static_: Option<String>,
    /// The parts of the URL when `type: Dynamic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<DynamicUrl>,
}

/// How the endpoint URL is formed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum EndpointUrlType {
    /// One URL for all services and regions.
    #[default]
    Static,
    /// `<protocol>://<service>.<region>.<host>`.
    Dynamic,
}

/// The parts of a dynamic endpoint URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct DynamicUrl {
    /// `http` or `https`.
    pub protocol: String,
    /// The host suffix, e.g. `amazonaws.com`.
    pub host: String,
}

/// Observed state of a ProviderConfig.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigStatus {
    /// How many managed resources use this ProviderConfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<i64>,
    /// Conditions, as in crossplane-runtime.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Records that a managed resource uses a ProviderConfig. Cluster-scoped; named after the
/// resource's UID. As in crossplane-runtime, the refs sit at the top level (no `spec`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigUsage {
    /// Always `aws.crossplane.io/v1beta1`.
    pub api_version: String,
    /// Always `ProviderConfigUsage`.
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The ProviderConfig in use.
    pub provider_config_ref: Reference,
    /// The managed resource using it.
    pub resource_ref: TypedReference,
}

/// A reference to an object of a given kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypedReference {
    /// API version of the referenced object.
    pub api_version: String,
    /// Kind of the referenced object.
    pub kind: String,
    /// Name of the referenced object.
    pub name: String,
    /// UID of the referenced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl k8s_openapi::Resource for ProviderConfigUsage {
    const API_VERSION: &'static str = "aws.crossplane.io/v1beta1";
    const GROUP: &'static str = "aws.crossplane.io";
    const KIND: &'static str = "ProviderConfigUsage";
    const VERSION: &'static str = "v1beta1";
    const URL_PATH_SEGMENT: &'static str = "providerconfigusages";
    type Scope = k8s_openapi::ClusterResourceScope;
}

impl k8s_openapi::Metadata for ProviderConfigUsage {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl ProviderConfigUsage {
    /// A usage named `name` (the resource's UID) of ProviderConfig `provider_config` by
    /// `resource`.
    pub fn new(name: &str, provider_config: &str, resource: TypedReference) -> Self {
        Self {
            api_version: <Self as k8s_openapi::Resource>::API_VERSION.to_owned(),
            kind: <Self as k8s_openapi::Resource>::KIND.to_owned(),
            metadata: ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() },
            provider_config_ref: Reference { name: provider_config.to_owned(), policy: None },
            resource_ref: resource,
        }
    }

    /// The CRD of ProviderConfigUsage. Written out because its fields are top-level, which
    /// `#[derive(CustomResource)]` (always `spec`/`status`) cannot express.
    pub fn crd() -> CustomResourceDefinition {
        let string = json!({"type": "string"});
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "providerconfigusages.aws.crossplane.io"},
            "spec": {
                "group": "aws.crossplane.io",
                "names": {
                    "kind": "ProviderConfigUsage",
                    "listKind": "ProviderConfigUsageList",
                    "plural": "providerconfigusages",
                    "singular": "providerconfigusage",
                    "categories": ["crossplane", "provider", "aws"],
                },
                "scope": "Cluster",
                "versions": [{
                    "name": "v1beta1",
                    "served": true,
                    "storage": true,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "description": "Records that a managed resource uses a ProviderConfig.",
                        "required": ["providerConfigRef", "resourceRef"],
                        "properties": {
                            "apiVersion": string,
                            "kind": string,
                            "metadata": {"type": "object"},
                            "providerConfigRef": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": string,
                                    "policy": {
                                        "type": "object",
                                        "properties": {"resolution": string, "resolve": string},
                                    },
                                },
                            },
                            "resourceRef": {
                                "type": "object",
                                "required": ["apiVersion", "kind", "name"],
                                "properties": {
                                    "apiVersion": string,
                                    "kind": string,
                                    "name": string,
                                    "uid": string,
                                },
                            },
                        },
                    }},
                    "additionalPrinterColumns": [
                        {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                        {"name": "CONFIG-NAME", "type": "string", "jsonPath": ".providerConfigRef.name"},
                        {"name": "RESOURCE-KIND", "type": "string", "jsonPath": ".resourceRef.kind"},
                        {"name": "RESOURCE-NAME", "type": "string", "jsonPath": ".resourceRef.name"},
                    ],
                }],
            },
        });
        serde_json::from_value(crd).expect("ProviderConfigUsage CRD is valid")
    }
}
