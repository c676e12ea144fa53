//! `meta.k8s.io/v1` Table responses for `kubectl get`: a Name column plus a CRD version's
//! `additionalPrinterColumns` or a built-in kind's columns (or Name and Age without them), rows
//! carrying PartialObjectMetadata.

mod builtin;
mod jsonpath;

pub use builtin::{Computed, builtin_columns};

use serde_json::{Map, Value, json};

use jsonpath::{Step, evaluate, parse_path};

/// A printer column as in a CRD version's `additionalPrinterColumns`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrinterColumn {
    /// Column header, e.g. `READY`.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// JSONPath into the object, e.g. `.status.conditions[?(@.type=="Ready")].status`.
    pub json_path: String,
    /// Shown by `kubectl explain`-like tools; may be empty.
    pub description: String,
    /// 0 for default output; higher only with `-o wide`.
    pub priority: i32,
    /// Optional format hint, e.g. `name`.
    pub format: String,
    /// Computed instead of read at `json_path` (built-in kinds' columns).
    pub computed: Option<Computed>,
}

impl PrinterColumn {
    /// Reads a column from one entry of a CRD version's `additionalPrinterColumns`.
    pub fn from_crd(column: &Value) -> Self {
        let text = |key: &str| column.get(key).and_then(Value::as_str).unwrap_or_default();
        PrinterColumn {
            name: text("name").to_owned(),
            type_: Some(text("type")).filter(|t| !t.is_empty()).unwrap_or("string").to_owned(),
            json_path: text("jsonPath").to_owned(),
            description: text("description").to_owned(),
            priority: column
                .get("priority")
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(0),
            format: text("format").to_owned(),
            computed: None,
        }
    }
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating \
    resources, although some resources may allow a client to request the generation of an \
    appropriate name automatically. Name is primarily intended for creation idempotence and \
    configuration definition. Cannot be updated. More info: \
    https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when \
    this object was created. It is not guaranteed to be set in happens-before order across \
    separate operations. Clients may not set this value. It is represented in RFC3339 form and \
    is in UTC.";

/// How a client asked for a Table: the kind's printer columns, and what each row carries.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    /// The columns after Name (none: Name and Age).
    pub columns: Vec<PrinterColumn>,
    /// `includeObject`.
    pub include: IncludeObject,
}

/// What each row carries besides its cells (`includeObject`): `kubectl get --sort-by` asks
/// for whole objects, to sort by any field.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// A PartialObjectMetadata (the default).
    #[default]
    Metadata,
    /// The object itself.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("" | "Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(format!(
                "includeObject: Unsupported value: {other:?}: supported values: \"None\", \"Metadata\", \"Object\""
            )),
        }
    }
}

/// Renders `objects` as a Table with `columns` after the Name column; without columns the table
/// has Name and Age, like kube-apiserver's default for custom resources. `date` cells are ages
/// (`5m10s`) as of now, which kubectl prints as they are.
pub fn table(
    objects: &[Value],
    options: &TableOptions,
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    let now = jiff::Timestamp::now();
    let mut table = table_at(objects, &options.columns, resource_version, continue_token, now);
    if options.include != IncludeObject::Metadata {
        let rows = table["rows"].as_array_mut().into_iter().flatten();
        for (row, object) in rows.zip(objects) {
            match options.include {
                IncludeObject::Object => row["object"] = object.clone(),
                _ => _ = row.as_object_mut().map(|r| r.remove("object")),
            }
        }
    }
    table
}

