//! When to look at a managed resource again: poll interval with jitter, and per-object
//! exponential backoff after errors.
//!
//! kube-runtime's `error_policy` never sees successes (kube-rs/kube#1916), so the failure count
//! lives here, keyed by object, and the reconciler resets it on every success.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Resource;
use kube::runtime::controller::Action;
use rand::Rng;

use crate::annotations::POLL_INTERVAL;
use crate::config::Config;
use crate::passes::Passes;
use crate::sync::lock;

/// A `crossplane.io/poll-interval` value is not a Go duration.
#[derive(Debug, thiserror::Error)]
#[error(
    "annotation {POLL_INTERVAL}: {value:?} is not a duration such as \"30s\", \"5m\" or \"1h30m\""
)]
pub struct InvalidDuration {
    /// The rejected value.
    pub value: String,
}

/// Parse a Go duration (`300ms`, `30s`, `5m`, `1h30m`, `1.5h`; units ns, us, µs, ms, s, m, h).
pub fn parse_go_duration(value: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration { value: value.to_owned() };
    let mut rest = value.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len =
            rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

/// The poll interval for `obj`: its annotation (clamped to the minimum) or the global default.
pub fn poll_interval<K: Resource>(obj: &K, config: &Config) -> Result<Duration, InvalidDuration> {
    match obj.meta().annotations.as_ref().and_then(|a| a.get(POLL_INTERVAL)) {
        Some(value) => Ok(parse_go_duration(value)?.max(config.min_poll_interval)),
        None => Ok(config.poll_interval),
    }
}

/// `interval` moved uniformly by up to ±`jitter` of itself.
pub fn jittered(interval: Duration, jitter: f64) -> Duration {
    if jitter <= 0.0 {
        return interval;
    }
    let factor = rand::rng().random_range(1.0 - jitter..=1.0 + jitter);
    interval.mul_f64(factor.max(0.0))
}

/// Consecutive failures per object; the delay doubles from `min` up to `max`.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Record a failure of `key` and return how long to wait before retrying.
    pub fn failed(&self, key: &str, config: &Config) -> Duration {
        let mut failures = lock(&self.failures);
        let count = failures.entry(key.to_owned()).or_default();
        let delay = config.min_backoff.saturating_mul(2u32.saturating_pow(*count));
        *count = count.saturating_add(1);
        delay.min(config.max_backoff)
    }

    /// Forget the failures of `key` after a successful reconcile.
    pub fn succeeded(&self, key: &str) {
        lock(&self.failures).remove(key);
    }
}

/// The engine's own writes come back through the watch as new versions of the object. Like
/// Crossplane's `DesiredStateChanged` filter, a trigger carrying a version the engine's last pass
/// wrote (any of its writes: a pass may patch the spec, then the status) is no reason to call the
/// cloud again before the pass's requeue is due; any other change (spec, annotations, deletion)
/// carries another version and is reconciled at once.
///
/// While a pass runs, every trigger of its object is held ([`Echoes::admit`], [`Passes`]), not
/// in the controller's queue, and the pass ends knowing all it wrote ([`Echoes::end`]). Held in
/// the queue instead, thousands of triggers behind running passes made every poll of the queue
/// scan them all.
#[derive(Debug, Default)]
pub struct Echoes {
    passes: Passes<String>,
    state: Mutex<EchoState>,
}

#[derive(Debug, Default)]
struct EchoState {
    /// Per object whose last pass wrote: when it is next due (`None`: on change).
    due: HashMap<String, Option<Instant>>,
    /// Objects changed by someone else during a pass that then failed.
    changed_during_failure: HashSet<String>,
}

impl Echoes {
    /// A pass over `key` starts: its triggers are held until it ends.
    pub fn begin(&self, key: &str) {
        self.passes.begin(key);
    }

    /// Whether a trigger carrying `version` of `key` should queue a reconcile: not when it
    /// echoes the last pass's writes, nor while a pass over `key` runs (it is held for
    /// [`Echoes::end`] to judge).
    pub fn admit(&self, key: &str, version: Option<&str>) -> bool {
        self.passes.admit(key, version.map(str::to_owned))
    }

