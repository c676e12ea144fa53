//! Value transforms: map, match, math, string and convert, with function-patch-and-transform's
//! semantics. Each returns a message naming what was wrong with the input.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use regex::Regex;
use serde_json::{Number, Value};
use sha2::Digest as _;

use super::format::{go_format, go_value};
use super::pt::{
    ConvertTransform, MatchFallback, MatchPatternType, MatchTransform, MathTransform, MathType,
    StringConversion, StringTransform, StringType, Transform, TransformType,
};

/// Why a transform failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransformError(String);

fn fail<T>(message: impl Into<String>) -> Result<T, TransformError> {
    Err(TransformError(message.into()))
}

/// JSON type name used in error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Applies one transform.
pub fn apply(transform: &Transform, input: &Value) -> Result<Value, TransformError> {
    let missing =
        || TransformError(format!("{} transform has no {0} settings", transform.type_.as_str()));
    match transform.type_ {
        TransformType::Map => map(transform.map.as_ref().ok_or_else(missing)?, input),
        TransformType::Match => match_(transform.match_.as_ref().ok_or_else(missing)?, input),
        TransformType::Math => math(transform.math.as_ref().ok_or_else(missing)?, input),
        TransformType::String => string(transform.string.as_ref().ok_or_else(missing)?, input),
        TransformType::Convert => convert(transform.convert.as_ref().ok_or_else(missing)?, input),
    }
}

fn map(
    table: &std::collections::BTreeMap<String, Value>,
    input: &Value,
) -> Result<Value, TransformError> {
    let Value::String(key) = input else {
        return fail(format!("input must be a string, got {}", type_name(input)));
    };
    match table.get(key) {
        Some(v) => Ok(v.clone()),
        None => fail(format!("key {key:?} is not found in map")),
    }
}

fn match_(m: &MatchTransform, input: &Value) -> Result<Value, TransformError> {
    for (i, pattern) in m.patterns.iter().enumerate() {
        let Value::String(s) = input else {
            return fail(format!("input must be a string, got {}", type_name(input)));
        };
        let matched = match pattern.type_ {
            MatchPatternType::Literal => match &pattern.literal {
                Some(literal) => literal == s,
                None => return fail(format!("pattern {i}: literal pattern has no literal")),
            },
            MatchPatternType::Regexp => match &pattern.regexp {
                Some(re) => Regex::new(re)
                    .map_err(|e| TransformError(format!("pattern {i}: invalid regexp: {e}")))?
                    .is_match(s),
                None => return fail(format!("pattern {i}: regexp pattern has no regexp")),
            },
        };
        if matched {
            return Ok(pattern.result.clone());
        }
    }
    Ok(match m.fallback_to.unwrap_or_default() {
        MatchFallback::Value => m.fallback_value.clone().unwrap_or(Value::Null),
        MatchFallback::Input => input.clone(),
    })
}

fn math(m: &MathTransform, input: &Value) -> Result<Value, TransformError> {
    let Value::Number(n) = input else {
        return fail(format!("input must be a number, got {}", type_name(input)));
    };
    let kind = m.type_.unwrap_or_default();
    let operand = match kind {
        MathType::Multiply => m.multiply,
        MathType::ClampMin => m.clamp_min,
        MathType::ClampMax => m.clamp_max,
    };
    let Some(operand) = operand else {
        return fail(format!("math {kind:?} needs its operand ({})", operand_field(kind)));
    };
    if let Some(i) = n.as_i64() {
        let out = match kind {
            MathType::Multiply => i
                .checked_mul(operand)
                .ok_or_else(|| TransformError(format!("{i} * {operand} overflows")))?,
            MathType::ClampMin => i.max(operand),
            MathType::ClampMax => i.min(operand),
        };
        return Ok(Value::from(out));
    }
    let f = n.as_f64().unwrap_or_default();
    let out = match kind {
        MathType::Multiply => f * operand as f64,
        MathType::ClampMin => f.max(operand as f64),
        MathType::ClampMax => f.min(operand as f64),
    };
    Ok(float(out))
}

