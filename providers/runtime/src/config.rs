//! Engine settings shared by every managed kind.

use std::time::Duration;

/// Timing and concurrency of the managed-resource controllers.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// How often an in-sync resource is observed again (Crossplane's `--poll-interval`, 1m).
    /// Overridden per resource by `crossplane.io/poll-interval`.
    pub poll_interval: Duration,
    /// Uniform jitter applied to the poll interval, as a fraction (0.05 = ±5 %), so that
    /// resources created together do not poll the cloud in lockstep.
    pub poll_jitter: f64,
    /// The shortest poll interval an annotation may ask for.
    pub min_poll_interval: Duration,
    /// First retry delay after an error; doubles per consecutive failure.
    pub min_backoff: Duration,
    /// Cap of the per-object error backoff.
    pub max_backoff: Duration,
    /// How soon to look again after asking the cloud to delete, to confirm it is gone.
    pub deletion_check_interval: Duration,
    /// How long after a recorded successful create an absent resource is assumed to be
    /// still appearing (eventually consistent APIs) rather than re-created.
    pub creation_grace: Duration,
    /// Longest wait for one provider call (`connect`, `observe`, …), as Crossplane's 1m.
    pub external_timeout: Duration,
    /// Reconciles of one kind started per second on average (bursts of ten times as many).
    pub max_reconcile_rate: u32,
    /// Reconciles of one kind running at once.
    pub concurrency: u16,
    /// The results of create, update and delete calls are written back at the next multiple
    /// of this interval, on a clock shared by every kind, so that calls finishing close together
    /// are written together ([`crate::tick`]). Zero writes each at once.
    pub write_tick: Duration,
    /// The controller name reported on events.
    pub controller_name: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(60),
            poll_jitter: 0.05,
            min_poll_interval: Duration::from_secs(1),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            deletion_check_interval: Duration::from_secs(10),
            creation_grace: Duration::from_secs(30),
            external_timeout: Duration::from_secs(60),
            max_reconcile_rate: 10,
            concurrency: 10,
            write_tick: Duration::from_millis(100),
            controller_name: "crosstie".to_owned(),
        }
    }
}
