//! Scenario tests of the ProviderConfig controller: a ProviderConfig in use cannot be deleted.

mod fixture;

use std::sync::Arc;

use crosstie_runtime::provider_config::{Context, reconcile};
use fixture::*;
use kube::api::DynamicObject;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{Store, store::Writer};
use kube::runtime::watcher::Event;
use serde_json::{Value, json};

/// The ProviderConfig `default` with `finalizers`, deleted or not.
fn config(finalizers: &[&str], deleted: bool, status: Value) -> Value {
    let mut pc = provider_config("default");
    pc["metadata"]["uid"] = json!("uid-pc");
    pc["metadata"]["resourceVersion"] = json!("7");
    pc["metadata"]["generation"] = json!(1);
    if !finalizers.is_empty() {
        pc["metadata"]["finalizers"] = json!(finalizers);
    }
    if deleted {
        pc["metadata"]["deletionTimestamp"] = json!(NOW);
    }
    if !status.is_null() {
        pc["status"] = status;
    }
    pc
}

/// The usage cache: `count` usages of `default`, and one of another ProviderConfig.
fn usages(count: usize) -> Store<DynamicObject> {
    let usage = |name: String, config: &str| {
        serde_json::from_value(json!({
            "apiVersion": "aws.crossplane.io/v1beta1",
            "kind": "ProviderConfigUsage",
            "metadata": {"name": name, "labels": {"crossplane.io/provider-config": config}},
        }))
        .unwrap()
    };
    let mut writer = Writer::new(kinds().usage);
    writer.apply_watcher_event(&Event::Init);
    for i in 0..count {
        writer.apply_watcher_event(&Event::InitApply(usage(format!("uid-{i}"), "default")));
    }
    writer.apply_watcher_event(&Event::InitApply(usage("uid-other".into(), "other")));
    writer.apply_watcher_event(&Event::InitDone);
    writer.as_reader()
}

fn in_use_by(users: usize) -> Value {
    let message = format!(
        "cannot delete ProviderConfig \"default\": it is in use by {users} managed resources"
    );
    json!({
        "users": users,
        "conditions": [condition("Terminating", "True", "InUse", &message)],
    })
}

async fn reconcile_config(pc: Value, users: usize, script: Vec<Exchange>) -> Action {
    let (client, server) = ApiServer::start(pc.clone(), script);
    let ctx = Arc::new(
        Context::new(client, kinds(), usages(users), "crosstie")
            .with_clock(|| NOW.parse().unwrap()),
    );
    let pc: DynamicObject = serde_json::from_value(pc).unwrap();
    let action = reconcile(Arc::new(pc), ctx).await.unwrap();
    server.verify().await;
    action
}

const PC: &str = "/apis/aws.crossplane.io/v1beta1/providerconfigs/default?";
const PC_STATUS: &str = "/apis/aws.crossplane.io/v1beta1/providerconfigs/default/status?";

#[tokio::test]
async fn a_new_provider_config_gets_the_in_use_finalizer_and_counts_its_users() {
    let script = vec![
        patch(
            PC,
            json!([
                { "op": "test", "path": "/metadata/resourceVersion", "value": "7" },
                { "op": "add", "path": "/metadata/finalizers", "value": ["in-use.crossplane.io"] },
            ]),
        ),
        patch(PC_STATUS, json!({ "status": { "users": 1 } })),
    ];

    reconcile_config(config(&[], false, Value::Null), 1, script).await;
}

#[tokio::test]
async fn a_provider_config_whose_count_is_current_is_not_written() {
    let pc = config(&["in-use.crossplane.io"], false, json!({ "users": 2 }));

    reconcile_config(pc, 2, vec![]).await;
}

#[tokio::test]
async fn a_provider_config_in_use_keeps_its_finalizer_until_no_resource_uses_it() {
    let in_use = config(&["in-use.crossplane.io"], true, json!({ "users": 2 }));
    let script = vec![
        warning(
            "InUse",
            "cannot delete ProviderConfig \"default\": it is in use by 2 managed resources",
        ),
        // `users` is already 2: only the condition is new.
        patch(PC_STATUS, json!({ "status": { "conditions": in_use_by(2)["conditions"] } })),
    ];
    reconcile_config(in_use, 2, script).await;

    let unused = config(&["in-use.crossplane.io"], true, in_use_by(2));
    let script = vec![patch(
        PC,
        json!([
            { "op": "test", "path": "/metadata/finalizers/0", "value": "in-use.crossplane.io" },
            { "op": "remove", "path": "/metadata/finalizers/0" },
        ]),
    )];
    assert_eq!(reconcile_config(unused, 0, script).await, Action::await_change());
}
