//! HTTP: routes every Kubernetes API path to discovery, OpenAPI or a verb, translating query
//! parameters, content types and `Accept` (Tables) to and from [`Api`] calls.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::discovery;
use super::lean::{InProcess, remove_managed_fields, without_managed_fields};
use super::openapi::{self, ResourceDoc};
use super::registry::{NAMESPACE_STORAGE, ResourceType};
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::table::{self, IncludeObject, TableOptions};
use super::verbs::{
    Api, DeleteOptions, FieldValidation, ListOptions, Patch, Propagation, Scope, Served,
    WriteOptions,
};
use super::watch::{WatchOptions, watch};
use super::writes::Writes;

/// Request bodies above this are refused with 413, like kube-apiserver's limit.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The API.
    pub api: Api,
    /// The thread every write runs on.
    pub writes: Writes,
    /// `host:port` clients reach the server at, for `/api`.
    pub server_address: String,
    /// The bearer token every request must carry.
    pub token: Arc<str>,
}

/// The whole API server as an axum router (authentication included).
pub fn router(state: AppState) -> Router {
    let token = state.token.clone();
    Router::new()
        .route("/version", get(|| async { axum::Json(discovery::version()) }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/api", get(|State(s): State<AppState>| async move { axum::Json(discovery::core_versions(&s.server_address)) }))
        .route("/apis", get(|State(s): State<AppState>| async move { axum::Json(discovery::group_list(&s.api.registry)) }))
        .route("/openapi/v2", get(openapi_v2))
        .route("/openapi/v3", get(|State(s): State<AppState>| async move { axum::Json(openapi::v3_index(&docs(&s.api))) }))
        .route("/openapi/v3/{*path}", get(openapi_group_version))
        .fallback(resources)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(token, super::auth::require_token))
}

/// OpenAPI documents for every served resource: the built-in schemas plus each CRD version's.
fn docs(api: &Api) -> Vec<ResourceDoc> {
    let mut docs = openapi::builtin_docs();
    for t in api.registry.all().iter().filter(|t| t.custom) {
        for v in &t.versions {
            docs.push(ResourceDoc {
                group: t.group.clone(),
                version: v.clone(),
                kind: t.kind.clone(),
                plural: t.plural.clone(),
                namespaced: t.namespaced,
                schema: t.schemas.get(v).cloned().unwrap_or(Value::Null),
            });
        }
    }
    docs
}

/// Swagger 2.0 in JSON only: kubectl asks for protobuf alone and treats 404 as "no v2 document"
/// (it then relies on v3), whereas a JSON body would fail its protobuf decoding.
async fn openapi_v2(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let accepts_json = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("json") || v.contains("*/*"));
    if headers.contains_key(ACCEPT) && !accepts_json {
        return not_found_path();
    }
    axum::Json(openapi::v2(&docs(&s.api))).into_response()
}

async fn openapi_group_version(State(s): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches("/openapi/v3/");
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return not_found_path(),
    };
    match openapi::v3_group_version(&docs(&s.api), group, version) {
        Some(doc) => axum::Json(doc).into_response(),
        None => not_found_path(),
    }
}

fn not_found_path() -> Response {
    ApiError::new(404, "NotFound", "the server could not find the requested resource")
        .into_response()
}

/// Query parameters of the resource endpoints (unknown ones, like kubectl's `timeout`, ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    watch: Option<String>,
    resource_version: Option<String>,
    limit: Option<String>,
    #[serde(rename = "continue")]
    continue_token: Option<String>,
    label_selector: Option<String>,
    field_selector: Option<String>,
    #[serde(rename = "includeObject")]
    include_object: Option<String>,
    timeout_seconds: Option<String>,
    allow_watch_bookmarks: Option<String>,
    send_initial_events: Option<String>,
    field_manager: Option<String>,
    force: Option<String>,
    dry_run: Option<String>,
    field_validation: Option<String>,
    propagation_policy: Option<String>,
}

fn truthy(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("true" | "1" | "True"))
}

/// What a resource path addresses.
struct Address<'a> {
    namespace: Option<&'a str>,
    plural: &'a str,
    name: Option<&'a str>,
    subresource: Option<&'a str>,
}

