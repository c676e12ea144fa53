//! The `crosstie render` and `crosstie trace` commands, kept out of `main.rs` so they can be
//! tested.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Discovery, Scope};
use serde_json::Value;

use super::ANNOTATION_RESOURCE_NAME;
use super::render::{Observed, render};
use super::select::{SelectError, select};
use super::status::composite_conditions;
use super::trace;
use super::types::Composition;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not the YAML expected.
    #[error("cannot parse {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The composite cannot be rendered at all.
    #[error(transparent)]
    Render(#[from] super::RenderError),
    /// No Composition fits the composite.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// Output could not be serialized.
    #[error("cannot write YAML: {0}")]
    Yaml(String),
    /// `KIND/NAME` is malformed or names an unknown kind.
    #[error("{0}")]
    Usage(String),
    /// The API server call failed.
    #[error("{context}: {}", crosstie_runtime::patch::describe(source))]
    Kube {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: kube::Error,
    },
}

/// What `crosstie render` prints: the composite then every composed resource as YAML
/// documents, and one message per resource that failed.
#[derive(Debug)]
pub struct RenderOutput {
    /// Multi-document YAML.
    pub yaml: String,
    /// Per-resource errors; non-empty means a non-zero exit.
    pub errors: Vec<String>,
}

/// Renders the composite in `xr_path` with a Composition from `composition_path` (one or more
/// documents, selected as the controller would), offline.
/// `observed_dir` holds YAML of observed composed resources (annotated with
/// `crossplane.io/composition-resource-name`); Secrets so annotated supply that resource's
/// connection details.
pub fn render_files(
    xr_path: &Path,
    composition_path: &Path,
    observed_dir: Option<&Path>,
) -> Result<RenderOutput, CommandError> {
    let xr = single(xr_path)?;
    let compositions = documents(composition_path)?
        .into_iter()
        .enumerate()
        .map(|(i, doc)| {
            serde_json::from_value::<Composition>(doc).map_err(|e| CommandError::Parse {
                path: composition_path.to_owned(),
                reason: format!("document {i} is not a Composition: {e}"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let composition = select(&xr, &compositions, None, None)?;
    let observed = match observed_dir {
        Some(dir) => observed_from_dir(dir)?,
        None => Observed::default(),
    };
    let rendered = render(&xr, composition, &observed)?;
    let mut composite = rendered.composite.clone();
    if !composite["status"].is_object() {
        composite["status"] = serde_json::json!({});
    }
    composite["status"]["conditions"] = serde_json::json!(composite_conditions(&rendered));
    let secret =
        (!rendered.connection_details.is_empty()).then(|| connection_secret(&composite, &rendered));
    let mut yaml = String::new();
    for doc in std::iter::once(&composite).chain(rendered.composed()).chain(secret.as_ref()) {
        yaml.push_str("---\n");
        yaml.push_str(
            &serde_saphyr::to_string(doc).map_err(|e| CommandError::Yaml(e.to_string()))?,
        );
    }
    Ok(RenderOutput { yaml, errors: rendered.errors() })
}

/// The composite's connection Secret as `crosstie render` shows it: values as `stringData` so
/// a reader can check them.
fn connection_secret(composite: &Value, rendered: &super::Rendered) -> Value {
    let data: serde_json::Map<String, Value> = rendered
        .connection_details
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(String::from_utf8_lossy(v).into_owned())))
        .collect();
    let secret_ref = &composite["spec"]["writeConnectionSecretToRef"];
    let mut metadata =
        serde_json::json!({"name": secret_ref["name"].as_str().unwrap_or("connection-details")});
    if let Some(namespace) = secret_ref["namespace"].as_str() {
        metadata["namespace"] = namespace.into();
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "connection.crossplane.io/v1alpha1",
        "stringData": data,
    })
}

fn read(path: &Path) -> Result<String, CommandError> {
    std::fs::read_to_string(path)
        .map_err(|source| CommandError::Read { path: path.to_owned(), source })
}

fn documents(path: &Path) -> Result<Vec<Value>, CommandError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(&read(path)?)
        .map_err(|e| CommandError::Parse { path: path.to_owned(), reason: e.to_string() })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn single(path: &Path) -> Result<Value, CommandError> {
    let mut docs = documents(path)?;
    match docs.len() {
        1 => Ok(docs.remove(0)),
        n => Err(CommandError::Parse {
            path: path.to_owned(),
            reason: format!("want exactly one YAML document, found {n}"),
        }),
    }
}

fn observed_from_dir(dir: &Path) -> Result<Observed, CommandError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|source| CommandError::Read { path: dir.to_owned(), source })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let mut objects = Vec::new();
    let mut secrets = BTreeMap::new();
    for path in paths {
        for doc in documents(&path)? {
            let resource = doc["metadata"]["annotations"][ANNOTATION_RESOURCE_NAME]
                .as_str()
                .map(str::to_owned);
            match (doc["kind"].as_str(), resource) {
                (Some("Secret"), Some(resource)) => {
                    secrets.insert(resource, secret_data(&doc, &path)?);
                }
                _ => objects.push(doc),
            }
        }
    }
    let mut observed = Observed::from_objects(objects);
    observed.connection_details = secrets;
    Ok(observed)
}