    /// A pass over `key` ended having written `versions` and asking to run again after
    /// `requeue`. Returns whether a trigger held during the pass carried someone else's change:
    /// the object must be reconciled again at once.
    pub fn end(&self, key: &str, versions: Vec<String>, requeue: Option<Duration>) -> bool {
        let wrote = !versions.is_empty();
        let changed = self.passes.end(key, versions);
        // A pass that wrote nothing leaves the last pass's versions as the object's echoes.
        if wrote {
            // After someone else's change, the next pass must not take the object for an echo.
            let due =
                if changed { Some(Instant::now()) } else { requeue.map(|d| Instant::now() + d) };
            lock(&self.state).due.insert(key.to_owned(), due);
        }
        changed
    }

    /// A pass over `key` failed after writing `versions`. Its writes are not remembered as
    /// echoes (their triggers retry the pass, as the backoff would); a change by someone else
    /// meanwhile is reported once by [`Echoes::take_changed_during_failure`].
    pub fn end_failed(&self, key: &str, versions: &[String]) {
        if self.passes.end_failed(key, versions.iter().cloned()) {
            lock(&self.state).changed_during_failure.insert(key.to_owned());
        }
    }

    /// Whether someone else changed `key` during its last, failed pass (asked once).
    pub fn take_changed_during_failure(&self, key: &str) -> bool {
        lock(&self.state).changed_during_failure.remove(key)
    }

    /// If `version` of `key` is the echo of one of the engine's own last writes, how to requeue
    /// instead of reconciling.
    pub fn echo(&self, key: &str, version: Option<&str>) -> Option<Action> {
        if !self.passes.is_echo(key, version?) {
            return None;
        }
        match lock(&self.state).due.get(key).copied().flatten() {
            None => Some(Action::await_change()),
            Some(due) => {
                let left = due.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| Action::requeue(left))
            }
        }
    }

    /// Stop tracking `key` (its finalizer is gone).
    pub fn forget(&self, key: &str) {
        self.passes.forget(key);
        let mut state = lock(&self.state);
        state.due.remove(key);
        state.changed_during_failure.remove(key);
    }
}

