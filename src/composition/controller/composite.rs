//! The composite controller: selects a Composition, renders, applies composed resources,
//! deletes the ones no longer rendered, publishes the connection Secret and reports
//! `Synced` / `Ready`.

use std::sync::Arc;

use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::super::ANNOTATION_RESOURCE_NAME;
use super::super::claim::{connection_secret, secret_data};
use super::super::composite::{
    contains, defaults, resource_refs, spec_patch, stale, with_desired_hash,
};
use super::super::render::{Observed, render};
use super::super::select::{SelectError, select};
use super::super::status::{composite_conditions, condition, condition_changed, set_conditions};
use super::definition::KindContext;
use super::secrets::Reader;
use super::{
    COMPOSITE_FINALIZER, Error, REQUEUE_ERROR, REQUEUE_READY, REQUEUE_SETTLING, REQUEUE_UNREADY,
    apply, delete_connection_secret, get_cached, kube_err, now, patch_status, remove_finalizer,
    to_value, version,
};

/// Reconciles one composite.
pub async fn reconcile(xr: Arc<DynamicObject>, ctx: Arc<KindContext>) -> Result<Action, Error> {
    let shared = &ctx.shared;
    let api: Api<DynamicObject> = Api::all_with(shared.shared_client(), &ctx.composite_resource);
    let name = xr.name_any();
    let mut value = to_value(&*xr, "composite")?;
    // A DynamicObject drops nothing, but carries apiVersion/kind only when the server sent them.
    value["apiVersion"] = json!(ctx.composite.api_version());
    value["kind"] = json!(ctx.composite.kind);
    if xr.metadata.deletion_timestamp.is_some() {
        return cleanup(&ctx, &api, &xr, &value).await;
    }
    let stored = value.clone();

    let settings = ctx.settings.read().expect("settings lock").clone();
    let compositions = shared.compositions();
    let invalid = &compositions.invalid;
    let composition = match select(
        &value,
        &compositions.valid,
        settings.default_composition.as_deref(),
        settings.enforced_composition.as_deref(),
    ) {
        Ok(c) => c,
        Err(SelectError::NotFound { name: wanted, .. }) if invalid.contains_key(&wanted) => {
            let message = format!("cannot use composition {wanted:?}: {}", invalid[&wanted]);
            return fail(&ctx, &api, &name, &value, &message).await;
        }
        Err(e) => return fail(&ctx, &api, &name, &value, &e.to_string()).await,
    };
    if let Some(patch) = defaults(&value, composition) {
        merge(&mut value, &patch);
    }

    let mut observed = observe(&ctx, &value).await?;
    let rendered = match render(&value, composition, &observed) {
        Ok(r) => r,
        Err(e) => {
            save(&ctx, &api, &xr, &stored, &value).await?;
            return fail(&ctx, &api, &name, &value, &e.to_string()).await;
        }
    };
    let mut after = rendered.composite.clone();
    after["spec"]["resourceRefs"] = json!(resource_refs(&rendered, &observed));
    // The references are recorded before anything is composed, so a crash in between cannot
    // leave a composed resource nobody tracks.
    save(&ctx, &api, &xr, &stored, &after).await?;
    let mut errors = rendered.errors();
    let mut applied = Vec::new();
    for desired in rendered.composed() {
        let desired = &with_desired_hash(desired.clone());
        let resource_name = desired["metadata"]["annotations"][ANNOTATION_RESOURCE_NAME].as_str();
        let current = resource_name.and_then(|r| observed.resources.get(r));
        if current.is_some_and(|c| contains(c, desired)) {
            continue;
        }
        let result = match shared.api_for(desired).await {
            Ok(api) => apply(&api, desired).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(object) => {
                ctx.composite_passes.wrote(&name, version(&object));
                applied.push(object);
            }
            Err(e @ Error::NotServed { .. }) => errors.push(format!(
                "cannot compose resource {:?}: {e}",
                resource_name.unwrap_or_default()
            )),
            Err(e) => errors.push(e.to_string()),
        }
    }
    // Status and readiness are judged on the composed resources as they are after this
    // reconcile's writes: their echoes do not wake the composite again (`Passes`).
    let rendered = if applied.is_empty() {
        rendered
    } else {
        let applied: Vec<Value> =
            applied.iter().map(|o| to_value(o, "composed resource")).collect::<Result<_, _>>()?;
        observed.resources.extend(Observed::from_objects(applied).resources);
        match render(&value, composition, &observed) {
            Ok(r) => r,
            Err(e) => return fail(&ctx, &api, &name, &value, &e.to_string()).await,
        }
    };
    for object in stale(&rendered, &observed) {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let api = shared.api_for(object).await?;
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => errors.push(format!("cannot delete composed resource {name}: {e}")),
        }
    }

    let mut status = rendered.composite["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    if let Some(published) =
        publish(&ctx, &value, &rendered.connection_details, &settings.connection_secret_keys)
            .await?
    {
        status["connectionDetails"] = json!({"lastPublishedTime": published});
    }
    let [mut synced, ready] = composite_conditions(&rendered);
    if !errors.is_empty() {
        synced = condition("Synced", false, "ReconcileError", &errors.join("; "));
    }
    let mut object = json!({"status": status});
    set_conditions(&mut object, &[synced, ready], &now());
    if object["status"] != value["status"] {
        let written = patch_status(&api, &name, &object["status"]).await?;
        ctx.composite_passes.wrote(&name, version(&written));
        if !errors.is_empty() && condition_changed(&value, &object, "Synced") {
            ctx.shared.warn(&value, "ComposeResources", &errors.join("; ")).await;
        }
    }
    let settled = errors.is_empty() && rendered.unready().is_empty();
    Ok(Action::requeue(if settled { REQUEUE_READY } else { REQUEUE_SETTLING }))
}

