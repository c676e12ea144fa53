//! Structural-schema handling of custom resources against a CRD version's `openAPIV3Schema`
//! (a `serde_json::Value`), the way kube-apiserver does it: prune unknown fields, apply defaults,
//! validate, and report violations with kube-apiserver's field paths and messages.

mod formats;
mod structural;
mod validation;

use serde_json::{Map, Value};

/// One violation of a schema, named by its field path.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Field path as kube-apiserver writes it, e.g. `spec.forProvider.tags[0].key`.
    pub field: String,
    /// Kubernetes cause type: `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`,
    /// `FieldValueTypeInvalid`, `FieldValueForbidden`, `FieldValueTooLong` or `FieldValueTooMany`.
    pub reason: &'static str,
    /// The message without the field, e.g. `Required value`.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Applies defaults, prunes unknown fields (honouring x-kubernetes-preserve-unknown-fields,
/// never pruning apiVersion/kind/metadata), then validates. Errors list every violation.
///
/// An update passes the stored object as `old`: a field whose value the update leaves as it
/// was is not validated again (CRD validation ratcheting, as kube-apiserver does since 1.30),
/// so a schema tightened later does not block writes to the object's other fields.
pub fn validate(
    schema: &Value,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<(), Vec<FieldError>> {
    normalize(schema, schema, obj, true);
    let mut errors = Vec::new();
    validation::check(schema, schema, obj, old, "", true, &mut errors);
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Paths present in `sent` but dropped from `kept` (pruned, or not in the kind's type), below
/// the top-level fields `ignored`. A null is "not set", never a dropped field; with
/// `empty_is_absent`, neither is an empty list or map.
pub fn dropped_paths(
    sent: &Value,
    kept: &Value,
    ignored: &[&str],
    empty_is_absent: bool,
) -> Vec<String> {
    struct Walk<'a> {
        ignored: &'a [&'a str],
        empty_is_absent: bool,
        out: Vec<String>,
    }
    impl Walk<'_> {
        fn walk(&mut self, sent: &Value, kept: &Value, path: &str) {
            match (sent, kept) {
                (Value::Object(s), Value::Object(k)) => {
                    for (field, value) in s {
                        if path.is_empty() && self.ignored.contains(&field.as_str()) {
                            continue;
                        }
                        let child =
                            if path.is_empty() { field.clone() } else { format!("{path}.{field}") };
                        let empty = value.as_object().is_some_and(Map::is_empty)
                            || value.as_array().is_some_and(Vec::is_empty);
                        match k.get(field) {
                            Some(kept) => self.walk(value, kept, &child),
                            None if value.is_null() || (self.empty_is_absent && empty) => {}
                            None => self.out.push(child),
                        }
                    }
                }
                (Value::Array(s), Value::Array(k)) if s.len() == k.len() => {
                    for (i, (s, k)) in s.iter().zip(k).enumerate() {
                        self.walk(s, k, &format!("{path}[{i}]"));
                    }
                }
                _ => {}
            }
        }
    }
    let mut walk = Walk { ignored, empty_is_absent, out: Vec::new() };
    walk.walk(sent, kept, "");
    walk.out
}

/// The schema a node stands for, through `$ref` or a lone `allOf: [{$ref}]`.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let reference = schema.get("$ref").or_else(|| match schema.get("allOf") {
        Some(Value::Array(branches)) if branches.len() == 1 => branches[0].get("$ref"),
        _ => None,
    });
    reference
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .and_then(|name| {
            root.pointer(&format!(
                "/components/schemas/{}",
                name.replace('~', "~0").replace('/', "~1")
            ))
        })
        .unwrap_or(schema)
}

/// Checks that a CRD's openAPIV3Schema is structural; errors name the path from
/// `openAPIV3Schema` (prefix it with `spec.versions[i].schema.`).
pub fn check_structural(schema: &Value) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let root = "openAPIV3Schema";
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        errors.push(required(&format!("{root}.type"), "must be object at the root"));
    }
    structural::check_node(schema, root, false, &mut errors);
    if let Some(metadata) = schema.pointer("/properties/metadata") {
        structural::check_root_metadata(
            metadata,
            &format!("{root}.properties[metadata]"),
            &mut errors,
        );
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

fn field_path(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

/// Prunes unknown fields, drops nulls where the schema does not allow them, and applies
/// defaults, recursively. `keep_meta` protects apiVersion/kind/metadata (the root and embedded
/// resources).
fn normalize(doc: &Value, schema: &Value, value: &mut Value, keep_meta: bool) {
    let schema = resolve(doc, schema);
    match value {
        Value::Object(map) => {
            let keep_meta = keep_meta || flag(schema, "x-kubernetes-embedded-resource");
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let is_meta =
                |key: &str| keep_meta && matches!(key, "apiVersion" | "kind" | "metadata");
            match (properties, additional) {
                (_, Some(Value::Object(_))) | (_, Some(Value::Bool(true))) => {
                    let item_schema = additional.filter(|a| a.is_object());
                    for (key, item) in map.iter_mut() {
                        if let Some(item_schema) = item_schema
                            && !is_meta(key)
                        {
                            normalize(doc, item_schema, item, false);
                        }
                    }
                }
                (properties, _) => {
                    if !preserve {
                        map.retain(|key, _| {
                            is_meta(key) || properties.is_some_and(|p| p.contains_key(key))
                        });
                    }
                    if let Some(properties) = properties {
                        normalize_properties(doc, properties, map, &is_meta);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    normalize(doc, item_schema, item, false);
                }
            }
        }
        _ => {}
    }
}

fn normalize_properties(
    doc: &Value,
    properties: &Map<String, Value>,
    map: &mut Map<String, Value>,
    is_meta: &dyn Fn(&str) -> bool,
) {
    for (key, property) in properties {
        if is_meta(key) && key == "metadata" {
            continue;
        }
        // Kubernetes drops nulls of non-nullable fields before defaulting.
        if map.get(key).is_some_and(Value::is_null) && !flag(property, "nullable") {
            map.remove(key);
        }
        if !map.contains_key(key)
            && let Some(default) = property.get("default")
        {
            map.insert(key.clone(), default.clone());
        }
        if let Some(child) = map.get_mut(key) {
            normalize(doc, property, child, false);
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// How kube-apiserver prints a value after `Invalid value: `.
fn shown(value: &Value) -> String {
    match value {
        Value::Object(_) => "\"object\"".to_owned(),
        Value::Array(_) => "\"array\"".to_owned(),
        other => other.to_string(),
    }
}

fn required(field: &str, detail: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        reason: "FieldValueRequired",
        message: if detail.is_empty() {
            "Required value".to_owned()
        } else {
            format!("Required value: {detail}")
        },
    }
}

fn invalid(field: &str, value: &Value, detail: String) -> FieldError {
    FieldError {
        field: field.to_owned(),
        reason: "FieldValueInvalid",
        message: format!("Invalid value: {}: {detail}", shown(value)),
    }
}

fn forbidden(field: &str, detail: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        reason: "FieldValueForbidden",
        message: format!("Forbidden: {detail}"),
    }
}

#[cfg(test)]
mod tests;
