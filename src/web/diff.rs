//! Diffs: what an object should be against what it is.
//!
//! - a composed resource: desired, rendered from its composite through its Composition, against
//!   the live object, field by field ([`crate::gitops::drift::changed_fields`]);
//! - a managed resource: the cloud-side diff its observe reported, from the `Synced` message and
//!   `UpdatedExternalResource` events;
//! - a Kustomization: the fields its last apply found changed by hand (the `Drifted` record).

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde_json::Value;

use super::auth::Session;
use super::html::{self, esc, url};
use super::overview::{condition, object_value};
use super::tree::{Namespace, recent_events};
use super::{Error, WebState};
use crate::composition::{LABEL_COMPOSITE, Observed, render};
use crate::gitops::drift::changed_fields;

/// Prefixes of `Synced` messages that carry the external resource's diff.
const DIFF_MESSAGES: [&str; 2] =
    ["updated external resource: ", "but managementPolicies do not allow Update: "];
/// Event reason whose note is the diff an update applied.
const UPDATED_EVENT: &str = "UpdatedExternalResource";

/// One differing field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDiff {
    /// JSON pointer.
    pub path: String,
    /// Desired value, `None` when not set.
    pub desired: Option<Value>,
    /// Live value, `None` when missing.
    pub live: Option<Value>,
}

/// Fields of `desired` whose live value differs.
pub fn field_diffs(desired: &Value, live: &Value) -> Vec<FieldDiff> {
    changed_fields(desired, live)
        .into_iter()
        .map(|path| FieldDiff {
            desired: desired.pointer(&path).cloned(),
            live: live.pointer(&path).cloned(),
            path,
        })
        .collect()
}

/// The desired state of a composed `live` object, rendered from its composite, or why not.
fn desired_from_composition(state: &WebState, live: &Value) -> Result<Value, String> {
    let caches = state.caches();
    let composite_name = live["metadata"]["labels"][LABEL_COMPOSITE]
        .as_str()
        .ok_or("not composed: no crossplane.io/composite label")?;
    let resource_name = live["metadata"]["annotations"]
        [crate::composition::ANNOTATION_RESOURCE_NAME]
        .as_str()
        .ok_or("no crossplane.io/composition-resource-name annotation")?;
    let composite = caches
        .kinds()
        .into_iter()
        .filter(|k| k.role == super::Role::Composite)
        .find_map(|k| k.store.find(|o| o.metadata.name.as_deref() == Some(composite_name)))
        .map(|o| object_value(&o))
        .ok_or_else(|| format!("composite {composite_name} is not in the cache"))?;
    let composition_name = composite["spec"]["compositionRef"]["name"]
        .as_str()
        .ok_or_else(|| format!("composite {composite_name} has no spec.compositionRef yet"))?;
    let composition = caches
        .compositions
        .find(|c| c.metadata.name.as_deref() == Some(composition_name))
        .ok_or_else(|| format!("Composition {composition_name} is not in the cache"))?;
    let observed = Observed::from_objects(caches.kinds().iter().flat_map(|k| {
        k.store
            .state_filter(|o| {
                o.metadata.labels.as_ref().and_then(|l| l.get(LABEL_COMPOSITE)).map(String::as_str)
                    == Some(composite_name)
            })
            .into_iter()
            .map(|o| object_value(&o))
    }));
    let rendered = render(&composite, &composition, &observed).map_err(|e| e.to_string())?;
    let resource =
        rendered.resources.into_iter().find(|r| r.name == resource_name).ok_or_else(|| {
            format!("Composition {composition_name} no longer has {resource_name}")
        })?;
    resource.desired
}

fn show(value: &Option<Value>) -> String {
    match value {
        None => "<em>unset</em>".to_owned(),
        Some(Value::String(s)) => format!("<code>{}</code>", esc(s)),
        Some(v) => format!("<code>{}</code>", esc(&v.to_string())),
    }
}

