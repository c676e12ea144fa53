//! What the external clients read from the cluster — Secrets (master passwords, the connection
//! Secret) and DBSubnetGroups — behind a trait so they can be exercised without an API server.

use std::collections::BTreeMap;
use std::future::Future;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::dbsubnetgroup::DbSubnetGroup;

/// The data of a Secret: key → raw bytes.
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// Reading an object failed (not "it does not exist": that is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
#[error("cannot get {object}: {source}")]
pub struct ReadError {
    /// What was read, e.g. `Secret team-a/db-password`.
    pub object: String,
    /// Why.
    #[source]
    pub source: kube::Error,
}

/// Reads the cluster.
pub trait Cluster: Send + Sync + 'static {
    /// The data of Secret `namespace/name`, or `None` when it does not exist.
    fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretData>, ReadError>> + Send;

    /// The DBSubnetGroup resource `name`, or `None` when it does not exist.
    fn subnet_group(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<DbSubnetGroup>, ReadError>> + Send;
}

impl Cluster for kube::Client {
    async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<SecretData>, ReadError> {
        let api: Api<Secret> = Api::namespaced(self.clone(), namespace);
        let secret = api
            .get_opt(name)
            .await
            .map_err(|source| ReadError { object: format!("Secret {namespace}/{name}"), source })?;
        Ok(secret.map(|s| s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect()))
    }

    async fn subnet_group(&self, name: &str) -> Result<Option<DbSubnetGroup>, ReadError> {
        let api: Api<DbSubnetGroup> = Api::all(self.clone());
        api.get_opt(name)
            .await
            .map_err(|source| ReadError { object: format!("DBSubnetGroup {name}"), source })
    }
}
