use super::builtin::PATCH_STRATEGIES;
use super::*;

fn rds_doc() -> ResourceDoc {
    ResourceDoc {
        group: "database.aws.crossplane.io".into(),
        version: "v1beta1".into(),
        kind: "RDSInstance".into(),
        plural: "rdsinstances".into(),
        namespaced: false,
        schema: json!({"type": "object", "description": "An RDSInstance is a managed AWS RDS instance.",
            "properties": {"spec": {"type": "object", "properties": {"forProvider": {"type": "object",
                "properties": {"engine": {"type": "string", "description": "Database engine."}}}}}}}),
    }
}

fn all_docs() -> Vec<ResourceDoc> {
    let mut docs = builtin_docs();
    docs.push(rds_doc());
    docs
}

/// Every `$ref` target, with the prefix it must carry.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

/// What kubectl's query-param verifier checks before sending `fieldValidation=Strict`.
fn patch_supports_field_validation(
    document: &Value,
    group: &str,
    version: &str,
    kind: &str,
) -> bool {
    let gvk = json!({"group": group, "version": version, "kind": kind});
    document["paths"].as_object().unwrap().values().any(|path| {
        path.get("patch").is_some_and(|op| {
            op["x-kubernetes-group-version-kind"] == gvk
                && op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
        })
    })
}

#[test]
fn every_served_built_in_kind_has_a_schema() {
    let docs = builtin_docs();
    for rt in crate::apiserver::registry::builtins() {
        assert!(
            docs.iter().any(|d| d.group == rt.group && d.kind == rt.kind),
            "{}/{} has no schema: kubectl cannot validate or explain it",
            rt.group,
            rt.kind
        );
    }
}

