//! Keeping kustomize inside the source artifact. Flux runs kustomize without load restrictions
//! on a filesystem rooted at the artifact; kubectl has no such filesystem, so before running it
//! (with `LoadRestrictionsNone`) every file a kustomization tree may read is resolved, after
//! `..` and symlinks, and must lie inside the artifact root.
//!
//! The walk is deny-by-default: every string in a kustomization (or in a generator/transformer
//! config) is checked as a possible path, except in fields known to hold values only
//! (labels, literals, inline patches, selectors, …). Remote bases cannot be checked and are
//! refused.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Error;
use super::kustomize::{KUSTOMIZATION_FILES, normalize};

/// Fields that hold values, never file names.
const VALUE_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "commonAnnotations",
    "labels",
    "images",
    "replicas",
    "vars",
    "literals",
    "patch",
    "target",
    "select",
    "reject",
    "source",
    "targets",
    "options",
    "behavior",
    "type",
    "generatorOptions",
    "buildMetadata",
    "sortOptions",
    "valuesInline",
];

/// Check the kustomization in `dir` and everything it references, recursively.
pub fn kustomization(root: &Path, dir: &Path) -> Result<(), Error> {
    Walk::new(root)?.reference(&dir.display().to_string(), &[root.to_owned()], "spec.path", false)
}

/// Check that `path` (a file or directory) resolves inside `root`; `origin` names what refers
/// to it.
pub fn inside(root: &Path, path: &Path, origin: &str) -> Result<PathBuf, Error> {
    Walk::new(root)?.resolve(&path.display().to_string(), &[root.to_owned()], origin)
}

struct Walk {
    root: PathBuf,
    visited: HashSet<PathBuf>,
}

impl Walk {
    fn new(root: &Path) -> Result<Self, Error> {
        let root = std::fs::canonicalize(root)
            .map_err(|source| Error::Read { file: root.display().to_string(), source })?;
        Ok(Walk { root, visited: HashSet::new() })
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }

    fn outside(&self, origin: &str, reference: &str) -> Error {
        Error::OutsideSource { origin: origin.to_owned(), reference: reference.to_owned() }
    }

    /// Resolve `reference` against each of `bases` as kustomize does (lexically, then
    /// symlinks): it must exist and be inside the root. Returns the resolved path.
    fn resolve(&self, reference: &str, bases: &[PathBuf], origin: &str) -> Result<PathBuf, Error> {
        let mut resolved = None;
        for base in bases {
            let lexical = lexical_join(base, reference);
            let canonical = std::fs::canonicalize(&lexical).map_err(|_| Error::Kustomize {
                path: origin.to_owned(),
                message: format!(
                    "{reference:?} is not a file or directory in the source artifact \
                     (remote bases are not supported)"
                ),
            })?;
            if !lexical.starts_with(&self.root) || !canonical.starts_with(&self.root) {
                return Err(self.outside(origin, reference));
            }
            resolved.get_or_insert(canonical);
        }
        Ok(resolved.expect("at least one base"))
    }

    /// A `resources`/`components`/`bases` entry, or a generator directory (`configs`).
    fn reference(
        &mut self,
        reference: &str,
        bases: &[PathBuf],
        origin: &str,
        configs: bool,
    ) -> Result<(), Error> {
        let path = self.resolve(reference, bases, origin)?;
        if path.is_dir() {
            self.directory(&path, configs)
        } else if configs {
            self.config_file(&path, bases)
        } else {
            Ok(())
        }
    }

    fn directory(&mut self, dir: &Path, configs: bool) -> Result<(), Error> {
        if !self.visited.insert(dir.to_owned()) {
            return Ok(());
        }
        // Without a kustomization file kustomize fails on its own.
        let Some(file) = KUSTOMIZATION_FILES.iter().map(|f| dir.join(f)).find(|f| f.exists())
        else {
            return Ok(());
        };
        let origin = self.relative(&file);
        self.resolve(&file.display().to_string(), &[dir.to_owned()], &origin)?;
        for document in read_documents(&file, &origin)? {
            self.fields(&document, &[dir.to_owned()], &origin, configs)?;
        }
        Ok(())
    }

    /// Generator/transformer configs: their paths are relative to the kustomization using
    /// them, or to their own folder; both must stay inside.
    fn config_file(&mut self, file: &Path, bases: &[PathBuf]) -> Result<(), Error> {
        let origin = self.relative(file);
        let mut dirs = bases.to_vec();
        dirs.extend(file.parent().map(Path::to_owned));
        for document in read_documents(file, &origin)? {
            self.fields(&document, &dirs, &origin, false)?;
        }
        Ok(())
    }

