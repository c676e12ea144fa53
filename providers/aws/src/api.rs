//! The narrow slice of the RDS API this provider uses, as a trait.
//!
//! [`Rds`] implements it over `aws_sdk_rds::Client` and counts every call in [`AwsMetrics`].
//! The trait is also the seam tests use to script states AWS emulators never show (`creating`,
//! `modifying`), by wrapping [`Rds`] and rewriting responses.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_rds::config::http::HttpResponse;
use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::operation::create_db_instance::builders::CreateDbInstanceInputBuilder;
use aws_sdk_rds::operation::create_db_subnet_group::builders::CreateDbSubnetGroupInputBuilder;
use aws_sdk_rds::operation::delete_db_instance::builders::DeleteDbInstanceInputBuilder;
use aws_sdk_rds::operation::modify_db_instance::builders::ModifyDbInstanceInputBuilder;
use aws_sdk_rds::operation::modify_db_subnet_group::builders::ModifyDbSubnetGroupInputBuilder;
use aws_sdk_rds::types::{DbInstance, DbSubnetGroup, Filter, Tag};
use crosstie_runtime::ExternalError;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::metrics::AwsMetrics;

/// Page size of the batched `DescribeDBInstances` (the AWS maximum).
pub const DESCRIBE_PAGE_SIZE: i32 = 100;

/// How an AWS error should be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// The resource does not exist.
    NotFound,
    /// The resource already exists.
    AlreadyExists,
    /// AWS rejected the request (invalid parameter, access denied, deletion protection…):
    /// retrying the same request will not help.
    Rejected,
    /// Throttling, a 5xx, a network failure, or a state conflict that will pass.
    Transient,
}

/// A failed AWS call.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct ApiError {
    /// The operation that failed, e.g. `ModifyDBInstance`.
    pub operation: &'static str,
    /// AWS's error code, e.g. `DBInstanceNotFound` (`Unknown` for transport failures).
    pub code: String,
    /// AWS's message.
    pub message: String,
    /// How to handle it.
    pub kind: ApiErrorKind,
}

impl ApiError {
    /// Whether AWS said the resource does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ApiErrorKind::NotFound
    }

    fn empty(operation: &'static str) -> Self {
        Self {
            operation,
            code: "EmptyResponse".to_owned(),
            message: "AWS returned no resource".to_owned(),
            kind: ApiErrorKind::Transient,
        }
    }

    fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let status = service.raw().status();
                let code = inner.code().unwrap_or("Unknown").to_owned();
                let message = match (inner.code(), inner.message()) {
                    (_, Some(message)) => message.to_owned(),
                    // Not an AWS error at all (a proxy's or a crashed server's page): its status
                    // is all there is to tell.
                    (None, None) => {
                        format!("HTTP status {} with no AWS error in the answer", status.as_u16())
                    }
                    (Some(_), None) => String::new(),
                };
                let kind = if status.is_server_error() {
                    ApiErrorKind::Transient
                } else {
                    classify(&code)
                };
                Self { operation, code, message, kind }
            }
            _ => Self {
                operation,
                code: "Unknown".to_owned(),
                message: without_dump(&err),
                kind: ApiErrorKind::Transient,
            },
        }
    }
}

/// What failed, then its root cause: "dispatch failure: Connection refused (os error 111)".
/// The SDK's `DisplayErrorContext` ends in a debug dump of the whole error, unreadable in a
/// condition, and the causes between the two ("io error", "client error (Connect)") add nothing.
fn without_dump(err: &(dyn std::error::Error + 'static)) -> String {
    let mut root = err;
    while let Some(cause) = root.source() {
        root = cause;
    }
    let (what, why) = (err.to_string(), root.to_string());
    if std::ptr::addr_eq(root, err) || what.contains(&why) {
        what
    } else {
        format!("{what}: {why}")
    }
}

/// Classify the code of a 4xx AWS error. Unknown codes count as rejections: a rejected request
/// retried at the poll interval is cheap and visible, while hammering a rejecting API is what
/// gets accounts throttled (5xx answers are always transient).
fn classify(code: &str) -> ApiErrorKind {
    match code {
        c if c.ends_with("NotFound") || c.ends_with("NotFoundFault") => ApiErrorKind::NotFound,
        c if c.ends_with("AlreadyExists") || c.ends_with("AlreadyExistsFault") => {
            ApiErrorKind::AlreadyExists
        }
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "InvalidDBInstanceState"
        | "InvalidDBInstanceStateFault" => ApiErrorKind::Transient,
        _ => ApiErrorKind::Rejected,
    }
}

impl From<ApiError> for ExternalError {
    fn from(err: ApiError) -> Self {
        match err.kind {
            ApiErrorKind::Rejected => ExternalError::terminal(err.to_string()),
            _ => ExternalError::wrap("AWS call failed", err),
        }
    }
}

/// The region of an ARN (`arn:partition:service:region:account:resource`), if it names one.
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|region| !region.is_empty())
}

