//! The GitRepository reconciler: `parse_spec` → `load_credentials` → `reconcile_source` →
//! `record_outcome`, then one status write and a requeue at `spec.interval`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder};
use kube::runtime::{Controller, watcher};
use kube::{Resource, ResourceExt};

use super::{Context, Error, patch_status, publish, requested_at, with_finalizer};
use crate::gitops::api::conditions::{self, reason};
use crate::gitops::api::{GitRepository, GitRepositoryStatus, duration};
use crate::gitops::source::tls::TrustedCa;
use crate::gitops::source::{self, Auth, Outcome, SourceRequest};

/// Event and condition vocabulary of source-controller.
const CONTROLLER: &str = "source-controller";
const NEW_ARTIFACT: &str = "NewArtifact";

/// Run the GitRepository controller.
pub async fn run(ctx: Arc<Context>) {
    let api = Api::<GitRepository>::all(ctx.client.clone());
    Controller::new(api, watcher::Config::default())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::warn!(error = %e, "gitrepository reconcile failed");
            }
        })
        .await;
}

fn error_policy(_repo: Arc<GitRepository>, _error: &Error, _ctx: Arc<Context>) -> Action {
    Action::requeue(Duration::from_secs(10))
}

/// Reconcile one GitRepository; on deletion, remove its cache and artifacts.
pub async fn reconcile(repo: Arc<GitRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
    let storage = ctx.storage.clone();
    with_finalizer(
        &ctx.client.clone(),
        repo,
        async |r| apply(r, ctx).await,
        async |r| {
            storage
                .remove(&r.namespace().unwrap_or_default(), &r.name_any())
                .map_err(|e| Error::Cleanup(e.to_string()))?;
            Ok(Action::await_change())
        },
    )
    .await
}

async fn apply(repo: Arc<GitRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Keyed by kind too: Flux bootstraps a GitRepository and a Kustomization of the same name.
    let key = format!("GitRepository/{}/{}", repo.namespace().unwrap_or_default(), repo.name_any());
    let requested = requested_at(repo.as_ref());
    let fingerprint = format!("{:?}/{requested:?}", repo.meta().generation);
    if let Some(wait) = ctx.not_due(&key, &fingerprint).await {
        return Ok(Action::requeue(wait));
    }
    let old = repo.status.clone();
    let mut status = old.clone().unwrap_or_default();
    let generation = repo.meta().generation;

    let requeue = if repo.spec.suspend == Some(true) {
        None
    } else {
        Some(pipeline(&repo, &ctx, &mut status, generation).await)
    };
    status.observed_generation = generation;
    if requested.is_some() {
        status.last_handled_reconcile_at = requested;
    }
    patch_status(&ctx.client, repo.as_ref(), old.as_ref(), &status).await?;
    match requeue {
        Some(after) => {
            ctx.schedule(key, fingerprint, after).await;
            Ok(Action::requeue(after))
        }
        None => Ok(Action::await_change()),
    }
}

/// The steps; returns when to run next.
async fn pipeline(
    repo: &GitRepository,
    ctx: &Context,
    status: &mut GitRepositoryStatus,
    generation: Option<i64>,
) -> Duration {
    let conds = &mut status.conditions;
    let (interval, timeout) = match parse_spec(repo) {
        Ok(parsed) => parsed,
        Err(message) => {
            stalled(conds, reason::INVALID_SPEC, &message, generation);
            return Duration::from_secs(600);
        }
    };
    let recorder = ctx.recorder(CONTROLLER);
    let (auth, ca) = match load_credentials(repo, ctx).await {
        Ok(credentials) => credentials,
        Err(e) => return fetch_failed(repo, &recorder, status, &e, generation, interval).await,
    };
    let request = SourceRequest {
        namespace: repo.namespace().unwrap_or_default(),
        name: repo.name_any(),
        url: repo.spec.url.clone(),
        reference: repo.spec.reference.clone(),
        auth,
        ca,
        timeout,
        ignore: repo.spec.ignore.clone(),
        last_artifact: status.artifact.clone(),
        last_ignore: status.observed_ignore.clone(),
    };
    match ctx.storage.reconcile_async(request).await {
        Ok(outcome) => {
            record_success(repo, &recorder, status, outcome, generation).await;
            interval
        }
        Err(e) => fetch_failed(repo, &recorder, status, &e, generation, interval).await,
    }
}

