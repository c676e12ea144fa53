//! Producing an artifact: the commit's tree written out as a directory, minus ignored paths,
//! with a `sha256:` digest and total size.

use std::fs;
use std::io::Write;
use std::path::Path;

use git2::{ObjectType, Oid, Repository, Tree};
use sha2::{Digest, Sha256};

use super::Error;
use super::ignore::{IgnoreRules, SOURCEIGNORE};

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// `sha256:<hex>` over every written file's path, mode and contents, in path order.
    pub digest: String,
    /// Total bytes of file contents.
    pub size: u64,
}

/// Write the tree of `commit` into `dest` (which must not exist), skipping paths excluded by the
/// default rules, `.sourceignore` files and `spec_ignore`. Symlinks and submodules are skipped:
/// an artifact is plain files only, so nothing in it can point outside it.
pub fn export(
    repo: &Repository,
    commit: Oid,
    spec_ignore: Option<&str>,
    dest: &Path,
) -> Result<Written, Error> {
    let tree = repo.find_commit(commit)?.tree()?;
    let rules = rules_for(repo, &tree, spec_ignore)?;
    let mut files: Vec<(String, Oid, bool)> = Vec::new();
    collect(repo, &tree, "", &rules, &mut files)?;
    files.sort();

    let mut hasher = Sha256::new();
    let mut size = 0u64;
    fs::create_dir_all(dest)?;
    for (path, oid, executable) in &files {
        let blob = repo.find_blob(*oid)?;
        let target = dest.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::File::create(&target)?.write_all(blob.content())?;
        if *executable {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o755))?;
        }
        hasher.update(path.as_bytes());
        hasher.update([0, u8::from(*executable), 0]);
        hasher.update((blob.size() as u64).to_be_bytes());
        hasher.update(blob.content());
        size += blob.size() as u64;
    }
    Ok(Written { digest: format!("sha256:{}", hex::encode(hasher.finalize())), size })
}

/// Defaults, then every `.sourceignore` in the tree (scoped to its directory), then `spec.ignore`.
fn rules_for(
    repo: &Repository,
    tree: &Tree<'_>,
    spec_ignore: Option<&str>,
) -> Result<IgnoreRules, Error> {
    let mut rules = IgnoreRules::defaults();
    let mut sourceignores = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.name().ok() == Some(SOURCEIGNORE) && entry.kind() == Some(ObjectType::Blob) {
            sourceignores.push((dir.trim_end_matches('/').to_owned(), entry.id()));
        }
        git2::TreeWalkResult::Ok
    })?;
    for (dir, oid) in sourceignores {
        rules.add(&dir, &String::from_utf8_lossy(repo.find_blob(oid)?.content()));
    }
    if let Some(text) = spec_ignore {
        rules.add("", text);
    }
    Ok(rules)
}

/// Regular files (mode 100644/100755) under `tree` that the rules keep, pruning ignored
/// directories as git does.
fn collect(
    repo: &Repository,
    tree: &Tree<'_>,
    prefix: &str,
    rules: &IgnoreRules,
    out: &mut Vec<(String, Oid, bool)>,
) -> Result<(), Error> {
    for entry in tree {
        let Ok(name) = entry.name() else { continue };
        let path = format!("{prefix}{name}");
        match (entry.kind(), entry.filemode()) {
            (Some(ObjectType::Tree), _) if !rules.is_ignored(&path, true) => {
                collect(repo, &repo.find_tree(entry.id())?, &format!("{path}/"), rules, out)?;
            }
            (Some(ObjectType::Blob), mode @ (0o100644 | 0o100755))
                if !rules.is_ignored(&path, false) =>
            {
                out.push((path, entry.id(), mode == 0o100755));
            }
            _ => {}
        }
    }
    Ok(())
}
