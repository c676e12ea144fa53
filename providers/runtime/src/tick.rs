//! Write-back ticks: the results of cloud calls that finish close together are written
//! together.
//!
//! A cloud answers a burst of creates one by one, milliseconds apart. Written back at once,
//! each answer is a commit, a watch wake-up and a composite reconcile of its own. Held to the
//! next tick of one clock shared by every controller in the process, the answers of one
//! interval reach the API server in one burst: it commits them together, and its watchers
//! (the composite and claim controllers among them) receive them together. Against a fake RDS
//! answering creates at moto's pace this cut Crosstie's CPU for 2,000 claims by over a
//! quarter (docs/benchmarks.md). The cost is at most one interval of latency per call, small
//! next to any cloud's create.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

/// Waits for the next multiple of `interval` since the first call in this process, so that
/// callers waiting on the same interval wake together; returns at once when it is zero. Never
/// waits longer than `interval`.
pub async fn next(interval: Duration) {
    if let Some(wait) = until_next(interval, origin().elapsed()) {
        tokio::time::sleep(wait).await;
    }
}

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// How long from `elapsed` to the next multiple of `interval` (a whole interval when exactly
/// on one: the caller has just missed that tick's burst).
fn until_next(interval: Duration, elapsed: Duration) -> Option<Duration> {
    let period = interval.as_nanos();
    if period == 0 {
        return None;
    }
    let left = period - elapsed.as_nanos() % period;
    Some(Duration::from_nanos(u64::try_from(left).unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn calls_within_one_interval_wait_for_the_same_instant() {
        let interval = 100 * MS;
        for elapsed in [MS, 40 * MS, 99 * MS] {
            let wait = until_next(interval, elapsed).unwrap();
            assert_eq!(elapsed + wait, interval, "from {elapsed:?}");
        }
        assert_eq!(until_next(interval, 250 * MS), Some(50 * MS));
    }

    #[test]
    fn a_call_exactly_on_a_tick_waits_for_the_next() {
        assert_eq!(until_next(100 * MS, 300 * MS), Some(100 * MS));
    }

    #[test]
    fn a_zero_interval_does_not_wait() {
        assert_eq!(until_next(Duration::ZERO, 123 * MS), None);
    }

    #[tokio::test(start_paused = true)]
    async fn next_waits_at_most_one_interval() {
        let start = tokio::time::Instant::now();
        next(50 * MS).await;
        assert!(start.elapsed() <= 50 * MS, "waited {:?}", start.elapsed());
        next(Duration::ZERO).await;
    }
}
