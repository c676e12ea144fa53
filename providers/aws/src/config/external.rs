//! The connector: ProviderConfig + credentials → a cached RDS client per (ProviderConfig, region).
//!
//! Every connect reads the ProviderConfig and its credentials (as provider-aws does), but the
//! SDK client and its observation snapshot are reused while the ProviderConfig's spec
//! (`metadata.generation`) and the credentials are unchanged; a rotated Secret or an edited
//! ProviderConfig takes effect on the next reconcile, without a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_rds::config::{Credentials, Region};
use aws_sdk_rds::types::{DbSubnetGroup, Tag};
use crosstie_runtime::{ExternalError, SecretKeySelector};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};

use super::convert::{
    ConfigError, StaticCredentials, endpoint_url, parse_ini_credentials, signing_region,
};
use super::types::{CredentialsSource, ProviderConfig};
use crate::api::Rds;
use crate::metrics::AwsMetrics;
use crate::observation::{Created, InstanceCache, Settling, Unanswered};

/// An RDS API for one (ProviderConfig, region), with the observation snapshot shared by every
/// resource using it.
#[derive(Debug)]
pub struct AwsClient<A> {
    /// The RDS API.
    pub api: A,
    /// The region requests are signed for, which AWS names in the ARNs of what they make.
    pub region: String,
    /// The batched observation of DB instances in this region.
    pub instances: InstanceCache,
    /// DB subnet groups just created, with the tags they were created with.
    pub subnet_groups: Created<(DbSubnetGroup, Vec<Tag>)>,
    /// Creates sent whose answer was lost.
    pub unanswered: Unanswered,
    /// DB subnet groups being observed or about to be created.
    pub settling_subnet_groups: Settling,
}

impl<A> AwsClient<A> {
    /// Wrap `api`, signing for `region`; the instance snapshot is reused for `poll_interval`.
    pub fn new(api: A, region: &str, poll_interval: Duration) -> Self {
        Self {
            api,
            region: region.to_owned(),
            instances: InstanceCache::new(poll_interval),
            subnet_groups: Created::default(),
            unanswered: Unanswered::default(),
            settling_subnet_groups: Settling::default(),
        }
    }
}

/// Connecting to AWS failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The ProviderConfig does not exist.
    #[error("ProviderConfig {0:?} not found")]
    ProviderConfigNotFound(String),
    /// The credentials Secret does not exist.
    #[error(
        "credentials Secret {namespace}/{name} (from ProviderConfig {provider_config:?} spec.credentials.secretRef) not found"
    )]
    SecretNotFound {
        /// The ProviderConfig naming the Secret.
        provider_config: String,
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// The credentials Secret has no such key.
    #[error(
        "credentials Secret {namespace}/{name} has no key {key:?} (from ProviderConfig {provider_config:?} spec.credentials.secretRef.key)"
    )]
    SecretKeyNotFound {
        /// The ProviderConfig naming the Secret.
        provider_config: String,
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// The missing key.
        key: String,
    },
    /// The credentials environment variable is not set.
    #[error(
        "environment variable {name} (from ProviderConfig {provider_config:?} spec.credentials.env.name) is not set"
    )]
    EnvNotSet {
        /// The ProviderConfig naming the variable.
        provider_config: String,
        /// The variable.
        name: String,
    },
    /// The credentials file cannot be read.
    #[error(
        "cannot read credentials file {path} (from ProviderConfig {provider_config:?} spec.credentials.fs.path): {source}"
    )]
    FileUnreadable {
        /// The ProviderConfig naming the file.
        provider_config: String,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `credentials.source: None`.
    #[error(
        "ProviderConfig {0:?} has credentials.source None, but RDS only accepts signed requests"
    )]
    NoCredentials(String),
    /// The resource names no region.
    #[error("spec.forProvider.region is required")]
    NoRegion,
    /// The ProviderConfig's content is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Kubernetes API failed.
    #[error("cannot get {what}: {source}")]
    Kube {
        /// What was being read.
        what: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl From<ConnectError> for ExternalError {
    fn from(err: ConnectError) -> Self {
        match err {
            // May appear any moment (applied in the same batch): retry with backoff.
            ConnectError::ProviderConfigNotFound(_)
            | ConnectError::SecretNotFound { .. }
            | ConnectError::Kube { .. } => ExternalError::wrap("cannot connect to AWS", err),
            // Needs someone to fix the configuration.
            _ => ExternalError::terminal(format!("cannot connect to AWS: {err}")),
        }
    }
}

/// Where a client's credentials come from, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolvedCredentials {
    /// Static keys from an INI profile.
    Static(StaticCredentials),
    /// The process's default credential chain.
    DefaultChain,
}

