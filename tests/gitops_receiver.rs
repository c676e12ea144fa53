//! The Receiver webhook router, driven with tower `oneshot` (no socket) over an in-memory
//! backend that records which targets were asked to reconcile.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use crosstie::gitops::api::{LocalObjectReference, Receiver, ReceiverSpec, WebhookTarget};
use crosstie::gitops::receiver::{Hook, MAX_BODY, ReceiverBackend, router, webhook_path};
use hmac::{Hmac, Mac};
use tower::ServiceExt;

const TOKEN: &str = "s3cret-token";

#[derive(Default)]
struct Backend {
    receivers: Vec<Hook>,
    patched: Mutex<Vec<(String, String, String)>>,
}

impl ReceiverBackend for Backend {
    async fn find(&self, path: &str) -> Option<Hook> {
        self.receivers
            .iter()
            .find(|h| {
                h.receiver.status.as_ref().and_then(|s| s.webhook_path.as_deref()) == Some(path)
            })
            .cloned()
    }

    async fn request_reconcile(
        &self,
        namespace: &str,
        target: &WebhookTarget,
        at: &str,
    ) -> Result<usize, String> {
        let ns = target.namespace.clone().unwrap_or_else(|| namespace.to_owned());
        self.patched.lock().unwrap().push((
            target.kind.clone(),
            format!("{ns}/{}", target.name),
            at.to_owned(),
        ));
        Ok(1)
    }
}

fn receiver(type_: &str, events: &[&str], suspend: bool) -> Hook {
    let mut r = Receiver::new(
        &format!("{type_}-hook"),
        ReceiverSpec {
            type_: type_.into(),
            events: events.iter().map(|e| (*e).into()).collect(),
            resources: vec![
                WebhookTarget {
                    kind: "GitRepository".into(),
                    name: "myapp-source".into(),
                    ..Default::default()
                },
                WebhookTarget {
                    kind: "Kustomization".into(),
                    name: "myapp".into(),
                    ..Default::default()
                },
            ],
            secret_ref: LocalObjectReference { name: "webhook-token".into() },
            suspend: suspend.then_some(true),
        },
    );
    r.metadata.namespace = Some("flux-system".into());
    r.status = Some(crosstie::gitops::api::ReceiverStatus {
        webhook_path: Some(webhook_path(TOKEN, &format!("{type_}-hook"), "flux-system")),
        ..Default::default()
    });
    Hook { receiver: r, token: Some(TOKEN.into()) }
}

fn github_signature(body: &[u8], key: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn backend(hooks: Vec<Hook>) -> Arc<Backend> {
    Arc::new(Backend { receivers: hooks, ..Default::default() })
}

async fn post(
    backend: &Arc<Backend>,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> StatusCode {
    let mut request = Request::post(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    router(backend.clone()).oneshot(request.body(Body::from(body)).unwrap()).await.unwrap().status()
}

#[tokio::test]
async fn a_validly_signed_github_push_annotates_every_target() {
    let b = backend(vec![receiver("github", &[], false)]);
    let path = webhook_path(TOKEN, "github-hook", "flux-system");
    let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let sig = github_signature(&body, TOKEN);

    let status =
        post(&b, &path, &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)], body).await;

    assert_eq!(status, StatusCode::OK);
    let patched = b.patched.lock().unwrap().clone();
    let targets: Vec<(&str, &str)> =
        patched.iter().map(|(k, n, _)| (k.as_str(), n.as_str())).collect();
    assert_eq!(
        targets,
        [("GitRepository", "flux-system/myapp-source"), ("Kustomization", "flux-system/myapp")]
    );
    assert!(
        patched[0].2.parse::<jiff::Timestamp>().is_ok(),
        "requestedAt is a timestamp: {}",
        patched[0].2
    );
}

#[tokio::test]
async fn a_badly_signed_or_unsigned_github_call_is_refused_with_401() {
    let b = backend(vec![receiver("github", &[], false)]);
    let path = webhook_path(TOKEN, "github-hook", "flux-system");
    let body = b"{}".to_vec();
    let wrong = github_signature(&body, "not-the-token");
    assert_eq!(
        post(
            &b,
            &path,
            &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &wrong)],
            body.clone()
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&b, &path, &[("X-GitHub-Event", "push")], body.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let tampered = github_signature(b"{\"other\":1}", TOKEN);
    assert_eq!(
        post(&b, &path, &[("X-Hub-Signature-256", &tampered)], body).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(b.patched.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_github_ping_answers_without_reconciling() {
    let b = backend(vec![receiver("github", &["push"], false)]);
    let path = webhook_path(TOKEN, "github-hook", "flux-system");
    let sig = github_signature(b"{}", TOKEN);
    assert_eq!(
        post(
            &b,
            &path,
            &[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &sig)],
            b"{}".to_vec()
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        post(
            &b,
            &path,
            &[("X-GitHub-Event", "release"), ("X-Hub-Signature-256", &sig)],
            b"{}".to_vec()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert!(b.patched.lock().unwrap().is_empty());
}

#[tokio::test]
async fn gitlab_and_generic_receivers_validate_their_own_way() {
    let b = backend(vec![receiver("gitlab", &[], false), receiver("generic", &[], false)]);
    let gitlab = webhook_path(TOKEN, "gitlab-hook", "flux-system");
    assert_eq!(
        post(&b, &gitlab, &[("X-Gitlab-Token", TOKEN), ("X-Gitlab-Event", "Push Hook")], vec![])
            .await,
        StatusCode::OK
    );
    assert_eq!(
        post(&b, &gitlab, &[("X-Gitlab-Token", "nope")], vec![]).await,
        StatusCode::UNAUTHORIZED
    );
    let generic = webhook_path(TOKEN, "generic-hook", "flux-system");
    assert_eq!(post(&b, &generic, &[], vec![]).await, StatusCode::OK);
    assert_eq!(b.patched.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn unknown_paths_suspended_receivers_and_oversized_bodies_are_refused() {
    let b = backend(vec![receiver("generic", &[], true), receiver("github", &[], false)]);
    assert_eq!(post(&b, "/hook/0123", &[], vec![]).await, StatusCode::NOT_FOUND);
    let suspended = webhook_path(TOKEN, "generic-hook", "flux-system");
    assert_eq!(post(&b, &suspended, &[], vec![]).await, StatusCode::SERVICE_UNAVAILABLE);
    let github = webhook_path(TOKEN, "github-hook", "flux-system");
    assert_eq!(
        post(&b, &github, &[], vec![b' '; MAX_BODY + 1]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert!(b.patched.lock().unwrap().is_empty());
}
