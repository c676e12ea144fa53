//! When to look at a managed resource again: poll interval with jitter, and per-object
//! exponential backoff after errors.
//!
//! kube-runtime's `error_policy` never sees successes (kube-rs/kube#1916), so the failure count
//! lives here, keyed by object, and the reconciler resets it on every success.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Resource;
use kube::runtime::controller::Action;
use rand::Rng;

use crate::annotations::POLL_INTERVAL;
use crate::config::Config;
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
/// Echoes of a pass still running are known too ([`Echoes::writing`]), so the controller's
/// watch drops them ([`Echoes::is_own`]) before they queue behind the running pass: under a
/// burst, thousands of such held triggers made the controller's queue slow to scan.
#[derive(Debug, Default)]
pub struct Echoes {
    /// Per object: what its last pass wrote.
    written: Mutex<HashMap<String, Written>>,
    /// Per object: what the pass running now has written so far.
    writing: Mutex<HashMap<String, Vec<String>>>,
}

/// The versions a pass wrote, and when the object is next due (`None`: on change).
type Written = (Vec<String>, Option<Instant>);

impl Echoes {
    /// A pass over `key` starts: what an earlier one was writing is no longer in flight.
    pub fn begin(&self, key: &str) {
        lock(&self.writing).remove(key);
    }

    /// The pass running over `key` has just written `version`.
    pub fn writing(&self, key: &str, version: String) {
        lock(&self.writing).entry(key.to_owned()).or_default().push(version);
    }

    /// A pass over `key` ended having written `versions`, asking to run again after `requeue`.
    pub fn wrote(&self, key: String, versions: Vec<String>, requeue: Option<Duration>) {
        lock(&self.writing).remove(&key);
        lock(&self.written).insert(key, (versions, requeue.map(|d| Instant::now() + d)));
    }

    /// Whether `version` of `key` is one of the engine's own writes, by the last pass or the
    /// one running: no reason to queue a reconcile, as the pass's own requeue stands.
    pub fn is_own(&self, key: &str, version: Option<&str>) -> bool {
        let Some(version) = version else { return false };
        let ours = |versions: &[String]| versions.iter().any(|v| v == version);
        lock(&self.writing).get(key).is_some_and(|v| ours(v))
            || lock(&self.written).get(key).is_some_and(|(v, _)| ours(v))
    }

    /// If `version` of `key` is the echo of one of the engine's own last writes, how to requeue
    /// instead of reconciling.
    pub fn echo(&self, key: &str, version: Option<&str>) -> Option<Action> {
        let written = lock(&self.written);
        let (ours, due) = written.get(key)?;
        if !ours.iter().any(|v| Some(v.as_str()) == version) {
            return None;
        }
        match due {
            None => Some(Action::await_change()),
            Some(due) => {
                let left = due.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| Action::requeue(left))
            }
        }
    }

    /// Stop tracking `key` (its finalizer is gone).
    pub fn forget(&self, key: &str) {
        lock(&self.writing).remove(key);
        lock(&self.written).remove(key);
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

    #[test]
    fn only_versions_the_engines_last_pass_wrote_are_echoes() {
        let echoes = Echoes::default();
        let versions = |v: &[&str]| v.iter().map(|v| (*v).to_owned()).collect();
        echoes.wrote("a".into(), versions(&["4", "5"]), Some(Duration::from_secs(60)));
        echoes.wrote("paused".into(), versions(&["9"]), None);
        echoes.wrote("due".into(), versions(&["3"]), Some(Duration::ZERO));

        assert!(echoes.echo("a", Some("5")).is_some());
        assert!(echoes.echo("a", Some("4")).is_some(), "an earlier write of the same pass");
        assert_eq!(echoes.echo("a", Some("6")), None);
        assert_eq!(echoes.echo("b", Some("5")), None);
        assert_eq!(echoes.echo("paused", Some("9")), Some(Action::await_change()));
        assert_eq!(echoes.echo("due", Some("3")), None);
        echoes.wrote("a".into(), versions(&["7"]), Some(Duration::from_secs(60)));
        assert_eq!(echoes.echo("a", Some("5")), None, "only the last pass's writes");
        echoes.forget("a");
        assert_eq!(echoes.echo("a", Some("7")), None);
    }

    #[test]
    fn writes_of_the_running_pass_and_of_the_last_one_are_own_writes() {
        let echoes = Echoes::default();
        echoes.wrote("a".into(), vec!["4".into()], None);
        echoes.begin("a");
        echoes.writing("a", "6".into());
        assert!(echoes.is_own("a", Some("4")), "the last pass's");
        assert!(echoes.is_own("a", Some("6")), "the running pass's, before it ends");
        assert!(!echoes.is_own("a", Some("7")));
        assert!(!echoes.is_own("b", Some("6")));
        assert!(!echoes.is_own("a", None));
        echoes.wrote("a".into(), vec!["6".into(), "8".into()], None);
        assert!(!echoes.is_own("a", Some("4")), "only the last pass's");
        echoes.begin("a");
        echoes.writing("a", "9".into());
        echoes.begin("a");
        assert!(
            !echoes.is_own("a", Some("9")),
            "a pass that failed before ending is forgotten by the next"
        );
        echoes.forget("a");
        assert!(!echoes.is_own("a", Some("8")));
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