fn parse_address<'a>(rest: &[&'a str]) -> Option<Address<'a>> {
    let at = |namespace, plural, name, subresource| {
        Some(Address { namespace, plural, name, subresource })
    };
    match rest {
        // `namespaces/{name}/status` is the Namespace's own subresource, not a resource list.
        ["namespaces", name, sub @ ("status" | "finalize")] => {
            at(None, "namespaces", Some(*name), Some(*sub))
        }
        ["namespaces", ns, plural] => at(Some(*ns), plural, None, None),
        ["namespaces", ns, plural, name] => at(Some(*ns), plural, Some(*name), None),
        ["namespaces", ns, plural, name, sub] => at(Some(*ns), plural, Some(*name), Some(*sub)),
        [plural] => at(None, plural, None, None),
        [plural, name] => at(None, plural, Some(*name), None),
        [plural, name, sub] => at(None, plural, Some(*name), Some(*sub)),
        _ => None,
    }
}

async fn resources(State(state): State<AppState>, request: Request) -> Response {
    serve(state, request).await.unwrap_or_else(IntoResponse::into_response)
}

/// Store reads running at once: a few more than the store's four read connections (writes run
/// on their own thread, [`Writes`]). Requests beyond it wait here, as futures, rather than as
/// parked threads of the blocking pool: a burst of thousands otherwise grows the pool to
/// hundreds of threads contending for a few connections.
static STORE_WORKERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

/// Runs blocking store work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = STORE_WORKERS.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)?
}

