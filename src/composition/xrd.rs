//! CompositeResourceDefinition → CustomResourceDefinitions (pure): the composite CRD and, with
//! `claimNames`, the claim CRD, each with the fields Crossplane injects.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

use super::types::{CompositeResourceDefinition, Names};

/// Why an XRD cannot be established; the message goes into its `Established=False` condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CompositeResourceDefinition: {field}: {reason}")]
pub struct InvalidXrd {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// The API group, version, kind and plural of the served kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedKind {
    /// API group.
    pub group: String,
    /// The referenceable version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name.
    pub plural: String,
}

impl ServedKind {
    /// `group/version`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }
}

/// The CRDs an XRD serves.
#[derive(Clone, Debug)]
pub struct XrdCrds {
    /// The composite CRD (cluster-scoped).
    pub composite: CustomResourceDefinition,
    /// The claim CRD (namespaced), when the XRD has `claimNames`.
    pub claim: Option<CustomResourceDefinition>,
    /// The composite kind at its referenceable version.
    pub composite_kind: ServedKind,
    /// The claim kind at its referenceable version.
    pub claim_kind: Option<ServedKind>,
}

/// Validates `xrd` and builds its CRDs.
pub fn crds_for(xrd: &CompositeResourceDefinition) -> Result<XrdCrds, InvalidXrd> {
    let spec = &xrd.spec;
    let invalid = |field, reason: String| InvalidXrd { field, reason };
    if !spec.group.contains('.') {
        return Err(invalid(
            "spec.group",
            format!("{:?} must be a DNS subdomain with a dot, e.g. example.org", spec.group),
        ));
    }
    check_names(&spec.names, "spec.names")?;
    let expected = format!("{}.{}", spec.names.plural, spec.group);
    let name = xrd.metadata.name.as_deref().unwrap_or_default();
    if name != expected {
        return Err(invalid(
            "metadata.name",
            format!("must be <spec.names.plural>.<spec.group> ({expected:?}), got {name:?}"),
        ));
    }
    if spec.versions.is_empty() {
        return Err(invalid("spec.versions", "at least one version is required".to_owned()));
    }
    let referenceable: Vec<_> = spec.versions.iter().filter(|v| v.referenceable).collect();
    let [version] = referenceable[..] else {
        return Err(invalid(
            "spec.versions",
            format!("exactly one version must be referenceable, found {}", referenceable.len()),
        ));
    };
    if !version.served {
        return Err(invalid(
            "spec.versions",
            format!("referenceable version {:?} must be served", version.name),
        ));
    }
    let scope = spec.scope.as_deref().unwrap_or("LegacyCluster");
    match scope {
        "LegacyCluster" | "Cluster" => {}
        // Crossplane v2's namespaced composites compose namespaced resources in their own
        // namespace; the controllers here compose cluster-scoped ones only.
        "Namespaced" => {
            return Err(invalid(
                "spec.scope",
                "Namespaced composites are not supported yet: use LegacyCluster or Cluster"
                    .to_owned(),
            ));
        }
        other => {
            return Err(invalid(
                "spec.scope",
                format!("{other:?} must be LegacyCluster, Cluster or Namespaced"),
            ));
        }
    }
    if let Some(claim) = &spec.claim_names {
        check_names(claim, "spec.claimNames")?;
        if scope != "LegacyCluster" {
            return Err(invalid(
                "spec.claimNames",
                format!("claims need scope LegacyCluster, not {scope}"),
            ));
        }
        if claim.kind == spec.names.kind {
            return Err(invalid(
                "spec.claimNames.kind",
                format!("must differ from spec.names.kind ({:?})", claim.kind),
            ));
        }
        if claim.plural == spec.names.plural {
            return Err(invalid(
                "spec.claimNames.plural",
                format!("must differ from spec.names.plural ({:?})", claim.plural),
            ));
        }
    }
    for v in &spec.versions {
        let schema = v.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref());
        if let Some(s) = schema.filter(|s| s.get("type").is_some_and(|t| t != "object")) {
            return Err(invalid(
                "spec.versions[].schema.openAPIV3Schema",
                format!("version {:?}: type must be object, got {}", v.name, s["type"]),
            ));
        }
    }

    let served = |names: &Names| ServedKind {
        group: spec.group.clone(),
        version: version.name.clone(),
        kind: names.kind.clone(),
        plural: names.plural.clone(),
    };
    let composite = build(xrd, &spec.names, "Cluster", Kind::Composite)?;
    let claim = spec
        .claim_names
        .as_ref()
        .map(|names| build(xrd, names, "Namespaced", Kind::Claim))
        .transpose()?;
    Ok(XrdCrds {
        composite,
        claim,
        composite_kind: served(&spec.names),
        claim_kind: spec.claim_names.as_ref().map(served),
    })
}

