//! The XRD controller: applies the composite and claim CRDs, waits until they are served,
//! then starts the controllers for those kinds and reports `Established` / `Offered`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::ApiResource;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt as _, controller, watcher};
use kube::{Resource as _, ResourceExt as _};
use serde_json::{Value, json};

use super::super::composite::composed_kinds;
use super::super::status::{condition, set_conditions};
use super::super::types::CompositeResourceDefinition;
use super::super::xrd::{ServedKind, XrdCrds, crds_for};
use super::super::{LABEL_CLAIM_NAME, LABEL_CLAIM_NAMESPACE, LABEL_COMPOSITE};
use super::secrets::Reader;
use super::{
    Context, Error, FIELD_MANAGER, ObservedStates, Passes, REQUEUE_ERROR, REQUEUE_READY,
    REQUEUE_UNREADY, claim, composite, error_policy, kube_err, now, to_value, version,
};

/// Reconcile requests for one composite or claim that arrive within this window are served by
/// one reconcile after it: creating a managed resource writes it several times in a burst, and
/// each write would otherwise re-render its composite (and re-read its claim's composite).
/// Every hop from claim to composite to managed resource, and back, waits this long, so it is
/// kept short: 500 ms cost 2,000 claims against moto ≈ 1.5 s to all Ready (four hops), and
/// 100 ms spends no more CPU (docs/benchmarks.md).
const DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(100);

/// Composites (and claims) reconciled at once. Thousands of claims applied together would
/// otherwise all reconcile at once, each waiting on the API server behind all the others.
const CONCURRENCY: u16 = 32;

// Crossplane's words when an XRD's CRD cannot be applied: its error messages, and the reasons
// of the events it records (here on the `Established` / `Offered` conditions).
const ERR_APPLY_COMPOSITE_CRD: &str =
    "cannot apply rendered composite resource CustomResourceDefinition";
const ERR_APPLY_CLAIM_CRD: &str =
    "cannot apply rendered composite resource claim CustomResourceDefinition";
const REASON_ESTABLISH: &str = "EstablishComposite";
const REASON_OFFER: &str = "OfferClaim";

/// The parts of an XRD its composite and claim controllers read on every reconcile, so edits
/// apply without restarting them.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `spec.defaultCompositionRef.name`.
    pub default_composition: Option<String>,
    /// `spec.enforcedCompositionRef.name`.
    pub enforced_composition: Option<String>,
    /// `spec.connectionSecretKeys`.
    pub connection_secret_keys: Vec<String>,
}

/// What a composite or claim controller of one XRD knows.
pub struct KindContext {
    /// Shared state.
    pub shared: Arc<Context>,
    /// The composite kind.
    pub composite: ServedKind,
    /// Its API resource.
    pub composite_resource: ApiResource,
    /// The claim kind's API resource, when the XRD offers claims.
    pub claim_resource: Option<ApiResource>,
    /// Live XRD settings.
    pub settings: Arc<RwLock<Settings>>,
    /// Watch caches of the composed resources, by (apiVersion, kind).
    pub composed_cache: HashMap<(String, String), Store<DynamicObject>>,
    /// Watch cache of the composites.
    pub composite_cache: Store<DynamicObject>,
    /// What the composite controller has seen of the composed resources.
    pub composed_states: ObservedStates,
    /// The composite controller's passes, by composite name.
    pub composite_passes: Arc<Passes>,
    /// The claim controller's passes, by [`claim_key`].
    pub claim_passes: Arc<Passes>,
    /// Wakes a composite (when a connection Secret it read changed).
    pub composite_wake: UnboundedSender<ObjectRef<DynamicObject>>,
    /// Wakes a claim (when a connection Secret it read changed).
    pub claim_wake: UnboundedSender<ObjectRef<DynamicObject>>,
}

impl KindContext {
    /// The cache of composed kind `api_version`/`kind`, when the controller watches it.
    pub fn composed_cache(&self, api_version: &str, kind: &str) -> Option<&Store<DynamicObject>> {
        self.composed_cache.get(&(api_version.to_owned(), kind.to_owned()))
    }

    /// Composite `name`, as a reader of connection Secrets.
    pub fn composite_reader(&self, name: &str) -> Reader {
        let object = ObjectRef::new_with(name, self.composite_resource.clone());
        Reader::new(object, &self.composite_wake, &self.composite_passes, name.to_owned())
    }

