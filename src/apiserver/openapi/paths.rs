//! The REST paths of a resource and their operations, as kube-apiserver documents them.

use serde_json::{Map, Value, json};

use super::{ResourceDoc, V3_DEFINITIONS, api_prefix, is_builtin};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Flavor {
    V2,
    V3,
}

/// The collection and item paths of a resource with their operations.
pub(super) fn resource_paths(doc: &ResourceDoc, name: &str, flavor: Flavor) -> Map<String, Value> {
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
