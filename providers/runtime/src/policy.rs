//! Management policies: which actions the engine may take on the external resource.
//!
//! Crossplane supports exactly 15 combinations (crossplane-runtime `policies.go`); anything else
//! is rejected with a `ReconcileError` rather than guessed at.

use std::collections::BTreeSet;

use crate::spec::{DeletionPolicy, ManagementAction, ResourceSpec};

use ManagementAction::{Create, Delete, LateInitialize, Observe, Update};

/// The validated set of actions in effect for one managed resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policies {
    actions: BTreeSet<ManagementAction>,
    deletion: DeletionPolicy,
}

/// The management policies are not one of the supported combinations.
#[derive(Debug, thiserror::Error)]
#[error(
    "spec.managementPolicies {0:?} is not a supported combination; use [\"*\"], [\"Observe\"], or \"Observe\" plus \"Create\" with any of \"Update\", \"Delete\", \"LateInitialize\""
)]
pub struct UnsupportedPolicies(pub Vec<ManagementAction>);

impl Policies {
    /// Validate the policies of `spec` (unset means `["*"]`).
    pub fn of(spec: &ResourceSpec) -> Result<Self, UnsupportedPolicies> {
        let requested =
            spec.management_policies.clone().unwrap_or_else(|| vec![ManagementAction::All]);
        let mut actions: BTreeSet<_> = requested.iter().copied().collect();
        if actions.contains(&ManagementAction::All) {
            if actions.len() > 1 {
                return Err(UnsupportedPolicies(requested));
            }
            actions = BTreeSet::from([Observe, Create, Update, Delete, LateInitialize]);
        }
        if !supported(&actions) {
            return Err(UnsupportedPolicies(requested));
        }
        Ok(Self { actions, deletion: spec.deletion_policy() })
    }

    /// `managementPolicies: []`: reconciliation is paused.
    pub fn paused(&self) -> bool {
        self.actions.is_empty()
    }

    /// The engine may take `action`.
    pub fn allows(&self, action: ManagementAction) -> bool {
        self.actions.contains(&action)
    }

    /// Deleting the managed resource deletes the external one: only when both the management
    /// policies allow `Delete` and `deletionPolicy` is not `Orphan` (either one keeps it).
    pub fn should_delete(&self) -> bool {
        self.allows(Delete) && self.deletion == DeletionPolicy::Delete
    }
}

/// The 15 sets of crossplane-runtime: `[]`, `[Observe]`, Observe+Create with any subset of
/// {Update, Delete, LateInitialize}, and Observe with one of Delete, Update, LateInitialize or
/// Update+LateInitialize.
fn supported(actions: &BTreeSet<ManagementAction>) -> bool {
    if actions.is_empty() {
        return true;
    }
    if !actions.contains(&Observe) {
        return false;
    }
    let rest: BTreeSet<_> = actions.iter().copied().filter(|a| *a != Observe).collect();
    if rest.contains(&Create) {
        return true;
    }
    let only = |set: &[ManagementAction]| rest == set.iter().copied().collect();
    rest.is_empty()
        || only(&[Delete])
        || only(&[Update])
        || only(&[LateInitialize])
        || only(&[Update, LateInitialize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ManagementAction::All;

    fn policies(actions: &[ManagementAction]) -> Result<Policies, UnsupportedPolicies> {
        let spec =
            ResourceSpec { management_policies: Some(actions.to_vec()), ..Default::default() };
        Policies::of(&spec)
    }

    #[test]
    fn exactly_fifteen_combinations_are_supported() {
        let all = [Observe, Create, Update, Delete, LateInitialize];
        let supported = (0u32..32)
            .filter(|mask| {
                let set: Vec<_> = (0..5).filter(|i| mask & (1 << i) != 0).map(|i| all[i]).collect();
                policies(&set).is_ok()
            })
            .count();
        // 15 sets, of which `*` and the full five-action set are the same actions.
        assert_eq!(supported + 1, 15);
        assert!(policies(&[All]).is_ok());
        assert!(policies(&[All, Observe]).is_err());
        assert!(policies(&[Create]).is_err());
        assert!(policies(&[Observe, Delete, LateInitialize]).is_err());
    }

    #[test]
    fn orphan_or_a_policy_without_delete_keeps_the_external_resource() {
        assert!(policies(&[All]).unwrap().should_delete());
        assert!(!policies(&[Observe]).unwrap().should_delete());
        let orphan =
            ResourceSpec { deletion_policy: Some(DeletionPolicy::Orphan), ..Default::default() };
        assert!(!Policies::of(&orphan).unwrap().should_delete());
        assert!(Policies::of(&ResourceSpec::default()).unwrap().allows(LateInitialize));
    }
}
