//! Object metadata rules shared by every verb: names, uids, timestamps, generation.

use rand::Rng;
use serde_json::Value;

use super::status::Cause;

/// The current time as an RFC 3339 timestamp with second precision, as Kubernetes writes them.
pub fn now() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second()).unwrap_or(now).to_string()
}

/// A random RFC 4122 version 4 UUID.
pub fn new_uid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `generateName` + 5 random characters, from kube-apiserver's alphabet (no vowels).
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String =
        (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}{suffix}")
}

/// How a kind's names are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 label (Namespaces): at most 63 characters, no dots.
    Label,
    /// RFC 1123 subdomain (most kinds).
    Subdomain,
    /// Any path segment (RBAC kinds allow `system:…`).
    PathSegment,
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or \
    '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is \
    '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and \
    must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is \
    '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// An RFC 1123 label's characters; its length is the caller's rule (a subdomain's parts have
/// no limit of their own, only the whole name's 253).
fn is_label_text(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Validates `name` under `rule`; the causes name `metadata.name`.
pub fn validate_name(name: &str, rule: NameRule) -> Vec<Cause> {
    let invalid = |msg: &str| Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {name:?}: {msg}"),
        field: "metadata.name".into(),
    };
    if name.is_empty() {
        return vec![Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        }];
    }
    let ok = match rule {
        NameRule::Label => name.len() <= 63 && is_label_text(name),
        NameRule::Subdomain => name.len() <= 253 && name.split('.').all(is_label_text),
        NameRule::PathSegment => name != "." && name != ".." && !name.contains(['/', '%']),
    };
    match (ok, rule) {
        (true, _) => Vec::new(),
        (false, NameRule::Label) => vec![invalid(LABEL_MSG)],
        (false, NameRule::Subdomain) => vec![invalid(SUBDOMAIN_MSG)],
        (false, NameRule::PathSegment) => {
            vec![invalid("may not be '.' or '..' and may not contain '/' or '%'")]
        }
    }
}

const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and \
    must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used \
    for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// A qualified name's part after the prefix (and a label value): at most 63 alphanumerics,
/// '-', '_' or '.', alphanumeric at both ends.
fn is_name_part(s: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    s.len() <= 63
        && s.bytes().next().is_some_and(alnum)
        && s.bytes().last().is_some_and(alnum)
        && s.bytes().all(|c| alnum(c) || matches!(c, b'-' | b'_' | b'.'))
}

/// Why `key` is not a qualified name (`prefix/name`, the prefix a DNS subdomain), if it is not.
fn qualified_name_error(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !(prefix.len() <= 253 && prefix.split('.').all(is_label_text))
    {
        return Some(format!("prefix part {SUBDOMAIN_MSG}"));
    }
    (name.contains('/') || !is_name_part(name)).then(|| QUALIFIED_NAME_MSG.to_owned())
}

/// Label keys and values, annotation keys and owner references, checked as kube-apiserver
/// checks every object's metadata; the causes name the field.
pub fn validate_metadata(metadata: &Value) -> Vec<Cause> {
    let invalid = |field: &str, value: &str, why: String| Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {value:?}: {why}"),
        field: field.into(),
    };
    let mut causes = Vec::new();
    for (key, value) in metadata["labels"].as_object().into_iter().flatten() {
        if let Some(why) = qualified_name_error(key) {
            causes.push(invalid("metadata.labels", key, why));
        }
        let value = value.as_str().unwrap_or_default();
        if !value.is_empty() && !is_name_part(value) {
            let why = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', \
                and must start and end with an alphanumeric character (at most 63 characters)";
            causes.push(invalid("metadata.labels", value, why.to_owned()));
        }
    }
    for key in metadata["annotations"].as_object().into_iter().flatten().map(|(k, _)| k) {
        if let Some(why) = qualified_name_error(&key.to_lowercase()) {
            causes.push(invalid("metadata.annotations", key, why));
        }
    }
    let references = metadata["ownerReferences"].as_array().into_iter().flatten();
    for (i, reference) in references.enumerate() {
        for field in ["apiVersion", "kind", "name", "uid"] {
            if reference[field].as_str().is_none_or(str::is_empty) {
                causes.push(Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value".into(),
                    field: format!("metadata.ownerReferences[{i}].{field}"),
                });
            }
        }
    }
    causes
}

/// Whether two versions of an object differ outside `metadata` (and `status`, when the kind has
/// a status subresource): such changes bump `metadata.generation`.
pub fn spec_changed(old: &Value, new: &Value, status_subresource: bool) -> bool {
    let ignored = |field: &str| {
        matches!(field, "metadata" | "apiVersion" | "kind")
            || (status_subresource && field == "status")
    };
    !equal_except(old, new, ignored)
}

/// Whether two versions are the same write, ignoring the server-maintained resourceVersion and
/// managedFields: such a write is a no-op (no new resourceVersion, no event).
pub fn same_content(old: &Value, new: &Value) -> bool {
    equal_except_metadata(old, new, |field| matches!(field, "resourceVersion" | "managedFields"))
}

