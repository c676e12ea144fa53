//! The Kustomization reconciler: `parse_spec` → `check_dependencies` → `get_source` →
//! `load_variables` → `build` → `apply` → `prune` → `check_health`, then one status write (two
//! for a new generation, which is first marked in progress).
//!
//! Safety: prune runs only after the whole build and apply succeeded; a failed build or apply
//! keeps `lastAppliedRevision` and the inventory, so the last good state stays in place.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Resource, ResourceExt};

use super::{Context, Error, patch_status, publish, requested_at, with_finalizer};
use crate::gitops::api::conditions::{self, reason};
use crate::gitops::api::{GitRepository, Kustomization, KustomizationStatus, duration};
use crate::gitops::apply::{ApplyOptions, owner_selector};
use crate::gitops::build::kustomize::Overlay;
use crate::gitops::build::{self, BuildRequest, inventory, substitute};

const CONTROLLER: &str = "kustomize-controller";
/// How often a Kustomization waiting on `dependsOn` rechecks (Flux's `--requeue-dependency`).
const DEPENDENCY_REQUEUE: Duration = Duration::from_secs(30);

/// Run the Kustomization controller. It also reconciles a Kustomization at once when its
/// source's artifact changes and when a Kustomization it depends on changes.
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let controller =
        Controller::new(Api::<Kustomization>::all(client.clone()), watcher::Config::default());
    let by_source = controller.store();
    let by_dependency = controller.store();
    controller
        .watches(
            Api::<GitRepository>::all(client.clone()),
            watcher::Config::default(),
            move |repo| {
                let (name, namespace) = (repo.name_any(), repo.namespace().unwrap_or_default());
                by_source
                    .state()
                    .into_iter()
                    .filter(|ks| {
                        let source = &ks.spec.source_ref;
                        let ks_ns = ks.namespace().unwrap_or_default();
                        source.kind == "GitRepository"
                            && source.name == name
                            && source.namespace.as_deref().unwrap_or(&ks_ns) == namespace
                    })
                    .map(|ks| ObjectRef::from_obj(ks.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(Api::<Kustomization>::all(client), watcher::Config::default(), move |dependency| {
            let (name, namespace) =
                (dependency.name_any(), dependency.namespace().unwrap_or_default());
            by_dependency
                .state()
                .into_iter()
                .filter(|ks| {
                    let ks_ns = ks.namespace().unwrap_or_default();
                    ks.spec.depends_on.iter().any(|d| {
                        d.name == name && d.namespace.as_deref().unwrap_or(&ks_ns) == namespace
                    })
                })
                .map(|ks| ObjectRef::from_obj(ks.as_ref()))
                .collect::<Vec<_>>()
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::warn!(error = %e, "kustomization reconcile failed");
            }
        })
        .await;
}

fn error_policy(_ks: Arc<Kustomization>, _error: &Error, _ctx: Arc<Context>) -> Action {
    Action::requeue(Duration::from_secs(10))
}

/// Parsed durations.
struct Timing {
    interval: Duration,
    retry: Duration,
    timeout: Duration,
}

/// A step's failure: the Ready reason, the message, and when to retry.
struct Failure {
    reason: &'static str,
    message: String,
    retry_after: Duration,
}

/// Reconcile one Kustomization; on deletion with `prune: true`, delete what it applied.
pub async fn reconcile(ks: Arc<Kustomization>, ctx: Arc<Context>) -> Result<Action, Error> {
    let cleanup_ctx = ctx.clone();
    with_finalizer(
        &ctx.client.clone(),
        ks,
        async |k| apply(k, ctx).await,
        async |k| cleanup(k, cleanup_ctx).await,
    )
    .await
}

/// Delete every inventory object still owned by this Kustomization (prune rules apply), as
/// `deletionPolicy` says, unless the Kustomization is suspended.
async fn cleanup(ks: Arc<Kustomization>, ctx: Arc<Context>) -> Result<Action, Error> {
    let inventory = ks.status.as_ref().and_then(|s| s.inventory.as_ref());
    if let (true, false, Some(inventory)) =
        (ks.spec.deletes_on_deletion(), ks.spec.suspend == Some(true), inventory)
    {
        let failed = ctx
            .applier
            .prune(&inventory.entries, &ks.name_any(), &ks.namespace().unwrap_or_default())
            .await;
        if !failed.is_empty() {
            let message = failed.iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ");
            return Err(Error::Cleanup(message));
        }
    }
    Ok(Action::await_change())
}

async fn apply(ks: Arc<Kustomization>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = ks.namespace().unwrap_or_default();
    let key = format!("Kustomization/{namespace}/{}", ks.name_any());
    let requested = requested_at(ks.as_ref());
    let source = source_of(&ks, &ctx).await;
    let source_revision = source
        .as_ref()
        .ok()
        .and_then(|s| s.status.as_ref()?.artifact.as_ref())
        .map(|a| a.revision.clone());
    let fingerprint = format!("{:?}/{requested:?}/{source_revision:?}", ks.meta().generation);
    if let Some(wait) = ctx.not_due(&key, &fingerprint).await {
        return Ok(Action::requeue(wait));
    }
    let mut old = ks.status.clone();
    let mut status = old.clone().unwrap_or_default();
    let generation = ks.meta().generation;
    if ks.spec.suspend != Some(true) && status.observed_generation != generation {
        // A new generation: say so before applying and waiting, rather than show the last
        // generation's Ready meanwhile (Flux's "Reconciliation in progress").
        let conds = &mut status.conditions;
        let message = "Reconciliation in progress";
        conditions::set(
            conds,
            conditions::RECONCILING,
            true,
            reason::PROGRESSING,
            message,
            generation,
        );
        conditions::set_status(
            conds,
            conditions::READY,
            "Unknown",
            reason::PROGRESSING,
            message,
            generation,
        );
        patch_status(&ctx.client, ks.as_ref(), old.as_ref(), &status).await?;
        old = Some(status.clone());
    }
    let uid = ks.uid().unwrap_or_default();
    if let Some(revision) = ctx.applied(&key, &uid).await {
        status.last_applied_revision = Some(revision);
    }

    // Only a success is remembered: after a failure, any wake-up (a dependency turning ready,
    // a fixed source) runs the pipeline again.
    let requeue = if ks.spec.suspend == Some(true) {
        None
    } else {
        Some(match pipeline(&ks, &ctx, source, &mut status, generation).await {
            Ok(after) => {
                if let Some(revision) = &status.last_applied_revision {
                    ctx.record_applied(key.clone(), uid, revision.clone()).await;
                }
                ctx.schedule(key, fingerprint, after).await;
                after
            }
            Err(failure) => {
                let recorder = ctx.recorder(CONTROLLER);
                publish(
                    &recorder,
                    ks.as_ref(),
                    EventType::Warning,
                    failure.reason,
                    failure.message.clone(),
                )
                .await;
                let conds = &mut status.conditions;
                conditions::set(
                    conds,
                    conditions::READY,
                    false,
                    failure.reason,
                    &failure.message,
                    generation,
                );
                match failure.reason {
                    reason::INVALID_SPEC => {
                        conditions::remove(conds, conditions::RECONCILING);
                        conditions::set(
                            conds,
                            conditions::STALLED,
                            true,
                            failure.reason,
                            &failure.message,
                            generation,
                        );
                    }
                    _ => conditions::set(
                        conds,
                        conditions::RECONCILING,
                        true,
                        reason::PROGRESSING_WITH_RETRY,
                        "retrying after failure",
                        generation,
                    ),
                }
                if failure.reason == reason::HEALTH_CHECK_FAILED {
                    conditions::set(
                        conds,
                        conditions::HEALTHY,
                        false,
                        failure.reason,
                        "health check failed",
                        generation,
                    );
                }
                failure.retry_after
            }
        })
    };
    status.observed_generation = generation;
    if requested.is_some() {
        status.last_handled_reconcile_at = requested;
    }
    patch_status(&ctx.client, ks.as_ref(), old.as_ref(), &status).await?;
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

async fn pipeline(
    ks: &Kustomization,
    ctx: &Context,
    source: Result<GitRepository, String>,
    status: &mut KustomizationStatus,
    generation: Option<i64>,
) -> Result<Duration, Failure> {
    let timing = parse_spec(ks)?;
    let fail = |reason: &'static str, message: String| Failure {
        reason,
        message,
        retry_after: timing.retry,
    };
    let deadline = Instant::now() + timing.timeout;

    check_dependencies(ks, ctx, source.as_ref().ok()).await.map_err(|message| Failure {
        reason: reason::DEPENDENCY_NOT_READY,
        message,
        retry_after: DEPENDENCY_REQUEUE,
    })?;

    let source = source.map_err(|e| fail(reason::ARTIFACT_FAILED, e))?;
    let artifact = source.status.and_then(|s| s.artifact).ok_or_else(|| {
        fail(reason::ARTIFACT_FAILED, format!("source {} has no artifact yet", describe_source(ks)))
    })?;
    let revision = artifact.revision.clone();
    status.last_attempted_revision = Some(revision.clone());
    let artifact_dir = ctx.storage.artifact_dir(&artifact);
    if !artifact_dir.is_dir() {
        // E.g. right after a restart with a fresh data dir: the source is about to refetch.
        let message = format!("artifact for revision {revision} is not in storage (yet)");
        return Err(fail(reason::ARTIFACT_FAILED, message));
    }

    let vars = load_variables(ks, ctx).await.map_err(|e| fail(reason::BUILD_FAILED, e))?;
    let request = BuildRequest {
        artifact_dir,
        path: ks.spec.path.clone(),
        name: ks.name_any(),
        namespace: ks.namespace().unwrap_or_default(),
        target_namespace: ks.spec.target_namespace.clone(),
        common_metadata: ks.spec.common_metadata.clone().unwrap_or_default(),
        overlay: Overlay {
            patches: ks.spec.patches.clone(),
            images: ks.spec.images.clone(),
            components: ks.spec.components.clone(),
        },
        vars,
        kubectl: ctx.kubectl.clone(),
    };
    let objects = tokio::task::spawn_blocking(move || build::build(&request))
        .await
        .map_err(|e| fail(reason::BUILD_FAILED, e.to_string()))?
        .map_err(|e| {
            // Like Flux: a path missing from this revision waits for a commit that adds it.
            let why = match e {
                build::Error::PathNotFound(_) => reason::ARTIFACT_FAILED,
                _ => reason::BUILD_FAILED,
            };
            fail(why, format!("revision {revision}: {e}"))
        })?;

    let options = ApplyOptions {
        detect_drift: status.last_applied_revision.as_deref() == Some(revision.as_str()),
        force: ks.spec.force == Some(true),
        deadline,
    };
    let (report, applied) = ctx
        .applier
        .apply_all(objects, &options)
        .await
        .map_err(|e| fail(reason::RECONCILIATION_FAILED, e.to_string()))?;
    let recorder = ctx.recorder(CONTROLLER);
    if !report.drift.is_empty() {
        let message = format!("reverted manual changes: {}", report.drift.join("; "));
        publish(&recorder, ks, EventType::Warning, reason::DRIFT_CORRECTED, message.clone()).await;
        conditions::set(
            &mut status.conditions,
            conditions::DRIFTED,
            true,
            reason::DRIFT_CORRECTED,
            message,
            generation,
        );
    }

    let entries: Vec<_> = report.objects.iter().map(inventory::entry_for).collect();
    let mut plan = inventory::plan(status.inventory.as_ref(), &entries);
    if ks.spec.prune {
        let failed = ctx
            .applier
            .prune(&plan.stale, &ks.name_any(), &ks.namespace().unwrap_or_default())
            .await;
        if !failed.is_empty() {
            // Objects that could not be deleted stay in the inventory for the next attempt.
            plan.inventory.entries.extend(failed.iter().map(|(entry, _)| entry.clone()));
            status.inventory = Some(plan.inventory);
            let message = failed.iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ");
            return Err(fail(reason::PRUNE_FAILED, message));
        }
    }
    status.inventory = Some(plan.inventory);

    check_health(ks, ctx, &applied, deadline)
        .await
        .map_err(|e| fail(reason::HEALTH_CHECK_FAILED, e))?;

    if status.last_applied_revision.as_deref() != Some(revision.as_str()) {
        publish(
            &recorder,
            ks,
            EventType::Normal,
            reason::RECONCILIATION_SUCCEEDED,
            format!("applied revision {revision}"),
        )
        .await;
    }
    status.last_applied_revision = Some(revision.clone());
    let conds: &mut Vec<Condition> = &mut status.conditions;
    for negative in [conditions::RECONCILING, conditions::STALLED] {
        conditions::remove(conds, negative);
    }
    if report.drift.is_empty() {
        conditions::remove(conds, conditions::DRIFTED);
    }
    if ks.spec.wait == Some(true) || !ks.spec.health_checks.is_empty() {
        conditions::set(
            conds,
            conditions::HEALTHY,
            true,
            reason::SUCCEEDED,
            "health check passed",
            generation,
        );
    } else {
        // Nothing is checked any more: a verdict from earlier checks would be stale.
        conditions::remove(conds, conditions::HEALTHY);
    }
    conditions::set(
        conds,
        conditions::READY,
        true,
        reason::RECONCILIATION_SUCCEEDED,
        format!("Applied revision: {revision}"),
        generation,
    );
    Ok(timing.interval)
}

fn parse_spec(ks: &Kustomization) -> Result<Timing, Failure> {
    let stalled = |message: String| Failure {
        reason: reason::INVALID_SPEC,
        message,
        retry_after: Duration::from_secs(600),
    };
    if let Some(message) = ks.spec.unsupported() {
        return Err(stalled(message));
    }
    if let Some(path) = &ks.spec.path {
        build::check_path(path).map_err(|e| stalled(e.to_string()))?;
    }
    let invalid = |e: duration::InvalidDuration| stalled(e.to_string());
    let interval = duration::parse("spec.interval", &ks.spec.interval)
        .map_err(invalid)?
        .max(Duration::from_secs(1));
    let retry = match &ks.spec.retry_interval {
        Some(r) => duration::parse("spec.retryInterval", r).map_err(invalid)?,
        None => interval,
    };
    // Flux: default timeout is interval − 30s, at least 30s.
    let timeout = match &ks.spec.timeout {
        Some(t) => duration::parse("spec.timeout", t).map_err(invalid)?,
        None => interval.saturating_sub(Duration::from_secs(30)).max(Duration::from_secs(30)),
    };
    Ok(Timing { interval, retry, timeout })
}

/// Every `dependsOn` Kustomization must be Ready for its current generation and, when it
/// builds from the same source, have applied that source's current revision: a commit adding a
/// CRD to the dependency and a CR of it here must apply the CRD first.
async fn check_dependencies(
    ks: &Kustomization,
    ctx: &Context,
    source: Option<&GitRepository>,
) -> Result<(), String> {
    let own_ns = ks.namespace().unwrap_or_default();
    let source_revision =
        source.and_then(|s| Some(&s.status.as_ref()?.artifact.as_ref()?.revision));
    for dep in &ks.spec.depends_on {
        let ns = dep.namespace.clone().unwrap_or_else(|| own_ns.clone());
        let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &ns);
        let dependency = match api.get_opt(&dep.name).await {
            Ok(d) => d,
            Err(e) => return Err(format!("cannot read dependency '{ns}/{}': {e}", dep.name)),
        };
        let ready = dependency.filter(|d| {
            d.status.as_ref().is_some_and(|s| {
                conditions::is_true(&s.conditions, conditions::READY)
                    && s.observed_generation == d.meta().generation
            })
        });
        let Some(dependency) = ready else {
            return Err(format!("dependency '{ns}/{}' is not ready", dep.name));
        };
        let applied = dependency.status.as_ref().and_then(|s| s.last_applied_revision.as_ref());
        if let Some(revision) = source_revision
            && same_source(ks, &dependency)
            && applied != Some(revision)
        {
            return Err(format!("dependency '{ns}/{}' revision is not up to date", dep.name));
        }
    }
    Ok(())
}

fn same_source(a: &Kustomization, b: &Kustomization) -> bool {
    let (ra, rb) = (&a.spec.source_ref, &b.spec.source_ref);
    ra.kind == rb.kind && ra.name == rb.name && source_namespace(a) == source_namespace(b)
}

/// `sourceRef.namespace`, defaulting to the Kustomization's own.
fn source_namespace(ks: &Kustomization) -> String {
    ks.spec.source_ref.namespace.clone().or_else(|| ks.namespace()).unwrap_or_default()
}

fn describe_source(ks: &Kustomization) -> String {
    let r = &ks.spec.source_ref;
    format!("{}/{}/{}", r.kind, source_namespace(ks), r.name)
}

async fn source_of(ks: &Kustomization, ctx: &Context) -> Result<GitRepository, String> {
    let r = &ks.spec.source_ref;
    if r.kind != "GitRepository" {
        return Err(format!(
            "spec.sourceRef.kind: {:?} is not supported; use GitRepository",
            r.kind
        ));
    }
    Api::<GitRepository>::namespaced(ctx.client.clone(), &source_namespace(ks))
        .get_opt(&r.name)
        .await
        .map_err(|e| format!("cannot read source {}: {e}", describe_source(ks)))?
        .ok_or_else(|| format!("source {} not found", describe_source(ks)))
}

/// `postBuild`: `substituteFrom` ConfigMaps and Secrets in order, then inline variables.
async fn load_variables(
    ks: &Kustomization,
    ctx: &Context,
) -> Result<Option<BTreeMap<String, String>>, String> {
    let Some(post_build) = &ks.spec.post_build else { return Ok(None) };
    let ns = ks.namespace().unwrap_or_default();
    let mut sources = Vec::new();
    for (i, from) in post_build.substitute_from.iter().enumerate() {
        let label = format!("spec.postBuild.substituteFrom[{i}] {}/{}", from.kind, from.name);
        let data: Option<BTreeMap<String, String>> = match from.kind.as_str() {
            "ConfigMap" => Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&from.name)
                .await
                .map_err(|e| format!("{label}: {e}"))?
                .map(|cm| cm.data.unwrap_or_default()),
            "Secret" => Api::<Secret>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&from.name)
                .await
                .map_err(|e| format!("{label}: {e}"))?
                .map(|s| {
                    s.data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                        .collect()
                }),
            other => return Err(format!("{label}: kind {other:?} must be ConfigMap or Secret")),
        };
        match data {
            Some(data) => sources.push((label, data)),
            None if from.optional == Some(true) => {}
            None => return Err(format!("{label} not found")),
        }
    }
    substitute::merge_vars(sources, &post_build.substitute).map(Some).map_err(|e| e.to_string())
}

/// `wait: true` checks every applied object; otherwise `healthChecks` are checked.
async fn check_health(
    ks: &Kustomization,
    ctx: &Context,
    applied: &[crate::gitops::apply::Target],
    deadline: Instant,
) -> Result<(), String> {
    let namespace = ks.namespace().unwrap_or_default();
    let result = if ks.spec.wait == Some(true) {
        // Everything applied carries our labels: read it back by LIST, not GET per object.
        let owner = owner_selector(&ks.name_any(), &namespace);
        ctx.applier.wait_healthy(applied, Some(&owner), deadline).await
    } else {
        let targets = ctx
            .applier
            .health_check_targets(&ks.spec.health_checks, &namespace)
            .await
            .map_err(|e| e.to_string())?;
        ctx.applier.wait_healthy(&targets, None, deadline).await
    };
    result.map_err(|e| e.to_string())
}