/// [`table`] with ages measured at `now`.
pub fn table_at(
    objects: &[Value],
    columns: &[PrinterColumn],
    resource_version: &str,
    continue_token: Option<&str>,
    now: jiff::Timestamp,
) -> Value {
    let age = [age()];
    let columns = if columns.is_empty() { &age[..] } else { columns };
    // The Name column leads, unless the kind places it itself (Events list it last, wide).
    let name = [name()];
    let name_first = !columns.iter().any(|c| c.computed == Some(Computed::Name));
    let columns: Vec<&PrinterColumn> = name.iter().filter(|_| name_first).chain(columns).collect();
    let definitions: Vec<Value> = columns
        .iter()
        .map(|column| {
            json!({
                "name": column.name, "type": column.type_, "format": column.format,
                "description": column.description, "priority": column.priority,
            })
        })
        .collect();
    let paths: Vec<Option<Vec<Step>>> = columns.iter().map(|c| parse_path(&c.json_path)).collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let cells: Vec<Value> = columns
                .iter()
                .zip(&paths)
                .map(|(column, path)| cell(object, column, path.as_deref(), now))
                .collect();
            json!({"cells": cells, "object": partial_object_metadata(object)})
        })
        .collect();
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".to_owned(), json!(resource_version));
    if let Some(token) = continue_token {
        metadata.insert("continue".to_owned(), json!(token));
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// The Name column.
fn name() -> PrinterColumn {
    PrinterColumn {
        name: "Name".to_owned(),
        type_: "string".to_owned(),
        format: "name".to_owned(),
        description: NAME_DESCRIPTION.to_owned(),
        computed: Some(Computed::Name),
        ..PrinterColumn::default()
    }
}

/// The Age column: how long ago the object was created.
fn age() -> PrinterColumn {
    PrinterColumn {
        name: "Age".to_owned(),
        type_: "date".to_owned(),
        json_path: ".metadata.creationTimestamp".to_owned(),
        description: AGE_DESCRIPTION.to_owned(),
        ..PrinterColumn::default()
    }
}

/// The object reduced to its metadata, as `includeObject=Metadata` asks.
pub fn partial_object_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// One cell: the single JSONPath result typed as the column says; no result ⇒ null (kubectl
/// prints `<none>`); several results ⇒ comma-joined, as kube-apiserver prints them.
fn cell(
    object: &Value,
    column: &PrinterColumn,
    path: Option<&[Step]>,
    now: jiff::Timestamp,
) -> Value {
    if let Some(computed) = column.computed {
        return computed.cell(object, now);
    }
    let Some(path) = path else {
        return Value::Null;
    };
    let results = evaluate(object, path);
    match results.as_slice() {
        [] => Value::Null,
        [single] => typed(single, &column.type_, now),
        many => Value::String(many.iter().map(|v| text(v)).collect::<Vec<_>>().join(",")),
    }
}

/// A value as kube-apiserver's CRD table convertor types it.
fn typed(value: &Value, type_: &str, now: jiff::Timestamp) -> Value {
    match (type_, value) {
        ("integer", Value::Number(n)) => {
            n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).map_or(Value::Null, Value::from)
        }
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(_)) => value.clone(),
        ("date", Value::String(s)) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => Value::String(human_duration(now.duration_since(t))),
            Err(_) => Value::String("<invalid>".to_owned()),
        },
        ("integer" | "number" | "boolean" | "date", _) => Value::Null,
        _ => Value::String(text(value)),
    }
}