/// Whether two versions are equal apart from managedFields (compared in place, no copies).
pub fn same_except_managed_fields(a: &Value, b: &Value) -> bool {
    equal_except_metadata(a, b, |field| field == "managedFields")
}

/// Whether `a` and `b` are equal once the `metadata` fields `ignored` names are left out.
fn equal_except_metadata(a: &Value, b: &Value, ignored: impl Fn(&str) -> bool) -> bool {
    equal_except(a, b, |field| field == "metadata")
        && equal_except(&a["metadata"], &b["metadata"], ignored)
}

/// Whether `a` and `b` are equal once the top-level fields `ignored` names are left out of both
/// (no copies: these run on every write, on whole objects). Non-objects compare as they are.
fn equal_except(a: &Value, b: &Value, ignored: impl Fn(&str) -> bool) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return a == b };
    let kept = |map: &serde_json::Map<String, Value>| map.keys().filter(|f| !ignored(f)).count();
    kept(a) == kept(b)
        && a.iter()
            .filter(|(field, _)| !ignored(field))
            .all(|(field, value)| b.get(field) == Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_kubernetes_rules() {
        assert!(validate_name("orders-db.v1", NameRule::Subdomain).is_empty());
        assert!(!validate_name("Orders_DB", NameRule::Subdomain).is_empty());
        assert!(!validate_name("a.b", NameRule::Label).is_empty());
        // A subdomain is limited to 253 characters as a whole, not 63 per dot-separated part.
        let long_part = "a".repeat(100);
        assert!(validate_name(&long_part, NameRule::Subdomain).is_empty());
        assert!(!validate_name(&long_part, NameRule::Label).is_empty());
        assert!(!validate_name(&"a".repeat(254), NameRule::Subdomain).is_empty());
        assert!(validate_name("system:controller:x", NameRule::PathSegment).is_empty());
        assert_eq!(validate_name("", NameRule::Subdomain)[0].reason, "FieldValueRequired");
    }

    #[test]
    fn labels_annotations_and_owner_references_follow_kubernetes_rules() {
        let good = json!({"labels": {"app.kubernetes.io/name": "web", "tier": "", "x": "a_b.c-1"},
            "annotations": {"Example.COM/Checksum": "anything at all <>"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "u"}]});
        assert!(validate_metadata(&good).is_empty());
        let bad = json!({"labels": {"bad key": "v", "ok": "bad value!", "Bad_Prefix/x": "v"},
            "annotations": {"x<script>": "1"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "a"}]});
        let fields: Vec<String> = validate_metadata(&bad).into_iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            [
                "metadata.labels",
                "metadata.labels",
                "metadata.labels",
                "metadata.annotations",
                "metadata.ownerReferences[0].uid"
            ]
        );
    }

    #[test]
    fn generation_ignores_metadata_and_subresource_status() {
        let a = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": 1}, "status": {"y": 1}});
        let b = json!({"metadata": {"labels": {"a": "2"}}, "spec": {"x": 1}, "status": {"y": 2}});
        assert!(!spec_changed(&a, &b, true));
        assert!(spec_changed(&a, &b, false));
        assert!(spec_changed(&a, &json!({"spec": {"x": 2}}), true));
        assert!(spec_changed(&a, &json!({"metadata": {}, "spec": {"x": 1}, "data": {}}), true));
        assert!(spec_changed(&json!({"spec": {"x": 1}, "data": 1}), &a, true), "a field is gone");
    }

    #[test]
    fn the_same_write_ignores_only_resource_version_and_managed_fields() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1", "managedFields": [1]},
            "spec": {"x": 1}});
        let same = json!({"metadata": {"name": "a", "resourceVersion": "2"}, "spec": {"x": 1}});
        assert!(same_content(&a, &same));
        let relabelled = json!({"metadata": {"name": "a", "labels": {"l": "1"}}, "spec": {"x": 1}});
        assert!(!same_content(&a, &relabelled));
        assert!(!same_content(&a, &json!({"metadata": {"name": "a"}, "spec": {"x": 2}})));
        assert!(!same_content(&a, &json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "s": 1})));
        assert!(!same_content(&a, &json!({"spec": {"x": 1}})), "metadata gone");
    }

    #[test]
    fn an_apply_that_changes_nothing_ignores_only_managed_fields() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1", "managedFields": [1]},
            "spec": {"x": 1}});
        let same = json!({"metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"x": 1}});
        assert!(same_except_managed_fields(&a, &same));
        let newer = json!({"metadata": {"name": "a", "resourceVersion": "2"}, "spec": {"x": 1}});
        assert!(!same_except_managed_fields(&a, &newer));
        assert!(!same_except_managed_fields(&a, &json!({"spec": {"x": 1}})), "metadata gone");
    }

    #[test]
    fn uids_look_like_uuids() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert_ne!(uid, new_uid());
        assert!(generate_name("db-").starts_with("db-"));
    }
}