    /// Claim `namespace/name` of `resource`, as a reader of connection Secrets.
    pub fn claim_reader(&self, resource: &ApiResource, namespace: &str, name: &str) -> Reader {
        let object = ObjectRef::new_with(name, resource.clone()).within(namespace);
        Reader::new(object, &self.claim_wake, &self.claim_passes, claim_key(namespace, name))
    }
}

/// The kinds a running set of controllers watches; a change restarts them.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Kinds {
    composite: ServedKind,
    claim: Option<ServedKind>,
    composed: Vec<String>,
}

/// Controllers running for one XRD.
pub struct Served {
    kinds: Kinds,
    settings: Arc<RwLock<Settings>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn settings_of(xrd: &CompositeResourceDefinition) -> Settings {
    Settings {
        default_composition: xrd.spec.default_composition_ref.as_ref().map(|r| r.name.clone()),
        enforced_composition: xrd.spec.enforced_composition_ref.as_ref().map(|r| r.name.clone()),
        connection_secret_keys: xrd.spec.connection_secret_keys.clone(),
    }
}

/// The API resource of a served kind.
pub fn resource_of(kind: &ServedKind) -> ApiResource {
    ApiResource {
        group: kind.group.clone(),
        version: kind.version.clone(),
        api_version: kind.api_version(),
        kind: kind.kind.clone(),
        plural: kind.plural.clone(),
    }
}

/// Reconciles one XRD.
pub async fn reconcile(
    xrd: Arc<CompositeResourceDefinition>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let name = xrd.name_any();
    let api: Api<CompositeResourceDefinition> = Api::all(ctx.shared_client());
    if xrd.meta().deletion_timestamp.is_some() {
        // The CRDs it controls carry an owner reference to it, so they go with it.
        ctx.served.lock().expect("served lock").remove(&name);
        return Ok(Action::await_change());
    }
    let mut status = to_value(&xrd.status, "XRD status")?;
    let mut crds = match crds_for(&xrd) {
        Ok(crds) => crds,
        Err(e) => {
            let conditions = [condition("Established", false, "InvalidDefinition", &e.to_string())];
            write_status(&api, &name, &mut status, &conditions, None).await?;
            return Ok(Action::requeue(REQUEUE_ERROR));
        }
    };
    let owner = xrd.controller_owner_ref(&()).expect("XRDs have a name and uid");
    let crd_api: Api<CustomResourceDefinition> = Api::all(ctx.shared_client());
    if let Some(refused) = apply_crd(&crd_api, &crds.composite, &owner).await? {
        // Whatever this XRD served before, it defines no kind now.
        ctx.served.lock().expect("served lock").remove(&name);
        let message = format!("{ERR_APPLY_COMPOSITE_CRD}: {refused}");
        let conditions = [condition("Established", false, REASON_ESTABLISH, &message)];
        write_status(&api, &name, &mut status, &conditions, None).await?;
        return Ok(Action::requeue(REQUEUE_ERROR));
    }
    let mut claims_refused = None;
    if let Some(claim) = &crds.claim
        && let Some(refused) = apply_crd(&crd_api, claim, &owner).await?
    {
        // The composites are still served, as in Crossplane, where claims are offered by a
        // controller of their own.
        (crds.claim, crds.claim_kind) = (None, None);
        claims_refused = Some(format!("{ERR_APPLY_CLAIM_CRD}: {refused}"));
    }
    if !served(&ctx, &crds.composite_kind).await {
        let conditions = [condition(
            "Established",
            false,
            "WaitingForCRD",
            "waiting for the composite CRD to be served",
        )];
        write_status(&api, &name, &mut status, &conditions, None).await?;
        return Ok(Action::requeue(REQUEUE_UNREADY));
    }
    let claims_served = match &crds.claim_kind {
        Some(kind) => served(&ctx, kind).await,
        None => true,
    };
    if !claims_served {
        let conditions = [
            condition("Established", true, "WatchingCompositeResource", ""),
            condition("Offered", false, "WaitingForCRD", "waiting for the claim CRD to be served"),
        ];
        write_status(&api, &name, &mut status, &conditions, None).await?;
        return Ok(Action::requeue(REQUEUE_UNREADY));
    }
    start(&ctx, &name, &xrd, &crds).await;
    let mut conditions = vec![condition("Established", true, "WatchingCompositeResource", "")];
    if let Some(message) = &claims_refused {
        conditions.push(condition("Offered", false, REASON_OFFER, message));
    } else if crds.claim_kind.is_some() {
        conditions.push(condition("Offered", true, "OfferingClaims", ""));
    }
    let controllers = json!({
        "compositeResourceType": {"apiVersion": crds.composite_kind.api_version(), "kind": crds.composite_kind.kind},
        "compositeResourceClaimType": crds.claim_kind.as_ref().map(|k| json!({"apiVersion": k.api_version(), "kind": k.kind})),
    });
    write_status(&api, &name, &mut status, &conditions, Some(controllers)).await?;
    Ok(Action::requeue(if claims_refused.is_some() { REQUEUE_ERROR } else { REQUEUE_READY }))
}

/// Server-side applies `crd`, controlled by `owner`; returns why it was refused, if it was.
/// A CRD that exists without `owner` controlling it (another XRD's, or one of Crosstie's own)
/// is never touched: applying it would replace its schema, pruning its objects, and hand it to
/// `owner`, whose deletion would then delete it with every object in it. Two XRDs created
/// together may both find a CRD absent: the later apply takes it, and the other XRD is refused
/// at its next reconcile, before a CRD that new can hold objects of the other's.
async fn apply_crd(
    api: &Api<CustomResourceDefinition>,
    crd: &CustomResourceDefinition,
    owner: &OwnerReference,
) -> Result<Option<String>, Error> {
    let name = crd.name_any();
    let existing = api
        .get_opt(&name)
        .await
        .map_err(kube_err(format!("cannot get CustomResourceDefinition {name}")))?;
    let mut crd = crd.clone();
    crd.metadata.owner_references = Some(vec![owner.clone()]);
    if let Some(existing) = existing {
        let controller = existing.owner_references().iter().find(|o| o.controller == Some(true));
        if controller.is_none_or(|c| c.uid != owner.uid) {
            return Ok(Some(format!("existing object is not controlled by UID {:?}", owner.uid)));
        }
        // Conditional on the owner just checked.
        crd.metadata.resource_version = existing.metadata.resource_version;
    }
    match api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&crd)).await {
        Ok(_) => Ok(None),
        // The API server rejected the CRD (an invalid schema): the XRD must say why. A conflict
        // is retried, and a server error is not the XRD's fault.
        Err(kube::Error::Api(status))
            if (400..500).contains(&status.code) && status.code != 409 =>
        {
            Ok(Some(status.message))
        }
        Err(e) => Err(kube_err(format!("cannot apply CustomResourceDefinition {name}"))(e)),
    }
}

