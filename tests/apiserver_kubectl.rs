//! kubectl 1.37 (and 1.32 for the core flow) against a real `crosstie serve`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use support::serve::{Serve, expect_ok};

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org
spec:
  group: example.org
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg], categories: [managed]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}, scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.size}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, description: How big the widget is.}
              color: {type: string, enum: [red, blue]}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties: {name: {type: string}, port: {type: integer}}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"#;

fn widget(name: &str, size: u32, labels: &str) -> String {
    format!(
        "apiVersion: example.org/v1\nkind: Widget\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  size: {size}\n  color: red\n"
    )
}

/// A server with the Widget CRD applied and established.
fn serve_with_widgets() -> Serve {
    let serve = Serve::start();
    serve.ok(&["apply", "-f", "-"], Some(WIDGET_CRD));
    serve.ok(
        &["wait", "--for", "condition=Established", "crd/widgets.example.org", "--timeout=30s"],
        None,
    );
    serve
}

#[test]
fn kubectl_applies_a_crd_waits_for_it_and_gets_its_objects_as_tables_and_yaml() {
    let serve = serve_with_widgets();
    let out = serve.ok(&["apply", "-f", "-"], Some(&widget("small", 2, "app: shop")));
    assert!(out.contains("widget.example.org/small created"), "{out}");

    let table = serve.ok(&["get", "widgets"], None);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SIZE", "COLOR"], "{table}");
    assert!(
        table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["small", "2", "red"]),
        "{table}"
    );

    let yaml = serve.ok(&["get", "wg", "small", "-o", "yaml"], None);
    for expected in [
        "kind: Widget",
        "name: small",
        "uid:",
        "resourceVersion:",
        "generation: 1",
        "creationTimestamp:",
    ] {
        assert!(yaml.contains(expected), "missing {expected:?} in\n{yaml}");
    }
    // Categories and short names resolve through discovery.
    assert!(serve.ok(&["get", "managed"], None).contains("small"));

    // Re-applying the same manifest changes nothing; a changed spec bumps the generation.
    assert!(
        serve
            .ok(&["apply", "-f", "-"], Some(&widget("small", 2, "app: shop")))
            .contains("unchanged")
    );
    serve.ok(&["apply", "-f", "-"], Some(&widget("small", 5, "app: shop")));
    let out = serve.ok(
        &["get", "widget", "small", "-o", "jsonpath={.spec.size} {.metadata.generation}"],
        None,
    );
    assert_eq!(out, "5 2");
}

#[test]
fn kubectl_132_runs_the_core_flow_too() {
    let Some(old) = support::tools::kubectl_132() else {
        panic!("kubectl 1.32 is expected at /usr/bin/kubectl on this image");
    };
    let serve = Serve::start();
    expect_ok(&serve.run(&old, &["apply", "-f", "-"], Some(WIDGET_CRD)), &["apply"]);
    let wait =
        ["wait", "--for", "condition=Established", "crd/widgets.example.org", "--timeout=30s"];
    expect_ok(&serve.run(&old, &wait, None), &wait);
    expect_ok(
        &serve.run(&old, &["apply", "-f", "-"], Some(&widget("old", 1, "v: \"132\""))),
        &["apply"],
    );
    let out = expect_ok(&serve.run(&old, &["get", "widgets", "-l", "v=132"], None), &["get"]);
    assert!(out.contains("old"), "{out}");
    let out = expect_ok(&serve.run(&old, &["delete", "widget", "old"], None), &["delete"]);
    assert!(out.contains("deleted"), "{out}");
}

#[test]
fn get_sorts_by_any_field_of_the_objects() {
    let serve = serve_with_widgets();
    for (name, size) in [("b-mid", 5), ("a-big", 9), ("c-small", 1)] {
        serve.ok(&["apply", "-f", "-"], Some(&widget(name, size, "")));
    }
    // kubectl asks for a Table with whole objects (includeObject=Object) to sort by spec.size.
    let out = serve.ok(&["get", "widgets", "--sort-by=.spec.size", "--no-headers"], None);
    let names: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, ["c-small", "b-mid", "a-big"]);
}

