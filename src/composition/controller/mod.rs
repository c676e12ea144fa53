//! Controllers: thin IO around the pure core.
//!
//! [`run`] watches XRDs. For each valid XRD it applies the composite and claim CRDs, waits
//! until the API server serves them, then starts a composite controller and (with
//! `claimNames`) a claim controller for those kinds. Compositions are cached in a reflector
//! shared by every composite controller. Composites are woken by their composed resources
//! (label `crossplane.io/composite`, for every kind their Compositions compose) and claims by
//! their composites, so readiness propagates on events; requeues are only a safety net (and
//! pick up Composition edits).

mod claim;
mod composite;
mod definition;
mod metrics;
mod secrets;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiResource, Scope};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, ResourceExt as _};
use serde_json::{Value, json};

use super::types::{CompositeResourceDefinition, Composition};

pub use metrics::CompositionMetrics;

/// Field manager for everything these controllers apply.
pub const FIELD_MANAGER: &str = "apiextensions.crossplane.io";
/// Finalizer on composites: composed resources are deleted first.
pub const COMPOSITE_FINALIZER: &str = "composite.apiextensions.crossplane.io";
/// Finalizer on claims: the composite is deleted first.
pub const CLAIM_FINALIZER: &str = "finalizer.apiextensions.crossplane.io";

/// Requeue while waiting on something no watch reports (a CRD being served, a deletion).
const REQUEUE_UNREADY: Duration = Duration::from_secs(5);
/// Requeue of a composite or claim that is not Ready yet. Only a safety net: the watches on
/// its composed resources (or its composite) wake it when they change. A short one made
/// thousands of unready composites re-render every few seconds while their cloud resources
/// were being created, for nothing.
const REQUEUE_SETTLING: Duration = Duration::from_secs(30);
/// Requeue after an error or when waiting on a human.
const REQUEUE_ERROR: Duration = Duration::from_secs(15);
/// Requeue when everything is ready: drift and Composition edits are picked up at this pace.
const REQUEUE_READY: Duration = Duration::from_secs(60);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{context}: {}", crosstie_runtime::patch::describe(source))]
    Kube {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: kube::Error,
    },
    /// The API server serves no such kind (discovery found none).
    #[error("no kind {kind:?} is served in {api_version} (is its provider installed?)")]
    NotServed {
        /// The kind's apiVersion.
        api_version: String,
        /// The kind.
        kind: String,
        /// The discovery error.
        #[source]
        source: kube::Error,
    },
    /// An object could not be converted.
    #[error("cannot convert {what}: {source}")]
    Convert {
        /// What was converted.
        what: &'static str,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
}

fn kube_err(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let context = context.into();
    move |source| Error::Kube { context, source }
}

/// State shared by every controller.
pub struct Context {
    client: Client,
    /// Compositions as stored: parsed per use, so one malformed Composition breaks only the
    /// composites that use it, never the cache.
    compositions: Store<DynamicObject>,
    /// API resources of composed kinds, by apiVersion and kind.
    kinds: Mutex<HashMap<(String, String), (ApiResource, Scope)>>,
    /// Running composite/claim controllers, by XRD name.
    served: Mutex<HashMap<String, definition::Served>>,
    /// Bumped on every Composition change, so composites re-render at once.
    composition_changes: tokio::sync::watch::Sender<u64>,
    /// The last parse of `compositions`, reused while no Composition changed.
    parsed: Mutex<Option<Arc<ParsedCompositions>>>,
    /// Connection Secrets, read from a watch cache.
    secrets: Arc<secrets::ConnectionSecrets>,
    /// Reconciles counted for `/metrics`.
    metrics: CompositionMetrics,
    /// Records the Warning events of failing composites and claims.
    recorder: Recorder,
}

/// The cached Compositions that parse, and why each other one does not, by name.
#[derive(Debug, Default)]
pub struct ParsedCompositions {
    /// Name and resourceVersion of every Composition parsed, in cache order.
    versions: Vec<(String, Option<String>)>,
    /// The Compositions that parse.
    pub valid: Vec<Composition>,
    /// Why each other one does not parse, by name.
    pub invalid: HashMap<String, String>,
}