async fn serve(state: AppState, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    tracing::debug!(method = %parts.method, uri = %parts.uri, "request");
    let path = parts.uri.path().trim_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", group] => {
            return discovery::group(&state.api.registry, group)
                .map(|doc| axum::Json(doc).into_response())
                .ok_or_else(|| {
                    ApiError::new(
                        404,
                        "NotFound",
                        "the server could not find the requested resource",
                    )
                });
        }
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
    };
    if rest.is_empty() {
        return discovery::resource_list(&state.api.registry, group, version)
            .map(|doc| axum::Json(doc).into_response())
            .ok_or_else(|| {
                ApiError::new(404, "NotFound", "the server could not find the requested resource")
            });
    }
    let address = parse_address(rest).ok_or_else(|| {
        ApiError::new(404, "NotFound", "the server could not find the requested resource")
    })?;
    let rt = state.api.registry.lookup(group, version, address.plural).ok_or_else(|| {
        ApiError::new(404, "NotFound", "the server could not find the requested resource")
    })?;
    if address.namespace.is_some() && !rt.namespaced
        || address.name.is_some() && address.namespace.is_none() && rt.namespaced
        || address.subresource.is_some_and(|s| match s {
            "status" => !rt.status,
            "finalize" => rt.storage != NAMESPACE_STORAGE,
            "scale" => !rt.scale.contains_key(version),
            _ => true,
        })
    {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    let params: Params = serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let scope = Scope {
        rt: rt.clone(),
        version: version.to_owned(),
        namespace: if rt.namespaced {
            address.namespace.map(str::to_owned)
        } else {
            Some(String::new())
        },
    };
    let api = state.api.clone();
    let writes = &state.writes;
    let headers = parts.headers;
    let lean = parts.extensions.get::<InProcess>().is_some();
    let table = match wants_table(&headers) {
        true => Some(TableOptions {
            columns: rt.columns.get(version).cloned().unwrap_or_default(),
            include: IncludeObject::parse(params.include_object.as_deref())
                .map_err(ApiError::bad_request)?,
        }),
        false => None,
    };
    if address.subresource == Some("scale")
        && let Some(name) = address.name.map(str::to_owned)
    {
        return match parts.method {
            Method::GET => {
                let scale = blocking(move || api.get_scale(&scope, &name)).await?;
                Ok(axum::Json(scale).into_response())
            }
            Method::PUT | Method::PATCH => {
                let bytes = read_body(body).await?;
                let write = if parts.method == Method::PUT {
                    Patch::Merge(parse_object(&headers, &bytes)?)
                } else {
                    parse_patch(&headers, &bytes, &rt)?
                };
                let opts = write_options(&params, &headers, address.subresource)?;
                let scale =
                    writes.run(move || api.write_scale(&scope, &name, write, &opts)).await?;
                Ok(axum::Json(scale).into_response())
            }
            method => Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!("{method} is not supported on /scale"),
            )),
        };
    }
    match (parts.method, address.name) {
        (Method::GET, None) => {
            let list = list_options(&params, &rt, version)?;
            if truthy(&params.watch) {
                let opts = WatchOptions {
                    resource_version: params.resource_version.clone(),
                    list,
                    bookmarks: truthy(&params.allow_watch_bookmarks),
                    send_initial_events: truthy(&params.send_initial_events),
                    timeout: params
                        .timeout_seconds
                        .as_deref()
                        .and_then(|s| s.parse().ok())
                        .map(Duration::from_secs),
                    table,
                    lean,
                };
                let stream = blocking(move || watch(api, scope, opts)).await?;
                return Ok(([(CONTENT_TYPE, "application/json")], Body::from_stream(stream))
                    .into_response());
            }
            if let Some(options) = table {
                let result = blocking(move || api.list(&scope, &list)).await?;
                let rv = &result.resource_version;
                let token = result.continue_token.as_deref();
                return Ok(
                    axum::Json(table::table(&result.items, &options, rv, token)).into_response()
                );
            }
            let result = blocking(move || api.list_raw(&scope, &list)).await?;
            let mut metadata = json!({"resourceVersion": result.resource_version});
            if let Some(token) = result.continue_token {
                metadata["continue"] = json!(token);
            }
            // Assembled from the items' JSON text: no per-object parsing for large lists.
            let head = json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(version), "metadata": metadata});
            let head = head.to_string();
            let size = head.len() + result.items.iter().map(|i| i.len() + 1).sum::<usize>() + 16;
            let mut body = String::with_capacity(size);
            body.push_str(&head[..head.len() - 1]);
            body.push_str(",\"items\":[");
            for (i, item) in result.items.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                let stripped = lean.then(|| without_managed_fields(item)).flatten();
                body.push_str(stripped.as_deref().unwrap_or(item));
            }
            body.push_str("]}");
            Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
        }
        (Method::GET, Some(name)) => {
            let name = name.to_owned();
            let Some(options) = table else {
                let text = blocking(move || api.get_raw(&scope, &name)).await?;
                return Ok(raw_object(StatusCode::OK, Served::Text(text), lean));
            };
            let object = blocking(move || api.get(&scope, &name)).await?;
            let rv = object["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned();
            Ok(axum::Json(table::table(&[object], &options, &rv, None)).into_response())
        }
        (Method::POST, None) => {
            let object = parse_object(&headers, &read_body(body).await?)?;
            let opts = write_options(&params, &headers, None)?;
            let created = writes.run(move || api.create(&scope, object, &opts)).await?;
            Ok(raw_object(StatusCode::CREATED, created, lean))
        }
        (Method::PUT, Some(name)) => {
            let object = parse_object(&headers, &read_body(body).await?)?;
            let opts = write_options(&params, &headers, address.subresource)?;
            let name = name.to_owned();
            let updated = writes.run(move || api.update(&scope, &name, object, &opts)).await?;
            Ok(object_json(updated, lean).into_response())
        }
        (Method::PATCH, Some(name)) => {
            let patch = parse_patch(&headers, &read_body(body).await?, &rt)?;
            let opts = write_options(&params, &headers, address.subresource)?;
            let name = name.to_owned();
            let (served, created) =
                writes.run(move || api.patch(&scope, &name, patch, &opts)).await?;
            let code = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(raw_object(code, served, lean))
        }
        (Method::DELETE, Some(name)) => {
            let opts = delete_options(&params, &read_body(body).await?)?;
            let name = name.to_owned();
            let deleted = writes.run(move || api.delete(&scope, &name, &opts)).await?;
            Ok(object_json(deleted, lean).into_response())
        }
        (Method::DELETE, None) => {
            let opts = delete_options(&params, &read_body(body).await?)?;
            let list = list_options(&params, &rt, version)?;
            let deleted = writes.run(move || api.delete_collection(&scope, &list, &opts)).await?;
            Ok(axum::Json(
                json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(version),
                "metadata": {}, "items": deleted}),
            )
            .into_response())
        }
        (method, _) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on this path"),
        )),
    }
}

/// An object's JSON text as a response, without managedFields when `lean`.
fn raw_object(code: StatusCode, served: Served, lean: bool) -> Response {
    (code, [(CONTENT_TYPE, "application/json")], served.into_text(lean)).into_response()
}