fn check_names(names: &Names, field: &'static str) -> Result<(), InvalidXrd> {
    let ok_plural = !names.plural.is_empty()
        && names.plural.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if names.kind.is_empty() || !names.kind.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Err(InvalidXrd {
            field,
            reason: format!("kind {:?} must start with an upper-case letter", names.kind),
        });
    }
    if !ok_plural {
        return Err(InvalidXrd {
            field,
            reason: format!("plural {:?} must be a lower-case DNS label", names.plural),
        });
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Composite,
    Claim,
}

fn build(
    xrd: &CompositeResourceDefinition,
    names: &Names,
    scope: &str,
    kind: Kind,
) -> Result<CustomResourceDefinition, InvalidXrd> {
    let spec = &xrd.spec;
    let category = if kind == Kind::Composite { "composite" } else { "claim" };
    let mut categories = vec![category.to_owned()];
    categories.extend(names.categories.iter().filter(|c| *c != category).cloned());
    let versions: Vec<Value> = spec
        .versions
        .iter()
        .map(|v| {
            let schema = v
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.clone())
                .unwrap_or_else(|| json!({}));
            let mut columns = v.additional_printer_columns.clone();
            columns.extend(default_columns(kind));
            json!({
                "name": v.name,
                "served": v.served,
                "storage": v.referenceable,
                "deprecated": v.deprecated,
                "schema": {"openAPIV3Schema": inject(schema, kind)},
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
            })
        })
        .collect();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{}", names.plural, spec.group)},
        "spec": {
            "group": spec.group,
            "names": {
                "kind": names.kind,
                "plural": names.plural,
                "singular": names.singular.clone().unwrap_or_else(|| names.kind.to_lowercase()),
                "listKind": names.list_kind.clone().unwrap_or_else(|| format!("{}List", names.kind)),
                "shortNames": names.short_names,
                "categories": categories,
            },
            "scope": scope,
            "versions": versions,
        },
    });
    serde_json::from_value(strip_nulls(crd)).map_err(|e| InvalidXrd {
        field: "spec.versions[].schema.openAPIV3Schema",
        reason: format!("not a valid OpenAPI v3 schema: {e}"),
    })
}

