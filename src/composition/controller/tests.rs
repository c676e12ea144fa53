//! Request-level scenarios for the controllers against kube's `tower-test` mock API server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::DynamicObject;
use kube::client::Body;
use kube::discovery::{ApiResource, Scope};
use kube::runtime::controller::Action;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{reflector, watcher};
use serde_json::{Value, json};

use super::definition::{KindContext, Settings, resource_of};
use super::secrets::ConnectionSecrets;
use super::{Context, claim, composite};
use crate::composition::Observed;
use crate::composition::composite::with_desired_hash;
use crate::composition::render::composed_name;
use crate::composition::types::Composition;
use crate::composition::xrd::ServedKind;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn kind(kind: &str, plural: &str) -> ServedKind {
    ServedKind {
        group: "database.crosstie.io".into(),
        version: "v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn context() -> (Arc<KindContext>, Handle) {
    context_with(&[])
}

/// A context whose Composition cache holds `compositions` and which knows the `Thing`
/// (`example.org/v1`, cluster-scoped) and `Secret` kinds without discovery.
fn context_with(compositions: &[Value]) -> (Arc<KindContext>, Handle) {
    context_with_secrets(compositions, &[])
}

/// As [`context_with`], with `secrets` in the cache of connection Secrets.
fn context_with_secrets(compositions: &[Value], secrets: &[Value]) -> (Arc<KindContext>, Handle) {
    let mut secret_cache = Writer::<Secret>::default();
    secret_cache.apply_watcher_event(&watcher::Event::InitDone);
    for secret in secrets {
        let secret = serde_json::from_value(secret.clone()).expect("a Secret");
        secret_cache.apply_watcher_event(&watcher::Event::Apply(secret));
    }
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let mut writer = reflector::store::Writer::new(ApiResource::erase::<Composition>(&()));
    let store = writer.as_reader();
    for c in compositions {
        let object: DynamicObject =
            serde_json::from_value(c.clone()).expect("a Composition object");
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
    let things = ApiResource {
        group: "example.org".into(),
        version: "v1".into(),
        api_version: "example.org/v1".into(),
        kind: "Thing".into(),
        plural: "things".into(),
    };
    let secrets = ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Secret".into(),
        plural: "secrets".into(),
    };
    let kinds = HashMap::from([
        (("example.org/v1".to_owned(), "Thing".to_owned()), (things, Scope::Cluster)),
        (("v1".to_owned(), "Secret".to_owned()), (secrets, Scope::Namespaced)),
    ]);
    let shared = Arc::new(Context {
        recorder: super::recorder(&client),
        client,
        compositions: store,
        kinds: Mutex::new(kinds),
        served: Mutex::default(),
        composition_changes: tokio::sync::watch::Sender::new(0),
        parsed: Mutex::default(),
        secrets: Arc::new(ConnectionSecrets::new(secret_cache.as_reader())),
        metrics: Default::default(),
    });
    let composite = kind("XPostgreSQLInstance", "xpostgresqlinstances");
    let composite_resource = resource_of(&composite);
    let ctx = KindContext {
        shared,
        composite_cache: Writer::new(composite_resource.clone()).as_reader(),
        composite_resource,
        composite,
        claim_resource: Some(resource_of(&kind("PostgreSQLInstance", "postgresqlinstances"))),
        settings: Arc::new(RwLock::new(Settings::default())),
        composed_cache: HashMap::new(),
        composed_states: Default::default(),
        composite_passes: Default::default(),
        claim_passes: Default::default(),
        composite_wake: futures::channel::mpsc::unbounded().0,
        claim_wake: futures::channel::mpsc::unbounded().0,
    };
    (Arc::new(ctx), handle)
}

/// Awaits the next request, checks method and path, and answers with `status` and `body`.
async fn expect(handle: &mut Handle, method: &str, path: &str, status: u16, body: Value) -> Value {
    let (request, send) = handle.next_request().await.expect("another request");
    assert_eq!(request.method().as_str(), method, "method of {}", request.uri());
    assert_eq!(request.uri().path(), path);
    let bytes = request.into_body().collect().await.expect("body").to_bytes();
    let sent = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    let response = Response::builder()
        .status(status)
        .body(Body::from(serde_json::to_vec(&body).expect("response")))
        .expect("response");
    send.send_response(response);
    sent
}

/// Expects the Warning event a failing composite or claim records, and returns its note.
async fn expect_warning(handle: &mut Handle, reason: &str) -> String {
    let event =
        expect(handle, "POST", "/apis/events.k8s.io/v1/namespaces/default/events", 201, json!({}))
            .await;
    assert_eq!((&event["type"], &event["reason"]), (&json!("Warning"), &json!(reason)));
    event["note"].as_str().unwrap_or_default().to_owned()
}

fn claim_object() -> Value {
    json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "PostgreSQLInstance",
        "metadata": {"name": "orders-db", "namespace": "team-a", "uid": "c-1", "resourceVersion": "1"},
        "spec": {"parameters": {"storageGB": 20}, "writeConnectionSecretToRef": {"name": "orders-db-conn"}},
    })
}

const CLAIM_PATH: &str =
    "/apis/database.crosstie.io/v1alpha1/namespaces/team-a/postgresqlinstances/orders-db";

#[tokio::test]
async fn a_new_claim_records_its_composite_name_before_creating_the_composite() {
    let (ctx, mut handle) = context();
    let claim: DynamicObject = serde_json::from_value(claim_object()).unwrap();
    let reconcile = tokio::spawn(claim::reconcile(Arc::new(claim), ctx));

    // One write binds the composite's name and adds the finalizer, conditional on the claim's
    // resourceVersion: a reconcile of a stale copy gets a conflict instead of a second composite.
    let bind = expect(&mut handle, "PATCH", CLAIM_PATH, 200, claim_object()).await;
    assert_eq!(bind["metadata"]["finalizers"], json!(["finalizer.apiextensions.crossplane.io"]));
    assert_eq!(bind["metadata"]["resourceVersion"], claim_object()["metadata"]["resourceVersion"]);
    let composite = bind["spec"]["resourceRef"]["name"].as_str().expect("bound name").to_owned();
    assert!(composite.starts_with("orders-db-") && composite.len() == "orders-db-".len() + 5);
    let composite_path =
        format!("/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/{composite}");

    // The name is new, so the composite is created without a GET: only the cache could know
    // an older composite of that name.
    let applied = json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "XPostgreSQLInstance",
        "metadata": {"name": composite, "uid": "x-1"},
        "spec": {"parameters": {"storageGB": 20}},
        "status": {"conditions": [
            {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
            {"type": "Ready", "status": "False", "reason": "Creating", "message": "Unready resources: rdsinstance"},
        ]},
    });
    let sent = expect(&mut handle, "PATCH", &composite_path, 200, applied).await;
    assert_eq!(sent["metadata"]["labels"]["crossplane.io/claim-name"], "orders-db");
    assert_eq!(sent["spec"]["claimRef"]["namespace"], "team-a");
    assert!(
        sent["spec"]["writeConnectionSecretToRef"].is_null(),
        "claim-only fields stay on the claim"
    );

    let status =
        expect(&mut handle, "PATCH", &format!("{CLAIM_PATH}/status"), 200, claim_object()).await;
    let ready = &status["status"]["conditions"][1];
    assert_eq!(ready["status"], "False");
    assert_eq!(
        ready["message"],
        format!(
            "composite resource XPostgreSQLInstance/{composite}: Unready resources: rdsinstance"
        )
    );

    let action =
        tokio::time::timeout(Duration::from_secs(5), reconcile).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_SETTLING));
}

