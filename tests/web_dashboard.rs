//! The dashboard over filled watch caches, driven through the router with `oneshot`; writes go
//! to a recording tower-test mock API server.

mod web_support;

use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crosstie::web::{Caches, Config, Role, WebState, router};
use web_support::{App, app, app_with, cluster, config, fill, put, resource, send};

const XSS: &str = "<script>alert(1)</script>";

fn conditions(synced: (&str, &str, &str), ready: (&str, &str, &str)) -> Value {
    json!([
        {"type": "Synced", "status": synced.0, "reason": synced.1, "message": synced.2, "lastTransitionTime": "2026-11-22T03:00:00Z"},
        {"type": "Ready", "status": ready.0, "reason": ready.1, "message": ready.2, "lastTransitionTime": "2026-11-22T03:00:00Z"},
    ])
}

fn claim() -> Value {
    json!({
        "apiVersion": "database.crosstie.io/v1alpha1", "kind": "PostgreSQLInstance",
        "metadata": {"name": "orders-db", "namespace": "team-a", "uid": "claim-uid",
            "labels": {"team": XSS}, "annotations": {"note": XSS}},
        "spec": {
            "parameters": {"storageGB": 20, "subnetIds": ["subnet-a", "subnet-b"]},
            "resourceRef": {"apiVersion": "database.crosstie.io/v1alpha1", "kind": "XPostgreSQLInstance", "name": "orders-db-x7k2p"},
            "writeConnectionSecretToRef": {"name": "orders-db-conn"},
        },
        "status": {"conditions": conditions(("True", "ReconcileSuccess", ""), ("True", "Available", ""))},
    })
}

fn composite() -> Value {
    json!({
        "apiVersion": "database.crosstie.io/v1alpha1", "kind": "XPostgreSQLInstance",
        "metadata": {"name": "orders-db-x7k2p", "uid": "xr-uid",
            "labels": {"crossplane.io/claim-name": "orders-db", "crossplane.io/claim-namespace": "team-a"}},
        "spec": {
            "compositionRef": {"name": "xpostgresqlinstances.aws.database.crosstie.io"},
            "parameters": {"storageGB": 20, "size": "small", "version": "16", "region": "us-east-1", "subnetIds": ["subnet-a", "subnet-b"]},
            "resourceRefs": [{"apiVersion": "database.aws.crossplane.io/v1beta1", "kind": "RDSInstance", "name": "orders-db-x7k2p-4e683"}],
            "writeConnectionSecretToRef": {"name": "xr-conn", "namespace": "crossplane-system"},
        },
        "status": {"conditions": conditions(("True", "ReconcileSuccess", ""), ("True", "Available", ""))},
    })
}

/// The RDSInstance as the shipped Composition renders it, with storage changed by hand.
fn rds_instance() -> Value {
    json!({
        "apiVersion": "database.aws.crossplane.io/v1beta1", "kind": "RDSInstance",
        "metadata": {"name": "orders-db-x7k2p-4e683", "uid": "rds-uid",
            "annotations": {"crossplane.io/composition-resource-name": "rdsinstance", "crossplane.io/external-name": "orders-db-x7k2p-4e683"},
            "labels": {"crossplane.io/composite": "orders-db-x7k2p", "crossplane.io/claim-name": "orders-db", "crossplane.io/claim-namespace": "team-a"}},
        "spec": {
            "forProvider": {"allocatedStorage": 50, "applyModificationsImmediately": true, "dbInstanceClass": "db.t3.micro",
                "dbSubnetGroupName": "orders-db-x7k2p-subnets", "engine": "postgres", "engineVersion": "16",
                "masterUsername": "crosstie", "publiclyAccessible": false, "region": "us-east-1", "skipFinalSnapshotBeforeDeletion": true},
            "writeConnectionSecretToRef": {"name": "xr-uid-postgresql", "namespace": "crossplane-system"},
        },
        "status": {
            "atProvider": {"dbInstanceStatus": "available", "endpoint": {"address": "orders.example.aws"}},
            "conditions": conditions(("False", "ReconcileError", "update failed: updated external resource: allocatedStorage: 20 -> 50"), ("True", "Available", "")),
        },
    })
}

