//! `ProviderConfig` / `ProviderConfigUsage` (`aws.crossplane.io/v1beta1`) and the connector that
//! turns them into AWS clients.

pub mod convert;
pub mod external;
pub mod types;

pub use external::{
    AwsClient, AwsConnector, ConnectError, ResolvedCredentials, rds_client, resolve_credentials,
};
pub use types::{ProviderConfig, ProviderConfigSpec, ProviderConfigStatus, ProviderConfigUsage};
