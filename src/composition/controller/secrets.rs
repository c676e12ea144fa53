//! Connection Secrets as a watch cache, and which composites and claims read each one.
//!
//! A composite reads the connection Secrets of its composed resources and its own; a claim
//! reads its composite's and its own. They read them here instead of from the API server, as
//! they read their other objects from watch caches. A cached copy may lag the server by a watch
//! event, so every read registers its reader, and the event that updates a Secret wakes the
//! composites and claims that read it. Each reader's wake passes its controller's [`Passes`]
//! first: the echo of the reader's own write (which may arrive before the write's answer) and a
//! change arriving while the reader's pass runs are judged there, as its other triggers are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt as _;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject};
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, ResourceExt as _};
use serde_json::Value;

use super::super::claim::CONNECTION_SECRET_TYPE;
use super::{Error, Passes, to_value, version};

/// A composite or claim that reads connection Secrets, and how to wake it.
#[derive(Clone, Debug)]
pub struct Reader {
    object: ObjectRef<DynamicObject>,
    wake: UnboundedSender<ObjectRef<DynamicObject>>,
    /// Its controller's passes, and its key there.
    passes: Arc<Passes>,
    key: String,
}

impl Reader {
    /// `object`, woken through `wake` (its controller's trigger) when `passes` admits a change
    /// for `key`.
    pub fn new(
        object: ObjectRef<DynamicObject>,
        wake: &UnboundedSender<ObjectRef<DynamicObject>>,
        passes: &Arc<Passes>,
        key: String,
    ) -> Self {
        Self { object, wake: wake.clone(), passes: passes.clone(), key }
    }

    /// Wakes the reader for `secret`, unless its passes hold or drop the change; false once its
    /// controller has stopped.
    fn wake_for(&self, secret: &Secret) -> bool {
        !self.passes.admit(&self.key, version(secret))
            || self.wake.unbounded_send(self.object.clone()).is_ok()
    }

    /// Records `secret`, just written by this reader's pass, as one of the pass's writes.
    pub fn wrote(&self, secret: &impl kube::Resource) {
        self.passes.wrote(&self.key, version(secret));
    }

    fn is(&self, other: &Self) -> bool {
        self.object == other.object && self.wake.same_receiver(&other.wake)
    }
}

/// `namespace`, `name`.
type Key = (String, String);

/// The watch cache of connection Secrets and the readers of each.
#[derive(Debug)]
pub struct ConnectionSecrets {
    cache: Store<Secret>,
    readers: Mutex<HashMap<Key, Vec<Reader>>>,
}

impl ConnectionSecrets {
    /// Readers of `cache`, which the task that [`watch`] returns keeps filled.
    pub fn new(cache: Store<Secret>) -> Self {
        Self { cache, readers: Mutex::default() }
    }

    /// Secret `namespace/name` as JSON, if the cache holds it; `reader` is woken when it
    /// changes from now on.
    pub async fn read(
        &self,
        namespace: &str,
        name: &str,
        reader: &Reader,
    ) -> Result<Option<Value>, Error> {
        let key = (namespace.to_owned(), name.to_owned());
        {
            let mut readers = crosstie_runtime::sync::lock(&self.readers);
            let readers = readers.entry(key).or_default();
            if !readers.iter().any(|r| r.is(reader)) {
                readers.push(reader.clone());
            }
        }
        // Until the first list is in, a Secret missing from the cache may exist. The writer
        // lives as long as the watch; without it, this is the last state seen.
        let _ = self.cache.wait_until_ready().await;
        let key = ObjectRef::new(name).within(namespace);
        self.cache.get(&key).map(|secret| to_value(&*secret, "Secret")).transpose()
    }

    /// Wakes the readers of `secret`, which changed or went (then they are forgotten with it).
    fn changed(&self, secret: &Secret, gone: bool) {
        let key = (secret.namespace().unwrap_or_default(), secret.name_any());
        let mut readers = crosstie_runtime::sync::lock(&self.readers);
        let Some(list) = readers.get_mut(&key) else { return };
        // A reader whose controller has stopped is dropped.
        list.retain(|reader| reader.wake_for(secret));
        if gone {
            readers.remove(&key);
        }
    }

    /// The names of the readers of Secret `namespace/name`.
    #[cfg(test)]
    pub fn readers(&self, namespace: &str, name: &str) -> Vec<String> {
        let readers = crosstie_runtime::sync::lock(&self.readers);
        let key = (namespace.to_owned(), name.to_owned());
        readers.get(&key).into_iter().flatten().map(|r| r.object.name.clone()).collect()
    }

    /// Wakes every reader: after the watch re-listed, any Secret may have changed.
    fn relisted(&self) {
        let mut readers = crosstie_runtime::sync::lock(&self.readers);
        for list in readers.values_mut() {
            list.retain(|r| r.wake.unbounded_send(r.object.clone()).is_ok());
        }
    }
}

