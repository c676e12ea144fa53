//! Every controller Crosstie runs, wired together for `crosstie run` (any cluster) and
//! `crosstie up` (the embedded API server).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

/// Field manager of the CRDs Crosstie installs.
const FIELD_MANAGER: &str = "crosstie";

/// How long a freshly applied CRD may take to be established.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of the controllers.
#[derive(Clone, Debug)]
pub struct Options {
    /// How often in-sync managed resources are observed (Crossplane's `--poll-interval`).
    pub poll_interval: Duration,
    /// Managed-resource reconciles started per second, and run at once, per kind.
    pub max_reconcile_rate: u16,
    /// Where controllers keep local state (Git caches).
    pub data_dir: PathBuf,
}

/// Starting the controllers failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CRD could not be applied.
    #[error("cannot install CRD {name}: {}", crosstie_runtime::patch::describe(source))]
    InstallCrd {
        /// The CRD's name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A CRD was applied but never became established.
    #[error("CRD {0} was not established within {ESTABLISH_TIMEOUT:?}")]
    NotEstablished(String),
}

/// Apply every CRD Crosstie serves (server-side apply, so re-running is a no-op) and wait until
/// each is established.
pub async fn install_crds(client: &Client) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let crds = crate::crds::all();
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(crd))
            .await
            .map_err(|source| Error::InstallCrd { name: name.clone(), source })?;
    }
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(ESTABLISH_TIMEOUT, established)
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(Error::NotEstablished(name))?;
    }
    Ok(())
}

/// Every controller, sharing one metrics registry.
pub struct Controllers {
    client: Client,
    /// The Git loop's client: it must see managedFields (see [`Controllers::with_git_client`]).
    git_client: Client,
    options: Options,
    metrics: Arc<crosstie_runtime::Metrics>,
    aws_metrics: crosstie_provider_aws::AwsMetrics,
    composition_metrics: crate::composition::CompositionMetrics,
}

impl Controllers {
    /// The controllers for the API server `client` talks to.
    pub fn new(client: Client, options: Options) -> Self {
        let aws_metrics = crosstie_provider_aws::AwsMetrics::default();
        let mut metrics = crosstie_runtime::Metrics::default();
        aws_metrics.register(&mut metrics.registry);
        let composition_metrics = crate::composition::CompositionMetrics::default();
        composition_metrics.register(&mut metrics.registry);
        let git_client = client.clone();
        Self {
            client,
            git_client,
            options,
            metrics: Arc::new(metrics),
            aws_metrics,
            composition_metrics,
        }
    }

    /// Gives the Git loop its own client, when `new`'s leaves out managedFields (the embedded
    /// server's in-process client): the applier reads them to find fields removed from Git
    /// without a dry-run of every object.
    pub fn with_git_client(mut self, client: Client) -> Self {
        self.git_client = client;
        self
    }

    /// The registry of every controller's metrics, for `/metrics`.
    pub fn metrics(&self) -> Arc<crosstie_runtime::Metrics> {
        self.metrics.clone()
    }

    /// Install (or update) every CRD the controllers serve and wait until each is established.
    pub async fn install_crds(&self) -> Result<(), Error> {
        install_crds(&self.client).await
    }

    /// Run the AWS provider, compositions and the Git loop until they stop. Call
    /// [`Controllers::install_crds`] first.
    pub async fn run(self) {
        let config = crosstie_runtime::Config {
            poll_interval: self.options.poll_interval,
            max_reconcile_rate: self.options.max_reconcile_rate.into(),
            concurrency: self.options.max_reconcile_rate,
            ..crosstie_runtime::Config::default()
        };
        tracing::info!(
            poll_interval = ?self.options.poll_interval,
            max_reconcile_rate = self.options.max_reconcile_rate,
            "controllers starting"
        );
        tokio::join!(
            crosstie_provider_aws::run(self.client.clone(), config, self.metrics, self.aws_metrics),
            crate::composition::controller::run(self.client.clone(), self.composition_metrics),
            crate::gitops::controller::run(self.git_client, self.options.data_dir.join("git")),
        );
    }
}
