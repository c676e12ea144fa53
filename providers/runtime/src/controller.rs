//! Running the controllers: one per managed kind, plus the ProviderConfig controller.
//!
//! ```no_run
//! # use crosstie_runtime::{Connector, Managed};
//! # async fn wire<M: Managed, C: Connector<M>>(client: kube::Client, connector: C) {
//! use std::sync::Arc;
//! use crosstie_runtime::{Config, Metrics, ProviderConfigKinds, Runtime};
//!
//! let kinds = ProviderConfigKinds::crossplane("aws.crossplane.io", "v1beta1");
//! let metrics = Arc::new(Metrics::default()); // serve `metrics.encode()` at /metrics
//! Runtime::new(client, Config::default(), kinds, metrics)
//!     .manage::<M, _>(connector) // once per managed kind
//!     .run()
//!     .await;
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use futures::future::{self, BoxFuture};
use futures::{StreamExt, TryStreamExt, stream};
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::usage::ProviderConfigKinds;
use crate::{Connector, Managed, provider_config, reconciler};

/// Run the controller of managed kind `M` until shutdown (SIGTERM / Ctrl-C).
pub async fn run<M, C>(
    client: Client,
    connector: C,
    config: Config,
    usage: ProviderConfigKinds,
    metrics: Arc<Metrics>,
) where
    M: Managed,
    C: Connector<M>,
{
    let concurrency = config.concurrency;
    let ctx = Arc::new(reconciler::Context::new(client.clone(), connector, config, usage, metrics));
    let writer = reflector::store::Writer::<M>::default();
    let cache = writer.as_reader();
    let echoes = ctx.clone();
    // The engine's own writes are not queued as triggers (its pass's requeue stands), nor is
    // anything while a pass over the object runs (the pass decides at its end). Nothing
    // here reads managedFields: the cache keeps objects without them (kube-rs's advice for
    // reflector memory), which also makes every copy of a cached object cheaper.
    let changes = watcher(Api::<M>::all(client), watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(|mr| kube::ResourceExt::managed_fields_mut(mr).clear())
        .reflect(writer)
        .applied_objects()
        .try_filter(move |mr| std::future::ready(echoes.admit(mr)));
    Controller::for_stream(changes, cache)
        .with_config(controller::Config::default().concurrency(concurrency))
        .shutdown_on_signal()
        .run(reconciler::reconcile, reconciler::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(kind = %M::kind(&()), error = %err, "reconcile failed");
            }
        })
        .await;
}

/// How long usage events are gathered into one re-count of their ProviderConfig.
const USAGE_DEBOUNCE: Duration = Duration::from_secs(1);

/// Run the ProviderConfig controller of `kinds` until shutdown; usage changes re-count the
/// ProviderConfig they name.
pub async fn run_provider_config_controller(
    client: Client,
    kinds: ProviderConfigKinds,
    config: &Config,
) {
    let configs: Api<DynamicObject> = Api::all_with(client.clone(), &kinds.provider_config);
    let usages: Api<DynamicObject> = Api::all_with(client.clone(), &kinds.usage);
    let writer = reflector::store::Writer::new(kinds.usage.clone());
    let usage_store = writer.as_reader();
    let provider_config = kinds.provider_config.clone();
    let mut placements = provider_config::Placements::default();
    let recounts =
        reflector::reflector(writer, watcher(usages, watcher::Config::default().any_semantic()))
            .default_backoff()
            .filter_map(|event| {
                let event = event.inspect_err(
                    |err| tracing::debug!(error = %err, "usage watch failed; retrying"),
                );
                future::ready(event.ok())
            })
            .flat_map(move |event| stream::iter(placements.affected(&event)))
            .map(move |name| ObjectRef::new_with(&name, provider_config.clone()));
    let ctx = Arc::new(provider_config::Context::new(
        client,
        kinds.clone(),
        usage_store,
        &config.controller_name,
    ));
    Controller::new_with(
        configs,
        watcher::Config::default().any_semantic(),
        kinds.provider_config.clone(),
    )
    // A burst of new managed resources is a burst of usages: count once per second at most.
    .with_config(controller::Config::default().debounce(USAGE_DEBOUNCE))
    .reconcile_on(recounts)
    .shutdown_on_signal()
    .run(provider_config::reconcile, provider_config::error_policy, ctx)
    .for_each(|result| async move {
        if let Err(err) = result {
            tracing::debug!(error = %err, "ProviderConfig reconcile failed");
        }
    })
    .await;
}

/// All controllers of one provider: register each managed kind with its connector, then run.
#[must_use = "a Runtime does nothing until `run` is awaited"]
pub struct Runtime {
    client: Client,
    config: Config,
    kinds: ProviderConfigKinds,
    metrics: Arc<Metrics>,
    controllers: Vec<BoxFuture<'static, ()>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("kinds", &self.kinds)
            .field("controllers", &self.controllers.len())
            .finish()
    }
}

impl Runtime {
    /// A runtime for a provider whose ProviderConfig kinds are `kinds`.
    pub fn new(
        client: Client,
        config: Config,
        kinds: ProviderConfigKinds,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { client, config, kinds, metrics, controllers: Vec::new() }
    }

    /// Reconcile managed kind `M` through `connector`.
    pub fn manage<M, C>(mut self, connector: C) -> Self
    where
        M: Managed,
        C: Connector<M>,
    {
        let run = run::<M, C>(
            self.client.clone(),
            connector,
            self.config.clone(),
            self.kinds.clone(),
            self.metrics.clone(),
        );
        self.controllers.push(Box::pin(run));
        self
    }

    /// Run every registered controller and the ProviderConfig controller until shutdown.
    pub async fn run(self) {
        let provider_configs =
            run_provider_config_controller(self.client, self.kinds, &self.config);
        futures::future::join(provider_configs, futures::future::join_all(self.controllers)).await;
    }
}
