//! The inventory of applied objects (`<ns>_<name>_<group>_<kind>` + version) and the pruning
//! decisions made from it. Pure.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{NAME_LABEL, NAMESPACE_LABEL};
use crate::gitops::api::{Inventory, InventoryEntry};

/// Annotation (or label) that protects an object from pruning with value `disabled`.
pub const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";
/// Annotation (or label) that stops reconciling an object with value `disabled`.
pub const RECONCILE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/reconcile";
/// Annotation (or label) selecting the apply policy; `Ignore` skips the object.
pub const SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";

/// An object's identity, decoded from an inventory id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectId {
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// API group, empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl ObjectId {
    /// Decode `<ns>_<name>_<group>_<kind>` (none of the parts can contain `_`).
    pub fn parse(id: &str) -> Option<Self> {
        let mut parts = id.splitn(4, '_');
        let (namespace, name, group, kind) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(ObjectId {
            namespace: namespace.into(),
            name: name.into(),
            group: group.into(),
            kind: kind.into(),
        })
    }
}

/// The inventory entry for an object (its `metadata.namespace` must already be final).
pub fn entry_for(object: &Value) -> InventoryEntry {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let metadata = &object["metadata"];
    InventoryEntry {
        id: format!(
            "{}_{}_{}_{}",
            metadata["namespace"].as_str().unwrap_or_default(),
            metadata["name"].as_str().unwrap_or_default(),
            group,
            object["kind"].as_str().unwrap_or_default()
        ),
        v: version.to_owned(),
    }
}

/// What to delete and which inventory to record after a successful apply.
#[derive(Clone, Debug, PartialEq)]
pub struct PrunePlan {
    /// Entries in the old inventory but not in the new build.
    pub stale: Vec<InventoryEntry>,
    /// The inventory to record.
    pub inventory: Inventory,
}

/// Plan pruning: stale = old − new (by id). An empty build never wipes a non-empty inventory:
/// it is far more often a mistake (wrong path, bad ignore rule) than an intent, so nothing is
/// deleted and the old inventory is kept; deleting the Kustomization removes everything.
pub fn plan(old: Option<&Inventory>, new: &[InventoryEntry]) -> PrunePlan {
    let old_entries = old.map(|i| i.entries.as_slice()).unwrap_or_default();
    if new.is_empty() && !old_entries.is_empty() {
        return PrunePlan {
            stale: Vec::new(),
            inventory: Inventory { entries: old_entries.to_vec() },
        };
    }
    let new_ids: BTreeSet<&str> = new.iter().map(|e| e.id.as_str()).collect();
    let stale = old_entries.iter().filter(|e| !new_ids.contains(e.id.as_str())).cloned().collect();
    let mut entries = new.to_vec();
    entries.sort();
    PrunePlan { stale, inventory: Inventory { entries } }
}

/// Whether a live stale object may be deleted: it must still carry this Kustomization's labels
/// and not opt out with `prune: disabled`, `reconcile: disabled` or `ssa: Ignore`.
pub fn may_prune(live: &Value, name: &str, namespace: &str) -> bool {
    let metadata = &live["metadata"];
    let marked = |key: &str, value: &str| {
        ["annotations", "labels"].iter().any(|f| metadata[f][key].as_str() == Some(value))
    };
    let owned = metadata["labels"][NAME_LABEL].as_str() == Some(name)
        && metadata["labels"][NAMESPACE_LABEL].as_str() == Some(namespace);
    owned
        && !marked(PRUNE_ANNOTATION, "disabled")
        && !marked(RECONCILE_ANNOTATION, "disabled")
        && !marked(SSA_ANNOTATION, "Ignore")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(id: &str) -> InventoryEntry {
        InventoryEntry { id: id.into(), v: "v1".into() }
    }

    #[test]
    fn ids_follow_flux_format() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "podinfo", "namespace": "default"}});
        assert_eq!(
            entry_for(&deploy),
            InventoryEntry { id: "default_podinfo_apps_Deployment".into(), v: "v1".into() }
        );
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}});
        assert_eq!(entry_for(&ns).id, "_apps__Namespace");
        let parsed = ObjectId::parse("_apps__Namespace").unwrap();
        assert_eq!(
            (parsed.namespace.as_str(), parsed.group.as_str(), parsed.kind.as_str()),
            ("", "", "Namespace")
        );
    }

    #[test]
    fn stale_objects_are_old_minus_new() {
        let old = Inventory { entries: vec![entry("a_x__ConfigMap"), entry("a_y__ConfigMap")] };
        let p = plan(Some(&old), &[entry("a_y__ConfigMap"), entry("a_z__ConfigMap")]);
        assert_eq!(p.stale, vec![entry("a_x__ConfigMap")]);
        assert_eq!(p.inventory.entries, vec![entry("a_y__ConfigMap"), entry("a_z__ConfigMap")]);
    }

    #[test]
    fn an_empty_build_never_wipes_the_inventory() {
        let old = Inventory { entries: vec![entry("a_x__ConfigMap")] };
        let p = plan(Some(&old), &[]);
        assert!(p.stale.is_empty());
        assert_eq!(p.inventory, old);
        assert_eq!(plan(None, &[]).inventory.entries, Vec::<InventoryEntry>::new());
    }

    #[test]
    fn prune_disabled_and_foreign_objects_are_kept() {
        let labels = json!({NAME_LABEL: "app", NAMESPACE_LABEL: "flux-system"});
        let ours = json!({"metadata": {"labels": labels}});
        assert!(may_prune(&ours, "app", "flux-system"));
        assert!(!may_prune(&ours, "other", "flux-system"), "owned by another Kustomization");
        let protected =
            json!({"metadata": {"labels": labels, "annotations": {PRUNE_ANNOTATION: "disabled"}}});
        assert!(!may_prune(&protected, "app", "flux-system"));
        let ignored =
            json!({"metadata": {"labels": labels, "annotations": {SSA_ANNOTATION: "Ignore"}}});
        assert!(!may_prune(&ignored, "app", "flux-system"));
        assert!(!may_prune(&json!({"metadata": {}}), "app", "flux-system"));
    }
}
