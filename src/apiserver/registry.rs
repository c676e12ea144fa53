//! The served resource types: the built-in kinds plus one entry per CustomResourceDefinition.
//!
//! The catalog is an immutable snapshot swapped whenever a CRD changes, so requests read it
//! without contention and a new CRD is served as soon as its write commits.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::scale::ScalePaths;
use super::selector::FieldSelector;
use super::table::{PrinterColumn, builtin_columns};

/// How stored objects map to what a resource serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Served exactly as stored (apart from `apiVersion`).
    Plain,
    /// `events.k8s.io/v1` Events, stored as core/v1 Events with renamed fields.
    EventsV1,
}

/// One served resource (all versions of it).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// API group, "" for core.
    pub group: String,
    /// Served versions, preferred first.
    pub versions: Vec<String>,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Lowercase plural, the URL segment.
    pub plural: String,
    /// Lowercase singular.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`, `managed`).
    pub categories: Vec<String>,
    /// Has a `/status` subresource: main writes ignore `.status`, status writes ignore the rest.
    pub status: bool,
    /// Defined by a CRD (custom resource): SMP is refused, PUT needs a resourceVersion.
    pub custom: bool,
    /// Storage key shared by every version: `group/plural`.
    pub storage: String,
    /// Stored-to-served mapping.
    pub shape: Shape,
    /// `openAPIV3Schema` per version (custom resources).
    pub schemas: BTreeMap<String, Value>,
    /// Printer columns per version: a CRD's `additionalPrinterColumns`, a built-in kind's own.
    pub columns: BTreeMap<String, Vec<PrinterColumn>>,
    /// Field selector labels beyond `metadata.name`/`metadata.namespace`, per version: the
    /// kind's own (Secret `type`, Event `involvedObject.*`) or a CRD's `selectableFields`.
    pub field_labels: BTreeMap<String, Vec<String>>,
    /// What the `/scale` subresource reads and writes, per version that has one.
    pub scale: BTreeMap<String, ScalePaths>,
}

impl ResourceType {
    /// `group/version` (or `version` for the core group).
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() { version.to_owned() } else { format!("{}/{version}", self.group) }
    }

    /// The preferred version.
    pub fn preferred(&self) -> &str {
        &self.versions[0]
    }

    fn builtin(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        ResourceType {
            group: group.into(),
            versions: vec![version.into()],
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            status: false,
            custom: false,
            storage: format!("{group}/{plural}"),
            shape: Shape::Plain,
            schemas: BTreeMap::new(),
            columns: builtin_columns(group, plural)
                .map(|columns| (version.to_owned(), columns))
                .into_iter()
                .collect(),
            field_labels: builtin_field_labels(group, plural)
                .map(|labels| (version.to_owned(), labels.iter().map(|l| l.to_string()).collect()))
                .into_iter()
                .collect(),
            scale: BTreeMap::new(),
        }
    }

    fn with_scale(mut self) -> Self {
        let versions = self.versions.iter().map(|v| (v.clone(), ScalePaths::workload()));
        self.scale = versions.collect();
        self
    }

    fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    fn with_status(mut self) -> Self {
        self.status = true;
        self
    }

    fn in_all(mut self) -> Self {
        self.categories = vec!["all".into()];
        self
    }

    /// Builds the resource type a CustomResourceDefinition declares; `None` when the CRD is
    /// incomplete (it is validated before it is stored, so only hand-made rows hit this).
    pub fn from_crd(crd: &Value) -> Option<Self> {
        let spec = &crd["spec"];
        // The names accepted, when a later update's conflicting ones were not.
        let accepted = &crd["status"]["acceptedNames"];
        let names = if accepted["kind"].is_string() { accepted } else { &spec["names"] };
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        let group = spec["group"].as_str()?.to_owned();
        let plural = names["plural"].as_str()?.to_owned();
        let kind = names["kind"].as_str()?.to_owned();
        let mut served: Vec<&Value> = spec["versions"]
            .as_array()?
            .iter()
            .filter(|v| v["served"].as_bool().unwrap_or(false))
            .collect();
        served.sort_by(|a, b| {
            version_priority(a["name"].as_str().unwrap_or(""))
                .cmp(&version_priority(b["name"].as_str().unwrap_or("")))
        });
        if served.is_empty() {
            return None;
        }
        let mut schemas = BTreeMap::new();
        let mut columns = BTreeMap::new();
        let mut field_labels = BTreeMap::new();
        let mut scale = BTreeMap::new();
        let mut status = false;
        for v in &served {
            let name = v["name"].as_str()?.to_owned();
            status |= v["subresources"]["status"].is_object();
            schemas.insert(name.clone(), v["schema"]["openAPIV3Schema"].clone());
            let cols = v["additionalPrinterColumns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(PrinterColumn::from_crd)
                .collect();
            let selectable = v["selectableFields"].as_array().into_iter().flatten();
            let labels = selectable
                .filter_map(|f| f["jsonPath"].as_str())
                .map(|path| path.trim_start_matches('.').to_owned())
                .collect();
            field_labels.insert(name.clone(), labels);
            if let Some(paths) = ScalePaths::of_crd_version(v) {
                scale.insert(name.clone(), paths);
            }
            columns.insert(name, cols);
        }
        Some(ResourceType {
            storage: format!("{group}/{plural}"),
            group,
            versions: served.iter().filter_map(|v| v["name"].as_str().map(str::to_owned)).collect(),
            singular: names["singular"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| kind.to_lowercase()),
            kind,
            plural,
            namespaced: spec["scope"].as_str() != Some("Cluster"),
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            status,
            custom: true,
            shape: Shape::Plain,
            schemas,
            columns,
            field_labels,
            scale,
        })
    }

    /// Refuses a field selector on a field this kind cannot be selected by, as kube-apiserver
    /// does: an unsupported (or misspelt) field would otherwise compare as "" and `!=` would
    /// select every object.
    pub fn check_field_selector(
        &self,
        version: &str,
        fields: &FieldSelector,
    ) -> Result<(), String> {
        let own = self.field_labels.get(version).map(Vec::as_slice).unwrap_or_default();
        match fields.fields().find(|f| {
            !matches!(*f, "metadata.name" | "metadata.namespace") && !own.iter().any(|l| l == f)
        }) {
            Some(field) => Err(format!("field label not supported: {field}")),
            None => Ok(()),
        }
    }
}

