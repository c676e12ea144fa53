//! Claim forms from an XRD's OpenAPI schema: one [`Field`] per leaf of `spec`, the form's HTML
//! (with the HTML attributes the page script checks for instant feedback), and the
//! authoritative server-side validation that turns a submitted form into a claim.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::web::html::esc;

/// What a field holds.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldType {
    /// Free text.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// A checkbox.
    Boolean,
    /// One of the listed strings (a select).
    Enum(Vec<String>),
    /// Strings, one per line.
    StringList,
}

/// One form field: a leaf of the claim's `spec`.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Form field name: `spec.parameters.storageGB`.
    pub name: String,
    /// Kind of value.
    pub type_: FieldType,
    /// Required by the schema (this field and every object above it).
    pub required: bool,
    /// The schema's description.
    pub description: String,
    /// The schema's default, as form text.
    pub default: Option<String>,
    /// `minimum`.
    pub minimum: Option<f64>,
    /// `maximum`.
    pub maximum: Option<f64>,
    /// `minLength`.
    pub min_length: Option<u64>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `pattern` (ECMA-262 in Kubernetes; the `regex` crate accepts the common subset).
    pub pattern: Option<String>,
    /// `minItems` of a list.
    pub min_items: Option<u64>,
    /// `maxItems` of a list.
    pub max_items: Option<u64>,
}

/// Leaves of `spec` in `schema` (the XRD version's `openAPIV3Schema`), depth first, properties
/// in name order.
pub fn fields(schema: &Value) -> Vec<Field> {
    let mut out = Vec::new();
    let spec = &schema["properties"]["spec"];
    let required = schema["required"].as_array().is_none_or(|r| r.iter().any(|n| n == "spec"));
    walk(spec, "spec", required, &mut out);
    out
}

fn walk(schema: &Value, name: &str, required: bool, out: &mut Vec<Field>) {
    if let Some(properties) = schema["properties"].as_object() {
        let required_names: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (key, child) in properties {
            let child_required = required && required_names.contains(&key.as_str());
            walk(child, &format!("{name}.{key}"), child_required, out);
        }
        return;
    }
    let type_ = match (schema["type"].as_str(), schema["enum"].as_array()) {
        (_, Some(values)) => FieldType::Enum(
            values.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or(v.to_string())).collect(),
        ),
        (Some("integer"), _) => FieldType::Integer,
        (Some("number"), _) => FieldType::Number,
        (Some("boolean"), _) => FieldType::Boolean,
        (Some("array"), _) => FieldType::StringList,
        _ => FieldType::String,
    };
    let default = match &schema["default"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned).unwrap_or(i.to_string()))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        other => Some(other.to_string()),
    };
    out.push(Field {
        name: name.to_owned(),
        type_,
        required,
        description: schema["description"].as_str().unwrap_or_default().to_owned(),
        default,
        minimum: schema["minimum"].as_f64(),
        maximum: schema["maximum"].as_f64(),
        min_length: schema["minLength"].as_u64(),
        max_length: schema["maxLength"].as_u64(),
        pattern: schema["pattern"].as_str().map(str::to_owned),
        min_items: schema["minItems"].as_u64(),
        max_items: schema["maxItems"].as_u64(),
    });
}

/// A rejected field and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    /// Form field name.
    pub field: String,
    /// What is wrong, for the user.
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid { field: field.to_owned(), message: message.into() }
}

/// Lowercase RFC 1123 label: what claim names and namespaces must be.
fn check_name(field: &str, value: &str) -> Option<Invalid> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    (!ok).then(|| {
        invalid(field, "must be 1–63 lowercase letters, digits or '-', starting and ending with a letter or digit")
    })
}

