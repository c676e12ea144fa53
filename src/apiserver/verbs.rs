//! The verbs (get, list, create, update, patch, delete) and the object semantics they share,
//! independent of HTTP: every write is one [`Store::mutate`] transaction, so validation,
//! optimistic concurrency and the status/finalizer/generation rules hold atomically.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::convert::{present, to_storage};
use super::lean::without_managed_fields;
use super::meta::{self, NameRule};
use super::patch::{self, PatchError};
use super::registry::{CRD_STORAGE, NAMESPACE_STORAGE, Registry, ResourceType, Shape};
use super::scale;
use super::schema;
use super::selector::{FieldSelector, LabelSelector};
use super::ssa::{self, ApplyError};
use super::status::{ApiError, Cause, Target};
use super::store::{Event, ObjectKey, Outcome, Store, StoreError, Write};
use super::typed;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

/// Finalizer kube-apiserver puts on CRDs: their custom resources are deleted first.
pub const CRD_CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";
/// Finalizer of Foreground deletion: dependents are deleted first.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// Finalizer of Orphan deletion: dependents lose their owner reference instead.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// Namespaces wait for this `spec.finalizers` entry, removed once their contents are gone.
pub const NAMESPACE_FINALIZER: &str = "kubernetes";
/// The label every Namespace carries with its own name, so selectors can pick namespaces by
/// name (kube-apiserver sets it on every write).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Namespaces that cannot be deleted (kube-apiserver's NamespaceLifecycle admission).
pub const PROTECTED_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// How unknown fields in a request are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    #[default]
    Ignore,
    /// Drop them (a warning in kube-apiserver).
    Warn,
    /// Refuse the request with 400.
    Strict,
}

/// Options of every write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// The field manager recorded in managedFields.
    pub manager: String,
    /// Validate and compute, but store nothing.
    pub dry_run: bool,
    /// Unknown-field handling.
    pub validation: FieldValidation,
    /// `Some("status")` for writes to the status subresource.
    pub subresource: Option<String>,
    /// Server-side apply: take ownership of conflicting fields.
    pub force: bool,
}

/// A patch body, by content type.
#[derive(Debug, Clone)]
pub enum Patch {
    /// `application/json-patch+json`.
    Json(Value),
    /// `application/merge-patch+json`.
    Merge(Value),
    /// `application/strategic-merge-patch+json`.
    Strategic(Value),
    /// `application/apply-patch+yaml`.
    Apply(Value),
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Delete the object now, dependents afterwards.
    #[default]
    Background,
    /// Delete dependents first.
    Foreground,
    /// Keep dependents, removing their owner reference.
    Orphan,
}

/// DeleteOptions.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Dependents policy.
    pub propagation: Propagation,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// Compute, but store nothing.
    pub dry_run: bool,
}

/// List options.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// Page size (0 = all).
    pub limit: usize,
    /// `continue` token of the previous page.
    pub continue_token: Option<String>,
}

/// One page of a list, as served JSON text.
#[derive(Debug)]
pub struct RawList {
    /// Items, each the JSON of one object at the requested version.
    pub items: Vec<String>,
    /// The list's resourceVersion.
    pub resource_version: String,
    /// Token for the next page.
    pub continue_token: Option<String>,
}

/// One page of a list, as served.
#[derive(Debug)]
pub struct ListResult {
    /// Items, presented at the requested version.
    pub items: Vec<Value>,
    /// The list's resourceVersion.
    pub resource_version: String,
    /// Token for the next page.
    pub continue_token: Option<String>,
}

/// Where a request addresses objects: a resource type at one of its versions, in a namespace.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The resource type.
    pub rt: Arc<ResourceType>,
    /// The requested version.
    pub version: String,
    /// Namespace ("" for cluster-scoped resources; `None` in a list means all namespaces).
    pub namespace: Option<String>,
}

impl Scope {
    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey {
            resource: self.rt.storage.clone(),
            namespace: self.namespace.clone().unwrap_or_default(),
            name: name.to_owned(),
        }
    }

    fn target<'a>(&'a self, name: &'a str) -> Target<'a> {
        Target { group: &self.rt.group, plural: &self.rt.plural, kind: &self.rt.kind, name }
    }

    fn present(&self, object: Value) -> Value {
        present(&self.rt, &self.version, object)
    }

    fn name_rule(&self) -> NameRule {
        match (self.rt.group.as_str(), self.rt.kind.as_str()) {
            ("", "Namespace") => NameRule::Label,
            ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
            _ => NameRule::Subdomain,
        }
    }
}

/// The API: store + registry, shared by HTTP handlers and the garbage collector.
#[derive(Debug, Clone)]
pub struct Api {
    /// The object store.
    pub store: Arc<Store>,
    /// Served resource types.
    pub registry: Registry,
}

/// Serves the CRDs `store` holds through `registry`.
fn load_crds(store: &Store, registry: &Registry) -> Result<(), StoreError> {
    let crds = store.list(CRD_STORAGE, None, None, 0, &|_| true)?;
    let crds: Vec<Value> =
        crds.items.iter().map(|t| serde_json::from_str(t)).collect::<Result<_, _>>()?;
    registry.set_crds(&crds);
    Ok(())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    ns: String,
    name: String,
}

impl Api {
    /// An API over `store`, serving the CRDs it holds: the registry is reloaded after every
    /// commit that writes a CRD, before that write is answered. One `Api` per store.
    pub fn new(store: Arc<Store>) -> Result<Self, StoreError> {
        let registry = Registry::default();
        load_crds(&store, &registry)?;
        let follower = registry.clone();
        let hooked = store.on_commit(move |store, events| {
            if events.iter().any(|e| e.resource == CRD_STORAGE)
                && let Err(e) = load_crds(store, &follower)
            {
                tracing::error!(error = %e, "cannot reload CRDs after a CRD write");
            }
        });
        assert!(hooked.is_ok(), "one Api per store");
        Ok(Api { store, registry })
    }

