//! The Git source: a persistent bare cache per GitRepository, ref selection with Flux's
//! precedence, incremental fetches and artifacts written as directory trees.
//!
//! A poll is a pipeline of small steps ([`GitStorage::reconcile`]):
//! 1. `check_remote`: one `ls-remote` (skipped for a pinned commit);
//! 2. `select`: the ref and commit the spec asks for ([`refs::select`]);
//! 3. `unchanged?`: same revision and ignore rules as the stored artifact ⇒ stop here;
//! 4. `fetch`: only when the commit is not in the cache yet;
//! 5. `export`: write the artifact tree ([`artifact::export`]) and drop older artifacts.

pub mod artifact;
pub mod auth;
pub mod ignore;
pub mod refs;
pub mod relay;
pub mod remote;
pub mod tls;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use git2::{Oid, Repository};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub use auth::Auth;
use refs::{Selected, Wanted};

use crate::gitops::api::conditions::reason;
use crate::gitops::api::{Artifact, GitRepositoryRef};

/// Default `spec.timeout` for Git operations.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a source reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Credentials missing, malformed or rejected.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// A transport or repository error from libgit2.
    #[error("git operation failed: {0}")]
    Git(String),
    /// The operation exceeded `spec.timeout`.
    #[error("git operation timed out (spec.timeout)")]
    Timeout,
    /// The requested ref or commit does not exist on the remote.
    #[error("reference not found: {0}")]
    RefNotFound(String),
    /// The spec cannot work as written.
    #[error("{0}")]
    InvalidSpec(String),
    /// Writing the cache or artifact failed.
    #[error("storage operation failed: {0}")]
    Io(#[from] std::io::Error),
}

impl From<git2::Error> for Error {
    fn from(e: git2::Error) -> Self {
        Error::Git(e.message().to_owned())
    }
}

impl Error {
    /// The `FetchFailed` condition reason Flux uses for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Auth(_) => reason::AUTHENTICATION_FAILED,
            Error::InvalidSpec(_) => reason::INVALID_SPEC,
            _ => reason::GIT_OPERATION_FAILED,
        }
    }

    /// Whether retrying cannot help until the spec changes (Flux's `Stalled`).
    pub fn is_stalling(&self) -> bool {
        matches!(self, Error::InvalidSpec(_))
    }
}

/// Everything one source reconcile needs, resolved from the GitRepository and its Secret.
#[derive(Clone, Debug)]
pub struct SourceRequest {
    /// GitRepository namespace.
    pub namespace: String,
    /// GitRepository name.
    pub name: String,
    /// `spec.url`.
    pub url: String,
    /// `spec.ref`.
    pub reference: Option<GitRepositoryRef>,
    /// Credentials from `spec.secretRef`.
    pub auth: Auth,
    /// `ca.crt` from `spec.secretRef`, trusted in addition to the system store.
    pub ca: Option<tls::TrustedCa>,
    /// `spec.timeout`.
    pub timeout: Duration,
    /// `spec.ignore`.
    pub ignore: Option<String>,
    /// `status.artifact` from the last success.
    pub last_artifact: Option<Artifact>,
    /// `status.observedIgnore` from the last success.
    pub last_ignore: Option<String>,
}

/// A request on its way to the remote: directly, or through the timeout [`relay::Relay`].
struct Route<'a> {
    request: &'a SourceRequest,
    via: Option<&'a relay::Via>,
}

impl Route<'_> {
    fn endpoint(&self, deadline: Instant) -> remote::Endpoint<'_> {
        let request = self.request;
        remote::Endpoint {
            url: self.via.map_or(&request.url, |v| &v.url),
            auth: &request.auth,
            ca: request.ca.as_ref(),
            deadline,
            proxy: self.via.and_then(|v| v.proxy.as_deref()),
        }
    }
}

/// The result of a source reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The remote head and content settings match the stored artifact: nothing was fetched.
    Unchanged,
    /// A new artifact was written.
    NewArtifact(Artifact),
}

