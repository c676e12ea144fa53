//! The built-in kinds' schemas, generated from k8s-openapi with the patch strategies kubectl
//! needs added back.

use std::any::TypeId;
use std::sync::LazyLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{NamespaceResourceScope, Resource};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::ResourceDoc;

/// Schemas for the built-in kinds the embedded server serves (generated once, then cloned).
pub fn builtin_docs() -> Vec<ResourceDoc> {
    BUILTIN_DOCS.clone()
}

static BUILTIN_DOCS: LazyLock<Vec<ResourceDoc>> = LazyLock::new(|| {
    use k8s_openapi::api::{
        apps, autoscaling, batch, coordination, core, events, networking, rbac,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
    vec![
        builtin::<core::v1::Namespace>(),
        builtin::<core::v1::Secret>(),
        builtin::<core::v1::ConfigMap>(),
        builtin::<core::v1::ServiceAccount>(),
        builtin::<core::v1::Event>(),
        builtin::<core::v1::Service>(),
        builtin::<core::v1::PersistentVolumeClaim>(),
        builtin::<coordination::v1::Lease>(),
        builtin::<apiextensions::v1::CustomResourceDefinition>(),
        builtin::<apps::v1::Deployment>(),
        builtin::<apps::v1::StatefulSet>(),
        builtin::<apps::v1::DaemonSet>(),
        builtin::<apps::v1::ReplicaSet>(),
        builtin::<autoscaling::v2::HorizontalPodAutoscaler>(),
        builtin::<networking::v1::Ingress>(),
        builtin::<batch::v1::Job>(),
        builtin::<batch::v1::CronJob>(),
        builtin::<rbac::v1::Role>(),
        builtin::<rbac::v1::RoleBinding>(),
        builtin::<rbac::v1::ClusterRole>(),
        builtin::<rbac::v1::ClusterRoleBinding>(),
        builtin::<events::v1::Event>(),
    ]
});

/// ObjectMeta and everything it references, for custom resources' `metadata`.
pub(super) static OBJECT_META: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    let mut generator = SchemaGenerator::new(SchemaSettings::openapi3());
    generator.subschema_for::<ObjectMeta>();
    generator.take_definitions(true)
});

fn builtin<K: Resource + JsonSchema + 'static>() -> ResourceDoc {
    let root = SchemaSettings::openapi3().into_generator().into_root_schema_for::<K>();
    let mut schema = root.to_value();
    if let Some(map) = schema.as_object_mut() {
        map.remove("$schema");
        map.remove("title");
    }
    if let Some(Value::Object(definitions)) = schema.pointer_mut("/components/schemas") {
        for (name, definition) in definitions.iter_mut() {
            annotate_patch_strategies(name, definition);
        }
    }
    annotate_patch_strategies(&K::schema_name(), &mut schema);
    ResourceDoc {
        group: K::GROUP.to_owned(),
        version: K::VERSION.to_owned(),
        kind: K::KIND.to_owned(),
        plural: K::URL_PATH_SEGMENT.to_owned(),
        namespaced: TypeId::of::<K::Scope>() == TypeId::of::<NamespaceResourceScope>(),
        schema,
    }
}

/// The patch strategies of the Kubernetes Go types (`patchMergeKey`/`patchStrategy` tags), which
/// k8s-openapi's schemas leave out: (definition, property, merge key, strategy). kubectl computes
/// strategic merge patches from them, so they must agree with `patch::strategic_merge_patch`.
pub(super) const PATCH_STRATEGIES: &[(&str, &str, Option<&str>, &str)] = &[
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", None, "merge"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", Some("uid"), "merge"),
    ("io.k8s.api.core.v1.PodSpec", "containers", Some("name"), "merge"),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", Some("name"), "merge"),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", Some("name"), "merge"),
    ("io.k8s.api.core.v1.PodSpec", "volumes", Some("name"), "merge,retainKeys"),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", Some("name"), "merge"),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", Some("ip"), "merge"),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", Some("topologyKey"), "merge"),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", Some("name"), "merge,retainKeys"),
    ("io.k8s.api.core.v1.Container", "env", Some("name"), "merge"),
    ("io.k8s.api.core.v1.Container", "ports", Some("containerPort"), "merge"),
    ("io.k8s.api.core.v1.Container", "volumeMounts", Some("mountPath"), "merge"),
    ("io.k8s.api.core.v1.Container", "volumeDevices", Some("devicePath"), "merge"),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", Some("name"), "merge"),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", Some("containerPort"), "merge"),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", Some("mountPath"), "merge"),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", Some("devicePath"), "merge"),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", Some("port"), "merge"),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", Some("name"), "merge"),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", None, "retainKeys"),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", Some("type"), "merge"),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", Some("type"), "merge"),
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", Some("type"), "merge"),
    ("io.k8s.api.batch.v1.JobStatus", "conditions", Some("type"), "merge"),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", Some("type"), "merge"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "conditions", Some("type"), "merge"),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", Some("type"), "merge"),
];

fn annotate_patch_strategies(name: &str, definition: &mut Value) {
    for (_, property, merge_key, strategy) in PATCH_STRATEGIES.iter().filter(|s| s.0 == name) {
        let Some(Value::Object(schema)) =
            definition.pointer_mut(&format!("/properties/{property}"))
        else {
            continue;
        };
        schema.insert("x-kubernetes-patch-strategy".to_owned(), json!(strategy));
        if let Some(key) = merge_key {
            schema.insert("x-kubernetes-patch-merge-key".to_owned(), json!(key));
        }
    }
}
