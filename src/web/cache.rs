//! Watch caches the pages read from: one kube-runtime reflector store per kind, so a page
//! never lists from the API server. Tests fill the stores through the [`CacheWriters`] and
//! [`Caches::add_kind`] writers instead of watching.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::composition::xrd::crds_for;
use crate::composition::{CompositeResourceDefinition, Composition};
use crate::gitops::api::{GitRepository, Kustomization};

/// How long a first page waits for the caches to be listed.
pub const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a dynamically typed kind is to the dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// A namespaced claim of an XRD.
    Claim,
    /// A cluster-scoped composite (XR).
    Composite,
    /// A managed resource of a provider.
    Managed,
}

impl Role {
    /// Lower-case name used in filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Claim => "claim",
            Role::Composite => "composite",
            Role::Managed => "managed",
        }
    }
}

/// The cache of one dynamically typed kind.
#[derive(Clone, Debug)]
pub struct KindCache {
    /// Claim, composite or managed.
    pub role: Role,
    /// Group, version, kind and plural.
    pub resource: ApiResource,
    /// The objects.
    pub store: Store<DynamicObject>,
}

/// Every cache the dashboard reads.
#[derive(Debug)]
pub struct Caches {
    /// Flux GitRepositories.
    pub git_repositories: Store<GitRepository>,
    /// Flux Kustomizations.
    pub kustomizations: Store<Kustomization>,
    /// XRDs; claimable ones are the portal's templates.
    pub xrds: Store<CompositeResourceDefinition>,
    /// Compositions, to render what a composite's resources should be.
    pub compositions: Store<Composition>,
    /// Secrets, for connection secret key names. Values are never rendered.
    pub secrets: Store<Secret>,
    /// `events.k8s.io/v1` Events, for recent events of an object.
    pub events: Store<Event>,
    kinds: RwLock<Vec<KindCache>>,
    changed: watch::Sender<u64>,
    watching: std::sync::Mutex<Watching>,
}

/// Whether the caches watch the API server (see [`Caches::watch_on_first_use`]).
#[derive(Default)]
enum Watching {
    /// Filled by whoever holds the writers (tests).
    #[default]
    Manually,
    /// To watch through this client once a page is first asked for.
    OnFirstUse(Client, Box<CacheWriters>),
    /// Watching.
    Started,
}

/// The writing halves of [`Caches`]' fixed stores.
#[derive(Debug)]
pub struct CacheWriters {
    /// Writes [`Caches::git_repositories`].
    pub git_repositories: Writer<GitRepository>,
    /// Writes [`Caches::kustomizations`].
    pub kustomizations: Writer<Kustomization>,
    /// Writes [`Caches::xrds`].
    pub xrds: Writer<CompositeResourceDefinition>,
    /// Writes [`Caches::compositions`].
    pub compositions: Writer<Composition>,
    /// Writes [`Caches::secrets`].
    pub secrets: Writer<Secret>,
    /// Writes [`Caches::events`].
    pub events: Writer<Event>,
}

impl Debug for Watching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Watching::Manually => "Manually",
            Watching::OnFirstUse(..) => "OnFirstUse",
            Watching::Started => "Started",
        })
    }
}

impl Caches {
    /// Empty caches and their writers.
    pub fn new() -> (Self, CacheWriters) {
        let (git_repositories, gw) = reflector::store();
        let (kustomizations, kw) = reflector::store();
        let (xrds, xw) = reflector::store();
        let (compositions, cw) = reflector::store();
        let (secrets, sw) = reflector::store();
        let (events, ew) = reflector::store();
        let caches = Self {
            git_repositories,
            kustomizations,
            xrds,
            compositions,
            secrets,
            events,
            kinds: RwLock::new(Vec::new()),
            changed: watch::channel(0).0,
            watching: std::sync::Mutex::default(),
        };
        let writers = CacheWriters {
            git_repositories: gw,
            kustomizations: kw,
            xrds: xw,
            compositions: cw,
            secrets: sw,
            events: ew,
        };
        (caches, writers)
    }

    /// Adds a cache for `resource` in `role`, unless one exists, and returns its writer.
    pub fn add_kind(&self, role: Role, resource: ApiResource) -> Option<Writer<DynamicObject>> {
        let mut kinds = self.kinds.write().unwrap_or_else(|e| e.into_inner());
        if kinds.iter().any(|k| k.resource == resource) {
            return None;
        }
        let writer = Writer::new(resource.clone());
        kinds.push(KindCache { role, resource, store: writer.as_reader() });
        Some(writer)
    }

