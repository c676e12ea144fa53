//! Scenario tests of the ProviderConfig controller: a ProviderConfig in use cannot be deleted.

mod fixture;

use std::sync::Arc;

use crosstie_runtime::provider_config::{Context, reconcile};
use fixture::*;
use kube::api::DynamicObject;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

const USAGES: &str = "/apis/aws.crossplane.io/v1beta1/providerconfigusages?&labelSelector=crossplane.io%2Fprovider-config%3Ddefault";

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

/// The usages listed for `default`: `count` of them.
fn usages(count: usize) -> Exchange {
    let items: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "apiVersion": "aws.crossplane.io/v1beta1",
                "kind": "ProviderConfigUsage",
                "metadata": { "name": format!("uid-{i}") },
            })
        })
        .collect();
    get(USAGES).returns(json!({
        "apiVersion": "aws.crossplane.io/v1beta1",
        "kind": "ProviderConfigUsageList",
        "metadata": {},
        "items": items,
    }))
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

async fn reconcile_config(pc: Value, script: Vec<Exchange>) -> Action {
    let (client, server) = ApiServer::start(pc.clone(), script);
    let ctx =
        Arc::new(Context::new(client, kinds(), "crosstie").with_clock(|| NOW.parse().unwrap()));
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
        usages(1),
        patch(
            PC,
            json!([
                { "op": "test", "path": "/metadata/resourceVersion", "value": "7" },
                { "op": "add", "path": "/metadata/finalizers", "value": ["in-use.crossplane.io"] },
            ]),
        ),
        patch(PC_STATUS, json!({ "status": { "users": 1 } })),
    ];

    reconcile_config(config(&[], false, Value::Null), script).await;
}

#[tokio::test]
async fn a_provider_config_whose_count_is_current_is_not_written() {
    let pc = config(&["in-use.crossplane.io"], false, json!({ "users": 2 }));

    reconcile_config(pc, vec![usages(2)]).await;
}

#[tokio::test]
async fn a_provider_config_in_use_keeps_its_finalizer_until_no_resource_uses_it() {
    let in_use = config(&["in-use.crossplane.io"], true, json!({ "users": 2 }));
    let script = vec![
        usages(2),
        warning(
            "InUse",
            "cannot delete ProviderConfig \"default\": it is in use by 2 managed resources",
        ),
        // `users` is already 2: only the condition is new.
        patch(PC_STATUS, json!({ "status": { "conditions": in_use_by(2)["conditions"] } })),
    ];
    reconcile_config(in_use, script).await;

    let unused = config(&["in-use.crossplane.io"], true, in_use_by(2));
    let script = vec![
        usages(0),
        patch(
            PC,
            json!([
                { "op": "test", "path": "/metadata/finalizers/0", "value": "in-use.crossplane.io" },
                { "op": "remove", "path": "/metadata/finalizers/0" },
            ]),
        ),
    ];
    assert_eq!(reconcile_config(unused, script).await, Action::await_change());
}