    /// Reads one object.
    pub fn get(&self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        match self.store.get(&scope.key(name))? {
            Some(object) => Ok(scope.present(object)),
            None => Err(ApiError::not_found(scope.target(name))),
        }
    }

    /// A name of `crd` that another served kind of its group already uses (kube-apiserver's
    /// naming controller): the reason and message of its `NamesAccepted=False`.
    fn name_conflict(&self, crd: &Value) -> Option<(&'static str, String)> {
        let (spec, names) = (&crd["spec"], &crd["spec"]["names"]);
        let name = |field: &str| names[field].as_str().unwrap_or_default().to_owned();
        let (kind, plural) = (name("kind"), name("plural"));
        let singular = Some(name("singular")).filter(|s| !s.is_empty());
        let storage = format!("{}/{plural}", spec["group"].as_str().unwrap_or_default());
        let catalog = self.registry.all();
        let others = catalog.iter().filter(|t| t.group == spec["group"] && t.storage != storage);
        for other in others {
            let taken = |n: &str| {
                n == other.plural || n == other.singular || other.short_names.iter().any(|s| s == n)
            };
            if other.kind == kind {
                return Some(("KindConflict", format!("{kind:?} is already in use")));
            }
            if taken(&plural) {
                return Some(("PluralConflict", format!("{plural:?} is already in use")));
            }
            if let Some(singular) = singular.as_deref().filter(|s| taken(s)) {
                return Some(("SingularConflict", format!("{singular:?} is already in use")));
            }
            if let Some(short) = string_list(&names["shortNames"]).into_iter().find(|s| taken(s)) {
                return Some(("ShortNamesConflict", format!("{short:?} is already in use")));
            }
        }
        None
    }

    /// The object's Scale (`/scale` subresource).
    pub fn get_scale(&self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        let paths = scale_paths(scope)?;
        Ok(scale::scale_of(&self.get(scope, name)?, paths))
    }

