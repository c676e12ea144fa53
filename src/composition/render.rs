//! The render engine: composite + Composition + observed state → desired composed resources.
//!
//! Pure and deterministic: the controller and `crosstie render` share it, so what the CLI
//! prints is what the controller applies.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::patch::{self, Direction};
use super::pt::{ComposedTemplate, PatchSet, PtInput};
use super::readiness;
use super::types::{Composition, CompositionMode};
use super::{ANNOTATION_RESOURCE_NAME, LABEL_CLAIM_NAME, LABEL_CLAIM_NAMESPACE, LABEL_COMPOSITE};

/// API version and kind of the function-patch-and-transform input run natively.
pub const PT_INPUT_API_VERSION: &str = "pt.fn.crossplane.io/v1beta1";

/// What the controller observed of the composite's composed resources.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Composed resources, by `crossplane.io/composition-resource-name`.
    pub resources: BTreeMap<String, Value>,
    /// Connection Secret data of composed resources, by composition resource name.
    pub connection_details: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
}

impl Observed {
    /// Indexes observed objects by their composition resource name annotation; objects without
    /// it are ignored.
    pub fn from_objects(objects: impl IntoIterator<Item = Value>) -> Self {
        let resources = objects
            .into_iter()
            .filter_map(|o| {
                let name =
                    o["metadata"]["annotations"][ANNOTATION_RESOURCE_NAME].as_str()?.to_owned();
                Some((name, o))
            })
            .collect();
        Self { resources, connection_details: BTreeMap::new() }
    }
}

/// One composed resource as rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct ComposedResource {
    /// Composition resource name (the template name).
    pub name: String,
    /// The desired object, or why it could not be rendered. A failed resource must be left as
    /// it is — neither updated nor deleted.
    pub desired: Result<Value, String>,
    /// Whether the observed resource passes its readiness checks (false when not observed yet).
    pub ready: bool,
}

/// The result of a render.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The composite after `ToCompositeFieldPath` / `CombineToComposite` patches.
    pub composite: Value,
    /// Every composed resource, in Composition order.
    pub resources: Vec<ComposedResource>,
    /// The composite's connection details.
    pub connection_details: BTreeMap<String, Vec<u8>>,
}

impl Rendered {
    /// Desired objects of the resources that rendered.
    pub fn composed(&self) -> impl Iterator<Item = &Value> {
        self.resources.iter().filter_map(|r| r.desired.as_ref().ok())
    }

    /// One message per resource that failed to render, naming it.
    pub fn errors(&self) -> Vec<String> {
        self.resources
            .iter()
            .filter_map(|r| {
                r.desired
                    .as_ref()
                    .err()
                    .map(|e| format!("cannot compose resource {:?}: {e}", r.name))
            })
            .collect()
    }

    /// Names of resources that are not ready, in Composition order.
    pub fn unready(&self) -> Vec<&str> {
        self.resources.iter().filter(|r| !r.ready).map(|r| r.name.as_str()).collect()
    }
}

/// Why a composite cannot be rendered at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The composite has no `metadata.name`.
    #[error("composite has no metadata.name")]
    UnnamedComposite,
    /// The Composition is for another composite kind.
    #[error("composition {composition:?} composes {want}, not {got}")]
    WrongCompositeType {
        /// The Composition.
        composition: String,
        /// Its `compositeTypeRef`.
        want: String,
        /// The composite's apiVersion and kind.
        got: String,
    },
    /// A pipeline step runs a function Crosstie does not run natively.
    #[error(
        "pipeline step {step:?}: function {function:?} is not supported: Crosstie runs \
         function-patch-and-transform (input {PT_INPUT_API_VERSION} Resources) and \
         function-auto-ready natively"
    )]
    UnsupportedFunction {
        /// The step.
        step: String,
        /// Its function.
        function: String,
    },
    /// A patch-and-transform step's input does not parse.
    #[error("pipeline step {step:?}: invalid {PT_INPUT_API_VERSION} Resources input: {reason}")]
    InvalidInput {
        /// The step.
        step: String,
        /// What is wrong.
        reason: String,
    },
    /// Two templates share a name.
    #[error("composition {composition:?}: resource name {name:?} is used twice")]
    DuplicateResource {
        /// The Composition.
        composition: String,
        /// The repeated name.
        name: String,
    },
}

