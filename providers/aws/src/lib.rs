//! AWS provider for Crosstie: the classic Crossplane provider-aws APIs for RDS.
//!
//! Kinds (one folder each: `types` / pure `convert` / `external`):
//! - [`ProviderConfig`] and [`ProviderConfigUsage`] (`aws.crossplane.io/v1beta1`),
//! - [`RdsInstance`] (`RDSInstance`) and [`DbSubnetGroup`] (`DBSubnetGroup`) in
//!   `database.aws.crossplane.io/v1beta1`.
//!
//! [`AwsConnector`] implements `crosstie_runtime::Connector` for both managed kinds; every AWS
//! call goes through [`api::RdsApi`] and is counted in [`AwsMetrics`].

pub mod api;
pub mod cluster;
pub mod config;
pub mod dbsubnetgroup;
pub mod metrics;
pub mod observation;
pub mod rdsinstance;

use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::core::ApiResource;

pub use config::{AwsClient, AwsConnector, ProviderConfig, ProviderConfigUsage};
pub use dbsubnetgroup::{DbSubnetGroup, DbSubnetGroupExternal};
pub use metrics::AwsMetrics;
pub use rdsinstance::{RdsInstance, RdsInstanceExternal};

/// The CRDs this provider serves: ProviderConfig, ProviderConfigUsage, RDSInstance and
/// DBSubnetGroup.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        ProviderConfig::crd(),
        ProviderConfigUsage::crd(),
        RdsInstance::crd(),
        DbSubnetGroup::crd(),
    ]
}

/// Run the controllers of every kind of this provider, and its ProviderConfig controller, until
/// shutdown. `metrics` collects the engine's figures, `aws_metrics` the AWS calls.
pub async fn run(
    client: kube::Client,
    config: crosstie_runtime::Config,
    metrics: Arc<crosstie_runtime::Metrics>,
    aws_metrics: AwsMetrics,
) {
    let kinds = crosstie_runtime::ProviderConfigKinds {
        provider_config: provider_config_api_resource(),
        usage: provider_config_usage_api_resource(),
    };
    let connector = AwsConnector::new(client.clone(), aws_metrics, config.poll_interval);
    crosstie_runtime::Runtime::new(client.clone(), config.clone(), kinds, metrics)
        .manage::<RdsInstance, _>(connector.clone())
        .manage::<DbSubnetGroup, _>(connector)
        .run()
        .await;
}

/// The API resource of `ProviderConfig`, for the runtime's usage tracking.
pub fn provider_config_api_resource() -> ApiResource {
    ApiResource::erase::<ProviderConfig>(&())
}

/// The API resource of `ProviderConfigUsage`, for the runtime's usage tracking. Its
/// `providerConfigRef` and `resourceRef` are top-level fields, as in crossplane-runtime.
pub fn provider_config_usage_api_resource() -> ApiResource {
    ApiResource::erase::<ProviderConfigUsage>(&())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crds_have_crossplane_names_and_scope() {
        let crds = crds();
        let names: Vec<_> =
            crds.iter().map(|c| c.metadata.name.clone().unwrap_or_default()).collect();
        assert_eq!(
            names,
            [
                "providerconfigs.aws.crossplane.io",
                "providerconfigusages.aws.crossplane.io",
                "rdsinstances.database.aws.crossplane.io",
                "dbsubnetgroups.database.aws.crossplane.io",
            ]
        );
        assert!(crds.iter().all(|c| c.spec.scope == "Cluster"), "all kinds are cluster-scoped");
        let rds = &crds[2];
        assert_eq!(rds.spec.names.kind, "RDSInstance");
        assert_eq!(
            rds.spec.names.categories.as_deref(),
            Some(&["crossplane".to_owned(), "managed".to_owned(), "aws".to_owned()][..])
        );
        let version = &rds.spec.versions[0];
        let columns: Vec<_> =
            version.additional_printer_columns.iter().flatten().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, ["READY", "SYNCED", "STATE", "ENGINE", "VERSION", "AGE"]);
        assert!(
            version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some(),
            "status subresource"
        );
    }

    #[test]
    fn usage_api_resources_point_at_the_crossplane_group() {
        let usage = provider_config_usage_api_resource();
        assert_eq!(
            (usage.group.as_str(), usage.kind.as_str(), usage.plural.as_str()),
            ("aws.crossplane.io", "ProviderConfigUsage", "providerconfigusages")
        );
        assert_eq!(provider_config_api_resource().plural, "providerconfigs");
    }
}
