//! Building a Kustomization: artifact directory + `spec.path` → the objects to apply.
//!
//! Pure except for reading files and running `kubectl kustomize`:
//! 1. `locate`: resolve `spec.path` inside the artifact (never outside it);
//! 2. `render`: `kubectl kustomize` for kustomization folders or when the spec has patches,
//!    images or components; else every YAML file;
//! 3. `parse` + `substitute`: per document, unless the object opts out;
//! 4. `normalize`: `targetNamespace`, Flux's ownership labels, identity checks.

pub mod inventory;
pub mod kustomize;
pub mod substitute;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use yaml::Document;

/// Label naming the Kustomization that applied an object.
pub const NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// Label naming the namespace of the Kustomization that applied an object.
pub const NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";

/// Why a build failed; every variant names the file, line or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `spec.path` is absent from the artifact or escapes it.
    #[error("spec.path: {0}")]
    Path(String),
    /// A file could not be read.
    #[error("cannot read {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A YAML document does not parse.
    #[error("{file}:{line}: invalid YAML: {message}")]
    InvalidYaml {
        /// File relative to the artifact root.
        file: String,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A document is not a Kubernetes object.
    #[error("{origin}: {message}")]
    InvalidObject {
        /// `file:line`.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The folder has a kustomization.yaml but no kubectl was found.
    #[error("kustomization.yaml needs kustomize: kubectl was not found in PATH")]
    KustomizeUnavailable,
    /// `kubectl kustomize` failed.
    #[error("kustomize build {path} failed: {message}")]
    Kustomize {
        /// The folder.
        path: String,
        /// kustomize's stderr.
        message: String,
    },
    /// Variable substitution failed.
    #[error("post-build substitution failed: {0}")]
    Substitution(String),
}

/// What to build.
#[derive(Clone, Debug, Default)]
pub struct BuildRequest {
    /// The artifact directory.
    pub artifact_dir: PathBuf,
    /// `spec.path` (default: the root).
    pub path: Option<String>,
    /// The Kustomization's name and namespace, for the ownership labels.
    pub name: String,
    /// The Kustomization's namespace.
    pub namespace: String,
    /// `spec.targetNamespace`.
    pub target_namespace: Option<String>,
    /// `spec.commonMetadata`: labels and annotations added to every object.
    pub common_metadata: crate::gitops::api::kustomization::CommonMetadata,
    /// Merged post-build variables; `None` when `spec.postBuild` is absent.
    pub vars: Option<BTreeMap<String, String>>,
    /// `spec.patches`, `spec.images`, `spec.components`.
    pub overlay: kustomize::Overlay,
    /// kubectl to use for kustomization folders (default: from `PATH`).
    pub kubectl: Option<PathBuf>,
}

/// Kinds that are cluster-scoped, so `targetNamespace` skips them; the apply step corrects
/// any other kind with discovery. (Crossplane v2 `ProviderConfig`s can be namespaced.)
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "CompositeResourceDefinition",
    "Composition",
    "CompositionRevision",
    "Provider",
    "Function",
    "Configuration",
];

/// Build the objects for a Kustomization.
pub fn build(request: &BuildRequest) -> Result<Vec<Value>, Error> {
    let (dir, relative) = locate(&request.artifact_dir, request.path.as_deref())?;
    let documents = if !request.overlay.is_empty() {
        let files =
            if kustomize::is_kustomization(&dir) { Vec::new() } else { yaml::yaml_files(&dir)? };
        let output = kustomize::build_with_overlay(
            request.kubectl.as_deref(),
            &request.artifact_dir,
            &dir,
            &files,
            &relative,
            &request.overlay,
        )?;
        yaml::split_documents(&format!("kustomize build {relative}"), &output)
    } else if kustomize::is_kustomization(&dir) {
        let output = kustomize::build(request.kubectl.as_deref(), &dir, &relative)?;
        yaml::split_documents(&format!("kustomize build {relative}"), &output)
    } else {
        yaml::read_dir(&request.artifact_dir, &dir)?
    };
    let mut objects = Vec::with_capacity(documents.len());
    let mut seen = BTreeSet::new();
    for document in &documents {
        let Some(object) = parse_and_substitute(document, request.vars.as_ref())? else { continue };
        let object = normalize(object, document, request)?;
        let id = inventory::entry_for(&object).id;
        if !seen.insert(id.clone()) {
            return Err(Error::InvalidObject {
                origin: document.origin(),
                message: format!("duplicate object {id}"),
            });
        }
        objects.push(object);
    }
    Ok(objects)
}