/// The claim being deleted, naming `composite` in its resourceRef.
fn deleting_claim(composite: &str) -> Value {
    let mut object = claim_object();
    object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    object["metadata"]["finalizers"] = json!(["finalizer.apiextensions.crossplane.io"]);
    object["spec"]["resourceRef"] = json!({"apiVersion": "database.crosstie.io/v1alpha1", "kind": "XPostgreSQLInstance", "name": composite});
    object
}

/// Expects the claim's finalizer to be removed, ending the pass until the next change.
async fn expect_release(
    handle: &mut Handle,
    claim: Value,
    pass: tokio::task::JoinHandle<Result<Action, super::Error>>,
) {
    let release = expect(handle, "PATCH", CLAIM_PATH, 200, claim).await;
    assert_eq!(release["metadata"]["finalizers"], json!([]));
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn deleting_a_claim_deletes_its_composite_and_waits_then_its_secret_before_releasing_it() {
    let (ctx, mut handle) = context();
    let object = deleting_claim("orders-db-abcde");
    let claim: DynamicObject = serde_json::from_value(object.clone()).unwrap();
    let composite_path = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/orders-db-abcde";
    let composite = json!({
        "apiVersion": "database.crosstie.io/v1alpha1", "kind": "XPostgreSQLInstance",
        "metadata": {"name": "orders-db-abcde", "uid": "x-1", "resourceVersion": "7"},
        "spec": {"claimRef": {"apiVersion": "database.crosstie.io/v1alpha1", "kind": "PostgreSQLInstance", "name": "orders-db", "namespace": "team-a"}},
    });

    // First pass: the composite exists, so it is deleted and the claim keeps its finalizer.
    let pass = tokio::spawn(claim::reconcile(Arc::new(claim.clone()), ctx.clone()));
    expect(&mut handle, "GET", composite_path, 200, composite.clone()).await;
    let delete = expect(&mut handle, "DELETE", composite_path, 200, composite).await;
    assert_eq!(
        delete["preconditions"],
        json!({"resourceVersion": "7", "uid": "x-1"}),
        "only the composite found bound to the claim is deleted"
    );
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_UNREADY));

    // Second pass: the composite is gone, so the finalizer is released.
    let pass = tokio::spawn(claim::reconcile(Arc::new(claim), ctx));
    let not_found = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404});
    expect(&mut handle, "GET", composite_path, 404, not_found).await;
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "orders-db-conn", "namespace": "team-a", "ownerReferences": [
            {"apiVersion": "v1", "kind": "PostgreSQLInstance", "name": "orders-db", "uid": "c-1", "controller": true},
        ]},
    });
    let secret_path = "/api/v1/namespaces/team-a/secrets/orders-db-conn";
    expect(&mut handle, "GET", secret_path, 200, secret.clone()).await;
    expect(&mut handle, "DELETE", secret_path, 200, secret).await;
    expect_release(&mut handle, object, pass).await;
}

#[tokio::test]
async fn deleting_a_claim_refused_binding_leaves_the_other_claims_composite_and_releases_it() {
    let (ctx, mut handle) = context();
    let mut object = deleting_claim("victim-gk6mc");
    object["status"]["conditions"] = json!([{"type": "Synced", "status": "False", "reason": "ReconcileError",
        "message": "cannot bind composite resource XPostgreSQLInstance/victim-gk6mc: it is claimed by another claim"}]);
    let claim: DynamicObject = serde_json::from_value(object.clone()).unwrap();
    let composite_path = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/victim-gk6mc";
    let victims = json!({
        "apiVersion": "database.crosstie.io/v1alpha1", "kind": "XPostgreSQLInstance",
        "metadata": {"name": "victim-gk6mc", "uid": "x-9", "resourceVersion": "3"},
        "spec": {"claimRef": {"apiVersion": "database.crosstie.io/v1alpha1", "kind": "PostgreSQLInstance", "name": "victim", "namespace": "lab"}},
    });

    let pass = tokio::spawn(claim::reconcile(Arc::new(claim), ctx));
    expect(&mut handle, "GET", composite_path, 200, victims).await;
    // No DELETE of the composite: straight to the claim's own Secret and its finalizer.
    let secret_path = "/api/v1/namespaces/team-a/secrets/orders-db-conn";
    let not_found = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404});
    expect(&mut handle, "GET", secret_path, 404, not_found).await;
    expect_release(&mut handle, object, pass).await;
}

