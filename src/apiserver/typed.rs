//! Built-in kinds are decoded as kube-apiserver's typed decoder does: through their Go types'
//! Rust twins in k8s-openapi. A value of the wrong type (`replicas: "three"`, a label that is a
//! number) is refused naming its field, because every typed client (kubectl describe,
//! client-go informers, kube-rs reflectors) would fail to read the object back; a field the kind
//! does not have is unknown (refused under `fieldValidation=Strict`, dropped otherwise).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Why a built-in object cannot be decoded.
#[derive(Debug, PartialEq)]
pub struct TypeError {
    /// The field, as kube-apiserver names it (`spec.template.spec.containers[0].image`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Decodes `object` (stored shape) as the built-in kind stored under `storage`. Returns the
/// paths of fields the kind does not have, or `None` when `storage` is not a typed built-in.
pub fn unknown_fields(storage: &str, object: &Value) -> Option<Result<Vec<String>, TypeError>> {
    use k8s_openapi::api::{apps, autoscaling, batch, coordination, core, networking, rbac};
    Some(match storage {
        "/namespaces" => round_trip::<core::v1::Namespace>(object),
        "/secrets" => round_trip::<core::v1::Secret>(object),
        "/configmaps" => round_trip::<core::v1::ConfigMap>(object),
        "/serviceaccounts" => round_trip::<core::v1::ServiceAccount>(object),
        "/events" => round_trip::<core::v1::Event>(object),
        "/services" => round_trip::<core::v1::Service>(object),
        "/persistentvolumeclaims" => round_trip::<core::v1::PersistentVolumeClaim>(object),
        "coordination.k8s.io/leases" => round_trip::<coordination::v1::Lease>(object),
        "apps/deployments" => round_trip::<apps::v1::Deployment>(object),
        "apps/statefulsets" => round_trip::<apps::v1::StatefulSet>(object),
        "apps/daemonsets" => round_trip::<apps::v1::DaemonSet>(object),
        "apps/replicasets" => round_trip::<apps::v1::ReplicaSet>(object),
        "batch/jobs" => round_trip::<batch::v1::Job>(object),
        "batch/cronjobs" => round_trip::<batch::v1::CronJob>(object),
        "networking.k8s.io/ingresses" => round_trip::<networking::v1::Ingress>(object),
        "autoscaling/horizontalpodautoscalers" => {
            round_trip::<autoscaling::v2::HorizontalPodAutoscaler>(object)
        }
        "rbac.authorization.k8s.io/roles" => round_trip::<rbac::v1::Role>(object),
        "rbac.authorization.k8s.io/rolebindings" => round_trip::<rbac::v1::RoleBinding>(object),
        "rbac.authorization.k8s.io/clusterroles" => round_trip::<rbac::v1::ClusterRole>(object),
        "rbac.authorization.k8s.io/clusterrolebindings" => {
            round_trip::<rbac::v1::ClusterRoleBinding>(object)
        }
        _ => return None,
    })
}

/// Sets the defaults kube-apiserver gives the fields typed clients read without checking
/// (`kubectl describe deployment` dereferences `spec.replicas` and the rolling-update
/// parameters).
pub fn apply_defaults(storage: &str, object: &mut Value) {
    if storage == "/secrets" {
        if object.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
            object["type"] = Value::String("Opaque".into());
        }
        return;
    }
    // Only the kinds below have a spec to default: indexing creates the field.
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let mut default = |field: &str, value: Value| {
        if spec.get(field).is_none_or(Value::is_null) {
            spec.insert(field.to_owned(), value);
        }
    };
    match storage {
        "apps/deployments" => {
            default("replicas", json!(1));
            default("revisionHistoryLimit", json!(10));
            default("progressDeadlineSeconds", json!(600));
            default(
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            );
        }
        "apps/statefulsets" => {
            default("replicas", json!(1));
            default("revisionHistoryLimit", json!(10));
            default("podManagementPolicy", json!("OrderedReady"));
            default(
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
        }
        "apps/daemonsets" => {
            default("revisionHistoryLimit", json!(10));
            default(
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
        }
        "/services" => {
            default("type", json!("ClusterIP"));
            default("sessionAffinity", json!("None"));
        }
        _ => {}
    }
}

/// The changes an update of a built-in kind may not make, as (field, message): what
/// kube-apiserver's validation refuses as immutable.
pub fn immutable_changes(storage: &str, old: &Value, new: &Value) -> Vec<(String, String)> {
    let mut refused = Vec::new();
    let selector = |refused: &mut Vec<_>| {
        unchanged(refused, "spec.selector", &old["spec"]["selector"], &new["spec"]["selector"])
    };
    match storage {
        "/configmaps" | "/secrets" if old["immutable"] == true => {
            for field in ["data", "binaryData", "immutable"] {
                if old[field] != new[field] {
                    let message = "Forbidden: field is immutable when `immutable` is set";
                    refused.push((field.to_owned(), message.to_owned()));
                }
            }
            if storage == "/secrets" {
                unchanged(&mut refused, "type", &secret_type(old), &new["type"]);
            }
        }
        "/secrets" => unchanged(&mut refused, "type", &secret_type(old), &new["type"]),
        "apps/deployments" | "apps/replicasets" | "apps/statefulsets" | "apps/daemonsets" => {
            selector(&mut refused)
        }
        "batch/jobs" => {
            selector(&mut refused);
            let template = (&old["spec"]["template"], &new["spec"]["template"]);
            unchanged(&mut refused, "spec.template", template.0, template.1);
        }
        _ => {}
    }
    refused
}

/// A ConfigMap's or Secret's data beyond kube-apiserver's 1 MiB limit, as (field, message).
pub fn too_large(storage: &str, object: &Value) -> Option<(String, String)> {
    const LIMIT: usize = 1024 * 1024;
    let (fields, field): (&[&str], &str) = match storage {
        "/configmaps" => (&["data", "binaryData"], "[]"),
        "/secrets" => (&["data"], "data"),
        _ => return None,
    };
    let size: usize = fields
        .iter()
        .filter_map(|f| object[f].as_object())
        .flatten()
        .map(|(key, value)| key.len() + value.as_str().map_or(0, str::len))
        .sum();
    (size > LIMIT).then(|| (field.to_owned(), format!("Too long: must have at most {LIMIT} bytes")))
}

/// A stored Secret's type, defaulted as [`apply_defaults`] defaults the update's (Secrets stored
/// before defaulting may have none).
fn secret_type(secret: &Value) -> Value {
    match secret["type"].as_str() {
        None | Some("") => Value::String("Opaque".into()),
        Some(_) => secret["type"].clone(),
    }
}

/// Refuses `field` when an update changes it.
fn unchanged(refused: &mut Vec<(String, String)>, field: &str, old: &Value, new: &Value) {
    if old != new {
        let shown = serde_json::to_string(new).unwrap_or_default();
        refused.push((field.to_owned(), format!("Invalid value: {shown}: field is immutable")));
    }
}

/// Drops from `object` every field its typed decoding does not keep (see [`unknown_fields`]).
pub fn prune(object: &mut Value, unknown: &[String]) {
    for path in unknown {
        remove_path(object, path);
    }
}

fn round_trip<K>(object: &Value) -> Result<Vec<String>, TypeError>
where
    K: DeserializeOwned + Serialize + k8s_openapi::Resource,
{
    // The decoders insist on their own apiVersion and kind, which the stored shape (and a body
    // that leaves them to the URL) need not carry.
    let typed_meta = object["apiVersion"] == K::API_VERSION && object["kind"] == K::KIND;
    let retyped;
    let decoded = if typed_meta {
        object
    } else {
        retyped = {
            let mut copy = object.clone();
            copy["apiVersion"] = Value::String(K::API_VERSION.to_owned());
            copy["kind"] = Value::String(K::KIND.to_owned());
            copy
        };
        &retyped
    };
    let typed: K = serde_path_to_error::deserialize(decoded).map_err(|e| TypeError {
        field: kube_path(&e.path().to_string()),
        message: e.inner().to_string(),
    })?;
    let kept = serde_json::to_value(typed)
        .map_err(|e| TypeError { field: String::new(), message: e.to_string() })?;
    // An empty list or map the typed form leaves out is no field of its own.
    Ok(super::schema::dropped_paths(decoded, &kept, &[], true))
}

/// serde_path_to_error writes list indexes as path segments (`containers.0.image`); Kubernetes
/// writes them in brackets (`containers[0].image`).
fn kube_path(path: &str) -> String {
    let mut out = String::new();
    for segment in path.split('.').filter(|s| *s != "?") {
        if segment.parse::<usize>().is_ok() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

fn remove_path(object: &mut Value, path: &str) {
    let (parent, field) = match path.rsplit_once('.') {
        Some((parent, field)) if !field.contains('[') => (Some(parent), field),
        None if !path.contains('[') => (None, path),
        // Fields are only ever dropped from objects; an index path is never the last segment.
        _ => return,
    };
    let mut node = object;
    for segment in parent.into_iter().flat_map(|p| p.split('.')) {
        let (name, indexes) = segment.split_once('[').map_or((segment, ""), |(n, i)| (n, i));
        let Some(next) = node.get_mut(name) else { return };
        node = next;
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            let Some(next) =
                index.trim_end_matches(']').parse().ok().and_then(|i: usize| node.get_mut(i))
            else {
                return;
            };
            node = next;
        }
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec})
    }

    fn pod_template(container: Value) -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}})
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_naming_its_field() {
        let spec = json!({"replicas": "three", "selector": {"matchLabels": {"app": "web"}},
            "template": pod_template(json!({"name": "web", "image": "nginx"}))});
        let err = unknown_fields("apps/deployments", &deployment(spec)).unwrap().unwrap_err();
        assert_eq!(err.field, "spec.replicas");
        assert!(err.message.contains("invalid type: string \"three\""), "{}", err.message);

        let spec =
            json!({"selector": {}, "template": pod_template(json!({"name": "web", "image": 7}))});
        let err = unknown_fields("apps/deployments", &deployment(spec)).unwrap().unwrap_err();
        assert_eq!(err.field, "spec.template.spec.containers[0].image");

        let labelled = json!({"metadata": {"name": "c", "labels": {"n": 5}}});
        let err = unknown_fields("/configmaps", &labelled).unwrap().unwrap_err();
        assert_eq!(err.field, "metadata.labels.n");
        let numbers = json!({"metadata": {"name": "c"}, "data": {"num": 5}});
        let err = unknown_fields("/configmaps", &numbers).unwrap().unwrap_err();
        assert_eq!(err.field, "data.num");
    }

    #[test]
    fn fields_the_kind_does_not_have_are_found_and_pruned() {
        let mut cm = json!({"metadata": {"name": "c"}, "foo": "bar", "data": {"a": "1"},
            "binaryData": null, "immutable": false});
        let unknown = unknown_fields("/configmaps", &cm).unwrap().unwrap();
        assert_eq!(unknown, ["foo"]);
        let spec = json!({"replica": 3, "selector": {}, "template": pod_template(
            json!({"name": "web", "image": "nginx", "imagePullPolize": "Always"}))});
        let mut deploy = deployment(spec);
        let unknown = unknown_fields("apps/deployments", &deploy).unwrap().unwrap();
        assert_eq!(unknown, ["spec.replica", "spec.template.spec.containers[0].imagePullPolize"]);
        prune(&mut deploy, &unknown);
        assert!(unknown_fields("apps/deployments", &deploy).unwrap().unwrap().is_empty());
        assert_eq!(deploy["spec"]["template"]["spec"]["containers"][0]["image"], "nginx");
        prune(&mut cm, &["foo".to_owned()]);
        assert_eq!(
            cm,
            json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": null, "immutable": false})
        );
    }

    #[test]
    fn defaults_fill_only_what_is_missing() {
        let mut deploy = deployment(json!({"replicas": 3}));
        apply_defaults("apps/deployments", &mut deploy);
        assert_eq!(deploy["spec"]["replicas"], 3);
        assert_eq!(deploy["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        let mut secret = json!({"metadata": {"name": "s"}, "type": ""});
        apply_defaults("/secrets", &mut secret);
        assert_eq!(secret["type"], "Opaque");
    }

    #[test]
    fn an_immutable_config_map_and_a_selector_cannot_change() {
        let old = json!({"data": {"a": "1"}, "immutable": true});
        let edited = json!({"data": {"a": "2"}, "immutable": false});
        let fields: Vec<String> =
            immutable_changes("/configmaps", &old, &edited).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["data", "immutable"]);
        let mutable = json!({"data": {"a": "1"}});
        assert!(immutable_changes("/configmaps", &mutable, &edited).is_empty());
        let old = deployment(json!({"selector": {"matchLabels": {"app": "web"}}}));
        let moved = deployment(json!({"selector": {"matchLabels": {"app": "api"}}}));
        let untyped = json!({"data": {}});
        let typed = json!({"data": {}, "type": "Opaque"});
        assert!(
            immutable_changes("/secrets", &untyped, &typed).is_empty(),
            "stored before defaults"
        );
        let refused = immutable_changes("apps/deployments", &old, &moved);
        assert_eq!(refused[0].0, "spec.selector");
        assert!(refused[0].1.ends_with("field is immutable"), "{}", refused[0].1);
    }

    #[test]
    fn config_map_data_is_limited_to_one_mebibyte() {
        let big = |n: usize| json!({"data": {"blob": "x".repeat(n)}});
        assert!(too_large("/configmaps", &big(1024 * 1024 - 4)).is_none());
        assert!(too_large("/configmaps", &big(1024 * 1024)).is_some());
        assert!(too_large("/services", &big(2 * 1024 * 1024)).is_none());
    }

    #[test]
    fn kinds_without_a_typed_twin_are_left_alone() {
        assert!(unknown_fields("example.org/widgets", &json!({"x": 1})).is_none());
    }
}
