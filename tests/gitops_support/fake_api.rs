//! A small in-memory Kubernetes API behind kube's tower-test mock service, for driving the
//! apply step and the reconcilers without a cluster: discovery for the core group, objects by
//! path, server-side apply and merge patches (including `/status`), deletes and event posts.
//! LISTs honour `labelSelector` equality terms. Objects with finalizers are only marked for deletion until the last one is removed.
//! Every request is logged so tests can count API writes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

/// The fake API server's state.
#[derive(Default)]
pub struct FakeApi {
    /// Objects by their URL path.
    pub objects: Mutex<BTreeMap<String, Value>>,
    /// `METHOD URI` of every request.
    pub log: Mutex<Vec<String>>,
}

impl FakeApi {
    /// Start the fake and return a client talking to it.
    pub fn start() -> (kube::Client, Arc<FakeApi>) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = Arc::new(FakeApi::default());
        tokio::spawn(serve(fake.clone(), handle));
        (kube::Client::new(service, "default"), fake)
    }

    /// Requests other than GET, excluding event posts and dry-runs.
    pub fn writes(&self) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|r| !r.starts_with("GET") && !r.contains("/events") && !r.contains("dryRun="))
            .cloned()
            .collect()
    }

    /// The stored object at `path`.
    pub fn get(&self, path: &str) -> Option<Value> {
        self.objects.lock().unwrap().get(path).cloned()
    }

    /// Store an object at `path`.
    pub fn put(&self, path: &str, object: Value) {
        self.objects.lock().unwrap().insert(path.to_owned(), object);
    }
}

fn discovery() -> Value {
    let verbs = json!(["get", "list", "watch", "create", "update", "patch", "delete"]);
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
        {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap", "verbs": verbs},
        {"name": "secrets", "singularName": "secret", "namespaced": true, "kind": "Secret", "verbs": verbs},
        {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": verbs},
    ]})
}

/// `/apis/<group>/<version>`: CRDs themselves, plus the kinds defined by stored CRDs, as a
/// real API server serves them once a CRD is established.
fn group_discovery(objects: &BTreeMap<String, Value>, group: &str, version: &str) -> Option<Value> {
    let verbs = json!(["get", "list", "watch", "create", "update", "patch", "delete"]);
    let mut resources: Vec<Value> = objects
        .iter()
        .filter(|(path, _)| path.starts_with("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"))
        .map(|(_, crd)| &crd["spec"])
        .filter(|spec| spec["group"] == group && spec["versions"].as_array().is_some_and(|v| v.iter().any(|v| v["name"] == version)))
        .map(|spec| json!({"name": spec["names"]["plural"], "singularName": spec["names"]["singular"], "kind": spec["names"]["kind"],
                           "namespaced": spec["scope"] == "Namespaced", "verbs": verbs}))
        .collect();
    if (group, version) == ("apiextensions.k8s.io", "v1") {
        resources.push(json!({"name": "customresourcedefinitions", "singularName": "customresourcedefinition",
                              "kind": "CustomResourceDefinition", "namespaced": false, "verbs": verbs}));
    }
    (!resources.is_empty()).then(|| {
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{group}/{version}"), "resources": resources})
    })
}

fn not_found() -> (StatusCode, Value) {
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"});
    (StatusCode::NOT_FOUND, status)
}

async fn serve(
    fake: Arc<FakeApi>,
    mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>,
) {
    while let Some((request, send)) = handle.next_request().await {
        let method = request.method().to_string();
        let uri = request.uri().clone();
        let path = uri.path().to_owned();
        let content_type = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = request.into_body().collect_bytes().await.unwrap();
        fake.log.lock().unwrap().push(format!("{method} {uri}"));
        let (status, response) = match uri.query().and_then(label_selector) {
            Some(selector) if method == "GET" => (StatusCode::OK, list(&fake, &path, &selector)),
            _ => {
                answer(&fake, &method, uri.query().unwrap_or_default(), &path, &content_type, &body)
            }
        };
        let mut response = Response::new(Body::from(serde_json::to_vec(&response).unwrap()));
        *response.status_mut() = status;
        send.send_response(response);
    }
}

/// `labelSelector=k=v,k=v` from a query string, URL-decoded.
fn label_selector(query: &str) -> Option<Vec<(String, String)>> {
    let raw = query.split('&').find_map(|p| p.strip_prefix("labelSelector="))?;
    let decoded = raw.replace("%3D", "=").replace("%2C", ",").replace("%2F", "/");
    Some(
        decoded
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    )
}

