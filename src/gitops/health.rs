//! kstatus-style health of live objects, including Crossplane resources and claims. Pure.
//!
//! Crosstie runs no pods in embedded mode, so Deployments, StatefulSets, DaemonSets and Jobs are
//! judged exactly as kstatus does (available/updated replicas, Job conditions) and stay
//! in progress there: health-check them only against a cluster that runs workloads.

use serde_json::Value;

/// The health of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Reconciled and ready.
    Current,
    /// Still converging; the message says what is awaited.
    InProgress(String),
    /// Failed and will not converge by waiting.
    Failed(String),
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn condition_message(c: &Value) -> String {
    let reason = c["reason"].as_str().unwrap_or_default();
    let message = c["message"].as_str().unwrap_or_default();
    match (reason.is_empty(), message.is_empty()) {
        (false, false) => format!("{reason}: {message}"),
        (false, true) => reason.to_owned(),
        _ => message.to_owned(),
    }
}

/// Compute an object's health. `crossplane` marks Crossplane resources (managed resources,
/// composites, claims): they are in progress until they report `Ready`, even before their first
/// status write, where kstatus would call a custom resource without conditions current.
pub fn health(object: &Value, crossplane: bool) -> Health {
    let kind = object["kind"].as_str().unwrap_or_default();
    let generation = object["metadata"]["generation"].as_i64();
    let observed = object["status"]["observedGeneration"].as_i64();
    if let (Some(g), Some(o)) = (generation, observed)
        && o < g
    {
        return Health::InProgress(format!("{kind} generation {g} not yet observed (at {o})"));
    }
    match kind {
        "Deployment" | "StatefulSet" | "ReplicaSet" => return replicas(object, kind),
        "DaemonSet" => {
            let want = object["status"]["desiredNumberScheduled"].as_i64().unwrap_or(0);
            let ready = object["status"]["numberAvailable"].as_i64().unwrap_or(0);
            return if ready >= want {
                Health::Current
            } else {
                Health::InProgress(format!("DaemonSet: {ready}/{want} available"))
            };
        }
        "Job" => {
            if let Some(c) = condition(object, "Failed").filter(|c| c["status"] == "True") {
                return Health::Failed(condition_message(c));
            }
            return match condition(object, "Complete") {
                Some(c) if c["status"] == "True" => Health::Current,
                _ => Health::InProgress("Job not complete".into()),
            };
        }
        "Pod" => {
            return match object["status"]["phase"].as_str() {
                Some("Running" | "Succeeded") => Health::Current,
                Some("Failed") => Health::Failed("Pod failed".into()),
                phase => Health::InProgress(format!("Pod phase {}", phase.unwrap_or("Pending"))),
            };
        }
        "PersistentVolumeClaim" => {
            return match object["status"]["phase"].as_str() {
                Some("Bound") => Health::Current,
                phase => Health::InProgress(format!(
                    "PersistentVolumeClaim phase {}",
                    phase.unwrap_or("Pending")
                )),
            };
        }
        "CustomResourceDefinition" | "CompositeResourceDefinition" => {
            return match condition(object, "Established") {
                Some(c) if c["status"] == "True" => Health::Current,
                _ => Health::InProgress(format!("{kind} not established")),
            };
        }
        _ => {}
    }
    // Crossplane: Synced=False means the last reconcile failed (bad spec, cloud API error).
    if let Some(c) = condition(object, "Synced").filter(|c| c["status"] == "False") {
        return Health::Failed(condition_message(c));
    }
    if let Some(c) = condition(object, "Stalled").filter(|c| c["status"] == "True") {
        return Health::Failed(condition_message(c));
    }
    if let Some(c) = condition(object, "Reconciling").filter(|c| c["status"] == "True") {
        return Health::InProgress(condition_message(c));
    }
    match condition(object, "Ready") {
        Some(c) if c["status"] == "True" => Health::Current,
        Some(c) => Health::InProgress(condition_message(c)),
        None if crossplane => Health::InProgress("no Ready condition yet".into()),
        // Objects without a Ready condition (ConfigMaps, Services, Namespaces, …) are current
        // once they exist, as in kstatus.
        None => Health::Current,
    }
}

fn replicas(object: &Value, kind: &str) -> Health {
    let want = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &object["status"];
    let updated = status["updatedReplicas"].as_i64().unwrap_or(0);
    let available =
        status["availableReplicas"].as_i64().or(status["readyReplicas"].as_i64()).unwrap_or(0);
    if updated >= want && available >= want {
        Health::Current
    } else {
        Health::InProgress(format!(
            "{kind}: {available}/{want} available, {updated}/{want} updated"
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_objects_are_current_once_they_exist() {
        assert_eq!(health(&json!({"kind": "ConfigMap", "metadata": {}}), false), Health::Current);
    }

    #[test]
    fn crossplane_claims_need_ready_and_fail_on_synced_false() {
        let claim = |ready: &str, synced: &str| {
            json!({"kind": "PostgresInstance", "metadata": {"generation": 1}, "status": {"conditions": [
                {"type": "Ready", "status": ready, "reason": "Creating"},
                {"type": "Synced", "status": synced, "reason": "ReconcileError", "message": "invalid instance class"}
            ]}})
        };
        assert_eq!(health(&claim("True", "True"), true), Health::Current);
        assert!(
            matches!(health(&claim("False", "True"), true), Health::InProgress(m) if m.contains("Creating"))
        );
        assert!(
            matches!(health(&claim("False", "False"), true), Health::Failed(m) if m.contains("invalid instance class"))
        );
    }

    #[test]
    fn a_crossplane_resource_without_status_is_in_progress_but_a_plain_custom_resource_is_current()
    {
        let fresh =
            json!({"kind": "PostgreSQLInstance", "metadata": {"generation": 1}, "spec": {}});
        assert!(matches!(health(&fresh, true), Health::InProgress(_)));
        assert_eq!(health(&fresh, false), Health::Current);
    }

    #[test]
    fn deployments_need_available_replicas_and_a_current_generation() {
        let d = |generation: i64, observed: i64, available: i64| {
            json!({"kind": "Deployment", "metadata": {"generation": generation}, "spec": {"replicas": 2},
                   "status": {"observedGeneration": observed, "updatedReplicas": 2, "availableReplicas": available}})
        };
        assert_eq!(health(&d(1, 1, 2), false), Health::Current);
        assert!(matches!(health(&d(1, 1, 1), false), Health::InProgress(_)));
        assert!(
            matches!(health(&d(2, 1, 2), false), Health::InProgress(m) if m.contains("generation"))
        );
    }

    #[test]
    fn failed_jobs_and_unestablished_crds() {
        let job = json!({"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert_eq!(health(&job, false), Health::Failed("BackoffLimitExceeded".into()));
        let crd = json!({"kind": "CustomResourceDefinition", "status": {"conditions": []}});
        assert!(matches!(health(&crd, false), Health::InProgress(_)));
    }
}
