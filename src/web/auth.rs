//! Login with the dashboard token, the session cookie (HttpOnly, `SameSite=Strict`) and the
//! per-session CSRF token every POST must carry (form field `csrf` or header `x-csrf-token`).
//!
//! `POST /login` is the one POST without a CSRF token: there is no session yet, and it needs
//! the secret token itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use rand::Rng as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::html::{esc, page};
use super::{Error, WebState};

/// The session cookie's name.
pub const COOKIE: &str = "crosstie_session";
/// How long a session lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Largest POST body accepted (portal forms are small).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// A logged-in user.
#[derive(Clone, Debug)]
pub struct Session {
    /// The token POSTs must echo.
    pub csrf: String,
    /// Display name, the author of portal commits.
    pub name: String,
    /// E-mail address, the author of portal commits.
    pub email: String,
    /// When the session ends.
    pub expires: Instant,
}

/// Sessions by cookie value.
pub(super) type Sessions = HashMap<String, Session>;

/// A random 256-bit token in hex: session ids, CSRF tokens and the generated login token.
pub fn generate_token() -> String {
    hex::encode(rand::rng().random::<[u8; 32]>())
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|cookies| {
        cookies.split(';').find_map(|c| {
            let (name, value) = c.trim().split_once('=')?;
            (name == COOKIE).then(|| value.to_owned())
        })
    })
}

fn same_secret(a: &str, b: &str) -> bool {
    // Comparing digests keeps the comparison's time independent of where the inputs differ.
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// Lets only logged-in users through, and only POSTs with the session's CSRF token.
pub async fn require_session(
    State(state): State<WebState>,
    request: Request,
    next: Next,
) -> Result<Response, Error> {
    let session = session_id(request.headers()).and_then(|id| {
        let mut sessions = state.inner.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.get(&id).cloned()
    });
    let Some(session) = session else {
        if request.method() == Method::GET {
            return Ok(Redirect::to("/login").into_response());
        }
        return Err(Error::Forbidden("log in first"));
    };
    let mut request = if request.method() == Method::POST {
        let (parts, body) = request.into_parts();
        let bytes = to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| Error::BadRequest("form too large".into()))?;
        let header_token = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        let form_token = form_urlencoded_field(&bytes, "csrf");
        let presented = header_token.map(str::to_owned).or(form_token);
        if !presented.is_some_and(|t| same_secret(&t, &session.csrf)) {
            return Err(Error::Forbidden("missing or invalid CSRF token"));
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        request
    };
    request.extensions_mut().insert(session);
    Ok(next.run(request).await)
}

fn form_urlencoded_field(body: &[u8], field: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    pairs.into_iter().find(|(k, _)| k == field).map(|(_, v)| v)
}

/// `GET /login`.
pub async fn login_page() -> Html<String> {
    Html(login_form(None))
}

fn login_form(error: Option<&str>) -> String {
    let error = error.map(|e| format!(r#"<p class="error">{}</p>"#, esc(e))).unwrap_or_default();
    let body = format!(
        r#"<h1>Log in</h1>{error}
<form method="post" action="/login" class="login">
<label>Token <input type="password" name="token" required autocomplete="current-password"></label>
<label>Your name <input name="name" required></label>
<label>E-mail <input type="email" name="email" required></label>
<button>Log in</button></form>
<p class="hint">The token is printed by <code>crosstie up</code>. Name and e-mail author your portal commits.</p>"#
    );
    page("Log in", None, false, &body)
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct Login {
    token: String,
    name: String,
    email: String,
}

/// `POST /login`: checks the token and starts a session.
pub async fn login(State(state): State<WebState>, Form(login): Form<Login>) -> Response {
    // An empty configured token would let anyone in: refuse every login instead.
    let token = &state.config().token;
    if token.is_empty() || !same_secret(&login.token, token) {
        return (StatusCode::UNAUTHORIZED, Html(login_form(Some("Wrong token.")))).into_response();
    }
    let (name, email) = (login.name.trim(), login.email.trim());
    if name.is_empty() || !email.contains('@') {
        let message = "Give your name and e-mail address.";
        return (StatusCode::BAD_REQUEST, Html(login_form(Some(message)))).into_response();
    }
    // They author portal commits, and Git refuses these: better said now than at Submit.
    let unfit = |text: &str| text.chars().any(|c| c.is_control() || c == '<' || c == '>');
    if unfit(name) || unfit(email) {
        let message =
            "Name and e-mail author Git commits: they cannot contain <, > or line breaks.";
        return (StatusCode::BAD_REQUEST, Html(login_form(Some(message)))).into_response();
    }
    let id = generate_token();
    let session = Session {
        csrf: generate_token(),
        name: name.to_owned(),
        email: email.to_owned(),
        expires: Instant::now() + SESSION_LIFETIME,
    };
    state.inner.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), session);
    let max_age = SESSION_LIFETIME.as_secs();
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

/// `POST /logout`: ends the session.
pub async fn logout(
    State(state): State<WebState>,
    Extension(session): Extension<Session>,
) -> Response {
    state
        .inner
        .sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|_, s| s.csrf != session.csrf);
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
