use super::*;

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-01T00:01:00Z";
const T2: &str = "2026-01-01T00:02:00Z";

fn widget(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
           "metadata": {"name": "w", "namespace": "default"}, "spec": spec})
}

/// The live object after a create by the server: server metadata filled in.
fn stored(mut object: Value) -> Value {
    object["metadata"]["uid"] = json!("uid-1");
    object["metadata"]["resourceVersion"] = json!("1");
    object
}

fn entries(object: &Value) -> Vec<(String, String, Value)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap().to_owned(),
                        e["operation"].as_str().unwrap().to_owned(),
                        e["fieldsV1"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn owned(manager: &str, operation: &str, fields: Value) -> (String, String, Value) {
    (manager.to_owned(), operation.to_owned(), fields)
}

#[test]
fn apply_creates_with_an_apply_entry() {
    let created =
        apply(None, &widget(json!({"size": 1, "tags": ["a"]})), "kubectl", false, T0).unwrap();
    assert_eq!(created["spec"], json!({"size": 1, "tags": ["a"]}));
    assert_eq!(
        created["metadata"]["managedFields"],
        json!([{"manager": "kubectl", "operation": "Apply", "apiVersion": "example.com/v1",
                "time": T0, "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:size": {}, "f:tags": {}}}}]),
        "name and namespace are identity, not owned fields; CRD lists are atomic"
    );
}

#[test]
fn reapplying_identical_content_returns_the_identical_object() {
    let live = stored(apply(None, &widget(json!({"size": 1})), "kubectl", false, T0).unwrap());
    let again = apply(Some(&live), &widget(json!({"size": 1})), "kubectl", false, T1).unwrap();
    assert_eq!(again, live, "no managedFields time churn when nothing changed");
}

