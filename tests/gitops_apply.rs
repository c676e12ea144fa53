//! Staged server-side apply, drift and prune against the in-memory API server of
//! `gitops_support::fake_api`, which records every request so the tests can count API writes.

mod gitops_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crosstie::gitops::api::InventoryEntry;
use crosstie::gitops::apply::{Applier, ApplyOptions, owner_selector};
use gitops_support::fake_api::FakeApi;
use serde_json::{Value, json};

fn applier() -> (Applier, Arc<FakeApi>) {
    let (client, fake) = FakeApi::start();
    (Applier::new(client), fake)
}

fn options(detect_drift: bool) -> ApplyOptions {
    ApplyOptions { detect_drift, force: false, deadline: Instant::now() + Duration::from_secs(10) }
}

fn config_map(name: &str, namespace: Option<&str>, value: &str) -> Value {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"kustomize.toolkit.fluxcd.io/name": "app", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
        "data": {"k": value}});
    if let Some(ns) = namespace {
        cm["metadata"]["namespace"] = json!(ns);
    }
    cm
}

#[tokio::test]
async fn objects_are_applied_server_side_as_kustomize_controller_namespaces_first() {
    let (applier, fake) = applier();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps", "namespace": "ignored"}});
    let objects =
        vec![config_map("cfg", Some("apps"), "v"), config_map("plain", None, "v"), namespace];

    let (report, _) = applier.apply_all(objects, &options(false)).await.unwrap();

    assert_eq!(report.writes, 3);
    let writes = fake.writes();
    assert!(
        writes[0].starts_with("PATCH /api/v1/namespaces/apps?"),
        "namespaces go first: {writes:?}"
    );
    assert!(
        writes
            .iter()
            .all(|w| w.contains("fieldManager=kustomize-controller") && w.contains("force=true")),
        "{writes:?}"
    );
    assert!(
        writes.iter().any(|w| w.starts_with("PATCH /api/v1/namespaces/default/configmaps/plain?")),
        "no namespace means default: {writes:?}"
    );
    let ns = report.objects.iter().find(|o| o["kind"] == "Namespace").unwrap();
    assert!(
        ns["metadata"].get("namespace").is_none(),
        "cluster-scoped objects lose their namespace"
    );
}

#[tokio::test]
async fn an_unchanged_object_costs_no_write_on_the_next_interval() {
    let (applier, fake) = applier();
    applier.apply_all(vec![config_map("cfg", Some("apps"), "v")], &options(false)).await.unwrap();
    fake.log.lock().unwrap().clear();

    let (report, _) = applier
        .apply_all(vec![config_map("cfg", Some("apps"), "v")], &options(true))
        .await
        .unwrap();

    assert_eq!(report.writes, 0);
    assert!(report.drift.is_empty());
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
}

#[tokio::test]
async fn a_manual_edit_or_delete_is_reported_as_drift_and_reverted() {
    let (applier, fake) = applier();
    applier.apply_all(vec![config_map("cfg", Some("apps"), "v")], &options(false)).await.unwrap();
    let path = "/api/v1/namespaces/apps/configmaps/cfg";
    let mut edited = fake.get(path).unwrap();
    edited["data"]["k"] = json!("edited by kubectl");
    fake.put(path, edited);

    let (report, _) = applier
        .apply_all(vec![config_map("cfg", Some("apps"), "v")], &options(true))
        .await
        .unwrap();

    assert_eq!(report.drift, ["ConfigMap/apps/cfg: /data/k"]);
    assert_eq!(report.writes, 1);
    assert_eq!(fake.objects.lock().unwrap()[path]["data"]["k"], "v", "reverted");

    fake.objects.lock().unwrap().remove(path);
    let (report, _) = applier
        .apply_all(vec![config_map("cfg", Some("apps"), "v")], &options(true))
        .await
        .unwrap();
    assert_eq!(report.drift, ["ConfigMap/apps/cfg: deleted outside Git, recreated"]);
    assert!(fake.get(path).is_some());
}

