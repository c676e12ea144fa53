//! Composite and claim conditions derived from a render (pure).

use serde_json::{Value, json};

use super::render::Rendered;

/// `Unready resources: a, b, and c`, as Crossplane words it (`StableNAndSomeMore`): names
/// sorted, so the message does not change with Composition order, and at most three named.
pub fn unready_message(names: &[&str]) -> String {
    const NAMED: usize = 3;
    let mut names = names.to_vec();
    names.sort_unstable();
    let list = match names.len() {
        n if n > NAMED => format!("{}, and {} more", names[..NAMED].join(", "), n - NAMED),
        NAMED => format!("{}, and {}", names[..NAMED - 1].join(", "), names[NAMED - 1]),
        _ => names.join(", "),
    };
    format!("Unready resources: {list}")
}

/// A condition without `lastTransitionTime`, which the writer stamps when the status changes.
pub fn condition(type_: &str, status: bool, reason: &str, message: &str) -> Value {
    let mut c =
        json!({"type": type_, "status": if status { "True" } else { "False" }, "reason": reason});
    if !message.is_empty() {
        c["message"] = json!(message);
    }
    c
}

/// The composite's `Synced` and `Ready` conditions after `rendered` was applied.
pub fn composite_conditions(rendered: &Rendered) -> [Value; 2] {
    let errors = rendered.errors();
    let synced = if errors.is_empty() {
        condition("Synced", true, "ReconcileSuccess", "")
    } else {
        condition("Synced", false, "ReconcileError", &errors.join("; "))
    };
    let unready = rendered.unready();
    let ready = if unready.is_empty() {
        condition("Ready", true, "Available", "")
    } else {
        condition("Ready", false, "Creating", &unready_message(&unready))
    };
    [synced, ready]
}

/// Sets or replaces `conditions` in `object.status.conditions`, keeping the previous
/// `lastTransitionTime` of conditions whose status did not change and stamping `now` on the
/// others. Returns whether anything changed.
pub fn set_conditions(object: &mut Value, conditions: &[Value], now: &str) -> bool {
    let current = object["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let mut next = current.clone();
    for c in conditions {
        let mut c = c.clone();
        let old = current.iter().find(|o| o["type"] == c["type"]);
        c["lastTransitionTime"] = match old {
            Some(o) if o["status"] == c["status"] => o["lastTransitionTime"].clone(),
            _ => json!(now),
        };
        match next.iter_mut().find(|o| o["type"] == c["type"]) {
            Some(slot) => *slot = c,
            None => next.push(c),
        }
    }
    if next == current {
        return false;
    }
    if !object["status"].is_object() {
        object["status"] = json!({});
    }
    object["status"]["conditions"] = Value::Array(next);
    true
}

/// Whether the condition `kind` of `after` differs from that of `before` in status, reason or
/// message (its time aside).
pub fn condition_changed(before: &Value, after: &Value, kind: &str) -> bool {
    let find = |object: &Value| {
        object["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .map(|c| (c["status"].clone(), c["reason"].clone(), c["message"].clone()))
    };
    find(before) != find(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unready_resources_are_listed_the_way_crossplane_does() {
        assert_eq!(unready_message(&["a"]), "Unready resources: a");
        assert_eq!(unready_message(&["sng", "db"]), "Unready resources: db, sng");
        assert_eq!(unready_message(&["c", "a", "b"]), "Unready resources: a, b, and c");
        assert_eq!(
            unready_message(&["e", "d", "c", "b", "a"]),
            "Unready resources: a, b, c, and 2 more"
        );
    }

    #[test]
    fn unchanged_conditions_keep_their_transition_time() {
        let mut xr = json!({});
        assert!(set_conditions(&mut xr, &[condition("Ready", false, "Creating", "x")], "t1"));
        assert!(!set_conditions(&mut xr, &[condition("Ready", false, "Creating", "x")], "t2"));
        assert!(set_conditions(&mut xr, &[condition("Ready", false, "Creating", "y")], "t3"));
        assert_eq!(xr["status"]["conditions"][0]["lastTransitionTime"], "t1");
        assert!(set_conditions(&mut xr, &[condition("Ready", true, "Available", "")], "t4"));
        assert_eq!(xr["status"]["conditions"][0]["lastTransitionTime"], "t4");
    }
}
