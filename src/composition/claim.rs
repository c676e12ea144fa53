//! Claim ↔ composite decisions (pure): the composite a claim asks for, the status a claim
//! shows, and the connection Secrets both publish.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use super::status::condition;
use super::xrd::ServedKind;
use super::{LABEL_CLAIM_NAME, LABEL_CLAIM_NAMESPACE};

/// Secret type of connection Secrets.
pub const CONNECTION_SECRET_TYPE: &str = "connection.crossplane.io/v1alpha1";

/// Spec fields that belong to the claim and are not copied to its composite.
const CLAIM_ONLY_FIELDS: [&str; 3] =
    ["resourceRef", "writeConnectionSecretToRef", "compositeDeletePolicy"];

/// A fresh composite name for a claim: `<claim>-<5 lower-case alphanumerics>`.
pub fn new_composite_name(claim_name: &str, rng: &mut impl rand::Rng) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String =
        (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("{claim_name}-{suffix}")
}

/// The composite a claim asks for, as a server-side apply body: the claim's spec (without
/// claim-only fields), claim labels and a `claimRef` back to the claim.
pub fn composite_for_claim(claim: &Value, composite_name: &str, kind: &ServedKind) -> Value {
    let mut spec = claim["spec"].as_object().cloned().unwrap_or_default();
    for field in CLAIM_ONLY_FIELDS {
        spec.remove(field);
    }
    spec.insert(
        "claimRef".to_owned(),
        json!({
            "apiVersion": claim["apiVersion"],
            "kind": claim["kind"],
            "name": claim["metadata"]["name"],
            "namespace": claim["metadata"]["namespace"],
        }),
    );
    json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind,
        "metadata": {
            "name": composite_name,
            "labels": {
                LABEL_CLAIM_NAME: claim["metadata"]["name"],
                LABEL_CLAIM_NAMESPACE: claim["metadata"]["namespace"],
            },
        },
        "spec": spec,
    })
}

/// Whether `composite` may be bound by `claim`: unclaimed, or claimed by this very claim.
pub fn can_bind(claim: &Value, composite: &Value) -> bool {
    composite["spec"]["claimRef"].is_null() || bound_to(claim, composite)
}

/// Whether `composite` is bound to `claim`: its `claimRef` names this claim. Only then may the
/// claim's deletion delete it; a claim that merely names it in `spec.resourceRef` may not.
pub fn bound_to(claim: &Value, composite: &Value) -> bool {
    let claim_ref = &composite["spec"]["claimRef"];
    claim_ref["name"] == claim["metadata"]["name"]
        && claim_ref["namespace"] == claim["metadata"]["namespace"]
}

/// The claim's status from its composite's: the composite's own status fields, and `Synced`
/// / `Ready` naming the composite when it is the one failing.
pub fn claim_status(composite: Option<&Value>, composite_ref: &str) -> Value {
    let Some(composite) = composite else {
        return json!({"conditions": [
            condition("Synced", true, "ReconcileSuccess", ""),
            condition("Ready", false, "Creating", &format!("waiting for composite resource {composite_ref}")),
        ]});
    };
    let mut status: Map<String, Value> =
        composite["status"].as_object().cloned().unwrap_or_default();
    status.remove("conditions");
    status.remove("connectionDetails");
    let find = |type_: &str| {
        composite["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == type_)
            .cloned()
    };
    // A composite that has not reported yet failed nothing: the claim's own reconcile succeeded
    // (Synced=True) and it is not ready yet.
    let mirror = |type_: &str, waiting_reason: &str| match find(type_) {
        Some(c) if c["status"] == "True" => {
            condition(type_, true, c["reason"].as_str().unwrap_or_default(), "")
        }
        Some(c) => condition(
            type_,
            false,
            c["reason"].as_str().unwrap_or_default(),
            &format!(
                "composite resource {composite_ref}: {}",
                c["message"].as_str().unwrap_or("not ready")
            ),
        ),
        None if type_ == "Synced" => condition(type_, true, waiting_reason, ""),
        None => condition(
            type_,
            false,
            waiting_reason,
            &format!("waiting for composite resource {composite_ref} to report {type_}"),
        ),
    };
    status.insert(
        "conditions".to_owned(),
        json!([mirror("Synced", "ReconcileSuccess"), mirror("Ready", "Creating")]),
    );
    Value::Object(status)
}

/// A connection Secret controlled by `owner`, as a server-side apply body. `keys` limits the
/// published keys (the XRD's `connectionSecretKeys`; empty means all).
pub fn connection_secret(
    owner: &Value,
    name: &str,
    namespace: &str,
    data: &BTreeMap<String, Vec<u8>>,
    keys: &[String],
) -> Value {
    let data: Map<String, Value> = data
        .iter()
        .filter(|(k, _)| keys.is_empty() || keys.contains(k))
        .map(|(k, v)| (k.clone(), Value::String(BASE64.encode(v))))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [{
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "type": CONNECTION_SECRET_TYPE,
        "data": data,
    })
}

/// A Secret's data as bytes; values that are not base64 are skipped.
pub fn secret_data(secret: &Value) -> BTreeMap<String, Vec<u8>> {
    secret["data"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), BASE64.decode(v.as_str()?).ok()?)))
        .collect()
}

