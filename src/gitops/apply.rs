//! Applying a build to the cluster (thin IO): staged server-side apply with field manager
//! `kustomize-controller`, drift detection before re-applying, pruning and health waits.
//!
//! Stages, each waited for before the next (Flux's `ApplyAllStaged`, plus Crossplane):
//! 1. CustomResourceDefinitions, Namespaces, ClusterRoles — CRDs until `Established` or their
//!    kind is discoverable;
//! 2. CompositeResourceDefinitions and Compositions — XRDs likewise for their composite and
//!    claim kinds, so claims and composite resources of the same commit resolve;
//! 3. everything else.
//!
//! Within a stage every write is validated by a server-side dry-run before any is made.
//!
//! Namespaced objects without a namespace go to `default`, as with `kubectl apply`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PropagationPolicy,
};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiCapabilities, ApiResource, Scope};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::gitops::api::InventoryEntry;
use crate::gitops::build::inventory::{self, ObjectId};
use crate::gitops::build::{NAME_LABEL, NAMESPACE_LABEL};
use crate::gitops::drift;
use crate::gitops::health::{self, Health};

/// The field manager Flux uses, so ownership carries over between Flux and Crosstie.
pub const FIELD_MANAGER: &str = "kustomize-controller";
/// Per-object annotation (or label) `enabled`: recreate on immutable-field errors.
pub const FORCE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/force";
const POLL: Duration = Duration::from_millis(500);

/// Why applying, pruning or waiting failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server does not serve the object's kind.
    #[error("{object}: no matches for kind {kind:?} in version {api_version:?}")]
    UnknownKind {
        /// `Kind/namespace/name`.
        object: String,
        /// The kind.
        kind: String,
        /// The apiVersion.
        api_version: String,
    },
    /// An API call failed.
    #[error("{object}: {}", crosstie_runtime::patch::describe(source))]
    Api {
        /// `Kind/namespace/name`.
        object: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A health check failed.
    #[error("health check failed for {object}: {message}")]
    Unhealthy {
        /// `Kind/namespace/name`.
        object: String,
        /// Why.
        message: String,
    },
    /// Objects were not ready before the timeout.
    #[error("timeout waiting for: {0}")]
    Timeout(String),
    /// A health check reference is incomplete.
    #[error("{0}")]
    InvalidReference(String),
}

/// Options for one apply run.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Whether changed fields of existing objects count as drift (the revision is the one
    /// already applied) rather than a new revision's changes.
    pub detect_drift: bool,
    /// `spec.force`: recreate objects whose immutable fields changed.
    pub force: bool,
    /// Deadline for the whole apply, including stage waits.
    pub deadline: Instant,
}

/// What an apply run did.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    /// The applied objects as sent, with their final namespaces (for the inventory).
    pub objects: Vec<Value>,
    /// How many objects were created or patched (unchanged objects cost no write).
    pub writes: usize,
    /// `Kind/ns/name: /field, …` for every drifted object that was reverted.
    pub drift: Vec<String>,
}

/// A live object to read or wait for.
#[derive(Clone, Debug)]
pub struct Target {
    resource: ApiResource,
    namespace: Option<String>,
    name: String,
}

impl Target {
    fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.resource.kind, self.name),
            None => format!("{}/{}", self.resource.kind, self.name),
        }
    }
}

/// Applies, prunes and health-checks objects; caches discovery per group/version/kind.
pub struct Applier {
    client: Client,
    kinds: Mutex<HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)>>,
}

fn describe(object: &Value) -> String {
    let m = &object["metadata"];
    match m["namespace"].as_str() {
        Some(ns) => format!(
            "{}/{ns}/{}",
            object["kind"].as_str().unwrap_or_default(),
            m["name"].as_str().unwrap_or_default()
        ),
        None => format!(
            "{}/{}",
            object["kind"].as_str().unwrap_or_default(),
            m["name"].as_str().unwrap_or_default()
        ),
    }
}

fn stage(object: &Value) -> usize {
    let kind = object["kind"].as_str().unwrap_or_default();
    let group =
        object["apiVersion"].as_str().unwrap_or_default().rsplit_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("apiextensions.k8s.io", "CustomResourceDefinition") | ("", "Namespace") => 0,
        ("rbac.authorization.k8s.io", "ClusterRole") => 0,
        ("apiextensions.crossplane.io", "CompositeResourceDefinition" | "Composition") => 1,
        _ => 2,
    }
}

impl Applier {
    /// An applier using `client`.
    pub fn new(client: Client) -> Self {
        Applier { client, kinds: Mutex::default() }
    }

