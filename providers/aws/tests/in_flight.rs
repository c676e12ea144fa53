//! Many reconciles at once do not become as many concurrent RDS requests: one `Rds` keeps at
//! most `MAX_IN_FLIGHT` calls open, and every call still completes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::sdk;
use crosstie_provider_aws::AwsMetrics;
use crosstie_provider_aws::api::{MAX_IN_FLIGHT, Rds, RdsApi};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const NOT_FOUND: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code>\
    <Message>not found</Message></Error><RequestId>1</RequestId></ErrorResponse>";

/// Concurrent requests now, and the most seen at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

/// An RDS endpoint that answers every request "not found" after `delay`, measuring how many
/// requests it holds at once. Keep-alive connections carry several requests each.
async fn slow_rds(delay: Duration) -> (String, Arc<Gauge>) {
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
                    let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
                    gauge.max.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    gauge.now.fetch_sub(1, Ordering::SeqCst);
                    let response = format!(
                        "HTTP/1.1 404 Not Found\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n{NOT_FOUND}",
                        NOT_FOUND.len()
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

#[tokio::test]
async fn a_burst_of_calls_keeps_at_most_the_in_flight_limit_open_and_all_complete() {
    let (endpoint, gauge) = slow_rds(Duration::from_millis(50)).await;
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
