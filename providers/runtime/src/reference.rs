//! Cross-resource reference resolution (`fooRef` / `fooSelector` → `foo`).
//!
//! Follows crossplane-runtime's rules: a value already set is kept unless the policy says
//! `Always`; a ref reads the target's external name; a selector takes the first match (only
//! objects with the same controller when `matchControllerRef` is set); an empty result is an
//! error unless the resolution is `Optional`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};

use crate::Managed;
use crate::annotations::external_name;
use crate::spec::{Reference, Resolution, ResolvePolicy, Selector};

/// Resolves references for one managed resource. Built by the engine for each reconcile.
#[derive(Clone)]
pub struct Resolver {
    client: Client,
    /// The controller of the resource being resolved, for `matchControllerRef`.
    controller: Option<OwnerReference>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("controller", &self.controller).finish_non_exhaustive()
    }
}

/// A reference could not be resolved.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(pub String);

impl Resolver {
    /// A resolver for a resource controlled by `controller` (if any).
    pub fn new(client: Client, controller: Option<OwnerReference>) -> Self {
        Self { client, controller }
    }

    /// Resolve one reference field into `value`, reading the external name of the cluster-scoped
    /// managed resource `T` named by `reference` or chosen by `selector`.
    ///
    /// `field` names the value field (e.g. `spec.forProvider.dbSubnetGroupName`) for messages.
    pub async fn resolve<T: Managed>(
        &self,
        field: &str,
        value: &mut Option<String>,
        reference: Option<&Reference>,
        selector: Option<&Selector>,
    ) -> Result<(), ResolveError> {
        let policy = reference
            .and_then(|r| r.policy.as_ref())
            .or_else(|| selector.and_then(|s| s.policy.as_ref()));
        let always = policy.and_then(|p| p.resolve) == Some(ResolvePolicy::Always);
        let optional = policy.and_then(|p| p.resolution) == Some(Resolution::Optional);
        if value.as_deref().is_some_and(|v| !v.is_empty()) && !always {
            return Ok(());
        }
        let kind = T::kind(&());
        let api: Api<T> = Api::all(self.client.clone());
        let resolved = if let Some(reference) = reference {
            match api.get_opt(&reference.name).await {
                Ok(Some(target)) => external_name(&target).map(str::to_owned),
                Ok(None) if optional => return Ok(()),
                Ok(None) => {
                    return Err(ResolveError(format!(
                        "cannot resolve {field}: referenced {kind} {:?} not found",
                        reference.name
                    )));
                }
                Err(err) => {
                    return Err(ResolveError(format!("cannot resolve {field}: {err}")));
                }
            }
        } else if let Some(selector) = selector {
            let labels = selector
                .match_labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let list = api
                .list(&ListParams::default().labels(&labels))
                .await
                .map_err(|err| ResolveError(format!("cannot resolve {field}: {err}")))?;
            let want_controller = selector.match_controller_ref == Some(true);
            let Some(target) = list
                .items
                .iter()
                .find(|candidate| !want_controller || self.same_controller(*candidate))
            else {
                if optional {
                    return Ok(());
                }
                return Err(ResolveError(format!(
                    "cannot resolve {field}: no resources matched selector"
                )));
            };
            external_name(target).map(str::to_owned)
        } else {
            return Ok(());
        };
        match resolved {
            Some(name) if !name.is_empty() => {
                *value = Some(name);
                Ok(())
            }
            _ if optional => Ok(()),
            _ => Err(ResolveError(format!(
                "cannot resolve {field}: referenced field was empty (referenced resource may not yet be ready)"
            ))),
        }
    }

    fn same_controller<T: Resource>(&self, candidate: &T) -> bool {
        let theirs = candidate.owner_references().iter().find(|o| o.controller == Some(true));
        match (&self.controller, theirs) {
            (Some(ours), Some(theirs)) => ours.uid == theirs.uid,
            _ => false,
        }
    }
}
