//! Helpers shared by the AWS provider's integration tests: moto-backed clients, an in-memory
//! cluster (Secrets, standing in for the runtime's connection-secret publishing, and
//! DBSubnetGroups), and EC2 setup.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_rds::operation::create_db_instance::builders::CreateDbInstanceInputBuilder;
use aws_sdk_rds::operation::create_db_subnet_group::builders::CreateDbSubnetGroupInputBuilder;
use aws_sdk_rds::operation::delete_db_instance::builders::DeleteDbInstanceInputBuilder;
use aws_sdk_rds::operation::modify_db_instance::builders::ModifyDbInstanceInputBuilder;
use aws_sdk_rds::operation::modify_db_subnet_group::builders::ModifyDbSubnetGroupInputBuilder;
use aws_sdk_rds::types::{DbInstance, DbSubnetGroup, Tag};
use crosstie_provider_aws::DbSubnetGroup as SubnetGroupResource;
use crosstie_provider_aws::api::{ApiError, ApiErrorKind, InstancePage, Rds, RdsApi};
use crosstie_provider_aws::cluster::{Cluster, ReadError, SecretData};
use crosstie_provider_aws::config::convert::StaticCredentials;
use crosstie_provider_aws::config::{AwsClient, rds_client};
use crosstie_provider_aws::{AwsMetrics, RdsInstance};
use crosstie_runtime::ConnectionDetails;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

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
    Arc::new(AwsClient::new(Rds::new(sdk(endpoint, region), metrics.clone()), region, POLL))
}

/// A cluster in memory: Secrets keyed by (namespace, name), and DBSubnetGroup resources.
#[derive(Clone, Debug, Default)]
pub struct MemoryCluster {
    secrets: Arc<Mutex<BTreeMap<(String, String), SecretData>>>,
    subnet_groups: Arc<Mutex<BTreeMap<String, SubnetGroupResource>>>,
}

impl MemoryCluster {
    /// Store (or merge into) Secret `namespace/name`, as the runtime publishes connection details.
    pub fn publish(&self, namespace: &str, name: &str, details: &ConnectionDetails) {
        let mut secrets = self.secrets.lock().unwrap();
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
        let secrets = self.secrets.lock().unwrap();
        let data = secrets.get(&(namespace.to_owned(), name.to_owned()))?;
        data.get(key).map(|v| String::from_utf8(v.clone()).unwrap())
    }

    /// Store a DBSubnetGroup resource, as when a composition creates one.
    pub fn apply_subnet_group(&self, group: &SubnetGroupResource) {
        let name = group.metadata.name.clone().expect("a named DBSubnetGroup");
        self.subnet_groups.lock().unwrap().insert(name, group.clone());
    }
}

impl Cluster for MemoryCluster {
    async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<SecretData>, ReadError> {
        Ok(self.secrets.lock().unwrap().get(&(namespace.to_owned(), name.to_owned())).cloned())
    }