/// Renders `xr` through `composition` given what was observed.
pub fn render(
    xr: &Value,
    composition: &Composition,
    observed: &Observed,
) -> Result<Rendered, RenderError> {
    let xr_name = xr["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or(RenderError::UnnamedComposite)?;
    let comp_name = composition.metadata.name.clone().unwrap_or_default();
    let want = &composition.spec.composite_type_ref;
    let got =
        (xr["apiVersion"].as_str().unwrap_or_default(), xr["kind"].as_str().unwrap_or_default());
    if (want.api_version.as_str(), want.kind.as_str()) != got {
        return Err(RenderError::WrongCompositeType {
            composition: comp_name,
            want: format!("{}/{}", want.api_version, want.kind),
            got: format!("{}/{}", got.0, got.1),
        });
    }

    let mut rendered = Rendered {
        composite: xr.clone(),
        resources: Vec::new(),
        connection_details: BTreeMap::new(),
    };
    for group in template_groups(composition)? {
        for template in group.templates.iter() {
            if rendered.resources.iter().any(|r| r.name == template.name) {
                return Err(RenderError::DuplicateResource {
                    composition: comp_name,
                    name: template.name.clone(),
                });
            }
            let resource =
                render_one(xr, xr_name, template, &group.patch_sets, observed, &mut rendered);
            rendered.resources.push(resource);
        }
    }
    Ok(rendered)
}

/// Templates and the patch sets they may use: borrowed from a `mode: Resources` Composition,
/// read from a step's input otherwise.
struct TemplateGroup<'a> {
    templates: Cow<'a, [ComposedTemplate]>,
    patch_sets: Cow<'a, [PatchSet]>,
}

/// The template lists a Composition runs, with the patch sets each may use: one for
/// `mode: Resources`, one per patch-and-transform step for `mode: Pipeline`.
fn template_groups(composition: &Composition) -> Result<Vec<TemplateGroup<'_>>, RenderError> {
    let spec = &composition.spec;
    if spec.mode.unwrap_or_default() == CompositionMode::Resources {
        return Ok(vec![TemplateGroup {
            templates: Cow::Borrowed(&spec.resources),
            patch_sets: Cow::Borrowed(&spec.patch_sets),
        }]);
    }
    let mut groups = Vec::new();
    for step in &spec.pipeline {
        let Some(input) = &step.input else {
            // function-auto-ready only marks the XR ready when its resources are; render always
            // does that, so the step has nothing to add.
            if step.function_ref.name.contains("auto-ready") {
                continue;
            }
            return Err(RenderError::UnsupportedFunction {
                step: step.step.clone(),
                function: step.function_ref.name.clone(),
            });
        };
        if input["apiVersion"] != PT_INPUT_API_VERSION || input["kind"] != "Resources" {
            return Err(RenderError::UnsupportedFunction {
                step: step.step.clone(),
                function: step.function_ref.name.clone(),
            });
        }
        // Read from the borrowed input: composites render on every change, and the input is
        // most of the Composition.
        let input = PtInput::deserialize(input).map_err(|e| RenderError::InvalidInput {
            step: step.step.clone(),
            reason: e.to_string(),
        })?;
        groups.push(TemplateGroup {
            templates: Cow::Owned(input.resources),
            patch_sets: Cow::Owned(input.patch_sets),
        });
    }
    Ok(groups)
}

