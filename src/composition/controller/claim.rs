//! The claim controller: creates or binds the claim's composite, mirrors its status, copies
//! its connection Secret into the claim's namespace, and deletes it with the claim.

use std::sync::Arc;

use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::super::claim::{
    bound_to, can_bind, claim_status, composite_for_claim, connection_secret, controlled_by,
    new_composite_name, secret_data,
};
use super::super::composite::{contains, with_desired_hash};
use super::super::status::{condition, set_conditions};
use super::definition::{KindContext, claim_key};
use super::{
    CLAIM_FINALIZER, Error, REQUEUE_ERROR, REQUEUE_READY, REQUEUE_SETTLING, REQUEUE_UNREADY, apply,
    cached, delete_connection_secret, ensure_finalizer, get_cached, kube_err, now, patch_status,
    remove_finalizer, to_value, version,
};

/// Reconciles one claim.
pub async fn reconcile(claim: Arc<DynamicObject>, ctx: Arc<KindContext>) -> Result<Action, Error> {
    let client = ctx.shared.shared_client();
    let namespace = claim.namespace().unwrap_or_default();
    let name = claim.name_any();
    let pass = claim_key(&namespace, &name);
    let Some(claim_resource) = &ctx.claim_resource else {
        return Ok(Action::await_change());
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, claim_resource);
    let composites: Api<DynamicObject> = Api::all_with(client.clone(), &ctx.composite_resource);
    let mut value = to_value(&*claim, "claim")?;
    value["apiVersion"] = json!(claim_resource.api_version);
    value["kind"] = json!(claim_resource.kind);
    let bound = value["spec"]["resourceRef"]["name"].as_str().map(str::to_owned);

    if claim.metadata.deletion_timestamp.is_some() {
        return cleanup(&ctx, &pass, &client, &api, &composites, &claim, bound.as_deref()).await;
    }
    // Record the composite's name before creating it, so a crash in between cannot leave an
    // orphan composite (and its cloud resources) behind. The bind (with the finalizer, in one
    // write) is conditional on the claim's resourceVersion: a reconcile of a cached copy that
    // predates our own bind must fail with a conflict, not bind a second composite.
    let freshly_bound = bound.is_none();
    let composite_name = match bound {
        Some(n) => {
            if let Some(written) = ensure_finalizer(&api, &claim, CLAIM_FINALIZER).await? {
                ctx.claim_passes.wrote(&pass, version(&written));
            }
            n
        }
        None => {
            let n = new_composite_name(&name, &mut rand::rng());
            let mut finalizers = claim.finalizers().to_vec();
            if !finalizers.iter().any(|f| f == CLAIM_FINALIZER) {
                finalizers.push(CLAIM_FINALIZER.to_owned());
            }
            let patch = json!({
                "metadata": {"resourceVersion": claim.resource_version(), "finalizers": finalizers},
                "spec": {"resourceRef": {
                    "apiVersion": ctx.composite.api_version(), "kind": ctx.composite.kind, "name": n,
                }},
            });
            let bound = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(kube_err(format!("cannot bind claim {namespace}/{name}")))?;
            ctx.claim_passes.wrote(&pass, version(&bound));
            n
        }
    };
    let label = format!("{}/{composite_name}", ctx.composite.kind);
    // A name generated just now is only looked up in the cache: a composite of that name can
    // only be one that already existed, and the cache holds those (no GET for every new claim).
    let (cache, resource) = (&ctx.composite_cache, &ctx.composite_resource);
    let existing = if freshly_bound {
        cached(cache, resource, &composite_name, "composite")?
    } else {
        get_cached(Some(cache), resource, &composites, &composite_name, "composite").await?
    };
    if existing.as_ref().is_some_and(|e| !can_bind(&value, e)) {
        let message =
            format!("cannot bind composite resource {label}: it is claimed by another claim");
        return fail(&ctx, &pass, &api, &name, &value, &message).await;
    }
    let desired = with_desired_hash(composite_for_claim(&value, &composite_name, &ctx.composite));
    let mut composite = match existing {
        Some(existing) if contains(&existing, &desired) => existing,
        _ => {
            let written = apply(&composites, &desired).await?;
            ctx.claim_passes.wrote(&pass, version(&written));
            to_value(&written, "composite")?
        }
    };
    composite["apiVersion"] = json!(ctx.composite.api_version());
    composite["kind"] = json!(ctx.composite.kind);

    let mut status = claim_status(Some(&composite), &label);
    if let Some(published) = propagate_secret(&ctx, &value, &composite).await? {
        status["connectionDetails"] = json!({"lastPublishedTime": published});
    } else if let Some(previous) = value["status"].get("connectionDetails") {
        status["connectionDetails"] = previous.clone();
    }
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    let mut object = json!({"status": value["status"].clone()});
    if !object["status"].is_object() {
        object["status"] = json!({});
    }
    for (k, v) in status.as_object().into_iter().flatten().filter(|(k, _)| *k != "conditions") {
        object["status"][k.as_str()] = v.clone();
    }
    set_conditions(&mut object, &conditions, &now());
    if object["status"] != value["status"] {
        let written = patch_status(&api, &name, &object["status"]).await?;
        ctx.claim_passes.wrote(&pass, version(&written));
    }
    let ready = conditions.iter().all(|c| c["status"] == "True");
    Ok(Action::requeue(if ready { REQUEUE_READY } else { REQUEUE_SETTLING }))
}

