//! Crossplane-compatible compositions: XRDs, Compositions, composites and claims.
//!
//! The core is pure — [`xrd`] turns an XRD into CRDs, [`select`] picks a Composition,
//! [`render()`] turns a composite into composed resources, [`composite`] and [`claim`] decide
//! what to record and publish, [`trace`] builds the claim → composite → resources tree — and
//! the controllers in [`controller`] and the CLI in [`command`] are thin IO around it.

pub mod claim;
pub mod command;
pub mod composite;
pub mod controller;
pub mod fieldpath;
pub mod format;
pub mod patch;
pub mod pt;
pub mod readiness;
pub mod render;
pub mod select;
pub mod status;
pub mod trace;
pub mod transform;
pub mod types;
pub mod xrd;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt as _;

pub use controller::{CompositionMetrics, run};
pub use render::{ComposedResource, Observed, RenderError, Rendered, render};
pub use types::{
    CompositeResourceDefinition, CompositeResourceDefinitionSpec, Composition, CompositionSpec,
};

/// Label on composed resources naming their composite.
pub const LABEL_COMPOSITE: &str = "crossplane.io/composite";
/// Label on composites (and their composed resources) naming the claim.
pub const LABEL_CLAIM_NAME: &str = "crossplane.io/claim-name";
/// Label on composites (and their composed resources) naming the claim's namespace.
pub const LABEL_CLAIM_NAMESPACE: &str = "crossplane.io/claim-namespace";
/// Annotation on composed resources naming their template in the Composition.
pub const ANNOTATION_RESOURCE_NAME: &str = "crossplane.io/composition-resource-name";

/// The CRDs of XRDs and Compositions.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![CompositeResourceDefinition::crd(), Composition::crd()]
}