#[tokio::test]
async fn a_composite_composing_a_kind_nobody_serves_can_still_be_deleted() {
    let (ctx, mut handle) = context();
    let xr = json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "XPostgreSQLInstance",
        "metadata": {"name": "net-x7k2p", "uid": "x-1", "resourceVersion": "4",
            "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["composite.apiextensions.crossplane.io"]},
        "spec": {"resourceRefs": [
            {"apiVersion": "ec2.aws.crossplane.io/v1beta1", "kind": "VPC", "name": "net-x7k2p-vpc"},
            {"apiVersion": "example.org/v1", "kind": "Thing", "name": "net-x7k2p-thing"},
        ]},
    });
    let object: DynamicObject = serde_json::from_value(xr.clone()).unwrap();
    let pass = tokio::spawn(composite::reconcile(Arc::new(object), ctx));

    let not_found = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404});
    // Discovery of the unserved group version: there can be no VPC left to delete.
    expect(&mut handle, "GET", "/apis/ec2.aws.crossplane.io/v1beta1", 404, not_found.clone()).await;
    expect(&mut handle, "GET", "/apis/example.org/v1/things/net-x7k2p-thing", 404, not_found).await;
    let path = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/net-x7k2p";
    let release = expect(&mut handle, "PATCH", path, 200, xr).await;
    assert_eq!(release["metadata"]["finalizers"], json!([]));
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn a_composite_composing_a_kind_nobody_serves_reports_it_and_still_composes_the_rest() {
    let composition = composition(
        "net",
        json!([
            {"name": "vpc", "base": {"apiVersion": "ec2.aws.crossplane.io/v1beta1", "kind": "VPC"}},
            {"name": "thing", "base": {"apiVersion": "example.org/v1", "kind": "Thing"}},
        ]),
    );
    let (ctx, mut handle) = context_with(&[composition]);
    let (vpc, thing_name) =
        (composed_name("net-x7k2p", "vpc"), composed_name("net-x7k2p", "thing"));
    // A later pass: both references were recorded by the first one.
    let xr = json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "XPostgreSQLInstance",
        "metadata": {"name": "net-x7k2p", "uid": "x-1", "finalizers": ["composite.apiextensions.crossplane.io"]},
        "spec": {"compositionRef": {"name": "net"}, "resourceRefs": [
            {"apiVersion": "ec2.aws.crossplane.io/v1beta1", "kind": "VPC", "name": vpc},
            {"apiVersion": "example.org/v1", "kind": "Thing", "name": thing_name},
        ]},
    });
    let object: DynamicObject = serde_json::from_value(xr).unwrap();
    let pass = tokio::spawn(composite::reconcile(Arc::new(object), ctx));

    let not_found = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404});
    let discovery = "/apis/ec2.aws.crossplane.io/v1beta1";
    // Observing: there is no VPC to read, and the Thing does not exist yet.
    expect(&mut handle, "GET", discovery, 404, not_found.clone()).await;
    let thing_path = format!("/apis/example.org/v1/things/{thing_name}");
    expect(&mut handle, "GET", &thing_path, 404, not_found.clone()).await;
    // Composing: the VPC cannot be, the Thing still is.
    expect(&mut handle, "GET", discovery, 404, not_found).await;
    let applied =
        expect(&mut handle, "PATCH", &thing_path, 200, thing(&thing_name, "thing", true)).await;
    assert_eq!(applied["metadata"]["ownerReferences"][0]["uid"], "x-1");
    let path = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/net-x7k2p/status";
    let status = expect(&mut handle, "PATCH", path, 200, json!({})).await;
    let synced = &status["status"]["conditions"][0];
    assert_eq!(
        (&synced["type"], &synced["status"], &synced["reason"]),
        (&json!("Synced"), &json!("False"), &json!("ReconcileError"))
    );
    assert_eq!(
        synced["message"],
        "cannot compose resource \"vpc\": no kind \"VPC\" is served in ec2.aws.crossplane.io/v1beta1 (is its provider installed?)"
    );
    expect_warning(&mut handle, "ComposeResources").await;
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_SETTLING));
}

/// A Composition `name` of XPostgreSQLInstances with these `resources`.
fn composition(name: &str, resources: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.crossplane.io/v1",
        "kind": "Composition",
        "metadata": {"name": name},
        "spec": {
            "compositeTypeRef": {"apiVersion": "database.crosstie.io/v1alpha1", "kind": "XPostgreSQLInstance"},
            "resources": resources,
        },
    })
}

fn thing(name: &str, resource: &str, ready: bool) -> Value {
    json!({
        "apiVersion": "example.org/v1",
        "kind": "Thing",
        "metadata": {"name": name, "annotations": {"crossplane.io/composition-resource-name": resource}},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": "Available"}]},
    })
}

#[tokio::test]
async fn a_composite_applies_what_renders_keeps_what_fails_and_deletes_what_was_removed() {
    let composition = composition(
        "things",
        json!([
            {"name": "a", "base": {"apiVersion": "example.org/v1", "kind": "Thing"}, "patches": [
                {"fromFieldPath": "spec.parameters.size", "toFieldPath": "spec.size"},
            ]},
            {"name": "b", "base": {"apiVersion": "example.org/v1", "kind": "Thing"}, "patches": [
                {"fromFieldPath": "spec.parameters.missing", "toFieldPath": "spec.x", "policy": {"fromFieldPath": "Required"}},
            ]},
        ]),
    );
    let (ctx, mut handle) = context_with(&[composition]);
    let xr = json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "XPostgreSQLInstance",
        "metadata": {"name": "db-x7k2p", "uid": "x-1", "finalizers": ["composite.apiextensions.crossplane.io"]},
        "spec": {
            "compositionRef": {"name": "things"},
            "parameters": {"size": "large"},
            "resourceRefs": [
                {"apiVersion": "example.org/v1", "kind": "Thing", "name": "db-x7k2p-aaaaa"},
                {"apiVersion": "example.org/v1", "kind": "Thing", "name": "db-x7k2p-old"},
            ],
        },
    });
    let object: DynamicObject = serde_json::from_value(xr).unwrap();
    let pass = tokio::spawn(composite::reconcile(Arc::new(object), ctx));

    expect(
        &mut handle,
        "GET",
        "/apis/example.org/v1/things/db-x7k2p-aaaaa",
        200,
        thing("db-x7k2p-aaaaa", "a", true),
    )
    .await;
    expect(
        &mut handle,
        "GET",
        "/apis/example.org/v1/things/db-x7k2p-old",
        200,
        thing("db-x7k2p-old", "removed", true),
    )
    .await;
    // The references are recorded before anything is applied.
    let refs = expect(
        &mut handle,
        "PATCH",
        "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/db-x7k2p",
        200,
        json!({}),
    )
    .await;
    assert_eq!(
        refs["spec"]["resourceRefs"],
        json!([{"apiVersion": "example.org/v1", "kind": "Thing", "name": "db-x7k2p-aaaaa"}]),
        "b never rendered and was never observed, so it has no reference yet"
    );
    assert!(refs["spec"]["parameters"].is_null(), "the claim's fields are left to the claim");
    let applied = expect(
        &mut handle,
        "PATCH",
        "/apis/example.org/v1/things/db-x7k2p-aaaaa",
        200,
        thing("db-x7k2p-aaaaa", "a", true),
    )
    .await;
    assert_eq!(applied["spec"]["size"], "large", "the edited parameter is re-rendered");
    assert_eq!(applied["metadata"]["ownerReferences"][0]["uid"], "x-1");
    expect(
        &mut handle,
        "DELETE",
        "/apis/example.org/v1/things/db-x7k2p-old",
        200,
        thing("db-x7k2p-old", "removed", true),
    )
    .await;
    let status = expect(
        &mut handle,
        "PATCH",
        "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/db-x7k2p/status",
        200,
        json!({}),
    )
    .await;
    let conditions = &status["status"]["conditions"];
    assert_eq!(
        conditions[0]["message"],
        "cannot compose resource \"b\": patch 0 (FromCompositeFieldPath spec.parameters.missing): required field path not found"
    );
    assert_eq!(conditions[1]["message"], "Unready resources: b");
    let note = expect_warning(&mut handle, "ComposeResources").await;
    assert_eq!(note, conditions[0]["message"], "kubectl describe says why, as the condition does");
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_SETTLING));
}