/// Copies the composite's connection Secret (only if the composite controls it) into the
/// claim's namespace; returns the publish time when the data changed.
async fn propagate_secret(
    ctx: &KindContext,
    claim: &Value,
    composite: &Value,
) -> Result<Option<String>, Error> {
    let (Some(target), Some(source), Some(source_ns), Some(uid)) = (
        claim["spec"]["writeConnectionSecretToRef"]["name"].as_str(),
        composite["spec"]["writeConnectionSecretToRef"]["name"].as_str(),
        composite["spec"]["writeConnectionSecretToRef"]["namespace"].as_str(),
        composite["metadata"]["uid"].as_str(),
    ) else {
        return Ok(None);
    };
    // Until the composite has published its Secret there is nothing to copy, nor to read.
    if composite["status"]["connectionDetails"]["lastPublishedTime"].is_null() {
        return Ok(None);
    }
    let namespace = claim["metadata"]["namespace"].as_str().unwrap_or_default();
    let (Some(resource), Some(name)) = (&ctx.claim_resource, claim["metadata"]["name"].as_str())
    else {
        return Ok(None);
    };
    let reader = ctx.claim_reader(resource, namespace, name);
    let secrets = &ctx.shared.secrets;
    let Some(source) = secrets.read(source_ns, source, &reader).await? else {
        return Ok(None);
    };
    if !controlled_by(&source, uid) {
        return Ok(None);
    }
    let desired = connection_secret(claim, target, namespace, &secret_data(&source), &[]);
    let current = secrets.read(namespace, target, &reader).await?;
    if current.is_some_and(|current| current["data"] == desired["data"]) {
        return Ok(None);
    }
    let api: Api<DynamicObject> = ctx.shared.api_for(&desired).await?;
    let written = apply(&api, &desired).await?;
    reader.wrote(&written);
    Ok(Some(now()))
}

/// Deletes the claim's composite (only if it is bound to this claim: a claim refused binding
/// still names another claim's composite), waits for it to go (its own finalizer deletes the
/// composed resources first), deletes the claim's connection Secret, then releases the claim.
async fn cleanup(
    ctx: &KindContext,
    pass: &str,
    client: &kube::Client,
    api: &Api<DynamicObject>,
    composites: &Api<DynamicObject>,
    claim: &DynamicObject,
    composite: Option<&str>,
) -> Result<Action, Error> {
    if let Some(composite) = composite {
        let found = composites
            .get_opt(composite)
            .await
            .map_err(kube_err(format!("cannot get composite {composite}")))?;
        if let Some(found) = found
            && bound_to(&to_value(claim, "claim")?, &to_value(&found, "composite")?)
        {
            if found.metadata.deletion_timestamp.is_none() {
                // Conditional on the version checked: it is the composite that was bound.
                let preconditions = Preconditions {
                    resource_version: found.metadata.resource_version.clone(),
                    uid: found.metadata.uid.clone(),
                };
                let params = DeleteParams {
                    preconditions: Some(preconditions),
                    ..DeleteParams::background()
                };
                composites
                    .delete(composite, &params)
                    .await
                    .map_err(kube_err(format!("cannot delete composite {composite}")))?;
            }
            return Ok(Action::requeue(REQUEUE_UNREADY));
        }
    }
    let secret = claim.data["spec"]["writeConnectionSecretToRef"]["name"].as_str();
    if let (Some(name), Some(namespace), Some(uid)) = (secret, claim.namespace(), claim.uid()) {
        delete_connection_secret(client, &namespace, name, &uid).await?;
    }
    if claim.finalizers().iter().any(|f| f == CLAIM_FINALIZER) {
        remove_finalizer(api, claim, CLAIM_FINALIZER).await?;
    }
    ctx.claim_passes.forget(pass);
    Ok(Action::await_change())
}

async fn fail(
    ctx: &KindContext,
    pass: &str,
    api: &Api<DynamicObject>,
    name: &str,
    claim: &Value,
    message: &str,
) -> Result<Action, Error> {
    let mut object = json!({"status": claim["status"].clone()});
    if !object["status"].is_object() {
        object["status"] = json!({});
    }
    if set_conditions(&mut object, &[condition("Synced", false, "ReconcileError", message)], &now())
    {
        let written = patch_status(api, name, &object["status"]).await?;
        ctx.claim_passes.wrote(pass, version(&written));
        ctx.shared.warn(claim, "BindCompositeResource", message).await;
    }
    Ok(Action::requeue(REQUEUE_ERROR))
}
