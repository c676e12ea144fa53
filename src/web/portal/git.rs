//! Committing a claim into the GitOps repository the Git loop syncs: fetch the branch into a
//! bare cache, write `<path>/<namespace>/<name>.yaml` on top of it, commit with the requester
//! as author, push. No working tree is checked out, so nothing can be left half-written, and a
//! claim file already in the repository is never replaced (the portal creates, never edits).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::{
    FetchOptions, Index, IndexEntry, IndexTime, Oid, PushOptions, RemoteCallbacks, Repository,
    Signature,
};

/// Where portal claims are committed.
#[derive(Clone)]
pub struct GitTarget {
    /// Remote URL (a path, `file://`, or a URL git2 can push to without prompting).
    pub url: String,
    /// Branch to commit to; created when the repository has none.
    pub branch: String,
    /// Directory in the repository holding claims, e.g. `clusters/dev/claims`.
    pub path: String,
    /// Local bare cache of the repository.
    pub cache_dir: PathBuf,
}

impl std::fmt::Debug for GitTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials: never in logs.
        f.debug_struct("GitTarget")
            .field("url", &crate::web::html::without_credentials(&self.url))
            .field("branch", &self.branch)
            .field("path", &self.path)
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

/// Why a claim was not committed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The branch already holds a file at the claim's path.
    #[error("{0} is already in the repository")]
    Exists(String),
    /// Fetching, committing or pushing failed.
    #[error(transparent)]
    Git(#[from] git2::Error),
}

/// Who asked for the claim.
#[derive(Clone, Debug)]
pub struct Author<'a> {
    /// Name.
    pub name: &'a str,
    /// E-mail address.
    pub email: &'a str,
}

/// One commit at a time per process: two pushes from the same cache would race.
static LOCK: Mutex<()> = Mutex::new(());

/// Committer of portal commits (the author is the requester).
const COMMITTER: (&str, &str) = ("Crosstie portal", "portal@crosstie.invalid");

/// The file a claim is written to, relative to the repository root.
pub fn claim_path(target: &GitTarget, namespace: &str, name: &str) -> String {
    let dir = target.path.trim_matches('/');
    if dir.is_empty() {
        format!("{namespace}/{name}.yaml")
    } else {
        format!("{dir}/{namespace}/{name}.yaml")
    }
}

/// Commits `yaml` as `<path>/<namespace>/<name>.yaml` on the target branch and pushes it;
/// returns the new commit's id. Refuses ([`Error::Exists`]) when the branch has that file.
pub fn commit_claim(
    target: &GitTarget,
    author: &Author<'_>,
    namespace: &str,
    name: &str,
    yaml: &str,
) -> Result<Oid, Error> {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let repo = open_cache(&target.cache_dir)?;
    let mut remote = repo.remote_anonymous(&target.url)?;
    let tracking = format!("refs/remotes/origin/{}", target.branch);
    remote.fetch(
        &[format!("+refs/heads/{}:{tracking}", target.branch)],
        Some(&mut FetchOptions::new()),
        None,
    )?;
    let parent = repo.find_reference(&tracking).ok().and_then(|r| r.peel_to_commit().ok());

    let path = claim_path(target, namespace, name);
    // Checked on the freshly fetched branch under the lock: a claim committed by anyone since
    // (or added by hand) is found, and replacing it would drop whatever it says.
    let existing = parent.as_ref().and_then(|p| p.tree().ok()?.get_path(Path::new(&path)).ok());
    if existing.is_some() {
        return Err(Error::Exists(path));
    }

    let mut index = Index::new()?;
    if let Some(parent) = &parent {
        index.read_tree(&parent.tree()?)?;
    }
    // An in-memory index cannot hash content itself: write the blob, then index it.
    index.add(&entry(&path, repo.blob(yaml.as_bytes())?, yaml.len()))?;
    let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
    let author = Signature::now(author.name, author.email)?;
    let committer = Signature::now(COMMITTER.0, COMMITTER.1)?;
    let message =
        format!("Add claim {namespace}/{name}\n\nRequested through the Crosstie portal.\n");
    let parents: Vec<_> = parent.iter().collect();
    let commit = repo.commit(None, &author, &committer, &message, &tree, &parents)?;

    let local = format!("refs/heads/{}", target.branch);
    repo.reference(&local, commit, true, "portal commit")?;
    let mut rejected = None;
    let mut callbacks = RemoteCallbacks::new();
    callbacks.push_update_reference(|_, status| {
        rejected = status.map(str::to_owned);
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks);
    remote.push(&[format!("{local}:{local}")], Some(&mut options))?;
    drop(options);
    if let Some(reason) = rejected {
        let message = format!("push to {} rejected: {reason}", target.branch);
        return Err(git2::Error::from_str(&message).into());
    }
    Ok(commit)
}

fn open_cache(dir: &Path) -> Result<Repository, git2::Error> {
    Repository::open_bare(dir).or_else(|_| Repository::init_bare(dir))
}

fn entry(path: &str, id: Oid, size: usize) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100644,
        uid: 0,
        gid: 0,
        file_size: u32::try_from(size).unwrap_or(u32::MAX),
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}
