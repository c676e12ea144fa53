//! A kube-rs Controller (watcher + reflector) running over HTTPS against `crosstie serve`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use support::serve::Serve;

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct Error(#[from] kube::Error);

/// Copies `data.value` into the `seen` annotation: proof the controller saw the latest state.
async fn reconcile(cm: Arc<ConfigMap>, api: Arc<Api<ConfigMap>>) -> Result<Action, Error> {
    let value = cm.data.as_ref().and_then(|d| d.get("value")).cloned().unwrap_or_default();
    let seen = cm.metadata.annotations.as_ref().and_then(|a| a.get("seen"));
    if seen != Some(&value) {
        let patch = serde_json::json!({"metadata": {"annotations": {"seen": value}}});
        let name = cm.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    }
    Ok(Action::await_change())
}

fn error_policy(_: Arc<ConfigMap>, _: &Error, _: Arc<Api<ConfigMap>>) -> Action {
    Action::requeue(Duration::from_millis(200))
}

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kube_rs_controller_sees_creates_updates_and_deletes() {
    let serve = Serve::start();
    let client = serve.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let controller = Controller::new(api.clone(), watcher::Config::default().labels("app=demo"));
    let store = controller.store();
    let ctx = Arc::new(api.clone());
    let running = tokio::spawn(controller.run(reconcile, error_policy, ctx).for_each(|_| async {}));

    let mut cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "demo", "labels": {"app": "demo"}}, "data": {"value": "one"}
    }))
    .unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
    let seen = |want: &'static str| {
        let api = api.clone();
        async move || {
            let cm = api.get("demo").await.ok()?;
            (cm.metadata.annotations?.get("seen")? == want).then_some(())
        }
    };
    eventually("the controller to see the create", seen("one")).await;

    cm = api.get("demo").await.unwrap();
    cm.data = Some([("value".to_owned(), "two".to_owned())].into());
    api.replace("demo", &PostParams::default(), &cm).await.unwrap();
    eventually("the controller to see the update", seen("two")).await;

    // Leaving the selector reads as a deletion for a filtered watch; re-entering as a creation.
    let in_store = |present: bool| {
        let store = store.clone();
        async move || {
            let found = store.state().iter().any(|cm| cm.metadata.name.as_deref() == Some("demo"));
            (found == present).then_some(())
        }
    };
    let relabel = |app: &'static str| {
        let api = api.clone();
        async move {
            let patch = serde_json::json!({"metadata": {"labels": {"app": app}}});
            api.patch("demo", &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
        }
    };
    relabel("other").await;
    eventually("the object to leave the selection", in_store(false)).await;
    relabel("demo").await;
    eventually("the object to re-enter the selection", in_store(true)).await;

    api.delete("demo", &DeleteParams::default()).await.unwrap();
    eventually("the reflector to drop the deleted object", async || {
        store.state().iter().all(|cm| cm.metadata.name.as_deref() != Some("demo")).then_some(())
    })
    .await;
    assert!(running.is_finished().then_some(()).is_none(), "the controller keeps running");
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_the_kube_rs_recorder_are_listed_as_core_events_for_describe() {
    use k8s_openapi::api::core::v1::Event;
    use kube::runtime::events::{Event as Published, EventType, Recorder, Reporter};

    let serve = Serve::start();
    let client = serve.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "noted"}})).unwrap();
    let cm = api.create(&PostParams::default(), &cm).await.unwrap();

    let recorder = Recorder::new(
        client.clone(),
        Reporter { controller: "crosstie-test".into(), instance: None },
    );
    let event = Published {
        type_: EventType::Normal,
        reason: "Synced".into(),
        note: Some("all good".into()),
        action: "Sync".into(),
        secondary: None,
    };
    let reference = kube::Resource::object_ref(&cm, &());
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();

    let events: Api<Event> = Api::namespaced(client, "default");
    let selector = "involvedObject.name=noted,involvedObject.kind=ConfigMap";
    let listed = events.list(&kube::api::ListParams::default().fields(selector)).await.unwrap();
    assert_eq!(listed.items.len(), 1, "a repeat updates the same Event");
    let core = &listed.items[0];
    assert_eq!(core.message.as_deref(), Some("all good"));
    assert_eq!(core.reason.as_deref(), Some("Synced"));
    assert_eq!(core.involved_object.uid, cm.metadata.uid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_writes_status_by_server_side_apply_and_finalizers_by_json_patch() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};

    let serve = Serve::start();
    let client = serve.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "gadgets.example.org"},
        "spec": {"group": "example.org", "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    eventually("the CRD to be established", async || {
        let crd = crds.get("gadgets.example.org").await.ok()?;
        let conditions = crd.status?.conditions?;
        conditions.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
    })
    .await;

    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("example.org", "v1", "Gadget"));
    let gadgets: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let gadget: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"size": 1}
    }))
    .unwrap();
    gadgets.create(&PostParams::default(), &gadget).await.unwrap();

    // The status write kube-rs controllers make: `?&force=true&fieldManager=…`, apply-patch+yaml.
    let status = serde_json::json!({"apiVersion": "example.org/v1", "kind": "Gadget",
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}});
    let params = PatchParams::apply("gadget-controller").force();
    gadgets.patch_status("g", &params, &Patch::Apply(&status)).await.unwrap();
    let applied = gadgets.get("g").await.unwrap();
    assert_eq!(applied.data["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(applied.metadata.generation, Some(1), "status writes keep the generation");
    let rv = applied.metadata.resource_version.clone();
    gadgets.patch_status("g", &params, &Patch::Apply(&status)).await.unwrap();
    let again = gadgets.get("g").await.unwrap();
    assert_eq!(again.metadata.resource_version, rv, "re-applying the same status is a no-op");

    // kube-runtime's finalizer(): `test` that the list is absent, then add it.
    let add: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.org/cleanup"]}
    ]))
    .unwrap();
    gadgets.patch("g", &PatchParams::default(), &Patch::<()>::Json(add)).await.unwrap();
    gadgets.delete("g", &DeleteParams::default()).await.unwrap();
    let deleting = gadgets.get("g").await.unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    let remove: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "example.org/cleanup"},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]))
    .unwrap();
    gadgets.patch("g", &PatchParams::default(), &Patch::<()>::Json(remove)).await.unwrap();
    assert!(gadgets.get_opt("g").await.unwrap().is_none(), "gone with its last finalizer");
}