#[test]
fn label_selectors_filter_lists() {
    let serve = serve_with_widgets();
    for (name, labels) in
        [("a", "tier: front, env: prod"), ("b", "tier: back, env: prod"), ("c", "tier: front")]
    {
        serve.ok(&["apply", "-f", "-"], Some(&widget(name, 1, labels)));
    }
    let names = |selector: &str| {
        let out = serve.ok(
            &["get", "widgets", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}"],
            None,
        );
        out.split_whitespace().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(names("tier=front"), ["a", "c"]);
    assert_eq!(names("tier!=front"), ["b"]);
    assert_eq!(names("tier in (back),env=prod"), ["b"]);
    assert_eq!(names("tier notin (back)"), ["a", "c"]);
    assert_eq!(names("env"), ["a", "b"]);
    assert_eq!(names("!env"), ["c"]);
}

#[test]
fn merge_and_json_patches_change_objects() {
    let serve = serve_with_widgets();
    serve.ok(&["apply", "-f", "-"], Some(&widget("p", 1, "")));
    serve.ok(
        &[
            "patch",
            "widget",
            "p",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"size":7},"metadata":{"labels":{"x":"y"}}}"#,
        ],
        None,
    );
    serve.ok(
        &[
            "patch",
            "widget",
            "p",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/color","value":"blue"}]"#,
        ],
        None,
    );
    let out = serve.ok(
        &["get", "widget", "p", "-o", "jsonpath={.spec.size} {.spec.color} {.metadata.labels.x}"],
        None,
    );
    assert_eq!(out, "7 blue y");
    // A failed `test` operation says why, not only that the object is invalid.
    let failing = r#"[{"op":"test","path":"/spec/color","value":"red"}]"#;
    let err = serve.fails(&["patch", "widget", "p", "--type", "json", "-p", failing], None);
    assert!(err.contains("patch:") && err.contains("/spec/color"), "{err}");
}

