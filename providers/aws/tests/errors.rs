//! What a user reads when an RDS endpoint's answer is not what was asked for.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{canned_rds, sdk};
use crosstie_provider_aws::AwsMetrics;
use crosstie_provider_aws::api::{ApiErrorKind, Rds, RdsApi};

/// moto answers a describe that races a create with werkzeug's HTML error page.
const SERVER_ERROR_PAGE: common::CannedAnswer = (
    "500 INTERNAL SERVER ERROR",
    "text/html; charset=utf-8",
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n",
);

#[tokio::test]
async fn a_server_error_page_is_retried_then_reported_by_its_status() {
    let (endpoint, gauge) = canned_rds(Duration::ZERO, SERVER_ERROR_PAGE).await;
    let rds = Rds::new(sdk(&endpoint, "eu-west-1"), AwsMetrics::default());

    let err = rds.describe_db_instances(None).await.expect_err("every answer is an error page");

    assert_eq!(err.kind, ApiErrorKind::Transient);
    assert_eq!(err.code, "Unknown");
    assert_eq!(err.message, "HTTP status 500 with no AWS error in the answer");
    assert_eq!(
        gauge.requests.load(Ordering::SeqCst),
        3,
        "three attempts (the SDK's standard retries) before the provider sees the error"
    );
}

#[tokio::test]
async fn an_endpoint_refusing_connections_is_reported_by_its_root_cause() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let rds = Rds::new(sdk(&endpoint, "eu-west-1"), AwsMetrics::default());

    let err = rds.describe_db_instances(None).await.expect_err("nothing listens");

    assert_eq!(err.kind, ApiErrorKind::Transient);
    assert!(err.message.to_lowercase().contains("connection refused"), "{}", err.message);
    assert!(!err.message.contains('{'), "no debug dump: {}", err.message);
}