fn operand_field(kind: MathType) -> &'static str {
    match kind {
        MathType::Multiply => "multiply",
        MathType::ClampMin => "clampMin",
        MathType::ClampMax => "clampMax",
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn string(s: &StringTransform, input: &Value) -> Result<Value, TransformError> {
    let kind = s.type_.unwrap_or_default();
    let need = |field: &str| TransformError(format!("string {} needs {field}", kind.as_str()));
    // Like P&T, these work on the input as Go's `%v` prints it: 42 is "42".
    let text = || go_value(input);
    Ok(Value::String(match kind {
        StringType::Format => {
            go_format(s.fmt.as_deref().ok_or_else(|| need("fmt"))?, std::slice::from_ref(input))
        }
        StringType::Convert => {
            return convert_string(s.convert.ok_or_else(|| need("convert"))?, input);
        }
        StringType::TrimPrefix => {
            let trim = s.trim.as_deref().ok_or_else(|| need("trim"))?;
            let text = text();
            text.strip_prefix(trim).unwrap_or(&text).to_owned()
        }
        StringType::TrimSuffix => {
            let trim = s.trim.as_deref().ok_or_else(|| need("trim"))?;
            let text = text();
            text.strip_suffix(trim).unwrap_or(&text).to_owned()
        }
        StringType::Regexp => {
            let r = s.regexp.as_ref().ok_or_else(|| need("regexp"))?;
            let re = Regex::new(&r.match_)
                .map_err(|e| TransformError(format!("invalid regexp {:?}: {e}", r.match_)))?;
            let text = text();
            let caps = re
                .captures(&text)
                .ok_or_else(|| TransformError(format!("regexp {:?} had no matches", r.match_)))?;
            let group = r.group.unwrap_or(0);
            caps.get(group)
                .ok_or_else(|| {
                    TransformError(format!("regexp {:?} has no group {group}", r.match_))
                })?
                .as_str()
                .to_owned()
        }
        StringType::Join => {
            let sep = &s.join.as_ref().ok_or_else(|| need("join"))?.separator;
            let Value::Array(items) = input else {
                return fail(format!("string Join needs an array input, got {}", type_name(input)));
            };
            items.iter().map(go_value).collect::<Vec<_>>().join(sep)
        }
        StringType::Replace => {
            let r = s.replace.as_ref().ok_or_else(|| need("replace"))?;
            text().replace(&r.search, &r.replace)
        }
    }))
}

/// A scalar as text; JSON for objects and arrays.
pub fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn convert_string(conversion: StringConversion, input: &Value) -> Result<Value, TransformError> {
    // As in P&T: hashes digest a string's bytes and any other value's JSON; the case and
    // base64 conversions work on the value as Go's `%v` prints it.
    let bytes = || match input {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    let text = || go_value(input);
    Ok(Value::String(match conversion {
        StringConversion::ToUpper => text().to_uppercase(),
        StringConversion::ToLower => text().to_lowercase(),
        StringConversion::ToBase64 => BASE64.encode(text()),
        StringConversion::FromBase64 => {
            let raw = BASE64
                .decode(text())
                .map_err(|e| TransformError(format!("cannot decode base64: {e}")))?;
            String::from_utf8(raw)
                .map_err(|_| TransformError("decoded base64 is not UTF-8 text".to_owned()))?
        }
        StringConversion::ToJson => input.to_string(),
        StringConversion::ToSha1 => hex::encode(sha1::Sha1::digest(bytes())),
        StringConversion::ToSha256 => hex::encode(sha2::Sha256::digest(bytes())),
        StringConversion::ToSha512 => hex::encode(sha2::Sha512::digest(bytes())),
        StringConversion::ToAdler32 => adler32(&bytes()).to_string(),
    }))
}

/// The Adler-32 checksum (RFC 1950) of `bytes`.
fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % MOD;
        b = (b + a) % MOD;
    }
    (b << 16) | a
}

