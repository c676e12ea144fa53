//! Which watch events are worth a reconcile.
//!
//! A controller that writes its object's status gets its own write back as a watch event.
//! Reconciling it again finds nothing to do but still reads, renders and compares; under a
//! burst of thousands of objects those echoes are most of the work. Like crossplane-runtime's
//! `DesiredStateChanged` predicate, [`desired_state`] lets through only changes to what a
//! reconcile acts on: the spec (through `metadata.generation`), labels, annotations,
//! finalizers, owners and deletion. Status-only writes are skipped; the requeue after each
//! reconcile still re-reads everything.

use std::hash::{DefaultHasher, Hash, Hasher};

use kube::Resource;
use kube::runtime::predicates;

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
    fn an_object_without_generation_always_passes() {
        let mut without = base();
        without["metadata"].as_object_mut().unwrap().remove("generation");
        assert_eq!(desired_state(&object(without)), None);
    }
}
