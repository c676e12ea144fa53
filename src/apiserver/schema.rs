//! Structural-schema handling of custom resources against a CRD version's `openAPIV3Schema`
//! (a `serde_json::Value`), the way kube-apiserver does it: prune unknown fields, apply defaults,
//! validate, and report violations with kube-apiserver's field paths and messages.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use serde_json::{Map, Value, json};

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
pub fn validate(schema: &Value, obj: &mut Value) -> Result<(), Vec<FieldError>> {
    normalize(schema, schema, obj, true);
    let mut errors = Vec::new();
    check(schema, schema, obj, "", true, &mut errors);
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Fields of `obj` the schema does not know, which pruning would drop silently: what
/// `fieldValidation=Strict` refuses (`strict decoding error: unknown field "spec.x"`) and `Warn`
/// reports. Call before [`validate`]. Follows `$ref`s into the schema's own
/// `components.schemas`, so the built-in documents of `openapi::builtin_docs` work too.
pub fn unknown_fields(schema: &Value, obj: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_unknown(schema, schema, obj, "", true, &mut found);
    found
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

fn collect_unknown(
    root: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    keep_meta: bool,
    found: &mut Vec<String>,
) {
    let schema = resolve(root, schema);
    match value {
        Value::Object(map) => {
            let keep_meta = keep_meta || flag(schema, "x-kubernetes-embedded-resource");
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            for (key, child) in map {
                if keep_meta && matches!(key.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                let child_path = field_path(path, key);
                match (properties.and_then(|p| p.get(key)), additional) {
                    (Some(property), _) => {
                        let property = resolve(root, property);
                        // The root's metadata is ObjectMeta: checked only where the schema spells it out.
                        if keep_meta && key == "metadata" && property.get("properties").is_none() {
                            continue;
                        }
                        collect_unknown(root, property, child, &child_path, false, found);
                    }
                    (None, Some(item @ Value::Object(_))) => {
                        collect_unknown(root, item, child, &format!("{path}[{key}]"), false, found);
                    }
                    (None, Some(Value::Bool(true))) => {}
                    (None, _) if preserve || (keep_meta && key == "metadata") => {}
                    (None, _) => found.push(child_path),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    collect_unknown(root, item_schema, item, &format!("{path}[{i}]"), false, found);
                }
            }
        }
        _ => {}
    }
}

/// Checks that a CRD's openAPIV3Schema is structural; errors name the path from
/// `openAPIV3Schema` (prefix it with `spec.versions[i].schema.`).
pub fn check_structural(schema: &Value) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let root = "openAPIV3Schema";
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        errors.push(required(&format!("{root}.type"), "must be object at the root"));
    }
    structural(schema, root, false, &mut errors);
    if let Some(metadata) = schema.pointer("/properties/metadata") {
        check_root_metadata(metadata, &format!("{root}.properties[metadata]"), &mut errors);
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

/// Validates `value` at `path` against `schema`, appending every violation.
fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    root: bool,
    errors: &mut Vec<FieldError>,
) {
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
        Value::Object(map) => check_object(doc, schema, map, path, root, errors),
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

/// Compiles a schema pattern once: every write of a kind checks the same few patterns.
fn compiled(pattern: &str) -> Result<regex::Regex, regex::Error> {
    static CACHE: LazyLock<Mutex<HashMap<String, regex::Regex>>> = LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(re) = cache.get(pattern) {
        return Ok(re.clone());
    }
    let re = regex::Regex::new(pattern)?;
    // Patterns come from CRDs, so the set is small; the bound only guards against churn.
    if cache.len() >= 1024 {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), re.clone());
    Ok(re)
}

/// The string formats kube-apiserver checks; unknown formats pass, as they do there.
fn format_matches(format: &str, s: &str) -> bool {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match format {
        "date-time" | "datetime" => s.parse::<jiff::Timestamp>().is_ok(),
        "date" => s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok(),
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
        }
        "int32" => s.parse::<i32>().is_ok(),
        "int64" => s.parse::<i64>().is_ok(),
        "ipv4" => s.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<Ipv6Addr>().is_ok(),
        "cidr" => s.split_once('/').is_some_and(|(ip, bits)| {
            let max = match ip.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => 32,
                Ok(IpAddr::V6(_)) => 128,
                Err(_) => return false,
            };
            bits.parse::<u8>().is_ok_and(|b| b <= max)
        }),
        "uuid" => {
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            s.len() == 36 && hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        "hostname" => {
            s.len() <= 253
                && s.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        }
        "email" => {
            s.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
        }
        "duration" => parse_go_duration(s),
        _ => true,
    }
}

/// Accepts Go `time.ParseDuration` syntax such as `1h30m` or `250ms`.
fn parse_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        if digits == 0 || rest[..digits].parse::<f64>().is_err() {
            return false;
        }
        rest = &rest[digits..];
        let Some(unit) =
            ["ns", "us", "µs", "ms", "s", "m", "h"].into_iter().find(|unit| rest.starts_with(unit))
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
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
            check(doc, item_schema, item, &format!("{path}[{i}]"), false, errors);
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
        if let Some(property) = properties.and_then(|p| p.get(key)) {
            check(doc, property, child, &field_path(path, key), false, errors);
        } else if let Some(additional) = additional {
            check(doc, additional, child, &format!("{path}[{key}]"), false, errors);
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
        check(doc, branch, value, path, false, &mut branch_errors);
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

/// The root's metadata is ObjectMeta: a schema may only narrow `name` and `generateName`.
fn check_root_metadata(metadata: &Value, path: &str, errors: &mut Vec<FieldError>) {
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

fn structural(schema: &Value, path: &str, in_junctor: bool, errors: &mut Vec<FieldError>) {
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
            structural(property, &format!("{path}.properties[{key}]"), in_junctor, errors);
        }
    }
    match node.get("items") {
        Some(items @ Value::Object(_)) => {
            structural(items, &field_path(path, "items"), in_junctor, errors)
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
        structural(additional, &field_path(path, "additionalProperties"), in_junctor, errors);
    }
    for junctor in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = node.get(junctor).and_then(Value::as_array) {
            for (i, branch) in branches.iter().enumerate() {
                structural(branch, &format!("{path}.{junctor}[{i}]"), true, errors);
            }
        }
    }
    if let Some(not) = node.get("not") {
        structural(not, &field_path(path, "not"), true, errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rds_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["forProvider"],
                    "properties": {
                        "replicas": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 5, "default": 1},
                        "deletionPolicy": {"type": "string", "enum": ["Delete", "Orphan"], "default": "Delete"},
                        "forProvider": {
                            "type": "object",
                            "required": ["engine"],
                            "properties": {
                                "engine": {"type": "string", "minLength": 2, "maxLength": 10, "pattern": "^[a-z]+$"},
                                "allocatedStorage": {"type": "integer", "exclusiveMinimum": true, "minimum": 0},
                                "ratio": {"type": "number", "maximum": 1, "exclusiveMaximum": true},
                                "port": {"x-kubernetes-int-or-string": true},
                                "createdAt": {"type": "string", "format": "date-time"},
                                "tags": {"type": "array", "maxItems": 2, "minItems": 1,
                                         "items": {"type": "object", "properties": {
                                             "key": {"type": "string"}, "value": {"type": "string", "default": "none"}}}},
                                "zones": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                                "endpoints": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                                              "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "note": {"type": "string", "nullable": true},
                                "backup": {"type": "object", "properties": {"window": {"type": "string", "default": "03:00"}}},
                                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                                        "properties": {"known": {"type": "integer"}}},
                                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                             "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}
                            }
                        }
                    }
                },
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }
        })
    }

    fn object(spec: Value) -> Value {
        json!({"apiVersion": "database.aws.crossplane.io/v1beta1", "kind": "RDSInstance",
               "metadata": {"name": "orders-db", "labels": {"x": "y"}}, "spec": spec})
    }

    #[test]
    fn violations_are_reported_like_kube_apiserver() {
        let cases = [
            (
                "a string or a fractional number where an integer belongs is a type error naming the actual type",
                json!({"replicas": "three", "forProvider": {"engine": "postgres", "allocatedStorage": 1.5}}),
                vec![
                    (
                        "spec.forProvider.allocatedStorage",
                        "FieldValueTypeInvalid",
                        r#"Invalid value: "number": spec.forProvider.allocatedStorage in body must be of type integer: "number""#,
                    ),
                    (
                        "spec.replicas",
                        "FieldValueTypeInvalid",
                        r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
                    ),
                ],
            ),
            (
                "a missing required field",
                json!({}),
                vec![("spec.forProvider", "FieldValueRequired", "Required value")],
            ),
            (
                "a nested missing required field",
                json!({"forProvider": {}}),
                vec![("spec.forProvider.engine", "FieldValueRequired", "Required value")],
            ),
            (
                "an enum violation lists the supported values",
                json!({"deletionPolicy": "Keep", "forProvider": {"engine": "postgres"}}),
                vec![(
                    "spec.deletionPolicy",
                    "FieldValueNotSupported",
                    r#"Unsupported value: "Keep": supported values: "Delete", "Orphan""#,
                )],
            ),
            (
                "minimum and maximum",
                json!({"replicas": 9, "forProvider": {"engine": "postgres", "allocatedStorage": 0, "ratio": 1}}),
                vec![
                    (
                        "spec.forProvider.allocatedStorage",
                        "FieldValueInvalid",
                        "Invalid value: 0: spec.forProvider.allocatedStorage in body should be greater than 0",
                    ),
                    (
                        "spec.forProvider.ratio",
                        "FieldValueInvalid",
                        "Invalid value: 1: spec.forProvider.ratio in body should be less than 1",
                    ),
                    (
                        "spec.replicas",
                        "FieldValueInvalid",
                        "Invalid value: 9: spec.replicas in body should be less than or equal to 5",
                    ),
                ],
            ),
            (
                "string length and pattern",
                json!({"forProvider": {"engine": "Postgres-Aurora-XL"}}),
                vec![
                    (
                        "spec.forProvider.engine",
                        "FieldValueTooLong",
                        "Too long: may not be more than 10 bytes",
                    ),
                    (
                        "spec.forProvider.engine",
                        "FieldValueInvalid",
                        r#"Invalid value: "Postgres-Aurora-XL": spec.forProvider.engine in body should match '^[a-z]+$'"#,
                    ),
                ],
            ),
            (
                "duplicates in set and map lists",
                json!({"forProvider": {"engine": "mysql", "zones": ["a", "b", "a"],
                    "endpoints": [{"name": "x", "port": 1}, {"name": "x", "port": 2}]}}),
                vec![
                    (
                        "spec.forProvider.endpoints[1]",
                        "FieldValueDuplicate",
                        r#"Duplicate value: {"name":"x"}"#,
                    ),
                    ("spec.forProvider.zones[2]", "FieldValueDuplicate", r#"Duplicate value: "a""#),
                ],
            ),
            (
                "a too-short string",
                json!({"forProvider": {"engine": "p"}}),
                vec![(
                    "spec.forProvider.engine",
                    "FieldValueInvalid",
                    r#"Invalid value: "p": spec.forProvider.engine in body should be at least 2 chars long"#,
                )],
            ),
            (
                "item counts and item paths with indexes",
                json!({"forProvider": {"engine": "mysql", "tags": [{"key": 1}, {"key": "b"}, {"key": "c"}]}}),
                vec![
                    (
                        "spec.forProvider.tags",
                        "FieldValueTooMany",
                        "Too many: 3: must have at most 2 items",
                    ),
                    (
                        "spec.forProvider.tags[0].key",
                        "FieldValueTypeInvalid",
                        r#"Invalid value: "integer": spec.forProvider.tags[0].key in body must be of type string: "integer""#,
                    ),
                ],
            ),
            (
                "too few items",
                json!({"forProvider": {"engine": "mysql", "tags": []}}),
                vec![(
                    "spec.forProvider.tags",
                    "FieldValueInvalid",
                    r#"Invalid value: "array": spec.forProvider.tags in body should have at least 1 items"#,
                )],
            ),
            (
                "map values are checked against additionalProperties with [key] paths",
                json!({"forProvider": {"engine": "mysql", "labels": {"team": 7}}}),
                vec![(
                    "spec.forProvider.labels[team]",
                    "FieldValueTypeInvalid",
                    r#"Invalid value: "integer": spec.forProvider.labels[team] in body must be of type string: "integer""#,
                )],
            ),
            (
                "formats: date-time and int32",
                json!({"replicas": 3_000_000_000_i64, "forProvider": {"engine": "mysql", "createdAt": "yesterday"}}),
                vec![
                    (
                        "spec.forProvider.createdAt",
                        "FieldValueInvalid",
                        r#"Invalid value: "yesterday": spec.forProvider.createdAt in body must be of type date-time: "yesterday""#,
                    ),
                    (
                        "spec.replicas",
                        "FieldValueInvalid",
                        "Invalid value: 3000000000: spec.replicas in body should be less than or equal to 5",
                    ),
                    (
                        "spec.replicas",
                        "FieldValueInvalid",
                        "Invalid value: 3000000000: spec.replicas in body must be of type int32: \"3000000000\"",
                    ),
                ],
            ),
            (
                "int-or-string refuses a boolean",
                json!({"forProvider": {"engine": "mysql", "port": true}}),
                vec![(
                    "spec.forProvider.port",
                    "FieldValueTypeInvalid",
                    r#"Invalid value: "boolean": spec.forProvider.port in body must be of type integer,string: "boolean""#,
                )],
            ),
            (
                "an embedded resource needs apiVersion and kind",
                json!({"forProvider": {"engine": "mysql", "template": {"spec": {}}}}),
                vec![
                    (
                        "spec.forProvider.template.apiVersion",
                        "FieldValueRequired",
                        "Required value: must not be empty",
                    ),
                    (
                        "spec.forProvider.template.kind",
                        "FieldValueRequired",
                        "Required value: must not be empty",
                    ),
                ],
            ),
        ];
        for (reason, spec, expected) in cases {
            let mut obj = object(spec);
            let errors = validate(&rds_schema(), &mut obj).expect_err(reason);
            let got: Vec<(&str, &str, &str)> =
                errors.iter().map(|e| (e.field.as_str(), e.reason, e.message.as_str())).collect();
            assert_eq!(got, expected, "{reason}");
        }
    }

    #[test]
    fn valid_objects_are_defaulted_and_pruned() {
        let cases = [
            (
                "defaults fill absent fields in existing objects, not absent objects",
                json!({"forProvider": {"engine": "mysql", "tags": [{"key": "a"}]}}),
                json!({"replicas": 1, "deletionPolicy": "Delete",
                       "forProvider": {"engine": "mysql", "tags": [{"key": "a", "value": "none"}]}}),
            ),
            (
                "defaults apply inside an object that exists, replace a non-nullable null; 2.0 is an integer",
                json!({"replicas": null, "forProvider": {"engine": "mysql", "allocatedStorage": 2.0, "backup": {}}}),
                json!({"replicas": 1, "deletionPolicy": "Delete", "forProvider": {"engine": "mysql", "allocatedStorage": 2.0, "backup": {"window": "03:00"}}}),
            ),
            (
                "unknown fields are pruned at every level",
                json!({"bogus": 1, "forProvider": {"engine": "mysql", "extra": true, "tags": [{"key": "a", "value": "b", "x": 1}]}}),
                json!({"replicas": 1, "deletionPolicy": "Delete", "forProvider": {"engine": "mysql", "tags": [{"key": "a", "value": "b"}]}}),
            ),
            (
                "preserve-unknown-fields keeps unknown fields; nullable keeps null; int-or-string takes both",
                json!({"forProvider": {"engine": "mysql", "note": null, "port": "http", "raw": {"known": 1, "free": {"x": [1]}}}}),
                json!({"replicas": 1, "deletionPolicy": "Delete", "forProvider": {"engine": "mysql", "note": null, "port": "http", "raw": {"known": 1, "free": {"x": [1]}}}}),
            ),
            (
                "an embedded resource keeps its apiVersion, kind and metadata",
                json!({"forProvider": {"engine": "mysql", "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "spec": {"a": "b", "z": 1}}}}),
                json!({"replicas": 1, "deletionPolicy": "Delete", "forProvider": {"engine": "mysql", "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "spec": {"a": "b"}}}}),
            ),
        ];
        for (reason, spec, expected) in cases {
            let mut obj = object(spec);
            validate(&rds_schema(), &mut obj).unwrap_or_else(|e| panic!("{reason}: {e:?}"));
            assert_eq!(obj["spec"], expected, "{reason}");
            assert_eq!(
                obj["metadata"],
                json!({"name": "orders-db", "labels": {"x": "y"}}),
                "{reason}: metadata is never pruned"
            );
            assert_eq!(obj["kind"], "RDSInstance", "{reason}: kind is never pruned");
        }
    }

    #[test]
    fn status_is_kept_when_the_schema_preserves_it() {
        let mut obj = object(json!({"forProvider": {"engine": "mysql"}}));
        obj["status"] = json!({"atProvider": {"endpoint": "db:5432"}});
        validate(&rds_schema(), &mut obj).unwrap();
        assert_eq!(obj["status"]["atProvider"]["endpoint"], "db:5432");
    }

    #[test]
    fn unknown_fields_are_named_for_strict_validation() {
        let cases = [
            ("a known object has none", json!({"forProvider": {"engine": "mysql"}}), vec![]),
            (
                "unknown fields at any depth, in list items by index",
                json!({"bogus": 1, "forProvider": {"engine": "mysql", "tags": [{"key": "a", "x": 1}]}}),
                vec!["spec.bogus", "spec.forProvider.tags[0].x"],
            ),
            (
                "preserve-unknown-fields, maps and embedded metadata are not unknown",
                json!({"forProvider": {"labels": {"any": "x"}, "raw": {"free": 1},
                    "template": {"apiVersion": "v1", "kind": "K", "metadata": {"name": "n"}, "extra": 1}}}),
                vec!["spec.forProvider.template.extra"],
            ),
        ];
        for (reason, spec, expected) in cases {
            assert_eq!(unknown_fields(&rds_schema(), &object(spec)), expected, "{reason}");
        }
    }

    #[test]
    fn unknown_fields_follow_references_in_built_in_schemas() {
        let schema = json!({
            "type": "object",
            "properties": {
                "metadata": {"allOf": [{"$ref": "#/components/schemas/meta"}]},
                "data": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "components": {"schemas": {"meta": {"type": "object", "properties": {"name": {"type": "string"}}}}},
        });
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "nmae": "typo"},
                         "data": {"a": "b"}, "dta": {}});
        assert_eq!(unknown_fields(&schema, &obj), ["dta", "metadata.nmae"]);
    }

    #[test]
    fn combinators_validate() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}}});
        let mut both = json!({"spec": {"a": "x", "b": "y"}});
        let errors = validate(&schema, &mut both).expect_err("both branches match oneOf");
        assert_eq!(
            errors[0].message,
            r#"Invalid value: "object": spec in body must validate one and only one schema (oneOf)"#
        );
        let mut one = json!({"spec": {"a": "x"}});
        assert_eq!(validate(&schema, &mut one), Ok(()), "exactly one branch matches");
    }

    #[test]
    fn formats() {
        let cases = [
            ("date-time", "2026-01-02T03:04:05Z", true),
            ("date-time", "2026-01-02", false),
            ("date", "2026-01-02", true),
            ("byte", "aGVsbG8=", true),
            ("byte", "not base64!", false),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "10.0.0", false),
            ("cidr", "10.0.0.0/16", true),
            ("cidr", "10.0.0.0/33", false),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
            ("uuid", "123e4567", false),
            ("hostname", "db.example.com", true),
            ("hostname", "-bad.example.com", false),
            ("duration", "1h30m", true),
            ("duration", "90", false),
            ("made-up-format", "anything", true),
        ];
        for (format, input, ok) in cases {
            assert_eq!(format_matches(format, input), ok, "{format} {input}");
        }
    }

    #[test]
    fn structural_checks() {
        let cases: [(&str, Value, Vec<&str>); 12] = [
            ("a typed schema is structural", rds_schema(), vec![]),
            ("the root must be an object", json!({"type": "string"}), vec!["openAPIV3Schema.type"]),
            (
                "every property needs a type",
                json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}}),
                vec!["openAPIV3Schema.properties[spec].type"],
            ),
            (
                "preserve-unknown-fields and int-or-string nodes may omit the type",
                json!({"type": "object", "properties": {"a": {"x-kubernetes-preserve-unknown-fields": true}, "b": {"x-kubernetes-int-or-string": true}}}),
                vec![],
            ),
            (
                "$ref, uniqueItems and additionalProperties: false are disallowed",
                json!({"type": "object", "additionalProperties": false, "properties": {"a": {"$ref": "#/x", "type": "array", "uniqueItems": true, "items": {"type": "string"}}}}),
                vec![
                    "openAPIV3Schema.additionalProperties",
                    "openAPIV3Schema.properties[a].$ref",
                    "openAPIV3Schema.properties[a].uniqueItems",
                ],
            ),
            (
                "arrays need items and a single items schema",
                json!({"type": "object", "properties": {"a": {"type": "array"}, "b": {"type": "array", "items": [{"type": "string"}]}}}),
                vec!["openAPIV3Schema.properties[a].items", "openAPIV3Schema.properties[b].items"],
            ),
            (
                "types inside anyOf are not allowed",
                json!({"type": "object", "anyOf": [{"type": "object", "required": ["a"]}]}),
                vec!["openAPIV3Schema.anyOf[0].type"],
            ),
            (
                "root metadata may narrow name and generateName only",
                json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
                    "name": {"type": "string", "maxLength": 40}, "labels": {"type": "object"}}}}}),
                vec!["openAPIV3Schema.properties[metadata].properties[labels]"],
            ),
            (
                "root metadata must be an object without a default",
                json!({"type": "object", "properties": {"metadata": {"type": "string", "default": "x"}}}),
                vec![
                    "openAPIV3Schema.properties[metadata].type",
                    "openAPIV3Schema.properties[metadata].default",
                ],
            ),
            (
                "map lists need keys and object items",
                json!({"type": "object", "properties": {"a": {"type": "array", "x-kubernetes-list-type": "map",
                    "items": {"type": "string"}}}}),
                vec![
                    "openAPIV3Schema.properties[a].x-kubernetes-list-map-keys",
                    "openAPIV3Schema.properties[a].items.type",
                ],
            ),
            (
                "list types only on arrays, and set items are scalars",
                json!({"type": "object", "properties": {
                    "a": {"type": "string", "x-kubernetes-list-type": "set"},
                    "b": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "object"}}}}),
                vec![
                    "openAPIV3Schema.properties[a].x-kubernetes-list-type",
                    "openAPIV3Schema.properties[b].items.type",
                ],
            ),
            (
                "preserve-unknown-fields: false is invalid",
                json!({"type": "object", "x-kubernetes-preserve-unknown-fields": false}),
                vec!["openAPIV3Schema.x-kubernetes-preserve-unknown-fields"],
            ),
        ];
        for (reason, schema, expected) in cases {
            let got: Vec<String> = check_structural(&schema)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.field)
                .collect();
            assert_eq!(got, expected, "{reason}");
        }
    }

    /// A custom resource shaped like Crosstie's: kube-derive writes every shipped CRD's schema.
    #[derive(
        kube::CustomResource,
        serde::Serialize,
        serde::Deserialize,
        schemars::JsonSchema,
        Clone,
        Debug,
    )]
    #[kube(
        group = "database.example.org",
        version = "v1beta1",
        kind = "Database",
        status = "DatabaseStatus"
    )]
    #[serde(rename_all = "camelCase")]
    struct DatabaseSpec {
        engine: Engine,
        allocated_storage: Option<i32>,
        tags: Vec<Tag>,
        labels: std::collections::BTreeMap<String, String>,
        #[serde(default)]
        deletion_protection: bool,
    }

    #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema, Clone, Debug)]
    #[serde(rename_all = "lowercase")]
    enum Engine {
        Postgres,
        Mysql,
    }

    #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema, Clone, Debug)]
    struct Tag {
        key: String,
        value: Option<String>,
    }

    #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema, Clone, Debug)]
    struct DatabaseStatus {
        endpoint: Option<String>,
    }

    #[test]
    fn kube_derive_schemas_are_structural_and_accept_their_own_objects() {
        use kube::CustomResourceExt;
        let crd = serde_json::to_value(Database::crd()).unwrap();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        assert_eq!(check_structural(schema), Ok(()), "{schema:#}");

        let database = Database::new(
            "orders",
            DatabaseSpec {
                engine: Engine::Postgres,
                allocated_storage: None,
                tags: vec![Tag { key: "team".into(), value: None }],
                labels: [("a".to_owned(), "b".to_owned())].into(),
                deletion_protection: false,
            },
        );
        let mut object = serde_json::to_value(&database).unwrap();
        let sent = object.clone();
        assert_eq!(validate(schema, &mut object), Ok(()));
        assert_eq!(object, sent, "a well-formed object is neither pruned nor changed");

        object["spec"]["engine"] = json!("oracle");
        object["spec"]["allocatedStorage"] = json!("big");
        let fields: Vec<String> =
            validate(schema, &mut object).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["spec.allocatedStorage", "spec.engine"]);
    }
}
