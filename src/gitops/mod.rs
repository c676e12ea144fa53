//! The Flux-compatible Git loop: GitRepository sources, Kustomization builds and applies, and
//! Receiver webhooks, with Flux's API groups, field names, annotations and condition reasons.
//!
//! - [`api`]: the CRD types;
//! - [`source`]: Git caches, ref selection and artifacts (git2);
//! - [`build`]: artifact directory → objects (pure where possible);
//! - [`drift`], [`health`]: pure comparisons of desired and live objects;
//! - [`apply`]: staged server-side apply, prune and health waits (thin Kubernetes IO);
//! - [`controller`]: the reconcilers and [`controller::run`];
//! - [`receiver`]: the webhook router;
//! - [`trigger`]: `crosstie reconcile …`.
//!
//! Wiring (in the binary): serve [`crds`], spawn `controller::run(client.clone(), data_dir)`,
//! and mount `receiver::router(Arc::new(controller::KubeReceivers::new(client)))` on the
//! webhook listener. Git caches live in `<data_dir>/git/<ns>/<name>.git`, artifacts in
//! `<data_dir>/gitrepository/<ns>/<name>/<sha>/`.

pub mod api;
pub mod apply;
pub mod build;
pub mod controller;
pub mod drift;
pub mod health;
pub mod receiver;
pub mod source;
pub mod trigger;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The CRDs of the Git loop: GitRepository, Kustomization, Receiver.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![api::GitRepository::crd(), api::Kustomization::crd(), api::Receiver::crd()]
}