fn parse_spec(repo: &GitRepository) -> Result<(Duration, Duration), String> {
    if let Some(message) = repo.spec.unsupported() {
        return Err(message);
    }
    let interval =
        duration::parse("spec.interval", &repo.spec.interval).map_err(|e| e.to_string())?;
    let timeout = match &repo.spec.timeout {
        Some(t) => duration::parse("spec.timeout", t).map_err(|e| e.to_string())?,
        None => source::DEFAULT_TIMEOUT,
    };
    Ok((interval.max(Duration::from_secs(1)), timeout))
}

/// Credentials and extra CAs (`ca.crt`, or the legacy `caFile`) from `spec.secretRef`.
async fn load_credentials(
    repo: &GitRepository,
    ctx: &Context,
) -> Result<(Auth, Option<TrustedCa>), source::Error> {
    let Some(secret_ref) = &repo.spec.secret_ref else { return Ok((Auth::None, None)) };
    let api: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &repo.namespace().unwrap_or_default());
    let secret = api
        .get_opt(&secret_ref.name)
        .await
        .map_err(|e| source::Error::Auth(format!("cannot read secret {:?}: {e}", secret_ref.name)))?
        .ok_or_else(|| {
            source::Error::Auth(format!("secret {:?} (spec.secretRef) not found", secret_ref.name))
        })?;
    let mut data: BTreeMap<String, Vec<u8>> =
        secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
    for (k, v) in secret.string_data.unwrap_or_default() {
        data.insert(k, v.into_bytes());
    }
    let ca = match data.get("ca.crt").or_else(|| data.get("caFile")) {
        Some(pem) => Some(TrustedCa::from_pem(&secret_ref.name, pem)?),
        None => None,
    };
    Ok((Auth::from_secret(&secret_ref.name, &data)?, ca))
}

async fn record_success(
    repo: &GitRepository,
    recorder: &Recorder,
    status: &mut GitRepositoryStatus,
    outcome: Outcome,
    generation: Option<i64>,
) {
    if let Outcome::NewArtifact(artifact) = outcome {
        let note = format!("stored artifact for commit '{}'", artifact.revision);
        publish(recorder, repo, EventType::Normal, NEW_ARTIFACT, note).await;
        status.artifact = Some(artifact);
        status.observed_ignore = repo.spec.ignore.clone();
    }
    let revision = status.artifact.as_ref().map(|a| a.revision.clone()).unwrap_or_default();
    let message = format!("stored artifact for revision '{revision}'");
    let conds = &mut status.conditions;
    for negative in [conditions::FETCH_FAILED, conditions::RECONCILING, conditions::STALLED] {
        conditions::remove(conds, negative);
    }
    conditions::set(
        conds,
        conditions::ARTIFACT_IN_STORAGE,
        true,
        reason::SUCCEEDED,
        &message,
        generation,
    );
    conditions::set(conds, conditions::READY, true, reason::SUCCEEDED, message, generation);
}

/// Record a failed fetch: `FetchFailed` and `Ready=False` with Flux's reason, a warning event,
/// `Stalled` when only a spec change can help. The last artifact stays available.
async fn fetch_failed(
    repo: &GitRepository,
    recorder: &Recorder,
    status: &mut GitRepositoryStatus,
    error: &source::Error,
    generation: Option<i64>,
    interval: Duration,
) -> Duration {
    let message = error.to_string();
    publish(recorder, repo, EventType::Warning, error.reason(), message.clone()).await;
    let conds = &mut status.conditions;
    if error.is_stalling() {
        stalled(conds, error.reason(), &message, generation);
        return interval;
    }
    conditions::set(conds, conditions::FETCH_FAILED, true, error.reason(), &message, generation);
    conditions::set(
        conds,
        conditions::RECONCILING,
        true,
        reason::PROGRESSING_WITH_RETRY,
        "retrying after failure",
        generation,
    );
    conditions::set(conds, conditions::READY, false, error.reason(), message, generation);
    interval
}

fn stalled(
    conds: &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    why: &str,
    message: &str,
    generation: Option<i64>,
) {
    conditions::remove(conds, conditions::RECONCILING);
    conditions::set(conds, conditions::STALLED, true, why, message, generation);
    conditions::set(conds, conditions::READY, false, why, message, generation);
}
