//! Server-side apply: field ownership in `metadata.managedFields` and conflict detection.

use serde_json::Value;

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// Field path like `.spec.x`.
    pub field: String,
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// Other managers own fields the applier sets to different values.
    Conflicts(Vec<Conflict>),
    /// The applied configuration is malformed.
    Invalid(String),
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::Invalid(message) => f.write_str(message),
            ApplyError::Conflicts(conflicts) => {
                write!(f, "Apply failed with {} conflicts", conflicts.len())
            }
        }
    }
}

impl std::error::Error for ApplyError {}

/// Server-side apply: returns the new object (with metadata.managedFields updated) from the live
/// object (None = create) and the applied configuration. `now` is an RFC3339 timestamp.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let _ = (live, manager, force, now);
    Ok(applied.clone())
}

/// Records an `Update` entry for a non-apply write (create/update/patch), on `new` in place.
/// `subresource` is Some("status") for status writes.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) {
    let _ = (old, new, manager, subresource, now);
}
