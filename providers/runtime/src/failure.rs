//! How a reconcile pass ends: done, or stopped by a reported failure or a failed API write.

use std::fmt::Display;
use std::time::Duration;

use crate::ExternalError;
use crate::reconciler::Error;

/// How soon to retry after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Exponential per-object backoff.
    Backoff,
    /// The poll interval: retrying sooner will not help.
    Poll,
    /// Only when the object changes.
    OnChange,
}

/// A failed step, reported on the resource (`Synced=False`, Warning event) rather than
/// returned to kube-runtime.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) retry: Retry,
}

impl Failure {
    pub(crate) fn new(reason: &'static str, message: impl Display, retry: Retry) -> Self {
        Self { reason, message: message.to_string(), retry }
    }

    /// A transient failure: retry with backoff.
    pub(crate) fn backoff(reason: &'static str, message: impl Display) -> Self {
        Self::new(reason, message, Retry::Backoff)
    }

    /// A failure that only time or a spec change fixes: retry at the poll interval.
    pub(crate) fn poll(reason: &'static str, message: impl Display) -> Self {
        Self::new(reason, message, Retry::Poll)
    }

    /// A provider failure `what` (e.g. `observe failed`), retried as its class says.
    pub(crate) fn external(reason: &'static str, what: &str, err: &ExternalError) -> Self {
        let retry = match err {
            ExternalError::Terminal(_) => Retry::Poll,
            ExternalError::Transient { .. } => Retry::Backoff,
        };
        Self::new(reason, format!("{what}: {err}"), retry)
    }
}

/// The end of a pass that did not fail.
pub(crate) enum Done {
    /// Requeue after this long (or on change), having written status if it changed.
    After(Option<Duration>),
    /// The finalizer is gone: the object may no longer exist, so write nothing more.
    Released,
}

/// Why a pass stopped: a reported failure, or an API write that must be retried.
pub(crate) enum Stop {
    Failed(Failure),
    Api(Error),
}

impl From<Error> for Stop {
    fn from(err: Error) -> Self {
        Self::Api(err)
    }
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        Self::Failed(failure)
    }
}
