//! Readiness of composed resources and connection details they contribute to the composite.

use std::collections::BTreeMap;

use serde_json::Value;

use super::fieldpath;
use super::pt::{ConnectionDetail, ConnectionDetailType, ReadinessCheck, ReadinessCheckType};
use super::transform::plain;

/// Whether an observed composed resource passes its readiness checks. No checks means its
/// `Ready` condition is `True`, as in Crossplane. A malformed check is an error naming it.
pub fn is_ready(checks: &[ReadinessCheck], observed: &Value) -> Result<bool, String> {
    if checks.is_empty() {
        return Ok(condition_is(observed, "Ready", "True"));
    }
    for (i, check) in checks.iter().enumerate() {
        let bad = |what: &str| format!("readiness check {i} ({:?}): {what}", check.type_);
        let field = || -> Result<Option<&Value>, String> {
            let path = check.field_path.as_deref().ok_or_else(|| bad("fieldPath is required"))?;
            fieldpath::get(observed, path).map_err(|e| bad(&e.to_string()))
        };
        let ready = match check.type_ {
            ReadinessCheckType::None => true,
            ReadinessCheckType::NonEmpty => match field()? {
                None | Some(Value::Null) => false,
                Some(Value::String(s)) => !s.is_empty(),
                Some(Value::Array(a)) => !a.is_empty(),
                Some(Value::Object(o)) => !o.is_empty(),
                Some(_) => true,
            },
            ReadinessCheckType::MatchString => {
                let want =
                    check.match_string.as_deref().ok_or_else(|| bad("matchString is required"))?;
                field()?.and_then(Value::as_str) == Some(want)
            }
            ReadinessCheckType::MatchInteger => {
                let want = check.match_integer.ok_or_else(|| bad("matchInteger is required"))?;
                field()?.and_then(Value::as_i64) == Some(want)
            }
            ReadinessCheckType::MatchTrue => field()?.and_then(Value::as_bool) == Some(true),
            ReadinessCheckType::MatchFalse => field()?.and_then(Value::as_bool) == Some(false),
            ReadinessCheckType::MatchCondition => {
                let want = check
                    .match_condition
                    .as_ref()
                    .ok_or_else(|| bad("matchCondition is required"))?;
                condition_is(observed, &want.type_, &want.status)
            }
        };
        if !ready {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `status.conditions` holds a condition of `type_` with `status`.
pub fn condition_is(object: &Value, type_: &str, status: &str) -> bool {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == type_ && c["status"] == status)
}

/// The connection details `details` extract from an observed resource and its connection
/// Secret. Sources that do not exist yet are left out; malformed details are errors.
pub fn connection_details(
    details: &[ConnectionDetail],
    observed: Option<&Value>,
    secret: Option<&BTreeMap<String, Vec<u8>>>,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    for (i, d) in details.iter().enumerate() {
        let bad = |what: &str| format!("connection detail {i}: {what}");
        let kind = d
            .type_
            .or_else(|| infer_type(d))
            .ok_or_else(|| bad("set one of fromConnectionSecretKey, fromFieldPath or value"))?;
        let name = d.name.clone().or_else(|| d.from_connection_secret_key.clone());
        let name = name.ok_or_else(|| bad("name is required"))?;
        let value = match kind {
            ConnectionDetailType::FromValue => {
                Some(d.value.clone().ok_or_else(|| bad("value is required"))?.into_bytes())
            }
            ConnectionDetailType::FromConnectionSecretKey => {
                let key = d.from_connection_secret_key.as_deref();
                let key = key.ok_or_else(|| bad("fromConnectionSecretKey is required"))?;
                secret.and_then(|s| s.get(key)).cloned()
            }
            ConnectionDetailType::FromFieldPath => {
                let path =
                    d.from_field_path.as_deref().ok_or_else(|| bad("fromFieldPath is required"))?;
                match observed {
                    Some(o) => fieldpath::get(o, path)
                        .map_err(|e| bad(&e.to_string()))?
                        .filter(|v| !v.is_null())
                        .map(|v| plain(v).into_bytes()),
                    None => None,
                }
            }
        };
        if let Some(value) = value {
            out.insert(name, value);
        }
    }
    Ok(out)
}

fn infer_type(d: &ConnectionDetail) -> Option<ConnectionDetailType> {
    if d.from_connection_secret_key.is_some() {
        Some(ConnectionDetailType::FromConnectionSecretKey)
    } else if d.from_field_path.is_some() {
        Some(ConnectionDetailType::FromFieldPath)
    } else if d.value.is_some() {
        Some(ConnectionDetailType::FromValue)
    } else {
        None
    }
}
