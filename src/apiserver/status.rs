//! Kubernetes `Status` error bodies: every failure the server reports is one of these, so kubectl
//! and kube-client print it the way they would for kube-apiserver.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed request, rendered as a `meta/v1` `Status` body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason, e.g. `NotFound`.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `details` (name, group, kind, causes), when the error concerns one object.
    pub details: Option<Value>,
}

/// One cause of an `Invalid` error: a field path and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// e.g. `FieldValueRequired`.
    pub reason: String,
    /// Human message.
    pub message: String,
    /// Field path, e.g. `spec.replicas` or `metadata.name`.
    pub field: String,
}

/// Names the object an error is about: `rdsinstances.database.aws.crossplane.io "orders-db"`.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// API group ("" for core).
    pub group: &'a str,
    /// Plural resource name.
    pub plural: &'a str,
    /// Kind, for `Invalid` messages.
    pub kind: &'a str,
    /// Object name.
    pub name: &'a str,
}

impl Target<'_> {
    /// `plural.group` as kube-apiserver prints it (plain `plural` for the core group).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn details(&self) -> Value {
        json!({"name": self.name, "group": self.group, "kind": self.plural})
    }
}

impl ApiError {
    /// A bare error with no details.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: None }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 NotFound for an object.
    pub fn not_found(t: Target<'_>) -> Self {
        ApiError {
            details: Some(t.details()),
            ..Self::new(404, "NotFound", format!("{} \"{}\" not found", t.qualified(), t.name))
        }
    }

    /// 409 AlreadyExists.
    pub fn already_exists(t: Target<'_>) -> Self {
        ApiError {
            details: Some(t.details()),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{} \"{}\" already exists", t.qualified(), t.name),
            )
        }
    }

    /// 409 Conflict on a stale resourceVersion or failed precondition.
    pub fn conflict(t: Target<'_>, why: &str) -> Self {
        ApiError {
            details: Some(t.details()),
            ..Self::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {} \"{}\": {why}", t.qualified(), t.name),
            )
        }
    }

    /// The optimistic-concurrency conflict kube-apiserver reports for a stale resourceVersion.
    pub fn stale(t: Target<'_>) -> Self {
        Self::conflict(
            t,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid with one cause per field.
    pub fn invalid(t: Target<'_>, causes: Vec<Cause>) -> Self {
        let summary: Vec<String> =
            causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
        let message =
            format!("{} \"{}\" is invalid: {}", t.kind_qualified(), t.name, summary.join(", "));
        let causes: Vec<Value> = causes
            .into_iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        ApiError {
            details: Some(
                json!({"name": t.name, "group": t.group, "kind": t.kind, "causes": causes}),
            ),
            ..Self::new(422, "Invalid", message)
        }
    }

    /// 410 Expired for a resourceVersion older than the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 500 InternalError; the cause is logged, not leaked in detail.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!(%message, "internal error");
        Self::new(500, "InternalError", format!("Internal error occurred: {message}"))
    }

    /// The `Status` body.
    pub fn body(&self) -> Value {
        let mut status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl Target<'_> {
    /// `Kind.group` as used in `Invalid` messages (`RDSInstance.database.aws.crossplane.io`).
    fn kind_qualified(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(self.body())).into_response()
    }
}

/// A `Status` reporting success, as returned by some deletes.
pub fn success() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
}
