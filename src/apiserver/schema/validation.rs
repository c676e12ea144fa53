//! Validation of a value against its schema node: types, enums, bounds, lengths, patterns,
//! formats, list types, required fields and combinators.

use serde_json::{Map, Value};

use super::formats::{compiled, format_matches};
use super::{FieldError, field_path, flag, invalid, json_type, required, resolve, shown};

/// Validates `value` at `path` against `schema`, appending every violation. `old` is the value
/// at the same path before an update: when equal, the value ratchets (is not checked again).
/// Object fields correlate by key; list items do not (kube-apiserver correlates only
/// `listType: map` items, by key: not doing so checks more, never less).
pub(super) fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    old: Option<&Value>,
    path: &str,
    root: bool,
    errors: &mut Vec<FieldError>,
) {
    if old == Some(value) {
        return;
    }
    let schema = resolve(doc, schema);
    let body = if path.is_empty() { "body" } else { path };
    if value.is_null() && flag(schema, "nullable") {
        return;
    }
    let int_or_string = flag(schema, "x-kubernetes-int-or-string");
    let actual = json_type(value);
    if int_or_string {
        if !matches!(actual, "integer" | "string") {
            errors.push(FieldError {
                field: path.to_owned(),
                reason: "FieldValueTypeInvalid",
                message: format!(
                    "Invalid value: \"{actual}\": {body} in body must be of type integer,string: \"{actual}\""
                ),
            });
            return;
        }
    } else if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        // Like kube-openapi, a float with no fraction (`2.0`) is an integer.
        let integral_float = actual == "number" && value.as_f64().is_some_and(|f| f.fract() == 0.0);
        let fits = actual == expected
            || (expected == "number" && actual == "integer")
            || (expected == "integer" && integral_float);
        if !fits {
            errors.push(FieldError {
                field: path.to_owned(),
                reason: "FieldValueTypeInvalid",
                message: format!(
                    "Invalid value: \"{actual}\": {body} in body must be of type {expected}: \"{actual}\""
                ),
            });
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let supported: Vec<String> = allowed.iter().map(Value::to_string).collect();
        errors.push(FieldError {
            field: path.to_owned(),
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: {}: supported values: {}",
                shown(value),
                supported.join(", ")
            ),
        });
    }
    match value {
        Value::Number(n) => check_number(schema, value, n, path, errors),
        Value::String(s) => check_string(schema, value, s, path, errors),
        Value::Array(items) => check_array(doc, schema, value, items, path, errors),
        Value::Object(map) => check_object(doc, schema, map, old, path, root, errors),
        _ => {}
    }
    check_combinators(doc, schema, value, path, errors);
}

fn check_number(
    schema: &Value,
    value: &Value,
    n: &serde_json::Number,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let x = n.as_f64().unwrap_or(f64::NAN);
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let exclusive = |key: &str| flag(schema, key);
    let limit = |key: &str| schema.get(key).map(Value::to_string).unwrap_or_default();
    if let Some(min) = bound("minimum") {
        if exclusive("exclusiveMinimum") && x <= min {
            errors.push(invalid(
                path,
                value,
                format!("{path} in body should be greater than {}", limit("minimum")),
            ));
        } else if x < min {
            errors.push(invalid(
                path,
                value,
                format!("{path} in body should be greater than or equal to {}", limit("minimum")),
            ));
        }
    }
    if let Some(max) = bound("maximum") {
        if exclusive("exclusiveMaximum") && x >= max {
            errors.push(invalid(
                path,
                value,
                format!("{path} in body should be less than {}", limit("maximum")),
            ));
        } else if x > max {
            errors.push(invalid(
                path,
                value,
                format!("{path} in body should be less than or equal to {}", limit("maximum")),
            ));
        }
    }
    if let Some(step) = bound("multipleOf")
        && step > 0.0
        && (x / step).fract() != 0.0
    {
        errors.push(invalid(
            path,
            value,
            format!("{path} in body should be a multiple of {}", limit("multipleOf")),
        ));
    }
    if schema.get("format").and_then(Value::as_str) == Some("int32")
        && n.as_i64().is_none_or(|i| i32::try_from(i).is_err())
    {
        errors.push(invalid(path, value, format!("{path} in body must be of type int32: \"{n}\"")));
    }
}