/// Whether `secret` is controlled by the object with `uid` — the only Secrets whose data a
/// claim may copy, so a claim cannot exfiltrate an arbitrary Secret by naming it.
pub fn controlled_by(secret: &Value, uid: &str) -> bool {
    secret["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|o| o["controller"] == true && o["uid"] == uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn claim() -> Value {
        json!({
            "apiVersion": "database.crosstie.io/v1alpha1",
            "kind": "PostgreSQLInstance",
            "metadata": {"name": "orders-db", "namespace": "team-a", "uid": "c-1"},
            "spec": {
                "parameters": {"storageGB": 20},
                "compositionRef": {"name": "aws"},
                "resourceRef": {"name": "ignored"},
                "writeConnectionSecretToRef": {"name": "orders-db-connection"},
                "compositeDeletePolicy": "Background",
            },
        })
    }

    fn kind() -> ServedKind {
        ServedKind {
            group: "database.crosstie.io".into(),
            version: "v1alpha1".into(),
            kind: "XPostgreSQLInstance".into(),
            plural: "xpostgresqlinstances".into(),
        }
    }

    #[test]
    fn a_claim_asks_for_a_labelled_composite_with_its_spec_and_a_claim_ref() {
        assert_eq!(
            composite_for_claim(&claim(), "orders-db-x7k2p", &kind()),
            json!({
                "apiVersion": "database.crosstie.io/v1alpha1",
                "kind": "XPostgreSQLInstance",
                "metadata": {
                    "name": "orders-db-x7k2p",
                    "labels": {
                        "crossplane.io/claim-name": "orders-db",
                        "crossplane.io/claim-namespace": "team-a",
                    },
                },
                "spec": {
                    "parameters": {"storageGB": 20},
                    "compositionRef": {"name": "aws"},
                    "claimRef": {
                        "apiVersion": "database.crosstie.io/v1alpha1",
                        "kind": "PostgreSQLInstance",
                        "name": "orders-db",
                        "namespace": "team-a",
                    },
                },
            })
        );
    }

    #[test]
    fn composite_names_are_the_claim_name_and_five_random_characters() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = new_composite_name("orders-db", &mut rng);
        let b = new_composite_name("orders-db", &mut rng);
        assert_ne!(a, b);
        for name in [a, b] {
            let suffix = name.strip_prefix("orders-db-").unwrap();
            assert_eq!(suffix.len(), 5);
            assert!(suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        }
    }

    #[test]
    fn a_composite_bound_to_another_claim_cannot_be_bound() {
        let mut composite = json!({"spec": {}});
        assert!(can_bind(&claim(), &composite));
        composite["spec"]["claimRef"] = json!({"name": "orders-db", "namespace": "team-a"});
        assert!(can_bind(&claim(), &composite));
        composite["spec"]["claimRef"]["namespace"] = json!("team-b");
        assert!(!can_bind(&claim(), &composite));
    }

    #[test]
    fn only_a_composite_whose_claim_ref_names_the_claim_is_bound_to_it() {
        let mut composite = json!({"spec": {}});
        assert!(!bound_to(&claim(), &composite), "unclaimed: not bound to anyone yet");
        composite["spec"]["claimRef"] = json!({"name": "orders-db", "namespace": "team-a"});
        assert!(bound_to(&claim(), &composite));
        composite["spec"]["claimRef"]["namespace"] = json!("team-b");
        assert!(!bound_to(&claim(), &composite), "a claim of the same name in another namespace");
        composite["spec"]["claimRef"] = json!({"name": "other-db", "namespace": "team-a"});
        assert!(!bound_to(&claim(), &composite), "another claim in the same namespace");
    }

    #[test]
    fn the_claim_status_names_the_failing_composite_and_copies_its_fields() {
        let composite = json!({"status": {
            "endpoint": "db.example.org",
            "connectionDetails": {"lastPublishedTime": "t"},
            "conditions": [
                {"type": "Synced", "status": "False", "reason": "ReconcileError", "message": "cannot compose resource \"rds\": boom"},
                {"type": "Ready", "status": "False", "reason": "Creating", "message": "Unready resources: rds"},
            ],
        }});
        assert_eq!(
            claim_status(Some(&composite), "XPostgreSQLInstance/orders-db-x7k2p"),
            json!({
                "endpoint": "db.example.org",
                "conditions": [
                    {"type": "Synced", "status": "False", "reason": "ReconcileError",
                     "message": "composite resource XPostgreSQLInstance/orders-db-x7k2p: cannot compose resource \"rds\": boom"},
                    {"type": "Ready", "status": "False", "reason": "Creating",
                     "message": "composite resource XPostgreSQLInstance/orders-db-x7k2p: Unready resources: rds"},
                ],
            })
        );
    }

    #[test]
    fn a_ready_composite_makes_a_ready_claim() {
        let composite = json!({"status": {"conditions": [
            {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
            {"type": "Ready", "status": "True", "reason": "Available"},
        ]}});
        let status = claim_status(Some(&composite), "X/x");
        assert_eq!(
            status["conditions"][1],
            json!({"type": "Ready", "status": "True", "reason": "Available"})
        );
    }

    #[test]
    fn connection_secrets_publish_only_the_allowed_keys_and_are_owned() {
        let owner =
            json!({"apiVersion": "v1x", "kind": "K", "metadata": {"name": "o", "uid": "u-1"}});
        let data = BTreeMap::from([
            ("endpoint".to_owned(), b"db".to_vec()),
            ("password".to_owned(), b"pw".to_vec()),
            ("internal".to_owned(), b"x".to_vec()),
        ]);
        let secret = connection_secret(
            &owner,
            "s",
            "team-a",
            &data,
            &["endpoint".into(), "password".into()],
        );
        assert_eq!(secret["data"], json!({"endpoint": "ZGI=", "password": "cHc="}));
        assert_eq!(secret["type"], CONNECTION_SECRET_TYPE);
        assert!(controlled_by(&secret, "u-1"));
        assert!(!controlled_by(&secret, "u-2"));
        assert_eq!(secret_data(&secret).get("password"), Some(&b"pw".to_vec()));
    }
}