#[tokio::test]
async fn a_composite_is_judged_on_what_it_just_created_without_waiting_for_its_watch() {
    let composition = composition(
        "things",
        json!([{
            "name": "a",
            "base": {"apiVersion": "example.org/v1", "kind": "Thing"},
            "patches": [
                {"fromFieldPath": "spec.parameters.size", "toFieldPath": "spec.size"},
                {"type": "ToCompositeFieldPath", "fromFieldPath": "metadata.uid", "toFieldPath": "status.thingUID"},
            ],
            "readinessChecks": [{"type": "NonEmpty", "fieldPath": "metadata.uid"}],
        }]),
    );
    let (ctx, mut handle) = context_with(&[composition]);
    let xr = json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "XPostgreSQLInstance",
        "metadata": {"name": "db-q9w3e", "uid": "x-2", "finalizers": ["composite.apiextensions.crossplane.io"]},
        "spec": {"compositionRef": {"name": "things"}, "parameters": {"size": "small"}},
    });
    let object: DynamicObject = serde_json::from_value(xr).unwrap();
    let pass = tokio::spawn(composite::reconcile(Arc::new(object), ctx.clone()));

    let path = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/db-q9w3e";
    expect(&mut handle, "PATCH", path, 200, json!({})).await;
    // The server answers the create with the object as stored: with a uid.
    let (request, send) = handle.next_request().await.expect("the create");
    assert_eq!(request.method().as_str(), "PATCH");
    assert!(request.uri().path().starts_with("/apis/example.org/v1/things/db-q9w3e-"));
    let bytes = request.into_body().collect().await.expect("body").to_bytes();
    let mut created: Value = serde_json::from_slice(&bytes).expect("JSON body");
    created["metadata"]["uid"] = json!("t-1");
    send.send_response(Response::new(Body::from(serde_json::to_vec(&created).unwrap())));
    let status = expect(&mut handle, "PATCH", &format!("{path}/status"), 200, json!({})).await;
    assert_eq!(status["status"]["thingUID"], "t-1", "patched from the created object");
    assert_eq!(status["status"]["conditions"][1]["status"], "True", "{status}");
    tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn an_invalid_xrd_reports_established_false_with_the_reason_and_creates_no_crd() {
    let (ctx, mut handle) = context();
    let object = json!({
        "apiVersion": "apiextensions.crossplane.io/v1",
        "kind": "CompositeResourceDefinition",
        "metadata": {"name": "xthings.example.org", "uid": "d-1"},
        "spec": {
            "group": "example.org",
            "names": {"kind": "XThing", "plural": "xthings"},
            "claimNames": {"kind": "XThing", "plural": "things"},
            "versions": [{"name": "v1", "served": true, "referenceable": true}],
        },
    });
    let xrd: crate::composition::CompositeResourceDefinition =
        serde_json::from_value(object.clone()).unwrap();
    let pass = tokio::spawn(super::definition::reconcile(Arc::new(xrd), ctx.shared.clone()));
    let path = "/apis/apiextensions.crossplane.io/v1/compositeresourcedefinitions/xthings.example.org/status";
    let status = expect(&mut handle, "PATCH", path, 200, object).await;
    let established = &status["status"]["conditions"][0];
    assert_eq!(established["type"], "Established");
    assert_eq!(established["status"], "False");
    assert_eq!(established["reason"], "InvalidDefinition");
    assert_eq!(
        established["message"],
        "invalid CompositeResourceDefinition: spec.claimNames.kind: must differ from spec.names.kind (\"XThing\")"
    );
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_ERROR));
}

#[test]
fn a_conflict_is_retried_at_once_and_other_errors_back_off() {
    let xr: Arc<DynamicObject> =
        Arc::new(serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap());
    let error = |code| super::Error::Kube {
        context: "cannot update x".into(),
        source: kube::Error::Api(
            kube::core::Status::failure("boom", "Reason").with_code(code).boxed(),
        ),
    };
    let conflict = super::error_policy(xr.clone(), &error(409), Arc::new(()));
    assert_eq!(conflict, Action::requeue(Duration::from_millis(200)));
    let other = super::error_policy(xr, &error(500), Arc::new(()));
    assert_eq!(other, Action::requeue(super::REQUEUE_ERROR));
}

#[test]
fn an_api_error_reads_as_the_servers_message_in_conditions() {
    let error = super::Error::Kube {
        context: "cannot apply composed resource \"db\"".into(),
        source: kube::Error::Api(
            kube::core::Status::failure("spec.size: Invalid value: 0", "Invalid")
                .with_code(422)
                .boxed(),
        ),
    };
    assert_eq!(
        error.to_string(),
        "cannot apply composed resource \"db\": spec.size: Invalid value: 0"
    );
}

/// Who controls the composite's Secret `crossplane-system/x-1`, if the composite published it.
#[derive(Clone, Copy, PartialEq)]
enum Published {
    Not,
    ControlledByComposite,
    ControlledByOther,
}

