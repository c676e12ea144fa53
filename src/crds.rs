//! Every CustomResourceDefinition Crosstie serves, generated from the Rust types.
//!
//! `crds/` holds the same definitions, one file per CRD, so users can `kubectl apply -f crds/`
//! against an existing cluster; `tests/crds.rs` fails when those files are stale.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// All CRDs, sorted by name.
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = crosstie_provider_aws::crds();
    crds.extend(crate::composition::crds());
    crds.extend(crate::gitops::crds());
    crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    crds
}

/// One CRD as YAML, exactly as stored in `crds/<name>.yaml`.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_saphyr::ser::Error> {
    serde_saphyr::to_string(crd)
}

/// All CRDs as multi-document YAML: what `crosstie crds` prints.
pub fn all_yaml() -> Result<String, serde_saphyr::ser::Error> {
    let mut out = String::new();
    for crd in all() {
        out.push_str("---\n");
        out.push_str(&to_yaml(&crd)?);
    }
    Ok(out)
}
