//! Prometheus metrics for AWS API usage: every call this provider makes, by operation.
//!
//! Cloud calls are the provider's real cost (rate limits, bills), so they are counted at the
//! single seam every call goes through ([`crate::api::Rds`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of [`AwsMetrics::calls`]: the AWS operation name, e.g. `DescribeDBInstances`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The AWS API operation.
    pub operation: String,
}

/// Counters for AWS API calls. Cheap to clone: clones share the same counters.
#[derive(Clone, Debug, Default)]
pub struct AwsMetrics {
    calls: Family<OperationLabels, Counter>,
}

impl AwsMetrics {
    /// Register the counters as `crosstie_aws_api_calls_total{operation}`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "crosstie_aws_api_calls",
            "AWS API calls made by the AWS provider, by operation (each page counts)",
            self.calls.clone(),
        );
    }

    /// Calls made so far to `operation`.
    pub fn calls(&self, operation: &str) -> u64 {
        self.calls.get_or_create(&OperationLabels { operation: operation.to_owned() }).get()
    }

    /// Calls made so far to any operation that writes (everything but `Describe*` / `List*`).
    pub fn write_calls(&self) -> u64 {
        let mut total = 0;
        for op in WRITE_OPERATIONS {
            total += self.calls(op);
        }
        total
    }

    pub(crate) fn record(&self, operation: &str) {
        self.calls.get_or_create(&OperationLabels { operation: operation.to_owned() }).inc();
    }
}

/// Every mutating operation [`crate::api::RdsApi`] can call.
pub const WRITE_OPERATIONS: &[&str] = &[
    "CreateDBInstance",
    "ModifyDBInstance",
    "DeleteDBInstance",
    "AddTagsToResource",
    "RemoveTagsFromResource",
    "CreateDBSubnetGroup",
    "ModifyDBSubnetGroup",
    "DeleteDBSubnetGroup",
];

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn calls_are_exposed_per_operation() {
        let metrics = AwsMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.record("DescribeDBInstances");
        metrics.record("DescribeDBInstances");
        metrics.record("ModifyDBInstance");
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"crosstie_aws_api_calls_total{operation="DescribeDBInstances"} 2"#),
            "{text}"
        );
        assert_eq!(metrics.calls("ModifyDBInstance"), 1);
        assert_eq!(metrics.write_calls(), 1, "describes are not writes");
    }
}
