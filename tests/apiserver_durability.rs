//! Durability: every acknowledged write survives `kill -9`, and a watch resumes across the
//! restart from a resourceVersion taken before it.

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use support::serve::Serve;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"k": name}}))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_watches_resume_from_their_resource_version() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_in(dir.path());
    let api: Api<ConfigMap> = Api::namespaced(serve.client().await, "default");

    let created = |range: std::ops::Range<usize>| {
        let api = api.clone();
        futures::stream::iter(range)
            .map(move |i| {
                let api = api.clone();
                async move {
                    api.create(&PostParams::default(), &config_map(&format!("cm-{i:03}")))
                        .await
                        .unwrap()
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
    };
    created(0..100).await;
    let checkpoint =
        api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let after: Vec<ConfigMap> = created(100..150).await;
    let mut expected_after: Vec<String> =
        after.iter().map(|c| c.metadata.name.clone().unwrap()).collect();
    expected_after.sort();

    serve.kill9();
    let serve = Serve::start_in(dir.path());
    let api: Api<ConfigMap> = Api::namespaced(serve.client().await, "default");

    let mut names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    names.sort();
    let all: Vec<String> = (0..150).map(|i| format!("cm-{i:03}")).collect();
    assert_eq!(names, all, "every acknowledged object is there");

    let params = WatchParams::default().timeout(2);
    let events: Vec<WatchEvent<ConfigMap>> =
        api.watch(&params, &checkpoint).await.unwrap().try_collect().await.unwrap();
    let mut resumed: Vec<String> = events
        .into_iter()
        .filter_map(|e| match e {
            WatchEvent::Added(cm) => cm.metadata.name,
            WatchEvent::Bookmark(_) => None,
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    resumed.sort();
    assert_eq!(
        resumed, expected_after,
        "the watch replays exactly the writes after the checkpoint"
    );
}
