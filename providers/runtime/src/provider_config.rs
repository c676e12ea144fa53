//! The generic ProviderConfig reconciler: a ProviderConfig in use cannot be deleted.
//!
//! As crossplane-runtime's `providerconfig.Reconciler`: every ProviderConfig carries the
//! `in-use.crossplane.io` finalizer and `status.users` (the number of usages naming it). When
//! it is deleted the finalizer is dropped only once no usage is left; until then a `Terminating`
//! condition and a Warning event say how many resources still use it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::patch::{self, has_finalizer};
use crate::reason;
use crate::spec::ResourceStatus;
use crate::usage::{PROVIDER_CONFIG_LABEL, ProviderConfigKinds};

/// The finalizer that keeps a ProviderConfig while resources use it.
pub const FINALIZER: &str = "in-use.crossplane.io";

/// Condition type set on a ProviderConfig whose deletion is blocked.
pub const TERMINATING: &str = "Terminating";

/// The status every ProviderConfig kind embeds (`#[serde(flatten)]` or as its whole status).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigStatus {
    /// How many managed resources use this ProviderConfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<i64>,
    /// Conditions, e.g. `Terminating` while deletion waits for users to go.
    #[serde(flatten)]
    pub resource: ResourceStatus,
}

/// How often ProviderConfigs are re-counted even without usage events (watches can miss some).
const RESYNC: Duration = Duration::from_secs(300);

/// Reading usages or writing the ProviderConfig failed; retried with backoff.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} ProviderConfig {name:?}: {}", crate::patch::describe(source))]
pub struct Error {
    /// What failed, e.g. `count usages of`.
    pub action: &'static str,
    /// The ProviderConfig's name.
    pub name: String,
    /// The API error.
    #[source]
    pub source: kube::Error,
}

/// What the ProviderConfig reconciler needs.
pub struct Context {
    client: Client,
    kinds: ProviderConfigKinds,
    /// Every usage object, from the watch that also triggers reconciles: counting users is a
    /// scan of memory, not a LIST per reconcile (each new managed resource creates a usage, so
    /// a LIST per usage event is quadratic in the number of resources).
    usages: Store<DynamicObject>,
    recorder: Recorder,
    clock: fn() -> Timestamp,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("kinds", &self.kinds).finish_non_exhaustive()
    }
}

impl Context {
    /// A context for the ProviderConfig kind in `kinds`, counting users in `usages` (a store of
    /// every usage object of `kinds`) and reporting events as `controller`.
    pub fn new(
        client: Client,
        kinds: ProviderConfigKinds,
        usages: Store<DynamicObject>,
        controller: &str,
    ) -> Self {
        let reporter = Reporter { controller: controller.to_owned(), instance: None };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            kinds,
            usages,
            clock: Timestamp::now,
        }
    }

    /// Use `clock` for condition transition times (tests pin it).
    #[must_use]
    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Self {
        self.clock = clock;
        self
    }
}

