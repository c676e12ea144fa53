//! AWS provider for Crosstie: the classic Crossplane provider-aws APIs for RDS.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// The CRDs this provider serves.
pub fn crds() -> Vec<CustomResourceDefinition> {
    Vec::new()
}
