//! `crosstie portal export-backstage DIR`: the portal's templates as Backstage scaffolder
//! (`scaffolder.backstage.io/v1beta3`) Templates, for teams already on Backstage. Each claimable
//! XRD becomes `DIR/<xrd>/template.yaml` plus a `skeleton/` holding the claim; the template
//! renders it under `<claims path>/<namespace>/` and opens a pull request into the GitOps
//! repository, the same layout the portal commits.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::Template;
use crate::composition::CompositeResourceDefinition;

/// Why the export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading an XRD file or writing a template failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not valid YAML.
    #[error("{path}: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

/// Export settings.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Directory in the GitOps repository holding claims.
    pub claims_path: String,
    /// `spec.owner` of every template.
    pub owner: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BackstageTemplate {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    title: String,
    description: String,
    tags: Vec<String>,
}

#[derive(Serialize)]
struct Spec {
    owner: String,
    #[serde(rename = "type")]
    type_: String,
    parameters: Vec<Value>,
    steps: Vec<Value>,
    output: Value,
}

/// Backstage file name of the skeleton claim (Backstage templates file names too).
const SKELETON_FILE: &str = "${{ values.name }}.yaml";

/// A Kubernetes object name, as a JSON schema.
fn name_schema(title: &str, description: &str) -> Value {
    json!({
        "title": title,
        "description": description,
        "type": "string",
        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        "maxLength": 63,
    })
}

/// Drops Kubernetes schema extensions (`x-kubernetes-*`) the Backstage form does not know.
fn json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with("x-kubernetes-"))
                .map(|(k, v)| (k.clone(), json_schema(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

/// The files of one template: `(relative path, contents)`.
pub fn files(t: &Template, options: &ExportOptions) -> Result<Vec<(PathBuf, String)>, ExportError> {
    let mut spec_schema = json_schema(&t.schema["properties"]["spec"]);
    spec_schema["title"] = json!(t.kind);
    let spec_required =
        t.schema["required"].as_array().is_none_or(|r| r.iter().any(|n| n == "spec"));
    let target_path =
        format!("{}/${{{{ parameters.namespace }}}}", options.claims_path.trim_matches('/'));
    let template = BackstageTemplate {
        api_version: "scaffolder.backstage.io/v1beta3",
        kind: "Template",
        metadata: Metadata {
            name: t.id.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            tags: vec![t.category.to_lowercase(), "crossplane".into(), "crosstie".into()],
        },
        spec: Spec {
            owner: options.owner.clone(),
            type_: t.category.to_lowercase(),
            parameters: vec![
                json!({
                    "title": t.title,
                    "required": ["name", "namespace"],
                    "properties": {
                        "name": name_schema("Name", &format!("Name of the {}.", t.kind)),
                        "namespace": name_schema("Namespace", "Namespace the claim lives in."),
                    },
                }),
                json!({
                    "title": "Configuration",
                    "required": if spec_required { json!(["spec"]) } else { json!([]) },
                    "properties": {"spec": spec_schema},
                }),
                json!({
                    "title": "Repository",
                    "required": ["repoUrl"],
                    "properties": {"repoUrl": {
                        "title": "GitOps repository",
                        "type": "string",
                        "ui:field": "RepoUrlPicker",
                        "ui:options": {"allowedHosts": ["github.com"]},
                    }},
                }),
            ],
            steps: vec![
                json!({
                    "id": "render",
                    "name": "Render the claim",
                    "action": "fetch:template",
                    "input": {
                        "url": "./skeleton",
                        "targetPath": target_path,
                        "values": {
                            "name": "${{ parameters.name }}",
                            "namespace": "${{ parameters.namespace }}",
                            "spec": "${{ parameters.spec }}",
                        },
                    },
                }),
                json!({
                    "id": "publish",
                    "name": "Open a pull request",
                    "action": "publish:github:pull-request",
                    "input": {
                        "repoUrl": "${{ parameters.repoUrl }}",
                        "branchName": "claim-${{ parameters.namespace }}-${{ parameters.name }}",
                        "title": format!("Add {} ${{{{ parameters.namespace }}}}/${{{{ parameters.name }}}}", t.kind),
                        "description": format!("A {} requested through Backstage.", t.kind),
                    },
                }),
            ],
            output: json!({"links": [
                {"title": "Pull request", "url": "${{ steps['publish'].output.remoteUrl }}"},
            ]}),
        },
    };
    let dir = PathBuf::from(&t.id);
    let template_path = dir.join("template.yaml");
    let yaml = serde_saphyr::to_string(&template)
        .map_err(|e| ExportError::Yaml { path: template_path.clone(), message: e.to_string() })?;
    let skeleton = format!(
        "apiVersion: {}\nkind: {}\nmetadata:\n  name: ${{{{ values.name }}}}\n  namespace: ${{{{ values.namespace }}}}\nspec: ${{{{ values.spec | dump }}}}\n",
        t.api_version, t.kind
    );
    Ok(vec![(template_path.clone(), yaml), (dir.join("skeleton").join(SKELETON_FILE), skeleton)])
}

/// Reads every XRD in `paths` (files or directories of `.yaml`/`.yml` files; other kinds are
/// skipped) and writes their templates under `dir`; returns the files written.
pub fn export(
    paths: &[PathBuf],
    dir: &Path,
    options: &ExportOptions,
) -> Result<Vec<PathBuf>, ExportError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ExportError::Io { path, source }
    };
    let mut sources = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io(path))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            entries.sort();
            sources.extend(entries);
        } else {
            sources.push(path.clone());
        }
    }
    let mut templates = Vec::new();
    for source in &sources {
        let text = std::fs::read_to_string(source).map_err(io(source))?;
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .map_err(|e| ExportError::Yaml { path: source.clone(), message: e.to_string() })?;
        for doc in docs.into_iter().filter(|d| d["kind"] == "CompositeResourceDefinition") {
            let xrd: CompositeResourceDefinition = serde_json::from_value(doc)
                .map_err(|e| ExportError::Yaml { path: source.clone(), message: e.to_string() })?;
            templates.extend(Template::of(&xrd));
        }
    }
    let mut written = Vec::new();
    for template in &templates {
        for (relative, contents) in files(template, options)? {
            let path = dir.join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&path, contents).map_err(io(&path))?;
            written.push(path);
        }
    }
    Ok(written)
}