#[test]
fn get_watch_prints_changes_as_they_happen() {
    let serve = serve_with_widgets();
    serve.ok(&["apply", "-f", "-"], Some(&widget("watched", 1, "")));
    let mut watch = serve
        .command(&support::tools::kubectl())
        .args(["get", "widgets", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let (tx, rx) = mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(30)).expect("a watch line");
    assert!(next().starts_with("EVENT"), "header first");
    assert!(next().contains("watched"));
    serve.ok(
        &["patch", "widget", "watched", "--type", "merge", "-p", r#"{"spec":{"size":9}}"#],
        None,
    );
    let modified = next();
    assert!(modified.starts_with("MODIFIED") && modified.contains(" 9 "), "{modified}");
    serve.ok(&["apply", "-f", "-"], Some(&widget("second", 2, "")));
    assert!(next().starts_with("ADDED"));
    serve.ok(&["delete", "widget", "second"], None);
    assert!(next().starts_with("DELETED"));
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn an_object_with_a_finalizer_stays_until_the_finalizer_is_removed() {
    let serve = serve_with_widgets();
    let manifest = widget("held", 1, "")
        .replace("metadata:\n", "metadata:\n  finalizers: [example.org/hold]\n");
    serve.ok(&["apply", "-f", "-"], Some(&manifest));
    serve.ok(&["delete", "widget", "held", "--wait=false"], None);
    let out =
        serve.ok(&["get", "widget", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"], None);
    assert!(!out.is_empty(), "deletionTimestamp is set");
    let err = serve.fails(
        &[
            "patch",
            "widget",
            "held",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.org/hold","new"]}}"#,
        ],
        None,
    );
    assert!(err.contains("no new finalizers"), "{err}");
    serve.ok(
        &[
            "patch",
            "widget",
            "held",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
        None,
    );
    let err = serve.fails(&["get", "widget", "held"], None);
    assert!(err.contains("NotFound") || err.contains("not found"), "{err}");
}

#[test]
fn deleting_an_owner_deletes_its_dependents() {
    let serve = serve_with_widgets();
    serve.ok(&["apply", "-f", "-"], Some(&widget("owner", 1, "")));
    let uid = serve.ok(&["get", "widget", "owner", "-o", "jsonpath={.metadata.uid}"], None);
    let dependent = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  ownerReferences:\n  - {{apiVersion: example.org/v1, kind: Widget, name: owner, uid: {uid}, controller: true}}\ndata: {{k: v}}\n"
    );
    serve.ok(&["apply", "-f", "-"], Some(&dependent));
    serve.ok(&["delete", "widget", "owner"], None);
    support::tools::wait_for("the dependent to be collected", Duration::from_secs(30), || {
        let out = serve.kubectl(&["get", "configmap", "owned"], None);
        (!out.status.success()).then_some(())
    });
}

#[test]
fn a_schema_violation_is_refused_naming_the_field() {
    let serve = serve_with_widgets();
    let bad = widget("bad", 0, "").replace("color: red", "color: green");
    let err = serve.fails(&["apply", "--validate=false", "-f", "-"], Some(&bad));
    assert!(err.contains("spec.size"), "{err}");
    assert!(err.contains("spec.color"), "{err}");
    assert!(err.contains("is invalid"), "{err}");
    assert!(!serve.kubectl(&["get", "widget", "bad"], None).status.success(), "nothing is stored");
}

/// A platform team tightens a schema that objects already break (CRD validation ratcheting,
/// kube-apiserver 1.30+): writes that leave the offending value alone still work; a write
/// that changes it to another invalid value is refused naming the field.
#[test]
fn a_tightened_schema_still_accepts_writes_that_leave_old_values_alone() {
    let serve = serve_with_widgets();
    serve.ok(&["apply", "-f", "-"], Some(&widget("legacy", 40, "")));
    let tightened = WIDGET_CRD
        .replace("minimum: 1, description", "minimum: 1, maximum: 10, description")
        .replace("enum: [red, blue]", "enum: [blue, green]");
    serve.ok(&["apply", "-f", "-"], Some(&tightened));
    let err = serve.fails(&["apply", "-f", "-"], Some(&widget("fresh", 40, "")));
    assert!(err.contains("spec.size") && err.contains("spec.color"), "new objects: {err}");

    let status = ["patch", "widget", "legacy", "--subresource", "status", "--type", "merge"];
    serve.ok(&[&status[..], &["-p", r#"{"status":{"ready":true}}"#]].concat(), None);
    serve.ok(&["label", "widget", "legacy", "tier=gold"], None);
    let spec = ["patch", "widget", "legacy", "--type", "merge", "-p"];
    serve.ok(&[&spec[..], &[r#"{"spec":{"color":"blue"}}"#]].concat(), None);
    let err = serve.fails(&[&spec[..], &[r#"{"spec":{"size":41}}"#]].concat(), None);
    assert!(err.contains("spec.size") && !err.contains("spec.color"), "{err}");

    let out = serve.ok(
        &["get", "widget", "legacy", "-o", "jsonpath={.spec.size} {.spec.color} {.status.ready}"],
        None,
    );
    assert_eq!(out, "40 blue true", "the refused write changed nothing");
}

#[test]
fn client_side_apply_removes_a_field_dropped_from_the_manifest() {
    let serve = serve_with_widgets();
    serve.ok(&["apply", "-f", "-"], Some(&widget("trimmed", 3, "")));
    // kubectl sends the removal as `"color": null` in a merge patch, with strict validation.
    let without_color = widget("trimmed", 3, "").replace("  color: red\n", "");
    serve.ok(&["apply", "-f", "-"], Some(&without_color));
    let out = serve.ok(&["get", "widget", "trimmed", "-o", "jsonpath={.spec}"], None);
    assert_eq!(out, r#"{"size":3}"#);
}

#[test]
fn requests_without_the_token_are_unauthorized() {
    let serve = Serve::start();
    let kubeconfig = serve.kubeconfig_text();
    let token_line = kubeconfig.lines().find(|l| l.trim_start().starts_with("token:")).unwrap();
    let without = kubeconfig.replace(token_line, "    token: wrong");
    let path = serve.kubeconfig.with_file_name("bad-kubeconfig");
    std::fs::write(&path, without).unwrap();
    let out = serve
        .command(&support::tools::kubectl())
        .env("KUBECONFIG", &path)
        .args(["get", "namespaces"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Unauthorized") || err.contains("must be logged in"), "{err}");
}

#[test]
fn kubectl_explain_describes_crd_fields() {
    let serve = serve_with_widgets();
    let out = serve.ok(&["explain", "widgets.spec.size"], None);
    assert!(out.contains("How big the widget is."), "{out}");
    assert!(out.contains("integer"), "{out}");
}

#[test]
fn server_side_apply_reports_conflicts_naming_manager_and_field_until_forced() {
    let serve = serve_with_widgets();
    let out = serve.ok(
        &["apply", "--server-side", "--field-manager", "alice", "-f", "-"],
        Some(&widget("ssa", 1, "")),
    );
    assert!(out.contains("serverside-applied"), "{out}");
    let err = serve.fails(
        &["apply", "--server-side", "--field-manager", "bob", "-f", "-"],
        Some(&widget("ssa", 3, "")),
    );
    assert!(err.contains("conflict"), "{err}");
    assert!(err.contains("alice"), "{err}");
    assert!(err.contains(".spec.size"), "{err}");
    assert_eq!(serve.ok(&["get", "widget", "ssa", "-o", "jsonpath={.spec.size}"], None), "1");

    let forced =
        ["apply", "--server-side", "--field-manager", "bob", "--force-conflicts", "-f", "-"];
    serve.ok(&forced, Some(&widget("ssa", 3, "")));
    let out = serve.ok(
        &[
            "get",
            "widget",
            "ssa",
            "-o",
            "jsonpath={.spec.size} {.metadata.managedFields[*].manager}",
        ],
        None,
    );
    assert!(out.starts_with("3 "), "{out}");
    assert!(out.contains("bob"), "{out}");
}

#[test]
fn server_side_apply_merges_a_crd_list_keyed_by_its_map_keys() {
    let serve = serve_with_widgets();
    let with_port = |name: &str, port: u16| {
        format!("{}  ports: [{{name: {name}, port: {port}}}]\n", widget("gateway", 2, ""))
    };
    let apply = |manager: &str, body: &str| {
        serve.ok(&["apply", "--server-side", "--field-manager", manager, "-f", "-"], Some(body))
    };
    apply("web-team", &with_port("http", 80));
    // Another manager's item of the same list is not a conflict: the list merges by name.
    apply("tls-team", &with_port("https", 443).replace("  color: red\n", ""));
    let ports = "jsonpath={range .spec.ports[*]}{.name}={.port} {end}";
    assert_eq!(serve.ok(&["get", "widget", "gateway", "-o", ports], None), "http=80 https=443 ");
    // A manager that stops applying its item removes only that item.
    apply("web-team", &widget("gateway", 2, ""));
    assert_eq!(serve.ok(&["get", "widget", "gateway", "-o", ports], None), "https=443 ");
}

#[test]
fn moving_from_client_side_to_server_side_apply_removes_fields_no_longer_applied() {
    let serve = Serve::start();
    let config = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: migrated\ndata: {{{data}}}\n")
    };
    serve.ok(&["apply", "-f", "-"], Some(&config("a: '1', b: '2'")));
    serve.ok(&["apply", "--server-side", "-f", "-"], Some(&config("a: '1'")));
    let data = serve.ok(&["get", "configmap", "migrated", "-o", "jsonpath={.data}"], None);
    assert_eq!(data, r#"{"a":"1"}"#);
    let managers = serve.ok(
        &[
            "get",
            "configmap",
            "migrated",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ],
        None,
    );
    assert!(!managers.contains("kubectl-client-side-apply"), "taken over by kubectl: {managers}");
}

#[test]
fn strict_field_validation_refuses_unknown_fields() {
    let serve = serve_with_widgets();
    let unknown = widget("strict", 1, "").replace("color: red", "colour: red");
    let err = serve.fails(&["apply", "--validate=strict", "-f", "-"], Some(&unknown));
    assert!(err.contains("unknown field") && err.contains("spec.colour"), "{err}");
    // Without strict validation the unknown field is pruned.
    serve.ok(&["apply", "--validate=false", "-f", "-"], Some(&unknown));
    let spec = serve.ok(&["get", "widget", "strict", "-o", "jsonpath={.spec}"], None);
    assert_eq!(spec, r#"{"size":1}"#);
}

#[test]
fn built_in_objects_of_the_wrong_shape_are_refused_naming_the_field() {
    let serve = Serve::start();
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  \
        selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    \
        spec: {containers: [{name: web, image: nginx}]}\n";
    serve.ok(&["apply", "-f", "-"], Some(deployment));
    let patch = ["patch", "deployment", "web", "--type", "merge", "-p"];
    let err = serve.fails(&[&patch[..], &[r#"{"spec":{"replicas":"three"}}"#]].concat(), None);
    assert!(err.contains("spec.replicas") && err.contains("invalid type"), "{err}");
    let typo = deployment.replace("spec:\n  selector", "spec:\n  replica: 3\n  selector");
    let err = serve.fails(&["apply", "-f", "-"], Some(&typo));
    assert!(err.contains(r#"unknown field "spec.replica""#), "{err}");
    let numbers = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ports}\ndata: {port: 8080}\n";
    let err = serve.fails(&["apply", "-f", "-"], Some(numbers));
    assert!(err.contains("data.port"), "{err}");
    let err = serve.fails(&["label", "deployment", "web", "bad key=v"], None);
    assert!(err.contains("metadata.labels"), "{err}");
    let err = serve.fails(&["annotate", "deployment", "web", "x<script>=1"], None);
    assert!(err.contains("metadata.annotations"), "{err}");
    // What was refused changed nothing, and typed clients can still read every object.
    serve.ok(&["describe", "deployment", "web"], None);
    serve.fails(&["get", "configmap", "ports"], None);
}

#[test]
fn an_immutable_config_map_keeps_its_data() {
    let serve = Serve::start();
    let frozen = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\ndata: {a: '1'}\nimmutable: true\n";
    serve.ok(&["apply", "-f", "-"], Some(frozen));
    let err = serve.fails(&["apply", "-f", "-"], Some(&frozen.replace("'1'", "'2'")));
    assert!(err.contains("field is immutable when `immutable` is set"), "{err}");
    let patch = ["patch", "configmap", "frozen", "--type", "merge", "-p"];
    serve.fails(&[&patch[..], &[r#"{"immutable":false}"#]].concat(), None);
    serve.ok(&["label", "configmap", "frozen", "tier=gold"], None);
    let out = serve.ok(&["get", "configmap", "frozen", "-o", "jsonpath={.data.a}"], None);
    assert_eq!(out, "1");
}

#[test]
fn kubectl_scale_sets_the_replicas_of_a_deployment_and_of_a_custom_resource() {
    let serve = serve_with_widgets();
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  \
        selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    \
        spec: {containers: [{name: api, image: nginx}]}\n";
    serve.ok(&["apply", "-f", "-"], Some(deployment));
    serve.ok(&["scale", "deployment", "api", "--replicas=4"], None);
    let replicas = serve.ok(&["get", "deployment", "api", "-o", "jsonpath={.spec.replicas}"], None);
    assert_eq!(replicas, "4");
    // A stale --current-replicas is a failed precondition, not a write.
    serve.fails(&["scale", "deployment", "api", "--current-replicas=9", "--replicas=1"], None);

    serve.ok(&["apply", "-f", "-"], Some(&widget("pool", 2, "")));
    serve.ok(&["scale", "widget", "pool", "--replicas=7"], None);
    let size = serve.ok(&["get", "widget", "pool", "-o", "jsonpath={.spec.size}"], None);
    assert_eq!(size, "7");
    let scale = serve
        .ok(&["get", "--raw", "/apis/example.org/v1/namespaces/default/widgets/pool/scale"], None);
    assert!(scale.contains(r#""kind":"Scale""#) && scale.contains(r#""replicas":7"#), "{scale}");
    let err = serve.fails(&["scale", "configmap", "x", "--replicas=1"], None);
    assert!(!err.is_empty());
}

#[test]
fn status_writes_and_spec_writes_do_not_touch_each_other() {
    let serve = serve_with_widgets();
    serve.ok(&["apply", "-f", "-"], Some(&widget("s", 1, "")));
    let status = ["patch", "widget", "s", "--subresource", "status", "--type", "merge", "-p"];
    serve.ok(&[&status[..], &[r#"{"status":{"ready":true},"spec":{"size":9}}"#]].concat(), None);
    let out = serve.ok(
        &[
            "get",
            "widget",
            "s",
            "-o",
            "jsonpath={.spec.size} {.status.ready} {.metadata.generation}",
        ],
        None,
    );
    assert_eq!(out, "1 true 1", "a status write ignores spec and keeps the generation");
    serve.ok(
        &[
            "patch",
            "widget",
            "s",
            "--type",
            "merge",
            "-p",
            r#"{"status":{"ready":false},"spec":{"size":2}}"#,
        ],
        None,
    );
    let out = serve.ok(
        &[
            "get",
            "widget",
            "s",
            "-o",
            "jsonpath={.spec.size} {.status.ready} {.metadata.generation}",
        ],
        None,
    );
    assert_eq!(out, "2 true 2", "a main write ignores status and bumps the generation");
}

#[test]
fn deleting_a_namespace_deletes_its_contents_first() {
    let serve = Serve::start();
    let contents = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\n\
        apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: team}\ndata: {k: v}\n---\n\
        apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: team}\nstringData: {p: s}\n";
    serve.ok(&["apply", "-f", "-"], Some(contents));
    serve.ok(&["delete", "namespace", "team", "--timeout=60s"], None);
    assert!(!serve.kubectl(&["get", "namespace", "team"], None).status.success());
    assert!(!serve.kubectl(&["get", "configmap", "settings", "-n", "team"], None).status.success());
    let late = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: team}\n";
    let err = serve.fails(&["apply", "-f", "-"], Some(late));
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn imperative_creates_of_namespaces_and_secrets_work_as_in_crossplane_docs() {
    let serve = Serve::start();
    serve.ok(&["create", "namespace", "crossplane-system"], None);
    let create = [
        "create",
        "secret",
        "generic",
        "aws-creds",
        "-n",
        "crossplane-system",
        "--from-literal=creds=[default]",
    ];
    serve.ok(&create, None);
    let data = serve.ok(
        &["get", "secret", "aws-creds", "-n", "crossplane-system", "-o", "jsonpath={.data.creds}"],
        None,
    );
    assert_eq!(data, "W2RlZmF1bHRd", "base64 of [default]");
    serve.ok(&["create", "configmap", "settings", "--from-literal=region=us-east-1"], None);
    let region = serve.ok(&["get", "configmap", "settings", "-o", "jsonpath={.data.region}"], None);
    assert_eq!(region, "us-east-1");
}

/// The rows of a `kubectl get` table, split at runs of two or more spaces (cells such as
/// `Opaque` or a message may hold single spaces), header first.
fn rows(table: &str) -> Vec<Vec<String>> {
    let cells = |line: &str| {
        line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
    };
    table.lines().map(cells).collect()
}

#[test]
fn built_in_kinds_are_listed_with_the_columns_kubectl_shows_for_them() {
    let serve = Serve::start();
    serve.ok(&["create", "namespace", "payments"], None);
    let secret = ["create", "secret", "generic", "db-conn", "-n", "payments"];
    serve
        .ok(&[&secret[..], &["--from-literal=host=db", "--from-literal=port=5432"]].concat(), None);
    let config = ["create", "configmap", "limits", "-n", "payments"];
    let literals = ["--from-literal=cpu=2", "--from-literal=mem=4Gi", "--from-literal=disk=20"];
    serve.ok(&[&config[..], &literals[..]].concat(), None);
    let event = r#"
apiVersion: v1
kind: Event
metadata: {name: db-conn.1, namespace: payments}
involvedObject: {kind: RDSInstance, name: orders-db, fieldPath: spec.forProvider}
type: Warning
reason: CannotCreateExternalResource
message: subnet group not found
source: {component: crosstie}
count: 3
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:05:00Z"
"#;
    serve.ok(&["apply", "-f", "-"], Some(event));

    let secrets = rows(&serve.ok(&["get", "secrets", "-n", "payments"], None));
    assert_eq!(secrets[0], ["NAME", "TYPE", "DATA", "AGE"], "{secrets:?}");
    assert_eq!(secrets[1][..3], ["db-conn", "Opaque", "2"], "{secrets:?}");
    let configs = rows(&serve.ok(&["get", "configmaps", "limits", "-n", "payments"], None));
    assert_eq!(configs[0], ["NAME", "DATA", "AGE"], "{configs:?}");
    assert_eq!(configs[1][..2], ["limits", "3"], "{configs:?}");
    let namespaces = rows(&serve.ok(&["get", "namespace", "payments"], None));
    assert_eq!(namespaces[0], ["NAME", "STATUS", "AGE"], "{namespaces:?}");
    assert_eq!(namespaces[1][..2], ["payments", "Active"], "{namespaces:?}");

    // No controller runs pods here: a Deployment reads as none of its replicas ready.
    let deployment = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: payments}
spec:
  replicas: 2
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec: {containers: [{name: web, image: "shop/checkout:1.4"}]}
"#;
    serve.ok(&["apply", "-f", "-"], Some(deployment));
    let deployments = rows(&serve.ok(&["get", "deploy", "-n", "payments", "-o", "wide"], None));
    let header = ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES"];
    assert_eq!(deployments[0], [&header[..], &["SELECTOR"]].concat(), "{deployments:?}");
    assert_eq!(deployments[1][..4], ["checkout", "0/2", "0", "0"], "{deployments:?}");
    assert_eq!(
        deployments[1][5..],
        ["web", "shop/checkout:1.4", "app=checkout"],
        "{deployments:?}"
    );

    let service = r#"
apiVersion: v1
kind: Service
metadata: {name: checkout, namespace: payments}
spec:
  selector: {app: checkout}
  ports: [{name: http, port: 8080, protocol: TCP}]
"#;
    serve.ok(&["apply", "-f", "-"], Some(service));
    let services = rows(&serve.ok(&["get", "svc", "-n", "payments", "-o", "wide"], None));
    let header = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"];
    assert_eq!(services[0], header, "{services:?}");
    // No cluster IPs are allocated here: no proxy would route them.
    assert_eq!(services[1][..5], ["checkout", "ClusterIP", "<none>", "<none>", "8080/TCP"]);
    assert_eq!(services[1][6], "app=checkout", "{services:?}");

    // Events lead with when and what, not their generated names (those only in wide output).
    let events = rows(&serve.ok(&["get", "events", "-n", "payments"], None));
    assert_eq!(events[0], ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], "{events:?}");
    assert_eq!(
        events[1][1..],
        [
            "Warning",
            "CannotCreateExternalResource",
            "rdsinstance/orders-db",
            "subnet group not found"
        ],
        "{events:?}"
    );
    let wide = rows(&serve.ok(&["get", "events", "-n", "payments", "-o", "wide"], None));
    let header = &wide[0];
    assert_eq!(header.last().map(String::as_str), Some("NAME"), "{wide:?}");
    let cell = |column: &str| &wide[1][header.iter().position(|h| h == column).unwrap()];
    assert_eq!(cell("SUBOBJECT"), "spec.forProvider");
    assert_eq!(cell("SOURCE"), "crosstie");
    assert_eq!(cell("COUNT"), "3");
    assert_eq!(cell("NAME"), "db-conn.1");
}

/// An owner Widget and a ConfigMap it owns; returns the owner's uid.
fn owner_with_dependent(serve: &Serve, owner: &str, dependent: &str) {
    serve.ok(&["apply", "-f", "-"], Some(&widget(owner, 1, "")));
    let uid = serve.ok(&["get", "widget", owner, "-o", "jsonpath={.metadata.uid}"], None);
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {dependent}\n  ownerReferences:\n  - {{apiVersion: example.org/v1, kind: Widget, name: {owner}, uid: {uid}, blockOwnerDeletion: true}}\n"
    );
    serve.ok(&["apply", "-f", "-"], Some(&manifest));
}

#[test]
fn orphan_deletion_keeps_dependents_and_foreground_deletes_them_first() {
    let serve = serve_with_widgets();
    owner_with_dependent(&serve, "keeper", "kept");
    serve.ok(&["delete", "widget", "keeper", "--cascade=orphan"], None);
    let owners =
        serve.ok(&["get", "configmap", "kept", "-o", "jsonpath={.metadata.ownerReferences}"], None);
    assert_eq!(owners, "", "the orphan lost its owner reference and survives");

    owner_with_dependent(&serve, "parent", "child");
    serve.ok(&["delete", "widget", "parent", "--cascade=foreground", "--timeout=60s"], None);
    assert!(!serve.kubectl(&["get", "configmap", "child"], None).status.success());
    assert!(!serve.kubectl(&["get", "widget", "parent"], None).status.success());
}

#[test]
fn a_crd_whose_names_are_taken_in_its_group_is_not_served() {
    let serve = serve_with_widgets();
    let crd = |plural: &str, kind: &str, short: &str| {
        format!(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: {plural}.example.org}}\n\
             spec:\n  group: example.org\n  scope: Namespaced\n  names: {{plural: {plural}, kind: {kind}, shortNames: [{short}]}}\n  \
             versions: [{{name: v1, served: true, storage: true, schema: {{openAPIV3Schema: {{type: object}}}}}}]\n"
        )
    };
    let condition = |name: &str| {
        let path = "jsonpath={.status.conditions[?(@.type==\"NamesAccepted\")].reason} {.status.conditions[?(@.type==\"Established\")].status}";
        serve.ok(&["get", "crd", name, "-o", path], None)
    };
    serve.ok(&["apply", "-f", "-"], Some(&crd("gadgets", "Widget", "gd")));
    assert_eq!(condition("gadgets.example.org"), "KindConflict False");
    let err = serve.fails(&["get", "gadgets"], None);
    assert!(err.contains("doesn't have a resource type") || err.contains("NotFound"), "{err}");
    serve.ok(&["apply", "-f", "-"], Some(&crd("gizmos", "Gizmo", "wg")));
    assert_eq!(condition("gizmos.example.org"), "ShortNamesConflict False");
    // The Widget CRD and its short name are untouched.
    serve.ok(&["apply", "-f", "-"], Some(&widget("still-here", 1, "")));
    serve.ok(&["get", "wg", "still-here"], None);
}

#[test]
fn deleting_a_crd_deletes_its_objects_and_stops_serving_it() {
    let serve = serve_with_widgets();
    serve.ok(&["apply", "-f", "-"], Some(&widget("doomed", 1, "")));
    serve.ok(&["delete", "crd", "widgets.example.org", "--timeout=60s"], None);
    let err = serve.fails(&["get", "widgets"], None);
    assert!(err.contains("could not find the requested resource"), "{err}");
    // Served again, the kind starts empty: its objects went with the CRD.
    serve.ok(&["apply", "-f", "-"], Some(WIDGET_CRD));
    serve.ok(&["wait", "--for", "condition=Established", "crd/widgets.example.org"], None);
    let out = serve.kubectl(&["get", "widgets"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No resources found"), "{out:?}");
}

#[test]
fn a_namespace_stuck_on_a_finalizer_is_released_through_its_finalize_subresource() {
    let serve = serve_with_widgets();
    serve.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: stuck}\n"),
    );
    let held = widget("held", 1, "").replace(
        "metadata:\n",
        "metadata:\n  namespace: stuck\n  finalizers: [example.org/never]\n",
    );
    serve.ok(&["apply", "-f", "-"], Some(&held));
    serve.ok(&["delete", "namespace", "stuck", "--wait=false"], None);
    let phase = serve.ok(&["get", "namespace", "stuck", "-o", "jsonpath={.status.phase}"], None);
    assert_eq!(phase, "Terminating");
    let finalize = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"stuck"},"spec":{"finalizers":[]}}"#;
    serve.ok(&["replace", "--raw", "/api/v1/namespaces/stuck/finalize", "-f", "-"], Some(finalize));
    assert!(!serve.kubectl(&["get", "namespace", "stuck"], None).status.success());
}
