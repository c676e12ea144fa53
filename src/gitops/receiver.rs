//! The Receiver webhook: `POST /hook/<sha256(token+name+namespace)>` validates the call for the
//! Receiver's `type` and asks each target to reconcile now (`reconcile.fluxcd.io/requestedAt`).
//!
//! Status codes: unknown path 404, suspended or not ready 503, missing or bad signature/token
//! 401, event not accepted 400, body over [`MAX_BODY`] 413, a failed target patch 500.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::gitops::api::{Receiver, WebhookTarget};

/// Largest accepted body: GitHub's own cap on webhook payloads.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

/// `/hook/<hex sha256(token + name + namespace)>`, Flux's `status.webhookPath`.
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    format!("/hook/{}", hex::encode(Sha256::digest(format!("{token}{name}{namespace}"))))
}

/// A Receiver found for a path, with its token.
#[derive(Clone, Debug)]
pub struct Hook {
    /// The Receiver.
    pub receiver: Receiver,
    /// The `token` key of its Secret; `None` when the Secret is missing (not ready).
    pub token: Option<String>,
}

/// What the router needs from the cluster: finding Receivers and annotating their targets.
/// [`crate::gitops::controller::KubeReceivers`] implements it; tests use an in-memory one.
pub trait ReceiverBackend: Send + Sync + 'static {
    /// The Receiver whose `status.webhookPath` is `path`.
    fn find(&self, path: &str) -> impl Future<Output = Option<Hook>> + Send;
    /// Merge-patch `reconcile.fluxcd.io/requestedAt = requested_at` onto every object `target`
    /// selects (in `namespace` unless the target names one); returns how many were patched.
    fn request_reconcile(
        &self,
        namespace: &str,
        target: &WebhookTarget,
        requested_at: &str,
    ) -> impl Future<Output = Result<usize, String>> + Send;
}

/// The webhook router.
pub fn router<B: ReceiverBackend>(backend: Arc<B>) -> Router {
    Router::new().route("/hook/{digest}", post(handle::<B>)).with_state(backend)
}

async fn handle<B: ReceiverBackend>(
    State(backend): State<Arc<B>>,
    Path(digest): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> (StatusCode, String) {
    let Some(hook) = backend.find(&format!("/hook/{digest}")).await else {
        return (StatusCode::NOT_FOUND, "no receiver for this path".into());
    };
    let spec = &hook.receiver.spec;
    let (Some(token), false) = (hook.token.as_deref(), spec.suspend == Some(true)) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "receiver is suspended or not ready".into());
    };
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, format!("body exceeds {MAX_BODY} bytes"));
    };
    let event = match validate(&spec.type_, &headers, &body, token) {
        Ok(event) => event,
        Err(rejection) => return rejection.into_response(),
    };
    if let Some(event) = &event {
        if spec.type_ == "github" && event == "ping" {
            return (StatusCode::OK, "pong".into());
        }
        if !spec.events.is_empty() && !spec.events.iter().any(|e| e.eq_ignore_ascii_case(event)) {
            return (StatusCode::BAD_REQUEST, format!("event {event:?} is not accepted"));
        }
    }
    let namespace = hook.receiver.metadata.namespace.clone().unwrap_or_default();
    let requested_at = jiff::Timestamp::now().to_string();
    let mut patched = 0;
    for target in &spec.resources {
        match backend.request_reconcile(&namespace, target, &requested_at).await {
            Ok(n) => patched += n,
            Err(e) => {
                tracing::warn!(receiver = ?hook.receiver.metadata.name, error = %e, "cannot annotate webhook target");
                return (StatusCode::INTERNAL_SERVER_ERROR, "cannot request reconciliation".into());
            }
        }
    }
    (StatusCode::OK, format!("requested reconciliation of {patched} object(s)"))
}

/// Why a call was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Missing or wrong signature or token.
    Unauthorized(&'static str),
    /// The Receiver type is not supported.
    UnsupportedType(String),
}

impl Rejection {
    fn into_response(self) -> (StatusCode, String) {
        match self {
            Rejection::Unauthorized(why) => (StatusCode::UNAUTHORIZED, why.into()),
            Rejection::UnsupportedType(t) => {
                (StatusCode::BAD_REQUEST, format!("unsupported receiver type {t:?}"))
            }
        }
    }
}

