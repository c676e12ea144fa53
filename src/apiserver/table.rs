//! `meta.k8s.io/v1` Table responses for `kubectl get`, with CRD printer columns.

use serde_json::{Value, json};

/// A printer column as in a CRD version's `additionalPrinterColumns`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub json_path: String,
    pub description: String,
    pub priority: i32,
    pub format: String,
}

/// Renders objects as a Table.
pub fn table(
    objects: &[Value],
    columns: &[PrinterColumn],
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    let _ = (objects, columns, continue_token);
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version}, "columnDefinitions": [], "rows": []})
}