/// Reconcile one ProviderConfig: count its usages, keep or release its finalizer.
pub async fn reconcile(pc: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = pc.name_any();
    let fail = |action| {
        let name = name.clone();
        move |source| Error { action, name, source }
    };
    let configs: Api<DynamicObject> = Api::all_with(ctx.client.clone(), &ctx.kinds.provider_config);
    // Before the first full list a count could be falsely zero and release the finalizer. The
    // wait fails only when the usage watch is gone, i.e. the controller is stopping.
    if ctx.usages.wait_until_ready().await.is_err() {
        return Ok(Action::await_change());
    }
    let users =
        ctx.usages.state().iter().filter(|u| used_config(u).as_deref() == Some(&name)).count();

    let deleting = pc.meta().deletion_timestamp.is_some();
    if deleting && users == 0 {
        if let Some(remove) = patch::remove_finalizer(pc.as_ref(), FINALIZER) {
            patch::json(&configs, &name, remove).await.map_err(fail("remove finalizer from"))?;
        }
        return Ok(Action::await_change());
    }
    if !deleting && !has_finalizer(pc.as_ref(), FINALIZER) {
        let add = patch::add_finalizer(pc.as_ref(), FINALIZER);
        patch::json(&configs, &name, add).await.map_err(fail("add finalizer to"))?;
    }

    let read = pc.data.get("status").cloned().unwrap_or_default();
    let mut status: ProviderConfigStatus = serde_json::from_value(read.clone()).unwrap_or_default();
    status.users = Some(i64::try_from(users).unwrap_or(i64::MAX));
    if deleting {
        let message = format!(
            "cannot delete ProviderConfig {name:?}: it is in use by {users} managed resources"
        );
        let in_use = crate::Condition {
            type_: TERMINATING.to_owned(),
            status: "True".to_owned(),
            reason: reason::IN_USE.to_owned(),
            message: message.clone(),
            ..Default::default()
        };
        status.resource.set_condition(in_use, pc.meta().generation, (ctx.clock)());
        let event = Event {
            type_: EventType::Warning,
            reason: reason::IN_USE.into(),
            note: Some(message),
            action: "Delete".into(),
            secondary: None,
        };
        if let Err(err) =
            ctx.recorder.publish(&event, &pc.object_ref(&ctx.kinds.provider_config)).await
        {
            tracing::warn!(error = %err, name, "cannot publish event");
        }
    }
    let desired = serde_json::to_value(&status).unwrap_or_else(|_| json!({}));
    if let Some(diff) = patch::merge_diff(&read, &desired) {
        let body = Patch::Merge(json!({ "status": diff }));
        configs
            .patch_status(&name, &PatchParams::default(), &body)
            .await
            .map_err(fail("patch status of"))?;
    }
    Ok(Action::requeue(RESYNC))
}

/// Retry a failed ProviderConfig reconcile after a short wait.
pub fn error_policy(_pc: Arc<DynamicObject>, err: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(error = %err, "ProviderConfig reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// The ProviderConfig each usage counts towards, as the usage watch last saw it.
///
/// When a resource moves to another ProviderConfig its usage is relabelled, and the watch event
/// names only the new ProviderConfig: the one it left must be re-counted too, or its `users`
/// stays stale (and its deletion blocked or allowed wrongly) until the periodic resync.
#[derive(Debug, Default)]
pub struct Placements(HashMap<String, String>);

impl Placements {
    /// The ProviderConfigs whose number of users `event` may have changed.
    pub fn affected(&mut self, event: &watcher::Event<DynamicObject>) -> Vec<String> {
        let (usage, deleted) = match event {
            watcher::Event::Apply(usage) | watcher::Event::InitApply(usage) => (usage, false),
            watcher::Event::Delete(usage) => (usage, true),
            watcher::Event::Init | watcher::Event::InitDone => return Vec::new(),
        };
        let name = usage.name_any();
        let now = used_config(usage);
        let before = match now.clone().filter(|_| !deleted) {
            Some(config) => self.0.insert(name, config),
            None => self.0.remove(&name),
        };
        let mut affected: Vec<String> = now.into_iter().chain(before).collect();
        affected.dedup();
        affected
    }
}

/// The ProviderConfig a usage object counts towards.
pub(crate) fn used_config(usage: &DynamicObject) -> Option<String> {
    usage.labels().get(PROVIDER_CONFIG_LABEL).cloned().or_else(|| {
        usage.data.get("providerConfigRef")?.get("name").and_then(Value::as_str).map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(config: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "aws.crossplane.io/v1beta1",
            "kind": "ProviderConfigUsage",
            "metadata": { "name": "uid-db", "labels": { PROVIDER_CONFIG_LABEL: config } },
        }))
        .expect("a usage")
    }

    #[test]
    fn a_usage_moving_to_another_provider_config_recounts_both() {
        let mut placements = Placements::default();
        let mut affected = |event| placements.affected(&event);

        assert_eq!(affected(watcher::Event::InitApply(usage("pc-a"))), ["pc-a"]);
        assert_eq!(affected(watcher::Event::Apply(usage("pc-a"))), ["pc-a"], "unchanged");
        assert_eq!(affected(watcher::Event::Apply(usage("pc-b"))), ["pc-b", "pc-a"], "moved");
        assert_eq!(affected(watcher::Event::Delete(usage("pc-b"))), ["pc-b"], "released");
        assert_eq!(affected(watcher::Event::Apply(usage("pc-a"))), ["pc-a"], "forgotten");
    }
}
