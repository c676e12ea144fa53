//! The `/scale` subresource: an `autoscaling/v1` Scale view of a resource's replica count, for
//! Deployments, ReplicaSets, StatefulSets and custom resources that declare
//! `subresources.scale`, so `kubectl scale` and autoscalers work as on any cluster.

use serde_json::{Value, json};

use super::status::Cause;

/// Where a kind keeps what its Scale shows (JSON paths such as `.spec.replicas`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    /// The desired replicas, written through the Scale.
    pub spec_replicas: String,
    /// The observed replicas.
    pub status_replicas: String,
    /// A label selector string (`.status.selector` of a CRD), if any.
    pub label_selector: Option<String>,
    /// A built-in's `spec.selector` (a LabelSelector object), shown as a selector string.
    pub spec_selector: bool,
}

impl ScalePaths {
    /// The built-in workloads' paths.
    pub fn workload() -> Self {
        ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: None,
            spec_selector: true,
        }
    }

    /// A CRD version's `subresources.scale`, if it has one.
    pub fn of_crd_version(version: &Value) -> Option<Self> {
        let scale = version["subresources"]["scale"].as_object()?;
        Some(ScalePaths {
            spec_replicas: scale.get("specReplicasPath")?.as_str()?.to_owned(),
            status_replicas: scale.get("statusReplicasPath")?.as_str()?.to_owned(),
            label_selector: scale
                .get("labelSelectorPath")
                .and_then(Value::as_str)
                .map(str::to_owned),
            spec_selector: false,
        })
    }
}

/// The Scale of `object`.
pub fn scale_of(object: &Value, paths: &ScalePaths) -> Value {
    let meta = &object["metadata"];
    let mut metadata = json!({});
    for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if !meta[field].is_null() {
            metadata[field] = meta[field].clone();
        }
    }
    let selector = if paths.spec_selector {
        selector_string(&object["spec"]["selector"])
    } else {
        paths
            .label_selector
            .as_deref()
            .and_then(|p| at(object, p))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut status =
        json!({"replicas": at(object, &paths.status_replicas).cloned().unwrap_or(json!(0))});
    if let Some(selector) = selector {
        status["selector"] = Value::String(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": at(object, &paths.spec_replicas).cloned().unwrap_or(json!(0))},
        "status": status,
    })
}

/// The merge patch of the resource that makes its Scale `scale`: the desired replicas at the
/// kind's path, and the Scale's resourceVersion, if it has one, as the write's precondition. A
/// replica count that is not a non-negative integer is refused naming `spec.replicas`.
pub fn resource_patch(scale: &Value, paths: &ScalePaths) -> Result<Value, Cause> {
    let replicas = &scale["spec"]["replicas"];
    if !replicas.as_i64().is_some_and(|r| (0..=i64::from(i32::MAX)).contains(&r)) {
        let cause = Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {replicas}: must be a non-negative integer"),
            field: "spec.replicas".into(),
        };
        return Err(cause);
    }
    let mut patch = replicas.clone();
    for field in paths.spec_replicas.trim_start_matches('.').rsplit('.') {
        patch = json!({ field: patch });
    }
    let version = &scale["metadata"]["resourceVersion"];
    if !version.is_null() {
        patch["metadata"] = json!({"resourceVersion": version});
    }
    Ok(patch)
}

/// The value at a simple JSON path (`.spec.replicas`).
fn at<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    path.trim_start_matches('.').split('.').try_fold(object, |v, field| v.get(field))
}

/// A LabelSelector object as the string form Scale shows (`app=web,tier in (a,b)`).
fn selector_string(selector: &Value) -> Option<String> {
    let selector = selector.as_object()?;
    let mut terms: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    for expression in
        selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten()
    {
        let key = expression["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expression["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        terms.push(match expression["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            _ => format!("!{key}"),
        });
    }
    Some(terms.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_scale_shows_its_replicas_and_selector() {
        let deployment = json!({"metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}},
            "status": {"replicas": 2}});
        let scale = scale_of(&deployment, &ScalePaths::workload());
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(scale["status"], json!({"replicas": 2, "selector": "app=web,tier in (a,b)"}));
        assert_eq!(
            scale["metadata"],
            json!({"name": "web", "namespace": "shop", "resourceVersion": "7"})
        );
    }

    #[test]
    fn a_custom_resource_scales_through_its_declared_paths() {
        let version = json!({"subresources": {"scale": {"specReplicasPath": ".spec.size",
            "statusReplicasPath": ".status.size", "labelSelectorPath": ".status.selector"}}});
        let paths = ScalePaths::of_crd_version(&version).unwrap();
        let object = json!({"spec": {"size": 4}, "status": {"size": 1, "selector": "app=db"}});
        let scale = scale_of(&object, &paths);
        assert_eq!(scale["spec"]["replicas"], 4);
        assert_eq!(scale["status"]["selector"], "app=db");
        let patch = resource_patch(&json!({"spec": {"replicas": 6}}), &paths).unwrap();
        assert_eq!(patch, json!({"spec": {"size": 6}}));
        let pinned = json!({"metadata": {"resourceVersion": "9"}, "spec": {"replicas": 6}});
        let patch = resource_patch(&pinned, &paths).unwrap();
        assert_eq!(patch, json!({"spec": {"size": 6}, "metadata": {"resourceVersion": "9"}}));
        let err = resource_patch(&json!({"spec": {"replicas": -1}}), &paths).unwrap_err();
        assert_eq!(err.field, "spec.replicas");
        assert!(ScalePaths::of_crd_version(&json!({"subresources": {"status": {}}})).is_none());
    }
}