/// A bound, ready claim whose composite is in the `published` state.
async fn reconcile_bound_claim_with_secret(published: Published) -> (Option<Value>, Value) {
    let owner_uid = if published == Published::ControlledByComposite { "x-1" } else { "other" };
    let source = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "x-1", "namespace": "crossplane-system", "ownerReferences": [
            {"apiVersion": "v1", "kind": "X", "name": "n", "uid": owner_uid, "controller": true},
        ]},
        "type": "connection.crossplane.io/v1alpha1",
        "data": {"endpoint": "ZGIuZXhhbXBsZS5vcmc=", "password": "cHc="},
    });
    let cached: &[Value] = if published == Published::Not { &[] } else { &[source] };
    let (ctx, mut handle) = context_with_secrets(&[], cached);
    let mut claim = claim_object();
    claim["metadata"]["finalizers"] = json!(["finalizer.apiextensions.crossplane.io"]);
    claim["spec"]["resourceRef"] = json!({"apiVersion": "database.crosstie.io/v1alpha1", "kind": "XPostgreSQLInstance", "name": "orders-db-abcde"});
    let object: DynamicObject = serde_json::from_value(claim.clone()).unwrap();
    let pass = tokio::spawn(claim::reconcile(Arc::new(object), ctx));
    let composite = json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "XPostgreSQLInstance",
        "metadata": {"name": "orders-db-abcde", "uid": "x-1"},
        "spec": {
            "claimRef": {"name": "orders-db", "namespace": "team-a"},
            "writeConnectionSecretToRef": {"name": "x-1", "namespace": "crossplane-system"},
        },
        "status": {"endpoint": "db.example.org", "conditions": [
            {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
            {"type": "Ready", "status": "True", "reason": "Available"},
        ], "connectionDetails": {"lastPublishedTime": "2026-11-22T10:00:00Z"}},
    });
    let mut composite = composite;
    if published == Published::Not {
        composite["status"]["connectionDetails"].take();
    }
    let composite_path = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/orders-db-abcde";
    expect(&mut handle, "GET", composite_path, 200, composite.clone()).await;
    expect(&mut handle, "PATCH", composite_path, 200, composite).await;
    // The composite's Secret is read from the cache, and the claim's is not there yet.
    let mut copied = None;
    if published == Published::ControlledByComposite {
        let target = "/api/v1/namespaces/team-a/secrets/orders-db-conn";
        let copy = json!({"metadata": {"name": "orders-db-conn", "namespace": "team-a"}});
        copied = Some(expect(&mut handle, "PATCH", target, 200, copy).await);
    }
    let status = expect(&mut handle, "PATCH", &format!("{CLAIM_PATH}/status"), 200, claim).await;
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_READY));
    (copied, status["status"].clone())
}

#[tokio::test]
async fn a_ready_claim_gets_its_composites_connection_secret_in_its_namespace() {
    let (copied, status) =
        reconcile_bound_claim_with_secret(Published::ControlledByComposite).await;
    let copied = copied.expect("the Secret is copied");
    assert_eq!(copied["metadata"]["namespace"], "team-a");
    assert_eq!(copied["type"], "connection.crossplane.io/v1alpha1");
    assert_eq!(copied["data"], json!({"endpoint": "ZGIuZXhhbXBsZS5vcmc=", "password": "cHc="}));
    assert_eq!(copied["metadata"]["ownerReferences"][0]["uid"], "c-1");
    assert!(status["connectionDetails"]["lastPublishedTime"].is_string());
    assert_eq!(status["endpoint"], "db.example.org", "composite status fields reach the claim");
    assert_eq!(status["conditions"][1]["status"], "True");
}

#[tokio::test]
async fn a_secret_the_composite_does_not_control_is_never_copied_to_the_claim() {
    let (copied, status) = reconcile_bound_claim_with_secret(Published::ControlledByOther).await;
    assert!(copied.is_none());
    assert!(status["connectionDetails"].is_null());
}

#[tokio::test]
async fn a_claim_reads_no_secret_before_its_composite_has_published_one() {
    // The scripted requests go straight from the composite to the claim's status.
    let (copied, status) = reconcile_bound_claim_with_secret(Published::Not).await;
    assert!(copied.is_none());
    assert!(status["connectionDetails"].is_null());
    assert_eq!(status["endpoint"], "db.example.org", "the rest of the status still flows");
}

#[tokio::test]
async fn a_malformed_composition_fails_only_its_composites_with_the_parse_error() {
    let bad = composition(
        "bad",
        json!([{"name": "a", "base": {}, "patches": [{"type": "FromNowhere", "fromFieldPath": "x"}]}]),
    );
    let (ctx, mut handle) = context_with(&[bad]);
    let xr = json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "XPostgreSQLInstance",
        "metadata": {"name": "db-x7k2p", "uid": "x-1", "finalizers": ["composite.apiextensions.crossplane.io"]},
        "spec": {"compositionRef": {"name": "bad"}},
    });
    let object: DynamicObject = serde_json::from_value(xr).unwrap();
    let pass = tokio::spawn(composite::reconcile(Arc::new(object), ctx));
    let path = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/db-x7k2p/status";
    let status = expect(&mut handle, "PATCH", path, 200, json!({})).await;
    let synced = &status["status"]["conditions"][0];
    assert_eq!(synced["status"], "False");
    let message = synced["message"].as_str().unwrap();
    assert!(
        message.starts_with("cannot use composition \"bad\": unknown variant `FromNowhere`"),
        "{message}"
    );
    assert_eq!(expect_warning(&mut handle, "SelectComposition").await, message);
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_ERROR));
}

/// Answers requests other than `path` (the controllers started for the XRD list and watch)
/// with empty lists, and returns the body sent to `path`.
async fn expect_among_watches(handle: &mut Handle, method: &str, path: &str, body: Value) -> Value {
    loop {
        let (request, send) = handle.next_request().await.expect("another request");
        if request.uri().path() != path {
            let empty = json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []});
            send.send_response(
                Response::builder().body(Body::from(serde_json::to_vec(&empty).unwrap())).unwrap(),
            );
            continue;
        }
        assert_eq!(request.method().as_str(), method);
        let bytes = request.into_body().collect().await.expect("body").to_bytes();
        send.send_response(
            Response::builder().body(Body::from(serde_json::to_vec(&body).unwrap())).unwrap(),
        );
        return serde_json::from_slice(&bytes).expect("JSON body");
    }
}

