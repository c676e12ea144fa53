//! OpenAPI documents as kube-apiserver publishes them: `/openapi/v3` (an index of per
//! group-version OpenAPI 3.0 documents) and `/openapi/v2` (one Swagger 2.0 document).
//!
//! kubectl reads them to validate (`--validate=strict` asks the server to check fields only when
//! a resource's PATCH operation declares the `fieldValidation` parameter), to explain
//! (`kubectl explain` walks `components.schemas`) and to pick patch types. Built-in kinds'
//! schemas come from k8s-openapi; custom resources' from their CRD's `openAPIV3Schema`.

mod builtin;
mod paths;

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Map, Value, json};

pub use builtin::builtin_docs;
use paths::{Flavor, resource_paths};

/// One served resource and its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDoc {
    /// API group; empty for the core group.
    pub group: String,
    /// API version within the group, e.g. `v1beta1`.
    pub version: String,
    /// Kind, e.g. `RDSInstance`.
    pub kind: String,
    /// Plural resource name, as in the URL.
    pub plural: String,
    /// Namespaced or cluster-scoped: decides the REST paths.
    pub namespaced: bool,
    /// `openAPIV3Schema`. For built-in kinds, the referenced definitions are carried along in
    /// `components.schemas`.
    pub schema: Value,
}

const V3_DEFINITIONS: &str = "#/components/schemas/";
const V2_DEFINITIONS: &str = "#/definitions/";

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
            definitions.extend(builtin::OBJECT_META.clone());
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
mod tests;