/// The on-disk home of Git caches (`git/<ns>/<name>.git`) and artifacts
/// (`gitrepository/<ns>/<name>/<sha>/`) under the controller's data dir.
#[derive(Clone, Debug)]
pub struct GitStorage {
    root: PathBuf,
    /// One Git operation per GitRepository at a time, by `namespace/name`.
    busy: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl GitStorage {
    /// Storage rooted at `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        GitStorage { root: data_dir.into(), busy: Arc::default() }
    }

    /// The absolute directory of an artifact (from its `path`).
    pub fn artifact_dir(&self, artifact: &Artifact) -> PathBuf {
        self.root.join(&artifact.path)
    }

    /// Remove a GitRepository's cache and artifacts (on deletion).
    pub fn remove(&self, namespace: &str, name: &str) -> std::io::Result<()> {
        self.busy.lock().expect("busy lock").remove(&format!("{namespace}/{name}"));
        remove_dir_if_exists(&self.root.join("git").join(namespace).join(format!("{name}.git")))?;
        remove_dir_if_exists(&self.root.join("gitrepository").join(namespace).join(name))
    }

    /// Run the pipeline on a blocking thread, bounded by `timeout`, one at a time per
    /// GitRepository. HTTP(S) remotes are reached through a [`relay::Relay`], dropped at the
    /// timeout: that closes libgit2's connection, so its thread returns instead of waiting on a
    /// silent server forever, and the next attempt (which waits for it) does not pile up.
    pub async fn reconcile_async(&self, request: SourceRequest) -> Result<Outcome, Error> {
        let storage = self.clone();
        let timeout = request.timeout;
        let busy = self.busy_lock(&request.namespace, &request.name);
        let relay = relay::Relay::start(&request.url).await;
        let via = relay.as_ref().map(|r| r.via().clone());
        let run = async move {
            let guard = busy.lock_owned().await;
            tokio::task::spawn_blocking(move || {
                let _one_at_a_time = guard;
                storage.reconcile_route(&Route { request: &request, via: via.as_ref() })
            })
            .await
        };
        let result = match tokio::time::timeout(timeout, run).await {
            Ok(joined) => joined.map_err(|e| Error::Git(format!("git task failed: {e}")))?,
            Err(_) => return Err(Error::Timeout),
        };
        match (result, relay.and_then(|r| r.failure())) {
            // libgit2 only saw the relay hang up; say why.
            (Err(Error::Git(_)), Some(failure)) => Err(Error::Git(failure)),
            (result, _) => result,
        }
    }

    fn busy_lock(&self, namespace: &str, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut busy = self.busy.lock().expect("busy lock");
        busy.entry(format!("{namespace}/{name}")).or_default().clone()
    }

    /// Check the remote, and fetch and export only if the wanted revision is new. Blocking.
    pub fn reconcile(&self, request: &SourceRequest) -> Result<Outcome, Error> {
        self.reconcile_route(&Route { request, via: None })
    }

