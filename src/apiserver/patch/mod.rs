//! JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch for built-in
//! kinds, with the semantics kube-apiserver gives them.

mod strategic;

use serde_json::Value;

pub use strategic::strategic_merge_patch;
pub(crate) use strategic::{ListStrategy, list_strategy};

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The patch is malformed or cannot apply to the target.
    #[error("{0}")]
    Invalid(String),
    /// Strategic merge patch on a kind without a patch strategy (custom resources).
    #[error("{0}")]
    UnsupportedMediaType(String),
}

/// Applies an RFC 6902 JSON patch atomically: on any failing operation the target is untouched.
///
/// Like kube-apiserver (evanphx/json-patch), a `test` of an absent member against `null` passes:
/// kube-runtime's `finalizer()` relies on it to add the first finalizer.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let operations: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchError::Invalid(format!("invalid JSON patch: {e}")))?;
    let mut doc = target.clone();
    for (index, operation) in operations.0.iter().enumerate() {
        if let json_patch::PatchOperation::Test(test) = operation
            && test.value.is_null()
            && doc.pointer(test.path.as_str()).is_none()
        {
            continue;
        }
        json_patch::patch(&mut doc, std::slice::from_ref(operation)).map_err(|e| {
            PatchError::Invalid(format!(
                "the JSON patch operation {index} ({operation}) failed: {}",
                e.kind
            ))
        })?;
    }
    Ok(doc)
}

/// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything
/// else (lists included) replaces.
pub fn merge_patch(mut target: Value, patch: &Value) -> Value {
    json_patch::merge(&mut target, patch);
    target
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_cases() {
        let doc = json!({"metadata": {"name": "a", "finalizers": ["x"]}, "spec": {"n": 1}});
        let cases: &[(&str, Value, Result<Value, ()>)] = &[
            (
                "test of an absent member against null passes (kube-runtime finalizer add)",
                json!([{"op": "test", "path": "/spec/finalizers", "value": null},
                       {"op": "add", "path": "/spec/finalizers", "value": ["f"]}]),
                Ok(
                    json!({"metadata": {"name": "a", "finalizers": ["x"]}, "spec": {"n": 1, "finalizers": ["f"]}}),
                ),
            ),
            (
                "test of a present member against null fails",
                json!([{"op": "test", "path": "/spec/n", "value": null}]),
                Err(()),
            ),
            (
                "test then remove by index removes the finalizer (kube-runtime finalizer remove)",
                json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "x"},
                       {"op": "remove", "path": "/metadata/finalizers/0"}]),
                Ok(json!({"metadata": {"name": "a", "finalizers": []}, "spec": {"n": 1}})),
            ),
            (
                "append with - adds at the end",
                json!([{"op": "add", "path": "/metadata/finalizers/-", "value": "y"}]),
                Ok(json!({"metadata": {"name": "a", "finalizers": ["x", "y"]}, "spec": {"n": 1}})),
            ),
            (
                "a failing later operation leaves the target untouched",
                json!([{"op": "replace", "path": "/spec/n", "value": 2},
                       {"op": "remove", "path": "/spec/missing"}]),
                Err(()),
            ),
            ("a patch that is not a list is invalid", json!({"op": "add"}), Err(())),
        ];
        for (reason, patch, expected) in cases {
            let got = json_patch(&doc, patch).map_err(|_| ());
            assert_eq!(&got, expected, "{reason}");
        }
    }

    #[test]
    fn merge_patch_cases() {
        let cases = [
            (
                "objects merge and null deletes",
                json!({"a": {"b": 1, "c": 2}}),
                json!({"a": {"b": null, "d": 3}}),
                json!({"a": {"c": 2, "d": 3}}),
            ),
            (
                "lists are replaced, never merged",
                json!({"l": [1, 2]}),
                json!({"l": [3]}),
                json!({"l": [3]}),
            ),
        ];
        for (reason, target, patch, expected) in cases {
            assert_eq!(merge_patch(target.clone(), &patch), expected, "{reason}");
        }
    }

    #[test]
    fn strategic_merge_patch_cases() {
        let deployment = json!({
            "metadata": {"name": "web", "finalizers": ["a"]},
            "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}],
                 "ports": [{"containerPort": 80}]},
                {"name": "sidecar", "image": "side:1"}
            ], "tolerations": [{"key": "x"}]}}}
        });
        let cases = [
            (
                "containers merge by name: one field changes, the sibling container stays",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}),
                json!({"metadata": {"name": "web", "finalizers": ["a"]},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "app", "image": "app:2", "env": [{"name": "A", "value": "1"}],
                         "ports": [{"containerPort": 80}]},
                        {"name": "sidecar", "image": "side:1"}], "tolerations": [{"key": "x"}]}}}}),
            ),
            (
                "env merges by name and a new container is appended",
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "app", "env": [{"name": "B", "value": "2"}]},
                    {"name": "new", "image": "n:1"}]}}}}),
                json!({"metadata": {"name": "web", "finalizers": ["a"]},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "app", "image": "app:1",
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80}]},
                        {"name": "sidecar", "image": "side:1"},
                        {"name": "new", "image": "n:1"}], "tolerations": [{"key": "x"}]}}}}),
            ),
            (
                "$patch: delete removes the keyed element",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}),
                json!({"metadata": {"name": "web", "finalizers": ["a"]},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}],
                         "ports": [{"containerPort": 80}]}], "tolerations": [{"key": "x"}]}}}}),
            ),
            (
                "$patch: replace in a list replaces the whole list",
                json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o:1"}]}}}}),
                json!({"metadata": {"name": "web", "finalizers": ["a"]},
                    "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "o:1"}],
                        "tolerations": [{"key": "x"}]}}}}),
            ),
            (
                "lists without a strategy (tolerations) are replaced",
                json!({"spec": {"template": {"spec": {"tolerations": [{"key": "y"}]}}}}),
                json!({"metadata": {"name": "web", "finalizers": ["a"]},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}],
                         "ports": [{"containerPort": 80}]},
                        {"name": "sidecar", "image": "side:1"}], "tolerations": [{"key": "y"}]}}}}),
            ),
            (
                "finalizers merge as a set and $deleteFromPrimitiveList removes values",
                json!({"metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]}}),
                json!({"metadata": {"name": "web", "finalizers": ["b"]},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}],
                         "ports": [{"containerPort": 80}]},
                        {"name": "sidecar", "image": "side:1"}], "tolerations": [{"key": "x"}]}}}}),
            ),
            (
                "$setElementOrder reorders the merged list",
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                    "containers": [{"name": "sidecar", "image": "side:2"}]}}}}),
                json!({"metadata": {"name": "web", "finalizers": ["a"]},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "sidecar", "image": "side:2"},
                        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}],
                         "ports": [{"containerPort": 80}]}], "tolerations": [{"key": "x"}]}}}}),
            ),
            (
                "$patch: replace on a map replaces it and $retainKeys drops unlisted keys",
                json!({"metadata": {"$patch": "replace", "name": "web"},
                       "spec": {"$retainKeys": ["replicas"], "replicas": 2}}),
                json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}}),
            ),
        ];
        for (reason, patch, expected) in cases {
            let got = strategic_merge_patch(&deployment, &patch, Some(("apps", "Deployment")))
                .unwrap_or_else(|e| panic!("{reason}: {e}"));
            assert_eq!(got, expected, "{reason}");
        }
    }

    #[test]
    fn strategic_merge_patch_applies_kubectl_three_way_patches() {
        // Recorded from kubectl 1.32 and 1.37 `apply` against this server's OpenAPI documents:
        // the manifest dropped container "old" and env var "B"; "injected" was never applied.
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "old", "image": "old:1"},
            {"name": "injected", "image": "inj:1"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [
                {"$setElementOrder/env": [{"name": "A"}], "env": [{"$patch": "delete", "name": "B"}],
                 "image": "app:2", "name": "app"},
                {"$patch": "delete", "name": "old"}]}}}});
        let got = strategic_merge_patch(&live, &patch, Some(("apps", "Deployment"))).unwrap();
        assert_eq!(
            got,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "app:2", "env": [{"name": "A", "value": "1"}]},
                {"name": "injected", "image": "inj:1"}]}}}})
        );
    }

    #[test]
    fn strategic_merge_patch_service_ports_merge_by_port() {
        let service = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        let patch = json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}});
        let got = strategic_merge_patch(&service, &patch, Some(("", "Service"))).unwrap();
        assert_eq!(
            got,
            json!({"spec": {"ports": [{"port": 80, "name": "http"},
                {"port": 443, "name": "https", "targetPort": 8443}]}})
        );
    }

    #[test]
    fn strategic_merge_patch_is_refused_for_custom_resources() {
        let got = strategic_merge_patch(&json!({}), &json!({"spec": {}}), None);
        assert!(matches!(got, Err(PatchError::UnsupportedMediaType(_))), "{got:?}");
    }

    #[test]
    fn strategic_merge_patch_needs_the_merge_key_in_keyed_lists() {
        let got = strategic_merge_patch(
            &json!({}),
            &json!({"spec": {"containers": [{"image": "x"}]}}),
            Some(("", "Pod")),
        );
        assert!(matches!(got, Err(PatchError::Invalid(_))), "{got:?}");
    }

    #[test]
    fn strategic_merge_patch_replaces_ports_outside_containers_and_services() {
        let policy = json!({"spec": {"ingress": [{"ports": [{"port": 80}]}]}});
        let patch = json!({"spec": {"ingress": [{"ports": [{"protocol": "TCP"}]}]}});
        let got =
            strategic_merge_patch(&policy, &patch, Some(("networking.k8s.io", "NetworkPolicy")));
        assert_eq!(got, Ok(patch), "NetworkPolicy ports have no merge key, so they are replaced");
    }
}