#[tokio::test]
async fn prune_deletes_owned_stale_objects_but_keeps_protected_and_foreign_ones() {
    let (applier, fake) = applier();
    let mut protected = config_map("keep", Some("apps"), "v");
    protected["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"});
    let mut foreign = config_map("theirs", Some("apps"), "v");
    foreign["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = json!("other");
    let objects = vec![config_map("gone", Some("apps"), "v"), protected, foreign];
    applier.apply_all(objects, &options(false)).await.unwrap();
    fake.log.lock().unwrap().clear();

    let stale: Vec<InventoryEntry> = [
        "apps_gone__ConfigMap",
        "apps_keep__ConfigMap",
        "apps_theirs__ConfigMap",
        "apps_missing__ConfigMap",
    ]
    .iter()
    .map(|id| InventoryEntry { id: (*id).into(), v: "v1".into() })
    .collect();
    let failed = applier.prune(&stale, "app", "flux-system").await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(fake.writes(), ["DELETE /api/v1/namespaces/apps/configmaps/gone?"]);
    let objects = fake.objects.lock().unwrap();
    assert!(objects.contains_key("/api/v1/namespaces/apps/configmaps/keep"));
    assert!(objects.contains_key("/api/v1/namespaces/apps/configmaps/theirs"));
}

#[tokio::test]
async fn an_unknown_kind_fails_naming_the_object() {
    let (applier, _fake) = applier();
    let widget = json!({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "apps"}});
    let err = applier.apply_all(vec![widget], &options(false)).await.unwrap_err();
    assert!(
        err.to_string().contains("Widget/apps/w")
            && err.to_string().contains("no matches for kind"),
        "{err}"
    );
}

#[tokio::test]
async fn a_thousand_unchanged_objects_cost_one_list_and_no_writes() {
    let (applier, fake) = applier();
    let objects =
        || (0..1000).map(|i| config_map(&format!("cm-{i}"), Some("apps"), "v")).collect::<Vec<_>>();
    applier.apply_all(objects(), &options(false)).await.unwrap();
    fake.log.lock().unwrap().clear();

    let (report, targets) = applier.apply_all(objects(), &options(true)).await.unwrap();

    assert_eq!((report.writes, report.drift.len(), report.objects.len()), (0, 0, 1000));
    // `wait: true` over all of them reads them back with one more LIST.
    let owner = owner_selector("app", "flux-system");
    let deadline = Instant::now() + Duration::from_secs(10);
    applier.wait_healthy(&targets, Some(&owner), deadline).await.unwrap();
    let log = fake.log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "{:?}", &log[..log.len().min(5)]);
    for request in &log {
        assert!(request.starts_with("GET /api/v1/namespaces/apps/configmaps?"), "{request}");
        assert!(request.contains("labelSelector"), "{request}");
    }
}

#[tokio::test]
async fn a_crd_and_its_custom_resources_apply_in_one_run() {
    let (applier, fake) = applier();
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com", "labels": {"kustomize.toolkit.fluxcd.io/name": "app", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": true, "storage": true}]}});
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "apps", "labels": {"kustomize.toolkit.fluxcd.io/name": "app", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
        "spec": {"size": 3}});

    // The custom resource comes first in the build; staging still applies the CRD first.
    let (report, _) = applier.apply_all(vec![widget, crd], &options(false)).await.unwrap();

    assert_eq!(report.writes, 2);
    let writes = fake.writes();
    assert!(
        writes[0].starts_with(
            "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com?"
        ),
        "{writes:?}"
    );
    assert!(
        writes[1].starts_with("PATCH /apis/example.com/v1/namespaces/apps/widgets/w?"),
        "{writes:?}"
    );
}

#[tokio::test]
async fn ssa_ignore_reconcile_disabled_and_if_not_present_are_honoured() {
    let (applier, fake) = applier();
    let annotated = |name: &str, key: &str, value: &str| {
        let mut cm = config_map(name, Some("apps"), "git");
        cm["metadata"]["annotations"] = json!({ key: value });
        cm
    };
    let objects = || {
        vec![
            annotated("ignored", "kustomize.toolkit.fluxcd.io/ssa", "Ignore"),
            annotated("disabled", "kustomize.toolkit.fluxcd.io/reconcile", "disabled"),
            annotated("once", "kustomize.toolkit.fluxcd.io/ssa", "IfNotPresent"),
        ]
    };
    applier.apply_all(objects(), &options(false)).await.unwrap();
    let path = |name: &str| format!("/api/v1/namespaces/apps/configmaps/{name}");
    assert!(fake.get(&path("ignored")).is_none() && fake.get(&path("disabled")).is_none());
    let mut once = fake.get(&path("once")).unwrap();
    once["data"]["k"] = json!("edited");
    fake.put(&path("once"), once);

    let (report, targets) = applier.apply_all(objects(), &options(true)).await.unwrap();

    assert_eq!((report.writes, report.objects.len()), (0, 3), "still in the inventory");
    assert_eq!(targets.len(), 1, "skipped objects are not health-checked");
    assert_eq!(
        fake.get(&path("once")).unwrap()["data"]["k"],
        "edited",
        "created once, then left alone"
    );
}