fn check_string(schema: &Value, value: &Value, s: &str, path: &str, errors: &mut Vec<FieldError>) {
    let chars = s.chars().count();
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && chars as u64 > max
    {
        errors.push(FieldError {
            field: path.to_owned(),
            reason: "FieldValueTooLong",
            message: format!("Too long: may not be more than {max} bytes"),
        });
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && (chars as u64) < min
    {
        errors.push(invalid(
            path,
            value,
            format!("{path} in body should be at least {min} chars long"),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        match compiled(pattern) {
            Ok(re) if !re.is_match(s) => {
                errors.push(invalid(
                    path,
                    value,
                    format!("{path} in body should match '{pattern}'"),
                ));
            }
            Ok(_) => {}
            Err(e) => {
                errors.push(invalid(path, value, format!("invalid pattern '{pattern}': {e}")))
            }
        }
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str)
        && !format_matches(format, s)
    {
        errors.push(invalid(
            path,
            value,
            format!("{path} in body must be of type {format}: \"{s}\""),
        ));
    }
}

fn check_array(
    doc: &Value,
    schema: &Value,
    value: &Value,
    items: &[Value],
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        errors.push(FieldError {
            field: path.to_owned(),
            reason: "FieldValueTooMany",
            message: format!("Too many: {}: must have at most {max} items", items.len()),
        });
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        errors.push(invalid(
            path,
            value,
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            check(doc, item_schema, item, None, &format!("{path}[{i}]"), false, errors);
        }
    }
    check_list_type(schema, items, path, errors);
}

/// `x-kubernetes-list-type: set|map` forbid duplicates, as kube-apiserver checks them.
fn check_list_type(schema: &Value, items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    let identity: Box<dyn Fn(&Value) -> Value> =
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => {
                let keys: Vec<String> = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default();
                Box::new(move |item: &Value| {
                    let key =
                        keys.iter().filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone())));
                    Value::Object(key.collect())
                })
            }
            Some("set") => Box::new(Value::clone),
            _ => return,
        };
    for (i, item) in items.iter().enumerate() {
        let id = identity(item);
        if items[..i].iter().any(|earlier| identity(earlier) == id) {
            errors.push(FieldError {
                field: format!("{path}[{i}]"),
                reason: "FieldValueDuplicate",
                message: format!("Duplicate value: {id}"),
            });
        }
    }
}

fn check_object(
    doc: &Value,
    schema: &Value,
    map: &Map<String, Value>,
    old: Option<&Value>,
    path: &str,
    root: bool,
    errors: &mut Vec<FieldError>,
) {
    let embedded = root || flag(schema, "x-kubernetes-embedded-resource");
    if flag(schema, "x-kubernetes-embedded-resource") {
        for key in ["apiVersion", "kind"] {
            if map.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
                errors.push(required(&field_path(path, key), "must not be empty"));
            }
        }
    }
    if let Some(names) = schema.get("required").and_then(Value::as_array) {
        for name in names.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                errors.push(required(&field_path(path, name), ""));
            }
        }
    }
    let count = map.len() as u64;
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && count > max
    {
        errors.push(FieldError {
            field: path.to_owned(),
            reason: "FieldValueTooMany",
            message: format!("Too many: {count}: must have at most {max} items"),
        });
    }
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
        && count < min
    {
        errors.push(invalid(
            path,
            &Value::Object(map.clone()),
            format!("{path} in body should have at least {min} properties"),
        ));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, child) in map {
        // The root's metadata is ObjectMeta, validated by the server, not by the CRD schema.
        if embedded && key == "metadata" {
            continue;
        }
        let old_child = old.and_then(|o| o.get(key));
        if let Some(property) = properties.and_then(|p| p.get(key)) {
            check(doc, property, child, old_child, &field_path(path, key), false, errors);
        } else if let Some(additional) = additional {
            check(doc, additional, child, old_child, &format!("{path}[{key}]"), false, errors);
        }
    }
}

fn check_combinators(
    doc: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let passes = |branch: &Value| {
        let mut branch_errors = Vec::new();
        check(doc, branch, value, None, path, false, &mut branch_errors);
        branch_errors
    };
    let branches =
        |key: &str| schema.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    for branch in branches("allOf") {
        errors.extend(passes(&branch));
    }
    let any = branches("anyOf");
    if !any.is_empty() && any.iter().all(|b| !passes(b).is_empty()) {
        errors.push(invalid(
            path,
            value,
            format!("{path} in body must validate at least one schema (anyOf)"),
        ));
    }
    let one = branches("oneOf");
    if !one.is_empty() && one.iter().filter(|b| passes(b).is_empty()).count() != 1 {
        errors.push(invalid(
            path,
            value,
            format!("{path} in body must validate one and only one schema (oneOf)"),
        ));
    }
    if let Some(not) = schema.get("not")
        && passes(not).is_empty()
    {
        errors.push(invalid(
            path,
            value,
            format!("{path} in body should not validate the schema (not)"),
        ));
    }
}