#[tokio::test]
async fn a_valid_xrd_applies_both_crds_owned_by_it_and_reports_established_and_offered() {
    let (ctx, mut handle) = context();
    let (object, xrd) = postgresql_xrd();
    let pass = tokio::spawn(super::definition::reconcile(Arc::new(xrd), ctx.shared.clone()));

    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    // The composite CRD is there from an earlier reconcile; the claim CRD is new.
    let composite_crd = crd("xpostgresqlinstances.database.crosstie.io", Some("d-1"));
    for (name, existing) in [
        ("xpostgresqlinstances.database.crosstie.io", Some(composite_crd)),
        ("postgresqlinstances.database.crosstie.io", None),
    ] {
        let crd_path = format!("{crds}/{name}");
        let applied = match existing {
            Some(existing) => {
                expect(&mut handle, "GET", &crd_path, 200, existing.clone()).await;
                let applied = expect(&mut handle, "PATCH", &crd_path, 200, existing).await;
                assert_eq!(applied["metadata"]["resourceVersion"], "5", "applied if still ours");
                applied
            }
            None => {
                expect(&mut handle, "GET", &crd_path, 404, not_found()).await;
                expect(&mut handle, "PATCH", &crd_path, 200, crd(name, Some("d-1"))).await
            }
        };
        assert_eq!(applied["metadata"]["name"], name);
        assert_eq!(applied["metadata"]["ownerReferences"][0]["uid"], "d-1");
        assert_eq!(applied["metadata"]["ownerReferences"][0]["controller"], true);
    }
    let empty = json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []});
    expect(
        &mut handle,
        "GET",
        "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances",
        200,
        empty.clone(),
    )
    .await;
    expect(
        &mut handle,
        "GET",
        "/apis/database.crosstie.io/v1alpha1/postgresqlinstances",
        200,
        empty,
    )
    .await;

    let status_path = "/apis/apiextensions.crossplane.io/v1/compositeresourcedefinitions/xpostgresqlinstances.database.crosstie.io/status";
    let status = expect_among_watches(&mut handle, "PATCH", status_path, object).await;
    let conditions = &status["status"]["conditions"];
    assert_eq!(
        (&conditions[0]["type"], &conditions[0]["status"]),
        (&json!("Established"), &json!("True"))
    );
    assert_eq!(
        (&conditions[1]["type"], &conditions[1]["status"]),
        (&json!("Offered"), &json!("True"))
    );
    assert_eq!(
        status["status"]["controllers"],
        json!({
            "compositeResourceType": {"apiVersion": "database.crosstie.io/v1alpha1", "kind": "XPostgreSQLInstance"},
            "compositeResourceClaimType": {"apiVersion": "database.crosstie.io/v1alpha1", "kind": "PostgreSQLInstance"},
        })
    );
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_READY));
    assert!(
        ctx.shared.served.lock().unwrap().contains_key("xpostgresqlinstances.database.crosstie.io")
    );
}

fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})
}

/// A stored CRD `name`, controlled by the object with `controller` uid, if any.
fn crd(name: &str, controller: Option<&str>) -> Value {
    let owners: Vec<Value> = controller
        .into_iter()
        .map(|uid| json!({"apiVersion": "apiextensions.crossplane.io/v1", "kind": "CompositeResourceDefinition",
                          "name": "owner", "uid": uid, "controller": true}))
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": name, "uid": "crd-1", "resourceVersion": "5", "ownerReferences": owners},
    })
}

/// The shipped PostgreSQLInstance XRD, with uid `d-1`, as stored and as reconciled.
fn postgresql_xrd() -> (Value, crate::composition::CompositeResourceDefinition) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/compositions/xrd-postgresqlinstance.yaml");
    let mut object: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    object["metadata"]["uid"] = json!("d-1");
    let xrd = serde_json::from_value(object.clone()).unwrap();
    (object, xrd)
}

const XRD_STATUS: &str = "/apis/apiextensions.crossplane.io/v1/compositeresourcedefinitions/xpostgresqlinstances.database.crosstie.io/status";
const COMPOSITE_CRD: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/xpostgresqlinstances.database.crosstie.io";
const CLAIM_CRD: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/postgresqlinstances.database.crosstie.io";

#[tokio::test]
async fn an_xrd_never_takes_over_a_crd_it_does_not_control() {
    // Another XRD's CRD, and one of Crosstie's own (which has no owner at all).
    for controller in [Some("d-other"), None] {
        let (ctx, mut handle) = context();
        let (object, xrd) = postgresql_xrd();
        let pass = tokio::spawn(super::definition::reconcile(Arc::new(xrd), ctx.shared.clone()));
        let taken = crd("xpostgresqlinstances.database.crosstie.io", controller);
        expect(&mut handle, "GET", COMPOSITE_CRD, 200, taken).await;
        // Neither CRD is applied: straight to the XRD's status.
        let status = expect(&mut handle, "PATCH", XRD_STATUS, 200, object).await;
        assert_eq!(
            status["status"]["conditions"][0],
            json!({"type": "Established", "status": "False", "reason": "EstablishComposite",
                   "message": "cannot apply rendered composite resource CustomResourceDefinition: existing object is not controlled by UID \"d-1\"",
                   "lastTransitionTime": status["status"]["conditions"][0]["lastTransitionTime"]}),
            "controlled by {controller:?}"
        );
        let action =
            tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
        assert_eq!(action, Action::requeue(super::REQUEUE_ERROR));
        assert!(ctx.shared.served.lock().unwrap().is_empty(), "no controllers for its kinds");
    }
}

#[tokio::test]
async fn an_xrd_whose_claim_crd_belongs_to_another_serves_composites_but_offers_no_claims() {
    let (ctx, mut handle) = context();
    let (object, xrd) = postgresql_xrd();
    let pass = tokio::spawn(super::definition::reconcile(Arc::new(xrd), ctx.shared.clone()));
    let composite_crd = crd("xpostgresqlinstances.database.crosstie.io", Some("d-1"));
    expect(&mut handle, "GET", COMPOSITE_CRD, 200, composite_crd.clone()).await;
    expect(&mut handle, "PATCH", COMPOSITE_CRD, 200, composite_crd).await;
    let claims = crd("postgresqlinstances.database.crosstie.io", Some("d-other"));
    expect(&mut handle, "GET", CLAIM_CRD, 200, claims).await;
    let empty = json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []});
    let composites = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances";
    expect(&mut handle, "GET", composites, 200, empty).await;

    let status = expect_among_watches(&mut handle, "PATCH", XRD_STATUS, object).await;
    let conditions = &status["status"]["conditions"];
    assert_eq!(
        (&conditions[0]["type"], &conditions[0]["status"]),
        (&json!("Established"), &json!("True"))
    );
    assert_eq!(
        (&conditions[1]["type"], &conditions[1]["status"], &conditions[1]["reason"]),
        (&json!("Offered"), &json!("False"), &json!("OfferClaim"))
    );
    assert_eq!(
        conditions[1]["message"],
        "cannot apply rendered composite resource claim CustomResourceDefinition: existing object is not controlled by UID \"d-1\""
    );
    assert!(status["status"]["controllers"]["compositeResourceClaimType"].is_null());
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_ERROR));
}

