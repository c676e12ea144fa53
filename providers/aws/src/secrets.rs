//! Reading Kubernetes Secrets (master passwords, the connection Secret), behind a trait so the
//! external clients can be exercised without an API server.

use std::collections::BTreeMap;
use std::future::Future;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

/// The data of a Secret: key → raw bytes.
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// Reading a Secret failed (not "it does not exist": that is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
#[error("cannot get Secret {namespace}/{name}: {source}")]
pub struct SecretError {
    /// Namespace of the Secret.
    pub namespace: String,
    /// Name of the Secret.
    pub name: String,
    /// Why.
    #[source]
    pub source: kube::Error,
}

/// Reads Secrets.
pub trait SecretStore: Send + Sync + 'static {
    /// The data of Secret `namespace/name`, or `None` when it does not exist.
    fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretData>, SecretError>> + Send;
}

impl SecretStore for kube::Client {
    async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<SecretData>, SecretError> {
        let api: Api<Secret> = Api::namespaced(self.clone(), namespace);
        let secret = api.get_opt(name).await.map_err(|source| SecretError {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source,
        })?;
        Ok(secret.map(|s| s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect()))
    }
}
