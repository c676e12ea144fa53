//! Prometheus metrics of the managed-resource controllers, in a registry the app serves.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of one reconcile outcome (of managed resources here, and of composites and claims).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// The kind reconciled, e.g. `RDSInstance`.
    pub kind: String,
    /// `success` or `error`.
    pub result: &'static str,
}

/// Labels of one failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Managed kind.
    pub kind: String,
    /// The event reason of the failure, e.g. `CannotObserveExternalResource`.
    pub reason: String,
}

/// Labels of one call to a provider's external client.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExternalCallLabels {
    /// Managed kind.
    pub kind: String,
    /// `observe`, `create`, `update` or `delete`.
    pub operation: &'static str,
}

/// Labels of the duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// Managed kind.
    pub kind: String,
}

/// The engine's metrics and the registry that holds them.
#[derive(Debug)]
pub struct Metrics {
    /// Registry to encode for `/metrics` (text format via `prometheus_client::encoding::text`).
    pub registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    external_calls: Family<ExternalCallLabels, Counter>,
    duration: Family<KindLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        // No registry-wide prefix: the app registers other components' metrics here too.
        let mut registry = Registry::default();
        let reconciles = Family::default();
        let errors = Family::default();
        let external_calls = Family::default();
        let duration = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        registry.register(
            "crosstie_managed_reconciles",
            "Managed-resource reconciles by kind and result",
            reconciles.clone(),
        );
        registry.register(
            "crosstie_managed_errors",
            "Managed-resource reconcile errors by kind and reason",
            errors.clone(),
        );
        registry.register(
            "crosstie_managed_external_calls",
            "Calls to the external (cloud) API by kind and operation",
            external_calls.clone(),
        );
        registry.register(
            "crosstie_managed_reconcile_duration_seconds",
            "Duration of managed-resource reconciles",
            duration.clone(),
        );
        Self { registry, reconciles, errors, external_calls, duration }
    }
}

impl Metrics {
    /// Count one finished reconcile of `kind` that took `elapsed`.
    pub fn reconciled(&self, kind: &str, ok: bool, elapsed: Duration) {
        let result = if ok { "success" } else { "error" };
        self.reconciles.get_or_create(&ReconcileLabels { kind: kind.to_owned(), result }).inc();
        self.duration
            .get_or_create(&KindLabels { kind: kind.to_owned() })
            .observe(elapsed.as_secs_f64());
    }

    /// Count one failure of `kind` with event reason `reason`.
    pub fn failed(&self, kind: &str, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabels { kind: kind.to_owned(), reason: reason.to_owned() })
            .inc();
    }

    /// Count one external call.
    pub fn external_call(&self, kind: &str, operation: &'static str) {
        self.external_calls
            .get_or_create(&ExternalCallLabels { kind: kind.to_owned(), operation })
            .inc();
    }

    /// How many external calls of `operation` were made for `kind` so far.
    pub fn external_calls(&self, kind: &str, operation: &'static str) -> u64 {
        self.external_calls
            .get_or_create(&ExternalCallLabels { kind: kind.to_owned(), operation })
            .get()
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_encoded_by_kind_result_reason_and_operation() {
        let metrics = Metrics::default();
        metrics.reconciled("RDSInstance", true, Duration::from_millis(20));
        metrics.failed("RDSInstance", "CannotObserveExternalResource");
        metrics.external_call("RDSInstance", "observe");
        metrics.external_call("RDSInstance", "observe");

        let text = metrics.encode();
        for line in [
            r#"crosstie_managed_reconciles_total{kind="RDSInstance",result="success"} 1"#,
            r#"crosstie_managed_errors_total{kind="RDSInstance",reason="CannotObserveExternalResource"} 1"#,
            r#"crosstie_managed_external_calls_total{kind="RDSInstance",operation="observe"} 2"#,
            r#"crosstie_managed_reconcile_duration_seconds_count{kind="RDSInstance"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
