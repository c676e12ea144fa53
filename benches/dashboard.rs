//! Dashboard benchmark (a binary, not a test): renders the overview through the router from
//! caches filled with N claims, each with its composite and RDSInstance (3·N objects), and
//! prints median and p95 latencies. `cargo bench --bench dashboard [-- N]`; default N = 2000.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use kube::api::DynamicObject;
use kube::core::ApiResource;
use kube::runtime::watcher;
use serde_json::json;
use tower::ServiceExt as _;

use crosstie::web::{Caches, Config, Role, WebState, router};

const ITERATIONS: usize = 50;

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn condition(type_: &str, status: &str, reason: &str) -> serde_json::Value {
    json!({"type": type_, "status": status, "reason": reason, "lastTransitionTime": "2026-11-22T03:00:00Z"})
}

fn fill(caches: &Caches, claims: usize) {
    let kinds = [
        (
            Role::Claim,
            resource(
                "database.crosstie.io",
                "v1alpha1",
                "PostgreSQLInstance",
                "postgresqlinstances",
            ),
        ),
        (
            Role::Composite,
            resource(
                "database.crosstie.io",
                "v1alpha1",
                "XPostgreSQLInstance",
                "xpostgresqlinstances",
            ),
        ),
        (
            Role::Managed,
            resource("database.aws.crossplane.io", "v1beta1", "RDSInstance", "rdsinstances"),
        ),
    ];
    for (role, ar) in kinds {
        let mut writer = caches.add_kind(role, ar.clone()).unwrap();
        for i in 0..claims {
            let ready = if i % 10 == 0 { "False" } else { "True" };
            let (name, namespace) = match role {
                Role::Claim => (format!("db-{i}"), Some(format!("team-{}", i % 40))),
                Role::Composite => (format!("db-{i}-x7k2p"), None),
                Role::Managed => (format!("db-{i}-x7k2p-4e683"), None),
            };
            let object = json!({
                "apiVersion": ar.api_version, "kind": ar.kind,
                "metadata": {"name": name, "namespace": namespace, "uid": format!("{i}-{}", ar.kind),
                    "annotations": {"crossplane.io/external-name": name}},
                "spec": {"parameters": {"storageGB": 20, "subnetIds": ["subnet-a", "subnet-b"]}},
                "status": {"conditions": [condition("Synced", "True", "ReconcileSuccess"), condition("Ready", ready, "Available")],
                    "atProvider": {"dbInstanceStatus": "available"}},
            });
            let object: DynamicObject = serde_json::from_value(object).unwrap();
            writer.apply_watcher_event(&watcher::Event::Apply(object));
        }
    }
}

fn summary(label: &str, mut samples: Vec<Duration>, bytes: usize) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label}: median {:.1} ms, p95 {:.1} ms, {} KiB of HTML ({} runs)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        bytes / 1024,
        samples.len()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let claims: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let (caches, _writers) = Caches::new();
    fill(&caches, claims);
    let (service, _handle) =
        tower_test::mock::pair::<Request<kube::client::Body>, http::Response<kube::client::Body>>();
    let client = kube::Client::new(service, "default");
    let config = Config { token: "bench".into(), read_only: false, git: None };
    let app = router(WebState::new(Arc::new(caches), client, config));

    let login = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("token=bench&name=Bench&email=bench%40example.org"))
        .unwrap();
    let response = app.clone().oneshot(login).await.unwrap();
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    println!("overview with {claims} claims ({} objects in the caches)", claims * 3);
    for (label, uri) in [
        ("all objects", "/"),
        ("one namespace", "/?namespace=team-7"),
        ("status=progressing", "/?status=progressing"),
        ("text search", "/?q=db-1999"),
    ] {
        let mut samples = Vec::with_capacity(ITERATIONS);
        let mut bytes = 0;
        for _ in 0..ITERATIONS {
            let request =
                Request::get(uri).header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
            let start = Instant::now();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            bytes = response.into_body().collect().await.unwrap().to_bytes().len();
            samples.push(start.elapsed());
        }
        summary(label, samples, bytes);
    }
}