fn convert(c: &ConvertTransform, input: &Value) -> Result<Value, TransformError> {
    let format = c.format.as_deref().unwrap_or("none");
    let cannot = || {
        TransformError(format!(
            "cannot convert {} to {} (format {format})",
            type_name(input),
            c.to_type
        ))
    };
    match (c.to_type.as_str(), format, input) {
        (_, f, _) if !matches!(f, "none" | "quantity" | "json") => {
            fail(format!("unknown convert format {f:?}: want none, quantity or json"))
        }
        ("string", "none", Value::String(_)) => Ok(input.clone()),
        ("string", "none", Value::Number(_) | Value::Bool(_)) => {
            Ok(Value::String(input.to_string()))
        }
        ("int" | "int64", "quantity", Value::String(s)) => {
            Ok(Value::from(quantity(s).map_err(TransformError)?.ceil() as i64))
        }
        ("float64", "quantity", Value::String(s)) => {
            Ok(float(quantity(s).map_err(TransformError)?))
        }
        ("int" | "int64", "none", Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| TransformError(format!("cannot parse {s:?} as an integer"))),
        ("int" | "int64", "none", Value::Number(n)) => {
            Ok(Value::from(n.as_i64().unwrap_or_else(|| n.as_f64().unwrap_or_default() as i64)))
        }
        ("int" | "int64", "none", Value::Bool(b)) => Ok(Value::from(i64::from(*b))),
        ("float64", "none", Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(float)
            .map_err(|_| TransformError(format!("cannot parse {s:?} as a number"))),
        ("float64", "none", Value::Number(n)) => Ok(float(n.as_f64().unwrap_or_default())),
        ("float64", "none", Value::Bool(b)) => Ok(float(if *b { 1.0 } else { 0.0 })),
        ("bool", "none", Value::String(s)) => parse_bool(s)
            .map(Value::Bool)
            .ok_or_else(|| TransformError(format!("cannot parse {s:?} as a boolean"))),
        // P&T's table: only exactly 1 is true (2 is false, not an error).
        ("bool", "none", Value::Number(n)) => Ok(Value::Bool(match n.as_i64() {
            Some(i) => i == 1,
            None => n.as_f64() == Some(1.0),
        })),
        ("bool", "none", Value::Bool(_)) => Ok(input.clone()),
        ("object" | "array", "json", Value::String(s)) => {
            let parsed: Value = serde_json::from_str(s)
                .map_err(|e| TransformError(format!("cannot parse JSON: {e}")))?;
            let want_object = c.to_type == "object";
            if parsed.is_object() == want_object && (want_object || parsed.is_array()) {
                Ok(parsed)
            } else {
                fail(format!("JSON is {}, want {}", type_name(&parsed), c.to_type))
            }
        }
        (t, _, _)
            if !matches!(
                t,
                "string" | "int" | "int64" | "bool" | "float64" | "object" | "array"
            ) =>
        {
            fail(format!(
                "unknown convert toType {t:?}: want string, int, int64, bool, float64, object or array"
            ))
        }
        _ => Err(cannot()),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A Kubernetes resource quantity (`10Gi`, `500m`, `1.5k`, `2e3`) as a number.
pub fn quantity(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let split =
        s.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-'))).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let invalid = || format!("{s:?} is not a valid quantity");
    let base: f64 = number.parse().map_err(|_| invalid())?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse::<i32>().map_err(|_| invalid())?),
        _ => return Err(invalid()),
    };
    Ok(base * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(v: Value) -> Transform {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn quantities_use_binary_and_decimal_suffixes() {
        assert_eq!(quantity("10Gi").unwrap(), 10.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(quantity("1.5k").unwrap(), 1500.0);
        assert_eq!(quantity("500m").unwrap(), 0.5);
        assert_eq!(quantity("2e3").unwrap(), 2000.0);
        assert_eq!(quantity("10Xi").unwrap_err(), "\"10Xi\" is not a valid quantity");
    }

    #[test]
    fn math_keeps_integers_integral_and_floats_floating() {
        let m = t(json!({"type": "math", "math": {"type": "Multiply", "multiply": 3}}));
        assert_eq!(apply(&m, &json!(4)).unwrap(), json!(12));
        assert_eq!(apply(&m, &json!(1.5)).unwrap(), json!(4.5));
        assert_eq!(
            apply(&m, &json!("4")).unwrap_err().to_string(),
            "input must be a number, got string"
        );
    }

    #[test]
    fn convert_rejects_unknown_types_and_impossible_conversions() {
        let c = t(json!({"type": "convert", "convert": {"toType": "int"}}));
        assert_eq!(apply(&c, &json!("42")).unwrap(), json!(42));
        assert_eq!(apply(&c, &json!(2.9)).unwrap(), json!(2));
        assert_eq!(
            apply(&c, &json!({"a": 1})).unwrap_err().to_string(),
            "cannot convert object to int (format none)"
        );
        let bad = t(json!({"type": "convert", "convert": {"toType": "uint"}}));
        assert!(
            apply(&bad, &json!(1))
                .unwrap_err()
                .to_string()
                .starts_with("unknown convert toType \"uint\"")
        );
    }

    #[test]
    fn a_transform_without_its_settings_says_which_are_missing() {
        let m = t(json!({"type": "map"}));
        assert_eq!(
            apply(&m, &json!("a")).unwrap_err().to_string(),
            "map transform has no map settings"
        );
    }
}
