//! Staged server-side apply, drift and prune against a small in-memory API server behind
//! kube's tower-test mock service: it serves discovery for the core group and stores objects,
//! and records every request so the tests can count API writes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crosstie::gitops::api::InventoryEntry;
use crosstie::gitops::apply::{Applier, ApplyOptions};
use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

#[derive(Default)]
struct Fake {
    objects: Mutex<BTreeMap<String, Value>>,
    log: Mutex<Vec<String>>,
}

impl Fake {
    fn writes(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().filter(|r| !r.starts_with("GET")).cloned().collect()
    }
}

fn discovery() -> Value {
    let verbs = json!(["get", "list", "watch", "create", "update", "patch", "delete"]);
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
        {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap", "verbs": verbs},
        {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": verbs},
    ]})
}

fn not_found() -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}),
    )
}

async fn serve(
    fake: Arc<Fake>,
    mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>,
) {
    while let Some((request, send)) = handle.next_request().await {
        let method = request.method().to_string();
        let uri = request.uri().clone();
        let path = uri.path().to_owned();
        let body = request.into_body().collect_bytes().await.unwrap();
        fake.log.lock().unwrap().push(format!("{method} {uri}"));
        let mut objects = fake.objects.lock().unwrap();
        let (status, response) = match (method.as_str(), path.as_str()) {
            ("GET", "/api/v1") => (StatusCode::OK, discovery()),
            ("GET", _) => {
                objects.get(&path).cloned().map(|o| (StatusCode::OK, o)).unwrap_or_else(not_found)
            }
            ("PATCH", _) => {
                let mut object: Value = serde_json::from_slice(&body).unwrap();
                object["metadata"]["uid"] = json!("uid-1");
                objects.insert(path, object.clone());
                (StatusCode::OK, object)
            }
            ("DELETE", _) => match objects.remove(&path) {
                Some(_) => (
                    StatusCode::OK,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}),
                ),
                None => not_found(),
            },
            _ => (StatusCode::METHOD_NOT_ALLOWED, json!({})),
        };
        drop(objects);
        let mut response = Response::new(Body::from(serde_json::to_vec(&response).unwrap()));
        *response.status_mut() = status;
        send.send_response(response);
    }
}

fn applier() -> (Applier, Arc<Fake>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let fake = Arc::new(Fake::default());
    tokio::spawn(serve(fake.clone(), handle));
    (Applier::new(kube::Client::new(service, "default")), fake)
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
async fn a_manual_edit_is_reported_as_drift_and_reverted() {
    let (applier, fake) = applier();
    applier.apply_all(vec![config_map("cfg", Some("apps"), "v")], &options(false)).await.unwrap();
    let path = "/api/v1/namespaces/apps/configmaps/cfg";
    fake.objects.lock().unwrap().get_mut(path).unwrap()["data"]["k"] = json!("edited by kubectl");

    let (report, _) = applier
        .apply_all(vec![config_map("cfg", Some("apps"), "v")], &options(true))
        .await
        .unwrap();

    assert_eq!(report.drift, ["ConfigMap/apps/cfg: /data/k"]);
    assert_eq!(report.writes, 1);
    assert_eq!(fake.objects.lock().unwrap()[path]["data"]["k"], "v", "reverted");
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
