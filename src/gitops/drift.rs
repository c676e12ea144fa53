//! Drift: which of the fields we apply differ in the live object. Pure.
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
    fn lists_compare_items_on_the_fields_we_set() {
        let desired = json!({"spec": {"ports": [{"port": 80}], "replicas": 2}});
        let live = json!({"spec": {"ports": [{"port": 80, "protocol": "TCP"}], "replicas": 2.0}});
        assert!(changed_fields(&desired, &live).is_empty());
        let live = json!({"spec": {"ports": [{"port": 81}], "replicas": 2}});
        assert_eq!(changed_fields(&desired, &live), ["/spec/ports"]);
        assert_eq!(changed_fields(&desired, &json!({})), ["/spec/ports", "/spec/replicas"]);
    }
}
