//! Actions: each is an ordinary Kubernetes write plus an Event naming who asked.
//!
//! - `reconcile`: `reconcile.fluxcd.io/requestedAt` on Flux objects (as `flux reconcile`),
//!   `crossplane.io/reconcile-requested-at` on claims, composites and managed resources;
//! - `suspend` / `resume`: a Kustomization's `spec.suspend`;
//! - `pause` / `unpause`: a managed resource's `crossplane.io/paused` annotation.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::{Extension, Form};
use kube::Resource as _;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use kube::runtime::events::{Event, EventType};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Session;
use super::html::{csrf_field, esc};
use super::{Error, Role, WebState};
use crate::gitops::api::{GitRepository, Kustomization, REQUESTED_AT_ANNOTATION};

/// Annotation asking Crossplane-style controllers to reconcile now.
pub const CROSSPLANE_RECONCILE_ANNOTATION: &str = "crossplane.io/reconcile-requested-at";
/// Annotation pausing a managed resource.
pub const PAUSED_ANNOTATION: &str = "crossplane.io/paused";
/// Field manager of the dashboard's writes.
pub const FIELD_MANAGER: &str = "crosstie-dashboard";

/// A small POST form for one action on one object.
pub fn button(
    csrf: &str,
    action: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    label: &str,
) -> String {
    format!(
        r#"<form method="post" action="/actions/{action}" class="inline">{}<input type="hidden" name="kind" value="{}"><input type="hidden" name="namespace" value="{}"><input type="hidden" name="name" value="{}"><button>{}</button></form>"#,
        csrf_field(csrf),
        esc(kind),
        esc(namespace.unwrap_or_default()),
        esc(name),
        esc(label),
    )
}

/// The object an action applies to.
#[derive(Debug, Deserialize)]
pub struct Target {
    kind: String,
    #[serde(default)]
    namespace: String,
    name: String,
}

/// The patch for `action` on an object of `kind` in `role` (`None` for Flux kinds), at `now`.
pub fn patch_for(action: &str, kind: &str, role: Option<Role>, now: &str) -> Result<Value, Error> {
    let refused = || Error::BadRequest(format!("action {action:?} does not apply to {kind}"));
    Ok(match (action, role) {
        ("reconcile", None) => json!({"metadata": {"annotations": {REQUESTED_AT_ANNOTATION: now}}}),
        ("reconcile", Some(_)) => {
            json!({"metadata": {"annotations": {CROSSPLANE_RECONCILE_ANNOTATION: now}}})
        }
        ("suspend" | "resume", None) if kind == "Kustomization" => {
            json!({"spec": {"suspend": action == "suspend"}})
        }
        ("pause", Some(Role::Managed)) => {
            json!({"metadata": {"annotations": {PAUSED_ANNOTATION: "true"}}})
        }
        ("unpause", Some(Role::Managed)) => {
            json!({"metadata": {"annotations": {PAUSED_ANNOTATION: null}}})
        }
        _ => return Err(refused()),
    })
}

/// `POST /actions/{action}`: patches the object, records an Event, returns to the overview.
pub async fn handle(
    State(state): State<WebState>,
    Extension(session): Extension<Session>,
    Path(action): Path<String>,
    Form(target): Form<Target>,
) -> Result<impl IntoResponse, Error> {
    if state.config().read_only {
        return Err(Error::Forbidden("the dashboard is read-only"));
    }
    let (resource, role) = match target.kind.as_str() {
        "GitRepository" => (ApiResource::erase::<GitRepository>(&()), None),
        "Kustomization" => (ApiResource::erase::<Kustomization>(&()), None),
        kind => {
            let cache = state.caches().kinds().into_iter().find(|k| k.resource.kind == kind);
            let cache = cache.ok_or_else(|| Error::NotFound(format!("kind {kind}")))?;
            (cache.resource, Some(cache.role))
        }
    };
    let now = jiff::Timestamp::now().to_string();
    let patch = patch_for(&action, &target.kind, role, &now)?;
    let api: Api<DynamicObject> = if target.namespace.is_empty() {
        Api::all_with(state.client(), &resource)
    } else {
        Api::namespaced_with(state.client(), &target.namespace, &resource)
    };
    let params = PatchParams::apply(FIELD_MANAGER);
    let patched = api.patch(&target.name, &params, &Patch::Merge(&patch)).await?;
    let reason = match action.as_str() {
        "reconcile" => "ReconcileRequested",
        "suspend" => "Suspended",
        "resume" => "Resumed",
        "pause" => "Paused",
        _ => "Unpaused",
    };
    let event = Event {
        type_: EventType::Normal,
        reason: reason.to_owned(),
        note: Some(format!(
            "{action} requested by {} <{}> from the dashboard",
            session.name, session.email
        )),
        action: action.clone(),
        secondary: None,
    };
    // The write happened; a lost Event must not turn it into an error page.
    if let Err(error) = state.recorder().publish(&event, &patched.object_ref(&resource)).await {
        tracing::warn!(%error, "recording the dashboard action's event failed");
    }
    Ok(Redirect::to("/"))
}