#[test]
fn builtin_docs_describe_the_served_kinds() {
    let docs = builtin_docs();
    let cases = [
        ("", "v1", "ConfigMap", "configmaps", true),
        ("", "v1", "Namespace", "namespaces", false),
        ("", "v1", "Event", "events", true),
        ("events.k8s.io", "v1", "Event", "events", true),
        ("apps", "v1", "Deployment", "deployments", true),
        ("coordination.k8s.io", "v1", "Lease", "leases", true),
        (
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
        ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
        ("batch", "v1", "CronJob", "cronjobs", true),
        ("networking.k8s.io", "v1", "Ingress", "ingresses", true),
    ];
    for (group, version, kind, plural, namespaced) in cases {
        let doc = docs
            .iter()
            .find(|d| d.group == group && d.kind == kind)
            .unwrap_or_else(|| panic!("{group}/{kind} is served"));
        assert_eq!(
            (doc.version.as_str(), doc.plural.as_str(), doc.namespaced),
            (version, plural, namespaced),
            "{group}/{kind}"
        );
        assert_eq!(doc.schema["type"], "object", "{kind} has an object schema");
        assert!(
            doc.schema["components"]["schemas"]
                .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
                .is_some(),
            "{kind} carries ObjectMeta"
        );
    }
}

#[test]
fn built_in_schemas_declare_the_patch_strategies_kubectl_needs() {
    let docs = builtin_docs();
    let deployment =
        &docs.iter().find(|d| d.kind == "Deployment").unwrap().schema["components"]["schemas"];
    let cases = [
        ("io.k8s.api.core.v1.PodSpec", "containers", Some("name"), "merge"),
        ("io.k8s.api.core.v1.Container", "env", Some("name"), "merge"),
        ("io.k8s.api.core.v1.Container", "ports", Some("containerPort"), "merge"),
        ("io.k8s.api.core.v1.PodSpec", "volumes", Some("name"), "merge,retainKeys"),
        ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", None, "merge"),
        ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", Some("type"), "merge"),
    ];
    for (definition, property, key, strategy) in cases {
        let schema = &deployment[definition]["properties"][property];
        assert_eq!(schema["x-kubernetes-patch-strategy"], strategy, "{definition}.{property}");
        assert_eq!(
            schema.get("x-kubernetes-patch-merge-key").and_then(Value::as_str),
            key,
            "{definition}.{property}"
        );
    }
    let service =
        &docs.iter().find(|d| d.kind == "Service").unwrap().schema["components"]["schemas"];
    assert_eq!(
        service["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]["x-kubernetes-patch-merge-key"],
        "port"
    );
    for (definition, property, ..) in PATCH_STRATEGIES {
        let found = docs.iter().any(|d| {
            let schema = if definition_name(d) == *definition {
                &d.schema
            } else {
                &d.schema["components"]["schemas"][*definition]
            };
            schema["properties"][*property].get("x-kubernetes-patch-strategy").is_some()
        });
        assert!(found, "{definition}.{property} is annotated in some built-in schema");
    }
}

#[test]
fn definition_names_follow_kube_apiserver() {
    let docs = builtin_docs();
    let name_of = |group: &str, kind: &str| {
        definition_name(docs.iter().find(|d| d.group == group && d.kind == kind).unwrap())
    };
    assert_eq!(name_of("", "ConfigMap"), "io.k8s.api.core.v1.ConfigMap");
    assert_eq!(name_of("apps", "Deployment"), "io.k8s.api.apps.v1.Deployment");
    assert_eq!(name_of("rbac.authorization.k8s.io", "Role"), "io.k8s.api.rbac.v1.Role");
    assert_eq!(name_of("events.k8s.io", "Event"), "io.k8s.api.events.v1.Event");
    assert_eq!(
        name_of("apiextensions.k8s.io", "CustomResourceDefinition"),
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    );
    assert_eq!(definition_name(&rds_doc()), "io.crossplane.aws.database.v1beta1.RDSInstance");
}

#[test]
fn the_v3_index_lists_every_group_version_with_a_hashed_url() {
    let index = v3_index(&all_docs());
    let paths = index["paths"].as_object().unwrap();
    for path in [
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/database.aws.crossplane.io/v1beta1",
        "apis/apiextensions.k8s.io/v1",
    ] {
        let url =
            paths[path]["serverRelativeURL"].as_str().unwrap_or_else(|| panic!("{path} is listed"));
        assert!(url.starts_with(&format!("/openapi/v3/{path}?hash=")), "{url}");
    }
    let mut changed = all_docs();
    changed.last_mut().unwrap().schema["description"] = json!("changed");
    let changed = v3_index(&changed);
    let crd = "apis/database.aws.crossplane.io/v1beta1";
    assert_ne!(changed["paths"][crd], index["paths"][crd], "a schema change changes the hash");
    assert_eq!(
        changed["paths"]["api/v1"], index["paths"]["api/v1"],
        "other group-versions keep theirs"
    );
}

#[test]
fn group_version_documents_support_strict_validation_and_explain() {
    let docs = all_docs();
    let cases = [
        (
            "database.aws.crossplane.io",
            "v1beta1",
            "RDSInstance",
            "io.crossplane.aws.database.v1beta1.RDSInstance",
        ),
        ("", "v1", "ConfigMap", "io.k8s.api.core.v1.ConfigMap"),
        ("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
    ];
    for (group, version, kind, name) in cases {
        let document = v3_group_version(&docs, group, version)
            .unwrap_or_else(|| panic!("{group}/{version} has a document"));
        assert_eq!(document["openapi"], "3.0.0");
        assert!(
            patch_supports_field_validation(&document, group, version, kind),
            "{kind}: PATCH declares fieldValidation"
        );
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas[name]["x-kubernetes-group-version-kind"],
            json!([{"group": group, "version": version, "kind": kind}]),
            "{kind}: explain finds the schema by GVK"
        );
        let mut targets = Vec::new();
        refs(&document, &mut targets);
        assert!(!targets.is_empty(), "{kind}: the document uses references");
        for target in targets {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{kind}: {target} is a v3 reference"));
            assert!(schemas.get(name).is_some(), "{kind}: {target} resolves in the document");
        }
    }
    let rds = v3_group_version(&docs, "database.aws.crossplane.io", "v1beta1").unwrap();
    let schema = &rds["components"]["schemas"]["io.crossplane.aws.database.v1beta1.RDSInstance"];
    assert_eq!(
        schema["properties"]["spec"]["properties"]["forProvider"]["properties"]["engine"]["description"],
        "Database engine."
    );
    assert_eq!(
        schema["properties"]["kind"]["type"], "string",
        "kind is published as kube-apiserver does"
    );
    assert!(
        rds["paths"].get("/apis/database.aws.crossplane.io/v1beta1/rdsinstances/{name}").is_some(),
        "cluster-scoped item path"
    );
    let configmaps = v3_group_version(&docs, "", "v1").unwrap();
    assert!(
        configmaps["paths"].get("/api/v1/namespaces/{namespace}/configmaps/{name}").is_some(),
        "namespaced item path"
    );
    assert!(configmaps["paths"].get("/api/v1/configmaps").is_some(), "list across namespaces");
    let patch = &configmaps["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
    assert!(
        patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_some(),
        "built-ins take SMP"
    );
    let crd_patch =
        &rds["paths"]["/apis/database.aws.crossplane.io/v1beta1/rdsinstances/{name}"]["patch"];
    assert!(
        crd_patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_none(),
        "custom resources do not"
    );
}

#[test]
fn built_in_schemas_validate_through_their_references() {
    let docs = builtin_docs();
    let schema = &docs.iter().find(|d| d.group == "apps" && d.kind == "Deployment").unwrap().schema;
    let mut valid = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}});
    let mut validated = valid.clone();
    assert_eq!(crate::apiserver::schema::validate(schema, &mut validated, None), Ok(()));
    assert_eq!(
        validated, valid,
        "validation through references prunes nothing from a valid object"
    );
    valid["spec"]["replicas"] = json!("two");
    let errors = crate::apiserver::schema::validate(schema, &mut valid, None).unwrap_err();
    assert_eq!(errors[0].field, "spec.replicas", "types are checked through references");
}

#[test]
fn a_crd_version_without_a_schema_is_published_as_open() {
    let mut doc = rds_doc();
    doc.schema = Value::Null;
    let document = v3_group_version(&[doc], "database.aws.crossplane.io", "v1beta1").unwrap();
    let schema =
        &document["components"]["schemas"]["io.crossplane.aws.database.v1beta1.RDSInstance"];
    assert_eq!(schema["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(
        schema["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
}

#[test]
fn group_versions_nobody_serves_have_no_document() {
    assert_eq!(v3_group_version(&all_docs(), "nothing.example.com", "v1"), None);
    assert_eq!(v3_group_version(&all_docs(), "apps", "v1beta1"), None);
}

#[test]
fn v2_is_one_swagger_document_with_definitions() {
    let document = v2(&all_docs());
    assert_eq!(document["swagger"], "2.0");
    let definitions = &document["definitions"];
    for name in [
        "io.k8s.api.core.v1.ConfigMap",
        "io.k8s.api.apps.v1.Deployment",
        "io.crossplane.aws.database.v1beta1.RDSInstance",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    ] {
        assert!(definitions.get(name).is_some(), "{name} is defined");
    }
    assert_eq!(
        definitions["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
    );
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    for target in targets {
        let name = target
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("{target} is a v2 reference"));
        assert!(definitions.get(name).is_some(), "{target} resolves");
    }
    let patch =
        &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert!(
        patch["consumes"]
            .as_array()
            .unwrap()
            .contains(&json!("application/strategic-merge-patch+json"))
    );
    assert_eq!(patch["parameters"][0]["in"], "body");
}
