//! Helpers shared by the AWS provider's integration tests: moto-backed clients, an in-memory
//! Secret store standing in for the runtime's connection-secret publishing, and EC2 setup.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crosstie_provider_aws::api::Rds;
use crosstie_provider_aws::config::convert::StaticCredentials;
use crosstie_provider_aws::config::{AwsClient, rds_client};
use crosstie_provider_aws::secrets::{SecretData, SecretError, SecretStore};
use crosstie_provider_aws::{AwsMetrics, RdsInstance};
use crosstie_runtime::ConnectionDetails;

/// Poll interval of the tests' observation cache: long enough that a test never sees a refresh
/// it did not cause.
pub const POLL: Duration = Duration::from_secs(300);

/// Credentials moto accepts (it does not check them).
pub fn credentials() -> StaticCredentials {
    StaticCredentials {
        access_key_id: "AKIDMOTO".into(),
        secret_access_key: "moto-secret".into(),
        session_token: None,
    }
}

/// A plain SDK client on moto, for arranging and checking state outside the provider.
pub fn sdk(endpoint: &str, region: &str) -> aws_sdk_rds::Client {
    rds_client(&credentials(), region, Some(endpoint))
}

/// A provider client on moto whose calls are counted in `metrics`.
pub fn aws(endpoint: &str, region: &str, metrics: &AwsMetrics) -> Arc<AwsClient<Rds>> {
    Arc::new(AwsClient::new(Rds::new(sdk(endpoint, region), metrics.clone()), POLL))
}

/// Secrets in memory, keyed by (namespace, name).
#[derive(Clone, Debug, Default)]
pub struct MemorySecrets(Arc<Mutex<BTreeMap<(String, String), SecretData>>>);

impl MemorySecrets {
    /// Store (or merge into) Secret `namespace/name`, as the runtime publishes connection details.
    pub fn publish(&self, namespace: &str, name: &str, details: &ConnectionDetails) {
        let mut secrets = self.0.lock().unwrap();
        let data = secrets.entry((namespace.to_owned(), name.to_owned())).or_default();
        data.extend(details.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    /// Publish to the resource's `writeConnectionSecretToRef`.
    pub fn publish_for(&self, mr: &RdsInstance, details: &ConnectionDetails) {
        let target = mr.spec.resource_spec.write_connection_secret_to_ref.as_ref().unwrap();
        self.publish(&target.namespace, &target.name, details);
    }

    /// One key of a Secret, as text.
    pub fn value(&self, namespace: &str, name: &str, key: &str) -> Option<String> {
        let secrets = self.0.lock().unwrap();
        let data = secrets.get(&(namespace.to_owned(), name.to_owned()))?;
        data.get(key).map(|v| String::from_utf8(v.clone()).unwrap())
    }
}

impl SecretStore for MemorySecrets {
    async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<SecretData>, SecretError> {
        Ok(self.0.lock().unwrap().get(&(namespace.to_owned(), name.to_owned())).cloned())
    }
}

/// The issue's manifest, verbatim.
pub const PAYMENTS_DB_PROD: &str = r#"
apiVersion: database.aws.crossplane.io/v1beta1
kind: RDSInstance
metadata:
  name: payments-db-prod
spec:
  forProvider:
    region: ap-northeast-2
    dbInstanceClass: db.r6g.xlarge
    engine: postgres
    engineVersion: "15"
    multiAZ: true
    storageEncrypted: true
    allocatedStorage: 100
    backupRetentionPeriod: 7
  providerConfigRef:
    name: aws-production
  writeConnectionSecretToRef:
    namespace: payments-prod
    name: payments-db-credentials
"#;

/// The issue's RDSInstance.
pub fn payments_db_prod() -> RdsInstance {
    serde_saphyr::from_str(PAYMENTS_DB_PROD).expect("the issue's manifest deserializes")
}
