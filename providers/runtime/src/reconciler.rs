//! The generic managed-resource reconciler, in Crossplane's step order.
//!
//! Expected flow of one pass (crossplane-runtime `managed.Reconciler.Reconcile`):
//!
//! 1. Paused (`crossplane.io/paused: "true"` or `managementPolicies: []`) ⇒ `Synced=False`
//!    `ReconcilePaused`, an event, and nothing else until the object changes.
//! 2. Validate the management policies and the poll-interval annotation.
//! 3. Deleted while the policies keep the external resource ⇒ drop the finalizer only.
//! 4. Default `crossplane.io/external-name` to `metadata.name`.
//! 5. Leak guard: a `-pending` create newer than `-succeeded` and `-failed` may have created an
//!    external resource nobody recorded ⇒ stop and say so; never create twice. Kinds with
//!    deterministic external names skip it: `observe` finds such a resource by name.
//! 6. Resolve references (not while deleting), record ProviderConfig usage, connect, observe.
//! 7. Deleting ⇒ delete the external resource and requeue until it is gone, then drop the
//!    finalizer.
//! 8. Publish connection details; add the finalizer. What references changed in `spec` is saved
//!    with it, in one write (Crossplane saves it on its own before connecting).
//! 9. Absent ⇒ create (recording `-pending` first with an optimistic-concurrency write, so a
//!    conflicting reconcile cannot create twice), then observe again from step 7 in the same
//!    pass (Crossplane requeues at once instead: same calls, one status write fewer); else
//!    late-initialize, then update if drifted.
//!
//! Every failure sets `Synced=False` with the error, emits a Warning event and requeues with
//! per-object exponential backoff (terminal provider errors wait for the poll interval). Writes
//! are patches of just the fields the engine owns, and a resource whose owned fields are
//! unchanged gets no write at all. A watch event that only echoes one of the last pass's own
//! writes does not start a new pass (see [`crate::requeue::Echoes`]), so writes never double
//! the cloud calls or defeat the error backoff. The result of a create, update or delete is
//! written back on the next write tick ([`crate::tick`]), together with the results of every
//! other call that finished within the same interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, ResourceExt};
use serde_json::{Map, Value, json};

use crate::annotations::{
    self, EXTERNAL_CREATE_FAILED, EXTERNAL_CREATE_PENDING, EXTERNAL_CREATE_SUCCEEDED,
    EXTERNAL_NAME, PAUSED,
};
use crate::conditions;
use crate::config::Config;
use crate::connection::{self, PublishError};
use crate::failure::{Done, Failure, Retry, Stop};
use crate::metrics::Metrics;
use crate::patch::{self, has_finalizer, merge_diff};
use crate::policy::Policies;
use crate::reason;
use crate::reference::Resolver;
use crate::requeue::{Backoff, Echoes, RateLimiter, jittered, poll_interval};
use crate::spec::ManagementAction;
use crate::tick;
use crate::usage::{ProviderConfigKinds, Tracked};
use crate::{ConnectionDetails, Connector, ExternalClient, ExternalError, Managed, Readiness};

/// The finalizer that keeps a managed resource until its external resource is gone.
pub const FINALIZER: &str = "finalizer.managedresource.crossplane.io";

/// A write to the Kubernetes API failed; the reconcile is retried with backoff.
///
/// Provider and reference failures are not errors of the reconcile: they are reported on the
/// resource (`Synced=False`, Warning event) and retried from within [`reconcile`].
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {kind} {name:?}: {}", crate::patch::describe(source))]
pub struct Error {
    /// What the engine tried to write, e.g. `patch status of`.
    pub action: &'static str,
    /// The managed kind.
    pub kind: String,
    /// The managed resource's name.
    pub name: String,
    /// The API error (a 409 conflict means another writer won: retry quietly).
    #[source]
    pub source: kube::Error,
}

/// Everything a reconcile of kind `M` needs, shared by all its reconciles.
pub struct Context<C> {
    client: Client,
    connector: C,
    config: Config,
    provider_configs: ProviderConfigKinds,
    metrics: Arc<Metrics>,
    recorder: Recorder,
    backoff: Backoff,
    echoes: Echoes,
    rate: RateLimiter,
    usages: Tracked,
    clock: fn() -> Timestamp,
}

