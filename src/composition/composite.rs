//! Composite decisions (pure): what to record on the composite and which composed resources to
//! delete after a render.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::pt::PtInput;
use super::render::{Observed, PT_INPUT_API_VERSION, Rendered};
use super::types::Composition;
use super::xrd::ServedKind;

/// `{apiVersion, kind, name}` of an object, as `spec.resourceRefs` holds it.
pub fn reference(object: &Value) -> Value {
    json!({
        "apiVersion": object["apiVersion"],
        "kind": object["kind"],
        "name": object["metadata"]["name"],
    })
}

/// The `(apiVersion, kind)` of every resource the Compositions for `composite` compose, so
/// the composite controller can watch them.
pub fn composed_kinds(
    compositions: &[Composition],
    composite: &ServedKind,
) -> BTreeSet<(String, String)> {
    let mut kinds = BTreeSet::new();
    let for_kind = compositions.iter().filter(|c| {
        let t = &c.spec.composite_type_ref;
        t.api_version == composite.api_version() && t.kind == composite.kind
    });
    for c in for_kind {
        let pipeline = c.spec.pipeline.iter().filter_map(|step| {
            let input = step.input.as_ref().filter(|i| i["apiVersion"] == PT_INPUT_API_VERSION)?;
            serde_json::from_value::<PtInput>(input.clone()).ok()
        });
        let templates = c.spec.resources.iter().cloned().chain(pipeline.flat_map(|p| p.resources));
        for t in templates {
            if let (Some(api_version), Some(kind)) =
                (t.base["apiVersion"].as_str(), t.base["kind"].as_str())
            {
                kinds.insert((api_version.to_owned(), kind.to_owned()));
            }
        }
    }
    kinds
}

/// Annotation recording a hash of the desired state last applied, so removing a field from
/// the desired state still triggers an apply (server-side apply then drops it).
pub const ANNOTATION_DESIRED_HASH: &str = "crosstie.io/desired-hash";

/// `desired` annotated with a hash of itself; compare with [`contains`] to skip no-op applies.
pub fn with_desired_hash(mut desired: Value) -> Value {
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(desired.to_string()));
    if !desired["metadata"]["annotations"].is_object() {
        desired["metadata"]["annotations"] = json!({});
    }
    desired["metadata"]["annotations"][ANNOTATION_DESIRED_HASH] = json!(&hash[..16]);
    desired
}

/// Whether `observed` already holds every field of `desired` (objects compared key by key,
/// everything else by value). Applying such an object would change nothing, so it is skipped:
/// fewer writes, and no watch ping-pong with API servers that bump `resourceVersion` on no-op
/// applies.
pub fn contains(observed: &Value, desired: &Value) -> bool {
    match (observed, desired) {
        (Value::Object(o), Value::Object(d)) => {
            d.iter().all(|(k, v)| o.get(k).is_some_and(|ov| contains(ov, v)))
        }
        (o, d) => o == d,
    }
}

/// `spec.resourceRefs` after a render: every rendered resource, plus observed ones whose render
/// failed (they are kept, not orphaned), in Composition order.
pub fn resource_refs(rendered: &Rendered, observed: &Observed) -> Vec<Value> {
    rendered
        .resources
        .iter()
        .filter_map(|r| match &r.desired {
            Ok(desired) => Some(reference(desired)),
            Err(_) => observed.resources.get(&r.name).map(reference),
        })
        .collect()
}

/// Observed composed resources the Composition no longer renders: to be deleted.
pub fn stale<'a>(rendered: &Rendered, observed: &'a Observed) -> Vec<&'a Value> {
    observed
        .resources
        .iter()
        .filter(|(name, _)| !rendered.resources.iter().any(|r| &r.name == *name))
        .map(|(_, object)| object)
        .collect()
}

/// Fields the controller fills in on a composite before rendering, as a merge patch: the
/// selected Composition and, when the Composition publishes connection Secrets, where the
/// composite's Secret goes (named by the composite's UID, like Crossplane).
pub fn defaults(xr: &Value, composition: &Composition) -> Option<Value> {
    let mut spec = serde_json::Map::new();
    if xr["spec"]["compositionRef"]["name"].as_str().is_none() {
        spec.insert("compositionRef".into(), json!({"name": composition.metadata.name}));
    }
    let namespace = composition.spec.write_connection_secrets_to_namespace.as_deref();
    if let (Some(namespace), Some(uid), true) = (
        namespace,
        xr["metadata"]["uid"].as_str(),
        xr["spec"]["writeConnectionSecretToRef"].is_null(),
    ) {
        spec.insert(
            "writeConnectionSecretToRef".into(),
            json!({"name": uid, "namespace": namespace}),
        );
    }
    (!spec.is_empty()).then(|| json!({"spec": spec}))
}