    async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
        object: &str,
    ) -> Result<(ApiResource, ApiCapabilities), Error> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        if let Some(found) = self.kinds.lock().await.get(&gvk) {
            return Ok(found.clone());
        }
        let found =
            discovery::pinned_kind(&self.client, &gvk).await.map_err(|_| Error::UnknownKind {
                object: object.to_owned(),
                kind: kind.to_owned(),
                api_version: api_version.to_owned(),
            })?;
        self.kinds.lock().await.insert(gvk, found.clone());
        Ok(found)
    }

    fn api(&self, target: &Target) -> Api<DynamicObject> {
        match &target.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &target.resource),
            None => Api::all_with(self.client.clone(), &target.resource),
        }
    }

    /// Resolve an object's kind and fix its namespace by the kind's real scope.
    async fn target_for(&self, object: &mut Value) -> Result<Target, Error> {
        let (resource, caps) = self
            .resolve(
                object["apiVersion"].as_str().unwrap_or_default(),
                object["kind"].as_str().unwrap_or_default(),
                &describe(object),
            )
            .await?;
        let metadata = object["metadata"].as_object_mut().expect("build checked metadata");
        let namespace = match caps.scope {
            Scope::Cluster => {
                metadata.remove("namespace");
                None
            }
            Scope::Namespaced => {
                let ns = metadata
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    .to_owned();
                metadata.insert("namespace".into(), Value::String(ns.clone()));
                Some(ns)
            }
        };
        let name = metadata["name"].as_str().unwrap_or_default().to_owned();
        Ok(Target { resource, namespace, name })
    }

    /// Read a live object; `None` when it does not exist.
    pub async fn get(&self, target: &Target) -> Result<Option<Value>, Error> {
        let live = self
            .api(target)
            .get_opt(&target.name)
            .await
            .map_err(|source| Error::Api { object: target.describe(), source })?;
        Ok(live.map(|o| serde_json::to_value(o).expect("objects serialize")))
    }

    /// Apply `objects` in stages. Existing objects whose applied fields already match cost no
    /// write; with `detect_drift`, differing fields are reported as drift and reverted.
    /// Every write of a stage is first validated with a server-side dry-run, so an invalid
    /// object fails the stage before anything in it is written.
    /// Objects must carry the ownership labels the build sets. Returns the report and the
    /// targets to health-check (everything applied or kept, not the skipped ones).
    pub async fn apply_all(
        &self,
        mut objects: Vec<Value>,
        options: &ApplyOptions,
    ) -> Result<(ApplyReport, Vec<Target>), Error> {
        objects.sort_by_key(stage);
        objects.iter_mut().for_each(fold_string_data);
        let mut report = ApplyReport::default();
        let mut targets = Vec::with_capacity(objects.len());
        let mut live = LiveObjects::owned_by(
            objects.first().map_or(&Value::Null, |o| &o["metadata"]["labels"]),
        );
        for current in 0..3 {
            let mut definitions = Vec::new();
            let mut pending = Vec::new();
            let in_stage: Vec<usize> =
                (0..objects.len()).filter(|&i| stage(&objects[i]) == current).collect();
            for i in in_stage {
                let target = self.target_for(&mut objects[i]).await?;
                let object = &objects[i];
                let existing = live.get(self, &target).await?;
                match policy(object, existing) {
                    // Left alone: not applied, not waited for, but still in the inventory.
                    Policy::Skip => continue,
                    Policy::IfNotPresent if existing.is_some() => {}
                    _ => {
                        if let Some(change) = self.plan(object, existing, &target, options).await? {
                            pending.push((i, target.clone(), change));
                        }
                    }
                }
                let served = served_kinds(object);
                if !served.is_empty() {
                    definitions.push((target.clone(), served));
                }
                targets.push(target);
            }
            for (i, target, change) in pending {
                self.write(&objects[i], &target, change, options, &mut report).await?;
            }
            self.wait_served(&definitions, options.deadline).await?;
        }
        report.objects = objects;
        Ok((report, targets))
    }

    /// Whether `object` needs a write, validated by a server-side dry-run. Unchanged objects
    /// cost no request when their managedFields show that nothing we own was dropped from Git;
    /// otherwise the dry-run result, compared with the live object, decides (Flux's diff).
    async fn plan(
        &self,
        object: &Value,
        live: Option<&Value>,
        target: &Target,
        options: &ApplyOptions,
    ) -> Result<Option<Change>, Error> {
        let changed = live.map(|l| drift::changed_fields(object, l)).unwrap_or_default();
        if let Some(live) = live {
            let dropped = drift::dropped_owned_fields(object, live, FIELD_MANAGER);
            if changed.is_empty() && dropped.as_ref().is_some_and(Vec::is_empty) {
                return Ok(None);
            }
        }
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        params.dry_run = true;
        let result =
            match self.api(target).patch(&target.name, &params, &Patch::Apply(object)).await {
                Ok(result) => serde_json::to_value(result).expect("objects serialize"),
                // Immutable field changed: `force` recreates the object instead.
                Err(kube::Error::Api(status))
                    if status.code == 422
                        && live.is_some()
                        && (options.force || forced(object)) =>
                {
                    return Ok(Some(Change { created: false, fields: changed }));
                }
                Err(source) => return Err(Error::Api { object: target.describe(), source }),
            };
        let Some(live) = live else {
            return Ok(Some(Change { created: true, fields: Vec::new() }));
        };
        let mut fields = drift::changed_fields(&result, live);
        fields.extend(drift::removed_fields(&result, live));
        Ok((!fields.is_empty()).then_some(Change { created: false, fields }))
    }

    async fn write(
        &self,
        object: &Value,
        target: &Target,
        change: Change,
        options: &ApplyOptions,
        report: &mut ApplyReport,
    ) -> Result<(), Error> {
        let api_error = |source| Error::Api { object: target.describe(), source };
        if options.detect_drift {
            report.drift.push(match change.created {
                // Same revision as last time, so it existed: someone deleted it.
                true => format!("{}: deleted outside Git, recreated", target.describe()),
                false => format!("{}: {}", target.describe(), change.fields.join(", ")),
            });
        }
        let api = self.api(target);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match api.patch(&target.name, &params, &Patch::Apply(object)).await {
            Ok(_) => {}
            Err(kube::Error::Api(status))
                if status.code == 422 && (options.force || forced(object)) =>
            {
                // Immutable field changed: recreate, as Flux does with `force`.
                let delete = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    ..Default::default()
                };
                api.delete(&target.name, &delete).await.map_err(api_error)?;
                api.patch(&target.name, &params, &Patch::Apply(object)).await.map_err(api_error)?;
            }
            Err(e) => return Err(api_error(e)),
        }
        report.writes += 1;
        Ok(())
    }

    /// Wait until each CRD or XRD is `Established` or the kinds it defines are discoverable,
    /// whichever comes first: what matters to the next stage is that those kinds resolve.
    async fn wait_served(
        &self,
        definitions: &[(Target, Vec<(String, String)>)],
        deadline: Instant,
    ) -> Result<(), Error> {
        loop {
            let mut waiting = Vec::new();
            for (target, kinds) in definitions {
                let established = match self.get(target).await? {
                    Some(live) => health::health(&live, false) == Health::Current,
                    None => false,
                };
                if established {
                    continue;
                }
                for (api_version, kind) in kinds {
                    if self.resolve(api_version, kind, &target.describe()).await.is_err() {
                        waiting.push(format!("{} ({kind} not served yet)", target.describe()));
                        break;
                    }
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() + POLL > deadline {
                return Err(Error::Timeout(waiting.join(", ")));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Poll `targets` until all are healthy; fail at once on a failed one, or at `deadline`.
    ///
    /// With `owner` (an [`owner_selector`]), objects are read with one LIST per kind and
    /// namespace per round instead of one GET each: `wait: true` over thousands of objects.
    pub async fn wait_healthy(
        &self,
        targets: &[Target],
        owner: Option<&str>,
        deadline: Instant,
    ) -> Result<(), Error> {
        // Listed only once an object could be a claim or composite: plain objects cost nothing.
        let mut composites = None;
        loop {
            let mut waiting = Vec::new();
            let mut listed = owner.map(|selector| LiveObjects::new(selector.to_owned()));
            for target in targets {
                let live = match &mut listed {
                    Some(listed) => listed.get(self, target).await?.cloned(),
                    None => self.get(target).await?,
                };
                let status = match live {
                    Some(live) => {
                        let crossplane = self.is_crossplane(target, &live, &mut composites).await;
                        health::health(&live, crossplane)
                    }
                    None => Health::InProgress("not found".into()),
                };
                match status {
                    Health::Current => {}
                    Health::InProgress(message) => {
                        waiting.push(format!("{} ({message})", target.describe()))
                    }
                    Health::Failed(message) => {
                        return Err(Error::Unhealthy { object: target.describe(), message });
                    }
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() + POLL > deadline {
                return Err(Error::Timeout(waiting.join(", ")));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether `live` is a Crossplane resource (managed, composite or claim), whose health is its
    /// `Ready` condition even before its first status write.
    async fn is_crossplane(
        &self,
        target: &Target,
        live: &serde_json::Value,
        composites: &mut Option<std::collections::HashSet<(String, String)>>,
    ) -> bool {
        // Managed resources carry `spec.forProvider`; Compositions, ProviderConfigs and other
        // Crossplane kinds without a Ready condition are judged like any object.
        if live["spec"].get("forProvider").is_some() {
            return true;
        }
        let group = &target.resource.group;
        // Built-in kinds and objects that already report conditions need no XRD lookup.
        let builtin = group.is_empty() || group.ends_with(".k8s.io") || !group.contains('.');
        if builtin || live["status"]["conditions"].is_array() {
            return false;
        }
        if composites.is_none() {
            *composites = Some(self.crossplane_composite_kinds().await);
        }
        composites
            .as_ref()
            .is_some_and(|kinds| kinds.contains(&(group.clone(), target.resource.kind.clone())))
    }

    /// The (group, kind) of every composite and claim kind an XRD defines: Crossplane resources
    /// whose health is their `Ready` condition. Empty when XRDs cannot be listed.
    async fn crossplane_composite_kinds(&self) -> std::collections::HashSet<(String, String)> {
        use crate::composition::types::CompositeResourceDefinition;
        let xrds = kube::Api::<CompositeResourceDefinition>::all(self.client.clone());
        let Ok(list) = xrds.list(&Default::default()).await else { return Default::default() };
        list.items
            .iter()
            .flat_map(|xrd| {
                let group = xrd.spec.group.clone();
                let claim = xrd.spec.claim_names.as_ref().map(|n| (group.clone(), n.kind.clone()));
                std::iter::once((group.clone(), xrd.spec.names.kind.clone())).chain(claim)
            })
            .collect()
    }

    /// Resolve `spec.healthChecks` entries (apiVersion, kind, name, namespace).
    pub async fn health_check_targets(
        &self,
        refs: &[crate::gitops::api::CrossNamespaceRef],
        default_namespace: &str,
    ) -> Result<Vec<Target>, Error> {
        let mut targets = Vec::with_capacity(refs.len());
        for (i, r) in refs.iter().enumerate() {
            let api_version = r.api_version.as_deref().ok_or_else(|| {
                Error::InvalidReference(format!("spec.healthChecks[{i}].apiVersion is required"))
            })?;
            let (resource, caps) =
                self.resolve(api_version, &r.kind, &format!("{}/{}", r.kind, r.name)).await?;
            let namespace = match caps.scope {
                Scope::Cluster => None,
                Scope::Namespaced => {
                    Some(r.namespace.clone().unwrap_or_else(|| default_namespace.to_owned()))
                }
            };
            targets.push(Target { resource, namespace, name: r.name.clone() });
        }
        Ok(targets)
    }

    /// Delete stale objects still owned by Kustomization `name`/`namespace` and not protected
    /// (see [`inventory::may_prune`]). Returns the entries that could not be deleted; they stay
    /// in the inventory for the next attempt.
    pub async fn prune(
        &self,
        stale: &[InventoryEntry],
        name: &str,
        namespace: &str,
    ) -> Vec<(InventoryEntry, Error)> {
        let mut failed = Vec::new();
        for entry in stale {
            if let Err(e) = self.prune_one(entry, name, namespace).await {
                failed.push((entry.clone(), e));
            }
        }
        failed
    }

    async fn prune_one(
        &self,
        entry: &InventoryEntry,
        name: &str,
        namespace: &str,
    ) -> Result<(), Error> {
        let Some(id) = ObjectId::parse(&entry.id) else { return Ok(()) };
        let api_version =
            if id.group.is_empty() { entry.v.clone() } else { format!("{}/{}", id.group, entry.v) };
        let (resource, _) = match self.resolve(&api_version, &id.kind, &entry.id).await {
            Ok(found) => found,
            // The kind is gone (its CRD was pruned first): so are its objects.
            Err(Error::UnknownKind { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let target = Target {
            resource,
            namespace: Some(id.namespace).filter(|n| !n.is_empty()),
            name: id.name,
        };
        let Some(live) = self.get(&target).await? else { return Ok(()) };
        if !inventory::may_prune(&live, name, namespace) {
            return Ok(());
        }
        let delete = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        match self.api(&target).delete(&target.name, &delete).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => Err(Error::Api { object: target.describe(), source }),
        }
    }
}

/// The `(apiVersion, kind)`s a CRD or an XRD (composite and claim) makes available.
fn served_kinds(object: &Value) -> Vec<(String, String)> {
    let spec = &object["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let version = spec["versions"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["served"] == true).or(v.first()))
        .and_then(|v| v["name"].as_str())
        .unwrap_or_default();
    let names: &[&str] = match (stage(object), object["kind"].as_str()) {
        (0, Some("CustomResourceDefinition")) => &["names"],
        (1, Some("CompositeResourceDefinition")) => &["names", "claimNames"],
        _ => &[],
    };
    names
        .iter()
        .filter_map(|field| spec[field]["kind"].as_str())
        .filter(|_| !group.is_empty() && !version.is_empty())
        .map(|kind| (format!("{group}/{version}"), kind.to_owned()))
        .collect()
}

/// The label selector matching objects applied by Kustomization `namespace/name`.
pub fn owner_selector(name: &str, namespace: &str) -> String {
    format!("{NAME_LABEL}={name},{NAMESPACE_LABEL}={namespace}")
}

/// Live objects owned by one Kustomization, listed once per kind and namespace with the
/// ownership labels as selector: an unchanged sync of thousands of objects costs a few LISTs
/// and no writes. Objects not found this way (new, or not yet labelled) are applied.
struct LiveObjects {
    selector: String,
    lists: HashMap<CollectionKey, HashMap<String, Value>>,
}

/// Group, version, plural and namespace of a collection.
type CollectionKey = (String, String, String, Option<String>);

impl LiveObjects {
    fn new(selector: String) -> Self {
        LiveObjects { selector, lists: HashMap::new() }
    }

    /// For the owner named by `labels` (the ownership labels the build sets).
    fn owned_by(labels: &Value) -> Self {
        let label = |l: &str| labels[l].as_str().unwrap_or_default().to_owned();
        Self::new(owner_selector(&label(NAME_LABEL), &label(NAMESPACE_LABEL)))
    }

    async fn get(&mut self, applier: &Applier, target: &Target) -> Result<Option<&Value>, Error> {
        let r = &target.resource;
        let key = (r.group.clone(), r.version.clone(), r.plural.clone(), target.namespace.clone());
        if !self.lists.contains_key(&key) {
            let list = applier
                .api(target)
                .list(&ListParams::default().labels(&self.selector))
                .await
                .map_err(|source| Error::Api { object: target.describe(), source })?;
            let by_name = list
                .items
                .into_iter()
                .filter_map(|o| Some((o.metadata.name.clone()?, serde_json::to_value(o).ok()?)))
                .collect();
            self.lists.insert(key.clone(), by_name);
        }
        Ok(self.lists[&key].get(&target.name))
    }
}

/// Flux's per-object apply policy, from `kustomize.toolkit.fluxcd.io/ssa` and
/// `kustomize.toolkit.fluxcd.io/reconcile` (annotation or label).
#[derive(Debug, PartialEq, Eq)]
enum Policy {
    /// `ssa: Override` (default) or `Merge`: apply and correct drift.
    Apply,
    /// `ssa: IfNotPresent`: create once, never update.
    IfNotPresent,
    /// `ssa: Ignore` or `reconcile: disabled`: leave the object alone.
    Skip,
}

/// The policy of `object`; `ssa: Ignore` and `reconcile: disabled` also count when set on the
/// live object, as in Flux, so a cluster admin can pause an object without a commit.
fn policy(object: &Value, live: Option<&Value>) -> Policy {
    let marked_on = |object: &Value, key: &str, value: &str| {
        ["annotations", "labels"].iter().any(|f| object["metadata"][f][key].as_str() == Some(value))
    };
    let marked = |key: &str, value: &str| {
        marked_on(object, key, value) || live.is_some_and(|live| marked_on(live, key, value))
    };
    if marked(inventory::SSA_ANNOTATION, "Ignore")
        || marked(inventory::RECONCILE_ANNOTATION, "disabled")
    {
        Policy::Skip
    } else if marked(inventory::SSA_ANNOTATION, "IfNotPresent") {
        Policy::IfNotPresent
    } else {
        Policy::Apply
    }
}

/// A write `plan` decided on.
struct Change {
    /// The object does not exist yet.
    created: bool,
    /// JSON-pointer paths the write changes, for the drift report.
    fields: Vec<String>,
}

/// A Secret's `stringData` as the API server stores it: base64 in `data` (Flux does the
/// same), so comparing with the live Secret finds no difference when there is none.
fn fold_string_data(object: &mut Value) {
    if object["apiVersion"] == "v1" && object["kind"] == "Secret" {
        crate::apiserver::convert::fold_string_data(object);
    }
}

fn forced(object: &Value) -> bool {
    ["annotations", "labels"]
        .iter()
        .any(|f| object["metadata"][f][FORCE_ANNOTATION].as_str() == Some("enabled"))
}