/// Kubernetes' `duration.HumanDuration`: `45s`, `3m20s`, `2h5m`, `3d4h`, `2y30d`.
pub fn human_duration(elapsed: jiff::SignedDuration) -> String {
    let seconds = elapsed.as_secs();
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        };
    }
    format!("{years}y")
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_: &str, json_path: &str) -> PrinterColumn {
        PrinterColumn {
            name: name.to_owned(),
            type_: type_.to_owned(),
            json_path: json_path.to_owned(),
            ..PrinterColumn::default()
        }
    }

    /// 200 seconds after the instance was created.
    fn now() -> jiff::Timestamp {
        "2026-01-02T03:07:25Z".parse().unwrap()
    }

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-5, "<invalid>", "more than a second in the future is a clock problem"),
            (-1, "0s", "a second in the future is now"),
            (59, "59s", "seconds"),
            (119, "119s", "seconds up to two minutes"),
            (200, "3m20s", "minutes and seconds under ten minutes"),
            (600, "10m", "whole minutes from ten minutes"),
            (3 * 3600, "3h", "whole hours"),
            (3 * 3600 + 60 * 5, "3h5m", "hours and minutes under eight hours"),
            (30 * 3600, "30h", "hours under two days"),
            (3 * 86400 + 4 * 3600, "3d4h", "days and hours under eight days"),
            (40 * 86400, "40d", "days under two years"),
            (3 * 365 * 86400 + 10 * 86400, "3y10d", "years and days under eight years"),
            (9 * 365 * 86400, "9y", "years"),
        ];
        for (seconds, expected, reason) in cases {
            assert_eq!(
                human_duration(jiff::SignedDuration::from_secs(seconds)),
                expected,
                "{reason}"
            );
        }
    }

    fn instance() -> Value {
        json!({
            "apiVersion": "database.aws.crossplane.io/v1beta1", "kind": "RDSInstance",
            "metadata": {"name": "orders-db", "creationTimestamp": "2026-01-02T03:04:05Z",
                         "labels": {"app.kubernetes.io/name": "orders"}},
            "spec": {"forProvider": {"allocatedStorage": 20, "engine": "postgres", "multiAZ": false, "ratio": 0.5,
                     "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}},
            "status": {"conditions": [{"type": "Synced", "status": "True"},
                                      {"type": "Ready", "status": "False", "reason": "Creating"}]}
        })
    }

    #[test]
    fn printer_column_cells() {
        let cases = [
            (
                "a nested field",
                column("ENGINE", "string", ".spec.forProvider.engine"),
                json!("postgres"),
            ),
            (
                "an integer keeps its type",
                column("SIZE", "integer", ".spec.forProvider.allocatedStorage"),
                json!(20),
            ),
            (
                "a boolean keeps its type",
                column("MULTI-AZ", "boolean", ".spec.forProvider.multiAZ"),
                json!(false),
            ),
            (
                "a filter picks the Ready condition",
                column("READY", "string", r#".status.conditions[?(@.type=="Ready")].status"#),
                json!("False"),
            ),
            (
                "a filter with single quotes",
                column("SYNCED", "string", ".status.conditions[?(@.type=='Synced')].status"),
                json!("True"),
            ),
            (
                "an index into a list",
                column("TAG", "string", ".spec.forProvider.tags[1].key"),
                json!("b"),
            ),
            (
                "a wildcard joins results",
                column("TAGS", "string", ".spec.forProvider.tags[*].key"),
                json!("a,b"),
            ),
            (
                "a quoted key with dots",
                column("APP", "string", ".metadata.labels['app.kubernetes.io/name']"),
                json!("orders"),
            ),
            (
                "braces as in kubectl templates",
                column("ENGINE", "string", "{.spec.forProvider.engine}"),
                json!("postgres"),
            ),
            (
                "a date is an age, as kubectl prints it",
                column("AGE", "date", ".metadata.creationTimestamp"),
                json!("3m20s"),
            ),
            (
                "a malformed date is <invalid>",
                column("X", "date", ".spec.forProvider.engine"),
                json!("<invalid>"),
            ),
            (
                "an integer column truncates a float",
                column("R", "integer", ".spec.forProvider.ratio"),
                json!(0),
            ),
            (
                "a missing field is null",
                column("X", "string", ".status.atProvider.endpoint"),
                Value::Null,
            ),
            (
                "a filter without match is null",
                column("X", "string", r#".status.conditions[?(@.type=="Gone")].status"#),
                Value::Null,
            ),
            (
                "a malformed path is null, not an error",
                column("X", "string", "spec..x"),
                Value::Null,
            ),
            (
                "an integer column over a string is null",
                column("X", "integer", ".spec.forProvider.engine"),
                Value::Null,
            ),
        ];
        for (reason, column, expected) in cases {
            let got = table_at(&[instance()], std::slice::from_ref(&column), "7", None, now());
            assert_eq!(got["rows"][0]["cells"][1], expected, "{reason}");
        }
    }

    #[test]
    fn table_shape() {
        let columns =
            [column("READY", "string", r#".status.conditions[?(@.type=="Ready")].status"#)];
        let got = table_at(&[instance()], &columns, "42", Some("next"), now());
        assert_eq!(got["kind"], "Table");
        assert_eq!(got["metadata"], json!({"resourceVersion": "42", "continue": "next"}));
        let headers: Vec<&str> = got["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(headers, ["Name", "READY"], "Name comes first, then the printer columns");
        assert_eq!(got["rows"][0]["cells"], json!(["orders-db", "False"]));
        assert_eq!(got["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(got["rows"][0]["object"]["metadata"]["name"], "orders-db");
        assert!(got["rows"][0]["object"].get("spec").is_none(), "rows carry metadata only");
    }

    #[test]
    fn without_printer_columns_the_table_has_name_and_age() {
        let got = table_at(&[instance()], &[], "1", None, now());
        assert_eq!(got["columnDefinitions"][1]["name"], "Age");
        assert_eq!(got["columnDefinitions"][1]["type"], "date");
        assert_eq!(got["rows"][0]["cells"], json!(["orders-db", "3m20s"]));
        assert!(got["metadata"].get("continue").is_none());
    }

    #[test]
    fn printer_columns_read_from_a_crd() {
        let got = PrinterColumn::from_crd(&json!({"name": "SIZE", "type": "integer",
            "jsonPath": ".spec.size", "priority": 1, "description": "d"}));
        assert_eq!(
            got,
            PrinterColumn {
                name: "SIZE".into(),
                type_: "integer".into(),
                json_path: ".spec.size".into(),
                description: "d".into(),
                priority: 1,
                format: String::new(),
                computed: None,
            }
        );
    }
}