/// Writes what changed from `stored` to `after` outside `status` (the selected Composition,
/// `ToCompositeFieldPath` results, `resourceRefs`) together with the finalizer, in one write;
/// adding the finalizer makes it conditional on the resourceVersion read.
async fn save(
    ctx: &KindContext,
    api: &Api<DynamicObject>,
    xr: &DynamicObject,
    stored: &Value,
    after: &Value,
) -> Result<(), Error> {
    let mut patch = spec_patch(stored, after);
    if !xr.finalizers().iter().any(|f| f == COMPOSITE_FINALIZER) {
        let mut finalizers = xr.finalizers().to_vec();
        finalizers.push(COMPOSITE_FINALIZER.to_owned());
        let patch = patch.get_or_insert_with(|| json!({}));
        patch["metadata"]["finalizers"] = json!(finalizers);
        patch["metadata"]["resourceVersion"] = json!(xr.resource_version());
    }
    let Some(patch) = patch else { return Ok(()) };
    let name = xr.name_any();
    let written = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kube_err(format!("cannot update {name}")))?;
    ctx.composite_passes.wrote(&name, version(&written));
    Ok(())
}

/// Fetches the composed resources in `spec.resourceRefs` and their connection Secrets.
async fn observe(ctx: &KindContext, xr: &Value) -> Result<Observed, Error> {
    let mut objects = Vec::new();
    for reference in xr["spec"]["resourceRefs"].as_array().into_iter().flatten() {
        let api = match ctx.shared.api_for(reference).await {
            Ok(api) => api,
            // Nothing of an unserved kind exists to observe; composing it reports why.
            Err(Error::NotServed { .. }) => continue,
            Err(e) => return Err(e),
        };
        let (api_version, kind) = (
            reference["apiVersion"].as_str().unwrap_or_default(),
            reference["kind"].as_str().unwrap_or_default(),
        );
        let (resource, _) = ctx.shared.resource(api_version, kind).await?;
        let cache = ctx.composed_cache(api_version, kind);
        let name = reference["name"].as_str().unwrap_or_default();
        let found = get_cached(cache, &resource, &api, name, "composed resource").await?;
        if let Some(object) = found {
            objects.push(object);
        }
    }
    let mut observed = Observed::from_objects(objects);
    // A managed resource reports its first conditions in the same reconcile that first publishes
    // its Secret, so one without conditions has none to read yet; it wakes its composite when
    // its status is written.
    let secrets: Vec<(String, Value)> = observed
        .resources
        .iter()
        .filter(|(_, o)| o["spec"]["writeConnectionSecretToRef"]["name"].is_string())
        .filter(|(_, o)| o["status"]["conditions"].as_array().is_some_and(|c| !c.is_empty()))
        .map(|(name, o)| (name.clone(), o["spec"]["writeConnectionSecretToRef"].clone()))
        .collect();
    let reader = ctx.composite_reader(xr["metadata"]["name"].as_str().unwrap_or_default());
    for (resource, secret_ref) in secrets {
        if let Some(secret) = read_secret(ctx, &secret_ref, &reader).await? {
            observed.connection_details.insert(resource, secret_data(&secret));
        }
    }
    Ok(observed)
}

