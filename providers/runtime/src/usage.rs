//! ProviderConfig usage tracking, so a ProviderConfig in use cannot be deleted.
//!
//! Before connecting, the engine makes sure a usage object exists for the managed resource
//! (named after its UID, labelled with the ProviderConfig's name, controlled by the resource),
//! exactly like crossplane-runtime's `ProviderConfigUsageTracker`. The ProviderConfig
//! controller ([`crate::provider_config`]) counts them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::Managed;
use crate::sync::lock;

/// Label on each usage naming the ProviderConfig it uses.
pub const PROVIDER_CONFIG_LABEL: &str = "crossplane.io/provider-config";

/// A provider's ProviderConfig kind and its usage kind, e.g. `aws.crossplane.io/v1beta1`
/// `ProviderConfig` and `ProviderConfigUsage` (both cluster-scoped).
///
/// As in Crossplane, a usage carries `providerConfigRef {name}` and
/// `resourceRef {apiVersion, kind, name}` at the top level (next to `metadata`, no `spec`), and
/// a ProviderConfig's status has `users` and `conditions`; the CRDs must declare them.
#[derive(Clone, Debug)]
pub struct ProviderConfigKinds {
    /// The ProviderConfig kind.
    pub provider_config: ApiResource,
    /// The ProviderConfigUsage kind.
    pub usage: ApiResource,
}

impl ProviderConfigKinds {
    /// `ProviderConfig` and `ProviderConfigUsage` in `group`/`version`.
    pub fn crossplane(group: &str, version: &str) -> Self {
        let kind = |kind| ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        Self { provider_config: kind("ProviderConfig"), usage: kind("ProviderConfigUsage") }
    }

    /// The CRD of the usage kind, shaped like Crossplane's (top-level fields, which
    /// `#[derive(CustomResource)]` cannot express), with Crossplane's printer columns.
    pub fn usage_crd(&self) -> CustomResourceDefinition {
        let usage = &self.usage;
        let string = json!({ "type": "string" });
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": format!("{}.{}", usage.plural, usage.group) },
            "spec": {
                "group": usage.group,
                "names": {
                    "kind": usage.kind,
                    "listKind": format!("{}List", usage.kind),
                    "plural": usage.plural,
                    "singular": usage.kind.to_lowercase(),
                    "categories": ["crossplane", "provider"],
                },
                "scope": "Cluster",
                "versions": [{
                    "name": usage.version,
                    "served": true,
                    "storage": true,
                    "additionalPrinterColumns": [
                        { "name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp" },
                        { "name": "CONFIG-NAME", "type": "string", "jsonPath": ".providerConfigRef.name" },
                        { "name": "RESOURCE-KIND", "type": "string", "jsonPath": ".resourceRef.kind" },
                        { "name": "RESOURCE-NAME", "type": "string", "jsonPath": ".resourceRef.name" },
                    ],
                    "schema": { "openAPIV3Schema": {
                        "description": format!("A {} records that a managed resource uses a {}.", usage.kind, self.provider_config.kind),
                        "type": "object",
                        "required": ["providerConfigRef", "resourceRef"],
                        "properties": {
                            "apiVersion": string,
                            "kind": string,
                            "metadata": { "type": "object" },
                            "providerConfigRef": {
                                "type": "object",
                                "required": ["name"],
                                "properties": { "name": string },
                            },
                            "resourceRef": {
                                "type": "object",
                                "required": ["apiVersion", "kind", "name"],
                                "properties": {
                                    "apiVersion": string, "kind": string, "name": string, "uid": string,
                                },
                            },
                        },
                    } },
                }],
            },
        });
        serde_json::from_value(crd).expect("a well-formed CustomResourceDefinition")
    }
}

/// Usage tracking failed.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The ProviderConfig named by the resource does not exist.
    #[error("cannot get {kind} {name:?}: not found")]
    MissingProviderConfig {
        /// The ProviderConfig kind.
        kind: String,
        /// The name the resource asked for.
        name: String,
    },
    /// Reading or writing the ProviderConfig or usage failed.
    #[error("cannot track {kind} usage: {}", crate::patch::describe(source))]
    Api {
        /// The ProviderConfig kind.
        kind: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Usages and ProviderConfigs this process has recently confirmed, so a burst of reconciles
/// (create, then observe ready; thousands of resources sharing one ProviderConfig) costs no API
/// reads. A confirmation is trusted for `ttl`: a usage or ProviderConfig deleted by hand is
/// noticed within it (a ProviderConfig in use cannot be deleted, and connecting reads it too).
#[derive(Debug)]
pub struct Tracked {
    ttl: Duration,
    /// ProviderConfig name and confirmation time, by managed resource UID.
    usages: Mutex<HashMap<String, (String, Instant)>>,
    /// Confirmation time of each ProviderConfig found, by name.
    configs: Mutex<HashMap<String, Instant>>,
}

impl Tracked {
    /// Trust a confirmation for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, usages: Mutex::default(), configs: Mutex::default() }
    }

    /// Ensure `mr`'s ProviderConfig exists and a usage records that `mr` uses it, reading only
    /// what was not confirmed less than `ttl` ago. Writes only when the usage is missing or
    /// names another ProviderConfig.
    ///
    /// # Panics
    /// If `mr` has no `metadata.uid` (it was not read from the API server).
    pub async fn track<M: Managed>(
        &self,
        client: &Client,
        kinds: &ProviderConfigKinds,
        mr: &M,
    ) -> Result<(), UsageError> {
        let uid = mr.uid().expect("a managed resource read from the API has a uid");
        let pc_name = mr.resource_spec().provider_config_name();
        let fresh = |at: &Instant| at.elapsed() < self.ttl;
        if lock(&self.usages).get(&uid).is_some_and(|(name, at)| name == pc_name && fresh(at)) {
            return Ok(());
        }
        if !lock(&self.configs).get(pc_name).is_some_and(fresh) {
            ensure_provider_config(client, kinds, pc_name).await?;
            lock(&self.configs).insert(pc_name.to_owned(), Instant::now());
        }
        record_usage(client, kinds, mr).await?;
        lock(&self.usages).insert(uid, (pc_name.to_owned(), Instant::now()));
        Ok(())
    }

    /// [`release`], and forget the confirmation.
    pub async fn release<M: Managed>(
        &self,
        client: &Client,
        kinds: &ProviderConfigKinds,
        mr: &M,
    ) -> Result<(), UsageError> {
        lock(&self.usages).remove(&mr.uid().unwrap_or_default());
        release(client, kinds, mr).await
    }
}