/// Whether the API server serves `kind` yet: a list succeeds.
async fn served(ctx: &Context, kind: &ServedKind) -> bool {
    let api: Api<DynamicObject> = Api::all_with(ctx.shared_client(), &resource_of(kind));
    // A plain list: every API server implementation supports it, unlike metadata-only lists.
    api.list(&ListParams::default().limit(1)).await.is_ok()
}

/// Starts (or keeps, or restarts when the watched kinds changed) the controllers of one XRD.
async fn start(ctx: &Arc<Context>, name: &str, xrd: &CompositeResourceDefinition, crds: &XrdCrds) {
    let compositions = ctx.compositions();
    let mut composed = Vec::new();
    for (api_version, kind) in composed_kinds(&compositions.valid, &crds.composite_kind) {
        // A kind not served yet is watched once it is: the XRD is requeued and restarts us.
        match ctx.resource(&api_version, &kind).await {
            Ok((resource, _)) => composed.push(resource),
            Err(e) => tracing::info!(%e, "composed kind not served yet"),
        }
    }
    let kinds = Kinds {
        composite: crds.composite_kind.clone(),
        claim: crds.claim_kind.clone(),
        composed: composed.iter().map(|r| r.api_version.clone() + "/" + &r.kind).collect(),
    };
    let mut served = ctx.served.lock().expect("served lock");
    if let Some(running) = served.get(name).filter(|s| s.kinds == kinds && !s.task.is_finished()) {
        *running.settings.write().expect("settings lock") = settings_of(xrd);
        return;
    }
    let settings = Arc::new(RwLock::new(settings_of(xrd)));
    let composed: Vec<(ApiResource, Writer<DynamicObject>)> =
        composed.into_iter().map(|r| (r.clone(), Writer::new(r))).collect();
    let composite_resource = resource_of(&crds.composite_kind);
    let composites = Writer::new(composite_resource.clone());
    let (composite_wake, composite_woken) = mpsc::unbounded();
    let (claim_wake, claim_woken) = mpsc::unbounded();
    let kind_ctx = Arc::new(KindContext {
        shared: ctx.clone(),
        composite: crds.composite_kind.clone(),
        composite_resource,
        claim_resource: crds.claim_kind.as_ref().map(resource_of),
        settings: settings.clone(),
        composed_cache: composed
            .iter()
            .map(|(r, w)| ((r.api_version.clone(), r.kind.clone()), w.as_reader()))
            .collect(),
        composite_cache: composites.as_reader(),
        composed_states: ObservedStates::default(),
        composite_passes: Arc::default(),
        claim_passes: Arc::default(),
        composite_wake,
        claim_wake,
    });
    let task = tokio::spawn(serve(kind_ctx, composed, composites, composite_woken, claim_woken));
    // Replacing an entry drops it, which aborts the old controllers.
    served.insert(name.to_owned(), Served { kinds, settings, task });
}

