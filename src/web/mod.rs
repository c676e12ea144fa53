//! The web dashboard and self-service portal, served from the same binary over the same watch
//! caches the controllers use.
//!
//! - [`cache`]: reflector stores the pages read (never a list call per request);
//! - [`auth`]: token login, HttpOnly + `SameSite=Strict` session cookie, CSRF on every POST;
//! - [`overview`], [`tree`], [`diff`]: the read-only pages; [`events`]: live updates (SSE);
//! - [`actions`]: reconcile now, suspend/resume, pause/unpause — a patch and an Event each;
//! - [`portal`]: claim forms generated from claimable XRDs, committed to Git or created;
//! - every response: a Content-Security-Policy without inline script, `X-Frame-Options`,
//!   `nosniff`, `Referrer-Policy`; cookies `Secure` when the request came over HTTPS.
//!
//! Portal annotations on an XRD: `portal.crosstie.io/title`, `portal.crosstie.io/description`,
//! `portal.crosstie.io/category`; an XRD with `portal.crosstie.io/hidden: "true"` is not offered.

pub mod actions;
pub mod auth;
pub mod cache;
pub mod diff;
pub mod events;
pub mod html;
pub mod overview;
pub mod portal;
pub mod tree;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

pub use cache::{CacheWriters, Caches, Role};
pub use portal::git::GitTarget;

/// Dashboard settings.
#[derive(Clone)]
pub struct Config {
    /// The login token.
    pub token: String,
    /// Refuse every write (actions and portal submissions).
    pub read_only: bool,
    /// Where portal claims are committed; `None` applies them directly.
    pub git: Option<GitTarget>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in logs.
        f.debug_struct("Config")
            .field("read_only", &self.read_only)
            .field("git", &self.git)
            .finish_non_exhaustive()
    }
}

/// Shared state of the dashboard's handlers.
#[derive(Clone, Debug)]
pub struct WebState {
    inner: Arc<Inner>,
}

struct Inner {
    caches: Arc<Caches>,
    client: kube::Client,
    config: Config,
    sessions: Mutex<auth::Sessions>,
    recorder: kube::runtime::events::Recorder,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState").field("config", &self.config).finish_non_exhaustive()
    }
}

impl WebState {
    /// State over `caches`, writing through `client`.
    pub fn new(caches: Arc<Caches>, client: kube::Client, config: Config) -> Self {
        let reporter = kube::runtime::events::Reporter {
            controller: actions::FIELD_MANAGER.to_owned(),
            instance: None,
        };
        let recorder = kube::runtime::events::Recorder::new(client.clone(), reporter);
        let inner = Inner { caches, client, config, sessions: Mutex::default(), recorder };
        Self { inner: Arc::new(inner) }
    }

    /// The watch caches.
    pub fn caches(&self) -> &Caches {
        &self.inner.caches
    }

    fn client(&self) -> kube::Client {
        self.inner.client.clone()
    }

    fn recorder(&self) -> &kube::runtime::events::Recorder {
        &self.inner.recorder
    }

    fn config(&self) -> &Config {
        &self.inner.config
    }
}

/// Why a request failed. Messages are shown to the user, escaped; internals are logged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such object in the caches.
    #[error("{0} not found")]
    NotFound(String),
    /// The request lacks a valid CSRF token, or the dashboard is read-only.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The object asked for exists already (live, or committed to the portal's repository).
    #[error("{0}")]
    Conflict(String),
    /// A Kubernetes write failed.
    #[error("Kubernetes API: {}", crosstie_runtime::patch::describe(.0))]
    Kube(#[from] kube::Error),
    /// Committing the claim to Git failed.
    #[error("Git: {0}")]
    Git(#[from] git2::Error),
    /// Writing the claim into the checkout failed.
    #[error("writing the claim: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The answer's status: 4xx for what the user can fix, including what the API server refuses
    /// as invalid, missing (an unknown namespace) or conflicting; 502 when an upstream failed.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Kube(kube::Error::Api(status))
                if matches!(status.code, 400 | 404 | 409 | 422) =>
            {
                StatusCode::from_u16(status.code).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Error::Kube(_) | Error::Git(_) | Error::Io(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "dashboard request failed");
        }
        let body = format!("<h1>{}</h1><p>{}</p>", status, html::esc(&self.to_string()));
        (status, Html(html::page("Error", None, false, &body))).into_response()
    }
}

/// The dashboard: every page behind the login, assets and the login page outside it.
pub fn router(state: WebState) -> Router {
    let pages = Router::new()
        .route("/", get(overview::index))
        .route("/tree/{kind}/{name}", get(tree::object))
        .route("/kustomizations/{namespace}/{name}", get(tree::kustomization))
        .route("/diff/{kind}/{name}", get(diff::object))
        .route("/events", get(events::stream))
        .route("/actions/{action}", post(actions::handle))
        .route("/portal", get(portal::index))
        .route("/portal/{xrd}", get(portal::form).post(portal::submit))
        .route("/logout", post(auth::logout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), caches_ready))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_session));
    Router::new()
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/assets/app.js", get(asset_js))
        .route("/assets/style.css", get(asset_css))
        .merge(pages)
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// The pages' script and style are the two files under `/assets` (no inline script, style or
/// event handler anywhere), so the policy needs no `'unsafe-inline'`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// Security headers on every response, and `Secure` on cookies set over HTTPS (directly, or
/// behind a proxy that says so with `X-Forwarded-Proto`).
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let https = request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if https {
        let cookies: Vec<HeaderValue> =
            headers.get_all(header::SET_COOKIE).iter().cloned().collect();
        headers.remove(header::SET_COOKIE);
        for cookie in cookies {
            let secure = [cookie.as_bytes(), b"; Secure"].concat();
            headers.append(header::SET_COOKIE, HeaderValue::from_bytes(&secure).unwrap_or(cookie));
        }
    }
    response
}

/// Pages read the caches: the first one starts them (after login, so nobody unauthenticated
/// can make the dashboard watch).
async fn caches_ready(
    axum::extract::State(state): axum::extract::State<WebState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    state.inner.caches.ready().await;
    next.run(request).await
}

async fn asset_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript")], include_str!("assets/app.js"))
}

async fn asset_css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css")], include_str!("assets/style.css"))
}