    fn fields(
        &mut self,
        value: &Value,
        bases: &[PathBuf],
        origin: &str,
        configs: bool,
    ) -> Result<(), Error> {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match key.as_str() {
                        "resources" | "bases" | "components" => {
                            for reference in strings(value) {
                                self.reference(reference, bases, origin, configs)?;
                            }
                        }
                        "generators" | "transformers" | "validators" => {
                            for entry in strings(value) {
                                self.plugin(entry, bases, origin)?;
                            }
                        }
                        key if VALUE_FIELDS.contains(&key) => {}
                        _ => self.fields(value, bases, origin, configs)?,
                    }
                }
                Ok(())
            }
            Value::Array(items) => {
                items.iter().try_for_each(|item| self.fields(item, bases, origin, configs))
            }
            Value::String(text) => self.possible_path(text, bases, origin),
            _ => Ok(()),
        }
    }

    /// A generator, transformer or validator: inline config, config file or folder of configs.
    fn plugin(&mut self, entry: &str, bases: &[PathBuf], origin: &str) -> Result<(), Error> {
        if entry.contains('\n') {
            let documents: Vec<Value> =
                serde_saphyr::from_multiple(entry).map_err(|e| Error::Kustomize {
                    path: origin.to_owned(),
                    message: format!("invalid inline plugin config: {e}"),
                })?;
            return documents.iter().try_for_each(|d| self.fields(d, bases, origin, false));
        }
        self.reference(entry, bases, origin, true)
    }

    /// Any other string may name a file (`path`, `files: [key=path]`, `envs`, …): when it
    /// would resolve outside the root it is refused, whether it exists or not.
    fn possible_path(&self, text: &str, bases: &[PathBuf], origin: &str) -> Result<(), Error> {
        if text.contains('\n') {
            return Ok(());
        }
        let after_key = text.split_once('=').map(|(_, path)| path);
        for candidate in std::iter::once(text).chain(after_key).map(str::trim) {
            if candidate.is_empty() {
                continue;
            }
            for base in bases {
                let lexical = lexical_join(base, candidate);
                let escapes = !lexical.starts_with(&self.root)
                    || std::fs::canonicalize(&lexical).is_ok_and(|c| !c.starts_with(&self.root));
                if escapes {
                    return Err(self.outside(origin, text));
                }
            }
        }
        Ok(())
    }
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn read_documents(file: &Path, origin: &str) -> Result<Vec<Value>, Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|source| Error::Read { file: origin.to_owned(), source })?;
    serde_saphyr::from_multiple(&text).map_err(|e| Error::InvalidYaml {
        file: origin.to_owned(),
        line: e.location().map_or(1, |l| l.line() as usize),
        message: e.to_string().lines().next().unwrap_or_default().to_owned(),
    })
}

/// `base/path` with `.` and `..` resolved lexically, as Go's `filepath.Join` (which kustomize
/// uses) does; an absolute `path` replaces `base`.
fn lexical_join(base: &Path, path: &str) -> PathBuf {
    normalize(&base.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, contents).unwrap();
        }
        dir
    }

    fn check(root: &Path, dir: &str) -> Result<(), String> {
        kustomization(&root.join("repo"), &root.join("repo").join(dir)).map_err(|e| e.to_string())
    }

    #[test]
    fn files_anywhere_inside_the_root_are_allowed_and_values_are_not_paths() {
        let root = tree(&[
            ("repo/apps/extra/cm.yaml", "{}"),
            ("repo/apps/base/kustomization.yaml", "resources: [../extra/cm.yaml]\n"),
            (
                "repo/clusters/prod/kustomization.yaml",
                "resources: [../../apps/base]\ncommonAnnotations: {dir: /var/log}\nconfigMapGenerator:\n- name: c\n  literals: [LOG=/var/log]\n  files: [cm=../../apps/extra/cm.yaml]\n",
            ),
        ]);
        assert_eq!(check(root.path(), "clusters/prod"), Ok(()));
    }

    #[test]
    fn absolute_paths_parent_escapes_symlinks_and_remote_bases_are_refused() {
        let root = tree(&[
            ("secret", "token"),
            (
                "repo/abs/kustomization.yaml",
                "configMapGenerator:\n- name: leak\n  files: [hostname=/etc/hostname]\n",
            ),
            ("repo/up/kustomization.yaml", "patches:\n- path: ../../secret\n"),
            ("repo/link/kustomization.yaml", "resources: [cm.yaml]\n"),
            ("repo/remote/kustomization.yaml", "resources: [github.com/org/repo//x?ref=v1]\n"),
            (
                "repo/inline/kustomization.yaml",
                "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: x}\n  envs: [/data/token]\n",
            ),
        ]);
        std::os::unix::fs::symlink(
            root.path().join("secret"),
            root.path().join("repo/link/cm.yaml"),
        )
        .unwrap();
        let err = check(root.path(), "abs").unwrap_err();
        assert_eq!(
            err,
            "abs/kustomization.yaml: \"hostname=/etc/hostname\" is outside the source artifact"
        );
        assert!(check(root.path(), "up").unwrap_err().contains("\"../../secret\" is outside"));
        assert!(check(root.path(), "link").unwrap_err().contains("\"cm.yaml\" is outside"));
        assert!(check(root.path(), "remote").unwrap_err().contains("remote bases"));
        assert!(check(root.path(), "inline").unwrap_err().contains("\"/data/token\" is outside"));
    }
}