#[test]
fn apply_scenarios() {
    struct Case {
        reason: &'static str,
        /// The live spec before any write.
        initial: Value,
        /// Writes before the apply under test: (manager, spec fields, true = apply, false = update).
        history: Vec<(&'static str, Value, bool)>,
        applied: Value,
        force: bool,
        spec: Result<Value, &'static str>,
        managed: Vec<(String, String, Value)>,
    }
    let cases = vec![
        Case {
            reason: "a field the applier owned and now omits is removed",
            initial: json!({}),
            history: vec![("kubectl", json!({"size": 1, "color": "red"}), true)],
            applied: widget(json!({"size": 1})),
            force: false,
            spec: Ok(json!({"size": 1})),
            managed: vec![owned("kubectl", "Apply", json!({"f:spec": {"f:size": {}}}))],
        },
        Case {
            reason: "an omitted field another manager also owns stays",
            initial: json!({}),
            history: vec![
                ("kubectl", json!({"size": 1, "color": "red"}), true),
                ("other", json!({"color": "red"}), true),
            ],
            applied: widget(json!({"size": 1})),
            force: false,
            spec: Ok(json!({"size": 1, "color": "red"})),
            managed: vec![
                owned("kubectl", "Apply", json!({"f:spec": {"f:size": {}}})),
                owned("other", "Apply", json!({"f:spec": {"f:color": {}}})),
            ],
        },
        Case {
            reason: "a field another manager changed conflicts when applied with a different value",
            initial: json!({}),
            history: vec![
                ("kubectl", json!({"size": 1}), true),
                ("ctrl", json!({"size": 2}), false),
            ],
            applied: widget(json!({"size": 3})),
            force: false,
            spec: Err(
                r#"Apply failed with 1 conflict: conflict with "ctrl" using example.com/v1: .spec.size"#,
            ),
            managed: vec![],
        },
        Case {
            reason: "the same value is no conflict: ownership is shared",
            initial: json!({}),
            history: vec![("ctrl", json!({"size": 2}), false)],
            applied: widget(json!({"size": 2})),
            force: false,
            spec: Ok(json!({"size": 2})),
            managed: vec![
                owned("ctrl", "Update", json!({"f:spec": {"f:size": {}}})),
                owned("kubectl", "Apply", json!({"f:spec": {"f:size": {}}})),
            ],
        },
        Case {
            reason: "force takes the value and the ownership",
            initial: json!({}),
            history: vec![("ctrl", json!({"size": 2, "color": "red"}), false)],
            applied: widget(json!({"size": 3})),
            force: true,
            spec: Ok(json!({"size": 3, "color": "red"})),
            managed: vec![
                owned("ctrl", "Update", json!({"f:spec": {"f:color": {}}})),
                owned("kubectl", "Apply", json!({"f:spec": {"f:size": {}}})),
            ],
        },
        Case {
            reason: "fields nobody owns are neither removed nor conflicting",
            initial: json!({"legacy": true}),
            history: vec![],
            applied: widget(json!({"size": 5})),
            force: false,
            spec: Ok(json!({"size": 5, "legacy": true})),
            managed: vec![owned("kubectl", "Apply", json!({"f:spec": {"f:size": {}}}))],
        },
    ];
    for case in cases {
        let mut live = stored(widget(case.initial));
        for (manager, spec, is_apply) in &case.history {
            live = if *is_apply {
                apply(Some(&live), &widget(spec.clone()), manager, false, T0).unwrap()
            } else {
                let mut next = live.clone();
                let map = next["spec"].as_object_mut().unwrap();
                for (k, v) in spec.as_object().unwrap() {
                    map.insert(k.clone(), v.clone());
                }
                record_update(Some(&live), &mut next, manager, None, T0);
                next
            };
        }
        let got = apply(Some(&live), &case.applied, "kubectl", case.force, T1);
        match (got, case.spec) {
            (Ok(object), Ok(spec)) => {
                assert_eq!(object["spec"], spec, "{}", case.reason);
                let mut managed = entries(&object);
                managed.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(managed, case.managed, "{}", case.reason);
                assert_eq!(
                    object["metadata"]["uid"], "uid-1",
                    "{}: server metadata stays",
                    case.reason
                );
            }
            (Err(error), Err(message)) => assert_eq!(error.to_string(), message, "{}", case.reason),
            (got, expected) => panic!("{}: got {got:?}, expected {expected:?}", case.reason),
        }
    }
}

#[test]
fn builtin_lists_merge_by_key_so_controllers_and_appliers_share_them() {
    let deployment = |containers: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"template": {"spec": {"containers": containers}}}})
    };
    let live =
        apply(None, &deployment(json!([{"name": "app", "image": "app:1"}])), "kubectl", false, T0)
            .unwrap();
    let mut injected = live.clone();
    injected["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "side:1"}));
    record_update(Some(&live), &mut injected, "injector", None, T1);

    let updated = apply(
        Some(&injected),
        &deployment(json!([{"name": "app", "image": "app:2"}])),
        "kubectl",
        false,
        T2,
    )
    .unwrap();
    assert_eq!(
        updated["spec"]["template"]["spec"]["containers"],
        json!([{"name": "app", "image": "app:2"}, {"name": "sidecar", "image": "side:1"}]),
        "the injected sidecar survives the apply; the applied container is updated"
    );
    let managed = entries(&updated);
    assert_eq!(
        managed[0].2["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {}}})
    );
    assert_eq!(
        managed[1].2["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"sidecar\"}": {".": {}, "f:name": {}, "f:image": {}}})
    );

    let conflict = apply(
        Some(&injected),
        &deployment(json!([{"name": "sidecar", "image": "side:9"}])),
        "kubectl",
        false,
        T2,
    );
    assert_eq!(
        conflict.unwrap_err().to_string(),
        r#"Apply failed with 1 conflict: conflict with "injector" using apps/v1: .spec.template.spec.containers[name="sidecar"].image"#
    );
}