/// Turn a ProviderConfig plus the data it points at into credentials (pure; the connector
/// fetches `secret`, `env` and `file` beforehand).
pub fn resolve_credentials(
    pc: &ProviderConfig,
    secret: Option<&Secret>,
    env: Option<&str>,
    file: Option<&[u8]>,
) -> Result<ResolvedCredentials, ConnectError> {
    let name = pc.name_any();
    let credentials = &pc.spec.credentials;
    let parsed = |text: &[u8], origin: String| {
        parse_ini_credentials(text, &origin).map(ResolvedCredentials::Static).map_err(Into::into)
    };
    match credentials.source {
        CredentialsSource::None => Err(ConnectError::NoCredentials(name)),
        CredentialsSource::InjectedIdentity => Ok(ResolvedCredentials::DefaultChain),
        CredentialsSource::Secret => {
            let selector = secret_ref(pc)?;
            let missing = || ConnectError::SecretNotFound {
                provider_config: name.clone(),
                namespace: selector.namespace.clone(),
                name: selector.name.clone(),
            };
            let secret = secret.ok_or_else(missing)?;
            let value =
                secret.data.as_ref().and_then(|d| d.get(&selector.key)).ok_or_else(|| {
                    ConnectError::SecretKeyNotFound {
                        provider_config: name.clone(),
                        namespace: selector.namespace.clone(),
                        name: selector.name.clone(),
                        key: selector.key.clone(),
                    }
                })?;
            let origin =
                format!("Secret {}/{} key {:?}", selector.namespace, selector.name, selector.key);
            parsed(&value.0, origin)
        }
        CredentialsSource::Environment => {
            let var = env_name(pc)?;
            let value = env.ok_or_else(|| ConnectError::EnvNotSet {
                provider_config: name.clone(),
                name: var.to_owned(),
            })?;
            parsed(value.as_bytes(), format!("environment variable {var}"))
        }
        CredentialsSource::Filesystem => {
            let path = fs_path(pc)?;
            let text = file.unwrap_or_default();
            parsed(text, format!("file {path}"))
        }
    }
}

fn secret_ref(pc: &ProviderConfig) -> Result<&SecretKeySelector, ConnectError> {
    pc.spec.credentials.secret_ref.as_ref().ok_or_else(|| {
        ConfigError::MissingField {
            provider_config: pc.name_any(),
            field: "spec.credentials.secretRef",
            when: "spec.credentials.source is Secret",
        }
        .into()
    })
}

fn env_name(pc: &ProviderConfig) -> Result<&str, ConnectError> {
    pc.spec.credentials.env.as_ref().map(|e| e.name.as_str()).ok_or_else(|| {
        ConfigError::MissingField {
            provider_config: pc.name_any(),
            field: "spec.credentials.env.name",
            when: "spec.credentials.source is Environment",
        }
        .into()
    })
}

fn fs_path(pc: &ProviderConfig) -> Result<&str, ConnectError> {
    pc.spec.credentials.fs.as_ref().map(|f| f.path.as_str()).ok_or_else(|| {
        ConfigError::MissingField {
            provider_config: pc.name_any(),
            field: "spec.credentials.fs.path",
            when: "spec.credentials.source is Filesystem",
        }
        .into()
    })
}

/// An SDK client for `region` with static credentials and an optional endpoint override. No
/// environment, profile or IMDS lookups happen.
pub fn rds_client(
    credentials: &StaticCredentials,
    region: &str,
    endpoint: Option<&str>,
) -> aws_sdk_rds::Client {
    let config = aws_sdk_rds::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            credentials.session_token.clone(),
            None,
            "crosstie-providerconfig",
        ))
        .build();
    let mut config = config.to_builder();
    config.set_endpoint_url(endpoint.map(str::to_owned));
    aws_sdk_rds::Client::from_conf(config.build())
}

/// Key of the client cache: (ProviderConfig name, region).
type CacheKey = (String, String);

/// A cached client, what it was built from, and when that was last read.
type CacheEntry = (Fingerprint, Arc<AwsClient<Rds>>, Instant);

/// How long a client's ProviderConfig and credentials, once read, are trusted without reading
/// them again: a burst of reconciles (create, then observe) reads them once, and an edited
/// ProviderConfig or rotated Secret takes effect within this time.
pub const DEFAULT_CREDENTIALS_TTL: Duration = Duration::from_secs(5);

/// What a cached client was built from; a difference means rebuild.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    generation: Option<i64>,
    credentials: ResolvedCredentials,
}