/// Runs the XRD, composite and claim controllers until the watches end, counting their
/// reconciles in `metrics`.
pub async fn run(client: Client, metrics: CompositionMetrics) {
    let resource = ApiResource::erase::<Composition>(&());
    let writer = reflector::store::Writer::new(resource.clone());
    let compositions = writer.as_reader();
    let cache = reflector::reflector(
        writer,
        watcher(
            Api::<DynamicObject>::all_with(client.clone(), &resource),
            watcher::Config::default(),
        ),
    )
    .default_backoff();
    let (secrets, secrets_watch) = secrets::watch(client.clone());
    let ctx = Arc::new(Context {
        client: client.clone(),
        compositions,
        kinds: Mutex::default(),
        served: Mutex::default(),
        composition_changes: tokio::sync::watch::Sender::new(0),
        parsed: Mutex::default(),
        secrets,
        metrics,
        recorder: recorder(&client),
    });
    let changes = ctx.clone();
    let cache = cache.for_each(move |event| {
        if matches!(event, Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))) {
            changes.composition_changes.send_modify(|n| *n += 1);
        }
        futures::future::ready(())
    });
    let xrds = kube::runtime::Controller::new(
        Api::<CompositeResourceDefinition>::all(client),
        watcher::Config::default(),
    )
    // A Composition may compose new kinds, which the composite controllers must watch.
    .reconcile_all_on(ctx.composition_changed())
    .run(definition::reconcile, error_policy, ctx)
    .for_each(|result| {
        if let Err(e) = result {
            tracing::debug!(error = %e, "XRD reconcile failed");
        }
        futures::future::ready(())
    });
    futures::join!(cache, secrets_watch, xrds);
}

fn error_policy<K, C>(object: Arc<K>, error: &Error, _: Arc<C>) -> Action
where
    K: kube::Resource,
{
    // A conflict only means we raced another writer: retry at once with a fresh object.
    if let Error::Kube { source: kube::Error::Api(status), .. } = error
        && status.code == 409
    {
        return Action::requeue(Duration::from_millis(200));
    }
    tracing::warn!(name = %object.name_any(), %error, "reconcile failed");
    Action::requeue(REQUEUE_ERROR)
}

/// The event recorder of the composite and claim controllers.
fn recorder(client: &Client) -> Recorder {
    let reporter = Reporter { controller: "crosstie/composition".into(), instance: None };
    Recorder::new(client.clone(), reporter)
}

impl Context {
    /// Records a Warning event on `object` (a composite or claim), as Crossplane does when one
    /// fails, so `kubectl describe` says why. Only called when the failure is new or changed,
    /// never on every retry; a failure to record is logged, never fails the pass.
    pub async fn warn(&self, object: &Value, reason: &str, note: &str) {
        let meta = &object["metadata"];
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let reference = ObjectReference {
            api_version: text(&object["apiVersion"]),
            kind: text(&object["kind"]),
            name: text(&meta["name"]),
            namespace: text(&meta["namespace"]),
            uid: text(&meta["uid"]),
            resource_version: text(&meta["resourceVersion"]),
            field_path: None,
        };
        let event = Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(crosstie_runtime::reconciler::truncate_note(note.to_owned())),
            action: reason.into(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &reference).await {
            tracing::warn!(%error, reason, "cannot publish event");
        }
    }

    fn shared_client(&self) -> Client {
        self.client.clone()
    }