    /// Writes the object's Scale (a PUT's body, or a patch of the current Scale): only the
    /// desired replicas reach the object, under the Scale's resourceVersion when it has one.
    pub fn write_scale(
        &self,
        scope: &Scope,
        name: &str,
        write: Patch,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let paths = scale_paths(scope)?;
        let current = scale::scale_of(&self.get(scope, name)?, paths);
        let desired = match write {
            Patch::Json(ops) => {
                patch::json_patch(&current, &ops).map_err(|e| patch_error(scope, name, e))?
            }
            Patch::Merge(p) | Patch::Strategic(p) | Patch::Apply(p) => {
                let mut p = p;
                // A patch carries no precondition unless it sets one.
                if let Some(meta) = p.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.retain(|field, _| field == "resourceVersion");
                }
                let mut unpinned = current;
                unpinned["metadata"].as_object_mut().map(|m| m.remove("resourceVersion"));
                patch::merge_patch(unpinned, &p)
            }
        };
        let resource_patch = scale::resource_patch(&desired, paths)
            .map_err(|cause| ApiError::invalid(scope.target(name), vec![cause]))?;
        let (served, _) = self.patch(scope, name, Patch::Merge(resource_patch), opts)?;
        let updated: Value =
            serde_json::from_str(&served.into_text(false)).map_err(StoreError::from)?;
        Ok(scale::scale_of(&updated, paths))
    }

    /// Reads an object as served JSON text: the stored text passes through unparsed when nothing
    /// needs changing (see [`Api::list_raw`]).
    pub fn get_raw(&self, scope: &Scope, name: &str) -> Result<String, ApiError> {
        match self.store.get_text(&scope.key(name))? {
            Some(text) => self.present_raw(scope, text),
            None => Err(ApiError::not_found(scope.target(name))),
        }
    }

    /// Lists objects (one page when `limit` is set).
    pub fn list(&self, scope: &Scope, opts: &ListOptions) -> Result<ListResult, ApiError> {
        let raw = self.list_raw(scope, opts)?;
        let items = raw
            .items
            .iter()
            .map(|text| serde_json::from_str(text))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?;
        Ok(ListResult {
            items,
            resource_version: raw.resource_version,
            continue_token: raw.continue_token,
        })
    }

    /// Lists objects as served JSON text: stored rows pass through unparsed when nothing needs
    /// changing, which keeps large lists cheap in time and memory.
    pub fn list_raw(&self, scope: &Scope, opts: &ListOptions) -> Result<RawList, ApiError> {
        let unfiltered = opts.labels.is_empty() && opts.fields.is_empty();
        let keep = |text: &str| {
            if unfiltered {
                return true;
            }
            // Selectors see the served form (events.k8s.io field names, for instance).
            let Ok(object) = serde_json::from_str::<Value>(text) else { return false };
            let object = scope.present(object);
            opts.labels.matches(&object) && opts.fields.matches(&object)
        };
        // `kubectl wait`/`delete` watch one object by name: read it instead of scanning. The
        // resourceVersion is taken first, so a watch from it cannot miss a later write.
        if let (Some(name), Some(_), None) =
            (opts.fields.name(), &scope.namespace, &opts.continue_token)
        {
            let rv = self.store.current_rv();
            let items = match self.store.get(&scope.key(name))? {
                Some(object) => {
                    let text = serde_json::to_string(&object).map_err(StoreError::from)?;
                    if keep(&text) { vec![self.present_raw(scope, text)?] } else { Vec::new() }
                }
                None => Vec::new(),
            };
            return Ok(RawList { items, resource_version: rv.to_string(), continue_token: None });
        }
        let after = match &opts.continue_token {
            Some(token) => Some(decode_continue(token)?),
            None => None,
        };
        let page = self.store.list(
            &scope.rt.storage,
            scope.namespace.as_deref(),
            after.as_ref().map(|t| (t.ns.as_str(), t.name.as_str())),
            opts.limit,
            &keep,
        )?;
        // Later pages report the first page's resourceVersion: a watch from it then replays
        // every change made while paging.
        let rv = after.map_or(page.rv, |t| t.rv);
        let continue_token = page.next.map(|(ns, name)| {
            URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&ContinueToken { rv, ns, name }).unwrap_or_default())
        });
        let items =
            page.items.into_iter().map(|t| self.present_raw(scope, t)).collect::<Result<_, _>>()?;
        Ok(RawList { items, resource_version: rv.to_string(), continue_token })
    }

    /// A stored row as served: unchanged when [`served_as_stored`], else parsed and presented.
    fn present_raw(&self, scope: &Scope, text: String) -> Result<String, ApiError> {
        if served_as_stored(scope, &text) {
            return Ok(text);
        }
        let object: Value = serde_json::from_str(&text).map_err(StoreError::from)?;
        Ok(serde_json::to_string(&scope.present(object)).map_err(StoreError::from)?)
    }

    /// Creates an object (POST).
    pub fn create(
        &self,
        scope: &Scope,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Served, ApiError> {
        let mut object = self.prepare_create(scope, body.clone())?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        ssa::record_update_with(
            None,
            &mut object,
            &opts.manager,
            &meta::now(),
            ssa_options(scope, opts),
        );
        self.finish_create(scope, &name, &body, object, opts)
    }

    /// Replaces an object (PUT), optimistic on `metadata.resourceVersion`.
    pub fn update(
        &self,
        scope: &Scope,
        name: &str,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.check_body_identity(scope, name, &body)?;
        let sent_rv = body["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned();
        if sent_rv.is_empty() && scope.rt.custom {
            return Err(ApiError::invalid(
                scope.target(name),
                vec![Cause {
                    reason: "FieldValueInvalid".into(),
                    message: "Invalid value: 0x0: must be specified for an update".into(),
                    field: "metadata.resourceVersion".into(),
                }],
            ));
        }
        let strict_body = body.clone();
        let outcome = self.store.mutate(&scope.key(name), |old| {
            let old = old.ok_or_else(|| ApiError::not_found(scope.target(name)))?;
            if !sent_rv.is_empty() && old["metadata"]["resourceVersion"].as_str() != Some(&sent_rv)
            {
                return Err(ApiError::stale(scope.target(name)));
            }
            self.finish_update(
                scope,
                name,
                old,
                to_storage(&scope.rt, &scope.version, body),
                opts,
                true,
                &strict_body,
            )
        })?;
        self.after_write(scope, outcome)
    }

    /// Patches an object; a server-side apply creates it when absent. Returns the object as
    /// served and whether it was created.
    pub fn patch(
        &self,
        scope: &Scope,
        name: &str,
        mut patch: Patch,
        opts: &WriteOptions,
    ) -> Result<(Served, bool), ApiError> {
        if let Patch::Apply(applied) = &mut patch {
            // kube-rs status applies send only apiVersion, kind and status: the name (and
            // namespace) come from the URL, as kube-apiserver allows.
            if applied.is_object() && applied["metadata"]["name"].as_str().is_none() {
                applied["metadata"]["name"] = Value::String(name.to_owned());
            }
            if scope.rt.namespaced
                && applied["metadata"]["namespace"].as_str().is_none()
                && let Some(ns) = &scope.namespace
            {
                applied["metadata"]["namespace"] = Value::String(ns.clone());
            }
            self.check_apply_body(scope, name, applied, opts)?;
        }
        let mut created = false;
        let outcome = self.store.mutate(&scope.key(name), |old| {
            let now = meta::now();
            let Some(old) = old else {
                let Patch::Apply(applied) = &patch else {
                    return Err(ApiError::not_found(scope.target(name)));
                };
                let result =
                    ssa::apply_with(None, applied, &opts.manager, &now, ssa_options(scope, opts))
                        .map_err(|e| apply_error(scope, name, e))?;
                let object = self.prepare_create(scope, result)?;
                created = true;
                return self.decide_create(scope, name, applied, object, opts);
            };
            let live = scope.present(old.clone());
            let (desired, record, strict_body) = match &patch {
                Patch::Json(ops) => (
                    patch::json_patch(&live, ops).map_err(|e| patch_error(scope, name, e))?,
                    true,
                    &Value::Null,
                ),
                Patch::Merge(p) => (patch::merge_patch(live, p), true, p),
                Patch::Strategic(p) => {
                    let kind = (!scope.rt.custom)
                        .then(|| (scope.rt.group.as_str(), scope.rt.kind.as_str()));
                    (
                        patch::strategic_merge_patch(&live, p, kind)
                            .map_err(|e| patch_error(scope, name, e))?,
                        true,
                        p,
                    )
                }
                Patch::Apply(applied) => {
                    let options = ssa_options(scope, opts);
                    let result =
                        ssa::apply_with(Some(&live), applied, &opts.manager, &now, options)
                            .map_err(|e| apply_error(scope, name, e))?;
                    (result, false, applied)
                }
            };
            let desired = to_storage(&scope.rt, &scope.version, desired);
            self.finish_update(scope, name, old, desired, opts, record, strict_body)
        })?;
        Ok((self.after_write_raw(scope, outcome)?, created))
    }

    /// Deletes an object: at once, or by marking it deleting while finalizers remain.
    pub fn delete(
        &self,
        scope: &Scope,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        if scope.rt.storage == NAMESPACE_STORAGE && PROTECTED_NAMESPACES.contains(&name) {
            return Err(ApiError {
                details: Some(json!({"name": name, "kind": scope.rt.plural})),
                ..ApiError::new(
                    403,
                    "Forbidden",
                    format!(
                        "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                    ),
                )
            });
        }
        let outcome = self.store.mutate(&scope.key(name), |old| {
            let mut object = old.ok_or_else(|| ApiError::not_found(scope.target(name)))?;
            let meta = &object["metadata"];
            if opts.uid.as_deref().is_some_and(|uid| meta["uid"].as_str() != Some(uid)) {
                return Err(ApiError::conflict(scope.target(name), "Precondition failed: UID in precondition does not match the UID in record"));
            }
            if opts.resource_version.as_deref().is_some_and(|rv| meta["resourceVersion"].as_str() != Some(rv)) {
                return Err(ApiError::conflict(scope.target(name), "Precondition failed: ResourceVersion in precondition does not match the ResourceVersion in record"));
            }
            let deleting = !meta["deletionTimestamp"].is_null();
            let policy_finalizer = match opts.propagation {
                Propagation::Foreground => Some(FOREGROUND_FINALIZER),
                Propagation::Orphan => Some(ORPHAN_FINALIZER),
                Propagation::Background => None,
            };
            let is_namespace = scope.rt.storage == NAMESPACE_STORAGE;
            let is_crd = scope.rt.storage == CRD_STORAGE;
            let mut finalizers = string_list(&object["metadata"]["finalizers"]);
            if !deleting {
                if let Some(f) = policy_finalizer.filter(|f| !finalizers.iter().any(|x| x == f)) {
                    finalizers.push(f.to_owned());
                }
                if is_crd && !finalizers.iter().any(|x| x == CRD_CLEANUP_FINALIZER) {
                    finalizers.push(CRD_CLEANUP_FINALIZER.to_owned());
                }
            }
            let namespace_pending = is_namespace && !string_list(&object["spec"]["finalizers"]).is_empty();
            if finalizers.is_empty() && !namespace_pending {
                return Ok(if opts.dry_run { Write::Unchanged(object) } else { Write::Delete(object) });
            }
            if deleting {
                return Ok(Write::Unchanged(object));
            }
            let metadata = &mut object["metadata"];
            metadata["finalizers"] = json!(finalizers);
            metadata["deletionTimestamp"] = Value::String(meta::now());
            metadata["deletionGracePeriodSeconds"] = json!(0);
            if is_namespace {
                object["status"]["phase"] = Value::String("Terminating".into());
            }
            Ok(if opts.dry_run { Write::Unchanged(object) } else { Write::Put(object) })
        })?;
        self.after_write(scope, outcome)
    }

    /// Deletes every object a list with `list` selects; returns the deleted (or deleting) objects.
    pub fn delete_collection(
        &self,
        scope: &Scope,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Value>, ApiError> {
        let all = ListOptions { limit: 0, continue_token: None, ..list.clone() };
        let mut deleted = Vec::new();
        for object in self.list(scope, &all)?.items {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let ns = object["metadata"]["namespace"].as_str().map(str::to_owned);
            let one = Scope { namespace: ns.or_else(|| scope.namespace.clone()), ..scope.clone() };
            match self.delete(&one, name, opts) {
                Ok(object) => deleted.push(object),
                // Gone meanwhile, or a namespace that is never deleted.
                Err(e) if e.code == 404 || e.code == 403 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// Removes `finalizer` from `metadata.finalizers` (or a Namespace's `spec.finalizers`),
    /// deleting the object when it was the last one. Used by garbage collection.
    pub fn remove_finalizer(
        &self,
        key: &ObjectKey,
        finalizer: &str,
        in_spec: bool,
    ) -> Result<(), ApiError> {
        self.store.mutate::<ApiError>(key, |old| {
            let Some(mut object) = old else { return Ok(Write::Unchanged(Value::Null)) };
            let field = if in_spec {
                &mut object["spec"]["finalizers"]
            } else {
                &mut object["metadata"]["finalizers"]
            };
            let before = string_list(field);
            let after: Vec<String> = before.iter().filter(|f| *f != finalizer).cloned().collect();
            if after.len() == before.len() {
                return Ok(Write::Unchanged(object));
            }
            *field = json!(after);
            Ok(finish_deletion(object))
        })?;
        Ok(())
    }

    /// Removes the owner reference to `owner_uid` from the object at `key` (Orphan deletion).
    pub fn remove_owner(&self, key: &ObjectKey, owner_uid: &str) -> Result<(), ApiError> {
        self.store.mutate::<ApiError>(key, |old| {
            let Some(mut object) = old else { return Ok(Write::Unchanged(Value::Null)) };
            let Some(owners) = object["metadata"]["ownerReferences"].as_array_mut() else {
                return Ok(Write::Unchanged(object));
            };
            owners.retain(|o| o["uid"].as_str() != Some(owner_uid));
            if owners.is_empty()
                && let Some(meta) = object["metadata"].as_object_mut()
            {
                meta.remove("ownerReferences");
            }
            Ok(Write::Put(object))
        })?;
        Ok(())
    }

    /// Deletes the stored object at `key` (Background policy). Used by garbage collection.
    pub fn delete_key(&self, key: &ObjectKey) -> Result<(), ApiError> {
        let Some(rt) = self.registry.by_storage(&key.resource) else {
            // Its type is no longer served (CRD gone): nothing can hold it back.
            self.store.mutate::<ApiError>(key, |old| {
                Ok(old.map_or(Write::Unchanged(Value::Null), Write::Delete))
            })?;
            return Ok(());
        };
        let version = rt.preferred().to_owned();
        let scope = Scope { rt, version, namespace: Some(key.namespace.clone()) };
        match self.delete(&scope, &key.name, &DeleteOptions::default()) {
            Err(e) if e.code != 404 => Err(e),
            _ => Ok(()),
        }
    }

    fn check_body_identity(&self, scope: &Scope, name: &str, body: &Value) -> Result<(), ApiError> {
        if let Some(kind) = body["kind"].as_str()
            && kind != scope.rt.kind
        {
            return Err(ApiError::bad_request(format!(
                "the kind of the object ({kind}) does not match the resource ({})",
                scope.rt.kind
            )));
        }
        if let Some(sent) = body["metadata"]["name"].as_str()
            && sent != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({sent}) does not match the name on the URL ({name})"
            )));
        }
        if let (Some(sent), Some(ns)) =
            (body["metadata"]["namespace"].as_str(), scope.namespace.as_deref())
            && scope.rt.namespaced
            && !sent.is_empty()
            && sent != ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        Ok(())
    }

    fn check_apply_body(
        &self,
        scope: &Scope,
        name: &str,
        applied: &Value,
        opts: &WriteOptions,
    ) -> Result<(), ApiError> {
        if opts.manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml requires fieldManager to be set",
            ));
        }
        if applied["apiVersion"].as_str().is_none() || applied["kind"].as_str().is_none() {
            return Err(ApiError::bad_request(
                "apiVersion and kind must be set in an applied configuration",
            ));
        }
        self.check_body_identity(scope, name, applied)
    }

    /// Server-set fields of a new object, name checks, and the kind-specific initial state.
    fn prepare_create(&self, scope: &Scope, body: Value) -> Result<Value, ApiError> {
        let mut object = to_storage(&scope.rt, &scope.version, body);
        if !object.is_object() || !object["metadata"].is_object() && !object["metadata"].is_null() {
            return Err(ApiError::bad_request(
                "the body must be a JSON object with an object metadata",
            ));
        }
        let sent_kind = object["kind"].as_str().unwrap_or(&scope.rt.kind).to_owned();
        if sent_kind != scope.rt.kind {
            return Err(ApiError::bad_request(format!(
                "the kind of the object ({sent_kind}) does not match the resource ({})",
                scope.rt.kind
            )));
        }
        object["kind"] = Value::String(scope.rt.kind.clone());
        let namespace = scope.namespace.clone().unwrap_or_default();
        let metadata = object["metadata"].as_object_mut().map(std::mem::take).unwrap_or_default();
        let mut metadata = Value::Object(metadata);
        if scope.rt.namespaced {
            if metadata["namespace"].as_str().is_some_and(|ns| !ns.is_empty() && ns != namespace) {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            metadata["namespace"] = Value::String(namespace);
        } else if let Some(m) = metadata.as_object_mut() {
            m.remove("namespace");
        }
        if metadata["name"].as_str().unwrap_or_default().is_empty()
            && let Some(prefix) = metadata["generateName"].as_str().filter(|p| !p.is_empty())
        {
            metadata["name"] = Value::String(meta::generate_name(prefix));
        }
        let name = metadata["name"].as_str().unwrap_or_default().to_owned();
        let causes = meta::validate_name(&name, scope.name_rule());
        if !causes.is_empty() {
            return Err(ApiError::invalid(scope.target(&name), causes));
        }
        if let Some(m) = metadata.as_object_mut() {
            for server_set in
                ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"]
            {
                m.remove(server_set);
            }
        }
        metadata["uid"] = Value::String(meta::new_uid());
        metadata["creationTimestamp"] = Value::String(meta::now());
        metadata["generation"] = json!(1);
        object["metadata"] = metadata;
        if scope.rt.status
            && let Some(m) = object.as_object_mut()
        {
            m.remove("status");
        }
        if scope.rt.storage == NAMESPACE_STORAGE {
            object["metadata"]["labels"][NAMESPACE_NAME_LABEL] = Value::String(name.clone());
            object["spec"]["finalizers"] = json!([NAMESPACE_FINALIZER]);
            object["status"] = json!({"phase": "Active"});
        }
        Ok(object)
    }

    fn finish_create(
        &self,
        scope: &Scope,
        name: &str,
        body: &Value,
        object: Value,
        opts: &WriteOptions,
    ) -> Result<Served, ApiError> {
        let outcome = self.store.mutate(&scope.key(name), |old| {
            if old.is_some() {
                return Err(ApiError::already_exists(scope.target(name)));
            }
            self.decide_create(scope, name, body, object, opts)
        })?;
        self.after_write_raw(scope, outcome)
    }

    /// Checks the namespace, validates, and settles a new object (called under the write lock).
    fn decide_create(
        &self,
        scope: &Scope,
        name: &str,
        body: &Value,
        mut object: Value,
        opts: &WriteOptions,
    ) -> Result<Write, ApiError> {
        if scope.rt.namespaced {
            self.check_namespace_accepts(scope.namespace.as_deref().unwrap_or_default())?;
        }
        self.validate(scope, name, &mut object, None, body, opts)?;
        if scope.rt.storage == CRD_STORAGE {
            let conflict = self.name_conflict(&object);
            accept_crd(&mut object, None, conflict);
        }
        Ok(if opts.dry_run { Write::Unchanged(scope_dry_run(object)) } else { Write::Put(object) })
    }

    fn check_namespace_accepts(&self, namespace: &str) -> Result<(), ApiError> {
        let key = ObjectKey {
            resource: NAMESPACE_STORAGE.into(),
            namespace: String::new(),
            name: namespace.into(),
        };
        match self.store.get(&key)? {
            None => Err(ApiError::not_found(Target {
                group: "",
                plural: "namespaces",
                kind: "Namespace",
                name: namespace,
            })),
            Some(ns) if !ns["metadata"]["deletionTimestamp"].is_null() => Err(ApiError {
                details: Some(json!({"name": namespace, "kind": "namespaces"})),
                ..ApiError::new(
                    403,
                    "Forbidden",
                    format!(
                        "unable to create new content in namespace {namespace} because it is being terminated"
                    ),
                )
            }),
            Some(_) => Ok(()),
        }
    }

    /// Applies the update rules to `desired` against `old` (both stored form) and decides the write.
    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &self,
        scope: &Scope,
        name: &str,
        old: Value,
        mut desired: Value,
        opts: &WriteOptions,
        record: bool,
        strict_body: &Value,
    ) -> Result<Write, ApiError> {
        let rt = &scope.rt;
        if !desired.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        desired["kind"] = Value::String(rt.kind.clone());
        // Identity and server-maintained metadata cannot be changed by writes.
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old["metadata"].get(field) {
                Some(v) => desired["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = desired["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        let status_write = opts.subresource.as_deref() == Some("status");
        if opts.subresource.as_deref() == Some("finalize") {
            // `namespaces/{name}/finalize` changes only `spec.finalizers`: the escape hatch for a
            // namespace stuck terminating.
            let finalizers = desired["spec"]["finalizers"].clone();
            desired = old.clone();
            desired["spec"]["finalizers"] =
                if finalizers.is_null() { json!([]) } else { finalizers };
        } else if rt.status {
            if status_write {
                // The stored object with the written status: the old status is not copied.
                let mut merged: Value = old
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(field, _)| *field != "status")
                    .map(|(field, value)| (field.clone(), value.clone()))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                merged["metadata"]["managedFields"] = desired
                    .pointer_mut("/metadata/managedFields")
                    .map(Value::take)
                    .unwrap_or_default();
                if let Some(status) = desired.get_mut("status").map(Value::take)
                    && !status.is_null()
                {
                    merged["status"] = status;
                }
                desired = merged;
            } else {
                match old.get("status") {
                    Some(s) => desired["status"] = s.clone(),
                    None => {
                        if let Some(m) = desired.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
        }
        if rt.storage == NAMESPACE_STORAGE {
            desired["metadata"]["labels"][NAMESPACE_NAME_LABEL] = Value::String(name.to_owned());
            if !old["metadata"]["deletionTimestamp"].is_null() {
                desired["status"]["phase"] = Value::String("Terminating".into());
            }
        }
        if !old["metadata"]["deletionTimestamp"].is_null() {
            let before = string_list(&old["metadata"]["finalizers"]);
            let added: Vec<String> = string_list(&desired["metadata"]["finalizers"])
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(ApiError::invalid(
                    scope.target(name),
                    vec![Cause {
                        reason: "FieldValueForbidden".into(),
                        message: format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                        ),
                        field: "metadata.finalizers".into(),
                    }],
                ));
            }
        }
        self.validate(scope, name, &mut desired, Some(&old), strict_body, opts)?;
        if rt.storage == CRD_STORAGE {
            let conflict = self.name_conflict(&desired);
            accept_crd(&mut desired, Some(&old), conflict);
        }
        if meta::spec_changed(&old, &desired, rt.status) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
            desired["metadata"]["generation"] = json!(generation + 1);
        }
        // A resourceVersion set by the patch is a precondition, as in kube-apiserver: clients
        // bind or add finalizers optimistically with it.
        let sent_rv = desired["metadata"]["resourceVersion"].as_str().unwrap_or_default();
        if !sent_rv.is_empty() && old["metadata"]["resourceVersion"].as_str() != Some(sent_rv) {
            return Err(ApiError::stale(scope.target(name)));
        }
        desired["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        // A write that changes only managedFields is a write (kubectl's migration from
        // client-side to server-side apply is one); one that leaves them out, or sends an empty
        // list, keeps them.
        let sent_managed_fields = &desired["metadata"]["managedFields"];
        let left_out = sent_managed_fields.is_null()
            || sent_managed_fields.as_array().is_some_and(Vec::is_empty);
        let managed_fields_kept =
            (record && left_out) || old["metadata"]["managedFields"] == *sent_managed_fields;
        if meta::same_content(&old, &desired) && managed_fields_kept {
            return Ok(Write::Unchanged(old));
        }
        if record {
            let now = meta::now();
            ssa::record_update_with(
                Some(&old),
                &mut desired,
                &opts.manager,
                &now,
                ssa_options(scope, opts),
            );
        }
        if opts.dry_run {
            return Ok(Write::Unchanged(desired));
        }
        Ok(finish_deletion(desired))
    }

    /// Schema validation (defaulting, pruning) of custom resources, strict field checks, and the
    /// CRD's own schema check. An update passes the stored object as `old` (ratcheting).
    fn validate(
        &self,
        scope: &Scope,
        name: &str,
        object: &mut Value,
        old: Option<&Value>,
        body: &Value,
        opts: &WriteOptions,
    ) -> Result<(), ApiError> {
        let rt = &scope.rt;
        let causes = meta::validate_metadata(&object["metadata"]);
        if !causes.is_empty() {
            return Err(ApiError::invalid(scope.target(name), causes));
        }
        if rt.storage == CRD_STORAGE {
            return validate_crd(scope, name, object);
        }
        if !rt.custom {
            typed::apply_defaults(&rt.storage, object);
            let mut refused = old
                .map(|old| typed::immutable_changes(&rt.storage, old, object))
                .unwrap_or_default();
            refused.extend(typed::too_large(&rt.storage, object));
            if !refused.is_empty() {
                let causes = refused
                    .into_iter()
                    .map(|(field, message)| Cause {
                        reason: "FieldValueInvalid".into(),
                        message,
                        field,
                    })
                    .collect();
                return Err(ApiError::invalid(scope.target(name), causes));
            }
            return match typed::unknown_fields(&rt.storage, object) {
                None => Ok(()),
                Some(Err(e)) => Err(ApiError::bad_request(format!(
                    "{kind} in version \"{version}\" cannot be handled as a {kind}: {field}{sep}{message}",
                    kind = rt.kind,
                    version = scope.version,
                    field = e.field,
                    sep = if e.field.is_empty() { "" } else { ": " },
                    message = e.message,
                ))),
                Some(Ok(unknown)) if unknown.is_empty() => Ok(()),
                Some(Ok(unknown)) if opts.validation == FieldValidation::Strict => {
                    Err(strict_decoding_error(&unknown))
                }
                Some(Ok(unknown)) => {
                    typed::prune(object, &unknown);
                    Ok(())
                }
            };
        }
        let Some(schema) = rt.schemas.get(&scope.version).filter(|s| s.is_object()) else {
            return Ok(());
        };
        let served_api_version = object["apiVersion"].clone();
        if let Err(errors) = schema::validate(schema, object, old) {
            let causes = errors
                .into_iter()
                .map(|e| Cause { reason: e.reason.into(), message: e.message, field: e.field })
                .collect();
            return Err(ApiError::invalid(scope.target(name), causes));
        }
        object["apiVersion"] = served_api_version;
        if opts.validation == FieldValidation::Strict {
            let top_level = ["apiVersion", "kind", "metadata", "status"];
            let unknown = schema::dropped_paths(body, object, &top_level, false);
            if !unknown.is_empty() {
                return Err(strict_decoding_error(&unknown));
            }
        }
        Ok(())
    }

    /// The stored object as served.
    fn after_write(&self, scope: &Scope, outcome: Outcome) -> Result<Value, ApiError> {
        Ok(scope.present(outcome.object))
    }

    /// [`Api::after_write`] as served JSON text: the text just stored when it can be served as
    /// it is, so the object is not serialized a second time.
    fn after_write_raw(&self, scope: &Scope, mut outcome: Outcome) -> Result<Served, ApiError> {
        match outcome.written.take() {
            Some(event) if served_as_stored(scope, &event.object) => Ok(Served::Stored(event)),
            Some(event) => Ok(Served::Text(self.present_raw(scope, event.object.to_string())?)),
            None => Ok(Served::Text(
                serde_json::to_string(&self.after_write(scope, outcome)?)
                    .map_err(StoreError::from)?,
            )),
        }
    }
}

/// Whether stored `text` is served as it is: it already carries the served apiVersion (stored
/// JSON has sorted keys, so `apiVersion` leads).
fn served_as_stored(scope: &Scope, text: &str) -> bool {
    let api_version = scope.rt.api_version(&scope.version);
    let prefix = format!("{{\"apiVersion\":{}", Value::String(api_version));
    scope.rt.shape == Shape::Plain && text.starts_with(&prefix)
}

/// An object as served, as JSON text.
#[derive(Debug)]
pub enum Served {
    /// Exactly as just stored: the write's event, so that the text without managedFields is
    /// made once for both the writer's answer and every watcher in this process.
    Stored(Arc<Event>),
    /// Made for this answer: presented in another version, or serialized.
    Text(String),
}

impl Served {
    /// The text, without managedFields when `lean`.
    pub fn into_text(self, lean: bool) -> String {
        match self {
            Served::Stored(event) if lean => event.lean_object().to_string(),
            Served::Stored(event) => event.object.to_string(),
            Served::Text(text) if lean => without_managed_fields(&text).unwrap_or(text),
            Served::Text(text) => text,
        }
    }
}

/// Where the resource's Scale lives; 404 for a kind without one.
fn scale_paths(scope: &Scope) -> Result<&scale::ScalePaths, ApiError> {
    scope.rt.scale.get(&scope.version).ok_or_else(|| {
        ApiError::new(404, "NotFound", "the server could not find the requested resource")
    })
}

/// What field ownership needs to know of the resource: how its lists merge (the CRD
/// version's `x-kubernetes-list-type` markers) and whether it has a status subresource.
fn ssa_options<'a>(scope: &'a Scope, opts: &'a WriteOptions) -> ssa::Options<'a> {
    ssa::Options {
        subresource: opts.subresource.as_deref(),
        force: opts.force,
        schema: scope.rt.schemas.get(&scope.version),
        status_subresource: scope.rt.status,
    }
}

/// Whether a CRD is `Established=True`.
fn established(crd: &Value) -> bool {
    crd["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
}

/// A dry-run object has no resourceVersion yet.
fn scope_dry_run(mut object: Value) -> Value {
    if let Some(m) = object["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    object
}

/// A deleting object whose last finalizer is gone is deleted by this write.
fn finish_deletion(object: Value) -> Write {
    let meta = &object["metadata"];
    let done = !meta["deletionTimestamp"].is_null()
        && string_list(&meta["finalizers"]).is_empty()
        && string_list(&object["spec"]["finalizers"]).is_empty();
    if done { Write::Delete(object) } else { Write::Put(object) }
}

/// A JSON array of strings as a `Vec` (absent or malformed ⇒ empty).
pub fn string_list(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
}

/// `fieldValidation=Strict`'s refusal of fields the kind does not have.
fn strict_decoding_error(unknown: &[String]) -> ApiError {
    let list: Vec<String> = unknown.iter().map(|f| format!("unknown field {f:?}")).collect();
    ApiError::bad_request(format!("strict decoding error: {}", list.join(", ")))
}

fn patch_error(scope: &Scope, name: &str, e: PatchError) -> ApiError {
    match e {
        // As kube-apiserver reports it: an invalid `patch` field, so kubectl prints why.
        PatchError::Invalid(message) => ApiError::invalid(
            scope.target(name),
            vec![Cause { reason: "FieldValueInvalid".into(), message, field: "patch".into() }],
        ),
        PatchError::UnsupportedMediaType(message) => {
            ApiError::new(415, "UnsupportedMediaType", message)
        }
    }
}

fn apply_error(scope: &Scope, name: &str, e: ApplyError) -> ApiError {
    match e {
        ApplyError::Invalid(message) => ApiError::bad_request(message),
        ApplyError::Conflicts(conflicts) => {
            let n = conflicts.len();
            let lines: Vec<String> = conflicts
                .iter()
                .map(|c| format!("conflict with {:?}: {}", c.manager, c.field))
                .collect();
            let message = if n == 1 {
                format!("Apply failed with 1 conflict: {}", lines[0])
            } else {
                format!("Apply failed with {n} conflicts: {}", lines.join("\n"))
            };
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| json!({"type": "FieldManagerConflict", "message": format!("conflict with {:?}", c.manager), "field": c.field}))
                .collect();
            ApiError {
                details: Some(
                    json!({"name": name, "group": scope.rt.group, "kind": scope.rt.plural, "causes": causes}),
                ),
                ..ApiError::new(409, "Conflict", message)
            }
        }
    }
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::bad_request("invalid continue token"))
}

/// A CRD's own checks: name, names, versions, structural schemas.
fn validate_crd(scope: &Scope, name: &str, crd: &Value) -> Result<(), ApiError> {
    let spec = &crd["spec"];
    let mut causes = Vec::new();
    let mut cause = |field: &str, reason: &str, message: String| {
        causes.push(Cause { reason: reason.into(), message, field: field.into() })
    };
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    if group.is_empty() {
        cause("spec.group", "FieldValueRequired", "Required value".into());
    }
    if plural.is_empty() {
        cause("spec.names.plural", "FieldValueRequired", "Required value".into());
    }
    if spec["names"]["kind"].as_str().unwrap_or_default().is_empty() {
        cause("spec.names.kind", "FieldValueRequired", "Required value".into());
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        cause(
            "metadata.name",
            "FieldValueInvalid",
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        );
    }
    if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
        cause(
            "spec.scope",
            "FieldValueNotSupported",
            "Unsupported value: supported values: \"Cluster\", \"Namespaced\"".into(),
        );
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        cause(
            "spec.versions",
            "FieldValueRequired",
            "Required value: must have at least one version".into(),
        );
    }
    if versions.iter().filter(|v| v["storage"].as_bool() == Some(true)).count() != 1
        && !versions.is_empty()
    {
        cause(
            "spec.versions",
            "FieldValueInvalid",
            "Invalid value: must have exactly one version marked as storage version".into(),
        );
    }
    for (i, v) in versions.iter().enumerate() {
        let schema = &v["schema"]["openAPIV3Schema"];
        if schema.is_null() {
            cause(
                &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "FieldValueRequired",
                "Required value: schemas are required".into(),
            );
            continue;
        }
        if let Err(errors) = schema::check_structural(schema) {
            for e in errors {
                // The error's path starts at `openAPIV3Schema`.
                cause(&format!("spec.versions[{i}].schema.{}", e.field), e.reason, e.message);
            }
        }
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid(scope.target(name), causes)) }
}

