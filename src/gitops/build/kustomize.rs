//! Kustomizations are built by the kustomize embedded in kubectl (`kubectl kustomize DIR`),
//! found in `PATH`. With `spec.patches`, `spec.images` or `spec.components`, a generated
//! overlay outside the artifact wraps the folder, as Flux does.
//!
//! As in Flux, a kustomization may read any file inside the source artifact and nothing
//! outside it: [`confine`] checks the tree first, then kustomize runs without its own
//! (per-folder) load restrictions.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::{Error, confine};
use crate::gitops::api::kustomization::KustomizePatch;

/// kustomize's own restriction is per folder; [`confine`] enforces the artifact root instead.
const UNRESTRICTED: &[&str] = &["--load-restrictor", "LoadRestrictionsNone"];

/// Kustomize features a Kustomization spec adds on top of its folder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overlay {
    /// `spec.patches`.
    pub patches: Vec<KustomizePatch>,
    /// `spec.images`.
    pub images: Vec<std::collections::BTreeMap<String, String>>,
    /// `spec.components`, relative to the folder.
    pub components: Vec<String>,
}

impl Overlay {
    /// Whether there is nothing to add.
    pub fn is_empty(&self) -> bool {
        self.patches.is_empty() && self.images.is_empty() && self.components.is_empty()
    }

    /// The generated `kustomization.yaml` in `work`: `resources` (the folder itself when it is
    /// a kustomization, else its manifests and nested kustomizations) plus the overlay's
    /// features. Kustomize wants directories relative, so every path is made relative to `work`.
    fn kustomization(&self, work: &Path, dir: &Path, resources: &[PathBuf]) -> Value {
        let resources: Vec<String> =
            resources.iter().map(|r| relative_to(work, &normalize(r))).collect();
        let mut k = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        });
        if !self.patches.is_empty() {
            k["patches"] = serde_json::to_value(&self.patches).expect("patches serialize");
        }
        if !self.images.is_empty() {
            k["images"] = serde_json::to_value(&self.images).expect("images serialize");
        }
        if !self.components.is_empty() {
            let components: Vec<String> = self
                .components
                .iter()
                .map(|c| relative_to(work, &normalize(&dir.join(c))))
                .collect();
            k["components"] = json!(components);
        }
        k
    }
}

/// Build `resources` (the folder `dir` inside the artifact `root`, or what it holds) with
/// `overlay` applied, in a temporary directory outside the artifact. Components must stay
/// inside the artifact.
pub fn build_with_overlay(
    kubectl: Option<&Path>,
    root: &Path,
    dir: &Path,
    resources: &[PathBuf],
    relative: &str,
    overlay: &Overlay,
) -> Result<String, Error> {
    for component in &overlay.components {
        let path = normalize(&dir.join(component));
        if !path.starts_with(normalize(root)) {
            return Err(Error::Path(format!(
                "spec.components: {component:?} is outside the source artifact"
            )));
        }
        confine::kustomization(root, &path)?;
    }
    for resource in resources {
        if resource.is_dir() {
            confine::kustomization(root, resource)?;
        } else {
            confine::inside(root, resource, relative)?;
        }
    }
    let io = |source| Error::Read { file: "generated kustomization.yaml".into(), source };
    let work = tempfile::tempdir().map_err(io)?;
    let generated = overlay.kustomization(&normalize(work.path()), &normalize(dir), resources);
    let text = serde_saphyr::to_string(&generated).map_err(|e| Error::Kustomize {
        path: relative.to_owned(),
        message: format!("cannot generate kustomization.yaml: {e}"),
    })?;
    std::fs::write(work.path().join("kustomization.yaml"), text).map_err(io)?;
    run(kubectl, work.path(), relative, UNRESTRICTED)
}

/// File names that make a folder a kustomization, as kustomize recognizes them.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Whether `dir` holds a kustomization file.
pub fn is_kustomization(dir: &Path) -> bool {
    KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file())
}

/// The first `kubectl` in `PATH`.
pub fn find_kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("kubectl")).find(|p| p.is_file())
}

/// Run `kubectl kustomize dir` (with `kubectl`, else the one in `PATH`) and return its YAML,
/// once every file the kustomization reads is known to be inside the artifact `root`.
pub fn build(
    kubectl: Option<&Path>,
    root: &Path,
    dir: &Path,
    relative: &str,
) -> Result<String, Error> {
    confine::kustomization(root, dir)?;
    run(kubectl, dir, relative, UNRESTRICTED)
}

fn run(
    kubectl: Option<&Path>,
    dir: &Path,
    relative: &str,
    flags: &[&str],
) -> Result<String, Error> {
    let kubectl = match kubectl {
        Some(path) => Some(path.to_path_buf()).filter(|p| p.is_file()),
        None => find_kubectl(),
    }
    .ok_or(Error::KustomizeUnavailable)?;
    let out = Command::new(&kubectl)
        .arg("kustomize")
        .args(flags)
        .arg(dir)
        .output()
        .map_err(|e| Error::Read { file: kubectl.display().to_string(), source: e })?;
    if !out.status.success() {
        return Err(Error::Kustomize {
            path: relative.to_owned(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    String::from_utf8(out.stdout).map_err(|_| Error::Kustomize {
        path: relative.to_owned(),
        message: "output is not UTF-8".into(),
    })
}

/// Resolve `.` and `..` lexically (the artifact has no symlinks; [`confine`] checks that).
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// `to` relative to the directory `from` (both absolute and normalized).
fn relative_to(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to_parts: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part);
    }
    out.display().to_string()
}
