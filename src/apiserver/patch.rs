//! JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch for built-in
//! kinds, with the semantics kube-apiserver gives them.

use serde_json::{Map, Value};

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
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let mut out = target.clone();
    json_patch::merge(&mut out, patch);
    out
}

/// Applies a strategic merge patch to a built-in kind.
///
/// `builtin_kind` is `(group, kind)`, e.g. `("apps", "Deployment")`; `None` (custom resources)
/// is refused with [`PatchError::UnsupportedMediaType`], as kube-apiserver does. Lists merge by
/// the patch merge keys of the Kubernetes types (containers by `name`, conditions by `type`, …);
/// lists without a strategy are replaced. Honours `$patch: replace|delete|merge`,
/// `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`.
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    builtin_kind: Option<(&str, &str)>,
) -> Result<Value, PatchError> {
    let Some((_, kind)) = builtin_kind else {
        return Err(PatchError::UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                .to_owned(),
        ));
    };
    let Value::Object(patch) = patch else {
        return Err(PatchError::Invalid(
            "strategic merge patch body must be a JSON object".to_owned(),
        ));
    };
    let mut path = Vec::new();
    match merge_object(Some(target), patch, kind, &mut path)? {
        Some(merged) => Ok(merged),
        None => {
            Err(PatchError::Invalid("$patch: delete is not allowed on the whole object".to_owned()))
        }
    }
}

/// How a list field merges under strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ListStrategy {
    /// Objects matched by this key merge; others are appended.
    MergeByKey(&'static str),
    /// A set of primitives: the union of live and patch.
    MergePrimitives,
    /// The patch list replaces the live list.
    Replace,
}

