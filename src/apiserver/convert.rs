//! Mapping between stored objects and what each resource version serves: `apiVersion` for
//! multi-version CRDs, and the field renames between core/v1 and `events.k8s.io/v1` Events (one
//! store serves both APIs, as in kube-apiserver).

use serde_json::{Map, Value};

use super::registry::{ResourceType, Shape};

/// core/v1 Event field ↔ events.k8s.io/v1 Event field.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

fn rename(object: &mut Value, pairs: impl Iterator<Item = (&'static str, &'static str)>) {
    let Some(map) = object.as_object_mut() else { return };
    let moved: Vec<(&str, Value)> =
        pairs.filter_map(|(from, to)| map.remove(from).map(|v| (to, v))).collect();
    for (to, v) in moved {
        map.insert(to.to_owned(), v);
    }
}

/// The object as served at `version` of `rt`.
pub fn present(rt: &ResourceType, version: &str, mut object: Value) -> Value {
    if rt.shape == Shape::EventsV1 {
        rename(&mut object, EVENT_FIELDS.iter().copied());
        if object["reportingController"].is_null()
            && let Some(component) = object["deprecatedSource"]["component"].as_str()
        {
            object["reportingController"] = Value::String(component.to_owned());
        }
    }
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(rt.api_version(version)));
        map.insert("kind".into(), Value::String(rt.kind.clone()));
    }
    object
}

/// The object as stored, from what a client sent to `version` of `rt`.
pub fn to_storage(rt: &ResourceType, version: &str, mut object: Value) -> Value {
    if rt.shape == Shape::EventsV1 {
        rename(&mut object, EVENT_FIELDS.iter().map(|(core, v1)| (*v1, *core)));
        if object["source"]["component"].is_null()
            && let Some(component) = object["reportingComponent"].as_str()
        {
            object["source"] =
                Value::Object(Map::from_iter([("component".into(), component.into())]));
        }
        object["apiVersion"] = Value::String("v1".into());
        return object;
    }
    if rt.group.is_empty() && rt.kind == "Secret" {
        fold_string_data(&mut object);
    }
    object["apiVersion"] = Value::String(rt.api_version(version));
    object
}

/// A Secret's write-only `stringData` is merged into `data` (base64), as kube-apiserver does.
pub fn fold_string_data(secret: &mut Value) {
    use base64::Engine;
    let Some(string_data) = secret.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    for (key, value) in string_data.as_object().into_iter().flatten() {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(value.as_str().unwrap_or_default());
        if !secret["data"].is_object() {
            secret["data"] = Value::Object(Map::new());
        }
        secret["data"][key] = Value::String(encoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::registry::builtins;
    use serde_json::json;

    #[test]
    fn events_v1_round_trip_through_the_core_store() {
        let v1 = builtins().into_iter().find(|t| t.shape == Shape::EventsV1).unwrap();
        let sent = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"name": "db"}, "note": "created", "reportingController": "crosstie"});
        let stored = to_storage(&v1, "v1", sent.clone());
        assert_eq!(stored["involvedObject"]["name"], "db");
        assert_eq!(stored["message"], "created");
        assert_eq!(stored["source"]["component"], "crosstie");
        let served = present(&v1, "v1", stored);
        assert_eq!(served["regarding"], sent["regarding"]);
        assert_eq!(served["note"], "created");
        assert_eq!(served["apiVersion"], "events.k8s.io/v1");
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;
    use crate::apiserver::registry::builtins;
    use serde_json::json;

    #[test]
    fn secret_string_data_is_stored_base64_in_data() {
        let secret = builtins().into_iter().find(|t| t.kind == "Secret").unwrap();
        let stored =
            to_storage(&secret, "v1", json!({"data": {"a": "eA=="}, "stringData": {"b": "y"}}));
        assert_eq!(stored["data"], json!({"a": "eA==", "b": "eQ=="}));
        assert!(stored.get("stringData").is_none());
    }
}