#[test]
fn status_applies_are_recorded_against_the_subresource() {
    let live = stored(apply(None, &widget(json!({"size": 1})), "kubectl", false, T0).unwrap());
    let status = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                        "status": {"ready": true}});
    let options = Options { subresource: Some("status"), force: true, ..Options::default() };
    let updated = apply_with(Some(&live), &status, "ctrl", T1, options).unwrap();
    assert_eq!(updated["spec"], json!({"size": 1}), "a status apply does not remove spec fields");
    assert_eq!(updated["status"], json!({"ready": true}));
    let managed = &updated["metadata"]["managedFields"];
    assert_eq!(managed[1]["subresource"], "status");
    assert_eq!(managed[1]["fieldsV1"], json!({"f:status": {"f:ready": {}}}));
    let again = apply_with(Some(&updated), &status, "ctrl", T2, options).unwrap();
    assert_eq!(again, updated, "a controller re-applying the same status changes nothing");
}

#[test]
fn invalid_applied_configurations_are_refused() {
    let cases = [
        ("no name", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})),
        ("no kind", json!({"apiVersion": "v1", "metadata": {"name": "x"}})),
        ("not an object", json!([1])),
        (
            "managedFields set",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "managedFields": [{"manager": "m"}]}}),
        ),
    ];
    for (reason, applied) in cases {
        let got = apply(None, &applied, "kubectl", false, T0);
        assert!(matches!(got, Err(ApplyError::Invalid(_))), "{reason}: {got:?}");
    }
}

#[test]
fn update_ownership() {
    let created = {
        let mut object = widget(json!({"size": 1, "color": "red"}));
        record_update(None, &mut object, "creator", None, T0);
        object
    };
    assert_eq!(
        entries(&created),
        vec![owned("creator", "Update", json!({"f:spec": {"f:color": {}, "f:size": {}}}))],
        "a create owns every field it wrote"
    );

    let mut resized = created.clone();
    resized["spec"]["size"] = json!(2);
    record_update(Some(&created), &mut resized, "scaler", None, T1);
    assert_eq!(
        entries(&resized),
        vec![
            owned("creator", "Update", json!({"f:spec": {"f:color": {}}})),
            owned("scaler", "Update", json!({"f:spec": {"f:size": {}}})),
        ],
        "changing a field takes it from its previous owner"
    );

    let mut same = resized.clone();
    record_update(Some(&resized), &mut same, "someone", None, T2);
    assert_eq!(same, resized, "a write that changes nothing leaves managedFields, times included");

    let mut uncolored = resized.clone();
    uncolored["spec"].as_object_mut().unwrap().remove("color");
    record_update(Some(&resized), &mut uncolored, "scaler", None, T2);
    assert_eq!(
        entries(&uncolored),
        vec![owned("scaler", "Update", json!({"f:spec": {"f:size": {}}}))],
        "a removed field leaves every set, and empty entries disappear"
    );

    let mut cleared = resized.clone();
    cleared["metadata"]["managedFields"] = json!([{}]);
    record_update(Some(&resized), &mut cleared, "admin", None, T2);
    assert!(cleared["metadata"].get("managedFields").is_none(), "[{{}}] clears managedFields");

    let mut status = resized.clone();
    status["status"] = json!({"ready": true});
    record_update(Some(&resized), &mut status, "ctrl", Some("status"), T2);
    let last = status["metadata"]["managedFields"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["subresource"], "status");
    assert_eq!(last["time"], T2);
    assert_eq!(last["fieldsV1"], json!({"f:status": {"f:ready": {}}}));
}

#[test]
fn conflict_messages_name_owners_like_kube_apiserver() {
    let conflict =
        |manager: &str, field: &str, operation: &str, subresource: Option<&str>| Conflict {
            manager: manager.into(),
            field: field.into(),
            operation: operation.into(),
            api_version: "apps/v1".into(),
            subresource: subresource.map(Into::into),
        };
    let cases = [
        (
            "one conflict with an applier",
            vec![conflict("ctrl", ".spec.x", "Apply", None)],
            r#"Apply failed with 1 conflict: conflict with "ctrl": .spec.x"#,
        ),
        (
            "an updater is named with its API version",
            vec![conflict("kubectl-client-side-apply", ".spec.replicas", "Update", None)],
            r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#,
        ),
        (
            "several conflicts are grouped by owner, one line each",
            vec![
                conflict("b", ".spec.z", "Apply", None),
                conflict("a", ".spec.x", "Apply", Some("status")),
                conflict("a", ".spec.y", "Apply", Some("status")),
            ],
            "Apply failed with 3 conflicts: conflicts with \"a\" with subresource \"status\":\n- .spec.x\n- .spec.y\nconflicts with \"b\":\n- .spec.z",
        ),
    ];
    for (reason, conflicts, message) in cases {
        assert_eq!(ApplyError::Conflicts(conflicts).to_string(), message, "{reason}");
    }
    assert_eq!(
        conflict("ctrl", ".spec.x", "Update", None).cause_message(),
        r#"conflict with "ctrl" using apps/v1"#
    );
}