/// The embedded API server in this process, with an applier per kind of client: the in-process
/// one `crosstie up`'s controllers use (objects come without managedFields) and a socket one.
async fn embedded()
-> (tempfile::TempDir, crosstie::apiserver::RunningServer, Vec<(&'static str, Applier)>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = crosstie::apiserver::ServeOptions {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        kubeconfig_out: None,
    };
    let server = crosstie::apiserver::start(opts).await.unwrap();
    let appliers = vec![
        ("in-process", Applier::new(server.client().unwrap())),
        ("socket", Applier::new(server.socket_client().unwrap())),
    ];
    (dir, server, appliers)
}

async fn live(
    applier_client: &kube::Client,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Option<Value> {
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        applier_client.clone(),
        namespace,
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk("", "v1", kind)),
    );
    api.get_opt(name).await.unwrap().map(|o| serde_json::to_value(o).unwrap())
}

#[tokio::test]
async fn a_key_or_label_removed_in_git_is_removed_from_the_cluster() {
    let (_dir, server, appliers) = embedded().await;
    let client = server.socket_client().unwrap();
    for (name, applier) in &appliers {
        let mut before = config_map(name, Some("default"), "v");
        before["data"]["dropped"] = json!("x");
        before["metadata"]["labels"]["dropped"] = json!("x");
        applier.apply_all(vec![before], &options(false)).await.unwrap();

        let (report, _) = applier
            .apply_all(vec![config_map(name, Some("default"), "v")], &options(false))
            .await
            .unwrap();

        assert_eq!(report.writes, 1, "{name}");
        let cm = live(&client, "default", "ConfigMap", name).await.unwrap();
        assert_eq!(cm["data"], json!({"k": "v"}), "{name}");
        assert!(cm["metadata"]["labels"].get("dropped").is_none(), "{name}: {cm}");
    }
}

#[tokio::test]
async fn an_invalid_object_fails_the_apply_before_anything_is_written() {
    let (_dir, server, appliers) = embedded().await;
    let client = server.socket_client().unwrap();
    for (name, applier) in &appliers {
        let good = config_map(&format!("good-{name}"), Some("default"), "v");
        let bad = config_map(&format!("bad-{name}"), Some("no-such-namespace"), "v");

        let err = applier.apply_all(vec![good, bad], &options(false)).await.unwrap_err();

        assert!(
            err.to_string().starts_with(&format!("ConfigMap/no-such-namespace/bad-{name}:")),
            "{err}"
        );
        assert!(
            live(&client, "default", "ConfigMap", &format!("good-{name}")).await.is_none(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_secret_with_string_data_is_not_drift_on_the_next_interval() {
    let (_dir, _server, appliers) = embedded().await;
    for (name, applier) in &appliers {
        let mut secret = config_map(name, Some("default"), "v");
        secret["kind"] = json!("Secret");
        secret["stringData"] = json!({"credentials": "[default]\nkey = a\n"});
        secret.as_object_mut().unwrap().remove("data");
        applier.apply_all(vec![secret.clone()], &options(false)).await.unwrap();

        let (report, _) = applier.apply_all(vec![secret], &options(true)).await.unwrap();

        assert_eq!((report.writes, report.drift.len()), (0, 0), "{name}: {:?}", report.drift);
    }
}

#[tokio::test]
async fn reconcile_disabled_on_the_live_object_stops_applying_it() {
    let (_dir, server, appliers) = embedded().await;
    let client = server.socket_client().unwrap();
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::default_namespaced(client.clone());
    for (name, applier) in &appliers {
        applier
            .apply_all(vec![config_map(name, Some("default"), "git")], &options(false))
            .await
            .unwrap();
        let pause = json!({"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}},
                           "data": {"k": "edited in the cluster"}});
        api.patch(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(pause))
            .await
            .unwrap();

        let (report, _) = applier
            .apply_all(vec![config_map(name, Some("default"), "git")], &options(true))
            .await
            .unwrap();

        assert_eq!(report.writes, 0, "{name}");
        let cm = live(&client, "default", "ConfigMap", name).await.unwrap();
        assert_eq!(cm["data"]["k"], "edited in the cluster", "{name}");
    }
}
