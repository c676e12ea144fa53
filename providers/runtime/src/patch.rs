//! Minimal patches of just the fields the engine owns.
//!
//! The engine never `PUT`s a whole object: another writer's fields are never overwritten, and
//! an object whose owned fields are unchanged gets no request at all.

use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// The RFC 7386 merge patch that turns `old` into `new`, or `None` when they are equal.
pub fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, new_value) in new {
                let changed = match old.get(key) {
                    Some(old_value) => merge_diff(old_value, new_value),
                    None => Some(new_value.clone()),
                };
                if let Some(changed) = changed {
                    patch.insert(key.clone(), changed);
                }
            }
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (old, new) if old == new => None,
        (_, new) => Some(new.clone()),
    }
}

/// JSON patch adding `finalizer`, guarded by a `test` so that a concurrent change makes it fail
/// (422) instead of clobbering another controller's finalizer. An existing list is tested
/// directly; a missing one through `resourceVersion`, because testing an absent path for `null`
/// (kube-runtime's way) is rejected by RFC 6902 implementations other than the Kubernetes one.
pub fn add_finalizer<K: Resource>(obj: &K, finalizer: &str) -> json_patch::Patch {
    let meta = obj.meta();
    let patch = match (&meta.finalizers, &meta.resource_version) {
        (Some(current), _) if !current.is_empty() => json!([
            { "op": "test", "path": "/metadata/finalizers", "value": current },
            { "op": "add", "path": "/metadata/finalizers/-", "value": finalizer },
        ]),
        (_, Some(version)) => json!([
            { "op": "test", "path": "/metadata/resourceVersion", "value": version },
            { "op": "add", "path": "/metadata/finalizers", "value": [finalizer] },
        ]),
        (_, None) => json!([{ "op": "add", "path": "/metadata/finalizers", "value": [finalizer] }]),
    };
    serde_json::from_value(patch).expect("a well-formed JSON patch")
}

/// JSON patch removing `finalizer` (which must be present), guarded by a `test` of its index.
pub fn remove_finalizer<K: Resource>(obj: &K, finalizer: &str) -> Option<json_patch::Patch> {
    let index = obj.meta().finalizers.as_ref()?.iter().position(|f| f == finalizer)?;
    let path = format!("/metadata/finalizers/{index}");
    let patch = json!([
        { "op": "test", "path": path, "value": finalizer },
        { "op": "remove", "path": path },
    ]);
    Some(serde_json::from_value(patch).expect("a well-formed JSON patch"))
}

/// An API error as a person reads it: the server's message rather than the whole `Status`.
pub fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// `obj` carries `finalizer`.
pub fn has_finalizer<K: Resource>(obj: &K, finalizer: &str) -> bool {
    obj.meta().finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// Apply a JSON patch to the main resource.
pub async fn json<K>(api: &Api<K>, name: &str, patch: json_patch::Patch) -> kube::Result<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch)).await
}

/// Apply a merge patch to the main resource.
pub async fn merge<K>(api: &Api<K>, name: &str, patch: &Value) -> kube::Result<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_diff_holds_only_what_changed() {
        let old = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1], "gone": true});
        let new = json!({"a": 1, "b": {"c": 2, "d": 4}, "e": [1, 2], "new": "x"});
        assert_eq!(
            merge_diff(&old, &new),
            Some(json!({"b": {"d": 4}, "e": [1, 2], "new": "x", "gone": null}))
        );
        assert_eq!(merge_diff(&old, &old), None);
    }
}
