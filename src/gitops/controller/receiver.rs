//! The Receiver reconciler (computes `status.webhookPath` from the token Secret) and
//! [`KubeReceivers`], the cluster side of the webhook router.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiResource};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Client, Resource, ResourceExt};

use super::{Context, Error, patch_status};
use crate::gitops::api::conditions::{self, reason};
use crate::gitops::api::{
    GitRepository, Kustomization, REQUESTED_AT_ANNOTATION, Receiver, WebhookTarget,
};
use crate::gitops::receiver::{Hook, ReceiverBackend, webhook_path};

/// Ready=False reason when the token Secret is missing or has no `token` key.
const TOKEN_NOT_FOUND: &str = "TokenNotFound";

/// Run the Receiver controller.
pub async fn run(ctx: Arc<Context>) {
    Controller::new(Api::<Receiver>::all(ctx.client.clone()), watcher::Config::default())
        .run(reconcile, |_, _: &Error, _| Action::requeue(Duration::from_secs(10)), ctx)
        .for_each(|_| async {})
        .await;
}

/// Reconcile one Receiver: Ready with `webhookPath` once its token exists.
pub async fn reconcile(receiver: Arc<Receiver>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = receiver.namespace().unwrap_or_default();
    let old = receiver.status.clone();
    let mut status = old.clone().unwrap_or_default();
    let generation = receiver.meta().generation;
    match token(&ctx.client, &ns, &receiver.spec.secret_ref.name).await {
        Some(token) => {
            let path = webhook_path(&token, &receiver.name_any(), &ns);
            let message = format!("Receiver initialized for path: {path}");
            status.webhook_path = Some(path);
            conditions::set(
                &mut status.conditions,
                conditions::READY,
                true,
                reason::SUCCEEDED,
                message,
                generation,
            );
        }
        None => {
            status.webhook_path = None;
            let message = format!(
                "secret {:?} (spec.secretRef) with key \"token\" not found",
                receiver.spec.secret_ref.name
            );
            conditions::set(
                &mut status.conditions,
                conditions::READY,
                false,
                TOKEN_NOT_FOUND,
                message,
                generation,
            );
        }
    }
    status.observed_generation = generation;
    patch_status(&ctx.client, receiver.as_ref(), old.as_ref(), &status).await?;
    // Token Secrets are not watched: recheck now and then so a rotated token takes effect.
    Ok(Action::requeue(Duration::from_secs(60)))
}

async fn token(client: &Client, namespace: &str, secret: &str) -> Option<String> {
    let secret =
        Api::<Secret>::namespaced(client.clone(), namespace).get_opt(secret).await.ok()??;
    let data = secret.data?.remove("token")?;
    String::from_utf8(data.0).ok()
}

/// The webhook backend over the Kubernetes API: Receivers are looked up by
/// `status.webhookPath`, targets are merge-patched with `reconcile.fluxcd.io/requestedAt`.
#[derive(Clone)]
pub struct KubeReceivers {
    client: Client,
}

impl KubeReceivers {
    /// A backend using `client`.
    pub fn new(client: Client) -> Self {
        KubeReceivers { client }
    }

    async fn resource_for(&self, target: &WebhookTarget) -> Result<ApiResource, String> {
        match (target.kind.as_str(), target.api_version.as_deref()) {
            ("GitRepository", None) => Ok(ApiResource::erase::<GitRepository>(&())),
            ("Kustomization", None) => Ok(ApiResource::erase::<Kustomization>(&())),
            (kind, Some(api_version)) => {
                let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
                let gvk = GroupVersionKind::gvk(group, version, kind);
                discovery::pinned_kind(&self.client, &gvk)
                    .await
                    .map(|(ar, _)| ar)
                    .map_err(|e| e.to_string())
            }
            (kind, None) => Err(format!("spec.resources: kind {kind:?} needs an apiVersion")),
        }
    }
}

impl ReceiverBackend for KubeReceivers {
    async fn find(&self, path: &str) -> Option<Hook> {
        let receivers =
            Api::<Receiver>::all(self.client.clone()).list(&ListParams::default()).await.ok()?;
        let receiver = receivers
            .into_iter()
            .find(|r| r.status.as_ref().and_then(|s| s.webhook_path.as_deref()) == Some(path))?;
        let ns = receiver.namespace().unwrap_or_default();
        let token = token(&self.client, &ns, &receiver.spec.secret_ref.name).await;
        Some(Hook { receiver, token })
    }

    async fn request_reconcile(
        &self,
        namespace: &str,
        target: &WebhookTarget,
        requested_at: &str,
    ) -> Result<usize, String> {
        let resource = self.resource_for(target).await?;
        let ns = target.namespace.as_deref().unwrap_or(namespace);
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &resource);
        let names = if target.name == "*" {
            let selector = target
                .match_labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let list = api
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| e.to_string())?;
            list.items.iter().map(ResourceExt::name_any).collect()
        } else {
            vec![target.name.clone()]
        };
        let patch = serde_json::json!({"metadata": {"annotations": {REQUESTED_AT_ANNOTATION: requested_at}}});
        for name in &names {
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| format!("{}/{ns}/{name}: {e}", target.kind))?;
        }
        Ok(names.len())
    }
}