async fn ensure_provider_config(
    client: &Client,
    kinds: &ProviderConfigKinds,
    name: &str,
) -> Result<(), UsageError> {
    let kind = &kinds.provider_config.kind;
    let configs: Api<DynamicObject> = Api::all_with(client.clone(), &kinds.provider_config);
    match configs.get_opt(name).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => {
            Err(UsageError::MissingProviderConfig { kind: kind.clone(), name: name.to_owned() })
        }
        Err(source) => Err(UsageError::Api { kind: kind.clone(), source }),
    }
}

/// Creates or corrects `mr`'s usage. A resource whose external create never started is new,
/// so its usage is created without reading first (an earlier pass that failed after creating
/// it is answered with AlreadyExists, and read).
async fn record_usage<M: Managed>(
    client: &Client,
    kinds: &ProviderConfigKinds,
    mr: &M,
) -> Result<(), UsageError> {
    let kind = kinds.provider_config.kind.clone();
    let api_error = |source| UsageError::Api { kind: kind.clone(), source };
    let pc_name = mr.resource_spec().provider_config_name();
    let usages: Api<DynamicObject> = Api::all_with(client.clone(), &kinds.usage);
    let name = mr.uid().expect("a managed resource read from the API has a uid");
    let desired = json!({
        "providerConfigRef": { "name": pc_name },
        "resourceRef": {
            "apiVersion": M::api_version(&()),
            "kind": M::kind(&()),
            "name": mr.name_any(),
        },
    });
    let create = async || {
        let mut usage = DynamicObject::new(&name, &kinds.usage).data(desired.clone());
        usage.metadata.labels =
            Some([(PROVIDER_CONFIG_LABEL.to_owned(), pc_name.to_owned())].into());
        usage.metadata.owner_references = Some(vec![crate::managed::controller_reference(mr)]);
        match usages.create(&PostParams::default(), &usage).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(source) => Err(api_error(source)),
        }
    };
    if crate::annotations::never_created(mr) && create().await? {
        return Ok(());
    }
    match usages.get_opt(&name).await.map_err(api_error)? {
        None => {
            create().await?;
        }
        // The label is what the ProviderConfig controller counts, so it alone decides whether
        // the usage is current: comparing the body too would rewrite it on every pass wherever
        // the usage CRD prunes fields it does not declare.
        Some(usage)
            if usage.labels().get(PROVIDER_CONFIG_LABEL).map(String::as_str) != Some(pc_name) =>
        {
            let mut patch = desired;
            patch["metadata"] = json!({ "labels": { PROVIDER_CONFIG_LABEL: pc_name } });
            crate::patch::merge(&usages, &name, &patch).await.map_err(api_error)?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Delete `mr`'s usage so its ProviderConfig may be deleted; a missing usage is fine.
///
/// The usage's owner reference lets the garbage collector do this too, but not every API
/// server runs one, and releasing promptly unblocks ProviderConfig deletion at once.
pub async fn release<M: Managed>(
    client: &Client,
    kinds: &ProviderConfigKinds,
    mr: &M,
) -> Result<(), UsageError> {
    let usages: Api<DynamicObject> = Api::all_with(client.clone(), &kinds.usage);
    let Some(name) = mr.uid() else { return Ok(()) };
    match usages.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(UsageError::Api { kind: kinds.provider_config.kind.clone(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_crd_declares_crossplanes_top_level_fields() {
        let crd = ProviderConfigKinds::crossplane("aws.crossplane.io", "v1beta1").usage_crd();
        assert_eq!(crd.metadata.name.as_deref(), Some("providerconfigusages.aws.crossplane.io"));
        assert_eq!(crd.spec.scope, "Cluster");
        let schema = crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref();
        let properties = &schema.unwrap().properties.as_ref().unwrap();
        assert!(
            properties.contains_key("providerConfigRef") && properties.contains_key("resourceRef")
        );
    }
}