/// A merge patch for what changed outside `status` (`ToCompositeFieldPath` patches and
/// `spec.resourceRefs`): changed spec fields, labels and annotations — never server-managed
/// metadata.
pub fn spec_patch(before: &Value, after: &Value) -> Option<Value> {
    let mut patch = json!({});
    // Only the changed top-level spec fields: sending the whole spec would make this writer
    // co-own fields the claim owns, and the claim could no longer remove them.
    for (key, value) in after["spec"].as_object().into_iter().flatten() {
        if before["spec"][key] != *value {
            patch["spec"][key] = value.clone();
        }
    }
    for field in ["labels", "annotations"] {
        if before["metadata"][field] != after["metadata"][field] {
            patch["metadata"][field] = after["metadata"][field].clone();
        }
    }
    (patch != json!({})).then_some(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::composition::render::ComposedResource;

    fn resource(name: &str, desired: Result<Value, String>) -> ComposedResource {
        ComposedResource { name: name.into(), desired, ready: false }
    }

    fn object(kind: &str, name: &str, resource: &str) -> Value {
        json!({
            "apiVersion": "x/v1", "kind": kind,
            "metadata": {"name": name, "annotations": {"crossplane.io/composition-resource-name": resource}},
        })
    }

    #[test]
    fn a_failed_resource_keeps_its_reference_and_is_not_deleted() {
        let observed = Observed::from_objects([
            object("A", "xr-a", "a"),
            object("B", "xr-b", "b"),
            object("C", "xr-c", "removed"),
        ]);
        let rendered = Rendered {
            composite: json!({}),
            resources: vec![
                resource("a", Ok(object("A", "xr-a", "a"))),
                resource("b", Err("boom".into())),
            ],
            connection_details: Default::default(),
        };
        assert_eq!(
            resource_refs(&rendered, &observed),
            [
                json!({"apiVersion": "x/v1", "kind": "A", "name": "xr-a"}),
                json!({"apiVersion": "x/v1", "kind": "B", "name": "xr-b"})
            ]
        );
        let stale = stale(&rendered, &observed);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0]["metadata"]["name"], "xr-c");
    }

    #[test]
    fn composed_kinds_come_from_resources_and_patch_and_transform_steps_of_the_kind() {
        let shipped = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/compositions/composition-postgresqlinstance-aws.yaml"
        );
        let shipped: Composition =
            serde_saphyr::from_str(&std::fs::read_to_string(shipped).unwrap()).unwrap();
        let mut other = shipped.clone();
        other.spec.composite_type_ref.kind = "XOther".into();
        other.spec.pipeline.clear();
        other.spec.resources = serde_json::from_value(
            json!([{"name": "b", "base": {"apiVersion": "s3/v1", "kind": "Bucket"}}]),
        )
        .unwrap();
        let kind = ServedKind {
            group: "database.crosstie.io".into(),
            version: "v1alpha1".into(),
            kind: "XPostgreSQLInstance".into(),
            plural: "xpostgresqlinstances".into(),
        };
        let kinds: Vec<_> = composed_kinds(&[shipped, other], &kind).into_iter().collect();
        assert_eq!(
            kinds,
            [
                ("database.aws.crossplane.io/v1beta1".to_owned(), "DBSubnetGroup".to_owned()),
                ("database.aws.crossplane.io/v1beta1".to_owned(), "RDSInstance".to_owned()),
            ]
        );
    }

    #[test]
    fn an_object_contains_a_desired_state_only_when_every_desired_field_matches() {
        let observed = json!({
            "metadata": {"name": "a", "labels": {"x": "1", "y": "2"}, "resourceVersion": "7"},
            "spec": {"size": 20, "tags": [{"k": "v"}], "lateInit": true},
            "status": {"ready": true},
        });
        assert!(contains(
            &observed,
            &json!({"metadata": {"labels": {"x": "1"}}, "spec": {"size": 20}})
        ));
        assert!(contains(&observed, &json!({"spec": {"tags": [{"k": "v"}]}})));
        assert!(!contains(&observed, &json!({"spec": {"size": 21}})));
        assert!(!contains(&observed, &json!({"spec": {"tags": []}})), "arrays compare whole");
        assert!(!contains(&observed, &json!({"spec": {"missing": null}})));
    }

    #[test]
    fn removing_a_desired_field_changes_the_hash_so_the_apply_is_not_skipped() {
        let before =
            with_desired_hash(json!({"metadata": {"name": "a"}, "spec": {"x": 1, "y": 2}}));
        let after = with_desired_hash(json!({"metadata": {"name": "a"}, "spec": {"x": 1}}));
        assert!(contains(&before, &before));
        assert!(
            !contains(&before, &after),
            "the observed object still has y, but the hash moved on"
        );
        assert_eq!(
            before["metadata"]["annotations"][ANNOTATION_DESIRED_HASH].as_str().unwrap().len(),
            16
        );
    }

    #[test]
    fn spec_patches_carry_only_spec_labels_and_annotations() {
        let before = json!({"metadata": {"name": "x", "resourceVersion": "1"}, "spec": {"a": 1}});
        assert_eq!(spec_patch(&before, &before), None);
        let mut after = before.clone();
        after["metadata"]["annotations"] = json!({"k": "v"});
        after["metadata"]["resourceVersion"] = json!("2");
        assert_eq!(
            spec_patch(&before, &after),
            Some(json!({"metadata": {"annotations": {"k": "v"}}}))
        );
        after["spec"]["b"] = json!(2);
        assert_eq!(
            spec_patch(&before, &after),
            Some(json!({"spec": {"b": 2}, "metadata": {"annotations": {"k": "v"}}}))
        );
    }

    #[test]
    fn defaults_record_the_composition_and_a_secret_named_by_uid() {
        let composition: Composition = serde_json::from_value(json!({
            "apiVersion": "apiextensions.crossplane.io/v1", "kind": "Composition",
            "metadata": {"name": "aws"},
            "spec": {"compositeTypeRef": {"apiVersion": "x/v1", "kind": "X"}, "writeConnectionSecretsToNamespace": "crossplane-system"},
        }))
        .unwrap();
        let xr = json!({"metadata": {"uid": "u-1"}, "spec": {}});
        assert_eq!(
            defaults(&xr, &composition),
            Some(json!({"spec": {
                "compositionRef": {"name": "aws"},
                "writeConnectionSecretToRef": {"name": "u-1", "namespace": "crossplane-system"},
            }}))
        );
        let done = json!({"metadata": {"uid": "u-1"}, "spec": {"compositionRef": {"name": "aws"}, "writeConnectionSecretToRef": {"name": "mine", "namespace": "ns"}}});
        assert_eq!(defaults(&done, &composition), None);
    }
}
