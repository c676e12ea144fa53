//! Resource trees: a claim or composite with everything below it (following the same
//! references as [`crate::composition::trace`]), and a Kustomization with its inventory.
//! Connection Secrets show key names only; their values never leave the cache.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde::Deserialize;
use serde_json::Value;

use super::auth::Session;
use super::html::{self, badge, esc, url};
use super::overview::{condition, condition_status, object_value, standing};
use super::{Error, Role, WebState};
use crate::composition::trace::{ObjectRef, children};
use crate::gitops::build::inventory::ObjectId;

/// How many recent events a node shows.
const RECENT_EVENTS: usize = 5;
/// References deeper than this are not followed (hand-edited cycles).
const MAX_DEPTH: usize = 8;

/// `?namespace=` of a namespaced object.
#[derive(Debug, Default, Deserialize)]
pub struct Namespace {
    /// The object's namespace; empty for cluster-scoped objects.
    #[serde(default)]
    pub namespace: String,
}

fn ns_opt(namespace: &str) -> Option<&str> {
    (!namespace.is_empty()).then_some(namespace)
}

/// `GET /tree/{kind}/{name}?namespace=`: the object and everything below it.
pub async fn object(
    State(state): State<WebState>,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
    Query(Namespace { namespace }): Query<Namespace>,
) -> Result<Html<String>, Error> {
    let Some((cache, found)) = state.caches().find(&kind, ns_opt(&namespace), &name) else {
        // A claim the portal just committed is not in the cluster until the Git loop applies
        // it: say so, and let the live updates show it when it appears.
        let body = format!(
            r#"<h1>{} {}</h1><p class="pending">Not in the cluster yet. This page updates when it appears.</p>"#,
            esc(&kind),
            esc(&name)
        );
        return Ok(Html(html::page(&name, Some(&session.csrf), state.config().read_only, &body)));
    };
    let mut body = format!("<h1>{} {}</h1>", esc(&kind), esc(&name));
    if cache.role == Role::Managed {
        let _ = write!(
            body,
            r#"<p><a href="/diff/{}/{}">Cloud-side diff</a></p>"#,
            url(&kind),
            url(&name)
        );
    }
    body.push_str(r#"<ul class="tree">"#);
    node(&state, &object_value(&found), 0, &mut body);
    body.push_str("</ul>");
    Ok(Html(html::page(&name, Some(&session.csrf), state.config().read_only, &body)))
}

fn node(state: &WebState, object: &Value, depth: usize, out: &mut String) {
    let str_at = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let (kind, name, namespace) =
        (str_at("/kind"), str_at("/metadata/name"), str_at("/metadata/namespace"));
    let (standing, message) = standing(object);
    let ns_query =
        if namespace.is_empty() { String::new() } else { format!("?namespace={}", url(namespace)) };
    let _ = write!(
        out,
        r#"<li class="node {}"><a href="/tree/{}/{}{}">{}/{}</a>{} {} {} <span class="message">{}</span>"#,
        standing.as_str(),
        url(kind),
        url(name),
        ns_query,
        esc(kind),
        esc(name),
        if namespace.is_empty() { String::new() } else { format!(" ({})", esc(namespace)) },
        badge("Synced", &condition_status(object, "Synced")),
        badge("Ready", &condition_status(object, "Ready")),
        esc(&message),
    );
    details(state, object, out);
    let below = if depth < MAX_DEPTH { children(object) } else { Vec::new() };
    if !below.is_empty() {
        out.push_str("<ul>");
        for child in below {
            if child.kind == "Secret" && child.api_version == "v1" {
                secret(state, &child, out);
                continue;
            }
            match state.caches().find(&child.kind, child.namespace.as_deref(), &child.name) {
                Some((_, found)) => node(state, &object_value(&found), depth + 1, out),
                None => {
                    let _ = write!(
                        out,
                        r#"<li class="node missing">{}/{} <span class="message">not found</span></li>"#,
                        esc(&child.kind),
                        esc(&child.name)
                    );
                }
            }
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

/// Labels, annotations, conditions, external name, `status.atProvider` and recent events of one
/// object.
fn details(state: &WebState, object: &Value, out: &mut String) {
    out.push_str("<details><summary>details</summary>");
    for (title, field) in [("Labels", "labels"), ("Annotations", "annotations")] {
        // kubectl's last-applied copy repeats the whole manifest: noise here.
        let entries: Vec<_> = object["metadata"][field]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| *key != "kubectl.kubernetes.io/last-applied-configuration")
            .collect();
        if entries.is_empty() {
            continue;
        }
        let _ = write!(out, "<table class=\"{field}\"><tr><th>{title}</th><th></th></tr>");
        for (key, value) in entries {
            let value = value.as_str().unwrap_or_default();
            let _ =
                write!(out, "<tr><td>{}</td><td><code>{}</code></td></tr>", esc(key), esc(value));
        }
        out.push_str("</table>");
    }
    if let Some(external) =
        object["metadata"]["annotations"]["crossplane.io/external-name"].as_str()
    {
        let _ = write!(out, "<p>External name: <code>{}</code></p>", esc(external));
    }
    if let Some(conditions) = object["status"]["conditions"].as_array() {
        out.push_str("<table class=\"conditions\"><tr><th>Type</th><th>Status</th><th>Reason</th><th>Message</th><th>Since</th></tr>");
        for c in conditions {
            let field = |k: &str| esc(c[k].as_str().unwrap_or_default());
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                field("type"),
                field("status"),
                field("reason"),
                field("message"),
                field("lastTransitionTime")
            );
        }
        out.push_str("</table>");
    }
    if let Some(at_provider) = object["status"]["atProvider"].as_object().filter(|m| !m.is_empty())
    {
        out.push_str("<table class=\"at-provider\"><tr><th>atProvider</th><th></th></tr>");
        for (key, value) in at_provider {
            let shown = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            let _ =
                write!(out, "<tr><td>{}</td><td><code>{}</code></td></tr>", esc(key), esc(&shown));
        }
        out.push_str("</table>");
    }
    let events = recent_events(state, object);
    if !events.is_empty() {
        out.push_str("<table class=\"events\"><tr><th>Type</th><th>Reason</th><th>Note</th></tr>");
        for (type_, reason, note) in events {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&type_),
                esc(&reason),
                esc(&note)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</details>");
}

/// `(type, reason, note)` of the newest events about `object`, newest first.
pub fn recent_events(state: &WebState, object: &Value) -> Vec<(String, String, String)> {
    let uid = object["metadata"]["uid"].as_str();
    let (kind, name) = (object["kind"].as_str(), object["metadata"]["name"].as_str());
    let mut events = state.caches().events.state_filter(|e| {
        let Some(r) = &e.regarding else { return false };
        match (uid, r.uid.as_deref()) {
            (Some(a), Some(b)) => a == b,
            _ => r.kind.as_deref() == kind && r.name.as_deref() == name,
        }
    });
    let time = |e: &k8s_openapi::api::events::v1::Event| {
        e.series
            .as_ref()
            .map(|s| s.last_observed_time.0)
            .or(e.event_time.as_ref().map(|t| t.0))
            .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
    };
    events.sort_by_key(|e| std::cmp::Reverse(time(e)));
    events
        .iter()
        .take(RECENT_EVENTS)
        .map(|e| {
            (
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                e.note.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// A connection Secret: its key names, never its values.
fn secret(state: &WebState, secret: &ObjectRef, out: &mut String) {
    let found = state.caches().secrets.find(|s| {
        s.metadata.name.as_deref() == Some(secret.name.as_str())
            && s.metadata.namespace == secret.namespace
    });
    let keys: Vec<String> =
        found.map(|s| s.data.iter().flat_map(|d| d.keys()).cloned().collect()).unwrap_or_default();
    let _ = write!(
        out,
        r#"<li class="node secret">Secret/{}{} <span class="keys">{}</span></li>"#,
        esc(&secret.name),
        secret.namespace.as_deref().map(|n| format!(" ({})", esc(n))).unwrap_or_default(),
        if keys.is_empty() {
            "no keys yet".to_owned()
        } else {
            keys.iter().map(|k| format!("<code>{}</code>", esc(k))).collect::<Vec<_>>().join(" ")
        },
    );
}

/// `GET /kustomizations/{namespace}/{name}`: status, inventory and drift.
pub async fn kustomization(
    State(state): State<WebState>,
    Extension(session): Extension<Session>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Html<String>, Error> {
    let ks = state
        .caches()
        .kustomizations
        .find(|k| {
            k.metadata.namespace.as_deref() == Some(namespace.as_str())
                && k.metadata.name.as_deref() == Some(name.as_str())
        })
        .ok_or_else(|| Error::NotFound(format!("Kustomization {namespace}/{name}")))?;
    let value = serde_json::to_value(ks.as_ref()).unwrap_or_default();
    let (standing, message) = standing(&value);
    let status = ks.status.clone().unwrap_or_default();
    let mut body = format!(
        "<h1>Kustomization {}/{}</h1><p class=\"{}\">{} {} {}</p><p>Source: {}/{} · path <code>{}</code> · last applied <code>{}</code> · last attempted <code>{}</code></p>",
        esc(&namespace),
        esc(&name),
        standing.as_str(),
        badge("Ready", &condition_status(&value, "Ready")),
        badge("Healthy", &condition_status(&value, "Healthy")),
        esc(&message),
        esc(&ks.spec.source_ref.kind),
        esc(&ks.spec.source_ref.name),
        esc(ks.spec.path.as_deref().unwrap_or("./")),
        esc(status.last_applied_revision.as_deref().unwrap_or("-")),
        esc(status.last_attempted_revision.as_deref().unwrap_or("-")),
    );
    body.push_str("<h2>Inventory</h2><table id=\"inventory\"><tr><th>Kind</th><th>Namespace</th><th>Name</th><th>Version</th><th>Synced</th><th>Ready</th></tr>");
    for entry in status.inventory.iter().flat_map(|i| &i.entries) {
        let Some(id) = ObjectId::parse(&entry.id) else { continue };
        let live = state.caches().find(&id.kind, ns_opt(&id.namespace), &id.name);
        let live = live.map(|(_, o)| object_value(&o));
        let ns_query = if id.namespace.is_empty() {
            String::new()
        } else {
            format!("?namespace={}", url(&id.namespace))
        };
        let name_cell = match &live {
            Some(_) => format!(
                r#"<a href="/tree/{}/{}{}">{}</a>"#,
                url(&id.kind),
                url(&id.name),
                ns_query,
                esc(&id.name)
            ),
            None => esc(&id.name),
        };
        let status_of =
            |t: &str| live.as_ref().map(|l| condition_status(l, t)).unwrap_or("-".into());
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&id.kind),
            esc(&id.namespace),
            name_cell,
            esc(&entry.v),
            badge("Synced", &status_of("Synced")),
            badge("Ready", &status_of("Ready")),
        );
    }
    body.push_str("</table>");
    if let Some(drift) = condition(&value, "Drifted") {
        body.push_str("<h2 id=\"drift\">Drift</h2>");
        body.push_str(&super::diff::drift_section(drift["message"].as_str().unwrap_or_default()));
    }
    Ok(Html(html::page(&name, Some(&session.csrf), state.config().read_only, &body)))
}
