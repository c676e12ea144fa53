//! Garbage collection and deletion finalizers, the work kube-controller-manager's garbage
//! collector and namespace controller (and the apiextensions CRD finalizer) do:
//!
//! - an object with owner references, none of whose owners (by uid) exists, is deleted;
//! - `foregroundDeletion`: the owner's dependents are deleted, then the finalizer is removed;
//! - `orphan`: the owner reference is removed from dependents, then the finalizer;
//! - a deleting Namespace has its contents deleted, then its `kubernetes` finalizer removed;
//! - a deleting CRD has its custom resources deleted, then its cleanup finalizer removed.
//!
//! The collector sweeps after every deletion-related event and every few seconds, so work missed
//! (for instance across a restart) is picked up again. Events expire an hour after they were last
//! observed, as with kube-apiserver's default `--event-ttl`.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::registry::{CRD_STORAGE, NAMESPACE_STORAGE, ResourceType};
use super::status::ApiError;
use super::store::{EventType, ObjectKey};
use super::verbs::{
    Api, CRD_CLEANUP_FINALIZER, FOREGROUND_FINALIZER, NAMESPACE_FINALIZER, ORPHAN_FINALIZER,
    string_list,
};

const RESYNC: Duration = Duration::from_secs(5);
/// How long an Event lives after it was last observed.
pub const EVENT_TTL: Duration = Duration::from_secs(3600);
/// Storage key of (core and events.k8s.io) Events.
const EVENTS_STORAGE: &str = "/events";

/// Runs the collector until `shutdown` turns true.
pub async fn run(api: Api, mut shutdown: watch::Receiver<bool>) {
    let mut rx = api.store.subscribe();
    let mut pending = true;
    let mut expiry = tokio::time::interval(Duration::from_secs(60));
    loop {
        if pending {
            pending = false;
            let api = api.clone();
            match tokio::task::spawn_blocking(move || sweep(&api)).await {
                Ok(Ok(more)) => pending = more,
                Ok(Err(e)) => tracing::warn!(error = %e, "garbage collection sweep failed"),
                Err(e) => tracing::warn!(error = %e, "garbage collection sweep panicked"),
            }
        }
        tokio::select! {
            received = rx.recv() => match received {
                Ok(event) => pending |= event.kind == EventType::Deleted || event.object.contains("\"deletionTimestamp\""),
                Err(RecvError::Lagged(_)) => pending = true,
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(RESYNC) => pending = true,
            _ = expiry.tick() => {
                let api = api.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || expire_events(&api, EVENT_TTL)).await {
                    tracing::warn!(error = %e, "expiring events failed");
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// One pass over everything pending; returns whether it changed anything (another pass may
/// then find more to do).
pub fn sweep(api: &Api) -> Result<bool, ApiError> {
    let mut changed = false;
    for orphan in api.store.orphans()? {
        // One already waiting for its finalizers needs nothing more from us.
        if api.store.get(&orphan)?.is_some_and(|o| o["metadata"]["deletionTimestamp"].is_null()) {
            api.delete_key(&orphan)?;
            changed = true;
        }
    }
    for key in api.store.deleting()? {
        let Some(object) = api.store.get(&key)? else { continue };
        let uid = object["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
        let finalizers = string_list(&object["metadata"]["finalizers"]);
        let has = |f: &str| finalizers.iter().any(|x| x == f);
        if has(ORPHAN_FINALIZER) {
            for dependent in api.store.dependents(&uid)? {
                api.remove_owner(&dependent, &uid)?;
            }
            api.remove_finalizer(&key, ORPHAN_FINALIZER, false)?;
            changed = true;
        }
        if has(FOREGROUND_FINALIZER) {
            changed |= finalize_after(
                api,
                &key,
                api.store.dependents(&uid)?,
                FOREGROUND_FINALIZER,
                false,
            )?;
        }
        if key.resource == NAMESPACE_STORAGE
            && string_list(&object["spec"]["finalizers"]).iter().any(|f| f == NAMESPACE_FINALIZER)
        {
            changed |= finalize_after(
                api,
                &key,
                api.store.in_namespace(&key.name)?,
                NAMESPACE_FINALIZER,
                true,
            )?;
        }
        if key.resource == CRD_STORAGE && has(CRD_CLEANUP_FINALIZER) {
            let contents = match ResourceType::from_crd(&object) {
                Some(rt) => api.store.resource_keys(&rt.storage)?,
                None => Vec::new(),
            };
            changed |= finalize_after(api, &key, contents, CRD_CLEANUP_FINALIZER, false)?;
        }
    }
    Ok(changed)
}

/// Deletes `contents`, or removes `finalizer` from `key` once nothing is left.
fn finalize_after(
    api: &Api,
    key: &ObjectKey,
    contents: Vec<ObjectKey>,
    finalizer: &str,
    in_spec: bool,
) -> Result<bool, ApiError> {
    if contents.is_empty() {
        api.remove_finalizer(key, finalizer, in_spec)?;
        return Ok(true);
    }
    for dependent in &contents {
        api.delete_key(dependent)?;
    }
    Ok(false)
}

/// Deletes Events last observed more than `ttl` ago.
pub fn expire_events(api: &Api, ttl: Duration) -> Result<usize, ApiError> {
    let horizon = jiff::Timestamp::now() - jiff::SignedDuration::try_from(ttl).unwrap_or_default();
    let events = api.store.list(EVENTS_STORAGE, None, None, 0, &|_| true)?;
    let mut expired = 0;
    for text in events.items {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        let last_seen = [
            &event["series"]["lastObservedTime"],
            &event["lastTimestamp"],
            &event["eventTime"],
            &event["metadata"]["creationTimestamp"],
        ]
        .into_iter()
        .filter_map(|t| t.as_str()?.parse::<jiff::Timestamp>().ok())
        .max();
        if last_seen.is_some_and(|t| t < horizon) {
            let meta = &event["metadata"];
            api.delete_key(&ObjectKey {
                resource: EVENTS_STORAGE.into(),
                namespace: meta["namespace"].as_str().unwrap_or_default().into(),
                name: meta["name"].as_str().unwrap_or_default().into(),
            })?;
            expired += 1;
        }
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::store::Store;
    use crate::apiserver::verbs::{Scope, WriteOptions};
    use std::sync::Arc;

    #[test]
    fn events_expire_after_their_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let api = Api::new(Arc::new(Store::open(dir.path()).unwrap())).unwrap();
        let namespaces = api.registry.lookup("", "v1", "namespaces").unwrap();
        let opts = WriteOptions { manager: "test".into(), ..Default::default() };
        let cluster =
            Scope { rt: namespaces, version: "v1".into(), namespace: Some(String::new()) };
        api.create(&cluster, serde_json::json!({"metadata": {"name": "default"}}), &opts).unwrap();
        let events = api.registry.lookup("", "v1", "events").unwrap();
        let scope = Scope { rt: events, version: "v1".into(), namespace: Some("default".into()) };
        api.create(&scope, serde_json::json!({"metadata": {"name": "e"}, "reason": "R"}), &opts)
            .unwrap();
        assert_eq!(expire_events(&api, EVENT_TTL).unwrap(), 0);
        assert!(api.get(&scope, "e").is_ok());
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(expire_events(&api, Duration::ZERO).unwrap(), 1);
        assert!(api.get(&scope, "e").is_err());
    }
}