/// Validate a call for receiver `type_` and return its event type, if the type carries one.
pub fn validate(
    type_: &str,
    headers: &HeaderMap,
    body: &[u8],
    token: &str,
) -> Result<Option<String>, Rejection> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match type_ {
        "generic" => Ok(None),
        "generic-hmac" => {
            let signature =
                header("X-Signature").ok_or(Rejection::Unauthorized("missing X-Signature"))?;
            verify_hmac(signature, body, token)?;
            Ok(None)
        }
        "github" => {
            let signature = header("X-Hub-Signature-256")
                .or_else(|| header("X-Hub-Signature"))
                .ok_or(Rejection::Unauthorized("missing X-Hub-Signature-256"))?;
            verify_hmac(signature, body, token)?;
            Ok(header("X-GitHub-Event").map(str::to_owned))
        }
        "gitlab" => {
            let given = header("X-Gitlab-Token")
                .ok_or(Rejection::Unauthorized("missing X-Gitlab-Token"))?;
            // Compare digests so the comparison time does not depend on the token's content.
            if Sha256::digest(given) != Sha256::digest(token) {
                return Err(Rejection::Unauthorized("invalid X-Gitlab-Token"));
            }
            Ok(header("X-Gitlab-Event").map(str::to_owned))
        }
        other => Err(Rejection::UnsupportedType(other.to_owned())),
    }
}

/// Check `<algo>=<hex>` (sha1, sha256, sha512) as an HMAC of `body` keyed with `token`.
fn verify_hmac(signature: &str, body: &[u8], token: &str) -> Result<(), Rejection> {
    let bad = Rejection::Unauthorized("invalid signature");
    let (algorithm, hex_mac) =
        signature.split_once('=').ok_or(Rejection::Unauthorized("malformed signature"))?;
    let mac = hex::decode(hex_mac).map_err(|_| Rejection::Unauthorized("malformed signature"))?;
    let key = token.as_bytes();
    let ok = match algorithm {
        "sha1" => check::<Hmac<sha1::Sha1>>(key, body, &mac),
        "sha256" => check::<Hmac<Sha256>>(key, body, &mac),
        "sha512" => check::<Hmac<sha2::Sha512>>(key, body, &mac),
        _ => return Err(Rejection::Unauthorized("unsupported signature algorithm")),
    };
    if ok { Ok(()) } else { Err(bad) }
}

fn check<M: Mac + hmac::digest::KeyInit>(key: &[u8], body: &[u8], mac: &[u8]) -> bool {
    let Ok(mut m) = <M as hmac::digest::KeyInit>::new_from_slice(key) else { return false };
    m.update(body);
    m.verify_slice(mac).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign<M: Mac + hmac::digest::KeyInit>(key: &str, body: &[u8]) -> String {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key.as_bytes()).unwrap();
        m.update(body);
        hex::encode(m.finalize().into_bytes())
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (axum::http::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn webhook_paths_are_sha256_of_token_name_and_namespace() {
        let expected = format!("/hook/{}", hex::encode(Sha256::digest("tokenhookflux-system")));
        assert_eq!(webhook_path("token", "hook", "flux-system"), expected);
    }

    #[test]
    fn generic_hmac_accepts_sha1_sha256_and_sha512() {
        let body = b"{}";
        for sig in [
            format!("sha1={}", sign::<Hmac<sha1::Sha1>>("t", body)),
            format!("sha256={}", sign::<Hmac<Sha256>>("t", body)),
            format!("sha512={}", sign::<Hmac<sha2::Sha512>>("t", body)),
        ] {
            assert_eq!(
                validate("generic-hmac", &headers(&[("x-signature", sig.clone())]), body, "t"),
                Ok(None),
                "{sig}"
            );
            assert!(
                validate("generic-hmac", &headers(&[("x-signature", sig)]), body, "other").is_err()
            );
        }
        assert!(validate("generic-hmac", &HeaderMap::new(), body, "t").is_err());
    }

    #[test]
    fn gitlab_checks_the_token_header() {
        let ok = headers(&[("x-gitlab-token", "t".into()), ("x-gitlab-event", "Push Hook".into())]);
        assert_eq!(validate("gitlab", &ok, b"", "t"), Ok(Some("Push Hook".into())));
        let bad = headers(&[("x-gitlab-token", "nope".into())]);
        assert_eq!(
            validate("gitlab", &bad, b"", "t"),
            Err(Rejection::Unauthorized("invalid X-Gitlab-Token"))
        );
    }
}
