//! Every CustomResourceDefinition Crosstie serves, generated from the Rust types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// All CRDs, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = crosstie_provider_aws::crds();
    crds.extend(crate::gitops::crds());
    crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    crds
}

/// All CRDs as multi-document YAML: what `crosstie crds` prints and `crds/` holds.
pub fn all_yaml() -> Result<String, serde_saphyr::ser::Error> {
    let mut out = String::new();
    for crd in all() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd)?);
    }
    Ok(out)
}