    /// The cached Compositions, parsed again only when one changed: every composite reconcile
    /// asks, and parsing every Composition each time cost more than rendering.
    fn compositions(&self) -> Arc<ParsedCompositions> {
        let objects = self.compositions.state();
        let versions: Vec<(String, Option<String>)> =
            objects.iter().map(|o| (o.name_any(), o.metadata.resource_version.clone())).collect();
        let mut last = self.parsed.lock().expect("parsed compositions lock");
        if let Some(parsed) = last.as_ref().filter(|p| p.versions == versions) {
            return parsed.clone();
        }
        let mut parsed = ParsedCompositions { versions, ..ParsedCompositions::default() };
        for object in objects {
            let value = serde_json::to_value(&*object).unwrap_or_default();
            match serde_json::from_value::<Composition>(value) {
                Ok(c) => parsed.valid.push(c),
                Err(e) => {
                    parsed.invalid.insert(object.name_any(), e.to_string());
                }
            }
        }
        let parsed = Arc::new(parsed);
        *last = Some(parsed.clone());
        parsed
    }

    /// A stream yielding once per Composition change after the call.
    fn composition_changed(&self) -> impl futures::Stream<Item = ()> + Send + 'static {
        let rx = self.composition_changes.subscribe();
        futures::stream::unfold(rx, |mut rx| async move {
            rx.changed().await.ok()?;
            Some(((), rx))
        })
    }

    /// The API resource of a composed kind, discovered once.
    async fn resource(&self, api_version: &str, kind: &str) -> Result<(ApiResource, Scope), Error> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.kinds.lock().expect("kinds lock").get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) =
            discovery::pinned_kind(&self.client, &gvk).await.map_err(|source| {
                // An unserved group version is a 404, an unserved kind in a served one an error
                // of discovery itself.
                let not_served = matches!(&source, kube::Error::Discovery(_))
                    || matches!(&source, kube::Error::Api(status) if status.code == 404);
                if !not_served {
                    return kube_err(format!("cannot discover {api_version} {kind}"))(source);
                }
                Error::NotServed {
                    api_version: api_version.to_owned(),
                    kind: kind.to_owned(),
                    source,
                }
            })?;
        let found = (resource, caps.scope);
        self.kinds.lock().expect("kinds lock").insert(key, found.clone());
        Ok(found)
    }

    /// An API handle for an object of a dynamic kind (namespaced by the object's namespace).
    async fn api_for(&self, object: &Value) -> Result<Api<DynamicObject>, Error> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let (resource, scope) = self.resource(api_version, kind).await?;
        Ok(match (scope, object["metadata"]["namespace"].as_str()) {
            (Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(self.client.clone(), ns, &resource)
            }
            (Scope::Namespaced, None) => {
                Api::default_namespaced_with(self.client.clone(), &resource)
            }
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), &resource),
        })
    }
}

/// Object `name` of `resource`, as JSON (`what` names it in errors), from `cache` (looked up
/// without a namespace: composites and managed resources are cluster-scoped) when its watch
/// has seen it, else through `api`. A cached copy may lag the server by a
/// watch event; callers only read it to decide what to write, and the event that updates the
/// cache wakes them again.
async fn get_cached(
    cache: Option<&Store<DynamicObject>>,
    resource: &ApiResource,
    api: &Api<DynamicObject>,
    name: &str,
    what: &'static str,
) -> Result<Option<Value>, Error> {
    if let Some(cache) = cache
        && let Some(hit) = cached(cache, resource, name, what)?
    {
        return Ok(Some(hit));
    }
    api.get_opt(name)
        .await
        .map_err(kube_err(format!("cannot get {what} {name}")))?
        .map(|found| to_value(&found, what))
        .transpose()
}

/// The cache's copy of `name`, as JSON.
fn cached(
    cache: &Store<DynamicObject>,
    resource: &ApiResource,
    name: &str,
    what: &'static str,
) -> Result<Option<Value>, Error> {
    let key = ObjectRef::new_with(name, resource.clone());
    // Serialized straight from the cache's copy: callers work on JSON, so a clone is waste.
    cache.get(&key).map(|hit| to_value(&*hit, what)).transpose()
}

fn to_value<T: serde::Serialize>(object: &T, what: &'static str) -> Result<Value, Error> {
    serde_json::to_value(object).map_err(|source| Error::Convert { what, source })
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string()
}