/// The connection Secret `secret_ref` names, read by `reader`.
async fn read_secret(
    ctx: &KindContext,
    secret_ref: &Value,
    reader: &Reader,
) -> Result<Option<Value>, Error> {
    let (Some(name), Some(namespace)) =
        (secret_ref["name"].as_str(), secret_ref["namespace"].as_str())
    else {
        return Ok(None);
    };
    ctx.shared.secrets.read(namespace, name, reader).await
}

/// Writes the composite's connection Secret when its data changed; returns the publish time.
async fn publish(
    ctx: &KindContext,
    xr: &Value,
    details: &std::collections::BTreeMap<String, Vec<u8>>,
    keys: &[String],
) -> Result<Option<String>, Error> {
    let secret_ref = &xr["spec"]["writeConnectionSecretToRef"];
    let (Some(name), Some(namespace)) =
        (secret_ref["name"].as_str(), secret_ref["namespace"].as_str())
    else {
        return Ok(None);
    };
    if details.is_empty() {
        return Ok(None);
    }
    let desired = connection_secret(xr, name, namespace, details, keys);
    let reader = ctx.composite_reader(xr["metadata"]["name"].as_str().unwrap_or_default());
    let current = read_secret(ctx, secret_ref, &reader).await?;
    if current.as_ref().is_some_and(|c| c["data"] == desired["data"]) {
        return Ok(None);
    }
    let api: Api<DynamicObject> = ctx.shared.api_for(&desired).await?;
    let written = apply(&api, &desired).await?;
    reader.wrote(&written);
    Ok(Some(now()))
}

/// Deletes composed resources, waits for them to go, then releases the composite.
async fn cleanup(
    ctx: &KindContext,
    api: &Api<DynamicObject>,
    xr: &DynamicObject,
    value: &Value,
) -> Result<Action, Error> {
    let mut remaining = 0;
    for reference in value["spec"]["resourceRefs"].as_array().into_iter().flatten() {
        let name = reference["name"].as_str().unwrap_or_default();
        let composed = match ctx.shared.api_for(reference).await {
            Ok(api) => api,
            // A kind the API server does not serve has no objects left to delete. (Should it
            // come back, an object of it still owned by this composite is garbage-collected.)
            Err(Error::NotServed { .. }) => continue,
            Err(e) => return Err(e),
        };
        match composed
            .get_opt(name)
            .await
            .map_err(kube_err(format!("cannot get composed resource {name}")))?
        {
            Some(object) if object.metadata.deletion_timestamp.is_some() => remaining += 1,
            Some(_) => {
                remaining += 1;
                composed
                    .delete(name, &DeleteParams::background())
                    .await
                    .map_err(kube_err(format!("cannot delete composed resource {name}")))?;
            }
            None => {}
        }
    }
    if remaining > 0 {
        return Ok(Action::requeue(REQUEUE_UNREADY));
    }
    let secret = &value["spec"]["writeConnectionSecretToRef"];
    if let (Some(name), Some(namespace), Some(uid)) =
        (secret["name"].as_str(), secret["namespace"].as_str(), xr.uid())
    {
        delete_connection_secret(&ctx.shared.shared_client(), namespace, name, &uid).await?;
    }
    if xr.finalizers().iter().any(|f| f == COMPOSITE_FINALIZER) {
        remove_finalizer(api, xr, COMPOSITE_FINALIZER).await?;
    }
    ctx.composite_passes.forget(&xr.name_any());
    Ok(Action::await_change())
}

/// Reports a composite-level failure (no Composition, nothing renderable): nothing composed is
/// touched.
async fn fail(
    ctx: &KindContext,
    api: &Api<DynamicObject>,
    name: &str,
    xr: &Value,
    message: &str,
) -> Result<Action, Error> {
    let mut object = json!({"status": xr["status"].clone()});
    if !object["status"].is_object() {
        object["status"] = json!({});
    }
    if set_conditions(&mut object, &[condition("Synced", false, "ReconcileError", message)], &now())
    {
        let written = patch_status(api, name, &object["status"]).await?;
        ctx.composite_passes.wrote(name, version(&written));
        ctx.shared.warn(xr, "SelectComposition", message).await;
    }
    Ok(Action::requeue(REQUEUE_ERROR))
}

/// Applies a JSON merge patch to a local copy.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}