/// Runs the composite controller (woken by its composed resources too) and the claim
/// controller (woken by its composite too). The watches that wake them also fill the caches
/// `composed` and `composites`, which reconciles read instead of the API server.
async fn serve(
    ctx: Arc<KindContext>,
    composed: Vec<(ApiResource, Writer<DynamicObject>)>,
    composites_cache: Writer<DynamicObject>,
    composite_woken: UnboundedReceiver<ObjectRef<DynamicObject>>,
    claim_woken: UnboundedReceiver<ObjectRef<DynamicObject>>,
) {
    let client = ctx.shared.shared_client();
    let debounced = controller::Config::default().debounce(DEBOUNCE).concurrency(CONCURRENCY);
    let (composite_watch, composite_changes, claim_changes) =
        composite_changes(&client, ctx.clone(), composites_cache);
    let mut composites = kube::runtime::Controller::for_stream_with(
        composite_changes.map(Ok),
        ctx.composite_cache.clone(),
        ctx.composite_resource.clone(),
    )
    .with_config(debounced.clone());
    for (resource, cache) in composed {
        let composite = ctx.composite_resource.clone();
        let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
        let changes = composed_changes(api, cache, ctx.clone());
        composites = composites.watches_stream_with(
            changes,
            move |object: DynamicObject| {
                let owner = object.labels().get(LABEL_COMPOSITE).cloned();
                owner.map(|name| ObjectRef::new_with(&name, composite.clone()))
            },
            resource,
        );
    }
    let composites = composites
        .reconcile_all_on(ctx.shared.composition_changed())
        .reconcile_on(composite_woken)
        .run(
            |xr, ctx: Arc<KindContext>| async move {
                let again = ObjectRef::from_obj_with(&*xr, ctx.composite_resource.clone());
                let passes = (&*ctx.composite_passes, &ctx.composite_wake);
                let result = in_pass(
                    passes,
                    again.name.clone(),
                    again,
                    composite::reconcile(xr, ctx.clone()),
                )
                .await;
                ctx.shared.metrics.reconciled(&ctx.composite.kind, result.is_ok());
                result
            },
            error_policy,
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));
    let claims = async {
        let Some(resource) = ctx.claim_resource.clone() else { return };
        let claim = resource.clone();
        let claim_kind = resource.clone();
        let own = ctx.clone();
        let (claims, cache) = desired_state_changes(&client, &resource, move |claim| {
            let key = claim_key(&claim.namespace().unwrap_or_default(), &claim.name_any());
            own.claim_passes.admit(&key, version(claim))
        });
        kube::runtime::Controller::for_stream_with(claims, cache, resource)
            .with_config(debounced)
            .watches_stream_with(
                claim_changes.map(Ok),
                move |object: DynamicObject| {
                    let (name, namespace) = claim_of(&object)?;
                    Some(ObjectRef::new_with(name, claim.clone()).within(namespace))
                },
                ctx.composite_resource.clone(),
            )
            .reconcile_on(claim_woken)
            .run(
                move |claim, ctx: Arc<KindContext>| {
                    let claim_kind = claim_kind.clone();
                    async move {
                        let again = ObjectRef::from_obj_with(&*claim, claim_kind.clone());
                        let key =
                            claim_key(again.namespace.as_deref().unwrap_or_default(), &again.name);
                        let passes = (&*ctx.claim_passes, &ctx.claim_wake);
                        let result =
                            in_pass(passes, key, again, claim::reconcile(claim, ctx.clone())).await;
                        ctx.shared.metrics.reconciled(&claim_kind.kind, result.is_ok());
                        result
                    }
                },
                error_policy,
                ctx.clone(),
            )
            .for_each(|_| futures::future::ready(()))
            .await;
    };
    futures::join!(composite_watch, composites, claims);
}