fn secret(name: &str, namespace: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
        "data": {"endpoint": "b3JkZXJzLmV4YW1wbGUuYXdz", "password": "aHVudGVyMg=="}})
}

fn kustomization(drift: bool) -> Value {
    let mut conds = vec![
        json!({"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied revision: main@sha1:abc123", "lastTransitionTime": "2026-11-22T03:00:00Z"}),
        json!({"type": "Healthy", "status": "True", "reason": "Succeeded", "message": "", "lastTransitionTime": "2026-11-22T03:00:00Z"}),
    ];
    if drift {
        conds.push(json!({"type": "Drifted", "status": "True", "reason": "DriftCorrected", "lastTransitionTime": "2026-11-22T03:00:00Z",
            "message": "reverted manual changes: PostgreSQLInstance/team-a/orders-db: /spec/parameters/storageGB"}));
    }
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"sourceRef": {"kind": "GitRepository", "name": "platform"}, "interval": "1m", "prune": true, "path": "./claims"},
        "status": {"conditions": conds, "lastAppliedRevision": "main@sha1:abc123",
            "inventory": {"entries": [{"id": "team-a_orders-db_database.crosstie.io_PostgreSQLInstance", "v": "v1alpha1"}]}},
    })
}

fn git_repository() -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "platform", "namespace": "flux-system"},
        "spec": {"url": "https://git.example.org/platform.git", "interval": "1m"},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "GitOperationFailed", "message": "failed to checkout: authentication required", "lastTransitionTime": "2026-11-22T03:00:00Z"}],
            "artifact": {"path": "p", "url": "u", "revision": "main@sha1:abc123", "lastUpdateTime": "2026-11-22T02:59:00Z"}},
    })
}

fn composition() -> Value {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("compositions/composition-postgresqlinstance-aws.yaml"),
    )
    .unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn filled(caches: &Caches, writers: &mut crosstie::web::CacheWriters) {
    fill(
        caches,
        Role::Claim,
        resource("database.crosstie.io", "PostgreSQLInstance", "postgresqlinstances"),
        &[claim()],
    );
    fill(
        caches,
        Role::Composite,
        resource("database.crosstie.io", "XPostgreSQLInstance", "xpostgresqlinstances"),
        &[composite()],
    );
    fill(
        caches,
        Role::Managed,
        resource("database.aws.crossplane.io", "RDSInstance", "rdsinstances"),
        &[rds_instance()],
    );
    put(&mut writers.kustomizations, kustomization(true));
    put(&mut writers.git_repositories, git_repository());
    put(&mut writers.compositions, composition());
    for (name, ns) in [
        ("orders-db-conn", "team-a"),
        ("xr-conn", "crossplane-system"),
        ("xr-uid-postgresql", "crossplane-system"),
    ] {
        put(&mut writers.secrets, secret(name, ns));
    }
    put(
        &mut writers.events,
        json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "rds.1", "namespace": "default"},
            "eventTime": "2026-11-22T03:01:00.000000Z", "reportingController": "crosstie", "reportingInstance": "x",
            "action": "Update", "type": "Normal", "reason": "UpdatedExternalResource",
            "note": "allocatedStorage: 20 -> 50",
            "regarding": {"apiVersion": "database.aws.crossplane.io/v1beta1", "kind": "RDSInstance", "name": "orders-db-x7k2p-4e683", "uid": "rds-uid"},
        }),
    );
}

async fn dashboard() -> App {
    app(config(), filled).await
}