/// The submitted value of `field` as JSON, `Ok(None)` when left empty.
fn parse(field: &Field, text: &str) -> Result<Option<Value>, String> {
    let text = text.trim();
    if text.is_empty() && field.type_ != FieldType::StringList {
        return Ok(None);
    }
    let value = match &field.type_ {
        FieldType::String => {
            let chars = text.chars().count() as u64;
            if field.min_length.is_some_and(|m| chars < m) {
                return Err(format!(
                    "must be at least {} characters",
                    field.min_length.unwrap_or_default()
                ));
            }
            if field.max_length.is_some_and(|m| chars > m) {
                return Err(format!(
                    "must be at most {} characters",
                    field.max_length.unwrap_or_default()
                ));
            }
            if let Some(pattern) = &field.pattern {
                let re = regex::Regex::new(pattern).map_err(|e| format!("schema pattern: {e}"))?;
                if !re.is_match(text) {
                    return Err(format!("must match {pattern}"));
                }
            }
            json!(text)
        }
        FieldType::Enum(allowed) => {
            if !allowed.iter().any(|a| a == text) {
                return Err(format!("must be one of {}", allowed.join(", ")));
            }
            json!(text)
        }
        FieldType::Boolean => json!(matches!(text, "true" | "on")),
        FieldType::Integer | FieldType::Number => {
            let number: f64 = text.parse().map_err(|_| "must be a number".to_owned())?;
            // `inf` and `NaN` parse, but JSON has no such numbers (they would become null).
            if !number.is_finite() {
                return Err("must be a number".into());
            }
            if field.type_ == FieldType::Integer && number.fract() != 0.0 {
                return Err("must be a whole number".into());
            }
            // Past 2^63 `as i64` would saturate: a different value than the one typed.
            if field.type_ == FieldType::Integer && number.abs() >= 2f64.powi(63) {
                return Err("is too large".into());
            }
            if let Some(min) = field.minimum.filter(|m| number < *m) {
                return Err(format!("must be at least {min}"));
            }
            if let Some(max) = field.maximum.filter(|m| number > *m) {
                return Err(format!("must be at most {max}"));
            }
            if field.type_ == FieldType::Integer { json!(number as i64) } else { json!(number) }
        }
        FieldType::StringList => {
            let items: Vec<&str> =
                text.split(['\n', ',']).map(str::trim).filter(|s| !s.is_empty()).collect();
            if items.is_empty() {
                return Ok(None);
            }
            if let Some(min) = field.min_items.filter(|m| (items.len() as u64) < *m) {
                return Err(format!("needs at least {min} item(s), one per line"));
            }
            if let Some(max) = field.max_items.filter(|m| (items.len() as u64) > *m) {
                return Err(format!("takes at most {max} item(s)"));
            }
            json!(items)
        }
    };
    Ok(Some(value))
}

/// The claim the form describes, or every field that is wrong.
pub fn claim(
    api_version: &str,
    kind: &str,
    fields: &[Field],
    form: &[(String, String)],
) -> Result<Value, Vec<Invalid>> {
    let get = |name: &str| {
        form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    };
    let mut errors = Vec::new();
    let (name, namespace) = (get("metadata.name").trim(), get("metadata.namespace").trim());
    errors.extend(check_name("metadata.name", name));
    errors.extend(check_name("metadata.namespace", namespace));
    let mut spec = Map::new();
    for field in fields {
        match parse(field, get(&field.name)) {
            Ok(Some(value)) => insert(&mut spec, &field.name["spec.".len()..], value),
            Ok(None) if field.required => errors.push(invalid(&field.name, "is required")),
            Ok(None) => {}
            Err(message) => errors.push(invalid(&field.name, message)),
        }
    }
    let secret = get("spec.writeConnectionSecretToRef.name").trim();
    if !secret.is_empty() {
        errors.extend(check_name("spec.writeConnectionSecretToRef.name", secret));
        insert(&mut spec, "writeConnectionSecretToRef.name", json!(secret));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }))
}

fn insert(map: &mut Map<String, Value>, dotted: &str, value: Value) {
    match dotted.split_once('.') {
        None => {
            map.insert(dotted.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = map.entry(head).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                insert(child, rest, value);
            }
        }
    }
}

