//! The reconcilers: GitRepository, Kustomization and Receiver, each a pipeline of small named
//! steps whose status is written once, at the end, and only when it changed.
//!
//! [`run`] starts all three; the lead wires it next to the API server. Kustomizations react at
//! once to a new source revision (they watch GitRepositories) and to their dependencies
//! becoming ready (they watch each other).

pub mod git_repository;
pub mod kustomization;
pub mod receiver;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

pub use receiver::KubeReceivers;

use crate::gitops::api::REQUESTED_AT_ANNOTATION;
use crate::gitops::apply::Applier;
use crate::gitops::source::GitStorage;

/// Flux's finalizer: on deletion, a Kustomization with `prune: true` deletes what it applied
/// and a GitRepository removes its cache and artifacts.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// Why a reconcile could not even record its outcome.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing status failed.
    #[error("cannot patch status: {}", crosstie_runtime::patch::describe(.0))]
    PatchStatus(#[source] kube::Error),
    /// Cleaning up a deleted object failed; retried.
    #[error("cleanup failed: {0}")]
    Cleanup(String),
    /// Adding or removing the finalizer failed (boxed: the type is recursive).
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

/// Shared state of the reconcilers.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Git caches and artifacts.
    pub storage: GitStorage,
    /// Server-side apply, prune and health.
    pub applier: Applier,
    /// kubectl for kustomization folders (default: from `PATH`).
    pub kubectl: Option<PathBuf>,
    /// When each object is next due, by `Kind/namespace/name` and the fingerprint it was due for:
    /// our own status writes wake the controller, and this keeps those wake-ups free.
    schedule: Mutex<HashMap<String, (String, Instant)>>,
    /// The uid and the revision each Kustomization last applied, by `Kind/namespace/name` (an
    /// object created again under the name starts afresh). Its status says so too, but a
    /// reconcile starts from the watch cache, which may not yet hold the status the one before
    /// it wrote: a "reconcile now" that waited behind a health check would take the revision
    /// for a new one and revert a manual change without reporting the drift.
    applied: Mutex<HashMap<String, (String, String)>>,
}

impl Context {
    /// A context storing Git data under `data_dir`.
    pub fn new(client: Client, data_dir: PathBuf) -> Self {
        Context {
            applier: Applier::new(client.clone()),
            client,
            storage: GitStorage::new(data_dir),
            kubectl: None,
            schedule: Mutex::default(),
            applied: Mutex::default(),
        }
    }

    /// How long until `key` is due, if it already ran for this `fingerprint` and is not due yet.
    async fn not_due(&self, key: &str, fingerprint: &str) -> Option<Duration> {
        let schedule = self.schedule.lock().await;
        let (seen, due) = schedule.get(key)?;
        (seen == fingerprint).then(|| due.checked_duration_since(Instant::now())).flatten()
    }

    async fn schedule(&self, key: String, fingerprint: String, after: Duration) {
        self.schedule.lock().await.insert(key, (fingerprint, Instant::now() + after));
    }

    async fn applied(&self, key: &str, uid: &str) -> Option<String> {
        let applied = self.applied.lock().await;
        applied.get(key).filter(|(seen, _)| seen == uid).map(|(_, revision)| revision.clone())
    }

    async fn record_applied(&self, key: String, uid: String, revision: String) {
        self.applied.lock().await.insert(key, (uid, revision));
    }

    fn recorder(&self, controller: &str) -> Recorder {
        Recorder::new(
            self.client.clone(),
            Reporter { controller: controller.into(), instance: None },
        )
    }
}

/// The `reconcile.fluxcd.io/requestedAt` value, if set.
pub fn requested_at<K: Resource>(object: &K) -> Option<String> {
    object.meta().annotations.as_ref()?.get(REQUESTED_AT_ANNOTATION).cloned()
}

/// Merge-patch `status` when it differs from the object's current one: one write per
/// reconcile at most, none when nothing changed. Fields that became empty are sent as `null`,
/// because a merge patch keeps whatever it does not mention.
async fn patch_status<K, S>(
    client: &Client,
    object: &K,
    old: Option<&S>,
    new: &S,
) -> Result<(), Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if old == Some(new) {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(client.clone(), &object.namespace().unwrap_or_default());
    let mut status = serde_json::to_value(new).expect("status serializes");
    if let (Some(old), Some(fields)) = (old.map(serde_json::to_value), status.as_object_mut())
        && let Ok(serde_json::Value::Object(old)) = old
    {
        for key in old.keys().filter(|k| !fields.contains_key(*k)).cloned().collect::<Vec<_>>() {
            fields.insert(key, serde_json::Value::Null);
        }
    }
    let patch = serde_json::json!({ "status": status });
    api.patch_status(&object.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(Error::PatchStatus)
}

/// Run `apply` or, for a deleted object, `cleanup` under [`FINALIZER`].
async fn with_finalizer<K, A, C>(
    client: &Client,
    object: Arc<K>,
    apply: A,
    cleanup: C,
) -> Result<Action, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
    A: AsyncFnOnce(Arc<K>) -> Result<Action, Error>,
    C: AsyncFnOnce(Arc<K>) -> Result<Action, Error>,
{
    let api: Api<K> = Api::namespaced(client.clone(), &object.namespace().unwrap_or_default());
    finalizer(&api, FINALIZER, object, async |event| match event {
        FinalizerEvent::Apply(o) => apply(o).await,
        FinalizerEvent::Cleanup(o) => cleanup(o).await,
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// Publish an event, logging (not failing) when the API refuses it.
async fn publish<K: Resource<DynamicType = ()>>(
    recorder: &Recorder,
    object: &K,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &object.object_ref(&())).await {
        tracing::debug!(error = %e, reason, "cannot publish event");
    }
}

/// Run the GitRepository, Kustomization and Receiver controllers until the process exits.
pub async fn run(client: Client, data_dir: PathBuf) {
    run_with(Arc::new(Context::new(client, data_dir))).await;
}

/// Like [`run`] with a prepared context (e.g. `kubectl` set to a known binary).
pub async fn run_with(ctx: Arc<Context>) {
    tokio::join!(
        git_repository::run(ctx.clone()),
        kustomization::run(ctx.clone()),
        receiver::run(ctx)
    );
}
