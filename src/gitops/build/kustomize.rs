//! Folders with a `kustomization.yaml` are built by the kustomize embedded in kubectl
//! (`kubectl kustomize DIR`), found in `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Error;

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

/// Run `kubectl kustomize dir` (with `kubectl`, else the one in `PATH`) and return its YAML.
pub fn build(kubectl: Option<&Path>, dir: &Path, relative: &str) -> Result<String, Error> {
    let kubectl = match kubectl {
        Some(path) => Some(path.to_path_buf()).filter(|p| p.is_file()),
        None => find_kubectl(),
    }
    .ok_or(Error::KustomizeUnavailable)?;
    let out = Command::new(&kubectl)
        .arg("kustomize")
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