    /// The dynamically typed caches.
    pub fn kinds(&self) -> Vec<KindCache> {
        self.kinds.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Tells live pages that something changed.
    pub fn notify_changed(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every [`Caches::notify_changed`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Finds an object of any dynamic kind.
    pub fn find(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<(KindCache, Arc<DynamicObject>)> {
        self.kinds().into_iter().filter(|k| k.resource.kind == kind).find_map(|k| {
            let found = k.store.find(|o| {
                o.metadata.name.as_deref() == Some(name)
                    && o.metadata.namespace.as_deref() == namespace
            })?;
            Some((k, found))
        })
    }

    /// Watch through `client` from the first [`Caches::ready`] on: until someone opens the
    /// dashboard, mirroring every object and Secret in memory and decoding every change to
    /// them (a sixth of the work of a busy control plane's watches) is for nobody.
    pub fn watch_on_first_use(&self, client: Client, writers: CacheWriters) {
        *self.watching.lock().unwrap_or_else(|e| e.into_inner()) =
            Watching::OnFirstUse(client, Box::new(writers));
    }

    /// Starts the watches if they wait for a first use, then waits (at most [`READY_WAIT`]) until
    /// the fixed kinds are listed, so a first page is not empty. At once for manual caches.
    pub async fn ready(self: &Arc<Self>) {
        {
            let mut watching = self.watching.lock().unwrap_or_else(|e| e.into_inner());
            match std::mem::replace(&mut *watching, Watching::Started) {
                Watching::Manually => {
                    *watching = Watching::Manually;
                    return;
                }
                Watching::OnFirstUse(client, writers) => {
                    tracing::info!("dashboard opened: watching what it shows");
                    tokio::spawn(self.clone().watch(client, *writers));
                }
                Watching::Started => {}
            }
        }
        let listed = async {
            let _ = self.git_repositories.wait_until_ready().await;
            let _ = self.kustomizations.wait_until_ready().await;
            let _ = self.xrds.wait_until_ready().await;
            let _ = self.compositions.wait_until_ready().await;
            let _ = self.secrets.wait_until_ready().await;
            let _ = self.events.wait_until_ready().await;
        };
        let _ = tokio::time::timeout(READY_WAIT, listed).await;
    }

    /// Watches everything the dashboard shows until the client fails: the fixed kinds, the
    /// AWS managed kinds, and the claim and composite kinds of every XRD as it appears.
    pub async fn watch(self: Arc<Self>, client: Client, writers: CacheWriters) {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(reflect(Api::all(client.clone()), writers.git_repositories, self.clone()));
        tasks.spawn(reflect(Api::all(client.clone()), writers.kustomizations, self.clone()));
        tasks.spawn(reflect(Api::all(client.clone()), writers.compositions, self.clone()));
        tasks.spawn(reflect(Api::all(client.clone()), writers.secrets, self.clone()));
        tasks.spawn(reflect(Api::all(client.clone()), writers.events, self.clone()));
        for resource in [
            ApiResource::erase::<crosstie_provider_aws::RdsInstance>(&()),
            ApiResource::erase::<crosstie_provider_aws::DbSubnetGroup>(&()),
        ] {
            if let Some(writer) = self.add_kind(Role::Managed, resource.clone()) {
                tasks.spawn(reflect(
                    Api::all_with(client.clone(), &resource),
                    writer,
                    self.clone(),
                ));
            }
        }
        // XRDs drive the dynamic kinds, so their stream is consumed here rather than spawned.
        let xrds = reflector::reflector(
            writers.xrds,
            watcher(Api::all(client.clone()), watcher::Config::default()),
        )
        .default_backoff()
        .applied_objects();
        let mut xrds = std::pin::pin!(xrds);
        while let Some(xrd) = xrds.next().await {
            let Ok(xrd) = xrd else { continue };
            self.notify_changed();
            let Ok(served) = crds_for(&xrd) else { continue };
            let mut kinds = vec![(Role::Composite, served.composite_kind)];
            kinds.extend(served.claim_kind.map(|k| (Role::Claim, k)));
            for (role, kind) in kinds {
                let resource = ApiResource {
                    group: kind.group.clone(),
                    version: kind.version.clone(),
                    api_version: kind.api_version(),
                    kind: kind.kind.clone(),
                    plural: kind.plural.clone(),
                };
                if let Some(writer) = self.add_kind(role, resource.clone()) {
                    tasks.spawn(reflect(
                        Api::all_with(client.clone(), &resource),
                        writer,
                        self.clone(),
                    ));
                }
            }
        }
    }
}

/// Runs one reflector, waking live pages on every change.
async fn reflect<K>(api: Api<K>, writer: Writer<K>, caches: Arc<Caches>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while stream.next().await.is_some() {
        caches.notify_changed();
    }
}