fn default_columns(kind: Kind) -> Vec<Value> {
    let condition = |name: &str, type_: &str| json!({"name": name, "type": "string", "jsonPath": format!(".status.conditions[?(@.type=='{type_}')].status")});
    let third = match kind {
        Kind::Composite => {
            json!({"name": "COMPOSITION", "type": "string", "jsonPath": ".spec.compositionRef.name"})
        }
        Kind::Claim => {
            json!({"name": "CONNECTION-SECRET", "type": "string", "jsonPath": ".spec.writeConnectionSecretToRef.name"})
        }
    };
    vec![
        condition("SYNCED", "Synced"),
        condition("READY", "Ready"),
        third,
        json!({"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}),
    ]
}

/// Adds the fields Crossplane injects into every composite or claim schema.
fn inject(mut schema: Value, kind: Kind) -> Value {
    let name_ref = || json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}});
    let typed_ref = |extra: &[&str]| {
        let mut props = json!({"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"}});
        for f in extra {
            props[*f] = json!({"type": "string"});
        }
        json!({"type": "object", "required": ["apiVersion", "kind", "name"], "properties": props})
    };
    let mut spec_fields = json!({
        "compositionRef": name_ref(),
        "compositionSelector": {
            "type": "object",
            "required": ["matchLabels"],
            "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}},
        },
        "compositionRevisionRef": name_ref(),
        "compositionUpdatePolicy": {"type": "string", "enum": ["Automatic", "Manual"]},
    });
    match kind {
        Kind::Composite => {
            spec_fields["claimRef"] = typed_ref(&["namespace"]);
            spec_fields["resourceRefs"] = json!({"type": "array", "items": typed_ref(&[]), "x-kubernetes-list-type": "atomic"});
            spec_fields["writeConnectionSecretToRef"] = json!({
                "type": "object",
                "required": ["name", "namespace"],
                "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
            });
        }
        Kind::Claim => {
            spec_fields["compositeDeletePolicy"] =
                json!({"type": "string", "enum": ["Background", "Foreground"]});
            spec_fields["resourceRef"] = typed_ref(&[]);
            spec_fields["writeConnectionSecretToRef"] = name_ref();
        }
    }
    let status_fields = json!({
        "conditions": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            "items": {
                "type": "object",
                "required": ["type", "status", "lastTransitionTime", "reason"],
                "properties": {
                    "type": {"type": "string"},
                    "status": {"type": "string"},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "lastTransitionTime": {"type": "string", "format": "date-time"},
                    "observedGeneration": {"type": "integer", "format": "int64"},
                },
            },
        },
        "connectionDetails": {
            "type": "object",
            "properties": {"lastPublishedTime": {"type": "string", "format": "date-time"}},
        },
    });
    if !schema.is_object() {
        schema = json!({});
    }
    schema["type"] = json!("object");
    for (section, fields) in [("spec", spec_fields), ("status", status_fields)] {
        let props = &mut schema["properties"][section];
        if props.is_null() {
            *props = json!({"type": "object"});
        }
        let Value::Object(fields) = fields else { continue };
        for (name, field) in fields {
            props["properties"][name.as_str()] = field;
        }
    }
    schema
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shipped() -> CompositeResourceDefinition {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/compositions/xrd-postgresqlinstance.yaml");
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn json_of(crd: &CustomResourceDefinition) -> Value {
        serde_json::to_value(crd).unwrap()
    }

    fn column_names(crd: &Value) -> Vec<String> {
        crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_shipped_xrd_yields_a_cluster_scoped_composite_crd_with_crossplane_fields() {
        let crds = crds_for(&shipped()).unwrap();
        let crd = json_of(&crds.composite);
        assert_eq!(crd["metadata"]["name"], "xpostgresqlinstances.database.crosstie.io");
        assert_eq!(crd["spec"]["scope"], "Cluster");
        assert_eq!(crd["spec"]["names"]["categories"], json!(["composite"]));
        assert_eq!(crd["spec"]["names"]["listKind"], "XPostgreSQLInstanceList");
        assert_eq!(
            column_names(&crd),
            ["SIZE", "STORAGE", "ENDPOINT", "SYNCED", "READY", "COMPOSITION", "AGE"]
        );
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["storage"], true);
        assert_eq!(version["subresources"], json!({"status": {}}));
        let schema = &version["schema"]["openAPIV3Schema"]["properties"];
        let spec = schema["spec"]["properties"].as_object().unwrap();
        for field in [
            "parameters",
            "compositionRef",
            "compositionSelector",
            "compositionRevisionRef",
            "claimRef",
            "resourceRefs",
            "writeConnectionSecretToRef",
        ] {
            assert!(spec.contains_key(field), "composite spec lacks {field}");
        }
        assert_eq!(spec["writeConnectionSecretToRef"]["required"], json!(["name", "namespace"]));
        assert_eq!(
            spec["parameters"]["properties"]["size"]["enum"],
            json!(["small", "medium", "large"])
        );
        let status = &schema["status"]["properties"];
        assert_eq!(status["conditions"]["type"], "array");
        assert_eq!(
            status["connectionDetails"]["properties"]["lastPublishedTime"]["format"],
            "date-time"
        );
        assert_eq!(status["endpoint"]["type"], "string", "the XRD's own status fields are kept");
        assert_eq!(crds.composite_kind.api_version(), "database.crosstie.io/v1alpha1");
    }

    #[test]
    fn the_shipped_xrd_yields_a_namespaced_claim_crd_with_claim_fields() {
        let crds = crds_for(&shipped()).unwrap();
        let crd = json_of(crds.claim.as_ref().unwrap());
        assert_eq!(crd["metadata"]["name"], "postgresqlinstances.database.crosstie.io");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        assert_eq!(crd["spec"]["names"]["kind"], "PostgreSQLInstance");
        assert_eq!(crd["spec"]["names"]["categories"], json!(["claim"]));
        assert_eq!(
            column_names(&crd),
            ["SIZE", "STORAGE", "ENDPOINT", "SYNCED", "READY", "CONNECTION-SECRET", "AGE"]
        );
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
        assert_eq!(spec["writeConnectionSecretToRef"]["required"], json!(["name"]));
        assert!(spec["resourceRef"].is_object());
        assert!(spec["claimRef"].is_null(), "claims have no claimRef");
        assert!(spec["resourceRefs"].is_null(), "claims have no resourceRefs");
        assert_eq!(crds.claim_kind.unwrap().kind, "PostgreSQLInstance");
    }

    #[test]
    fn an_xrd_without_claim_names_serves_only_the_composite() {
        let mut xrd = shipped();
        xrd.spec.claim_names = None;
        let crds = crds_for(&xrd).unwrap();
        assert!(crds.claim.is_none() && crds.claim_kind.is_none());
    }

    #[test]
    fn invalid_xrds_are_rejected_with_the_field_and_reason() {
        type Edit = fn(&mut CompositeResourceDefinition);
        let cases: [(&str, Edit, &str); 9] = [
            (
                "namespaced composites",
                |x| {
                    x.spec.claim_names = None;
                    x.spec.scope = Some("Namespaced".into());
                },
                "spec.scope: Namespaced composites are not supported yet: use LegacyCluster or Cluster",
            ),
            (
                "no versions",
                |x| x.spec.versions.clear(),
                "spec.versions: at least one version is required",
            ),
            (
                "two referenceable versions",
                |x| {
                    let mut v = x.spec.versions[0].clone();
                    v.name = "v1beta1".into();
                    x.spec.versions.push(v);
                },
                "spec.versions: exactly one version must be referenceable, found 2",
            ),
            (
                "no referenceable version",
                |x| x.spec.versions[0].referenceable = false,
                "spec.versions: exactly one version must be referenceable, found 0",
            ),
            (
                "claim kind equals composite kind",
                |x| x.spec.claim_names.as_mut().unwrap().kind = "XPostgreSQLInstance".into(),
                "spec.claimNames.kind: must differ from spec.names.kind (\"XPostgreSQLInstance\")",
            ),
            (
                "name not matching plural and group",
                |x| x.metadata.name = Some("postgres.database.crosstie.io".into()),
                "metadata.name: must be <spec.names.plural>.<spec.group> \
                 (\"xpostgresqlinstances.database.crosstie.io\"), got \"postgres.database.crosstie.io\"",
            ),
            (
                "claims on a Cluster-scoped XRD",
                |x| x.spec.scope = Some("Cluster".into()),
                "spec.claimNames: claims need scope LegacyCluster, not Cluster",
            ),
            (
                "group without a dot",
                |x| x.spec.group = "database".into(),
                "spec.group: \"database\" must be a DNS subdomain with a dot, e.g. example.org",
            ),
            (
                "schema that is not an object",
                |x| {
                    x.spec.versions[0].schema.as_mut().unwrap().open_api_v3_schema =
                        Some(json!({"type": "string"}))
                },
                "spec.versions[].schema.openAPIV3Schema: version \"v1alpha1\": type must be object, got \"string\"",
            ),
        ];
        for (reason, edit, want) in cases {
            let mut xrd = shipped();
            edit(&mut xrd);
            let err = crds_for(&xrd).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid CompositeResourceDefinition: {want}"),
                "{reason}"
            );
        }
    }
}