/// The form's inputs, filled from `form` (a previous submission) or the schema defaults, with
/// each field's validation message.
pub fn inputs(fields: &[Field], form: &[(String, String)], errors: &[Invalid]) -> String {
    let value_of = |name: &str, default: Option<&str>| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or(default.map(str::to_owned))
            .unwrap_or_default()
    };
    let message = |name: &str| {
        let text = errors.iter().find(|e| e.field == name).map(|e| e.message.as_str());
        format!(
            r#"<span class="msg" data-for="{}">{}</span>"#,
            esc(name),
            esc(text.unwrap_or_default())
        )
    };
    let name_rule = r#" required maxlength="63" data-pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$""#;
    let mut out = String::new();
    for (name, label) in [("metadata.name", "Name"), ("metadata.namespace", "Namespace")] {
        let _ = write!(
            out,
            r#"<label>{label} <input name="{name}" value="{}"{name_rule}></label>{}"#,
            esc(&value_of(name, None)),
            message(name)
        );
    }
    for field in fields {
        let value = value_of(&field.name, field.default.as_deref());
        let mut rules = String::new();
        if field.required {
            rules.push_str(" required");
        }
        let mut attr = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                let _ = write!(rules, r#" {k}="{}""#, esc(&v));
            }
        };
        attr("min", field.minimum.map(|m| m.to_string()));
        attr("max", field.maximum.map(|m| m.to_string()));
        attr("minlength", field.min_length.map(|m| m.to_string()));
        attr("maxlength", field.max_length.map(|m| m.to_string()));
        // `data-pattern`, not `pattern`: HTML anchors `pattern`, OpenAPI does not.
        attr("data-pattern", field.pattern.clone());
        attr("data-min-items", field.min_items.map(|m| m.to_string()));
        attr("data-max-items", field.max_items.map(|m| m.to_string()));
        let name = esc(&field.name);
        let control = match &field.type_ {
            FieldType::Enum(options) => {
                let mut select = format!(r#"<select name="{name}"{rules}>"#);
                if !field.required || field.default.is_none() {
                    select.push_str(r#"<option value="">—</option>"#);
                }
                for option in options {
                    let selected = if *option == value { " selected" } else { "" };
                    let _ = write!(select, r#"<option{selected}>{}</option>"#, esc(option));
                }
                select + "</select>"
            }
            FieldType::Boolean => {
                let checked = if value == "true" || value == "on" { " checked" } else { "" };
                format!(r#"<input type="checkbox" name="{name}" value="true"{checked}>"#)
            }
            FieldType::StringList => {
                format!(r#"<textarea name="{name}" rows="3"{rules}>{}</textarea>"#, esc(&value))
            }
            FieldType::Integer => {
                format!(
                    r#"<input type="number" step="1" name="{name}" value="{}"{rules}>"#,
                    esc(&value)
                )
            }
            FieldType::Number => {
                format!(
                    r#"<input type="number" step="any" name="{name}" value="{}"{rules}>"#,
                    esc(&value)
                )
            }
            FieldType::String => format!(r#"<input name="{name}" value="{}"{rules}>"#, esc(&value)),
        };
        let hint = if field.type_ == FieldType::StringList { " (one per line)" } else { "" };
        let _ = write!(
            out,
            r#"<label>{}{}{hint} {control}</label><small>{}</small>{}"#,
            esc(&field.name["spec.".len()..]),
            if field.required { " *" } else { "" },
            esc(&field.description),
            message(&field.name),
        );
    }
    let secret = "spec.writeConnectionSecretToRef.name";
    let _ = write!(
        out,
        r#"<label>Connection secret name <input name="{secret}" value="{}"></label><small>Secret in the claim's namespace that receives the connection details.</small>{}"#,
        esc(&value_of(secret, None)),
        message(secret)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["parameters"], "properties": {
            "parameters": {"type": "object", "required": ["storageGB"], "properties": {
                "storageGB": {"type": "integer", "minimum": 20, "maximum": 1000},
                "size": {"type": "string", "enum": ["small", "large"], "default": "small"},
                "subnetIds": {"type": "array", "minItems": 2, "items": {"type": "string"}},
            }}
        }}}})
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_rule_of_the_schema_is_checked_and_named() {
        let fields = fields(&schema());
        let errors = claim(
            "db.example.org/v1",
            "Database",
            &fields,
            &form(&[
                ("metadata.name", "Bad_Name"),
                ("metadata.namespace", "team-a"),
                ("spec.parameters.storageGB", "10"),
                ("spec.parameters.size", "huge"),
                ("spec.parameters.subnetIds", "subnet-1"),
            ]),
        )
        .unwrap_err();
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            named,
            [
                "metadata.name",
                "spec.parameters.size",
                "spec.parameters.storageGB",
                "spec.parameters.subnetIds"
            ]
        );
        assert_eq!(errors[2].message, "must be at least 20");
    }

    #[test]
    fn a_valid_form_becomes_a_claim_with_typed_values() {
        let fields = fields(&schema());
        let claim = claim(
            "db.example.org/v1",
            "Database",
            &fields,
            &form(&[
                ("metadata.name", "orders"),
                ("metadata.namespace", "team-a"),
                ("spec.parameters.storageGB", "20"),
                ("spec.parameters.size", "large"),
                ("spec.parameters.subnetIds", "subnet-1\nsubnet-2\n"),
            ]),
        )
        .unwrap();
        assert_eq!(
            claim,
            json!({"apiVersion": "db.example.org/v1", "kind": "Database",
                "metadata": {"name": "orders", "namespace": "team-a"},
                "spec": {"parameters": {"storageGB": 20, "size": "large", "subnetIds": ["subnet-1", "subnet-2"]}}})
        );
    }

    #[test]
    fn numbers_json_cannot_carry_are_refused_not_changed() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "count": {"type": "integer"}, "ratio": {"type": "number"},
        }}}});
        for (field, text, message) in [
            ("spec.count", "1e30", "is too large"),
            ("spec.count", "-1e19", "is too large"),
            ("spec.ratio", "inf", "must be a number"),
            ("spec.ratio", "NaN", "must be a number"),
        ] {
            let errors = claim(
                "db.example.org/v1",
                "Database",
                &fields(&schema),
                &form(&[("metadata.name", "a"), ("metadata.namespace", "b"), (field, text)]),
            )
            .unwrap_err();
            assert_eq!(errors, [invalid(field, message)], "{text}");
        }
    }

    #[test]
    fn a_missing_required_field_is_reported() {
        let errors = claim(
            "db.example.org/v1",
            "Database",
            &fields(&schema()),
            &form(&[("metadata.name", "a"), ("metadata.namespace", "b")]),
        )
        .unwrap_err();
        assert_eq!(errors, [invalid("spec.parameters.storageGB", "is required")]);
    }
}
