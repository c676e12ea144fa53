//! Crossplane's well-known annotations and accessors for them.

use jiff::Timestamp;
use kube::Resource;

/// The identifier of the external resource; defaults to `metadata.name`.
pub const EXTERNAL_NAME: &str = "crossplane.io/external-name";
/// Set (RFC 3339) just before the engine calls `create`.
pub const EXTERNAL_CREATE_PENDING: &str = "crossplane.io/external-create-pending";
/// Set (RFC 3339) when `create` succeeded.
pub const EXTERNAL_CREATE_SUCCEEDED: &str = "crossplane.io/external-create-succeeded";
/// Set (RFC 3339) when `create` failed.
pub const EXTERNAL_CREATE_FAILED: &str = "crossplane.io/external-create-failed";
/// `"true"` stops reconciliation.
pub const PAUSED: &str = "crossplane.io/paused";
/// Per-resource poll interval (a Go-style duration such as `30s` or `5m`).
pub const POLL_INTERVAL: &str = "crossplane.io/poll-interval";

/// The external name of `obj`, if annotated.
pub fn external_name<T: Resource>(obj: &T) -> Option<&str> {
    obj.meta().annotations.as_ref()?.get(EXTERNAL_NAME).map(String::as_str)
}

/// The RFC 3339 time recorded in annotation `key` of `obj`, if present and valid.
pub fn timestamp<T: Resource>(obj: &T, key: &str) -> Option<Timestamp> {
    obj.meta().annotations.as_ref()?.get(key)?.parse().ok()
}

/// A create was started (`-pending`) after the last recorded result (`-succeeded`, `-failed`):
/// it may have created an external resource nobody recorded, so creating again could leak one.
pub fn create_incomplete<T: Resource>(obj: &T) -> bool {
    let pending = timestamp(obj, EXTERNAL_CREATE_PENDING);
    pending.is_some()
        && pending > timestamp(obj, EXTERNAL_CREATE_SUCCEEDED)
        && pending > timestamp(obj, EXTERNAL_CREATE_FAILED)
}

/// No create was ever started for `obj`: none of `-pending`, `-succeeded`, `-failed` is set.
pub fn never_created<T: Resource>(obj: &T) -> bool {
    let Some(annotations) = obj.meta().annotations.as_ref() else { return true };
    [EXTERNAL_CREATE_PENDING, EXTERNAL_CREATE_SUCCEEDED, EXTERNAL_CREATE_FAILED]
        .iter()
        .all(|key| !annotations.contains_key(*key))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;

    fn annotated(pairs: &[(&str, &str)]) -> ConfigMap {
        let mut obj = ConfigMap::default();
        obj.metadata.annotations =
            Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        obj
    }

    #[test]
    fn a_create_is_incomplete_only_while_pending_is_the_newest_record() {
        let (t1, t2) = ("2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z");
        let incomplete = |pairs: &[(&str, &str)]| create_incomplete(&annotated(pairs));
        assert!(!incomplete(&[]));
        assert!(incomplete(&[(EXTERNAL_CREATE_PENDING, t1)]));
        assert!(incomplete(&[(EXTERNAL_CREATE_PENDING, t2), (EXTERNAL_CREATE_SUCCEEDED, t1)]));
        assert!(!incomplete(&[(EXTERNAL_CREATE_PENDING, t1), (EXTERNAL_CREATE_SUCCEEDED, t1)]));
        assert!(!incomplete(&[(EXTERNAL_CREATE_PENDING, t1), (EXTERNAL_CREATE_FAILED, t2)]));
        assert!(!incomplete(&[(EXTERNAL_CREATE_PENDING, "garbage")]));
    }

    #[test]
    fn a_resource_was_never_created_until_any_create_record_is_set() {
        let t = "2026-01-01T00:00:00Z";
        assert!(never_created(&ConfigMap::default()));
        assert!(never_created(&annotated(&[(EXTERNAL_NAME, "orders")])));
        for record in [EXTERNAL_CREATE_PENDING, EXTERNAL_CREATE_SUCCEEDED, EXTERNAL_CREATE_FAILED] {
            assert!(!never_created(&annotated(&[(record, t)])), "{record}");
        }
    }
}
