//! Prometheus metrics of the composite and claim controllers.

use crosstie_runtime::metrics::ReconcileLabels;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Counters of the composition controllers. Cheap to clone: clones share the counters.
#[derive(Clone, Debug, Default)]
pub struct CompositionMetrics {
    reconciles: Family<ReconcileLabels, Counter>,
}

impl CompositionMetrics {
    /// Registers the counters as `crosstie_composition_reconciles_total{kind,result}`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "crosstie_composition_reconciles",
            "Composite and claim reconciles by kind and result",
            self.reconciles.clone(),
        );
    }

    /// Counts one finished reconcile of `kind`.
    pub fn reconciled(&self, kind: &str, ok: bool) {
        let result = if ok { "success" } else { "error" };
        self.reconciles.get_or_create(&ReconcileLabels { kind: kind.to_owned(), result }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_are_encoded_by_kind_and_result() {
        let metrics = CompositionMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.reconciled("XDatabase", true);
        metrics.reconciled("XDatabase", true);
        metrics.reconciled("Database", false);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains(
            r#"crosstie_composition_reconciles_total{kind="XDatabase",result="success"} 2"#
        ));
        assert!(text.contains(
            r#"crosstie_composition_reconciles_total{kind="Database",result="error"} 1"#
        ));
    }
}
