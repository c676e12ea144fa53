//! Drift: which of the fields we apply differ in the live object, and which fields an apply
//! would remove. Pure.
//!
//! Only fields present in the desired object are compared (what server-side apply would own);
//! fields added by the API server, defaulting or other managers are not drift. Lists are
//! compared whole, as apply replaces atomic lists.

use serde_json::Value;

/// JSON-pointer paths of desired fields whose live value differs (or is missing). Identity,
/// `status` and server-managed metadata are skipped.
pub fn changed_fields(desired: &Value, live: &Value) -> Vec<String> {
    let mut changed = Vec::new();
    if let Some(d) = desired.as_object() {
        for (key, value) in d {
            match key.as_str() {
                "apiVersion" | "kind" | "status" => {}
                "metadata" => {
                    for field in ["labels", "annotations"] {
                        walk(
                            &value[field],
                            &live["metadata"][field],
                            &format!("/metadata/{field}"),
                            &mut changed,
                        );
                    }
                }
                _ => walk(value, &live[key.as_str()], &format!("/{}", escape(key)), &mut changed),
            }
        }
    }
    changed
}

/// Paths of fields that `manager` applied (per the live object's managedFields) and that
/// `desired` no longer sets: server-side apply removes them, so they need a write even when
/// every desired field matches. `None` when the live object carries no managedFields at all
/// (e.g. read through a client that strips them): ownership is then unknown.
pub fn dropped_owned_fields(desired: &Value, live: &Value, manager: &str) -> Option<Vec<String>> {
    let entries = live["metadata"]["managedFields"].as_array()?;
    let mut dropped = Vec::new();
    for entry in entries.iter().filter(|e| e["manager"] == manager && e["operation"] == "Apply") {
        owned(&entry["fieldsV1"], desired, "", &mut dropped);
    }
    Some(dropped)
}

/// Walk a `fieldsV1` set: `f:<name>` entries name object fields; list items (`k:`, `v:`, `i:`)
/// are left to [`changed_fields`], which compares lists whole.
fn owned(fields: &Value, desired: &Value, path: &str, dropped: &mut Vec<String>) {
    for (key, children) in fields.as_object().into_iter().flatten() {
        let Some(name) = key.strip_prefix("f:") else { continue };
        if path.is_empty() && name == "status" {
            continue;
        }
        let child_path = format!("{path}/{}", escape(name));
        match desired.get(name) {
            None | Some(Value::Null) => dropped.push(child_path),
            Some(value @ Value::Object(_)) => owned(children, value, &child_path, dropped),
            Some(_) => {}
        }
    }
}

/// Paths of fields in `live` (labels, annotations and everything outside metadata and
/// status) that `result` lacks: what an apply whose outcome is `result` removes.
pub fn removed_fields(result: &Value, live: &Value) -> Vec<String> {
    let mut removed = Vec::new();
    for (key, value) in live.as_object().into_iter().flatten() {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for field in ["labels", "annotations"] {
                    let path = format!("/metadata/{field}");
                    absent(&value[field], &result["metadata"][field], &path, &mut removed);
                }
            }
            _ => absent(value, &result[key.as_str()], &format!("/{}", escape(key)), &mut removed),
        }
    }
    removed
}

fn absent(live: &Value, result: &Value, path: &str, removed: &mut Vec<String>) {
    match (live, result) {
        (Value::Null, _) => {}
        (_, Value::Null) => removed.push(path.to_owned()),
        (Value::Object(l), Value::Object(_)) => {
            for (key, value) in l {
                absent(value, &result[key.as_str()], &format!("{path}/{}", escape(key)), removed);
            }
        }
        _ => {}
    }
}

fn walk(desired: &Value, live: &Value, path: &str, changed: &mut Vec<String>) {
    match (desired, live) {
        (Value::Null, _) => {}
        // A missing or non-object live value: report the leaves we set beneath it.
        (Value::Object(d), live) => {
            for (key, value) in d {
                walk(value, &live[key.as_str()], &format!("{path}/{}", escape(key)), changed);
            }
        }
        _ if equivalent(desired, live) => {}
        _ => changed.push(path.to_owned()),
    }
}

/// Equal, treating numbers by value (`1` vs `1.0`) as the API server does.
fn equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| subset(a, b))
        }
        _ => a == b,
    }
}

/// List items are compared on the fields we set, so server defaults inside items
/// (e.g. `protocol: TCP` on ports) are not drift.
fn subset(desired: &Value, live: &Value) -> bool {
    let mut changed = Vec::new();
    walk(desired, live, "", &mut changed);
    changed.is_empty()
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_edited_field_is_drift_and_server_additions_are_not() {
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app": "x"}},
                             "data": {"a": "1", "b": "2"}});
        let mut live = desired.clone();
        live["metadata"]["uid"] = json!("123");
        live["metadata"]["labels"]["extra"] = json!("y");
        live["data"]["c"] = json!("3");
        assert!(changed_fields(&desired, &live).is_empty());
        live["data"]["a"] = json!("edited");
        live["metadata"]["labels"]["app"] = json!("z");
        assert_eq!(changed_fields(&desired, &live), ["/data/a", "/metadata/labels/app"]);
    }

    #[test]
    fn fields_we_applied_and_git_dropped_are_found_from_managed_fields() {
        let desired =
            json!({"metadata": {"name": "c", "labels": {"app": "x"}}, "data": {"a": "1"}});
        let mut live = desired.clone();
        assert_eq!(dropped_owned_fields(&desired, &live, "kustomize-controller"), None);
        live["metadata"]["managedFields"] = json!([
            {"manager": "kustomize-controller", "operation": "Apply", "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}, "f:old": {}}},
                "f:data": {"f:a": {}, "f:b": {}}, "f:spec": {"f:ports": {"k:{\"port\":80}": {}}}}},
            {"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:data": {"f:c": {}}}},
        ]);
        assert_eq!(
            dropped_owned_fields(&desired, &live, "kustomize-controller").unwrap(),
            ["/data/b", "/metadata/labels/old", "/spec"]
        );
    }

    #[test]
    fn removed_fields_are_those_the_result_lacks() {
        let live = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "uid": "u"}, "data": {"x": "1", "y": "2"}, "status": {}});
        let result = json!({"metadata": {"labels": {"a": "1"}}, "data": {"x": "1"}});
        assert_eq!(removed_fields(&result, &live), ["/data/y", "/metadata/labels/b"]);
    }

    #[test]
    fn lists_compare_items_on_the_fields_we_set() {
        let desired = json!({"spec": {"ports": [{"port": 80}], "replicas": 2}});
        let live = json!({"spec": {"ports": [{"port": 80, "protocol": "TCP"}], "replicas": 2.0}});
        assert!(changed_fields(&desired, &live).is_empty());
        let live = json!({"spec": {"ports": [{"port": 81}], "replicas": 2}});
        assert_eq!(changed_fields(&desired, &live), ["/spec/ports"]);
        assert_eq!(changed_fields(&desired, &json!({})), ["/spec/ports", "/spec/replicas"]);
    }
}