#[test]
fn crd_map_lists_marked_in_the_schema_are_shared_item_by_item() {
    let schema = json!({"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "status": {"type": "object", "properties": {"conditions": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
            "items": {"type": "object", "properties": {"type": {"type": "string"}, "status": {"type": "string"}}}}}}}});
    let status = |conditions: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "status": {"conditions": conditions}})
    };
    let with_schema = |force| Options {
        subresource: Some("status"),
        force,
        schema: Some(&schema),
        ..Options::default()
    };
    let live = stored(widget(json!({})));
    let synced = apply_with(
        Some(&live),
        &status(json!([{"type": "Synced", "status": "True"}])),
        "syncer",
        T0,
        with_schema(false),
    )
    .unwrap();
    let ready = apply_with(
        Some(&synced),
        &status(json!([{"type": "Ready", "status": "False"}])),
        "readier",
        T1,
        with_schema(false),
    )
    .unwrap();
    assert_eq!(
        ready["status"]["conditions"],
        json!([{"type": "Synced", "status": "True"}, {"type": "Ready", "status": "False"}]),
        "each manager owns its own condition"
    );
    let conflict = apply_with(
        Some(&ready),
        &status(json!([{"type": "Synced", "status": "False"}])),
        "readier",
        T2,
        with_schema(false),
    );
    assert_eq!(
        conflict.unwrap_err().to_string(),
        r#"Apply failed with 1 conflict: conflict with "syncer" with subresource "status": .status.conditions[type="Synced"].status"#
    );
    let atomic = apply_with(
        Some(&synced),
        &status(json!([{"type": "Ready", "status": "False"}])),
        "readier",
        T1,
        Options { schema: None, ..with_schema(true) },
    )
    .unwrap();
    assert_eq!(
        atomic["status"]["conditions"],
        json!([{"type": "Ready", "status": "False"}]),
        "without the schema the list is atomic and a forced apply replaces it"
    );
}

#[test]
fn each_endpoint_applies_only_what_it_writes() {
    let live = stored(apply(None, &widget(json!({"size": 1})), "ctrl", false, T0).unwrap());
    let mut both = widget(json!({"size": 1}));
    both["status"] = json!({"ready": true});
    both["metadata"]["labels"] = json!({"x": "y"});
    let status = apply_with(
        Some(&live),
        &both,
        "ctrl",
        T1,
        Options { subresource: Some("status"), ..Options::default() },
    )
    .unwrap();
    assert_eq!(status["status"], json!({"ready": true}));
    assert!(status["metadata"].get("labels").is_none(), "/status writes ignore metadata changes");
    assert_eq!(
        status["spec"],
        json!({"size": 1}),
        "the same manager's spec survives its status apply"
    );

    let main = apply_with(
        Some(&status),
        &widget(json!({"size": 2})),
        "ctrl",
        T2,
        Options { status_subresource: true, ..Options::default() },
    )
    .unwrap();
    assert_eq!(main["spec"], json!({"size": 2}));
    assert_eq!(
        main["status"],
        json!({"ready": true}),
        "the main apply leaves the status apply's fields alone"
    );

    let mut with_status = widget(json!({"size": 2}));
    with_status["status"] = json!({"ready": false});
    let ignored = apply_with(
        Some(&main),
        &with_status,
        "ctrl",
        T2,
        Options { status_subresource: true, ..Options::default() },
    )
    .unwrap();
    assert_eq!(ignored, main, "status sent to the main resource is ignored when /status exists");
}