/// The patch strategy of the list at `path` (field names from the object root) in a built-in
/// `kind`, from the `patchMergeKey`/`patchStrategy` tags of the Kubernetes Go types.
pub(crate) fn list_strategy(kind: &str, path: &[String]) -> ListStrategy {
    let Some(field) = path.last() else {
        return ListStrategy::Replace;
    };
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    match (parent, field.as_str()) {
        (Some("metadata"), "finalizers") => ListStrategy::MergePrimitives,
        (Some("metadata"), "ownerReferences") => ListStrategy::MergeByKey("uid"),
        (_, "containers" | "initContainers" | "ephemeralContainers") => {
            ListStrategy::MergeByKey("name")
        }
        (Some(parent), field) if CONTAINER_LISTS.contains(&parent) => match field {
            "env" => ListStrategy::MergeByKey("name"),
            "ports" => ListStrategy::MergeByKey("containerPort"),
            "volumeMounts" => ListStrategy::MergeByKey("mountPath"),
            "volumeDevices" => ListStrategy::MergeByKey("devicePath"),
            _ => ListStrategy::Replace,
        },
        (Some("spec"), "volumes" | "imagePullSecrets" | "resourceClaims") => {
            ListStrategy::MergeByKey("name")
        }
        (Some("spec"), "hostAliases") => ListStrategy::MergeByKey("ip"),
        (Some("spec"), "topologySpreadConstraints") => ListStrategy::MergeByKey("topologyKey"),
        (Some("spec"), "ports") if kind == "Service" => ListStrategy::MergeByKey("port"),
        (None, "secrets") if kind == "ServiceAccount" => ListStrategy::MergeByKey("name"),
        (Some("status"), "conditions") => ListStrategy::MergeByKey("type"),
        _ => ListStrategy::Replace,
    }
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Merges a patch map into `live`; `None` means the map is deleted (`$patch: delete`).
fn merge_object(
    live: Option<&Value>,
    patch: &Map<String, Value>,
    kind: &str,
    path: &mut Vec<String>,
) -> Result<Option<Value>, PatchError> {
    let mut base = match live {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    match patch.get(DIRECTIVE).and_then(Value::as_str) {
        Some("delete") => return Ok(None),
        Some("replace") => {
            let mut replaced = patch.clone();
            replaced.remove(DIRECTIVE);
            return Ok(Some(Value::Object(strip_directives(replaced))));
        }
        Some("merge") | None => {}
        Some(other) => {
            return Err(PatchError::Invalid(format!(
                "unknown patch type: {other} in map at {}",
                display_path(path)
            )));
        }
    }
    let mut orders = Vec::new();
    for (key, value) in patch {
        if key == DIRECTIVE {
            continue;
        }
        if let Some(list) = key.strip_prefix(SET_ELEMENT_ORDER) {
            orders.push((list.to_owned(), value));
            continue;
        }
        if let Some(list) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let Value::Array(doomed) = value else {
                return Err(PatchError::Invalid(format!("{key} must be a list")));
            };
            if let Some(Value::Array(items)) = base.get_mut(list) {
                items.retain(|item| !doomed.contains(item));
            }
            continue;
        }
        if key == RETAIN_KEYS {
            continue;
        }
        if value.is_null() {
            base.remove(key);
            continue;
        }
        path.push(key.clone());
        let merged = merge_value(base.get(key), value, kind, path)?;
        path.pop();
        match merged {
            Some(merged) => base.insert(key.clone(), merged),
            None => base.remove(key),
        };
    }
    for (list, order) in orders {
        if let (Some(Value::Array(items)), Value::Array(order)) = (base.get_mut(&list), order) {
            path.push(list.clone());
            let strategy = list_strategy(kind, path);
            path.pop();
            reorder(items, order, strategy);
        }
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let Value::Array(retain) = retain else {
            return Err(PatchError::Invalid(format!("{RETAIN_KEYS} must be a list")));
        };
        base.retain(|key, _| retain.iter().any(|kept| kept.as_str() == Some(key)));
    }
    Ok(Some(Value::Object(base)))
}

fn merge_value(
    live: Option<&Value>,
    patch: &Value,
    kind: &str,
    path: &mut Vec<String>,
) -> Result<Option<Value>, PatchError> {
    match patch {
        Value::Object(map) => match live {
            Some(Value::Object(_)) | None => merge_object(live, map, kind, path),
            // A map replacing a scalar or list: nothing to merge into.
            Some(_) => merge_object(None, map, kind, path),
        },
        Value::Array(items) => merge_list(live, items, kind, path).map(Some),
        scalar => Ok(Some(scalar.clone())),
    }
}

fn merge_list(
    live: Option<&Value>,
    patch: &[Value],
    kind: &str,
    path: &mut Vec<String>,
) -> Result<Value, PatchError> {
    let is_replace = |item: &Value| item.get(DIRECTIVE).and_then(Value::as_str) == Some("replace");
    if patch.iter().any(is_replace) {
        let kept = patch.iter().filter(|item| !is_replace(item)).cloned();
        return Ok(Value::Array(kept.map(strip_value).collect()));
    }
    let live = match live {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    match list_strategy(kind, path) {
        ListStrategy::Replace => Ok(Value::Array(patch.iter().cloned().map(strip_value).collect())),
        ListStrategy::MergePrimitives => {
            let mut merged = live;
            for item in patch {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            Ok(Value::Array(merged))
        }
        ListStrategy::MergeByKey(key) => {
            let mut merged = live;
            for item in patch {
                let Some((patch_item, id)) =
                    item.as_object().and_then(|map| map.get(key).map(|id| (map, id)))
                else {
                    return Err(PatchError::Invalid(format!(
                        "map: {item} does not contain declared merge key: {key} (in {})",
                        display_path(path)
                    )));
                };
                let position = merged.iter().position(|existing| existing.get(key) == Some(id));
                let deleting = patch_item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete");
                match (position, deleting) {
                    (Some(index), true) => {
                        merged.remove(index);
                    }
                    (None, true) => {}
                    (Some(index), false) => {
                        if let Some(value) =
                            merge_object(Some(&merged[index]), patch_item, kind, path)?
                        {
                            merged[index] = value;
                        }
                    }
                    (None, false) => {
                        if let Some(value) = merge_object(None, patch_item, kind, path)? {
                            merged.push(value);
                        }
                    }
                }
            }
            Ok(Value::Array(merged))
        }
    }
}

/// Orders `items` as `$setElementOrder` says; items it does not name keep their relative order
/// after the named ones.
fn reorder(items: &mut Vec<Value>, order: &[Value], strategy: ListStrategy) {
    let rank = |item: &Value| {
        order.iter().position(|wanted| match strategy {
            ListStrategy::MergeByKey(key) => {
                wanted.get(key).is_some() && wanted.get(key) == item.get(key)
            }
            _ => wanted == item,
        })
    };
    let mut ranked: Vec<(usize, usize, Value)> = items
        .drain(..)
        .enumerate()
        .map(|(index, item)| (rank(&item).unwrap_or(usize::MAX), index, item))
        .collect();
    ranked.sort_by_key(|(rank, index, _)| (*rank, *index));
    items.extend(ranked.into_iter().map(|(_, _, item)| item));
}

/// Removes patch directives from values that are inserted rather than merged.
fn strip_value(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(strip_directives(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_value).collect()),
        other => other,
    }
}

fn strip_directives(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(key, _)| {
            key != DIRECTIVE
                && key != RETAIN_KEYS
                && !key.starts_with(SET_ELEMENT_ORDER)
                && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        })
        .map(|(key, value)| (key, strip_value(value)))
        .collect()
}

fn display_path(path: &[String]) -> String {
    path.join(".")
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
            assert_eq!(merge_patch(&target, &patch), expected, "{reason}");
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