    fn reconcile_route(&self, route: &Route<'_>) -> Result<Outcome, Error> {
        let request = route.request;
        let deadline = Instant::now() + request.timeout;
        let wanted = Wanted::from_spec(request.reference.as_ref())?;
        let repo = self.open_cache(&request.namespace, &request.name)?;

        let heads = match wanted {
            Wanted::Commit { branch: None, .. } => None,
            _ => Some(remote::list(&repo, route.endpoint(deadline))?),
        };
        let selected = refs::select(&wanted, heads.as_deref())?;
        let revision = selected.revision();

        let artifact_path =
            format!("gitrepository/{}/{}/{}", request.namespace, request.name, selected.commit);
        let last = request.last_artifact.as_ref();
        if last.is_some_and(|a| a.revision == revision && a.path == artifact_path)
            && request.last_ignore == request.ignore
            && self.root.join(&artifact_path).is_dir()
        {
            return Ok(Outcome::Unchanged);
        }

        let commit = self.ensure_commit(&repo, route, &wanted, &selected, deadline)?;
        if let (Wanted::Commit { branch: Some(branch), .. }, Some(name)) =
            (&wanted, &selected.ref_name)
        {
            let tip = self.ensure_ref_tip(&repo, route, name, heads.as_deref(), deadline)?;
            if tip != commit && !repo.graph_descendant_of(tip, commit)? {
                return Err(Error::RefNotFound(format!(
                    "commit {commit} is not on branch {branch:?}"
                )));
            }
        }

        let written = self.write_artifact(&repo, commit, request, &artifact_path)?;
        Ok(Outcome::NewArtifact(Artifact {
            url: format!("file://{}", self.root.join(&artifact_path).display()),
            path: artifact_path,
            revision,
            digest: Some(written.digest),
            last_update_time: Time(jiff::Timestamp::now()),
            size: Some(written.size as i64),
        }))
    }

    fn open_cache(&self, namespace: &str, name: &str) -> Result<Repository, Error> {
        let dir = self.root.join("git").join(namespace).join(format!("{name}.git"));
        match Repository::open_bare(&dir) {
            Ok(repo) => Ok(repo),
            Err(_) => {
                fs::create_dir_all(&dir)?;
                Ok(Repository::init_bare(&dir)?)
            }
        }
    }

    /// Fetch only when the commit is missing from the cache: a force-push back to a known commit
    /// or a second ref at the same commit costs nothing.
    fn ensure_commit(
        &self,
        repo: &Repository,
        route: &Route<'_>,
        wanted: &Wanted,
        selected: &Selected,
        deadline: Instant,
    ) -> Result<Oid, Error> {
        let oid = Oid::from_str(&selected.commit)?;
        if repo.find_commit(oid).is_err() {
            remote::fetch(repo, route.endpoint(deadline), &wanted.fetch_refspecs(selected))?;
        }
        repo.find_commit(oid).map(|c| c.id()).map_err(|_| {
            Error::RefNotFound(format!("commit {} not found on the remote", selected.commit))
        })
    }

    fn ensure_ref_tip(
        &self,
        repo: &Repository,
        route: &Route<'_>,
        name: &str,
        heads: Option<&[refs::RemoteRef]>,
        deadline: Instant,
    ) -> Result<Oid, Error> {
        let tip = heads
            .and_then(|h| h.iter().find(|r| r.name == name))
            .ok_or_else(|| Error::RefNotFound(name.to_owned()))?;
        let oid = Oid::from_str(&tip.commit)?;
        if repo.find_commit(oid).is_err() {
            remote::fetch(repo, route.endpoint(deadline), &[format!("+{name}:{name}")])?;
        }
        Ok(oid)
    }

    /// Export into a temporary directory and rename it into place, so readers never see a
    /// half-written artifact; then remove older artifacts except the previous one, which a
    /// Kustomization may still be reading.
    fn write_artifact(
        &self,
        repo: &Repository,
        commit: Oid,
        request: &SourceRequest,
        artifact_path: &str,
    ) -> Result<artifact::Written, Error> {
        let dest = self.root.join(artifact_path);
        let parent = dest.parent().expect("artifact path has a parent");
        fs::create_dir_all(parent)?;
        let staging = parent.join(format!(".tmp-{commit}"));
        remove_dir_if_exists(&staging)?;
        let written = artifact::export(repo, commit, request.ignore.as_deref(), &staging)?;
        remove_dir_if_exists(&dest)?;
        fs::rename(&staging, &dest)?;

        let keep_previous = request.last_artifact.as_ref().map(|a| self.root.join(&a.path));
        for entry in fs::read_dir(parent)? {
            let path = entry?.path();
            if path != dest && Some(&path) != keep_previous.as_ref() {
                remove_dir_if_exists(&path)?;
            }
        }
        Ok(written)
    }
}

fn remove_dir_if_exists(path: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