fn render_one(
    xr: &Value,
    xr_name: &str,
    template: &ComposedTemplate,
    patch_sets: &[PatchSet],
    observed: &Observed,
    rendered: &mut Rendered,
) -> ComposedResource {
    let seen = observed.resources.get(&template.name);
    let secret = observed.connection_details.get(&template.name);
    let readiness = seen.map(|o| readiness::is_ready(&template.readiness_checks, o)).transpose();
    let ready = matches!(readiness, Ok(Some(true)));
    let result = readiness.and_then(|_| {
        compose(xr, xr_name, template, patch_sets, seen, secret, &rendered.composite)
    });
    // Only a resource that composed cleanly contributes to the composite, so a failing one
    // disturbs nothing else.
    let desired = result.map(|composed| {
        rendered.composite = composed.composite;
        rendered.connection_details.extend(composed.connection_details);
        composed.desired
    });
    ComposedResource { name: template.name.clone(), desired, ready }
}

/// What one template produces.
struct Composed {
    desired: Value,
    composite: Value,
    connection_details: BTreeMap<String, Vec<u8>>,
}

fn compose(
    xr: &Value,
    xr_name: &str,
    template: &ComposedTemplate,
    patch_sets: &[PatchSet],
    seen: Option<&Value>,
    secret: Option<&BTreeMap<String, Vec<u8>>>,
    composite: &Value,
) -> Result<Composed, String> {
    let patches = patch::expand(&template.patches, patch_sets)?;
    let mut desired = template.base.clone();
    let mut composite = composite.clone();
    for p in &patches {
        let result = match (p.direction(), seen) {
            (Direction::FromComposite, _) => patch::apply(p.patch, xr, &mut desired),
            (Direction::ToComposite, Some(seen)) => patch::apply(p.patch, seen, &mut composite),
            // Nothing observed yet: there is nothing to copy back.
            (Direction::ToComposite, None) => Ok(()),
        };
        result.map_err(|e| format!("{}: {e}", p.label))?;
    }
    let connection_details =
        readiness::connection_details(&template.connection_details, seen, secret)?;
    decorate(&mut desired, xr, xr_name, &template.name, seen)?;
    Ok(Composed { desired, composite, connection_details })
}

/// Sets the name, composite labels, resource-name annotation and controller reference.
fn decorate(
    desired: &mut Value,
    xr: &Value,
    xr_name: &str,
    resource: &str,
    seen: Option<&Value>,
) -> Result<(), String> {
    if !desired.is_object() {
        return Err("base must be an object".to_owned());
    }
    let meta = desired["metadata"].take();
    let mut meta = match meta {
        Value::Null => json!({}),
        m @ Value::Object(_) => m,
        _ => return Err("base metadata must be an object".to_owned()),
    };
    let observed_name = seen.and_then(|o| o["metadata"]["name"].as_str());
    if let Some(name) = observed_name {
        meta["name"] = json!(name);
    } else if meta["name"].as_str().is_none_or(str::is_empty) {
        meta["name"] = json!(composed_name(xr_name, resource));
    }
    let labels = &mut meta["labels"];
    if labels.is_null() {
        *labels = json!({});
    }
    labels[LABEL_COMPOSITE] = json!(xr_name);
    for key in [LABEL_CLAIM_NAME, LABEL_CLAIM_NAMESPACE] {
        if let Some(v) = xr["metadata"]["labels"][key].as_str() {
            labels[key] = json!(v);
        }
    }
    let annotations = &mut meta["annotations"];
    if annotations.is_null() {
        *annotations = json!({});
    }
    annotations[ANNOTATION_RESOURCE_NAME] = json!(resource);
    // Offline renders have no UID; an owner reference without one would be rejected.
    if let Some(uid) = xr["metadata"]["uid"].as_str() {
        meta["ownerReferences"] = json!([{
            "apiVersion": xr["apiVersion"],
            "kind": xr["kind"],
            "name": xr_name,
            "uid": uid,
            "controller": true,
            "blockOwnerDeletion": true,
        }]);
    }
    desired["metadata"] = meta;
    Ok(())
}

/// A composed resource's name: `<xr-name>-<5 hex digits>` derived from the composite and the
/// resource name, so it is the same on every render and after a restart — a crash between
/// create and record cannot leak a second cloud resource.
pub fn composed_name(xr_name: &str, resource: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{xr_name}/{resource}"));
    format!("{xr_name}-{}", &hex::encode(digest)[..5])
}
