//! OpenAPI documents as kube-apiserver publishes them: `/openapi/v3` (an index of per
//! group-version OpenAPI 3.0 documents) and `/openapi/v2` (one Swagger 2.0 document).
//!
//! kubectl reads them to validate (`--validate=strict` asks the server to check fields only when
//! a resource's PATCH operation declares the `fieldValidation` parameter), to explain
//! (`kubectl explain` walks `components.schemas`) and to pick patch types. Built-in kinds'
//! schemas come from k8s-openapi; custom resources' from their CRD's `openAPIV3Schema`.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{NamespaceResourceScope, Resource};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

/// One served resource and its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDoc {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Plural resource name, as in the URL.
    pub plural: String,
    pub namespaced: bool,
    /// `openAPIV3Schema`. For built-in kinds, the referenced definitions are carried along in
    /// `components.schemas`.
    pub schema: Value,
}

const V3_DEFINITIONS: &str = "#/components/schemas/";
const V2_DEFINITIONS: &str = "#/definitions/";

/// Schemas for the built-in kinds the embedded server serves (generated once, then cloned).
pub fn builtin_docs() -> Vec<ResourceDoc> {
    BUILTIN_DOCS.clone()
}

static BUILTIN_DOCS: LazyLock<Vec<ResourceDoc>> = LazyLock::new(|| {
    use k8s_openapi::api::{apps, batch, coordination, core, events, networking, rbac};
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
static OBJECT_META: LazyLock<Map<String, Value>> = LazyLock::new(|| {
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
const PATCH_STRATEGIES: &[(&str, &str, Option<&str>, &str)] = &[
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

/// The Swagger 2.0 document of every resource, with `#/definitions/` references.
pub fn v2(docs: &[ResourceDoc]) -> Value {
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for doc in docs {
        let (name, schemas) = definitions_of(doc);
        definitions.extend(schemas);
        paths.extend(resource_paths(doc, &name, Flavor::V2));
    }
    let mut document = json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "definitions": definitions,
    });
    rewrite_refs(&mut document);
    document
}

/// The `/openapi/v3` index: one entry per group-version, each URL carrying a hash of what its
/// document is built from, so clients can cache documents.
pub fn v3_index(docs: &[ResourceDoc]) -> Value {
    let mut hashes: BTreeMap<String, DefaultHasher> = BTreeMap::new();
    for doc in docs {
        let hasher = hashes.entry(api_prefix(&doc.group, &doc.version)).or_default();
        (&doc.kind, &doc.plural, doc.namespaced, &doc.schema).hash(hasher);
    }
    let paths: Map<String, Value> = hashes
        .into_iter()
        .map(|(path, hasher)| {
            let hash = format!("{:016X}", hasher.finish());
            let url = format!("/openapi/v3/{path}?hash={hash}");
            (path, json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// The OpenAPI 3.0 document of one group-version (`/openapi/v3/apis/{group}/{version}`, or
/// `/openapi/v3/api/v1` for the core group); `None` when nothing is served there.
pub fn v3_group_version(docs: &[ResourceDoc], group: &str, version: &str) -> Option<Value> {
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for doc in docs.iter().filter(|d| d.group == group && d.version == version) {
        let (name, definitions) = definitions_of(doc);
        schemas.extend(definitions);
        paths.extend(resource_paths(doc, &name, Flavor::V3));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// The `/openapi/v3` path of a group-version: `api/v1` or `apis/<group>/<version>`.
fn api_prefix(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// The definition name kube-apiserver gives a kind: `io.k8s.api.core.v1.ConfigMap` for
/// built-ins, `<reversed group>.<version>.<Kind>` for custom resources.
pub fn definition_name(doc: &ResourceDoc) -> String {
    let ResourceDoc { group, version, kind, .. } = doc;
    if is_builtin(doc) {
        return match group.as_str() {
            "" => format!("io.k8s.api.core.{version}.{kind}"),
            "apiextensions.k8s.io" => {
                format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{kind}")
            }
            group => {
                let short = group.split('.').next().unwrap_or(group);
                format!("io.k8s.api.{short}.{version}.{kind}")
            }
        };
    }
    let reversed: Vec<&str> = group.rsplit('.').collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// Built-in docs carry their definitions; CRD schemas are self-contained.
fn is_builtin(doc: &ResourceDoc) -> bool {
    doc.schema.get("components").is_some()
}

/// The kind's definition name and every definition its document needs.
fn definitions_of(doc: &ResourceDoc) -> (String, Map<String, Value>) {
    let name = definition_name(doc);
    let mut root = match &doc.schema {
        schema @ Value::Object(_) => schema.clone(),
        // A version without a schema accepts anything, as kube-apiserver publishes it.
        _ => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    };
    let mut definitions = Map::new();
    if let Some(map) = root.as_object_mut() {
        if let Some(Value::Object(components)) = map.remove("components")
            && let Some(Value::Object(schemas)) = components.get("schemas")
        {
            definitions.extend(schemas.clone());
        }
        if !is_builtin(doc) {
            publish_crd_schema(map);
            definitions.extend(OBJECT_META.clone());
        }
        map.insert(
            "x-kubernetes-group-version-kind".to_owned(),
            json!([{"group": doc.group, "version": doc.version, "kind": doc.kind}]),
        );
    }
    definitions.insert(name.clone(), root);
    (name, definitions)
}

/// Adds what kube-apiserver adds to a published CRD schema: described apiVersion and kind, and
/// metadata as a reference to ObjectMeta.
fn publish_crd_schema(schema: &mut Map<String, Value>) {
    schema.entry("type").or_insert_with(|| json!("object"));
    let properties = schema.entry("properties").or_insert_with(|| json!({}));
    let Some(properties) = properties.as_object_mut() else {
        return;
    };
    properties.insert(
        "apiVersion".to_owned(),
        json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}),
    );
    properties.insert(
        "kind".to_owned(),
        json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}),
    );
    properties.insert(
        "metadata".to_owned(),
        json!({
            "allOf": [{"$ref": format!("{V3_DEFINITIONS}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")}],
            "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        }),
    );
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flavor {
    V2,
    V3,
}

/// The collection and item paths of a resource with their operations.
fn resource_paths(doc: &ResourceDoc, name: &str, flavor: Flavor) -> Map<String, Value> {
    let prefix = api_prefix(&doc.group, &doc.version);
    let plural = &doc.plural;
    let scope = if doc.namespaced { "namespaces/{namespace}/" } else { "" };
    let collection = format!("/{prefix}/{scope}{plural}");
    let item = format!("{collection}/{{name}}");
    let op = Operations { doc, name, flavor };
    let mut scope_params = Vec::new();
    if doc.namespaced {
        scope_params.push(path_param("namespace", flavor));
    }
    let mut item_params = scope_params.clone();
    item_params.push(path_param("name", flavor));

    let mut paths = Map::new();
    paths.insert(
        collection,
        json!({
            "parameters": scope_params,
            "get": op.operation("list", "list", false),
            "post": op.operation("create", "post", true),
            "delete": op.operation("deletecollection", "deletecollection", false),
        }),
    );
    paths.insert(
        item,
        json!({
            "parameters": item_params,
            "get": op.operation("read", "get", false),
            "put": op.operation("replace", "put", true),
            "patch": op.operation("patch", "patch", true),
            "delete": op.operation("delete", "delete", false),
        }),
    );
    if doc.namespaced {
        paths.insert(
            format!("/{prefix}/{plural}"),
            json!({"get": op.operation("listForAllNamespaces", "list", false)}),
        );
    }
    paths
}

/// Builds operations of one resource.
struct Operations<'a> {
    doc: &'a ResourceDoc,
    name: &'a str,
    flavor: Flavor,
}

impl Operations<'_> {
    fn operation(&self, verb: &str, action: &str, writes: bool) -> Value {
        let doc = self.doc;
        let kind = &doc.kind;
        let scope =
            if doc.namespaced && verb != "listForAllNamespaces" { "Namespaced" } else { "" };
        let (verb_name, suffix) = match verb {
            "listForAllNamespaces" => ("list", "ForAllNamespaces"),
            other => (other, ""),
        };
        let group_part = capitalized_group(&doc.group, &doc.version);
        let mut operation = json!({
            "operationId": format!("{verb_name}{group_part}{scope}{kind}{suffix}"),
            "tags": [group_tag(&doc.group, &doc.version)],
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": {"group": doc.group, "version": doc.version, "kind": kind},
            "parameters": self.query_params(verb, writes),
        });
        let schema_ref = json!({"$ref": format!("{V3_DEFINITIONS}{}", self.name)});
        let body_types: Vec<&str> = if verb == "patch" {
            let mut types = vec!["application/json-patch+json", "application/merge-patch+json"];
            if is_builtin(doc) {
                types.push("application/strategic-merge-patch+json");
            }
            types.push("application/apply-patch+yaml");
            types
        } else {
            vec!["application/json", "application/yaml"]
        };
        let body_schema =
            if verb == "patch" { json!({"type": "object"}) } else { schema_ref.clone() };
        let response_schema = if action == "list" || action == "deletecollection" {
            json!({"type": "object"})
        } else {
            schema_ref
        };
        let map = operation.as_object_mut().expect("operation is an object");
        match self.flavor {
            Flavor::V3 => {
                if writes {
                    let content: Map<String, Value> = body_types
                        .iter()
                        .map(|t| (t.to_string(), json!({"schema": body_schema})))
                        .collect();
                    map.insert("requestBody".into(), json!({"required": true, "content": content}));
                }
                map.insert(
                    "responses".into(),
                    json!({
                        "200": {"description": "OK", "content": {"application/json": {"schema": response_schema}}},
                        "401": {"description": "Unauthorized"},
                    }),
                );
            }
            Flavor::V2 => {
                if writes {
                    map.insert("consumes".into(), json!(body_types));
                    if let Some(Value::Array(params)) = map.get_mut("parameters") {
                        params.insert(0, json!({"name": "body", "in": "body", "required": true, "schema": body_schema}));
                    }
                }
                map.insert("produces".into(), json!(["application/json", "application/yaml"]));
                map.insert(
                    "responses".into(),
                    json!({"200": {"description": "OK", "schema": response_schema}, "401": {"description": "Unauthorized"}}),
                );
            }
        }
        operation
    }

    fn query_params(&self, verb: &str, writes: bool) -> Vec<Value> {
        let flavor = self.flavor;
        let mut params = vec![query_param(
            "pretty",
            "string",
            "If 'true', then the output is pretty printed.",
            flavor,
        )];
        if writes {
            params.push(query_param("dryRun", "string", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed", flavor));
            params.push(query_param("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).", flavor));
            params.push(query_param("fieldValidation", "string", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.", flavor));
        }
        if verb == "patch" {
            params.push(query_param("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.", flavor));
        }
        if matches!(verb, "list" | "listForAllNamespaces" | "deletecollection") {
            for (name, type_) in [
                ("labelSelector", "string"),
                ("fieldSelector", "string"),
                ("limit", "integer"),
                ("continue", "string"),
                ("resourceVersion", "string"),
                ("watch", "boolean"),
                ("allowWatchBookmarks", "boolean"),
                ("timeoutSeconds", "integer"),
            ] {
                params.push(query_param(name, type_, "", flavor));
            }
        }
        if matches!(verb, "delete" | "deletecollection") {
            params.push(query_param("propagationPolicy", "string", "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background' and 'Foreground'.", flavor));
            params.push(query_param("gracePeriodSeconds", "integer", "", flavor));
        }
        params
    }
}

fn query_param(name: &str, type_: &str, description: &str, flavor: Flavor) -> Value {
    let mut param = json!({"name": name, "in": "query", "uniqueItems": true});
    if !description.is_empty() {
        param["description"] = json!(description);
    }
    match flavor {
        Flavor::V3 => param["schema"] = json!({"type": type_, "uniqueItems": true}),
        Flavor::V2 => param["type"] = json!(type_),
    }
    param
}

fn path_param(name: &str, flavor: Flavor) -> Value {
    let description = match name {
        "namespace" => "object name and auth scope, such as for teams and projects",
        _ => "name of the resource",
    };
    let mut param = json!({"name": name, "in": "path", "required": true, "uniqueItems": true, "description": description});
    match flavor {
        Flavor::V3 => param["schema"] = json!({"type": "string", "uniqueItems": true}),
        Flavor::V2 => param["type"] = json!("string"),
    }
    param
}

/// `CoreV1`, `AppsV1`, `DatabaseAwsCrossplaneIoV1beta1`: the group part of operation ids.
fn capitalized_group(group: &str, version: &str) -> String {
    let group = if group.is_empty() { "core" } else { group.trim_end_matches(".k8s.io") };
    let words = group.split(['.', '-']).chain(std::iter::once(version));
    words.map(capitalize).collect()
}

fn group_tag(group: &str, version: &str) -> String {
    let group = if group.is_empty() { "core" } else { group.trim_end_matches(".k8s.io") };
    format!("{}_{version}", group.replace(['.', '-'], "_"))
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Points `$ref`s at Swagger 2.0 `#/definitions/`.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "$ref"
                    && let Value::String(target) = child
                    && let Some(name) = target.strip_prefix(V3_DEFINITIONS)
                {
                    *target = format!("{V2_DEFINITIONS}{name}");
                } else {
                    rewrite_refs(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rds_doc() -> ResourceDoc {
        ResourceDoc {
            group: "database.aws.crossplane.io".into(),
            version: "v1beta1".into(),
            kind: "RDSInstance".into(),
            plural: "rdsinstances".into(),
            namespaced: false,
            schema: json!({"type": "object", "description": "An RDSInstance is a managed AWS RDS instance.",
                "properties": {"spec": {"type": "object", "properties": {"forProvider": {"type": "object",
                    "properties": {"engine": {"type": "string", "description": "Database engine."}}}}}}}),
        }
    }

    fn all_docs() -> Vec<ResourceDoc> {
        let mut docs = builtin_docs();
        docs.push(rds_doc());
        docs
    }

    /// Every `$ref` target, with the prefix it must carry.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("$ref", Value::String(target)) => out.push(target.clone()),
                        _ => refs(child, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
            _ => {}
        }
    }

    /// What kubectl's query-param verifier checks before sending `fieldValidation=Strict`.
    fn patch_supports_field_validation(
        document: &Value,
        group: &str,
        version: &str,
        kind: &str,
    ) -> bool {
        let gvk = json!({"group": group, "version": version, "kind": kind});
        document["paths"].as_object().unwrap().values().any(|path| {
            path.get("patch").is_some_and(|op| {
                op["x-kubernetes-group-version-kind"] == gvk
                    && op["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
            })
        })
    }

    #[test]
    fn builtin_docs_describe_the_served_kinds() {
        let docs = builtin_docs();
        let cases = [
            ("", "v1", "ConfigMap", "configmaps", true),
            ("", "v1", "Namespace", "namespaces", false),
            ("", "v1", "Event", "events", true),
            ("events.k8s.io", "v1", "Event", "events", true),
            ("apps", "v1", "Deployment", "deployments", true),
            ("coordination.k8s.io", "v1", "Lease", "leases", true),
            (
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
            ),
            ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
            ("batch", "v1", "CronJob", "cronjobs", true),
            ("networking.k8s.io", "v1", "Ingress", "ingresses", true),
        ];
        for (group, version, kind, plural, namespaced) in cases {
            let doc = docs
                .iter()
                .find(|d| d.group == group && d.kind == kind)
                .unwrap_or_else(|| panic!("{group}/{kind} is served"));
            assert_eq!(
                (doc.version.as_str(), doc.plural.as_str(), doc.namespaced),
                (version, plural, namespaced),
                "{group}/{kind}"
            );
            assert_eq!(doc.schema["type"], "object", "{kind} has an object schema");
            assert!(
                doc.schema["components"]["schemas"]
                    .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
                    .is_some(),
                "{kind} carries ObjectMeta"
            );
        }
    }

    #[test]
    fn built_in_schemas_declare_the_patch_strategies_kubectl_needs() {
        let docs = builtin_docs();
        let deployment =
            &docs.iter().find(|d| d.kind == "Deployment").unwrap().schema["components"]["schemas"];
        let cases = [
            ("io.k8s.api.core.v1.PodSpec", "containers", Some("name"), "merge"),
            ("io.k8s.api.core.v1.Container", "env", Some("name"), "merge"),
            ("io.k8s.api.core.v1.Container", "ports", Some("containerPort"), "merge"),
            ("io.k8s.api.core.v1.PodSpec", "volumes", Some("name"), "merge,retainKeys"),
            ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", None, "merge"),
            ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", Some("type"), "merge"),
        ];
        for (definition, property, key, strategy) in cases {
            let schema = &deployment[definition]["properties"][property];
            assert_eq!(schema["x-kubernetes-patch-strategy"], strategy, "{definition}.{property}");
            assert_eq!(
                schema.get("x-kubernetes-patch-merge-key").and_then(Value::as_str),
                key,
                "{definition}.{property}"
            );
        }
        let service =
            &docs.iter().find(|d| d.kind == "Service").unwrap().schema["components"]["schemas"];
        assert_eq!(
            service["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]["x-kubernetes-patch-merge-key"],
            "port"
        );
        for (definition, property, ..) in PATCH_STRATEGIES {
            let found = docs.iter().any(|d| {
                let schema = if definition_name(d) == *definition {
                    &d.schema
                } else {
                    &d.schema["components"]["schemas"][*definition]
                };
                schema["properties"][*property].get("x-kubernetes-patch-strategy").is_some()
            });
            assert!(found, "{definition}.{property} is annotated in some built-in schema");
        }
    }

    #[test]
    fn definition_names_follow_kube_apiserver() {
        let docs = builtin_docs();
        let name_of = |group: &str, kind: &str| {
            definition_name(docs.iter().find(|d| d.group == group && d.kind == kind).unwrap())
        };
        assert_eq!(name_of("", "ConfigMap"), "io.k8s.api.core.v1.ConfigMap");
        assert_eq!(name_of("apps", "Deployment"), "io.k8s.api.apps.v1.Deployment");
        assert_eq!(name_of("rbac.authorization.k8s.io", "Role"), "io.k8s.api.rbac.v1.Role");
        assert_eq!(name_of("events.k8s.io", "Event"), "io.k8s.api.events.v1.Event");
        assert_eq!(
            name_of("apiextensions.k8s.io", "CustomResourceDefinition"),
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
        );
        assert_eq!(definition_name(&rds_doc()), "io.crossplane.aws.database.v1beta1.RDSInstance");
    }

    #[test]
    fn the_v3_index_lists_every_group_version_with_a_hashed_url() {
        let index = v3_index(&all_docs());
        let paths = index["paths"].as_object().unwrap();
        for path in [
            "api/v1",
            "apis/apps/v1",
            "apis/batch/v1",
            "apis/database.aws.crossplane.io/v1beta1",
            "apis/apiextensions.k8s.io/v1",
        ] {
            let url = paths[path]["serverRelativeURL"]
                .as_str()
                .unwrap_or_else(|| panic!("{path} is listed"));
            assert!(url.starts_with(&format!("/openapi/v3/{path}?hash=")), "{url}");
        }
        let mut changed = all_docs();
        changed.last_mut().unwrap().schema["description"] = json!("changed");
        let changed = v3_index(&changed);
        let crd = "apis/database.aws.crossplane.io/v1beta1";
        assert_ne!(changed["paths"][crd], index["paths"][crd], "a schema change changes the hash");
        assert_eq!(
            changed["paths"]["api/v1"], index["paths"]["api/v1"],
            "other group-versions keep theirs"
        );
    }

    #[test]
    fn group_version_documents_support_strict_validation_and_explain() {
        let docs = all_docs();
        let cases = [
            (
                "database.aws.crossplane.io",
                "v1beta1",
                "RDSInstance",
                "io.crossplane.aws.database.v1beta1.RDSInstance",
            ),
            ("", "v1", "ConfigMap", "io.k8s.api.core.v1.ConfigMap"),
            ("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
        ];
        for (group, version, kind, name) in cases {
            let document = v3_group_version(&docs, group, version)
                .unwrap_or_else(|| panic!("{group}/{version} has a document"));
            assert_eq!(document["openapi"], "3.0.0");
            assert!(
                patch_supports_field_validation(&document, group, version, kind),
                "{kind}: PATCH declares fieldValidation"
            );
            let schemas = &document["components"]["schemas"];
            assert_eq!(
                schemas[name]["x-kubernetes-group-version-kind"],
                json!([{"group": group, "version": version, "kind": kind}]),
                "{kind}: explain finds the schema by GVK"
            );
            let mut targets = Vec::new();
            refs(&document, &mut targets);
            assert!(!targets.is_empty(), "{kind}: the document uses references");
            for target in targets {
                let name = target
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("{kind}: {target} is a v3 reference"));
                assert!(schemas.get(name).is_some(), "{kind}: {target} resolves in the document");
            }
        }
        let rds = v3_group_version(&docs, "database.aws.crossplane.io", "v1beta1").unwrap();
        let schema =
            &rds["components"]["schemas"]["io.crossplane.aws.database.v1beta1.RDSInstance"];
        assert_eq!(
            schema["properties"]["spec"]["properties"]["forProvider"]["properties"]["engine"]["description"],
            "Database engine."
        );
        assert_eq!(
            schema["properties"]["kind"]["type"], "string",
            "kind is published as kube-apiserver does"
        );
        assert!(
            rds["paths"]
                .get("/apis/database.aws.crossplane.io/v1beta1/rdsinstances/{name}")
                .is_some(),
            "cluster-scoped item path"
        );
        let configmaps = v3_group_version(&docs, "", "v1").unwrap();
        assert!(
            configmaps["paths"].get("/api/v1/namespaces/{namespace}/configmaps/{name}").is_some(),
            "namespaced item path"
        );
        assert!(configmaps["paths"].get("/api/v1/configmaps").is_some(), "list across namespaces");
        let patch =
            &configmaps["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
        assert!(
            patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_some(),
            "built-ins take SMP"
        );
        let crd_patch =
            &rds["paths"]["/apis/database.aws.crossplane.io/v1beta1/rdsinstances/{name}"]["patch"];
        assert!(
            crd_patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none(),
            "custom resources do not"
        );
    }

    #[test]
    fn built_in_schemas_name_unknown_fields_for_strict_validation() {
        let docs = builtin_docs();
        let schema_of = |group: &str, kind: &str| {
            &docs.iter().find(|d| d.group == group && d.kind == kind).unwrap().schema
        };
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "imagee": "nginx"}]}}}});
        assert_eq!(
            crate::apiserver::schema::unknown_fields(schema_of("apps", "Deployment"), &deployment),
            ["spec.template.spec.containers[0].imagee"]
        );
        let mut valid = deployment.clone();
        valid["spec"]["template"]["spec"]["containers"][0] =
            json!({"name": "app", "image": "nginx"});
        let mut validated = valid.clone();
        assert_eq!(
            crate::apiserver::schema::validate(schema_of("apps", "Deployment"), &mut validated),
            Ok(())
        );
        assert_eq!(
            validated, valid,
            "validation through references prunes nothing from a valid object"
        );
        valid["spec"]["replicas"] = json!("two");
        let errors =
            crate::apiserver::schema::validate(schema_of("apps", "Deployment"), &mut valid)
                .unwrap_err();
        assert_eq!(errors[0].field, "spec.replicas", "types are checked through references");
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "lables": {}},
            "data": {"a": "b"}});
        assert_eq!(
            crate::apiserver::schema::unknown_fields(schema_of("", "ConfigMap"), &config_map),
            ["metadata.lables"]
        );
    }

    #[test]
    fn a_crd_version_without_a_schema_is_published_as_open() {
        let mut doc = rds_doc();
        doc.schema = Value::Null;
        let document = v3_group_version(&[doc], "database.aws.crossplane.io", "v1beta1").unwrap();
        let schema =
            &document["components"]["schemas"]["io.crossplane.aws.database.v1beta1.RDSInstance"];
        assert_eq!(schema["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(
            schema["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
    }

    #[test]
    fn group_versions_nobody_serves_have_no_document() {
        assert_eq!(v3_group_version(&all_docs(), "nothing.example.com", "v1"), None);
        assert_eq!(v3_group_version(&all_docs(), "apps", "v1beta1"), None);
    }

    #[test]
    fn v2_is_one_swagger_document_with_definitions() {
        let document = v2(&all_docs());
        assert_eq!(document["swagger"], "2.0");
        let definitions = &document["definitions"];
        for name in [
            "io.k8s.api.core.v1.ConfigMap",
            "io.k8s.api.apps.v1.Deployment",
            "io.crossplane.aws.database.v1beta1.RDSInstance",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        ] {
            assert!(definitions.get(name).is_some(), "{name} is defined");
        }
        assert_eq!(
            definitions["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
        );
        let mut targets = Vec::new();
        refs(&document, &mut targets);
        for target in targets {
            let name = target
                .strip_prefix("#/definitions/")
                .unwrap_or_else(|| panic!("{target} is a v2 reference"));
            assert!(definitions.get(name).is_some(), "{target} resolves");
        }
        let patch =
            &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(
            patch["consumes"]
                .as_array()
                .unwrap()
                .contains(&json!("application/strategic-merge-patch+json"))
        );
        assert_eq!(patch["parameters"][0]["in"], "body");
    }
}