/// A LIST of the objects directly under collection `path` whose labels match `selector`.
fn list(fake: &FakeApi, path: &str, selector: &[(String, String)]) -> Value {
    let prefix = format!("{path}/");
    let objects = fake.objects.lock().unwrap();
    let items: Vec<Value> = objects
        .iter()
        .filter(|(p, _)| p.strip_prefix(&prefix).is_some_and(|rest| !rest.contains('/')))
        .filter(|(_, o)| selector.iter().all(|(k, v)| o["metadata"]["labels"][k] == v.as_str()))
        .map(|(_, o)| o.clone())
        .collect();
    json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})
}

fn answer(
    fake: &FakeApi,
    method: &str,
    query: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (StatusCode, Value) {
    let mut objects = fake.objects.lock().unwrap();
    let key = path.strip_suffix("/status").unwrap_or(path).to_owned();
    match method {
        "GET" if path == "/api/v1" => (StatusCode::OK, discovery()),
        "GET" if path.starts_with("/apis/") && path.split('/').count() == 4 => {
            let mut parts = path.split('/').skip(2);
            let (group, version) =
                (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            group_discovery(&objects, group, version)
                .map(|d| (StatusCode::OK, d))
                .unwrap_or_else(not_found)
        }
        "GET" => objects.get(&key).cloned().map(|o| (StatusCode::OK, o)).unwrap_or_else(not_found),
        "POST" if path.ends_with("/events") => {
            (StatusCode::CREATED, serde_json::from_slice(body).unwrap())
        }
        "PATCH" if content_type.starts_with("application/json-patch+json") => {
            let Some(existing) = objects.get_mut(&key) else { return not_found() };
            let mut ops: json_patch::Patch = serde_json::from_slice(body).unwrap();
            // Like the API server, `test` against null passes for a missing path.
            ops.0.retain(|op| match op {
                json_patch::PatchOperation::Test(t) => {
                    !(t.value.is_null() && existing.pointer(t.path.as_str()).is_none())
                }
                _ => true,
            });
            if json_patch::patch(existing, &ops).is_err() {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"kind": "Status", "code": 422, "status": "Failure"}),
                );
            }
            let object = existing.clone();
            // The last finalizer removed from a deleting object lets it go.
            let finalizers_left =
                object["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
            if object["metadata"]["deletionTimestamp"].is_string() && !finalizers_left {
                objects.remove(&key);
            }
            (StatusCode::OK, object)
        }
        "PATCH" => {
            let patch: Value = serde_json::from_slice(body).unwrap();
            let mut object = match objects.get(&key) {
                Some(existing) => {
                    let mut merged = existing.clone();
                    json_patch::merge(&mut merged, &patch);
                    merged
                }
                None if path.ends_with("/status") => return not_found(),
                None => {
                    let mut created = patch.clone();
                    created["metadata"]["uid"] = json!(format!("uid-{}", objects.len()));
                    created["metadata"]["generation"] = json!(1);
                    created
                }
            };
            // Server-side apply records what the manager applied (only its latest apply).
            let manager = query.split('&').find_map(|p| p.strip_prefix("fieldManager="));
            if let (true, Some(manager)) =
                (content_type.starts_with("application/apply-patch"), manager)
            {
                object["metadata"]["managedFields"] = json!([{"manager": manager, "operation": "Apply",
                    "fieldsType": "FieldsV1", "fieldsV1": fields_v1(&patch)}]);
            }
            if !query.contains("dryRun=") {
                objects.insert(key, object.clone());
            }
            (StatusCode::OK, object)
        }
        "DELETE"
            if objects.get(&key).is_some_and(|o| {
                o["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty())
            }) =>
        {
            let object = objects.get_mut(&key).unwrap();
            object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            (StatusCode::OK, object.clone())
        }
        "DELETE" => match objects.remove(&key) {
            Some(_) => (
                StatusCode::OK,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}),
            ),
            None => not_found(),
        },
        _ => (StatusCode::METHOD_NOT_ALLOWED, json!({})),
    }
}

/// The `fieldsV1` set of an applied object: `f:<name>` per field, lists as leaves.
fn fields_v1(value: &Value) -> Value {
    let fields = value.as_object().into_iter().flatten();
    Value::Object(fields.map(|(k, v)| (format!("f:{k}"), fields_v1(v))).collect())
}