/// Marks a CRD's names accepted and the CRD established, as kube-apiserver's controllers do.
fn accept_crd(crd: &mut Value, old: Option<&Value>, conflict: Option<(&str, String)>) {
    let now = meta::now();
    let since = |kind: &str| {
        old.and_then(|o| o["status"]["conditions"].as_array())
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_owned))
            .unwrap_or_else(|| now.clone())
    };
    let mut stored = old.map(|o| string_list(&o["status"]["storedVersions"])).unwrap_or_default();
    for v in crd["spec"]["versions"].as_array().into_iter().flatten() {
        if v["storage"].as_bool() == Some(true)
            && let Some(name) = v["name"].as_str()
            && !stored.iter().any(|s| s == name)
        {
            stored.push(name.to_owned());
        }
    }
    let mut finalizers = string_list(&crd["metadata"]["finalizers"]);
    if crd["metadata"]["deletionTimestamp"].is_null()
        && !finalizers.iter().any(|f| f == CRD_CLEANUP_FINALIZER)
    {
        finalizers.push(CRD_CLEANUP_FINALIZER.to_owned());
        crd["metadata"]["finalizers"] = json!(finalizers);
    }
    let mut accepted = crd["spec"]["names"].clone();
    if accepted["singular"].is_null() {
        accepted["singular"] = json!(accepted["kind"].as_str().unwrap_or_default().to_lowercase());
    }
    if accepted["listKind"].is_null() {
        accepted["listKind"] =
            json!(format!("{}List", accepted["kind"].as_str().unwrap_or_default()));
    }
    let was_established = old.is_some_and(established);
    let (names_accepted, established_condition) = match conflict {
        None => (
            json!({"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"}),
            json!({"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}),
        ),
        // A conflicting update keeps serving the names accepted before; a new CRD is not served.
        Some((reason, message)) => {
            accepted = old.map(|o| o["status"]["acceptedNames"].clone()).unwrap_or(json!({}));
            let established_condition = match was_established {
                true => {
                    json!({"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"})
                }
                false => {
                    json!({"type": "Established", "status": "False", "reason": "NotAccepted", "message": "not all names are accepted"})
                }
            };
            (
                json!({"type": "NamesAccepted", "status": "False", "reason": reason, "message": message}),
                established_condition,
            )
        }
    };
    let mut conditions = [names_accepted, established_condition];
    for condition in &mut conditions {
        let kind = condition["type"].as_str().unwrap_or_default().to_owned();
        let unchanged = old
            .and_then(|o| o["status"]["conditions"].as_array())
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind.as_str()))
            .is_some_and(|c| c["status"] == condition["status"]);
        condition["lastTransitionTime"] = json!(if unchanged { since(&kind) } else { now.clone() });
    }
    crd["status"] = json!({
        "acceptedNames": accepted,
        "storedVersions": stored,
        "conditions": conditions,
    });
}