#[tokio::test]
async fn pages_require_a_login_with_the_token_and_the_session_cookie_is_http_only_and_strict() {
    let (caches, _writers) = Caches::new();
    let (client, _) = web_support::mock_client();
    let router = router(crosstie::web::WebState::new(caches.into(), client, config()));

    let (status, headers, _) = send(&router, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login");

    let login = |token: &str| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}&name=Ada&email=ada%40example.org")))
            .unwrap()
    };
    let (status, headers, body) = send(&router, login("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert!(body.contains("Wrong token."));

    let (status, headers, _) = send(&router, login(web_support::TOKEN)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

    let session = cookie.split(';').next().unwrap();
    let request = Request::get("/").header(header::COOKIE, session).body(Body::empty()).unwrap();
    let (status, _, body) = send(&router, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<h1>Overview</h1>"));
}

#[tokio::test]
async fn the_overview_lists_sources_kustomizations_and_claims_from_the_caches_with_status() {
    let app = dashboard().await;
    let (status, page) = app.get("/").await;
    assert_eq!(status, StatusCode::OK);
    // Git source: URL, revision, last fetch, error.
    assert!(page.contains("https://git.example.org/platform.git"));
    assert!(page.contains("main@sha1:abc123"));
    assert!(page.contains("2026-11-22T02:59:00Z"));
    assert!(page.contains("GitOperationFailed: failed to checkout: authentication required"));
    // Kustomization: Ready, Healthy, last applied revision, drift link.
    assert!(page.contains(r#"<a href="/kustomizations/flux-system/apps">apps</a>"#));
    assert!(page.contains(r##"href="/kustomizations/flux-system/apps#drift">drifted</a>"##));
    // Claims, composites and managed resources with Synced/Ready.
    assert!(page.contains(
        r#"<a href="/tree/PostgreSQLInstance/orders-db?namespace=team-a">orders-db</a>"#
    ));
    assert!(page.contains(r#"<a href="/tree/RDSInstance/orders-db-x7k2p-4e683">"#));
    assert!(page.contains(r#"<span class="badge bad" title="Synced">False</span>"#));
    // Counts: the claim, composite and Kustomization are ready; the source and RDS fail.
    assert!(page.contains(r#"<strong data-count="ready">3</strong>"#), "{page}");
    assert!(page.contains(r#"<strong data-count="failing">2</strong>"#));

    let (_, failing) = app.get("/?status=failing").await;
    assert!(failing.contains("orders-db-x7k2p-4e683") && failing.contains("platform.git"));
    assert!(!failing.contains(r#"/tree/PostgreSQLInstance/orders-db?"#));

    let (_, claims) = app.get("/?kind=claim&namespace=team-a").await;
    assert!(claims.contains("/tree/PostgreSQLInstance/orders-db?namespace=team-a"));
    assert!(!claims.contains("orders-db-x7k2p-4e683") && !claims.contains("platform.git"));

    let (_, text) = app.get("/?q=authentication").await;
    assert!(text.contains("platform.git") && !text.contains("orders-db-x7k2p"));
}

#[tokio::test]
async fn a_claims_tree_shows_its_composite_managed_resource_and_secret_key_names_never_values() {
    let app = dashboard().await;
    let (status, page) = app.get("/tree/PostgreSQLInstance/orders-db?namespace=team-a").await;
    assert_eq!(status, StatusCode::OK);
    for part in [
        "PostgreSQLInstance/orders-db</a> (team-a)",
        "XPostgreSQLInstance/orders-db-x7k2p</a>",
        "RDSInstance/orders-db-x7k2p-4e683</a>",
        "Secret/orders-db-conn (team-a)",
        "Secret/xr-uid-postgresql (crossplane-system)",
        "External name: <code>orders-db-x7k2p-4e683</code>",
        "<td>dbInstanceStatus</td><td><code>available</code></td>",
        "<td>UpdatedExternalResource</td><td>allocatedStorage: 20 -&gt; 50</td>",
        "<code>endpoint</code> <code>password</code>",
    ] {
        assert!(page.contains(part), "missing {part:?} in {page}");
    }
    for secret_value in
        ["b3JkZXJzLmV4YW1wbGUuYXdz", "aHVudGVyMg==", "hunter2", "orders.example.aws\"<"]
    {
        assert!(!page.contains(secret_value), "secret value {secret_value} rendered");
    }
}

#[tokio::test]
async fn the_diff_view_compares_the_composition_with_the_live_object_and_shows_the_cloud_diff() {
    let app = dashboard().await;
    let (status, page) = app.get("/diff/RDSInstance/orders-db-x7k2p-4e683").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(r#"<tr class="drift"><td><code>/spec/forProvider/allocatedStorage</code></td><td><code>20</code></td><td><code>50</code></td></tr>"#),
        "{page}"
    );
    // Only the changed field is listed.
    assert_eq!(page.matches(r#"<tr class="drift">"#).count(), 1, "{page}");
    // Cloud-side: from the Synced message and the UpdatedExternalResource event.
    assert_eq!(page.matches("<li><pre>allocatedStorage: 20 -&gt; 50</pre></li>").count(), 2);
}

#[tokio::test]
async fn a_kustomization_page_lists_its_inventory_and_the_fields_that_drifted() {
    let app = dashboard().await;
    let (status, page) = app.get("/kustomizations/flux-system/apps").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(
        r#"<a href="/tree/PostgreSQLInstance/orders-db?namespace=team-a">orders-db</a>"#
    ));
    assert!(page.contains("<td>PostgreSQLInstance/team-a/orders-db</td><td><code>/spec/parameters/storageGB</code> </td>"));
}

#[tokio::test]
async fn actions_patch_the_object_and_record_an_event() {
    let app = dashboard().await;
    let cases = [
        (
            "reconcile",
            "Kustomization",
            "flux-system",
            "apps",
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps",
            "/metadata/annotations/reconcile.fluxcd.io~1requestedAt",
        ),
        (
            "suspend",
            "Kustomization",
            "flux-system",
            "apps",
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps",
            "/spec/suspend",
        ),
        (
            "pause",
            "RDSInstance",
            "",
            "orders-db-x7k2p-4e683",
            "/apis/database.aws.crossplane.io/v1beta1/rdsinstances/orders-db-x7k2p-4e683",
            "/metadata/annotations/crossplane.io~1paused",
        ),
        (
            "reconcile",
            "PostgreSQLInstance",
            "team-a",
            "orders-db",
            "/apis/database.crosstie.io/v1alpha1/namespaces/team-a/postgresqlinstances/orders-db",
            "/metadata/annotations/crossplane.io~1reconcile-requested-at",
        ),
    ];
    for (action, kind, namespace, name, path, field) in cases {
        let before = app.seen().len();
        let (status, headers, body) = app
            .post(
                &format!("/actions/{action}"),
                &[("kind", kind), ("namespace", namespace), ("name", name)],
                true,
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action} {kind}: {body}");
        assert_eq!(headers[header::LOCATION], "/");
        let seen = &app.seen()[before..];
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].method, "PATCH");
        assert_eq!(seen[0].uri.split('?').next().unwrap(), path);
        assert_eq!(seen[0].content_type, "application/merge-patch+json");
        let value =
            seen[0].body.pointer(field).unwrap_or_else(|| panic!("{field} in {:?}", seen[0].body));
        match action {
            "suspend" => assert_eq!(value, &json!(true)),
            "pause" => assert_eq!(value, &json!("true")),
            _ => assert!(value.as_str().unwrap().starts_with("20"), "timestamp {value}"),
        }
        assert_eq!(seen[1].method, "POST");
        assert!(seen[1].uri.contains("/apis/events.k8s.io/v1/"), "{}", seen[1].uri);
        assert!(seen[1].body["note"].as_str().unwrap().contains("Ada Lovelace <ada@example.org>"));
    }

    let before = app.seen().len();
    app.post(
        "/actions/unpause",
        &[("kind", "RDSInstance"), ("name", "orders-db-x7k2p-4e683")],
        true,
    )
    .await;
    assert_eq!(
        app.seen()[before].body,
        json!({"metadata": {"annotations": {"crossplane.io/paused": null}}})
    );
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused_and_nothing_is_written() {
    let app = dashboard().await;
    let form = [("kind", "Kustomization"), ("namespace", "flux-system"), ("name", "apps")];
    let (status, _, body) = app.post("/actions/suspend", &form, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("missing or invalid CSRF token"));
    let (status, _, _) =
        app.post("/actions/suspend", &[form[0], form[1], form[2], ("csrf", "forged")], false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(app.seen().is_empty(), "{:?}", app.seen());
}

#[tokio::test]
async fn read_only_mode_shows_no_action_buttons_and_refuses_actions() {
    let app = app(Config { read_only: true, ..config() }, filled).await;
    let (_, page) = app.get("/").await;
    assert!(page.contains("Read-only mode"));
    assert!(!page.contains("/actions/"));
    let form = [("kind", "Kustomization"), ("namespace", "flux-system"), ("name", "apps")];
    let (status, _, _) = app.post("/actions/suspend", &form, true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(app.seen().is_empty());
}

#[tokio::test]
async fn script_in_labels_annotations_and_messages_renders_inert() {
    let app = app(config(), |caches, writers| {
        filled(caches, writers);
        let mut hostile = rds_instance();
        hostile["metadata"]["name"] = json!("hostile");
        hostile["metadata"]["annotations"]["crossplane.io/external-name"] = json!(XSS);
        hostile["status"]["conditions"][0]["message"] = json!(XSS);
        hostile["status"]["atProvider"]["endpoint"] = json!(XSS);
        fill(
            caches,
            Role::Managed,
            resource("database.aws.crossplane.io", "DBSubnetGroup", "dbsubnetgroups"),
            &[hostile],
        );
    })
    .await;
    for uri in [
        "/",
        "/tree/DBSubnetGroup/hostile",
        "/tree/PostgreSQLInstance/orders-db?namespace=team-a",
        "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ] {
        let (status, page) = app.get(uri).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!page.contains(XSS), "{uri} renders a live script");
        if uri != "/tree/PostgreSQLInstance/orders-db?namespace=team-a" {
            assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{uri}");
        }
    }
}

#[tokio::test]
async fn live_updates_are_a_server_sent_event_stream() {
    let app = dashboard().await;
    let request =
        Request::get("/events").header(header::COOKIE, &app.cookie).body(Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body();
    app.state.caches().notify_changed();
    let frame = http_body_util::BodyExt::frame(&mut body).await.unwrap().unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(text.starts_with("event: changed"), "{text:?}");
}

#[tokio::test]
async fn the_objects_table_is_paged_while_the_counts_cover_everything() {
    let app = app(config(), |caches, _| {
        let claims: Vec<Value> = (0..650)
            .map(|i| {
                let mut c = claim();
                c["metadata"]["name"] = json!(format!("db-{i:03}"));
                c
            })
            .collect();
        let ar = resource("database.crosstie.io", "PostgreSQLInstance", "postgresqlinstances");
        fill(caches, Role::Claim, ar, &claims);
    })
    .await;
    let (_, first) = app.get("/").await;
    assert!(first.contains(r#"<strong data-count="ready">650</strong>"#));
    assert!(first.contains(">db-499</a>") && !first.contains(">db-500</a>"));
    assert!(first.contains("Rows 1–500 of 650."));
    assert!(
        first
            .contains(r#"<a href="/?namespace=&amp;kind=&amp;status=&amp;q=&amp;page=1">Next</a>"#)
    );
    let (_, second) = app.get("/?page=1").await;
    assert!(second.contains(">db-500</a>") && second.contains(">db-649</a>"));
    assert!(!second.contains(">db-499</a>") && second.contains("Rows 501–650 of 650."));
}

#[tokio::test]
async fn an_empty_configured_token_lets_nobody_in() {
    let (caches, _writers) = Caches::new();
    let (client, _) = web_support::mock_client();
    let config = Config { token: String::new(), ..config() };
    let router = router(crosstie::web::WebState::new(caches.into(), client, config));
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("token=&name=Ada&email=ada%40example.org"))
        .unwrap();
    let (status, headers, _) = send(&router, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn the_dashboard_watches_nothing_until_its_first_page_is_asked_for() {
    let (caches, writers) = Caches::new();
    let (api_server, requests) = web_support::mock_client();
    caches.watch_on_first_use(api_server, writers);
    let (writes, _) = web_support::mock_client();
    let router = router(WebState::new(std::sync::Arc::new(caches), writes, config()));
    let cookie = web_support::log_in(&router).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(requests.lock().unwrap().is_empty(), "logged in, no page yet: nothing is watched");

    let page = Request::get("/").header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
    let (status, _, _) = send(&router, page).await;
    assert_eq!(status, StatusCode::OK);
    let seen: Vec<String> = requests.lock().unwrap().iter().map(|r| r.uri.clone()).collect();
    for kind in ["gitrepositories", "kustomizations", "secrets", "events", "rdsinstances"] {
        assert!(seen.iter().any(|uri| uri.contains(&format!("/{kind}?"))), "{kind}: {seen:?}");
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_the_policy_allows_no_inline_script() {
    let app = dashboard().await;
    let (caches, _writers) = Caches::new();
    let (client, _) = web_support::mock_client();
    let anonymous = router(WebState::new(caches.into(), client, config()));
    let requests = [
        ("/login", false),
        ("/assets/app.js", false),
        ("/", true),
        ("/tree/Nothing/here", true),
        ("/no-such-page", true),
    ];
    for (uri, with_session) in requests {
        let mut request = Request::get(uri);
        if with_session {
            request = request.header(header::COOKIE, &app.cookie);
        }
        let router = if with_session { &app.router } else { &anonymous };
        let (_, headers, body) = send(router, request.body(Body::empty()).unwrap()).await;
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
            "{uri}"
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{uri}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin", "{uri}");
        // What the policy would block: inline script, inline style, event handler attributes.
        for inline in ["<script>", "<style", " style=", " onclick=", " onload=", " onsubmit="] {
            assert!(!body.contains(inline), "{inline} in {uri}");
        }
    }
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_the_request_came_over_https() {
    let (caches, _writers) = Caches::new();
    let (client, _) = web_support::mock_client();
    let router = router(WebState::new(caches.into(), client, config()));
    for (proto, secure) in [(None, false), (Some("http"), false), (Some("https"), true)] {
        let mut request = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(proto) = proto {
            request = request.header("x-forwarded-proto", proto);
        }
        let body = format!("token={}&name=Ada&email=ada%40example.org", web_support::TOKEN);
        let (status, headers, _) = send(&router, request.body(Body::from(body)).unwrap()).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let cookie = headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.contains("HttpOnly; SameSite=Strict"), "{cookie}");
        assert_eq!(cookie.ends_with("; Secure"), secure, "{proto:?}: {cookie}");
    }
}

#[tokio::test]
async fn a_name_or_email_git_would_refuse_is_refused_at_login() {
    let (caches, _writers) = Caches::new();
    let (client, _) = web_support::mock_client();
    let router = router(WebState::new(caches.into(), client, config()));
    for (name, email) in [
        ("Ada <admin>", "ada@example.org"),
        ("Ada", "ada@example.org>"),
        ("Ada\nLovelace", "ada@example.org"),
        ("Ada", "ada@example.org\r\nX: y"),
    ] {
        let form = serde_urlencoded::to_string([
            ("token", web_support::TOKEN),
            ("name", name),
            ("email", email),
        ])
        .unwrap();
        let request = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        let (status, headers, body) = send(&router, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?} {email:?}");
        assert!(headers.get(header::SET_COOKIE).is_none());
        assert!(body.contains("cannot contain &lt;, &gt; or line breaks"), "{body}");
    }
}

#[tokio::test]
async fn a_page_number_past_the_end_shows_an_empty_page_instead_of_failing() {
    let app = dashboard().await;
    for page in ["18446744073709551615", "36893488147419103", "2"] {
        let (status, body) = app.get(&format!("/?page={page}")).await;
        assert_eq!(status, StatusCode::OK, "page {page}");
        assert!(body.contains(r#"<table id="objects">"#), "page {page}");
        assert!(!body.contains(">orders-db</a>"), "page {page}");
    }
}

#[tokio::test]
async fn credentials_in_a_git_repository_url_are_not_shown() {
    let app = app(config(), |_, writers| {
        let mut repo = git_repository();
        repo["spec"]["url"] = json!("https://deploy:ghp_TOKEN@git.example.org/platform.git");
        put(&mut writers.git_repositories, repo);
    })
    .await;
    let (_, page) = app.get("/").await;
    assert!(page.contains("<td>https://git.example.org/platform.git</td>"), "{page}");
    assert!(!page.contains("ghp_TOKEN") && !page.contains("deploy:"), "{page}");
}

#[tokio::test]
async fn an_action_on_an_object_the_cluster_does_not_have_is_a_404_not_a_502() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("compositions/xrd-postgresqlinstance.yaml"),
    )
    .unwrap();
    let cluster = cluster(&serde_saphyr::from_str(&text).unwrap()).await;
    let app = app_with(cluster.client.clone(), config(), |caches, _| {
        let claims = resource("database.crosstie.io", "PostgreSQLInstance", "postgresqlinstances");
        fill(caches, Role::Claim, claims, &[claim()]);
    })
    .await;
    let form = [("kind", "PostgreSQLInstance"), ("namespace", "team-a"), ("name", "orders-db")];
    let (status, _, body) = app.post("/actions/reconcile", &form, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("not found"), "{body}");
}
