//! Whether a CRD schema is structural, as kube-apiserver requires before serving it.

use serde_json::{Map, Value, json};

use super::{FieldError, field_path, flag, forbidden, invalid, required};

/// The root's metadata is ObjectMeta: a schema may only narrow `name` and `generateName`.
pub(super) fn check_root_metadata(metadata: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(type_) = metadata.get("type").and_then(Value::as_str)
        && type_ != "object"
    {
        errors.push(invalid(
            &field_path(path, "type"),
            &Value::String(type_.to_owned()),
            "must be object".to_owned(),
        ));
    }
    if let Some(properties) = metadata.get("properties").and_then(Value::as_object) {
        for key in properties.keys().filter(|k| !matches!(k.as_str(), "name" | "generateName")) {
            errors.push(forbidden(
                &format!("{path}.properties[{key}]"),
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
    if metadata.get("default").is_some() {
        errors.push(forbidden(&field_path(path, "default"), "must not be specified for metadata"));
    }
}

/// `x-kubernetes-list-type` needs an array; `map` needs object items and key fields, `set`
/// scalar items.
fn check_list_markers(node: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let Some(list_type) = node.get("x-kubernetes-list-type").and_then(Value::as_str) else {
        if node.contains_key("x-kubernetes-list-map-keys") {
            errors.push(forbidden(
                &field_path(path, "x-kubernetes-list-map-keys"),
                "must not be set if x-kubernetes-list-type is not map",
            ));
        }
        return;
    };
    let marker = field_path(path, "x-kubernetes-list-type");
    if !matches!(list_type, "atomic" | "set" | "map") {
        let supported = "supported values: \"atomic\", \"map\", \"set\"";
        errors.push(FieldError {
            field: marker.clone(),
            reason: "FieldValueNotSupported",
            message: format!("Unsupported value: \"{list_type}\": {supported}"),
        });
    }
    if node.get("type").and_then(Value::as_str) != Some("array") {
        errors.push(invalid(
            &marker,
            &json!(list_type),
            "must only be used if type is array".to_owned(),
        ));
        return;
    }
    let item_type =
        node.get("items").and_then(|i| i.get("type")).and_then(Value::as_str).unwrap_or_default();
    match list_type {
        "map" => {
            let keys = node.get("x-kubernetes-list-map-keys").and_then(Value::as_array);
            if keys.is_none_or(Vec::is_empty) {
                errors.push(required(
                    &field_path(path, "x-kubernetes-list-map-keys"),
                    "must not be empty if x-kubernetes-list-type is map",
                ));
            }
            if item_type != "object" {
                errors.push(invalid(
                    &field_path(path, "items.type"),
                    &json!(item_type),
                    "must be object if parent array's x-kubernetes-list-type is map".to_owned(),
                ));
            }
        }
        "set" if matches!(item_type, "object" | "array") => errors.push(invalid(
            &field_path(path, "items.type"),
            &json!(item_type),
            "must be a scalar type if parent array's x-kubernetes-list-type is set".to_owned(),
        )),
        _ => {}
    }
}

/// Keywords a structural schema may not use anywhere.
const FORBIDDEN_KEYWORDS: [&str; 6] =
    ["$ref", "definitions", "id", "additionalItems", "patternProperties", "dependencies"];

/// Keywords that may not appear inside allOf/anyOf/oneOf/not: they only validate, never shape.
const SHAPE_KEYWORDS: [&str; 5] =
    ["type", "default", "nullable", "description", "additionalProperties"];

/// `anyOf: [{type: integer}, {type: string}]`: the one place an `x-kubernetes-int-or-string`
/// node may name types inside a junctor (what controller-gen writes for every IntOrString and
/// Quantity field).
fn is_int_or_string_pattern(branches: &[Value]) -> bool {
    branches == [serde_json::json!({"type": "integer"}), serde_json::json!({"type": "string"})]
}

/// Checks one schema node and, recursively, the nodes below it.
pub(super) fn check_node(
    schema: &Value,
    path: &str,
    in_junctor: bool,
    errors: &mut Vec<FieldError>,
) {
    let Some(node) = schema.as_object() else {
        errors.push(invalid(path, schema, "must be a schema object".to_owned()));
        return;
    };
    for keyword in FORBIDDEN_KEYWORDS {
        if node.contains_key(keyword) {
            errors.push(forbidden(
                &field_path(path, keyword),
                &format!("{keyword} is not supported"),
            ));
        }
    }
    if flag(schema, "uniqueItems") {
        errors.push(forbidden(
            &field_path(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errors.push(invalid(
            &field_path(path, "x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(false),
            "must be true or undefined".to_owned(),
        ));
    }
    if node.get("additionalProperties") == Some(&Value::Bool(false)) {
        errors.push(forbidden(
            &field_path(path, "additionalProperties"),
            "additionalProperties cannot be set to false",
        ));
    }
    if node.contains_key("properties")
        && node.get("additionalProperties").is_some_and(|a| a != &Value::Bool(false))
    {
        errors.push(forbidden(
            &field_path(path, "additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    let int_or_string = flag(schema, "x-kubernetes-int-or-string");
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    let type_ = node.get("type").and_then(Value::as_str).unwrap_or_default();
    if in_junctor {
        for keyword in SHAPE_KEYWORDS {
            if node.contains_key(keyword) {
                errors.push(forbidden(
                    &field_path(path, keyword),
                    "must be empty inside allOf, anyOf, oneOf or not",
                ));
            }
        }
    } else if int_or_string {
        if !type_.is_empty() {
            errors.push(invalid(
                &field_path(path, "type"),
                &Value::String(type_.to_owned()),
                "must be empty if x-kubernetes-int-or-string is true".to_owned(),
            ));
        }
    } else if type_.is_empty() && !preserve {
        errors.push(required(
            &field_path(path, "type"),
            "must not be empty for specified object fields",
        ));
    }
    if flag(schema, "x-kubernetes-embedded-resource") && type_ != "object" {
        errors.push(invalid(
            &field_path(path, "type"),
            &Value::String(type_.to_owned()),
            "must be object if x-kubernetes-embedded-resource is true".to_owned(),
        ));
    }
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (key, property) in properties {
            check_node(property, &format!("{path}.properties[{key}]"), in_junctor, errors);
        }
    }
    match node.get("items") {
        Some(items @ Value::Object(_)) => {
            check_node(items, &field_path(path, "items"), in_junctor, errors)
        }
        Some(Value::Array(_)) => errors.push(forbidden(
            &field_path(path, "items"),
            "items must be a schema object and not an array",
        )),
        Some(other) => errors.push(invalid(
            &field_path(path, "items"),
            other,
            "must be a schema object".to_owned(),
        )),
        None if type_ == "array" && !in_junctor => {
            errors.push(required(&field_path(path, "items"), "must be specified"));
        }
        None => {}
    }
    check_list_markers(node, path, errors);
    if let Some(additional @ Value::Object(_)) = node.get("additionalProperties") {
        check_node(additional, &field_path(path, "additionalProperties"), in_junctor, errors);
    }
    for junctor in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = node.get(junctor).and_then(Value::as_array) {
            if int_or_string && junctor == "anyOf" && is_int_or_string_pattern(branches) {
                continue;
            }
            for (i, branch) in branches.iter().enumerate() {
                let path = format!("{path}.{junctor}[{i}]");
                match branch.get("anyOf").and_then(Value::as_array) {
                    // `allOf: [{anyOf: [integer, string]}, …]`, the other spelling kube allows.
                    Some(any)
                        if int_or_string && junctor == "allOf" && is_int_or_string_pattern(any) =>
                    {
                        let mut rest = branch.clone();
                        rest.as_object_mut().map(|b| b.remove("anyOf"));
                        check_node(&rest, &path, true, errors);
                    }
                    _ => check_node(branch, &path, true, errors),
                }
            }
        }
    }
    if let Some(not) = node.get("not") {
        check_node(not, &field_path(path, "not"), true, errors);
    }
}