/// One page of `DescribeDBInstances`.
#[derive(Clone, Debug, Default)]
pub struct InstancePage {
    /// The instances on this page.
    pub instances: Vec<DbInstance>,
    /// The marker of the next page, if any.
    pub marker: Option<String>,
}

/// The RDS operations this provider uses. Every method is one AWS call.
pub trait RdsApi: Send + Sync + 'static {
    /// One page (up to [`DESCRIBE_PAGE_SIZE`]) of all instances in the region.
    fn describe_db_instances(
        &self,
        marker: Option<String>,
    ) -> impl Future<Output = Result<InstancePage, ApiError>> + Send;

    /// The instances among `ids` (at most [`DESCRIBE_PAGE_SIZE`]) that exist, in one call: a
    /// `DescribeDBInstances` with a `db-instance-id` filter.
    fn describe_db_instances_by_id(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<DbInstance>, ApiError>> + Send;

    /// `CreateDBInstance`.
    fn create_db_instance(
        &self,
        input: CreateDbInstanceInputBuilder,
    ) -> impl Future<Output = Result<DbInstance, ApiError>> + Send;

    /// `ModifyDBInstance`.
    fn modify_db_instance(
        &self,
        input: ModifyDbInstanceInputBuilder,
    ) -> impl Future<Output = Result<DbInstance, ApiError>> + Send;

    /// `DeleteDBInstance`.
    fn delete_db_instance(
        &self,
        input: DeleteDbInstanceInputBuilder,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `AddTagsToResource`.
    fn add_tags(
        &self,
        arn: &str,
        tags: Vec<Tag>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `RemoveTagsFromResource`.
    fn remove_tags(
        &self,
        arn: &str,
        keys: Vec<String>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `ListTagsForResource`.
    fn list_tags(&self, arn: &str) -> impl Future<Output = Result<Vec<Tag>, ApiError>> + Send;

    /// One subnet group by name; `None` when it does not exist.
    fn describe_db_subnet_group(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<DbSubnetGroup>, ApiError>> + Send;

    /// `CreateDBSubnetGroup`.
    fn create_db_subnet_group(
        &self,
        input: CreateDbSubnetGroupInputBuilder,
    ) -> impl Future<Output = Result<DbSubnetGroup, ApiError>> + Send;

    /// `ModifyDBSubnetGroup`.
    fn modify_db_subnet_group(
        &self,
        input: ModifyDbSubnetGroupInputBuilder,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `DeleteDBSubnetGroup`.
    fn delete_db_subnet_group(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// Calls one [`Rds`] has in flight at once; the rest wait their turn.
///
/// Thousands of resources reconciled at once would otherwise open as many concurrent requests:
/// the account's API rate limit answers most of them with throttling errors (retried, so more
/// calls), and a local endpoint (moto) spends its time switching between them. A few calls in
/// flight keep one region's API busy without queueing inside it.
pub const MAX_IN_FLIGHT: usize = 16;

/// [`RdsApi`] over the AWS SDK, counting calls and bounding how many are in flight.
#[derive(Clone, Debug)]
pub struct Rds {
    client: aws_sdk_rds::Client,
    metrics: AwsMetrics,
    in_flight: Arc<Semaphore>,
}

impl Rds {
    /// Wrap an SDK client; calls are counted in `metrics`.
    pub fn new(client: aws_sdk_rds::Client, metrics: AwsMetrics) -> Self {
        Self { client, metrics, in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)) }
    }

    /// Wait for a slot for `operation` and count the call; the call runs while the permit lives.
    async fn start(&self, operation: &'static str) -> (&'static str, SemaphorePermit<'_>) {
        let permit = self.in_flight.acquire().await.expect("the semaphore is never closed");
        self.metrics.record(operation);
        (operation, permit)
    }
}

impl RdsApi for Rds {
    async fn describe_db_instances(
        &self,
        marker: Option<String>,
    ) -> Result<InstancePage, ApiError> {
        let (op, _permit) = self.start("DescribeDBInstances").await;
        let out = self
            .client
            .describe_db_instances()
            .max_records(DESCRIBE_PAGE_SIZE)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk(op, e))?;
        Ok(InstancePage {
            instances: out.db_instances.unwrap_or_default(),
            marker: out.marker.filter(|m| !m.is_empty()),
        })
    }

    async fn describe_db_instances_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<DbInstance>, ApiError> {
        let (op, _permit) = self.start("DescribeDBInstances").await;
        let filter =
            Filter::builder().name("db-instance-id").set_values(Some(ids.to_vec())).build();
        let request = self.client.describe_db_instances().filters(filter);
        match request.max_records(DESCRIBE_PAGE_SIZE).send().await {
            Ok(out) => Ok(out.db_instances.unwrap_or_default()),
            // AWS answers a filter matching nothing with an empty list; some emulators with
            // "not found".
            Err(err) => match ApiError::from_sdk(op, err) {
                e if e.is_not_found() => Ok(Vec::new()),
                e => Err(e),
            },
        }
    }

    async fn create_db_instance(
        &self,
        input: CreateDbInstanceInputBuilder,
    ) -> Result<DbInstance, ApiError> {
        let (op, _permit) = self.start("CreateDBInstance").await;
        let out = input.send_with(&self.client).await.map_err(|e| ApiError::from_sdk(op, e))?;
        out.db_instance.ok_or_else(|| ApiError::empty(op))
    }

    async fn modify_db_instance(
        &self,
        input: ModifyDbInstanceInputBuilder,
    ) -> Result<DbInstance, ApiError> {
        let (op, _permit) = self.start("ModifyDBInstance").await;
        let out = input.send_with(&self.client).await.map_err(|e| ApiError::from_sdk(op, e))?;
        out.db_instance.ok_or_else(|| ApiError::empty(op))
    }

    async fn delete_db_instance(
        &self,
        input: DeleteDbInstanceInputBuilder,
    ) -> Result<(), ApiError> {
        let (op, _permit) = self.start("DeleteDBInstance").await;
        input.send_with(&self.client).await.map_err(|e| ApiError::from_sdk(op, e))?;
        Ok(())
    }

    async fn add_tags(&self, arn: &str, tags: Vec<Tag>) -> Result<(), ApiError> {
        let (op, _permit) = self.start("AddTagsToResource").await;
        self.client
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| ApiError::from_sdk(op, e))?;
        Ok(())
    }

    async fn remove_tags(&self, arn: &str, keys: Vec<String>) -> Result<(), ApiError> {
        let (op, _permit) = self.start("RemoveTagsFromResource").await;
        self.client
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| ApiError::from_sdk(op, e))?;
        Ok(())
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<Tag>, ApiError> {
        let (op, _permit) = self.start("ListTagsForResource").await;
        let out = self
            .client
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk(op, e))?;
        Ok(out.tag_list.unwrap_or_default())
    }

    async fn describe_db_subnet_group(
        &self,
        name: &str,
    ) -> Result<Option<DbSubnetGroup>, ApiError> {
        let (op, _permit) = self.start("DescribeDBSubnetGroups").await;
        match self.client.describe_db_subnet_groups().db_subnet_group_name(name).send().await {
            Ok(out) => Ok(out.db_subnet_groups.unwrap_or_default().into_iter().next()),
            Err(err) => match ApiError::from_sdk(op, err) {
                e if e.is_not_found() => Ok(None),
                e => Err(e),
            },
        }
    }

    async fn create_db_subnet_group(
        &self,
        input: CreateDbSubnetGroupInputBuilder,
    ) -> Result<DbSubnetGroup, ApiError> {
        let (op, _permit) = self.start("CreateDBSubnetGroup").await;
        let out = input.send_with(&self.client).await.map_err(|e| ApiError::from_sdk(op, e))?;
        out.db_subnet_group.ok_or_else(|| ApiError::empty(op))
    }

    async fn modify_db_subnet_group(
        &self,
        input: ModifyDbSubnetGroupInputBuilder,
    ) -> Result<(), ApiError> {
        let (op, _permit) = self.start("ModifyDBSubnetGroup").await;
        input.send_with(&self.client).await.map_err(|e| ApiError::from_sdk(op, e))?;
        Ok(())
    }

    async fn delete_db_subnet_group(&self, name: &str) -> Result<(), ApiError> {
        let (op, _permit) = self.start("DeleteDBSubnetGroup").await;
        self.client
            .delete_db_subnet_group()
            .db_subnet_group_name(name)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk(op, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_classified_for_retry() {
        let cases = [
            ("DBInstanceNotFound", ApiErrorKind::NotFound, "missing instance"),
            ("DBSubnetGroupNotFoundFault", ApiErrorKind::NotFound, "missing subnet group"),
            ("DBInstanceAlreadyExists", ApiErrorKind::AlreadyExists, "lost create"),
            ("Throttling", ApiErrorKind::Transient, "rate limit passes"),
            ("InvalidDBInstanceState", ApiErrorKind::Transient, "busy instance settles"),
            ("InvalidParameterValue", ApiErrorKind::Rejected, "bad spec needs a human"),
            ("AccessDenied", ApiErrorKind::Rejected, "missing permission needs a human"),
        ];
        for (code, want, reason) in cases {
            assert_eq!(classify(code), want, "{code}: {reason}");
        }
    }

    #[test]
    fn rejections_are_terminal_and_the_rest_transient() {
        let err = |kind| ApiError {
            operation: "ModifyDBInstance",
            code: "X".into(),
            message: "m".into(),
            kind,
        };
        assert!(matches!(
            ExternalError::from(err(ApiErrorKind::Rejected)),
            ExternalError::Terminal(_)
        ));
        assert!(matches!(
            ExternalError::from(err(ApiErrorKind::Transient)),
            ExternalError::Transient { .. }
        ));
    }
}
