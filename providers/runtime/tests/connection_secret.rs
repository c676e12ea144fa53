//! Scenario tests of connection-secret publishing: written only when its data changes, owned
//! by the managed resource, never taken from another owner.

mod fixture;

use crosstie_runtime::annotations::{
    EXTERNAL_CREATE_PENDING, EXTERNAL_CREATE_SUCCEEDED, EXTERNAL_NAME,
};
use fixture::*;
use serde_json::{Value, json};

const SECRET: &str = "/api/v1/namespaces/crossplane-system/secrets/db-conn";

/// `db-conn` as stored, controlled by the object with `owner_uid`, holding `data`.
fn secret(owner_uid: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db-conn",
            "namespace": "crossplane-system",
            "ownerReferences": [{
                "apiVersion": "test.crosstie.dev/v1", "kind": "Database", "name": "db", "uid": owner_uid,
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "type": "connection.crossplane.io/v1alpha1",
        "data": data,
    })
}

fn in_sync_with_endpoint(endpoint: &str) -> (Database, Cloud) {
    let db = Database::named("db").created().with_connection_secret();
    let cloud = Cloud::in_sync().with_details(&[("endpoint", endpoint), ("port", "5432")]);
    (db, cloud)
}

#[tokio::test]
async fn unchanged_connection_details_do_not_rewrite_the_secret() {
    let (db, cloud) = in_sync_with_endpoint("db.example");
    let mut script = usage_already_recorded(&db);
    script.push(
        get(SECRET).returns(secret(
            "uid-db",
            json!({ "endpoint": "ZGIuZXhhbXBsZQ==", "port": "NTQzMg==" }),
        )),
    );

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
}

#[tokio::test]
async fn a_missing_connection_secret_is_created_and_owned_by_the_resource() {
    let (db, cloud) = in_sync_with_endpoint("db.example");
    let mut script = usage_already_recorded(&db);
    script.extend([
        get(SECRET).not_found(),
        post(
            "/api/v1/namespaces/crossplane-system/secrets?",
            secret("uid-db", json!({ "endpoint": "ZGIuZXhhbXBsZQ==", "port": "NTQzMg==" })),
        ),
    ]);

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
}

#[tokio::test]
async fn a_new_resource_s_secret_is_written_once_with_what_its_create_returned() {
    let db = Database::named("db").with_connection_secret();
    let cloud = Cloud::absent().with_details(&[("endpoint", "db.example"), ("port", "5432")]);
    let written = secret("uid-db", json!({ "endpoint": "ZGIuZXhhbXBsZQ==", "port": "NTQzMg==" }));
    let mut script = usage_recorded(&db);
    // Nothing before the create: no empty Secret first. After it, the Secret is created
    // without reading it first: a new resource's Secret is new.
    script.extend([
        metadata_saved("1", json!({ EXTERNAL_NAME: "db", EXTERNAL_CREATE_PENDING: NOW })),
        annotated(json!({ EXTERNAL_CREATE_SUCCEEDED: NOW })),
        post("/api/v1/namespaces/crossplane-system/secrets?", written),
        event("CreatedExternalResource", None),
        // The observation after the create repeats what was just written: not read again.
        status_patch(&db, json!([ready_available(), synced()])),
    ]);

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
}

#[tokio::test]
async fn a_secret_found_on_creating_it_after_a_create_is_read_and_patched() {
    let db = Database::named("db").with_connection_secret();
    let cloud = Cloud::absent().with_details(&[("endpoint", "db.example"), ("port", "5432")]);
    let written = secret("uid-db", json!({ "endpoint": "ZGIuZXhhbXBsZQ==", "port": "NTQzMg==" }));
    let left_over = secret("uid-db", json!({ "endpoint": "b2xkLmV4YW1wbGU=", "port": "NTQzMg==" }));
    let mut script = usage_recorded(&db);
    script.extend([
        metadata_saved("1", json!({ EXTERNAL_NAME: "db", EXTERNAL_CREATE_PENDING: NOW })),
        annotated(json!({ EXTERNAL_CREATE_SUCCEEDED: NOW })),
        post("/api/v1/namespaces/crossplane-system/secrets?", written).fails(409, "AlreadyExists"),
        get(SECRET).returns(left_over.clone()),
        patch(format!("{SECRET}?"), json!({ "data": { "endpoint": "ZGIuZXhhbXBsZQ==" } }))
            .returns(left_over),
        event("CreatedExternalResource", None),
        status_patch(&db, json!([ready_available(), synced()])),
    ]);

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
}

#[tokio::test]
async fn changed_connection_details_patch_only_the_changed_keys() {
    let (db, cloud) = in_sync_with_endpoint("new.example");
    let stored = secret(
        "uid-db",
        json!({ "endpoint": "ZGIuZXhhbXBsZQ==", "port": "NTQzMg==", "password": "c2VjcmV0" }),
    );
    let mut script = usage_already_recorded(&db);
    script.extend([
        get(SECRET).returns(stored.clone()),
        patch(format!("{SECRET}?"), json!({ "data": { "endpoint": "bmV3LmV4YW1wbGU=" } }))
            .returns(stored),
    ]);

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
}

#[tokio::test]
async fn a_secret_controlled_by_another_object_is_refused() {
    let (db, cloud) = in_sync_with_endpoint("db.example");
    let message = "cannot publish connection details: Secret crossplane-system/db-conn is controlled by Database/other";
    let mut theirs = secret("uid-other", json!({}));
    theirs["metadata"]["ownerReferences"][0]["name"] = json!("other");
    let mut script = usage_already_recorded(&db);
    script.extend([
        get(SECRET).returns(theirs),
        warning("CannotPublishConnectionDetails", message),
        status_patch(&db, json!([ready_available(), sync_failed(message)])),
    ]);

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
}