/// The field selector labels kube-apiserver registers for a built-in kind.
fn builtin_field_labels(group: &str, plural: &str) -> Option<&'static [&'static str]> {
    const EVENT: &[&str] = &[
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ];
    Some(match (group, plural) {
        ("" | "events.k8s.io", "events") => EVENT,
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "replicationcontrollers") | ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        _ => return None,
    })
}

/// Kubernetes version ordering: GA before beta before alpha, higher numbers first, then others.
fn version_priority(v: &str) -> (u8, std::cmp::Reverse<u32>, std::cmp::Reverse<u32>, String) {
    use std::cmp::Reverse;
    let parsed = v.strip_prefix('v').and_then(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let major: u32 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        let (rank, minor) = if tail.is_empty() {
            (0, 0)
        } else if let Some(n) = tail.strip_prefix("beta") {
            (1, n.parse().ok()?)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (2, n.parse().ok()?)
        } else {
            return None;
        };
        Some((rank, Reverse(major), Reverse(minor)))
    });
    match parsed {
        Some((rank, major, minor)) => (rank, major, minor, String::new()),
        None => (3, Reverse(0), Reverse(0), v.to_owned()),
    }
}

/// The built-in kinds every server serves.
pub fn builtins() -> Vec<ResourceType> {
    use ResourceType as R;
    let mut events_v1 = R::builtin("events.k8s.io", "v1", "Event", "events", true).short(&["ev"]);
    events_v1.storage = "/events".into();
    events_v1.shape = Shape::EventsV1;
    vec![
        R::builtin("", "v1", "Namespace", "namespaces", false).short(&["ns"]).with_status(),
        R::builtin("", "v1", "Secret", "secrets", true),
        R::builtin("", "v1", "ConfigMap", "configmaps", true).short(&["cm"]),
        R::builtin("", "v1", "ServiceAccount", "serviceaccounts", true).short(&["sa"]),
        R::builtin("", "v1", "Event", "events", true).short(&["ev"]),
        R::builtin("", "v1", "Service", "services", true).short(&["svc"]).with_status().in_all(),
        R::builtin("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true)
            .short(&["pvc"])
            .with_status(),
        events_v1,
        R::builtin("coordination.k8s.io", "v1", "Lease", "leases", true),
        R::builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        )
        .short(&["crd", "crds"])
        .with_status(),
        R::builtin("apps", "v1", "Deployment", "deployments", true)
            .short(&["deploy"])
            .with_scale()
            .with_status()
            .in_all(),
        R::builtin("apps", "v1", "StatefulSet", "statefulsets", true)
            .short(&["sts"])
            .with_scale()
            .with_status()
            .in_all(),
        R::builtin("apps", "v1", "DaemonSet", "daemonsets", true)
            .short(&["ds"])
            .with_status()
            .in_all(),
        R::builtin("apps", "v1", "ReplicaSet", "replicasets", true)
            .short(&["rs"])
            .with_scale()
            .with_status()
            .in_all(),
        R::builtin("batch", "v1", "Job", "jobs", true).with_status().in_all(),
        R::builtin("batch", "v1", "CronJob", "cronjobs", true)
            .short(&["cj"])
            .with_status()
            .in_all(),
        R::builtin("networking.k8s.io", "v1", "Ingress", "ingresses", true)
            .short(&["ing"])
            .with_status(),
        R::builtin(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        )
        .short(&["hpa"])
        .with_status()
        .in_all(),
        R::builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        R::builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
        R::builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
        R::builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
    ]
}