#[tokio::test]
async fn an_xrd_whose_crd_the_api_server_rejects_reports_the_api_servers_reason() {
    let (ctx, mut handle) = context();
    let (object, xrd) = postgresql_xrd();
    let pass = tokio::spawn(super::definition::reconcile(Arc::new(xrd), ctx.shared.clone()));
    expect(&mut handle, "GET", COMPOSITE_CRD, 404, not_found()).await;
    let message = "CustomResourceDefinition.apiextensions.k8s.io \"xpostgresqlinstances.database.crosstie.io\" is invalid: spec.validation.openAPIV3Schema.properties[spec].properties[parameters].type: Required value: must not be empty for specified object fields";
    let invalid = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                         "reason": "Invalid", "code": 422, "message": message});
    expect(&mut handle, "PATCH", COMPOSITE_CRD, 422, invalid).await;
    let status = expect(&mut handle, "PATCH", XRD_STATUS, 200, object).await;
    let established = &status["status"]["conditions"][0];
    assert_eq!(
        (&established["type"], &established["status"], &established["reason"]),
        (&json!("Established"), &json!("False"), &json!("EstablishComposite"))
    );
    assert_eq!(
        established["message"],
        format!("cannot apply rendered composite resource CustomResourceDefinition: {message}")
    );
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_ERROR));
}

#[tokio::test]
async fn a_composed_resource_already_in_the_desired_state_is_not_written_again() {
    let composition = composition(
        "things",
        json!([{"name": "a", "base": {"apiVersion": "example.org/v1", "kind": "Thing"}, "patches": [
            {"fromFieldPath": "spec.parameters.size", "toFieldPath": "spec.size"},
        ]}]),
    );
    let (ctx, mut handle) = context_with(std::slice::from_ref(&composition));
    let reference =
        json!({"apiVersion": "example.org/v1", "kind": "Thing", "name": "db-x7k2p-aaaaa"});
    let xr = json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "XPostgreSQLInstance",
        "metadata": {"name": "db-x7k2p", "uid": "x-1", "finalizers": ["composite.apiextensions.crossplane.io"]},
        "spec": {"compositionRef": {"name": "things"}, "parameters": {"size": "large"}, "resourceRefs": [reference]},
    });
    // What the provider shows after the last apply: the desired state (with its hash) plus
    // fields it filled in itself.
    let parsed: Composition = serde_json::from_value(composition.clone()).unwrap();
    let seen = Observed::from_objects([thing("db-x7k2p-aaaaa", "a", true)]);
    let rendered = crate::composition::render(&xr, &parsed, &seen).unwrap();
    let mut observed = with_desired_hash(rendered.composed().next().unwrap().clone());
    observed["spec"]["lateInitialized"] = json!("by the provider");
    observed["status"] = thing("db-x7k2p-aaaaa", "a", true)["status"].clone();
    let object: DynamicObject = serde_json::from_value(xr).unwrap();
    let pass = tokio::spawn(composite::reconcile(Arc::new(object), ctx));

    expect(&mut handle, "GET", "/apis/example.org/v1/things/db-x7k2p-aaaaa", 200, observed).await;
    // Straight to the status: no apply of the unchanged resource, no spec patch.
    let path = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/db-x7k2p/status";
    let status = expect(&mut handle, "PATCH", path, 200, json!({})).await;
    assert_eq!(status["status"]["conditions"][1]["status"], "True");
    let action =
        tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    assert_eq!(action, Action::requeue(super::REQUEUE_READY));
}

#[tokio::test]
async fn a_composite_reads_no_connection_secret_of_a_resource_that_has_reported_nothing_yet() {
    let secret_ref = |name: &str| json!({"name": name, "namespace": "crossplane-system"});
    let composition = composition(
        "things",
        json!([
            {"name": "a", "base": {"apiVersion": "example.org/v1", "kind": "Thing",
                "spec": {"writeConnectionSecretToRef": secret_ref("a-conn")}}},
            {"name": "b", "base": {"apiVersion": "example.org/v1", "kind": "Thing",
                "spec": {"writeConnectionSecretToRef": secret_ref("b-conn")}}},
        ]),
    );
    let (ctx, mut handle) = context_with(std::slice::from_ref(&composition));
    let shared = ctx.shared.clone();
    let names = ["db-x7k2p-aaaaa", "db-x7k2p-bbbbb"];
    let refs: Vec<Value> = names
        .iter()
        .map(|n| json!({"apiVersion": "example.org/v1", "kind": "Thing", "name": n}))
        .collect();
    let xr = json!({
        "apiVersion": "database.crosstie.io/v1alpha1",
        "kind": "XPostgreSQLInstance",
        "metadata": {"name": "db-x7k2p", "uid": "x-1", "finalizers": ["composite.apiextensions.crossplane.io"]},
        "spec": {"compositionRef": {"name": "things"}, "resourceRefs": refs},
    });
    // Both as last applied; `a` has reported conditions, `b` (not created yet) nothing.
    let parsed: Composition = serde_json::from_value(composition.clone()).unwrap();
    let seen = Observed::from_objects([thing(names[0], "a", true), thing(names[1], "b", false)]);
    let rendered = crate::composition::render(&xr, &parsed, &seen).unwrap();
    let mut observed: Vec<Value> =
        rendered.composed().map(|c| with_desired_hash(c.clone())).collect();
    observed.sort_by_key(|o| o["metadata"]["name"].as_str().unwrap_or_default().to_owned());
    observed[0]["status"] = thing(names[0], "a", true)["status"].clone();
    let object: DynamicObject = serde_json::from_value(xr).unwrap();
    let pass = tokio::spawn(composite::reconcile(Arc::new(object), ctx));

    for (name, object) in names.iter().zip(observed) {
        expect(&mut handle, "GET", &format!("/apis/example.org/v1/things/{name}"), 200, object)
            .await;
    }
    // Straight to the status: the Secrets come from the cache.
    let path = "/apis/database.crosstie.io/v1alpha1/xpostgresqlinstances/db-x7k2p/status";
    let status = expect(&mut handle, "PATCH", path, 200, json!({})).await;
    assert_eq!(status["status"]["conditions"][1]["message"], "Unready resources: b");
    tokio::time::timeout(Duration::from_secs(5), pass).await.unwrap().unwrap().unwrap();
    let secrets = &shared.secrets;
    assert_eq!(secrets.readers("crossplane-system", "a-conn"), ["db-x7k2p"]);
    assert!(secrets.readers("crossplane-system", "b-conn").is_empty(), "b's is not read");
}

