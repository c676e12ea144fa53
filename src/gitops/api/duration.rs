//! Go duration strings (`1m`, `10m`, `5m30s`, `1h`, `500ms`), the format Flux uses for
//! `interval`, `retryInterval` and `timeout`.

use std::time::Duration;

/// A duration string that is not a Go duration.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid duration {value:?} in {field}: expected a Go duration such as 1m, 10m or 5m30s")]
pub struct InvalidDuration {
    /// The field path, e.g. `spec.interval`.
    pub field: String,
    /// The rejected value.
    pub value: String,
}

/// Parse a Go duration string; `field` names the spec field in the error. The grammar is the
/// runtime's, shared with `crossplane.io/poll-interval`.
pub fn parse(field: &str, value: &str) -> Result<Duration, InvalidDuration> {
    crosstie_runtime::requeue::parse_go_duration(value)
        .map_err(|_| InvalidDuration { field: field.to_owned(), value: value.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_go() {
        assert_eq!(parse("f", "1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("f", "5m30s"), Ok(Duration::from_secs(330)));
        assert_eq!(parse("f", "1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("f", "500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("f", "1.5s"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn bad_durations_name_the_field() {
        let err = parse("spec.interval", "10 minutes").unwrap_err();
        assert_eq!(err.field, "spec.interval");
        assert!(err.to_string().contains("spec.interval"));
        assert!(parse("f", "").is_err());
        assert!(parse("f", "10").is_err());
    }
}
