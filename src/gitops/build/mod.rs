//! Building a Kustomization: artifact directory + `spec.path` → the objects to apply.
//!
//! Pure except for reading files and running `kubectl kustomize`:
//! 1. `locate`: resolve `spec.path` inside the artifact (never outside it; a leading `/` is the
//!    artifact root, as in Flux);
//! 2. `render`: `kubectl kustomize` for kustomization folders or when the spec has patches,
//!    images or components; else every YAML file, with nested kustomization folders built by
//!    kustomize and kustomize's own config files skipped (Flux's generator); `v1` `List`s are
//!    expanded;
//! 3. `parse` + `substitute`: per document, unless the object opts out;
//! 4. `normalize`: `targetNamespace`, Flux's ownership labels, identity checks.

pub mod confine;
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
    /// `spec.path` (or a component) escapes the artifact.
    #[error("spec.path: {0}")]
    Path(String),
    /// `spec.path` is absent from this revision of the artifact (a later commit may add it).
    #[error("kustomization path not found: {0:?} is not a directory of the source artifact")]
    PathNotFound(String),
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
    /// A kustomization refers to a file outside the source artifact.
    #[error("{origin}: {reference:?} is outside the source artifact")]
    OutsideSource {
        /// The file holding the reference, relative to the artifact root.
        origin: String,
        /// The reference as written.
        reference: String,
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
    let root = &request.artifact_dir;
    let kubectl = request.kubectl.as_deref();
    let kustomized = |output: String, relative: &str| {
        yaml::split_documents(&format!("kustomize build {relative}"), &output)
    };
    let documents = if kustomize::is_kustomization(&dir) && request.overlay.is_empty() {
        kustomized(kustomize::build(kubectl, root, &dir, &relative)?, &relative)
    } else if kustomize::is_kustomization(&dir) {
        let output = kustomize::build_with_overlay(
            kubectl,
            root,
            &dir,
            std::slice::from_ref(&dir),
            &relative,
            &request.overlay,
        )?;
        kustomized(output, &relative)
    } else {
        let folder = yaml::scan(&dir)?;
        if request.overlay.is_empty() {
            let mut documents = yaml::read_files(root, &folder.files)?;
            for nested in &folder.kustomizations {
                let relative = nested.strip_prefix(root).unwrap_or(nested).display().to_string();
                let output = kustomize::build(kubectl, root, nested, &relative)?;
                documents.extend(kustomized(output, &relative));
            }
            documents
        } else {
            let mut resources = Vec::new();
            for file in folder.files {
                // Kustomize's own config files are not resources.
                let documents = yaml::read_files(root, std::slice::from_ref(&file))?;
                let config = documents.iter().any(|d| {
                    d.parse().ok().flatten().is_some_and(|o| yaml::is_kustomize_config(&o))
                });
                if !config {
                    resources.push(file);
                }
            }
            resources.extend(folder.kustomizations);
            let overlay = &request.overlay;
            let output =
                kustomize::build_with_overlay(kubectl, root, &dir, &resources, &relative, overlay)?;
            kustomized(output, &relative)
        }
    };
    let mut objects = Vec::with_capacity(documents.len());
    let mut seen = BTreeSet::new();
    for document in &documents {
        let Some(object) = parse_and_substitute(document, request.vars.as_ref())? else { continue };
        if yaml::is_kustomize_config(&object) {
            continue;
        }
        for object in expand_list(object, document)? {
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
    }
    Ok(objects)
}

/// The items of a `v1` `List`, as kustomize expands them; any other object as is.
fn expand_list(object: Value, document: &Document) -> Result<Vec<Value>, Error> {
    if object["apiVersion"] != "v1" || object["kind"] != "List" {
        return Ok(vec![object]);
    }
    match object.get("items") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(_) => Err(Error::InvalidObject {
            origin: document.origin(),
            message: "List items is not a sequence".into(),
        }),
    }
}

/// Check `spec.path`: relative to the artifact root, where a leading `/` means the root (Flux
/// joins it securely inside the root), and never through `..`.
pub fn check_path(path: &str) -> Result<&Path, Error> {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative.components().any(|c| matches!(c, Component::ParentDir | Component::Prefix(_))) {
        return Err(Error::Path(format!(
            "{path:?} must stay inside the source root, without \"..\""
        )));
    }
    Ok(relative)
}

/// Resolve `path` inside `root` ([`check_path`]); returns the directory and the path to show.
fn locate(root: &Path, path: Option<&str>) -> Result<(PathBuf, String), Error> {
    let path = path.unwrap_or("./");
    let relative = check_path(path)?;
    let dir = root.join(relative);
    if !dir.is_dir() {
        return Err(Error::PathNotFound(path.to_owned()));
    }
    let shown = relative.display().to_string();
    Ok((dir, if shown.is_empty() { "./".to_owned() } else { shown }))
}

/// Parse a document and apply `postBuild` substitution to the object as YAML, as Flux does to
/// the kustomize output: comments in the source files are gone by then, so a `$` in a comment
/// never fails the build.
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
    let serialized = serde_saphyr::to_string(&object)
        .map_err(|e| Error::Substitution(format!("{}: {e}", document.origin())))?;
    let text = substitute::substitute(&serialized, vars, &document.origin())?;
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
