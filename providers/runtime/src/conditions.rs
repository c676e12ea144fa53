//! Building and setting `Ready` / `Synced` conditions with Kubernetes' transition rules.

use jiff::Timestamp;

use crate::reason;
use crate::spec::{Condition, ResourceStatus};

fn condition(type_: &str, status: &str, reason: &str, message: impl Into<String>) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        ..Condition::default()
    }
}

/// `Ready=True`, reason `Available`.
pub fn available() -> Condition {
    condition(reason::READY, "True", reason::AVAILABLE, "")
}

/// `Ready=False`, reason `Unavailable`, with the provider's explanation.
pub fn unavailable(message: impl Into<String>) -> Condition {
    condition(reason::READY, "False", reason::UNAVAILABLE, message)
}

/// `Ready=False`, reason `Creating`.
pub fn creating() -> Condition {
    condition(reason::READY, "False", reason::CREATING, "")
}

/// `Ready=False`, reason `Deleting`.
pub fn deleting() -> Condition {
    condition(reason::READY, "False", reason::DELETING, "")
}

/// `Synced=True`, reason `ReconcileSuccess`, with an optional note (e.g. unapplied drift).
pub fn reconcile_success(message: impl Into<String>) -> Condition {
    condition(reason::SYNCED, "True", reason::RECONCILE_SUCCESS, message)
}

/// `Synced=False`, reason `ReconcileError`, with the error as message.
pub fn reconcile_error(message: impl Into<String>) -> Condition {
    condition(reason::SYNCED, "False", reason::RECONCILE_ERROR, message)
}

/// `Synced=False`, reason `ReconcilePaused`.
pub fn reconcile_paused() -> Condition {
    condition(reason::SYNCED, "False", reason::RECONCILE_PAUSED, reason::MSG_PAUSED)
}

impl ResourceStatus {
    /// The condition of type `type_`, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Set `new` (replacing any condition of its type) as observed at `generation`.
    ///
    /// `lastTransitionTime` changes only when the status changes, as in Kubernetes'
    /// `meta.SetStatusCondition`, so an unchanged condition produces no status write.
    pub fn set_condition(&mut self, mut new: Condition, generation: Option<i64>, now: Timestamp) {
        new.observed_generation = generation;
        match self.conditions.iter_mut().find(|c| c.type_ == new.type_) {
            Some(old) => {
                new.last_transition_time = if old.status == new.status {
                    std::mem::take(&mut old.last_transition_time)
                } else {
                    now.to_string()
                };
                *old = new;
            }
            None => {
                new.last_transition_time = now.to_string();
                self.conditions.push(new);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_is_kept_while_status_is_unchanged() {
        let now = Timestamp::now();
        let mut status = ResourceStatus::default();
        status.set_condition(reconcile_error("boom"), Some(1), now);
        status.conditions[0].last_transition_time = "2020-01-01T00:00:00Z".into();
        status.set_condition(reconcile_error("still boom"), Some(2), now);
        let synced = status.condition(reason::SYNCED).unwrap();
        assert_eq!(synced.last_transition_time, "2020-01-01T00:00:00Z");
        assert_eq!((synced.message.as_str(), synced.observed_generation), ("still boom", Some(2)));

        status.set_condition(reconcile_success(""), Some(2), now);
        let synced = status.condition(reason::SYNCED).unwrap();
        assert_ne!(synced.last_transition_time, "2020-01-01T00:00:00Z");
        assert_eq!(synced.reason, reason::RECONCILE_SUCCESS);
    }
}