#[tokio::test]
async fn compositions_are_parsed_again_only_after_one_changed() {
    let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let mut writer = reflector::store::Writer::new(ApiResource::erase::<Composition>(&()));
    let client = kube::Client::new(service, "default");
    let shared = Context {
        recorder: super::recorder(&client),
        client,
        compositions: writer.as_reader(),
        kinds: Mutex::default(),
        served: Mutex::default(),
        composition_changes: tokio::sync::watch::Sender::new(0),
        parsed: Mutex::default(),
        secrets: Arc::new(ConnectionSecrets::new(Writer::<Secret>::default().as_reader())),
        metrics: Default::default(),
    };
    let composition = |resource_version: &str, patch_type: &str| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apiextensions.crossplane.io/v1",
            "kind": "Composition",
            "metadata": {"name": "orders", "resourceVersion": resource_version},
            "spec": {
                "compositeTypeRef": {"apiVersion": "example.org/v1", "kind": "XOrders"},
                "resources": [{"name": "a", "base": {},
                    "patches": [{"type": patch_type, "fromFieldPath": "x", "toFieldPath": "y"}]}],
            },
        }))
        .unwrap()
    };
    writer.apply_watcher_event(&watcher::Event::Apply(composition("1", "FromCompositeFieldPath")));
    let first = shared.compositions();
    assert_eq!(first.valid.len(), 1);
    assert!(Arc::ptr_eq(&first, &shared.compositions()), "nothing changed: the same parse");

    writer.apply_watcher_event(&watcher::Event::Apply(composition("2", "FromNowhere")));
    let changed = shared.compositions();
    assert!(changed.valid.is_empty(), "the change is seen");
    assert!(changed.invalid["orders"].contains("FromNowhere"), "{:?}", changed.invalid);
}

#[test]
fn a_composite_wakes_for_what_it_has_not_seen_of_its_composed_resources() {
    let states = super::ObservedStates::default();
    let version = |rv: &str, annotations: Value, status: Value| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "example.org/v1", "kind": "Thing",
            "metadata": {"name": "db-a", "resourceVersion": rv, "annotations": annotations},
            "spec": {"size": "small"}, "status": status,
        }))
        .unwrap()
    };
    let created = version("1", json!({}), json!({}));
    assert!(states.changed(&created), "first seen");
    assert!(!states.changed(&created), "seen again");
    let bookkeeping = json!({"crossplane.io/external-name": "db-a",
                             "crossplane.io/external-create-pending": "2026-01-01T00:00:00Z"});
    assert!(!states.changed(&version("2", bookkeeping.clone(), json!({}))));
    let ready = json!({"conditions": [{"type": "Ready", "status": "True"}]});
    assert!(states.changed(&version("3", bookkeeping.clone(), ready.clone())));
    states.deleted(&created);
    assert!(states.changed(&version("4", bookkeeping, json!({}))), "deleted: forgotten");
}

#[test]
fn the_composite_watch_wakes_each_controller_only_for_what_it_acts_on() {
    let mut seen = super::definition::SeenComposites::default();
    let version = |generation: u64, finalizers: Value, spec: Value, status: Value| {
        serde_json::from_value::<DynamicObject>(json!({
            "apiVersion": "example.org/v1", "kind": "XThing",
            "metadata": {"name": "db-a-x7k2p", "generation": generation, "finalizers": finalizers},
            "spec": spec, "status": status,
        }))
        .unwrap()
    };
    let spec = json!({"size": "small"});
    let created = version(1, json!([]), spec.clone(), json!({}));
    assert!(seen.desired_changed("db-a-x7k2p", &created), "first seen: composite");
    assert!(seen.content_changed("db-a-x7k2p", &mut created.clone()), "first seen: claim");

    let refs =
        json!({"size": "small", "resourceRefs": [{"kind": "Thing", "name": "db-a-x7k2p-db"}]});
    let mut saved = version(2, json!(["composite.apiextensions.crossplane.io"]), refs, json!({}));
    assert!(seen.desired_changed("db-a-x7k2p", &saved), "its finalizer and references: composite");
    assert!(!seen.content_changed("db-a-x7k2p", &mut saved), "nothing a claim mirrors");

    let ready = json!({"conditions": [{"type": "Ready", "status": "True"}]});
    let mut status = version(2, json!(["composite.apiextensions.crossplane.io"]), spec, ready);
    assert!(!seen.desired_changed("db-a-x7k2p", &status), "a status write: not the composite");
    assert!(seen.content_changed("db-a-x7k2p", &mut status), "but the claim mirrors it");

    seen.forget("db-a-x7k2p");
    assert!(seen.desired_changed("db-a-x7k2p", &status), "deleted: forgotten");
    assert!(seen.content_changed("db-a-x7k2p", &mut status), "deleted: forgotten");
}

#[test]
fn a_pass_is_not_run_again_for_the_echoes_of_its_own_writes() {
    let passes = super::Passes::default();
    let object = |name: &str, rv: &str| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "example.org/v1", "kind": "Thing",
            "metadata": {"name": name, "resourceVersion": rv},
        }))
        .unwrap()
    };
    assert!(
        passes.admit("db-a", super::version(&object("db-a", "1"))),
        "no pass ran yet: a change"
    );

    let pass = passes.start("db-a");
    // The echoes of its writes arrive before the writes' answers: held, not queued.
    assert!(!passes.admit("db-a", super::version(&object("db-a", "2"))));
    assert!(!passes.admit("db-a", super::version(&object("db-a-subnets", "3"))));
    passes.wrote("db-a", super::version(&object("db-a", "2")));
    passes.wrote("db-a", super::version(&object("db-a-subnets", "3")));
    passes.wrote("db-a", super::version(&object("db-a", "4")));
    assert!(!pass.end(), "everything held was its own");
    assert!(!passes.admit("db-a", super::version(&object("db-a", "4"))), "a late echo");
    assert!(
        passes.admit("db-a", super::version(&object("db-a-subnets", "5"))),
        "someone else's change"
    );

    let pass = passes.start("db-a");
    assert!(
        !passes.admit("db-a", super::version(&object("db-a-subnets", "6"))),
        "held while the pass runs"
    );
    passes.wrote("db-a", super::version(&object("db-a", "7")));
    assert!(pass.end(), "a change the pass did not make: run again");

    let other = passes.start("db-b");
    assert!(
        passes.admit("db-a", super::version(&object("db-a", "8"))),
        "another object's pass holds nothing"
    );
    drop(other);
    let cancelled = passes.start("db-a");
    drop(cancelled);
    assert!(
        passes.admit("db-a", super::version(&object("db-a", "9"))),
        "a pass dropped unfinished holds nothing"
    );
    passes.forget("db-a");
    assert!(passes.admit("db-a", super::version(&object("db-a", "7"))), "forgotten");
}
