//! Which watch events are worth a reconcile.
//!
//! A controller that writes its object's status gets its own write back as a watch event.
//! Reconciling it again finds nothing to do but still reads, renders and compares; under a
//! burst of thousands of objects those echoes are most of the work. Like crossplane-runtime's
//! `DesiredStateChanged` predicate, [`desired_state`] lets through only changes to what a
//! reconcile acts on: the spec (through `metadata.generation`), labels, annotations,
//! finalizers, owners and deletion. Status-only writes are skipped; the requeue after each
//! reconcile still re-reads everything.
//!
//! The other way round, a controller that reads managed resources it does not reconcile (a
//! composite reading what it composed) cares about their spec and status, but not about the
//! bookkeeping this engine writes around each external create; [`observed_state`] leaves it
//! out.

use std::hash::{DefaultHasher, Hash, Hasher};

use kube::Resource;
use kube::api::DynamicObject;
use kube::runtime::predicates;
use serde_json::Value;

use crate::annotations::{
    EXTERNAL_CREATE_FAILED, EXTERNAL_CREATE_PENDING, EXTERNAL_CREATE_SUCCEEDED, EXTERNAL_NAME,
};

/// A hash of the parts of `object` a reconcile acts on (`kube::runtime::Predicate`): equal
/// before and after a status-only write.
pub fn desired_state<K: Resource>(object: &K) -> Option<u64> {
    let meta = object.meta();
    let mut hasher = DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.deletion_timestamp.as_ref().map(|t| t.0.as_second()).hash(&mut hasher);
    for owner in meta.owner_references.iter().flatten() {
        (&owner.uid, owner.controller).hash(&mut hasher);
    }
    // An object whose server sets no generation (built-in kinds without one) is never skipped.
    predicates::generation(object).map(|_| hasher.finish())
}

/// A hash of what a reader of a managed resource can see: its content (spec, status), labels,
/// annotations, owners and deletion — but not the engine's bookkeeping: finalizers, the
/// `external-create-*` timestamps, and an `external-name` that is only its default,
/// `metadata.name`. Equal before and after the engine's writes around a create, which change
/// nothing a reader can use; the status write that ends every pass still changes it.
pub fn observed_state(object: &DynamicObject) -> u64 {
    let meta = &object.metadata;
    let mut hasher = DefaultHasher::new();
    hash_json(&object.data, &mut hasher);
    meta.labels.hash(&mut hasher);
    let name = meta.name.as_deref();
    for (key, value) in meta.annotations.iter().flatten() {
        let bookkeeping =
            [EXTERNAL_CREATE_PENDING, EXTERNAL_CREATE_SUCCEEDED, EXTERNAL_CREATE_FAILED]
                .contains(&key.as_str())
                || (key == EXTERNAL_NAME && Some(value.as_str()) == name);
        if !bookkeeping {
            (key, value).hash(&mut hasher);
        }
    }
    meta.deletion_timestamp.as_ref().map(|t| t.0.as_second()).hash(&mut hasher);
    for owner in meta.owner_references.iter().flatten() {
        (&owner.uid, owner.controller).hash(&mut hasher);
    }
    hasher.finish()
}

fn hash_json(value: &Value, hasher: &mut impl Hasher) {
    match value {
        Value::Null => hasher.write_u8(0),
        Value::Bool(b) => (1u8, b).hash(hasher),
        Value::Number(n) => {
            (2u8, n.as_i64(), n.as_u64(), n.as_f64().map(f64::to_bits)).hash(hasher)
        }
        Value::String(s) => (3u8, s).hash(hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(hasher);
            items.iter().for_each(|item| hash_json(item, hasher));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(hasher);
            for (key, item) in map {
                key.hash(hasher);
                hash_json(item, hasher);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::DynamicObject;
    use serde_json::json;

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    fn base() -> serde_json::Value {
        json!({
            "apiVersion": "example.org/v1", "kind": "Thing",
            "metadata": {"name": "a", "uid": "u1", "generation": 1, "resourceVersion": "5",
                         "labels": {"team": "a"}, "annotations": {"note": "x"}},
            "spec": {"size": 1},
            "status": {"conditions": [{"type": "Ready", "status": "False"}]}
        })
    }

    #[test]
    fn a_status_only_write_is_skipped() {
        let mut after = base();
        after["metadata"]["resourceVersion"] = json!("6");
        after["status"]["conditions"][0]["status"] = json!("True");
        after["metadata"]["managedFields"] = json!([{"manager": "m", "operation": "Update"}]);
        assert_eq!(desired_state(&object(base())), desired_state(&object(after)));
    }

    #[test]
    fn spec_labels_annotations_finalizers_owners_and_deletion_are_not() {
        let before = desired_state(&object(base()));
        let edits: [(&str, serde_json::Value); 6] = [
            ("/metadata/generation", json!(2)),
            ("/metadata/labels/team", json!("b")),
            ("/metadata/annotations/note", json!("y")),
            ("/metadata/finalizers", json!(["f"])),
            (
                "/metadata/ownerReferences",
                json!([{"apiVersion": "v1", "kind": "K", "name": "o", "uid": "o1"}]),
            ),
            ("/metadata/deletionTimestamp", json!("2026-01-01T00:00:00Z")),
        ];
        for (path, value) in edits {
            let mut after = base();
            let (parent, key) = path.rsplit_once('/').unwrap();
            after.pointer_mut(parent).unwrap()[key] = value;
            assert_ne!(before, desired_state(&object(after)), "{path}");
        }
    }

    #[test]
    fn the_engines_bookkeeping_around_a_create_is_not_observed() {
        let before = object(base());
        let mut after = base();
        after["metadata"]["resourceVersion"] = json!("9");
        after["metadata"]["finalizers"] = json!(["finalizer.managedresource.crossplane.io"]);
        after["metadata"]["annotations"][EXTERNAL_NAME] = json!("a");
        after["metadata"]["annotations"][EXTERNAL_CREATE_PENDING] = json!("2026-01-01T00:00:00Z");
        after["metadata"]["annotations"][EXTERNAL_CREATE_SUCCEEDED] = json!("2026-01-01T00:00:01Z");
        assert_eq!(observed_state(&before), observed_state(&object(after)));
    }

    #[test]
    fn spec_status_labels_other_annotations_owners_and_deletion_are() {
        let before = observed_state(&object(base()));
        let edits: [(&str, serde_json::Value); 7] = [
            ("/spec/size", json!(2)),
            ("/status/conditions", json!([{"type": "Ready", "status": "True"}])),
            ("/metadata/labels/team", json!("b")),
            ("/metadata/annotations/crossplane.io~1external-name", json!("db-4f2a")),
            (
                "/metadata/ownerReferences",
                json!([{"apiVersion": "v1", "kind": "K", "name": "o", "uid": "o1"}]),
            ),
            ("/metadata/deletionTimestamp", json!("2026-01-01T00:00:00Z")),
            ("/metadata/annotations/note", json!("y")),
        ];
        for (path, value) in edits {
            let mut after = base();
            let (parent, key) = path.rsplit_once('/').unwrap();
            let key = key.replace("~1", "/");
            after.pointer_mut(parent).unwrap()[key.as_str()] = value;
            assert_ne!(before, observed_state(&object(after)), "{path}");
        }
    }

    #[test]
    fn an_object_without_generation_always_passes() {
        let mut without = base();
        without["metadata"].as_object_mut().unwrap().remove("generation");
        assert_eq!(desired_state(&object(without)), None);
    }
}