/// An object as a JSON response, without managedFields when `lean`.
fn object_json(mut object: Value, lean: bool) -> axum::Json<Value> {
    if lean {
        remove_managed_fields(&mut object);
    }
    axum::Json(object)
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("as=Table"))
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_BODY}"),
        )
    })
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
}

fn parse_yaml_or_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    serde_saphyr::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

/// kube-apiserver's answer to a body it cannot decode.
fn unsupported_protobuf() -> ApiError {
    ApiError::new(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
    )
}

fn parse_object(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    if content_type(headers).contains("protobuf") {
        return super::protobuf::decode(bytes).ok_or_else(unsupported_protobuf);
    }
    let object = if content_type(headers).contains("yaml") {
        parse_yaml_or_json(bytes)?
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding the body: {e}")))?
    };
    if !object.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    Ok(object)
}

fn parse_patch(headers: &HeaderMap, bytes: &[u8], rt: &ResourceType) -> Result<Patch, ApiError> {
    let json = || {
        serde_json::from_slice::<Value>(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding the patch: {e}")))
    };
    match content_type(headers) {
        "application/json-patch+json" => Ok(Patch::Json(json()?)),
        "application/merge-patch+json" => Ok(Patch::Merge(json()?)),
        "application/strategic-merge-patch+json" if !rt.custom => Ok(Patch::Strategic(json()?)),
        "application/apply-patch+yaml" => Ok(Patch::Apply(parse_yaml_or_json(bytes)?)),
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({other}) - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
                if rt.custom { "" } else { ", application/strategic-merge-patch+json" }
            ),
        )),
    }
}

fn list_options(
    params: &Params,
    rt: &ResourceType,
    version: &str,
) -> Result<ListOptions, ApiError> {
    let fields = FieldSelector::parse(params.field_selector.as_deref().unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    rt.check_field_selector(version, &fields).map_err(ApiError::bad_request)?;
    Ok(ListOptions {
        labels: LabelSelector::parse(params.label_selector.as_deref().unwrap_or(""))
            .map_err(ApiError::bad_request)?,
        fields,
        limit: params.limit.as_deref().and_then(|l| l.parse().ok()).unwrap_or(0),
        continue_token: params.continue_token.clone().filter(|t| !t.is_empty()),
    })
}

/// The field manager: `fieldManager`, else the User-Agent's program name, as kube-apiserver does.
fn manager(params: &Params, headers: &HeaderMap) -> String {
    params.field_manager.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| {
        headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|m| !m.is_empty())
            .unwrap_or("unknown")
            .to_owned()
    })
}

fn write_options(
    params: &Params,
    headers: &HeaderMap,
    subresource: Option<&str>,
) -> Result<WriteOptions, ApiError> {
    let apply = content_type(headers) == "application/apply-patch+yaml";
    Ok(WriteOptions {
        // Apply needs an explicit manager: leave it empty so the verb can refuse.
        manager: if apply {
            params.field_manager.clone().unwrap_or_default()
        } else {
            manager(params, headers)
        },
        dry_run: dry_run([params.dry_run.as_deref()])?,
        validation: match params.field_validation.as_deref() {
            Some("Strict") => FieldValidation::Strict,
            Some("Warn") => FieldValidation::Warn,
            None | Some("" | "Ignore") => FieldValidation::Ignore,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
                )));
            }
        },
        subresource: subresource.map(str::to_owned),
        force: truthy(&params.force),
    })
}

/// Whether `dryRun` asks for a dry run. Its only value is `All`: anything else is refused
/// rather than taken as a real write.
fn dry_run<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> Result<bool, ApiError> {
    let mut dry = false;
    for value in values.into_iter().flatten() {
        match value {
            "All" => dry = true,
            "" => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "dryRun: Unsupported value: {other:?}: supported values: \"All\""
                )));
            }
        }
    }
    Ok(dry)
}