/// Resolve `path` inside `root`, refusing absolute paths and `..`.
fn locate(root: &Path, path: Option<&str>) -> Result<(PathBuf, String), Error> {
    let path = path.unwrap_or("./");
    let relative = Path::new(path);
    if relative
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::RootDir | Component::Prefix(_)))
    {
        return Err(Error::Path(format!(
            "{path:?} must be relative to the source root, without \"..\""
        )));
    }
    let dir = root.join(relative);
    if !dir.is_dir() {
        return Err(Error::Path(format!("{path:?} not found in the source artifact")));
    }
    Ok((dir, path.to_owned()))
}

fn parse_and_substitute(
    document: &Document,
    vars: Option<&BTreeMap<String, String>>,
) -> Result<Option<Value>, Error> {
    let Some(object) = document.parse()? else { return Ok(None) };
    let Some(vars) = vars else { return Ok(Some(object)) };
    let opted_out = ["annotations", "labels"].iter().any(|field| {
        object["metadata"][field][substitute::SUBSTITUTE_ANNOTATION].as_str() == Some("disabled")
    });
    if opted_out {
        return Ok(Some(object));
    }
    let text = substitute::substitute(&document.text, vars, &document.origin())?;
    Document { text, ..document.clone() }.parse()
}

/// Check identity fields, apply `targetNamespace`, `commonMetadata` and the ownership labels.
fn normalize(
    mut object: Value,
    document: &Document,
    request: &BuildRequest,
) -> Result<Value, Error> {
    let invalid = |message: &str| Error::InvalidObject {
        origin: document.origin(),
        message: message.to_owned(),
    };
    if !object.is_object() {
        return Err(invalid("document is not a mapping"));
    }
    for field in ["apiVersion", "kind"] {
        if object[field].as_str().is_none_or(str::is_empty) {
            return Err(invalid(&format!("missing {field}")));
        }
    }
    if object["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        return Err(invalid("missing metadata.name"));
    }
    let cluster_scoped =
        CLUSTER_SCOPED_KINDS.contains(&object["kind"].as_str().unwrap_or_default());
    let metadata =
        object["metadata"].as_object_mut().ok_or_else(|| invalid("metadata is not a mapping"))?;
    if let (Some(target), false) = (&request.target_namespace, cluster_scoped) {
        metadata.insert("namespace".into(), Value::String(target.clone()));
    }
    let common = &request.common_metadata;
    let ownership = [
        (NAME_LABEL.to_owned(), request.name.clone()),
        (NAMESPACE_LABEL.to_owned(), request.namespace.clone()),
    ];
    let labels = common.labels.clone().into_iter().chain(ownership);
    let additions: [(&str, Vec<(String, String)>); 2] = [
        ("labels", labels.collect()),
        ("annotations", common.annotations.clone().into_iter().collect()),
    ];
    for (field, entries) in additions {
        if entries.is_empty() {
            continue;
        }
        let map = metadata.entry(field).or_insert_with(|| Value::Object(Default::default()));
        let map = map
            .as_object_mut()
            .ok_or_else(|| invalid(&format!("metadata.{field} is not a mapping")))?;
        for (key, value) in entries {
            map.insert(key, Value::String(value));
        }
    }
    Ok(object)
}
