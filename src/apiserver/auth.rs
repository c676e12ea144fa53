//! Bearer-token authentication: one generated token, stored in the data directory and written
//! into the kubeconfig. Requests without it get a 401 `Status`.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;

use super::status::ApiError;

/// Loads the token from `dir/token`, generating it on first start.
pub fn load_or_create_token(dir: &Path) -> std::io::Result<String> {
    let path = dir.join("token");
    if let Ok(token) = std::fs::read_to_string(&path)
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_owned());
    }
    let token = hex::encode(rand::rng().random::<[u8; 32]>());
    super::write_private(&path, token.as_bytes())?;
    Ok(token)
}

/// Compares without an early exit, so response timing does not reveal a token prefix.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: lets requests carrying `Authorization: Bearer <token>` through.
pub async fn require_token(
    State(token): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(p) if same(p.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => ApiError::new(401, "Unauthorized", "Unauthorized").into_response(),
    }
}