/// One watch of the composites serves both controllers: it fills `cache`, which both read, and
/// returns it (to run alongside them) with the changes for each. The composite controller gets
/// a composite whose desired state changed by someone else's write; the claim controller gets a
/// claimed composite whose content changed (not merely its finalizers or `resourceRefs`, which
/// a claim does not mirror) by someone else's write, and every deleted one. Each change is sent
/// as a reference (name, namespace, labels): the controllers read the object from `cache`.
fn composite_changes(
    client: &kube::Client,
    ctx: Arc<KindContext>,
    cache: Writer<DynamicObject>,
) -> (
    impl Future<Output = ()> + Send + 'static,
    UnboundedReceiver<DynamicObject>,
    UnboundedReceiver<DynamicObject>,
) {
    let (to_composites, composite_changes) = mpsc::unbounded();
    let (to_claims, claim_changes) = mpsc::unbounded();
    let api = Api::<DynamicObject>::all_with(client.clone(), &ctx.composite_resource);
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(without_managed_fields)
        .reflect(cache);
    let watch = async move {
        let mut seen = SeenComposites::default();
        futures::pin_mut!(events);
        while let Some(event) = events.next().await {
            let mut xr = match event {
                Ok(watcher::Event::Apply(xr) | watcher::Event::InitApply(xr)) => xr,
                Ok(watcher::Event::Delete(xr)) => {
                    seen.forget(&xr.name_any());
                    if claim_admits(&ctx, &xr) {
                        let _ = to_claims.unbounded_send(reference(&xr));
                    }
                    continue;
                }
                Ok(watcher::Event::Init | watcher::Event::InitDone) => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "composite watch failed; retrying");
                    continue;
                }
            };
            let name = xr.name_any();
            if seen.desired_changed(&name, &xr) && ctx.composite_passes.admit(&name, version(&xr)) {
                let _ = to_composites.unbounded_send(reference(&xr));
            }
            if claim_of(&xr).is_some()
                && seen.content_changed(&name, &mut xr)
                && claim_admits(&ctx, &xr)
            {
                let _ = to_claims.unbounded_send(reference(&xr));
            }
        }
    };
    (watch, composite_changes, claim_changes)
}

/// Whether the claim controller takes this version of a claimed composite: not the echo of its
/// claim's own write.
fn claim_admits(ctx: &KindContext, xr: &DynamicObject) -> bool {
    let claim = claim_of(xr).map(|(name, namespace)| claim_key(namespace, name));
    claim.is_some_and(|key| ctx.claim_passes.admit(&key, version(xr)))
}

/// What the composite watch last passed on of each composite, as hashes.
#[derive(Default)]
pub(super) struct SeenComposites {
    /// [`crosstie_runtime::predicate::desired_state`], for the composite controller.
    desired: HashMap<String, u64>,
    /// [`crosstie_runtime::predicate::observed_state`] without `spec.resourceRefs`, for the
    /// claim controller.
    content: HashMap<String, u64>,
}

impl SeenComposites {
    pub(super) fn desired_changed(&mut self, name: &str, xr: &DynamicObject) -> bool {
        // Built-in kinds without a generation are never skipped (composites always have one).
        crosstie_runtime::predicate::desired_state(xr)
            .is_none_or(|hash| self.desired.insert(name.to_owned(), hash) != Some(hash))
    }

    /// Takes `spec.resourceRefs` out of `xr` (it is not passed on whole).
    pub(super) fn content_changed(&mut self, name: &str, xr: &mut DynamicObject) -> bool {
        if let Some(spec) = xr.data.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("resourceRefs");
        }
        let hash = crosstie_runtime::predicate::observed_state(xr);
        self.content.insert(name.to_owned(), hash) != Some(hash)
    }

    pub(super) fn forget(&mut self, name: &str) {
        self.desired.remove(name);
        self.content.remove(name);
    }
}