/// Server-side applies `object` with the controllers' field manager.
async fn apply(api: &Api<DynamicObject>, object: &Value) -> Result<DynamicObject, Error> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    api.patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(object))
        .await
        .map_err(kube_err(format!(
            "cannot apply {} {name}",
            object["kind"].as_str().unwrap_or_default()
        )))
}

/// Adds `finalizer` to `object` if missing; returns the object written, if any.
async fn ensure_finalizer(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    finalizer: &str,
) -> Result<Option<DynamicObject>, Error> {
    if object.finalizers().iter().any(|f| f == finalizer) {
        return Ok(None);
    }
    let mut finalizers = object.finalizers().to_vec();
    finalizers.push(finalizer.to_owned());
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": object.resource_version()}});
    let written = api
        .patch(&object.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kube_err(format!("cannot add finalizer to {}", object.name_any())))?;
    Ok(Some(written))
}

/// The passes of the composite or the claim controller, keyed by the object each reconciles
/// ([`crosstie_runtime::passes`]). Their triggers also come from other objects (composed
/// resources, composites), so a version names its object.
pub type Passes = crosstie_runtime::passes::Passes<Version>;

/// One version of one object: namespace, name and resourceVersion.
pub type Version = (Option<String>, String, String);

/// The version of `object`, as [`Passes`] records writes and triggers.
pub fn version(object: &impl kube::Resource) -> Option<Version> {
    let rv = object.meta().resource_version.clone()?;
    Some((object.namespace(), object.name_any(), rv))
}

/// What the composite controller last saw of each composed resource, as an
/// `observed_state` hash, so that composed-resource watches wake a composite only for changes
/// it has not seen yet.
#[derive(Debug, Default)]
pub struct ObservedStates(Mutex<HashMap<ComposedKey, u64>>);

/// `apiVersion/kind` (as the server sends it with every object), namespace, name.
type ComposedKey = (String, Option<String>, String);

impl ObservedStates {
    fn key(object: &DynamicObject) -> ComposedKey {
        let kind = object.types.as_ref().map(|t| format!("{}/{}", t.api_version, t.kind));
        (kind.unwrap_or_default(), object.namespace(), object.name_any())
    }

    /// Whether `object`, as a watch reports it, differs from what was last seen of it; it is
    /// seen from now on.
    pub fn changed(&self, object: &DynamicObject) -> bool {
        let state = crosstie_runtime::predicate::observed_state(object);
        let mut states = crosstie_runtime::sync::lock(&self.0);
        states.insert(Self::key(object), state) != Some(state)
    }

    /// Forgets a deleted object.
    pub fn deleted(&self, object: &DynamicObject) {
        crosstie_runtime::sync::lock(&self.0).remove(&Self::key(object));
    }
}

/// Removes `finalizer` from `object`.
async fn remove_finalizer(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    finalizer: &str,
) -> Result<(), Error> {
    let finalizers: Vec<&String> = object.finalizers().iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": object.resource_version()}});
    api.patch(&object.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kube_err(format!("cannot remove finalizer from {}", object.name_any())))?;
    Ok(())
}

/// Writes `status` with a merge patch on the status subresource; returns the object written.
async fn patch_status(
    api: &Api<DynamicObject>,
    name: &str,
    status: &Value,
) -> Result<DynamicObject, Error> {
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
        .await
        .map_err(kube_err(format!("cannot update status of {name}")))
}

/// Deletes the connection Secret `namespace/name` if `owner_uid` controls it: the API server
/// may not garbage-collect by owner reference, and a Secret someone else owns is not ours.
async fn delete_connection_secret(
    client: &Client,
    namespace: &str,
    name: &str,
    owner_uid: &str,
) -> Result<(), Error> {
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), namespace);
    let context = || format!("cannot delete connection Secret {namespace}/{name}");
    let Some(secret) = api.get_opt(name).await.map_err(kube_err(context()))? else {
        return Ok(());
    };
    if super::claim::controlled_by(&to_value(&secret, "Secret")?, owner_uid) {
        api.delete(name, &kube::api::DeleteParams::default()).await.map_err(kube_err(context()))?;
    }
    Ok(())
}
