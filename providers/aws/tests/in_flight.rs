//! Many reconciles at once do not become as many concurrent RDS requests: one `Rds` keeps at
//! most `MAX_IN_FLIGHT` calls open, and every call still completes.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{NOT_FOUND, canned_rds, sdk};
use crosstie_provider_aws::AwsMetrics;
use crosstie_provider_aws::api::{MAX_IN_FLIGHT, Rds, RdsApi};

#[tokio::test]
async fn a_burst_of_calls_keeps_at_most_the_in_flight_limit_open_and_all_complete() {
    let (endpoint, gauge) = canned_rds(Duration::from_millis(50), NOT_FOUND).await;
    let metrics = AwsMetrics::default();
    let rds = Rds::new(sdk(&endpoint, "eu-west-1"), metrics.clone());
    let burst = 4 * MAX_IN_FLIGHT;

    let calls = (0..burst).map(|i| {
        let rds = rds.clone();
        async move { rds.describe_db_instances_by_id(&[format!("db-{i}")]).await }
    });
    let results = futures::future::join_all(calls).await;

    assert!(results.iter().all(|r| r.as_ref().is_ok_and(Vec::is_empty)), "answered: {results:?}");
    assert_eq!(metrics.calls("DescribeDBInstances"), burst as u64);
    let max = gauge.max.load(Ordering::SeqCst);
    assert!(max <= MAX_IN_FLIGHT, "{max} requests at once (limit {MAX_IN_FLIGHT})");
    assert!(max > 1, "calls still run concurrently (at most {max} at once)");
}