impl<C> std::fmt::Debug for Context<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<C> Context<C> {
    /// A context reconciling through `connector`, tracking usage of `provider_configs`.
    pub fn new(
        client: Client,
        connector: C,
        config: Config,
        provider_configs: ProviderConfigKinds,
        metrics: Arc<Metrics>,
    ) -> Self {
        let reporter = Reporter { controller: config.controller_name.clone(), instance: None };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            rate: RateLimiter::new(config.max_reconcile_rate),
            usages: Tracked::new(config.poll_interval),
            client,
            connector,
            config,
            provider_configs,
            metrics,
            backoff: Backoff::default(),
            echoes: Echoes::default(),
            clock: Timestamp::now,
        }
    }

    /// Use `clock` for annotation timestamps and condition transition times (tests pin it).
    #[must_use]
    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Self {
        self.clock = clock;
        self
    }

    /// The engine's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether a watch event carrying this version of `mr` should queue a reconcile: not an
    /// echo of the engine's own writes, nor while a pass over `mr` runs (see [`Echoes`]).
    pub fn admit<M: Managed>(&self, mr: &M) -> bool {
        self.echoes.admit(&key(mr), mr.resource_version().as_deref())
    }
}

/// Reconcile one managed resource. Pass to kube-runtime's `Controller::run` with
/// [`error_policy`].
pub async fn reconcile<M, C>(mr: Arc<M>, ctx: Arc<Context<C>>) -> Result<Action, Error>
where
    M: Managed,
    C: Connector<M>,
{
    if let Some(action) = ctx.echoes.echo(&key(mr.as_ref()), mr.resource_version().as_deref()) {
        return Ok(action);
    }
    if mr.uid().is_none() {
        // Only objects read from the API server are reconciled; they always have a uid.
        return Ok(Action::await_change());
    }
    let wait = ctx.rate.reserve();
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let started = Instant::now();
    let kind = M::kind(&()).into_owned();
    let result = Pass::new(mr.as_ref(), &ctx).run().await;
    ctx.metrics.reconciled(&kind, result.is_ok(), started.elapsed());
    result
}

/// Requeue after an API write failed, with the same per-object backoff as reported failures.
pub fn error_policy<M, C>(mr: Arc<M>, err: &Error, ctx: Arc<Context<C>>) -> Action
where
    M: Managed,
{
    tracing::debug!(error = %err, "managed resource write failed; retrying");
    let key = key(mr.as_ref());
    let backoff = ctx.backoff.failed(&key, &ctx.config);
    if ctx.echoes.take_changed_during_failure(&key) {
        return Action::requeue(Duration::ZERO);
    }
    Action::requeue(backoff)
}

/// Await one provider call for at most `timeout`; `what` (e.g. `observe`) names it in messages.
async fn bounded<T>(
    timeout: Duration,
    reason: &'static str,
    what: &str,
    call: impl Future<Output = Result<T, ExternalError>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(Failure::external(reason, &format!("{what} failed"), &err)),
        Err(_) => {
            Err(Failure::backoff(reason, format!("{what} failed: no answer within {timeout:?}")))
        }
    }
}

/// The API server rejects event notes over 1 kB; a long diff is cut rather than lost.
pub fn truncate_note(mut note: String) -> String {
    const MAX: usize = 1024;
    if note.len() > MAX {
        let mut end = MAX - "…".len();
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push('…');
    }
    note
}

fn key<M: Managed>(mr: &M) -> String {
    format!("{}/{}", M::kind(&()), mr.name_any())
}

/// One reconcile of one resource: the working copy and what it looked like when read.
struct Pass<'a, M, C> {
    ctx: &'a Context<C>,
    api: Api<M>,
    mr: M,
    kind: String,
    name: String,
    /// `spec` as last persisted, to patch only what references and late-init changed.
    spec_persisted: Value,
    /// `spec` with references resolved, while that differs from what is persisted.
    resolved: Option<Value>,
    /// `status` as read, to write only what this pass changed.
    status_read: Value,
    /// Every resourceVersion this pass's writes produced, in order.
    written: Vec<String>,
    /// What this pass found in (or wrote to) the connection Secret.
    published: Option<ConnectionDetails>,
    now: Timestamp,
}