/// A Secret's `data` (base64) and `stringData` as bytes.
fn secret_data(secret: &Value, path: &Path) -> Result<BTreeMap<String, Vec<u8>>, CommandError> {
    use base64::Engine as _;
    let mut out = BTreeMap::new();
    for (key, value) in secret["data"].as_object().into_iter().flatten() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .map_err(|e| CommandError::Parse {
                path: path.to_owned(),
                reason: format!("data.{key}: {e}"),
            })?;
        out.insert(key.clone(), bytes);
    }
    for (key, value) in secret["stringData"].as_object().into_iter().flatten() {
        out.insert(key.clone(), value.as_str().unwrap_or_default().as_bytes().to_vec());
    }
    Ok(out)
}

/// Fetches the tree below `KIND/NAME` and prints it as a table.
pub async fn trace(
    client: kube::Client,
    target: &str,
    namespace: Option<&str>,
) -> Result<String, CommandError> {
    let (kind, name) = target
        .split_once('/')
        .filter(|(k, n)| !k.is_empty() && !n.is_empty())
        .ok_or_else(|| CommandError::Usage(format!("want KIND/NAME, got {target:?}")))?;
    let discovery = Discovery::new(client.clone()).run().await.map_err(|source| {
        CommandError::Kube { context: "cannot discover API resources".into(), source }
    })?;
    let wanted = kind.to_lowercase();
    let (resource, caps) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(r, _)| {
            r.kind.to_lowercase() == wanted
                || r.plural == wanted
                || format!("{}.{}", r.plural, r.group) == wanted
        })
        .ok_or_else(|| CommandError::Usage(format!("unknown kind {kind:?}")))?;
    let api: Api<DynamicObject> = match (&caps.scope, namespace) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        (Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), &resource),
        (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
    };
    let root = api.get(name).await.map_err(|source| CommandError::Kube {
        context: format!("cannot get {kind}/{name}"),
        source,
    })?;
    let root = to_value(root);
    let mut found = Vec::new();
    let mut pending = trace::children(&root);
    // Bounded, so a reference cycle in hand-edited objects cannot loop forever.
    while let Some(r) = pending.pop().filter(|_| found.len() < 500) {
        if let Some(object) = fetch(&client, &r).await {
            pending.extend(trace::children(&object));
            found.push(object);
        }
    }
    Ok(trace::table(&trace::tree(&root, &found)))
}

async fn fetch(client: &kube::Client, r: &trace::ObjectRef) -> Option<Value> {
    let (group, version) = r.api_version.rsplit_once('/').unwrap_or(("", &r.api_version));
    let gvk = GroupVersionKind::gvk(group, version, &r.kind);
    let (resource, _) = discovery::pinned_kind(client, &gvk).await.ok()?;
    let api: Api<DynamicObject> = match &r.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.get_opt(&r.name).await.ok().flatten().map(to_value)
}

fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or_default()
}