/// A change as the controllers take it: which object (and, for the claim controller's mapping,
/// its labels); they read the object itself from the cache.
fn reference(xr: &DynamicObject) -> DynamicObject {
    let metadata = kube::api::ObjectMeta {
        name: xr.metadata.name.clone(),
        namespace: xr.metadata.namespace.clone(),
        labels: xr.metadata.labels.clone(),
        ..Default::default()
    };
    DynamicObject { types: xr.types.clone(), metadata, data: Value::Null }
}

/// Runs `reconcile` as the pass over `key` in `passes`; when a trigger held meanwhile carried
/// someone else's change, `again` is sent to `wake` to be reconciled at once.
async fn in_pass(
    (passes, wake): (&Passes, &UnboundedSender<ObjectRef<DynamicObject>>),
    key: String,
    again: ObjectRef<DynamicObject>,
    reconcile: impl Future<Output = Result<Action, Error>>,
) -> Result<Action, Error> {
    let pass = passes.start(&key);
    let result = reconcile.await;
    if pass.end() {
        let _ = wake.unbounded_send(again);
    }
    result
}

/// The key of claim `namespace/name` in [`KindContext::claim_passes`].
pub fn claim_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The name and namespace of the claim a composite's labels name.
fn claim_of(composite: &DynamicObject) -> Option<(&String, &String)> {
    let labels = composite.labels();
    Some((labels.get(LABEL_CLAIM_NAME)?, labels.get(LABEL_CLAIM_NAMESPACE)?))
}

/// Every object of `resource`, each time its desired state changes, and the cache the watch
/// fills: a controller's own status writes, and the versions `admit` refuses, do not wake it
/// again (its requeue still re-reads everything).
fn desired_state_changes(
    client: &kube::Client,
    resource: &ApiResource,
    admit: impl Fn(&DynamicObject) -> bool + Send + 'static,
) -> (
    impl futures::Stream<Item = Result<DynamicObject, watcher::Error>> + Send + 'static,
    Store<DynamicObject>,
) {
    let writer = Writer::new(resource.clone());
    let cache = writer.as_reader();
    let api = Api::<DynamicObject>::all_with(client.clone(), resource);
    let changes = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(without_managed_fields)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(crosstie_runtime::predicate::desired_state, Default::default())
        .try_filter(move |object| std::future::ready(admit(object)));
    (changes, cache)
}

/// The composed resources `api` serves, each time they change in a way their composite has
/// not seen (`ObservedStates`: not the managed-resource engine's bookkeeping around a create,
/// not the echo of the composite's own create), and each deletion. `cache` gets every version.
fn composed_changes(
    api: Api<DynamicObject>,
    cache: Writer<DynamicObject>,
    ctx: Arc<KindContext>,
) -> impl futures::Stream<Item = Result<DynamicObject, watcher::Error>> + Send + 'static {
    watcher(api, watcher::Config::default().labels(LABEL_COMPOSITE))
        .default_backoff()
        .modify(without_managed_fields)
        .reflect(cache)
        .try_filter_map(move |event| {
            let states = &ctx.composed_states;
            let wake = match event {
                watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
                    let composite = object.labels().get(LABEL_COMPOSITE);
                    let admitted = states.changed(&object)
                        && composite
                            .is_none_or(|xr| ctx.composite_passes.admit(xr, version(&object)));
                    admitted.then_some(object)
                }
                watcher::Event::Delete(object) => {
                    states.deleted(&object);
                    Some(object)
                }
                watcher::Event::Init | watcher::Event::InitDone => None,
            };
            std::future::ready(Ok(wake))
        })
}

/// The controllers never read managedFields: their caches keep objects without them, which
/// makes the copies each reconcile takes (and the caches) smaller.
fn without_managed_fields(object: &mut DynamicObject) {
    object.managed_fields_mut().clear();
}

async fn write_status(
    api: &Api<CompositeResourceDefinition>,
    name: &str,
    status: &mut Value,
    conditions: &[Value],
    controllers: Option<Value>,
) -> Result<(), Error> {
    let mut object = json!({"status": status.take()});
    let changed = set_conditions(&mut object, conditions, &now());
    let controllers_changed =
        controllers.as_ref().is_some_and(|c| object["status"]["controllers"] != *c);
    if let Some(c) = controllers {
        object["status"]["controllers"] = c;
    }
    if changed || controllers_changed {
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&object))
            .await
            .map_err(kube_err(format!("cannot update status of {name}")))?;
    }
    Ok(())
}