/// The connection Secrets, and the task that keeps their cache filled and wakes their readers
/// until the watch ends.
pub fn watch(client: Client) -> (Arc<ConnectionSecrets>, impl Future<Output = ()> + Send) {
    let writer = Writer::<Secret>::default();
    let secrets = Arc::new(ConnectionSecrets::new(writer.as_reader()));
    let config = watcher::Config::default().fields(&format!("type={CONNECTION_SECRET_TYPE}"));
    let events =
        reflector::reflector(writer, watcher(Api::<Secret>::all(client), config)).default_backoff();
    let wake = secrets.clone();
    let task = events.for_each(move |event| {
        match event {
            Ok(watcher::Event::Apply(secret)) => wake.changed(&secret, false),
            Ok(watcher::Event::Delete(secret)) => wake.changed(&secret, true),
            Ok(watcher::Event::InitDone) => wake.relisted(),
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) | Err(_) => {}
        }
        futures::future::ready(())
    });
    (secrets, task)
}

#[cfg(test)]
mod tests {
    use futures::channel::mpsc;
    use kube::discovery::ApiResource;

    use super::*;

    fn secret(name: &str, version: &str) -> Secret {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "crossplane-system", "resourceVersion": version},
            "type": CONNECTION_SECRET_TYPE,
        }))
        .unwrap()
    }

    fn composite(name: &str) -> ObjectRef<DynamicObject> {
        let resource = ApiResource {
            group: "example.org".into(),
            version: "v1".into(),
            api_version: "example.org/v1".into(),
            kind: "XThing".into(),
            plural: "xthings".into(),
        };
        ObjectRef::new_with(name, resource)
    }

    /// An empty, listed cache and two composites, `a` and `b`, reading it.
    struct Setup {
        secrets: ConnectionSecrets,
        passes: Arc<Passes>,
        a: Reader,
        b: Reader,
        woken: mpsc::UnboundedReceiver<ObjectRef<DynamicObject>>,
    }

    impl Setup {
        fn new() -> Self {
            let mut writer = Writer::<Secret>::default();
            writer.apply_watcher_event(&watcher::Event::InitDone);
            let (wake, woken) = mpsc::unbounded();
            let passes = Arc::default();
            let reader = |name: &str| Reader::new(composite(name), &wake, &passes, name.into());
            let (a, b) = (reader("a"), reader("b"));
            Self { secrets: ConnectionSecrets::new(writer.as_reader()), passes, a, b, woken }
        }
    }

    #[tokio::test]
    async fn a_change_wakes_every_reader_of_the_secret_once() {
        let Setup { secrets, a, b, mut woken, .. } = Setup::new();
        for reader in [&a, &a, &b] {
            assert_eq!(secrets.read("crossplane-system", "db-conn", reader).await.unwrap(), None);
        }
        secrets.read("crossplane-system", "other", &b).await.unwrap();

        secrets.changed(&secret("db-conn", "7"), false);
        assert_eq!(woken.try_recv().ok(), Some(composite("a")));
        assert_eq!(woken.try_recv().ok(), Some(composite("b")));
        assert!(woken.try_recv().is_err(), "each reader once, and nobody else");

        secrets.changed(&secret("db-conn", "9"), true);
        assert_eq!(woken.try_recv().ok(), Some(composite("a")));
        assert_eq!(woken.try_recv().ok(), Some(composite("b")));
        secrets.changed(&secret("db-conn", "10"), false);
        assert!(woken.try_recv().is_err(), "a deleted Secret's readers are forgotten");
    }

    #[tokio::test]
    async fn the_echo_of_a_readers_own_write_does_not_wake_it_even_before_the_write_returns() {
        let Setup { secrets, passes, a, b, mut woken } = Setup::new();
        secrets.read("crossplane-system", "db-conn", &a).await.unwrap();
        secrets.read("crossplane-system", "db-conn", &b).await.unwrap();

        // a's pass writes the Secret; its echo arrives before the write's answer.
        let pass = passes.start("a");
        secrets.changed(&secret("db-conn", "8"), false);
        assert_eq!(woken.try_recv().ok(), Some(composite("b")), "b did not write it");
        assert!(woken.try_recv().is_err(), "a's trigger is held while its pass runs");
        a.wrote(&secret("db-conn", "8"));
        assert!(!pass.end(), "the held change was a's own write");
        secrets.changed(&secret("db-conn", "8"), false);
        assert_eq!(woken.try_recv().ok(), Some(composite("b")));
        assert!(woken.try_recv().is_err(), "a late echo is dropped too");

        let pass = passes.start("a");
        secrets.changed(&secret("db-conn", "9"), false);
        assert!(pass.end(), "someone else's change during a's pass runs a again");
    }
}
