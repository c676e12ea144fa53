//! `crosstie reconcile source git NAME` / `crosstie reconcile kustomization NAME`: set
//! `reconcile.fluxcd.io/requestedAt` like `flux reconcile`, then wait until the controller
//! echoes it in `status.lastHandledReconcileAt` and report the Ready condition.

use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::gitops::api::conditions::{self, READY};
use crate::gitops::api::{GitRepository, Kustomization, REQUESTED_AT_ANNOTATION};

/// Why a requested reconcile did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or annotating the object failed.
    #[error("{}", crosstie_runtime::patch::describe(.0))]
    Api(#[from] kube::Error),
    /// `spec.suspend` is true: the controller would not act on the request (as `flux reconcile`).
    #[error("resource is suspended")]
    Suspended,
    /// The controller did not handle the request in time.
    #[error("timed out after {0:?} waiting for the controller to handle the request")]
    Timeout(Duration),
    /// The object was reconciled but is not Ready.
    #[error("reconciliation failed: {reason}: {message}")]
    NotReady {
        /// Ready's reason.
        reason: String,
        /// Ready's message.
        message: String,
    },
}

/// An object whose reconcile can be requested and observed.
pub trait Reconcilable:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
{
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// `status.lastHandledReconcileAt`.
    fn last_handled(&self) -> Option<&str>;
    /// `status.conditions`.
    fn conditions(&self) -> &[Condition];
}

impl Reconcilable for GitRepository {
    fn suspended(&self) -> bool {
        self.spec.suspend == Some(true)
    }
    fn last_handled(&self) -> Option<&str> {
        self.status.as_ref()?.last_handled_reconcile_at.as_deref()
    }
    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }
}

impl Reconcilable for Kustomization {
    fn suspended(&self) -> bool {
        self.spec.suspend == Some(true)
    }
    fn last_handled(&self) -> Option<&str> {
        self.status.as_ref()?.last_handled_reconcile_at.as_deref()
    }
    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }
}

/// Annotate `namespace/name` with `requestedAt = now` and wait up to `timeout` for the
/// controller to handle it; returns Ready's message. A suspended object is refused untouched.
pub async fn reconcile<K: Reconcilable>(
    client: Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<String, Error> {
    let api: Api<K> = Api::namespaced(client, namespace);
    if api.get(name).await?.suspended() {
        return Err(Error::Suspended);
    }
    let requested_at = jiff::Timestamp::now().to_string();
    let patch =
        serde_json::json!({"metadata": {"annotations": {REQUESTED_AT_ANNOTATION: requested_at}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    let deadline = Instant::now() + timeout;
    loop {
        let object = api.get(name).await?;
        if object.last_handled() == Some(requested_at.as_str()) {
            return match conditions::get(object.conditions(), READY) {
                Some(ready) if ready.status == "True" => Ok(ready.message.clone()),
                Some(ready) => Err(Error::NotReady {
                    reason: ready.reason.clone(),
                    message: ready.message.clone(),
                }),
                None => Ok(String::new()),
            };
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout(timeout));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