/// A token bucket bounding how many reconciles per second start, so a large fleet polls the
/// cloud at a steady rate instead of in bursts (Crossplane's `--max-reconcile-rate`, with a
/// burst of ten times the rate).
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    /// Tokens left (negative: reserved ahead) and when they were counted.
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// `per_second` reconciles per second on average, up to `10 × per_second` at once.
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        let burst = per_second * 10.0;
        Self { per_second, burst, bucket: Mutex::new((burst, Instant::now())) }
    }

    /// Take a token; returns how long to wait before using it (zero while within the burst).
    pub fn reserve(&self) -> Duration {
        let mut bucket = lock(&self.bucket);
        let now = Instant::now();
        let refilled = bucket.0 + now.duration_since(bucket.1).as_secs_f64() * self.per_second;
        *bucket = (refilled.min(self.burst) - 1.0, now);
        if bucket.0 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.0 / self.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_time_parse_duration() {
        let secs = |s: &str| parse_go_duration(s).unwrap().as_secs_f64();
        assert_eq!(secs("30s"), 30.0);
        assert_eq!(secs("5m"), 300.0);
        assert_eq!(secs("1h30m"), 5400.0);
        assert_eq!(secs("1.5h"), 5400.0);
        assert_eq!(secs("250ms"), 0.25);
        assert_eq!(secs("0"), 0.0);
        for bad in ["", "5", "5d", "m", "-1s", "1h 5m"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets_on_success() {
        let config = Config::default();
        let backoff = Backoff::default();
        let delays: Vec<u64> = (0..8).map(|_| backoff.failed("a", &config).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.failed("b", &config).as_secs(), 1);
        backoff.succeeded("a");
        assert_eq!(backoff.failed("a", &config).as_secs(), 1);
    }

    /// One pass over `key` that wrote `versions`; whether it must run again at once.
    fn pass(echoes: &Echoes, key: &str, versions: &[&str], requeue: Option<Duration>) -> bool {
        echoes.begin(key);
        echoes.end(key, versions.iter().map(|v| (*v).to_owned()).collect(), requeue)
    }

    #[test]
    fn only_versions_the_engines_last_pass_wrote_are_echoes() {
        let echoes = Echoes::default();
        pass(&echoes, "a", &["4", "5"], Some(Duration::from_secs(60)));
        pass(&echoes, "paused", &["9"], None);
        pass(&echoes, "due", &["3"], Some(Duration::ZERO));

        assert!(echoes.echo("a", Some("5")).is_some());
        assert!(echoes.echo("a", Some("4")).is_some(), "an earlier write of the same pass");
        assert_eq!(echoes.echo("a", Some("6")), None);
        assert_eq!(echoes.echo("b", Some("5")), None);
        assert_eq!(echoes.echo("paused", Some("9")), Some(Action::await_change()));
        assert_eq!(echoes.echo("due", Some("3")), None);
        assert!(!echoes.admit("a", Some("5")), "an echo queues nothing");
        assert!(echoes.admit("a", Some("6")), "a change does");
        assert!(echoes.admit("a", None));

        pass(&echoes, "a", &[], Some(Duration::from_secs(60)));
        assert!(echoes.echo("a", Some("5")).is_some(), "a pass that wrote nothing keeps them");
        pass(&echoes, "a", &["7"], Some(Duration::from_secs(60)));
        assert_eq!(echoes.echo("a", Some("5")), None, "only the last pass's writes");
        echoes.forget("a");
        assert_eq!(echoes.echo("a", Some("7")), None);
        assert!(echoes.admit("a", Some("7")));
    }

    #[test]
    fn triggers_during_a_pass_are_held_and_only_a_change_by_others_runs_it_again() {
        let echoes = Echoes::default();
        echoes.begin("a");
        assert!(!echoes.admit("a", Some("6")), "the echo of a write not yet answered");
        assert!(echoes.admit("b", Some("6")), "other objects are not held");
        let again = echoes.end("a", vec!["6".into(), "7".into()], Some(Duration::from_secs(60)));
        assert!(!again, "everything held was the pass's own");
        assert!(!echoes.admit("a", Some("7")), "a late echo");

        echoes.begin("a");
        assert!(!echoes.admit("a", Some("8")), "someone else's change, held");
        assert!(echoes.end("a", vec!["9".into()], Some(Duration::from_secs(60))));
        assert_eq!(
            echoes.echo("a", Some("9")),
            None,
            "the pass's write went over the change, so the next pass is no echo"
        );
        assert!(echoes.admit("a", Some("10")), "no pass runs: triggers queue again");
    }

    #[test]
    fn a_failed_pass_reports_a_change_by_others_once_and_forgets_its_own_writes() {
        let echoes = Echoes::default();
        echoes.begin("a");
        assert!(!echoes.admit("a", Some("4")));
        echoes.end_failed("a", &["4".into()]);
        assert!(!echoes.take_changed_during_failure("a"), "only its own write came back");
        assert!(echoes.admit("a", Some("4")), "a failed pass's writes are no echoes");

        echoes.begin("a");
        assert!(!echoes.admit("a", Some("5")));
        echoes.end_failed("a", &[]);
        assert!(echoes.take_changed_during_failure("a"));
        assert!(!echoes.take_changed_during_failure("a"), "reported once");
    }

    #[test]
    fn the_rate_limiter_allows_a_burst_then_spaces_reconciles_out() {
        let limiter = RateLimiter::new(1);
        let waits: Vec<Duration> = (0..12).map(|_| limiter.reserve()).collect();
        assert!(waits[..10].iter().all(Duration::is_zero), "{waits:?}");
        // Tokens refill while the test runs, so the waits may be slightly shorter than 1s, 2s.
        assert!((0.5..=1.0).contains(&waits[10].as_secs_f64()), "{waits:?}");
        assert!((1.5..=2.0).contains(&waits[11].as_secs_f64()), "{waits:?}");
    }

    #[test]
    fn jitter_stays_within_bounds() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(100), 0.1).as_secs_f64();
            assert!((90.0..=110.0).contains(&d), "{d}");
        }
    }
}