/// Connects managed resources to AWS through their ProviderConfig. Implements
/// [`crosstie_runtime::Connector`] for [`crate::RdsInstance`] and [`crate::DbSubnetGroup`].
///
/// Clones share their clients: give every kind a clone of one connector, so all resources of a
/// (ProviderConfig, region) share one snapshot, one in-flight limit, and see each other's
/// creates (a DB instance waits for the subnet group being created for it).
#[derive(Clone)]
pub struct AwsConnector {
    kube: kube::Client,
    metrics: AwsMetrics,
    poll_interval: Duration,
    credentials_ttl: Duration,
    clients: Arc<Mutex<HashMap<CacheKey, CacheEntry>>>,
}

impl std::fmt::Debug for AwsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsConnector")
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl AwsConnector {
    /// A connector reading ProviderConfigs and Secrets through `kube`, counting AWS calls in
    /// `metrics`. `poll_interval` is the engine's poll interval: observation snapshots are reused
    /// for that long.
    pub fn new(kube: kube::Client, metrics: AwsMetrics, poll_interval: Duration) -> Self {
        let credentials_ttl = DEFAULT_CREDENTIALS_TTL;
        Self { kube, metrics, poll_interval, credentials_ttl, clients: Arc::default() }
    }

    /// Trust a ProviderConfig and its credentials for `ttl` after reading them (default
    /// [`DEFAULT_CREDENTIALS_TTL`]; zero reads them on every connect).
    #[must_use]
    pub fn with_credentials_ttl(mut self, ttl: Duration) -> Self {
        self.credentials_ttl = ttl;
        self
    }

    /// The Kubernetes client, for reading Secrets.
    pub fn kube(&self) -> &kube::Client {
        &self.kube
    }

    /// The AWS client for ProviderConfig `provider_config` in `region`, reused when unchanged.
    pub async fn client(
        &self,
        provider_config: &str,
        region: Option<&str>,
    ) -> Result<Arc<AwsClient<Rds>>, ConnectError> {
        let region = region.filter(|r| !r.is_empty()).ok_or(ConnectError::NoRegion)?;
        let key = (provider_config.to_owned(), region.to_owned());
        if let Some((_, client, read)) = self.clients.lock().expect("client cache").get(&key)
            && read.elapsed() < self.credentials_ttl
        {
            return Ok(client.clone());
        }
        let pcs: Api<ProviderConfig> = Api::all(self.kube.clone());
        let pc = pcs
            .get_opt(provider_config)
            .await
            .map_err(|source| ConnectError::Kube {
                what: format!("ProviderConfig {provider_config:?}"),
                source,
            })?
            .ok_or_else(|| ConnectError::ProviderConfigNotFound(provider_config.to_owned()))?;
        let credentials = self.credentials(&pc).await?;
        let fingerprint = Fingerprint { generation: pc.metadata.generation, credentials };
        if let Some((built_from, client, read)) =
            self.clients.lock().expect("client cache").get_mut(&key)
            && *built_from == fingerprint
        {
            *read = Instant::now();
            return Ok(client.clone());
        }
        let endpoint = endpoint_url(provider_config, pc.spec.endpoint.as_ref(), region)?;
        let signing = signing_region(pc.spec.endpoint.as_ref(), region);
        let sdk = match &fingerprint.credentials {
            ResolvedCredentials::Static(creds) => rds_client(creds, signing, endpoint.as_deref()),
            ResolvedCredentials::DefaultChain => {
                let shared = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(signing.to_owned()))
                    .load()
                    .await;
                let mut config = aws_sdk_rds::config::Builder::from(&shared);
                config.set_endpoint_url(endpoint);
                aws_sdk_rds::Client::from_conf(config.build())
            }
        };
        let client = Arc::new(AwsClient::new(
            Rds::new(sdk, self.metrics.clone()),
            signing,
            self.poll_interval,
        ));
        let mut clients = self.clients.lock().expect("client cache");
        // Resources connecting at once (a burst of new claims) all find the cache empty and
        // build a client each: keep the first, so they share one snapshot, one in-flight limit
        // and one record of unanswered creates.
        match clients.get_mut(&key) {
            Some((built_from, first, read)) if *built_from == fingerprint => {
                *read = Instant::now();
                Ok(first.clone())
            }
            _ => {
                clients.insert(key, (fingerprint, client.clone(), Instant::now()));
                Ok(client)
            }
        }
    }

    async fn credentials(&self, pc: &ProviderConfig) -> Result<ResolvedCredentials, ConnectError> {
        let (mut secret, mut env, mut file) = (None, None, None);
        match pc.spec.credentials.source {
            CredentialsSource::Secret => {
                let selector = secret_ref(pc)?;
                let api: Api<Secret> = Api::namespaced(self.kube.clone(), &selector.namespace);
                secret =
                    api.get_opt(&selector.name).await.map_err(|source| ConnectError::Kube {
                        what: format!(
                            "credentials Secret {}/{}",
                            selector.namespace, selector.name
                        ),
                        source,
                    })?;
            }
            CredentialsSource::Environment => env = std::env::var(env_name(pc)?).ok(),
            CredentialsSource::Filesystem => {
                let path = fs_path(pc)?;
                file = Some(tokio::fs::read(path).await.map_err(|source| {
                    ConnectError::FileUnreadable {
                        provider_config: pc.name_any(),
                        path: path.to_owned(),
                        source,
                    }
                })?);
            }
            CredentialsSource::None | CredentialsSource::InjectedIdentity => {}
        }
        resolve_credentials(pc, secret.as_ref(), env.as_deref(), file.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;
    use kube::api::ObjectMeta;

    use super::super::types::{EnvSelector, ProviderConfigSpec, ProviderCredentials};
    use super::*;

    fn provider_config(source: CredentialsSource) -> ProviderConfig {
        let mut pc = ProviderConfig::new(
            "aws-production",
            ProviderConfigSpec {
                credentials: ProviderCredentials {
                    source,
                    secret_ref: Some(SecretKeySelector {
                        namespace: "crossplane-system".into(),
                        name: "aws-creds".into(),
                        key: "credentials".into(),
                    }),
                    env: Some(EnvSelector { name: "AWS_CREDS".into() }),
                    fs: None,
                },
                endpoint: None,
            },
        );
        pc.metadata.generation = Some(1);
        pc
    }

    fn secret(key: &str, value: &str) -> Secret {
        Secret {
            metadata: ObjectMeta { name: Some("aws-creds".into()), ..ObjectMeta::default() },
            data: Some(BTreeMap::from([(key.to_owned(), ByteString(value.as_bytes().to_vec()))])),
            ..Secret::default()
        }
    }

    const INI: &str = "[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n";

    #[test]
    fn credentials_errors_name_what_is_missing() {
        let pc = provider_config(CredentialsSource::Secret);
        let cases: [(&str, Option<Secret>, &[&str]); 3] = [
            (
                "missing Secret names namespace/name",
                None,
                &["crossplane-system/aws-creds", "not found"],
            ),
            (
                "missing key names namespace/name and key",
                Some(secret("creds", INI)),
                &["crossplane-system/aws-creds", "\"credentials\"", "has no key"],
            ),
            (
                "malformed INI says what is missing",
                Some(secret("credentials", "[default]\naws_access_key_id = AKIA\n")),
                &["aws_secret_access_key", "crossplane-system/aws-creds"],
            ),
        ];
        for (reason, secret, needles) in cases {
            let message = resolve_credentials(&pc, secret.as_ref(), None, None)
                .expect_err(reason)
                .to_string();
            for needle in needles {
                assert!(message.contains(needle), "{reason}: {message:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn credentials_come_from_the_configured_source() {
        let want = ResolvedCredentials::Static(StaticCredentials {
            access_key_id: "AKIA".into(),
            secret_access_key: "s".into(),
            session_token: None,
        });
        let from_secret = resolve_credentials(
            &provider_config(CredentialsSource::Secret),
            Some(&secret("credentials", INI)),
            None,
            None,
        );
        assert_eq!(from_secret.unwrap(), want, "Secret source reads the INI key");
        let from_env = resolve_credentials(
            &provider_config(CredentialsSource::Environment),
            None,
            Some(INI),
            None,
        );
        assert_eq!(from_env.unwrap(), want, "Environment source reads the variable's INI text");
        let injected = resolve_credentials(
            &provider_config(CredentialsSource::InjectedIdentity),
            None,
            None,
            None,
        );
        assert_eq!(injected.unwrap(), ResolvedCredentials::DefaultChain, "InjectedIdentity");
        let none = resolve_credentials(&provider_config(CredentialsSource::None), None, None, None);
        assert!(none.unwrap_err().to_string().contains("signed requests"), "None explains itself");
    }

    #[test]
    fn missing_config_objects_are_retried_and_bad_content_is_terminal() {
        let retried =
            ExternalError::from(ConnectError::ProviderConfigNotFound("aws-production".into()));
        assert!(
            matches!(&retried, ExternalError::Transient { message, .. } if message.contains("ProviderConfig \"aws-production\" not found")),
            "{retried:?}"
        );
        let terminal = ExternalError::from(ConnectError::NoRegion);
        assert!(
            matches!(terminal, ExternalError::Terminal(m) if m.contains("spec.forProvider.region"))
        );
    }
}
