//! Shared fixture of the dashboard tests: caches filled through reflector writers, a
//! recording mock Kubernetes API (tower-test) or the real embedded API server in this process,
//! a logged-in session, and `oneshot` requests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body as AxumBody;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use kube::api::DynamicObject;
use kube::client::Body;
use kube::core::ApiResource;
use kube::runtime::watcher;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crosstie::web::{CacheWriters, Caches, Config, Role, WebState, router};

/// The login token of every fixture.
pub const TOKEN: &str = "s3cret-token";

/// One request the mock API server received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// `content-type`.
    pub content_type: String,
    /// JSON body (`Null` when empty).
    pub body: Value,
}

/// A mock API server that records every request and answers writes with the object named.
pub fn mock_client() -> (kube::Client, Arc<Mutex<Vec<Seen>>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let method = request.method().to_string();
            let uri = request.uri().to_string();
            let content_type = request
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let answer = respond(&uri, &body);
            log.lock().unwrap().push(Seen { method, uri, content_type, body });
            send.send_response(Response::new(Body::from(serde_json::to_vec(&answer).unwrap())));
        }
    });
    (kube::Client::new(service, "default"), seen)
}

/// The object a write names, so kube can decode the answer: events echo back; patches get
/// an object with the path's name and namespace.
fn respond(uri: &str, body: &Value) -> Value {
    if uri.contains("/events") {
        return body.clone();
    }
    let path = uri.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').collect();
    let name = parts.last().copied().unwrap_or_default();
    let namespace = parts.iter().position(|p| *p == "namespaces").map(|i| parts[i + 1]);
    let mut object = body.clone();
    if !object.is_object() {
        object = json!({});
    }
    object["apiVersion"] = json!("v1");
    object["kind"] = json!("Object");
    object["metadata"] = json!({"name": name, "namespace": namespace, "uid": "uid-1"});
    object
}

/// A claim kind, composite kind and managed kind like the shipped PostgreSQLInstance.
pub fn resource(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: if group == "database.crosstie.io" { "v1alpha1" } else { "v1beta1" }.into(),
        api_version: format!(
            "{group}/{}",
            if group == "database.crosstie.io" { "v1alpha1" } else { "v1beta1" }
        ),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Puts `objects` into a new cache of `resource` in `role`.
pub fn fill(caches: &Caches, role: Role, resource: ApiResource, objects: &[Value]) {
    let mut writer = caches.add_kind(role, resource).expect("a new kind");
    for object in objects {
        let object: DynamicObject = serde_json::from_value(object.clone()).unwrap();
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
}

/// Applies `value` (JSON of `K`) to a typed store.
pub fn put<K>(writer: &mut kube::runtime::reflector::store::Writer<K>, value: Value)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + 'static,
{
    let object: K = serde_json::from_value(value).unwrap();
    writer.apply_watcher_event(&watcher::Event::Apply(object));
}

/// The dashboard under test, logged in.
pub struct App {
    /// The router.
    pub router: Router,
    /// The session cookie (`name=value`).
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Requests the mock API server received.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// The state (caches stay fillable).
    pub state: WebState,
}

/// Builds the dashboard over caches `setup` fills, writing to the mock API, and logs in as Ada.
pub async fn app(config: Config, setup: impl FnOnce(&Caches, &mut CacheWriters)) -> App {
    let (client, seen) = mock_client();
    app_on(client, seen, config, setup).await
}

/// [`app`] writing through `client` (requests it receives are not in [`App::seen`]).
pub async fn app_with(
    client: kube::Client,
    config: Config,
    setup: impl FnOnce(&Caches, &mut CacheWriters),
) -> App {
    app_on(client, Arc::default(), config, setup).await
}

async fn app_on(
    client: kube::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
    config: Config,
    setup: impl FnOnce(&Caches, &mut CacheWriters),
) -> App {
    let (caches, mut writers) = Caches::new();
    setup(&caches, &mut writers);
    let state = WebState::new(Arc::new(caches), client, config);
    let router = router(state.clone());
    let cookie = log_in(&router).await;
    let mut app = App { router, cookie, csrf: String::new(), seen, state };
    let (_, page) = app.get("/").await;
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    app.csrf = page[start..start + 64].to_owned();
    app
}

/// Logs in as Ada with [`TOKEN`]; returns the session cookie (`name=value`).
pub async fn log_in(router: &Router) -> String {
    let (status, headers, _) = send(
        router,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(AxumBody::from(format!(
                "token={TOKEN}&name=Ada%20Lovelace&email=ada%40example.org"
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    set_cookie.split(';').next().unwrap().to_owned()
}

/// Sends one request through the router.
pub async fn send(router: &Router, request: Request<AxumBody>) -> (StatusCode, HeaderMap, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A default config with `token` and no Git.
pub fn config() -> Config {
    Config { token: TOKEN.into(), read_only: false, git: None }
}

impl App {
    /// GET with the session cookie.
    pub async fn get(&self, uri: &str) -> (StatusCode, String) {
        let request =
            Request::get(uri).header(header::COOKIE, &self.cookie).body(AxumBody::empty()).unwrap();
        let (status, _, body) = send(&self.router, request).await;
        (status, body)
    }

    /// POST a form with the session cookie; `with_csrf` adds the session's CSRF token.
    pub async fn post(
        &self,
        uri: &str,
        form: &[(&str, &str)],
        with_csrf: bool,
    ) -> (StatusCode, HeaderMap, String) {
        let mut pairs: Vec<(&str, &str)> = form.to_vec();
        if with_csrf {
            pairs.push(("csrf", &self.csrf));
        }
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let request = Request::post(uri)
            .header(header::COOKIE, &self.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(AxumBody::from(body))
            .unwrap();
        send(&self.router, request).await
    }

    /// Requests the mock API server received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The real embedded API server, in this process, with namespace `team-a` and the claim CRD of
/// `xrd` served (as the composition controller would install it).
pub struct Cluster {
    /// A client of the server, objects with their managedFields.
    pub client: kube::Client,
    _server: crosstie::apiserver::RunningServer,
    _dir: tempfile::TempDir,
}

/// Starts a [`Cluster`].
pub async fn cluster(xrd: &Value) -> Cluster {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, PostParams};

    let dir = tempfile::tempdir().unwrap();
    let options = crosstie::apiserver::ServeOptions {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        kubeconfig_out: None,
    };
    let server = crosstie::apiserver::start(options).await.unwrap();
    let client = server.client_with_managed_fields().unwrap();
    let namespace = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
    let xrd = serde_json::from_value(xrd.clone()).unwrap();
    let served = crosstie::composition::xrd::crds_for(&xrd).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &served.claim.unwrap()).await.unwrap();
    let claim = served.claim_kind.unwrap();
    let resource = ApiResource {
        group: claim.group.clone(),
        version: claim.version.clone(),
        api_version: claim.api_version(),
        kind: claim.kind.clone(),
        plural: claim.plural.clone(),
    };
    let claims: kube::Api<DynamicObject> =
        kube::Api::namespaced_with(client.clone(), "team-a", &resource);
    for _ in 0..100 {
        if claims.list(&Default::default()).await.is_ok() {
            return Cluster { client, _server: server, _dir: dir };
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the claim kind is not served");
}