impl<'a, M, C> Pass<'a, M, C>
where
    M: Managed,
    C: Connector<M>,
{
    fn new(mr: &M, ctx: &'a Context<C>) -> Self {
        let value = serde_json::to_value(mr).unwrap_or_default();
        Self {
            ctx,
            api: Api::all(ctx.client.clone()),
            mr: mr.clone(),
            kind: M::kind(&()).into_owned(),
            name: mr.name_any(),
            spec_persisted: value.get("spec").cloned().unwrap_or_default(),
            resolved: None,
            status_read: value.get("status").cloned().unwrap_or_default(),
            written: Vec::new(),
            published: None,
            now: (ctx.clock)(),
        }
    }

    async fn run(mut self) -> Result<Action, Error> {
        let key = key(&self.mr);
        self.ctx.echoes.begin(&key);
        let result = self.finish().await;
        let written = std::mem::take(&mut self.written);
        match result {
            Ok(Done::Released) => {
                self.ctx.echoes.forget(&key);
                Ok(Action::await_change())
            }
            Ok(Done::After(requeue)) => Ok(if self.ctx.echoes.end(&key, written, requeue) {
                Action::requeue(Duration::ZERO)
            } else {
                requeue.map_or_else(Action::await_change, Action::requeue)
            }),
            Err(err) => {
                self.ctx.echoes.end_failed(&key, &written);
                // A conflict means another writer won the race: retry quietly, as Crossplane does.
                if !matches!(&err.source, kube::Error::Api(status) if status.code == 409) {
                    self.ctx.metrics.failed(&self.kind, reason::CANNOT_UPDATE_MANAGED);
                    self.warn(reason::CANNOT_UPDATE_MANAGED, &err.to_string()).await;
                }
                Err(err)
            }
        }
    }

    /// Run the steps, report a failure on the resource, and write the status.
    async fn finish(&mut self) -> Result<Done, Error> {
        let key = key(&self.mr);
        let done = match self.steps().await {
            Ok(done) => {
                self.ctx.backoff.succeeded(&key);
                done
            }
            Err(Stop::Api(err)) => return Err(err),
            Err(Stop::Failed(failure)) => {
                self.ctx.metrics.failed(&self.kind, failure.reason);
                self.warn(failure.reason, &failure.message).await;
                self.set(conditions::reconcile_error(failure.message));
                let retry = match failure.retry {
                    Retry::Backoff => Some(self.ctx.backoff.failed(&key, &self.ctx.config)),
                    Retry::Poll => Some(self.poll()),
                    Retry::OnChange => None,
                };
                Done::After(retry)
            }
        };
        if let Done::After(_) = done {
            self.write_status().await?;
        }
        Ok(done)
    }

    async fn steps(&mut self) -> Result<Done, Stop> {
        let policies = Policies::of(self.mr.resource_spec());
        let paused = self.annotation(PAUSED) == Some("true");
        if paused || policies.as_ref().is_ok_and(Policies::paused) {
            return self.pause().await;
        }
        let policies =
            policies.map_err(|err| Failure::poll(reason::INVALID_MANAGEMENT_POLICY, err))?;
        poll_interval(&self.mr, &self.ctx.config)
            .map_err(|err| Failure::poll(reason::CANNOT_INITIALIZE, err))?;
        let deleting = self.mr.meta().deletion_timestamp.is_some();

        if deleting && !policies.should_delete() {
            return self.release().await;
        }
        // Defaulted here, persisted below with the finalizer: one write before a create.
        let mut unsaved = Map::new();
        if self.annotation(EXTERNAL_NAME).is_none() {
            self.mr.annotations_mut().insert(EXTERNAL_NAME.to_owned(), self.name.clone());
            unsaved.insert(EXTERNAL_NAME.to_owned(), json!(self.name));
        }
        if annotations::create_incomplete(&self.mr) && !self.mr.external_name_is_deterministic() {
            self.set(conditions::creating());
            let message = reason::MSG_CREATE_INCOMPLETE;
            return Err(Failure::new(reason::CANNOT_INITIALIZE, message, Retry::OnChange).into());
        }
        if !deleting {
            self.resolve_references().await?;
        }

        self.ctx
            .usages
            .track(&self.ctx.client, &self.ctx.provider_configs, &self.mr)
            .await
            .map_err(|err| {
                Failure::backoff(reason::CANNOT_CONNECT, format!("connect failed: {err}"))
            })?;
        let timeout = self.ctx.config.external_timeout;
        let connect = self.ctx.connector.connect(&self.mr);
        let external = bounded(timeout, reason::CANNOT_CONNECT, "connect", connect).await?;
        let mut created = false;
        let observation = loop {
            self.call("observe");
            let observe = external.observe(&mut self.mr);
            let observation = bounded(timeout, reason::CANNOT_OBSERVE, "observe", observe).await?;
            self.set_readiness(&observation.readiness);

            if deleting {
                return self.delete(&external, observation.resource_exists).await;
            }
            if !observation.resource_exists {
                if !policies.allows(ManagementAction::Create) {
                    let message = "observe failed: external resource does not exist";
                    return Err(Failure::poll(reason::CANNOT_OBSERVE, message).into());
                }
                if let Some(wait) = self.creation_grace_left() {
                    return Ok(Done::After(Some(wait)));
                }
                if created {
                    // Not visible yet, with no grace configured: the next pass looks again.
                    return Ok(Done::After(Some(Duration::ZERO)));
                }
            }
            // Before a create there is nothing to publish yet (Crossplane would write an empty
            // Secret here): the create's details are published with it.
            if observation.resource_exists || !observation.connection_details.is_empty() {
                self.publish(&observation.connection_details).await?;
            }
            if !observation.resource_exists {
                unsaved.insert(EXTERNAL_CREATE_PENDING.to_owned(), json!(self.now.to_string()));
            }
            self.save_metadata(std::mem::take(&mut unsaved)).await?;
            if observation.resource_exists {
                break observation;
            }
            // Observe again at once, as Crossplane does (it requeues at once), but in this
            // pass: a resource the cloud creates quickly is `Ready` after one status write, and
            // one that is not visible yet waits out the creation grace.
            let late_init = policies.allows(ManagementAction::LateInitialize);
            self.create(&external, observation.connection_details, late_init).await?;
            created = true;
        };

        if observation.resource_late_initialized
            && policies.allows(ManagementAction::LateInitialize)
        {
            self.save_spec(reason::CANNOT_UPDATE_MANAGED).await?;
        }
        if observation.resource_up_to_date {
            self.set(conditions::reconcile_success(""));
            return Ok(Done::After(Some(self.poll())));
        }
        if !policies.allows(ManagementAction::Update) {
            let message = format!(
                "external resource differs from the desired state, but managementPolicies do not allow Update: {}",
                observation.diff
            );
            self.set(conditions::reconcile_success(message));
            return Ok(Done::After(Some(self.poll())));
        }
        self.call("update");
        let update = external.update(&mut self.mr);
        let update = bounded(timeout, reason::CANNOT_UPDATE, "update", update).await;
        tick::next(self.ctx.config.write_tick).await;
        let update = update?;
        let mut details = observation.connection_details;
        details.extend(update.connection_details);
        self.publish(&details).await?;
        self.event(EventType::Normal, reason::UPDATED, "Update", Some(observation.diff.clone()))
            .await;
        self.set(conditions::reconcile_success(format!(
            "updated external resource: {}",
            observation.diff
        )));
        Ok(Done::After(Some(self.poll())))
    }

    /// Paused: say so once, do nothing else.
    async fn pause(&mut self) -> Result<Done, Stop> {
        let already = self
            .mr
            .resource_status()
            .and_then(|s| s.condition(reason::SYNCED))
            .is_some_and(|c| c.reason == reason::RECONCILE_PAUSED);
        if !already {
            self.event(
                EventType::Normal,
                reason::RECONCILIATION_PAUSED,
                "Reconcile",
                Some(reason::MSG_PAUSED.into()),
            )
            .await;
        }
        self.set(conditions::reconcile_paused());
        Ok(Done::After(None))
    }

    /// Let the managed resource go without touching the external resource.
    async fn release(&mut self) -> Result<Done, Stop> {
        self.ctx
            .usages
            .release(&self.ctx.client, &self.ctx.provider_configs, &self.mr)
            .await
            .map_err(|err| Failure::backoff(reason::CANNOT_UPDATE_MANAGED, err))?;
        if let Some(remove) = patch::remove_finalizer(&self.mr, FINALIZER) {
            patch::json(&self.api, &self.name, remove)
                .await
                .map_err(self.api_error("remove finalizer from"))?;
        }
        Ok(Done::Released)
    }

    async fn delete(&mut self, external: &C::Client, exists: bool) -> Result<Done, Stop> {
        if !exists {
            return self.release().await;
        }
        self.call("delete");
        let delete = external.delete(&mut self.mr);
        let deleted =
            bounded(self.ctx.config.external_timeout, reason::CANNOT_DELETE, "delete", delete)
                .await;
        tick::next(self.ctx.config.write_tick).await;
        deleted?;
        self.event(EventType::Normal, reason::DELETED, "Delete", None).await;
        self.set(conditions::deleting());
        self.set(conditions::reconcile_success(""));
        Ok(Done::After(Some(self.ctx.config.deletion_check_interval)))
    }

    async fn create(
        &mut self,
        external: &C::Client,
        mut details: ConnectionDetails,
        late_init: bool,
    ) -> Result<(), Stop> {
        self.call("create");
        let name_before = self.annotation(EXTERNAL_NAME).map(str::to_owned);
        let timeout = self.ctx.config.external_timeout;
        let created = tokio::time::timeout(timeout, external.create(&mut self.mr)).await;
        tick::next(self.ctx.config.write_tick).await;
        self.set(conditions::creating());
        let creation = match created {
            Ok(Ok(creation)) => creation,
            // The result is unknown, so `-pending` stays the newest record: the leak guard
            // stops the next pass until someone checks the cloud.
            Err(_) => {
                let message = format!("create failed: no answer within {timeout:?}");
                return Err(Failure::backoff(reason::CANNOT_CREATE, message).into());
            }
            Ok(Err(err)) => {
                let failed = json!({ EXTERNAL_CREATE_FAILED: self.now.to_string() });
                self.set_annotations(failed, false).await?;
                return Err(Failure::external(reason::CANNOT_CREATE, "create failed", &err).into());
            }
        };
        let mut annotations = json!({ EXTERNAL_CREATE_SUCCEEDED: self.now.to_string() });
        if let Some(name) =
            self.annotation(EXTERNAL_NAME).filter(|n| Some(*n) != name_before.as_deref())
        {
            annotations[EXTERNAL_NAME] = json!(name);
        }
        self.set_annotations(annotations, late_init && creation.resource_late_initialized).await?;
        details.extend(creation.connection_details);
        // A new external resource: its Secret is most likely new too.
        self.publish_expecting(&details, connection::Expected::Absent).await?;
        self.event(EventType::Normal, reason::CREATED, "Create", Some(reason::MSG_CREATED.into()))
            .await;
        self.set(conditions::reconcile_success(""));
        Ok(())
    }

    async fn resolve_references(&mut self) -> Result<(), Stop> {
        let controller =
            self.mr.owner_references().iter().find(|o| o.controller == Some(true)).cloned();
        let resolver = Resolver::new(self.ctx.client.clone(), controller);
        self.mr
            .resolve_references(&resolver)
            .await
            .map_err(|err| Failure::backoff(reason::CANNOT_RESOLVE_REFERENCES, err))?;
        let spec = self.spec();
        self.resolved = (spec != self.spec_persisted).then_some(spec);
        Ok(())
    }

    /// Persist what references or late-init changed in `spec`, if anything.
    async fn save_spec(&mut self, failure_reason: &'static str) -> Result<(), Stop> {
        let spec = self.spec();
        self.save_spec_as(spec, failure_reason).await
    }

    /// Persist `spec` (what changed since it was last persisted, if anything).
    async fn save_spec_as(
        &mut self,
        spec: Value,
        failure_reason: &'static str,
    ) -> Result<(), Stop> {
        let Some(diff) = merge_diff(&self.spec_persisted, &spec) else { return Ok(()) };
        let patched =
            patch::merge(&self.api, &self.name, &json!({ "spec": diff })).await.map_err(|err| {
                Failure::backoff(
                    failure_reason,
                    format!("cannot update spec: {}", patch::describe(&err)),
                )
            })?;
        self.adopt(patched.meta());
        self.spec_persisted = spec;
        Ok(())
    }

    /// `spec` as it stands in this pass.
    fn spec(&self) -> Value {
        serde_json::to_value(&self.mr).unwrap_or_default().get("spec").cloned().unwrap_or_default()
    }

    async fn publish(&mut self, details: &ConnectionDetails) -> Result<(), Stop> {
        self.publish_expecting(details, connection::Expected::Unknown).await
    }

    async fn publish_expecting(
        &mut self,
        details: &ConnectionDetails,
        expected: connection::Expected,
    ) -> Result<(), Stop> {
        // The observation right after a create mostly repeats what the create published.
        if let Some(published) = &self.published
            && details.iter().all(|(key, value)| published.get(key) == Some(value))
        {
            return Ok(());
        }
        let client = &self.ctx.client;
        connection::publish(client, &self.mr, details, expected).await.map_err(|err| {
            let retry = match err {
                PublishError::ControlledByOther { .. } => Retry::Poll,
                PublishError::Api { .. } => Retry::Backoff,
            };
            Failure::new(reason::CANNOT_PUBLISH_CONNECTION, err, retry)
        })?;
        self.published.get_or_insert_default().extend(details.clone());
        Ok(())
    }

    /// Add the finalizer and `annotations` (when either is missing), with what references
    /// changed in `spec`, in one write. With metadata it is conditional on the resourceVersion
    /// read: a `-pending` record among it then fails with 409 when another pass got here first,
    /// so no two passes create.
    async fn save_metadata(&mut self, annotations: Map<String, Value>) -> Result<(), Stop> {
        let resolved = self.resolved.take();
        if has_finalizer(&self.mr, FINALIZER) && annotations.is_empty() {
            return match resolved {
                Some(spec) => self.save_spec_as(spec, reason::CANNOT_RESOLVE_REFERENCES).await,
                None => Ok(()),
            };
        }
        let mut finalizers = self.mr.finalizers().to_vec();
        if !has_finalizer(&self.mr, FINALIZER) {
            finalizers.push(FINALIZER.to_owned());
        }
        let metadata = json!({
            "resourceVersion": self.mr.resource_version(),
            "finalizers": finalizers,
            "annotations": annotations,
        });
        let mut body = json!({ "metadata": metadata });
        if let Some(diff) =
            resolved.as_ref().and_then(|spec| merge_diff(&self.spec_persisted, spec))
        {
            body["spec"] = diff;
        }
        let patched = patch::merge(&self.api, &self.name, &body)
            .await
            .map_err(self.api_error("add finalizer and annotations to"))?;
        self.adopt(patched.meta());
        if let Some(spec) = resolved {
            self.spec_persisted = spec;
        }
        Ok(())
    }

    /// Merge `annotations` into the resource, with what changed in `spec` when `with_spec`.
    async fn set_annotations(&mut self, annotations: Value, with_spec: bool) -> Result<(), Stop> {
        let mut body = json!({ "metadata": { "annotations": annotations } });
        let spec = with_spec.then(|| self.spec());
        if let Some(diff) = spec.as_ref().and_then(|spec| merge_diff(&self.spec_persisted, spec)) {
            body["spec"] = diff;
        }
        let patched =
            patch::merge(&self.api, &self.name, &body).await.map_err(self.api_error("annotate"))?;
        self.adopt(patched.meta());
        if let Some(spec) = spec {
            self.spec_persisted = spec;
        }
        Ok(())
    }

    async fn write_status(&mut self) -> Result<(), Error> {
        // Every condition describes this pass, which acted on the latest spec, including one the
        // pass itself late-initialized: clients such as `kubectl wait` ignore a condition whose
        // observedGeneration lags metadata.generation.
        let generation = self.mr.meta().generation;
        for condition in &mut self.mr.resource_status_mut().conditions {
            condition.observed_generation = generation;
        }
        let status = serde_json::to_value(&self.mr)
            .unwrap_or_default()
            .get("status")
            .cloned()
            .unwrap_or_default();
        let Some(diff) = merge_diff(&self.status_read, &status) else { return Ok(()) };
        let patch = Patch::Merge(json!({ "status": diff }));
        let patched = self
            .api
            .patch_status(&self.name, &PatchParams::default(), &patch)
            .await
            .map_err(self.api_error("patch status of"))?;
        self.adopt(patched.meta());
        self.status_read = status;
        Ok(())
    }

    /// Take the metadata a write returned, remembering its resourceVersion as the pass's own.
    fn adopt(&mut self, meta: &kube::api::ObjectMeta) {
        self.written.extend(meta.resource_version.clone());
        *self.mr.meta_mut() = meta.clone();
    }

    /// A create succeeded so recently that an absent resource is probably still appearing.
    fn creation_grace_left(&self) -> Option<Duration> {
        let succeeded = annotations::timestamp(&self.mr, EXTERNAL_CREATE_SUCCEEDED)?;
        let age = Duration::try_from(self.now.duration_since(succeeded)).unwrap_or_default();
        self.ctx.config.creation_grace.checked_sub(age).filter(|left| !left.is_zero())
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.mr.annotations().get(key).map(String::as_str)
    }

    fn poll(&self) -> Duration {
        let interval =
            poll_interval(&self.mr, &self.ctx.config).unwrap_or(self.ctx.config.poll_interval);
        jittered(interval, self.ctx.config.poll_jitter)
    }

    fn set(&mut self, condition: crate::Condition) {
        let generation = self.mr.meta().generation;
        self.mr.resource_status_mut().set_condition(condition, generation, self.now);
    }

    fn set_readiness(&mut self, readiness: &Readiness) {
        match readiness {
            Readiness::Available => self.set(conditions::available()),
            Readiness::Creating => self.set(conditions::creating()),
            Readiness::Deleting => self.set(conditions::deleting()),
            Readiness::Unavailable(why) => self.set(conditions::unavailable(why.clone())),
            Readiness::Unknown => {}
        }
    }

    fn call(&self, operation: &'static str) {
        self.ctx.metrics.external_call(&self.kind, operation);
    }

    fn api_error(&self, action: &'static str) -> impl Fn(kube::Error) -> Error + use<M, C> {
        let (kind, name) = (self.kind.clone(), self.name.clone());
        move |source| Error { action, kind: kind.clone(), name: name.clone(), source }
    }

    async fn warn(&self, reason: &'static str, message: &str) {
        self.event(EventType::Warning, reason, "Reconcile", Some(message.to_owned())).await;
    }

    /// Publish an event; a failure to do so is logged, never fails the reconcile.
    async fn event(&self, type_: EventType, reason: &str, action: &str, note: Option<String>) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: note.map(truncate_note),
            action: action.into(),
            secondary: None,
        };
        if let Err(err) = self.ctx.recorder.publish(&event, &self.mr.object_ref(&())).await {
            let (kind, name) = (&self.kind, &self.name);
            tracing::warn!(error = %err, kind, name, reason, "cannot publish event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_note;

    #[test]
    fn long_event_notes_are_cut_to_the_api_limit_on_a_char_boundary() {
        assert_eq!(truncate_note("short".into()), "short");
        let cut = truncate_note("é".repeat(600));
        assert!(cut.len() <= 1024 && cut.ends_with('…'), "{} bytes", cut.len());
    }
}