/// The storage key of CustomResourceDefinitions.
pub const CRD_STORAGE: &str = "apiextensions.k8s.io/customresourcedefinitions";
/// The storage key of Namespaces.
pub const NAMESPACE_STORAGE: &str = "/namespaces";

/// All served resource types; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    catalog: Arc<RwLock<Arc<Vec<Arc<ResourceType>>>>>,
}

impl Registry {
    /// A registry serving the built-in kinds and the given CRDs.
    pub fn new(crds: &[Value]) -> Self {
        let registry = Registry::default();
        registry.set_crds(crds);
        registry
    }

    /// Replaces the custom resource types with those the CRDs declare. A CRD being deleted is
    /// still served so that controllers can remove finalizers from its remaining objects.
    pub fn set_crds(&self, crds: &[Value]) {
        let mut types: Vec<Arc<ResourceType>> = builtins().into_iter().map(Arc::new).collect();
        // A CRD whose names were refused (`Established=False`) is not served.
        let refused = |crd: &&Value| {
            crd["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["type"] == "Established" && c["status"] == "False")
            })
        };
        let served = crds.iter().filter(|crd| !refused(crd));
        types.extend(served.filter_map(ResourceType::from_crd).map(Arc::new));
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(types);
    }

    /// Every served resource type.
    pub fn all(&self) -> Arc<Vec<Arc<ResourceType>>> {
        self.catalog.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The type served at `group/version/plural`.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.all()
            .iter()
            .find(|t| {
                t.group == group && t.plural == plural && t.versions.iter().any(|v| v == version)
            })
            .cloned()
    }

    /// The type stored under `storage` (its first served form).
    pub fn by_storage(&self, storage: &str) -> Option<Arc<ResourceType>> {
        self.all().iter().find(|t| t.storage == storage && t.shape == Shape::Plain).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_crd_is_served_at_its_preferred_version_with_names_and_columns() {
        let crd = json!({"spec": {"group": "example.org", "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"], "categories": ["managed"]},
            "versions": [
                {"name": "v1alpha1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}},
                {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                 "schema": {"openAPIV3Schema": {"type": "object"}},
                 "additionalPrinterColumns": [{"name": "Ready", "type": "string", "jsonPath": ".status.ready"}]},
                {"name": "v2", "served": false, "storage": false}]}});
        let registry = Registry::new(&[crd]);
        let t = registry.lookup("example.org", "v1alpha1", "widgets").unwrap();
        assert_eq!(t.versions, ["v1", "v1alpha1"]);
        assert!(t.custom && t.status && !t.namespaced);
        assert_eq!(t.columns["v1"][0].json_path, ".status.ready");
        assert!(registry.lookup("example.org", "v2", "widgets").is_none());
    }

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "foo", "v2beta1", "v1", "v2", "v1beta2"];
        v.sort_by_key(|s| version_priority(s));
        assert_eq!(v, ["v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "foo"]);
    }
}