    async fn subnet_group(&self, name: &str) -> Result<Option<SubnetGroupResource>, ReadError> {
        Ok(self.subnet_groups.lock().unwrap().get(name).cloned())
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

/// moto behind an `RdsApi` that behaves as AWS does where moto 5.2.5 does not: every instance
/// can be shown in a scripted status (AWS in transition: creating, modifying), a create's answer
/// can be lost, and creating a DB subnet group that exists fails with
/// `DBSubnetGroupAlreadyExistsFault` (moto replaces the group).
pub struct ScriptedRds {
    inner: Rds,
    status: Mutex<Option<&'static str>>,
    lose_create_answer: AtomicBool,
    creates_answered: AtomicUsize,
    passwords_sent: Mutex<Vec<String>>,
}

impl ScriptedRds {
    pub fn new(inner: Rds) -> Self {
        Self {
            inner,
            status: Mutex::default(),
            lose_create_answer: AtomicBool::default(),
            creates_answered: AtomicUsize::default(),
            passwords_sent: Mutex::default(),
        }
    }

    /// Every master password sent to AWS, by create or modify, oldest first.
    pub fn passwords_sent(&self) -> Vec<String> {
        self.passwords_sent.lock().unwrap().clone()
    }

    fn sent(&self, password: Option<&String>) {
        self.passwords_sent.lock().unwrap().extend(password.cloned());
    }

    /// How many `CreateDBInstance` calls moto has answered, either way.
    pub fn creates_answered(&self) -> usize {
        self.creates_answered.load(Ordering::Relaxed)
    }

    /// The next `CreateDBInstance` happens, but its answer never arrives.
    pub fn lose_the_next_create_answer(&self) {
        self.lose_create_answer.store(true, Ordering::Relaxed);
    }

    /// Show every instance in `status` (`None`: as moto has it).
    pub fn set(&self, status: Option<&'static str>) {
        *self.status.lock().unwrap() = status;
    }

    fn rewrite(&self, mut instance: DbInstance) -> DbInstance {
        if let Some(status) = *self.status.lock().unwrap() {
            instance.db_instance_status = Some(status.to_owned());
        }
        instance
    }
}

impl RdsApi for ScriptedRds {
    async fn describe_db_instances(
        &self,
        marker: Option<String>,
    ) -> Result<InstancePage, ApiError> {
        let mut page = self.inner.describe_db_instances(marker).await?;
        page.instances = page.instances.into_iter().map(|i| self.rewrite(i)).collect();
        Ok(page)
    }
    async fn describe_db_instances_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<DbInstance>, ApiError> {
        let found = self.inner.describe_db_instances_by_id(ids).await?;
        Ok(found.into_iter().map(|i| self.rewrite(i)).collect())
    }
    async fn create_db_instance(
        &self,
        input: CreateDbInstanceInputBuilder,
    ) -> Result<DbInstance, ApiError> {
        self.sent(input.get_master_user_password().as_ref());
        let created = self.inner.create_db_instance(input).await;
        self.creates_answered.fetch_add(1, Ordering::Relaxed);
        let created = created?;
        if self.lose_create_answer.swap(false, Ordering::Relaxed) {
            return Err(ApiError {
                operation: "CreateDBInstance",
                code: "Unknown".into(),
                message: "connection reset".into(),
                kind: ApiErrorKind::Transient,
            });
        }
        Ok(self.rewrite(created))
    }
    async fn modify_db_instance(
        &self,
        input: ModifyDbInstanceInputBuilder,
    ) -> Result<DbInstance, ApiError> {
        self.sent(input.get_master_user_password().as_ref());
        Ok(self.rewrite(self.inner.modify_db_instance(input).await?))
    }
    async fn delete_db_instance(
        &self,
        input: DeleteDbInstanceInputBuilder,
    ) -> Result<(), ApiError> {
        self.inner.delete_db_instance(input).await
    }
    async fn add_tags(&self, arn: &str, tags: Vec<Tag>) -> Result<(), ApiError> {
        self.inner.add_tags(arn, tags).await
    }
    async fn remove_tags(&self, arn: &str, keys: Vec<String>) -> Result<(), ApiError> {
        self.inner.remove_tags(arn, keys).await
    }
    async fn list_tags(&self, arn: &str) -> Result<Vec<Tag>, ApiError> {
        self.inner.list_tags(arn).await
    }
    async fn describe_db_subnet_group(
        &self,
        name: &str,
    ) -> Result<Option<DbSubnetGroup>, ApiError> {
        self.inner.describe_db_subnet_group(name).await
    }
    async fn create_db_subnet_group(
        &self,
        input: CreateDbSubnetGroupInputBuilder,
    ) -> Result<DbSubnetGroup, ApiError> {
        let name = input.get_db_subnet_group_name().clone().unwrap_or_default();
        if self.inner.describe_db_subnet_group(&name).await?.is_some() {
            return Err(ApiError {
                operation: "CreateDBSubnetGroup",
                code: "DBSubnetGroupAlreadyExistsFault".into(),
                message: format!("DB subnet group {name} already exists"),
                kind: ApiErrorKind::AlreadyExists,
            });
        }
        self.inner.create_db_subnet_group(input).await
    }
    async fn modify_db_subnet_group(
        &self,
        input: ModifyDbSubnetGroupInputBuilder,
    ) -> Result<(), ApiError> {
        self.inner.modify_db_subnet_group(input).await
    }
    async fn delete_db_subnet_group(&self, name: &str) -> Result<(), ApiError> {
        self.inner.delete_db_subnet_group(name).await
    }
}

/// An HTTP status line, content type and body.
pub type CannedAnswer = (&'static str, &'static str, &'static str);

/// RDS's answer for an instance that does not exist.
pub const NOT_FOUND: CannedAnswer = ("404 Not Found", "text/xml", NOT_FOUND_XML);

const NOT_FOUND_XML: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code>\
    <Message>not found</Message></Error><RequestId>1</RequestId></ErrorResponse>";

/// Requests served, concurrent requests now, and the most seen at once.
#[derive(Default)]
pub struct Gauge {
    pub requests: AtomicUsize,
    pub now: AtomicUsize,
    pub max: AtomicUsize,
}

/// An RDS endpoint that answers every request with the HTTP response head and body `answer`
/// after `delay`, counting requests and how many it holds at once. Keep-alive connections carry
/// several requests each.
pub async fn canned_rds(delay: Duration, answer: CannedAnswer) -> (String, Arc<Gauge>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let gauge = Arc::new(Gauge::default());
    let counted = gauge.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let gauge = counted.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.unwrap();
                    gauge.requests.fetch_add(1, Ordering::SeqCst);
                    let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
                    gauge.max.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    gauge.now.fetch_sub(1, Ordering::SeqCst);
                    let (status, content_type, body) = answer;
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.get_mut().write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (endpoint, gauge)
}
