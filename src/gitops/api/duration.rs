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

/// Parse a Go duration string; `field` names the spec field in the error.
pub fn parse(field: &str, value: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration { field: field.to_owned(), value: value.to_owned() };
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = value;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len =
            rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(invalid()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
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