fn delete_options(params: &Params, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let policy = body["propagationPolicy"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| params.propagation_policy.clone());
    let propagation = match policy.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!("unsupported propagationPolicy {other:?}")));
        }
    };
    let orphan = body["orphanDependents"].as_bool() == Some(true);
    let in_body = body["dryRun"].as_array().into_iter().flatten().map(|v| v.as_str().or(Some("?")));
    let dry_run = dry_run(in_body.chain([params.dry_run.as_deref()]))?;
    Ok(DeleteOptions {
        propagation: if orphan { Propagation::Orphan } else { propagation },
        uid: body["preconditions"]["uid"].as_str().map(str::to_owned),
        resource_version: body["preconditions"]["resourceVersion"].as_str().map(str::to_owned),
        dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::store::Store;
    use axum::http::Request as HttpRequest;
    use std::time::Duration;
    use tower::ServiceExt;

    fn app(retention: u64) -> (Router, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with_retention(dir.path(), retention).unwrap();
        let api = Api::new(Arc::new(store)).unwrap();
        let writes = Writes::start(api.store.clone()).unwrap();
        let state =
            AppState { api, writes, server_address: "127.0.0.1:1".into(), token: "t".into() };
        (router(state), dir)
    }

    async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        call_from(Client::Socket, app, method, uri, body).await
    }

    /// Who sends a request: a client over the socket, or a controller in this process.
    #[derive(Clone, Copy, PartialEq)]
    enum Client {
        Socket,
        InProcess,
    }

    async fn call_from(
        client: Client,
        app: &Router,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, String) {
        let mut request = HttpRequest::builder()
            .method(method)
            .uri(uri)
            .header("authorization", "Bearer t")
            .header(
                "content-type",
                match method {
                    "PATCH" => "application/merge-patch+json",
                    _ => "application/json",
                },
            )
            .body(Body::from(body.to_owned()))
            .unwrap();
        if client == Client::InProcess {
            request.extensions_mut().insert(InProcess);
        }
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn bootstrap_default(app: &Router) {
        let (code, body) =
            call(app, "POST", "/api/v1/namespaces", r#"{"metadata":{"name":"default"}}"#).await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }

    #[tokio::test]
    async fn controllers_in_this_process_get_every_object_without_managed_fields() {
        let (app, _dir) = app(1000);
        bootstrap_default(&app).await;
        let uri = "/api/v1/namespaces/default/configmaps";
        let (_, created) = call(&app, "POST", uri, r#"{"metadata":{"name":"a"}}"#).await;
        let since: Value = serde_json::from_str(&created).unwrap();
        let since = since["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
        let patched = async |client| {
            let uri = format!("{uri}/a?fieldManager=m-{}", client as u8);
            let patch = format!(r#"{{"data":{{"x":"{}"}}}}"#, client as u8);
            let (_, text) = call_from(client, &app, "PATCH", &uri, &patch).await;
            serde_json::from_str::<Value>(&text).unwrap()
        };
        let socket = patched(Client::Socket).await;
        assert!(socket["metadata"]["managedFields"].is_array(), "{socket}");
        let in_process = patched(Client::InProcess).await;
        let (_, whole) = call(&app, "GET", &format!("{uri}/a"), "").await;
        let mut expected: Value = serde_json::from_str(&whole).unwrap();
        assert!(expected["metadata"]["managedFields"].is_array(), "{expected}");
        remove_managed_fields(&mut expected);
        assert_eq!(in_process, expected, "the PATCH answer");

        let read = async |client, uri: &str| {
            let (code, text) = call_from(client, &app, "GET", uri, "").await;
            assert_eq!(code, StatusCode::OK, "{text}");
            text
        };
        let get = read(Client::InProcess, &format!("{uri}/a")).await;
        assert_eq!(serde_json::from_str::<Value>(&get).unwrap(), expected, "GET");
        let list: Value = serde_json::from_str(&read(Client::InProcess, uri).await).unwrap();
        assert_eq!(list["items"], json!([expected]), "the list");
        // Resumed from history and sent as stored; selected by a field (each event parsed);
        // started from the current state.
        let watches = [
            (format!("resourceVersion={since}"), 2),
            (format!("resourceVersion={since}&fieldSelector=metadata.name%3Da"), 2),
            ("resourceVersion=0".to_owned(), 1),
        ];
        for (query, count) in watches {
            for client in [Client::InProcess, Client::Socket] {
                let events =
                    read(client, &format!("{uri}?watch=true&{query}&timeoutSeconds=1")).await;
                let objects: Vec<Value> =
                    events.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect();
                assert_eq!(objects.len(), count, "{query}: {events}");
                let mut fields =
                    objects.iter().map(|e| e["object"]["metadata"].get("managedFields"));
                assert!(fields.all(|f| f.is_some() == (client == Client::Socket)), "{events}");
            }
        }
        // A create answers from the text it stored, stripped the same way.
        let body = r#"{"metadata":{"name":"b"},"data":{"k":"v"}}"#;
        let create = format!("{uri}?fieldManager=m");
        let (code, made) = call_from(Client::InProcess, &app, "POST", &create, body).await;
        assert_eq!(code, StatusCode::CREATED, "{made}");
        let made: Value = serde_json::from_str(&made).unwrap();
        let (_, b) = call(&app, "GET", &format!("{uri}/b"), "").await;
        let mut b: Value = serde_json::from_str(&b).unwrap();
        assert!(b["metadata"]["managedFields"].is_array(), "{b}");
        remove_managed_fields(&mut b);
        assert_eq!(made, b, "the POST answer");
    }

    #[tokio::test]
    async fn a_watch_from_a_compacted_resource_version_reports_410_expired() {
        let (app, _dir) = app(10);
        bootstrap_default(&app).await;
        for i in 0..1100 {
            let body = format!(r#"{{"metadata":{{"name":"cm-{i}"}}}}"#);
            call(&app, "POST", "/api/v1/namespaces/default/configmaps", &body).await;
        }
        let (code, body) = call(
            &app,
            "GET",
            "/api/v1/namespaces/default/configmaps?&watch=true&resourceVersion=2",
            "",
        )
        .await;
        assert_eq!(code, StatusCode::OK);
        let event: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
        assert_eq!(event["type"], "ERROR");
        assert_eq!(event["object"]["code"], 410);
        assert_eq!(event["object"]["reason"], "Expired");
    }

    /// How a watch selects the events it follows: by label `app=demo`, or by the field
    /// `reason=demo` (a field selector reads fields that replayed history does not keep).
    #[derive(Clone, Copy)]
    enum Selection {
        Label,
        Field,
    }

    impl Selection {
        fn query(self) -> &'static str {
            match self {
                Selection::Label => "labelSelector=app%3Ddemo",
                Selection::Field => "fieldSelector=reason%3Ddemo",
            }
        }

        /// A merge patch that puts an event in (`demo`) or out of the selection.
        fn set(self, value: &str) -> Value {
            match self {
                Selection::Label => json!({"metadata": {"labels": {"app": value}}}),
                Selection::Field => json!({"reason": value}),
            }
        }
    }

    /// What a selecting watch of events receives while one object enters and leaves its
    /// selection, started before the writes (`live`) or resumed after them from the stored
    /// history.
    async fn selected_watch_events(live: bool, selection: Selection) -> Vec<String> {
        let (app, _dir) = app(1000);
        let (_, namespace) =
            call(&app, "POST", "/api/v1/namespaces", r#"{"metadata":{"name":"default"}}"#).await;
        let from: Value = serde_json::from_str(&namespace).unwrap();
        let from = from["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
        let events = "/api/v1/namespaces/default/events";
        let query = selection.query();
        let watch = format!("{events}?watch=true&{query}&resourceVersion={from}&timeoutSeconds=2");
        let start_watch = || {
            let (app, watch) = (app.clone(), watch.clone());
            tokio::spawn(async move { call(&app, "GET", &watch, "").await })
        };
        let live_watch = live.then(start_watch);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let create = |name: &str, value: &str| {
            let mut body = selection.set(value);
            body["metadata"]["name"] = json!(name);
            let app = app.clone();
            async move { call(&app, "POST", events, &body.to_string()).await }
        };
        create("orders", "demo").await;
        for patch in [
            json!({"message": "1"}),
            selection.set("other"),
            json!({"message": "2"}),
            selection.set("demo"),
        ] {
            let request = HttpRequest::builder()
                .method("PATCH")
                .uri(format!("{events}/orders"))
                .header("authorization", "Bearer t")
                .header("content-type", "application/merge-patch+json")
                .body(Body::from(patch.to_string()))
                .unwrap();
            assert_eq!(app.clone().oneshot(request).await.unwrap().status(), StatusCode::OK);
        }
        create("ledger", "other").await;
        call(&app, "DELETE", &format!("{events}/orders"), "").await;

        let (code, body) = live_watch.unwrap_or_else(start_watch).await.unwrap();
        assert_eq!(code, StatusCode::OK);
        body.lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|e| e["type"] != "BOOKMARK")
            .map(|e| format!("{} {}", e["type"].as_str().unwrap(), e["object"]["message"]))
            .collect()
    }

    const ENTERING_AND_LEAVING: [&str; 5] =
        ["ADDED null", "MODIFIED \"1\"", "DELETED \"1\"", "ADDED \"2\"", "DELETED \"2\""];

    #[tokio::test]
    async fn a_label_selected_watch_sees_objects_enter_and_leave_its_selection() {
        assert_eq!(selected_watch_events(true, Selection::Label).await, ENTERING_AND_LEAVING);
    }

    #[tokio::test]
    async fn a_label_selected_watch_resumed_from_history_sees_the_same_moves() {
        assert_eq!(selected_watch_events(false, Selection::Label).await, ENTERING_AND_LEAVING);
    }

    #[tokio::test]
    async fn a_field_selected_watch_sees_objects_enter_and_leave_its_selection() {
        assert_eq!(selected_watch_events(true, Selection::Field).await, ENTERING_AND_LEAVING);
    }

    #[tokio::test]
    async fn a_field_selected_watch_resumed_from_history_sees_the_same_moves() {
        assert_eq!(selected_watch_events(false, Selection::Field).await, ENTERING_AND_LEAVING);
    }

    #[tokio::test]
    async fn requests_without_the_token_get_a_401_status() {
        let (app, _dir) = app(10);
        let request = HttpRequest::builder().uri("/api/v1/namespaces").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let status: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["reason"], "Unauthorized");
    }

    #[tokio::test]
    async fn bodies_over_3_mib_are_refused_with_413() {
        let (app, _dir) = app(10);
        bootstrap_default(&app).await;
        let big =
            format!(r#"{{"metadata":{{"name":"big"}},"data":{{"k":"{}"}}}}"#, "x".repeat(MAX_BODY));
        let (code, body) = call(&app, "POST", "/api/v1/namespaces/default/configmaps", &big).await;
        assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    }

    #[tokio::test]
    async fn create_update_conflict_and_paging_follow_kubernetes_semantics() {
        let (app, _dir) = app(1000);
        bootstrap_default(&app).await;
        let cms = "/api/v1/namespaces/default/configmaps";
        let (code, body) = call(&app, "POST", cms, r#"{"metadata":{"generateName":"gen-"}}"#).await;
        assert_eq!(code, StatusCode::CREATED);
        let generated: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(generated["metadata"]["name"].as_str().unwrap().len(), "gen-".len() + 5);
        let (code, _) = call(&app, "POST", cms, r#"{"metadata":{"name":"a"}}"#).await;
        assert_eq!(code, StatusCode::CREATED);
        let (code, body) = call(&app, "POST", cms, r#"{"metadata":{"name":"a"}}"#).await;
        assert_eq!(code, StatusCode::CONFLICT);
        assert!(body.contains("AlreadyExists"));
        let (code, body) = call(&app, "POST", cms, r#"{"metadata":{"name":"Bad_Name"}}"#).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains(r#""field":"metadata.name""#), "{body}");
        let (code, body) = call(
            &app,
            "PUT",
            &format!("{cms}/a"),
            r#"{"metadata":{"name":"a","resourceVersion":"1"},"data":{"x":"y"}}"#,
        )
        .await;
        assert_eq!(code, StatusCode::CONFLICT, "{body}");
        assert!(body.contains("the object has been modified"));
        let (_, page) = call(&app, "GET", &format!("{cms}?&limit=1"), "").await;
        let page: Value = serde_json::from_str(&page).unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        let token = page["metadata"]["continue"].as_str().unwrap();
        let (_, rest) = call(&app, "GET", &format!("{cms}?limit=1&continue={token}"), "").await;
        let rest: Value = serde_json::from_str(&rest).unwrap();
        assert_eq!(rest["items"][0]["metadata"]["name"], generated["metadata"]["name"]);
        assert_eq!(rest["metadata"]["resourceVersion"], page["metadata"]["resourceVersion"]);
    }

    #[tokio::test]
    async fn deletecollection_honours_selectors_and_dry_run_stores_nothing() {
        let (app, _dir) = app(1000);
        bootstrap_default(&app).await;
        let cms = "/api/v1/namespaces/default/configmaps";
        for (name, tier) in [("a", "web"), ("b", "web"), ("c", "db")] {
            let body =
                format!(r#"{{"metadata":{{"name":"{name}","labels":{{"tier":"{tier}"}}}}}}"#);
            call(&app, "POST", cms, &body).await;
        }
        let (code, _) =
            call(&app, "POST", &format!("{cms}?dryRun=All"), r#"{"metadata":{"name":"dry"}}"#)
                .await;
        assert_eq!(code, StatusCode::CREATED);
        let (code, _) = call(&app, "GET", &format!("{cms}/dry"), "").await;
        assert_eq!(code, StatusCode::NOT_FOUND);
        let (code, body) =
            call(&app, "DELETE", &format!("{cms}?labelSelector=tier%3Dweb"), "").await;
        assert_eq!(code, StatusCode::OK, "{body}");
        let (_, list) = call(&app, "GET", cms, "").await;
        let list: Value = serde_json::from_str(&list).unwrap();
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["c"]);
    }

    async fn names_in(app: &Router, collection: &str) -> Vec<String> {
        let (code, list) = call(app, "GET", collection, "").await;
        assert_eq!(code, StatusCode::OK, "{list}");
        let list: Value = serde_json::from_str(&list).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].to_string())
            .collect()
    }

    #[tokio::test]
    async fn a_field_selector_on_a_field_the_kind_is_not_selectable_by_is_refused() {
        let (app, _dir) = app(1000);
        bootstrap_default(&app).await;
        let cms = "/api/v1/namespaces/default/configmaps";
        for name in ["keep-a", "keep-b"] {
            call(&app, "POST", cms, &format!(r#"{{"metadata":{{"name":"{name}"}}}}"#)).await;
        }
        // A misspelt field would compare as "" and `!=` would select, and delete, everything.
        let (code, body) =
            call(&app, "DELETE", &format!("{cms}?fieldSelector=metadata.nmae%21%3Dx"), "").await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("field label not supported: metadata.nmae"), "{body}");
        let (code, _) = call(&app, "GET", &format!("{cms}?fieldSelector=data.x%3D1"), "").await;
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert_eq!(names_in(&app, cms).await.len(), 2);
        let secrets = "/api/v1/namespaces/default/secrets?fieldSelector=type%3DOpaque";
        assert!(names_in(&app, secrets).await.is_empty(), "a Secret's type is selectable");
    }

    #[tokio::test]
    async fn a_dry_run_value_other_than_all_is_refused_and_writes_nothing() {
        let (app, _dir) = app(1000);
        bootstrap_default(&app).await;
        let cms = "/api/v1/namespaces/default/configmaps";
        call(&app, "POST", cms, r#"{"metadata":{"name":"kept"}}"#).await;
        let (code, body) = call(&app, "DELETE", &format!("{cms}/kept?dryRun=true"), "").await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("dryRun: Unsupported value"), "{body}");
        let (code, _) =
            call(&app, "POST", &format!("{cms}?dryRun=Bogus"), r#"{"metadata":{"name":"x"}}"#)
                .await;
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert_eq!(names_in(&app, cms).await, ["\"kept\""]);
    }

    #[tokio::test]
    async fn namespaces_carry_their_name_as_a_label_and_the_default_ones_cannot_be_deleted() {
        let (app, _dir) = app(1000);
        bootstrap_default(&app).await;
        let (code, body) = call(&app, "DELETE", "/api/v1/namespaces/default", "").await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("this namespace may not be deleted"), "{body}");
        call(&app, "POST", "/api/v1/namespaces", r#"{"metadata":{"name":"team-a"}}"#).await;
        let selected = "/api/v1/namespaces?labelSelector=kubernetes.io%2Fmetadata.name%3Dteam-a";
        assert_eq!(names_in(&app, selected).await, ["\"team-a\""]);
        // The label follows the name even when a write tries to change it.
        let request = HttpRequest::builder()
            .method("PATCH")
            .uri("/api/v1/namespaces/team-a")
            .header("authorization", "Bearer t")
            .header("content-type", "application/merge-patch+json")
            .body(Body::from(r#"{"metadata":{"labels":{"kubernetes.io/metadata.name":"other"}}}"#))
            .unwrap();
        assert_eq!(app.clone().oneshot(request).await.unwrap().status(), StatusCode::OK);
        assert_eq!(names_in(&app, selected).await, ["\"team-a\""]);
        let (code, _) = call(&app, "DELETE", "/api/v1/namespaces/team-a", "").await;
        assert_eq!(code, StatusCode::OK);
    }
}