/// `GET /diff/{kind}/{name}?namespace=`.
pub async fn object(
    State(state): State<WebState>,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
    Query(Namespace { namespace }): Query<Namespace>,
) -> Result<Html<String>, Error> {
    let ns = (!namespace.is_empty()).then_some(namespace.as_str());
    let (_, found) = state
        .caches()
        .find(&kind, ns, &name)
        .ok_or_else(|| Error::NotFound(format!("{kind}/{name}")))?;
    let live = object_value(&found);
    let ns_query = ns.map(|n| format!("?namespace={}", url(n))).unwrap_or_default();
    let mut body = format!(
        r#"<h1>Diff of {} <a href="/tree/{}/{}{ns_query}">{}</a></h1><h2>Desired (Composition) vs live</h2>"#,
        esc(&kind),
        url(&kind),
        url(&name),
        esc(&name)
    );
    match desired_from_composition(&state, &live) {
        Ok(desired) => {
            let diffs = field_diffs(&desired, &live);
            if diffs.is_empty() {
                body.push_str("<p class=\"ok\">In sync with its Composition.</p>");
            } else {
                body.push_str("<table id=\"desired-live\"><tr><th>Field</th><th>Desired</th><th>Live</th></tr>");
                for d in diffs {
                    let _ = write!(
                        body,
                        "<tr class=\"drift\"><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        esc(&d.path),
                        show(&d.desired),
                        show(&d.live)
                    );
                }
                body.push_str("</table>");
            }
        }
        Err(why) => {
            let _ = write!(body, "<p>No desired state to compare: {}.</p>", esc(&why));
        }
    }
    body.push_str("<h2>Cloud-side diff</h2>");
    let mut reported = Vec::new();
    if let Some(message) = condition(&live, "Synced").and_then(|c| c["message"].as_str()) {
        reported.extend(
            DIFF_MESSAGES.iter().find_map(|p| message.split_once(p)).map(|(_, d)| d.to_owned()),
        );
    }
    reported.extend(
        recent_events(&state, &live)
            .into_iter()
            .filter(|(_, reason, _)| reason == UPDATED_EVENT)
            .map(|(_, _, note)| note),
    );
    if reported.is_empty() {
        body.push_str("<p>The provider reported no difference with the cloud.</p>");
    } else {
        body.push_str("<ul id=\"cloud-diff\">");
        for diff in reported {
            let _ = write!(body, "<li><pre>{}</pre></li>", esc(&diff));
        }
        body.push_str("</ul>");
    }
    Ok(Html(html::page("Diff", Some(&session.csrf), state.config().read_only, &body)))
}

/// The Kustomization's drift record (`Drifted` message: `reverted manual changes: Kind/ns/name:
/// /field, …; …`) as a table of objects and the fields that had been changed by hand.
pub fn drift_section(message: &str) -> String {
    let list = message.split_once(": ").map(|(_, rest)| rest).unwrap_or(message);
    let mut out = String::from(
        "<p>Fields changed outside Git, found and reverted to Git's values on the last apply:</p><table id=\"drift-fields\"><tr><th>Object</th><th>Fields</th></tr>",
    );
    for item in list.split("; ").filter(|i| !i.is_empty()) {
        let (object, fields) = item.split_once(": ").unwrap_or((item, ""));
        let fields: String =
            fields.split(", ").map(|f| format!("<code>{}</code> ", esc(f))).collect();
        let _ = write!(out, "<tr><td>{}</td><td>{}</td></tr>", esc(object), fields);
    }
    out.push_str("</table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_diffs_pair_desired_and_live_values() {
        let desired =
            json!({"spec": {"forProvider": {"allocatedStorage": 20, "tags": {"a": "b"}}}});
        let live = json!({"spec": {"forProvider": {"allocatedStorage": 50}}});
        assert_eq!(
            field_diffs(&desired, &live),
            [
                FieldDiff {
                    path: "/spec/forProvider/allocatedStorage".into(),
                    desired: Some(json!(20)),
                    live: Some(json!(50)),
                },
                FieldDiff {
                    path: "/spec/forProvider/tags/a".into(),
                    desired: Some(json!("b")),
                    live: None
                },
            ]
        );
    }

    #[test]
    fn drift_records_list_each_object_and_its_fields() {
        let html = drift_section(
            "reverted manual changes: ConfigMap/apps/settings: /data/mode, /data/<b>; Service/apps/web: /spec/ports",
        );
        assert!(html.contains("<td>ConfigMap/apps/settings</td><td><code>/data/mode</code> <code>/data/&lt;b&gt;</code> </td>"));
        assert!(html.contains("<td>Service/apps/web</td><td><code>/spec/ports</code> </td>"));
    }
}
