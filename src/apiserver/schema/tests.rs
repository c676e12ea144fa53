use super::formats::format_matches;
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
        let errors = validate(&rds_schema(), &mut obj, None).expect_err(reason);
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
        validate(&rds_schema(), &mut obj, None).unwrap_or_else(|e| panic!("{reason}: {e:?}"));
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
    validate(&rds_schema(), &mut obj, None).unwrap();
    assert_eq!(obj["status"]["atProvider"]["endpoint"], "db:5432");
}

#[test]
fn combinators_validate() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}}});
    let mut both = json!({"spec": {"a": "x", "b": "y"}});
    let errors = validate(&schema, &mut both, None).expect_err("both branches match oneOf");
    assert_eq!(
        errors[0].message,
        r#"Invalid value: "object": spec in body must validate one and only one schema (oneOf)"#
    );
    let mut one = json!({"spec": {"a": "x"}});
    assert_eq!(validate(&schema, &mut one, None), Ok(()), "exactly one branch matches");
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
    let cases: [(&str, Value, Vec<&str>); 13] = [
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
            "an int-or-string node may spell its two types in anyOf, as controller-gen does",
            json!({"type": "object", "properties": {
                "a": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "b": {"x-kubernetes-int-or-string": true, "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]+$"}]},
                "c": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}),
            vec![
                "openAPIV3Schema.properties[c].type",
                "openAPIV3Schema.properties[c].anyOf[0].type",
                "openAPIV3Schema.properties[c].anyOf[1].type",
            ],
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
    kube::CustomResource, serde::Serialize, serde::Deserialize, schemars::JsonSchema, Clone, Debug,
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
    assert_eq!(validate(schema, &mut object, None), Ok(()));
    assert_eq!(object, sent, "a well-formed object is neither pruned nor changed");

    object["spec"]["engine"] = json!("oracle");
    object["spec"]["allocatedStorage"] = json!("big");
    let fields: Vec<String> =
        validate(schema, &mut object, None).unwrap_err().into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["spec.allocatedStorage", "spec.engine"]);
}

/// Stored before the schema was tightened: `engine` too long (10 at most), a tag too many (2).
fn stored_before_tightening() -> Value {
    let tags =
        json!([{"key": "a", "value": "1"}, {"key": "b", "value": "2"}, {"key": "c", "value": "3"}]);
    let mut stored = object(
        json!({"forProvider": {"engine": "postgresqlflex", "allocatedStorage": 20, "tags": tags}}),
    );
    stored["status"] = json!({"phase": "Creating"});
    stored
}

#[test]
fn an_update_is_not_refused_for_values_it_leaves_as_they_were() {
    let schema = rds_schema();
    let old = stored_before_tightening();
    let fields = |mut object: Value, old: Option<&Value>| -> Vec<String> {
        let errors = validate(&schema, &mut object, old).err().unwrap_or_default();
        errors.into_iter().map(|e| e.field).collect()
    };
    assert_eq!(
        fields(old.clone(), None),
        ["spec.forProvider.engine", "spec.forProvider.tags"],
        "a create checks everything"
    );

    let mut status_only = old.clone();
    status_only["status"]["phase"] = json!("Available");
    assert!(fields(status_only, Some(&old)).is_empty(), "a status write");
    let mut sibling_changed = old.clone();
    sibling_changed["spec"]["forProvider"]["allocatedStorage"] = json!(50);
    assert!(fields(sibling_changed, Some(&old)).is_empty(), "fields correlate by key");

    let mut sibling_invalid = old.clone();
    sibling_invalid["spec"]["forProvider"]["allocatedStorage"] = json!(0);
    assert_eq!(fields(sibling_invalid, Some(&old)), ["spec.forProvider.allocatedStorage"]);
    let mut changed_but_still_invalid = old.clone();
    changed_but_still_invalid["spec"]["forProvider"]["engine"] = json!("postgresqlflexible");
    assert_eq!(fields(changed_but_still_invalid, Some(&old)), ["spec.forProvider.engine"]);
    let mut list_changed = old.clone();
    list_changed["spec"]["forProvider"]["tags"][0]["value"] = json!("changed");
    assert_eq!(
        fields(list_changed, Some(&old)),
        ["spec.forProvider.tags"],
        "a changed list is checked whole"
    );
}
