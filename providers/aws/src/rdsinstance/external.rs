//! The RDSInstance external client: observe / create / update / delete against RDS.
//!
//! Passwords: the master password comes from `masterPasswordSecretRef`, or is generated (32
//! random alphanumerics) at creation. The *current* password is the `password` key of the
//! resource's own connection Secret (`writeConnectionSecretToRef`), as in classic provider-aws:
//! AWS never returns passwords, so a value in `masterPasswordSecretRef` that differs from the
//! published one is a password change, applied by `update` and then published. Without a
//! `writeConnectionSecretToRef`, password changes are not detected.
//!
//! A generated password that never reached the connection Secret (its write failed, the process
//! stopped between the create and the write, or `writeConnectionSecretToRef` moved) cannot be
//! recovered: for an instance Crosstie made, a Secret without a password is drift, and `update`
//! sets and publishes a newly generated one.

use std::sync::Arc;

use aws_sdk_rds::operation::modify_db_instance::builders::ModifyDbInstanceInputBuilder;
use aws_sdk_rds::types::DbInstance;
use crosstie_runtime::annotations::{
    EXTERNAL_CREATE_FAILED, EXTERNAL_CREATE_SUCCEEDED, create_incomplete, external_name, timestamp,
};
use crosstie_runtime::{
    ConnectionDetails, Connector, ExternalClient, ExternalCreation, ExternalError,
    ExternalObservation, ExternalUpdate, SecretKeySelector,
};
use kube::ResourceExt;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::convert::{
    NewPassword, connection_details, create_input, default_master_username, delete_input, drift,
    is_busy, late_initialize, observation, readiness, region_change,
};
use super::types::{RdsInstance, RdsInstanceStatus};
use crate::api::{ApiErrorKind, Rds, RdsApi};
use crate::cluster::{Cluster, SecretData};
use crate::config::{AwsClient, AwsConnector};
use crate::dbsubnetgroup::group_name;
use crate::observation::{Creation, Unlisted, create_will_tell};

/// Length of generated master passwords.
const GENERATED_PASSWORD_LEN: usize = 32;

/// Operations on the DB instance behind one RDSInstance.
#[derive(Debug)]
pub struct RdsInstanceExternal<A, C> {
    client: Arc<AwsClient<A>>,
    cluster: C,
}

impl<A: RdsApi, C: Cluster> RdsInstanceExternal<A, C> {
    /// A client using `client` for AWS and `cluster` for password Secrets and subnet groups.
    pub fn new(client: Arc<AwsClient<A>>, cluster: C) -> Self {
        Self { client, cluster }
    }

    async fn instance(&self, id: &str) -> Result<Option<DbInstance>, ExternalError> {
        Ok(self.client.instances.get(&self.client.api, id, Unlisted::Describe).await?)
    }

    /// The password `masterPasswordSecretRef` asks for, if set.
    async fn desired_password(&self, mr: &RdsInstance) -> Result<Option<String>, ExternalError> {
        let Some(selector) = &mr.spec.for_provider.master_password_secret_ref else {
            return Ok(None);
        };
        let (namespace, name) = (&selector.namespace, &selector.name);
        let field = "spec.forProvider.masterPasswordSecretRef";
        let Some(data) = self.secret_data(namespace, name).await? else {
            return Err(ExternalError::terminal(format!(
                "{field}: Secret {namespace}/{name} not found"
            )));
        };
        let value = password_in(data, &selector.key).ok_or_else(|| {
            ExternalError::terminal(format!(
                "{field}: Secret {namespace}/{name} has no key {:?}",
                selector.key
            ))
        })?;
        Ok(Some(value))
    }

    /// The password published in the connection Secret, if any.
    async fn published_password(&self, mr: &RdsInstance) -> Result<Option<String>, ExternalError> {
        let Some(target) = &mr.spec.resource_spec.write_connection_secret_to_ref else {
            return Ok(None);
        };
        let selector = SecretKeySelector {
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            key: "password".to_owned(),
        };
        self.secret_value(&selector).await
    }

    async fn secret_value(
        &self,
        selector: &SecretKeySelector,
    ) -> Result<Option<String>, ExternalError> {
        let data = self.secret_data(&selector.namespace, &selector.name).await?;
        Ok(data.and_then(|data| password_in(data, &selector.key)))
    }

    async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<SecretData>, ExternalError> {
        self.cluster
            .secret_data(namespace, name)
            .await
            .map_err(|e| ExternalError::wrap("cannot read password", e))
    }

    /// Whether the DBSubnetGroup resource that `mr` names its subnet group by (its
    /// `dbSubnetGroupNameRef`, else one named as the group) is about to create `group`: its
    /// pass has not begun yet, as when its controller is busy with thousands of others. Creating
    /// the instance first would fail, costing a call and a wait. A group made by a resource
    /// found neither way is not waited for in advance: the create's not-found retry covers it.
    async fn group_to_be_made(&self, mr: &RdsInstance, group: &str) -> bool {
        let reference = mr.spec.for_provider.db_subnet_group_name_ref.as_ref();
        // Resource names are lowercase; AWS names are case-insensitive.
        let resource = reference.map_or_else(|| group.to_ascii_lowercase(), |r| r.name.clone());
        match self.cluster.subnet_group(&resource).await {
            Ok(Some(maker)) => {
                let observed = maker.status.as_ref().is_some_and(|s| s.at_provider.is_some());
                group_name(&maker).eq_ignore_ascii_case(group) && create_will_tell(&maker, observed)
            }
            Ok(None) => false,
            Err(err) => {
                tracing::debug!(%err, "not waiting for the DB subnet group in advance");
                false
            }
        }
    }

    /// The new password to set: the one `masterPasswordSecretRef` names when it differs from
    /// the published one, or a newly generated one when the generated password of an instance
    /// Crosstie made is not in the connection Secret. Without a connection Secret there is
    /// nothing to compare with, so no change is detected.
    async fn password_change(
        &self,
        mr: &RdsInstance,
    ) -> Result<Option<NewPassword>, ExternalError> {
        let Some(target) = &mr.spec.resource_spec.write_connection_secret_to_ref else {
            return Ok(None);
        };
        if let Some(desired) = self.desired_password(mr).await? {
            let published = self.published_password(mr).await?;
            let changed = published.as_deref() != Some(desired.as_str());
            return Ok(changed.then_some(NewPassword::Referenced(desired)));
        }
        // An instance made outside Crosstie and adopted keeps its password: its users have it.
        if !made_here(mr) || self.published_password(mr).await?.is_some() {
            return Ok(None);
        }
        let secret = format!("{}/{}", target.namespace, target.name);
        Ok(Some(NewPassword::Regenerated { password: generate_password(), secret }))
    }
}

/// Whether Crosstie made `mr`'s instance: its create succeeded (and no later one failed), or
/// one was started and never answered, as when the process stopped mid-create.
fn made_here(mr: &RdsInstance) -> bool {
    let succeeded = timestamp(mr, EXTERNAL_CREATE_SUCCEEDED);
    (succeeded.is_some() && succeeded >= timestamp(mr, EXTERNAL_CREATE_FAILED))
        || create_incomplete(mr)
}

/// The non-empty value of `key`, as text.
fn password_in(mut data: SecretData, key: &str) -> Option<String> {
    data.remove(key).map(|v| String::from_utf8_lossy(&v).into_owned()).filter(|v| !v.is_empty())
}

/// The AWS identifier of `mr`: its external name, else its name.
fn instance_id(mr: &RdsInstance) -> String {
    external_name(mr).map_or_else(|| mr.name_any(), str::to_owned)
}

fn generate_password() -> String {
    rand::rng().sample_iter(Alphanumeric).take(GENERATED_PASSWORD_LEN).map(char::from).collect()
}

impl<A: RdsApi, C: Cluster> ExternalClient<RdsInstance> for RdsInstanceExternal<A, C> {
    async fn observe(&self, mr: &mut RdsInstance) -> Result<ExternalObservation, ExternalError> {
        let id = instance_id(mr);
        let at_provider = mr.status.as_ref().and_then(|s| s.at_provider.as_ref());
        let recorded_arn = at_provider.and_then(|a| a.db_instance_arn.as_deref());
        if let Some(message) = region_change(recorded_arn, &self.client.region) {
            return Err(ExternalError::terminal(message));
        }
        let observed = at_provider.is_some();
        let unlisted =
            if create_will_tell(mr, observed) { Unlisted::Absent } else { Unlisted::Describe };
        let instances = &self.client.instances;
        let Some(instance) = instances.get(&self.client.api, &id, unlisted).await? else {
            return Ok(ExternalObservation::default());
        };
        let late_initialized = late_initialize(&mut mr.spec.for_provider, &instance);
        mr.status.get_or_insert_with(RdsInstanceStatus::default).at_provider =
            Some(observation(&instance));
        let new_password = self.password_change(mr).await?;
        let drift = drift(&id, &mr.spec.for_provider, &instance, new_password.as_ref());
        Ok(ExternalObservation {
            resource_exists: true,
            resource_up_to_date: drift.is_up_to_date(),
            resource_late_initialized: late_initialized,
            readiness: readiness(instance.db_instance_status.as_deref()),
            connection_details: connection_details(&instance),
            diff: drift.diff(),
        })
    }

    async fn create(&self, mr: &mut RdsInstance) -> Result<ExternalCreation, ExternalError> {
        let id = instance_id(mr);
        let params = &mr.spec.for_provider;
        let username = params
            .master_username
            .clone()
            .unwrap_or_else(|| default_master_username(&params.engine).to_owned());
        // Re-creating an instance that has gone: reuse the password published for it, so its
        // users' credentials stay valid. Nothing is published before a first create succeeds.
        let created_before = mr.annotations().contains_key(EXTERNAL_CREATE_SUCCEEDED);
        let password = match self.desired_password(mr).await? {
            Some(password) => password,
            None if created_before => {
                self.published_password(mr).await?.unwrap_or_else(generate_password)
            }
            None => generate_password(),
        };
        let group = params.db_subnet_group_name.as_deref();
        if let Some(group) = group {
            let settling = &self.client.settling_subnet_groups;
            if !settling.knows(group) && self.group_to_be_made(mr, group).await {
                settling.expect(group);
            }
            settling.wait(group).await;
        }
        let key = format!("db:{id}");
        let create = || {
            let input = create_input(&id, params, &username, &password);
            self.client.unanswered.create(&key, self.client.api.create_db_instance(input))
        };
        let sent = tokio::time::Instant::now();
        let created = match create().await {
            // Its group is missing, as when a composition makes both at once and the group's
            // create was still in flight or not begun (and not foreseen above): one more try
            // once it settles beats failing the pass.
            Err(err) if err.code == "DBSubnetGroupNotFoundFault" => match group {
                Some(group)
                    if self.client.settling_subnet_groups.settled_since(group, sent).await =>
                {
                    create().await
                }
                _ => Err(err),
            },
            created => created,
        };
        let created = match created {
            // Made by someone else since the snapshot the observation trusted: nothing changed
            // (the password above is not theirs), and the next pass describes and adopts it.
            Err(err) if err.kind == ApiErrorKind::AlreadyExists => {
                return Err(ExternalError::transient(format!(
                    "{err}: it was made outside this resource, which adopts it on its next \
                     observation"
                )));
            }
            created => created?,
        };
        let created = match created {
            Creation::Created(instance) => instance,
            // An earlier create of ours succeeded but its answer was lost: the instance is ours,
            // so make the password we are about to publish true.
            Creation::Earlier => {
                let reset = ModifyDbInstanceInputBuilder::default()
                    .db_instance_identifier(&id)
                    .master_user_password(&password)
                    .apply_immediately(true);
                self.client.api.modify_db_instance(reset).await?
            }
        };
        let mut details = connection_details(&created);
        details.insert("username".to_owned(), username.into_bytes());
        details.insert("password".to_owned(), password.into_bytes());
        let late_initialized = late_initialize(&mut mr.spec.for_provider, &created);
        self.client.instances.created(&id, created);
        Ok(ExternalCreation {
            connection_details: details,
            resource_late_initialized: late_initialized,
        })
    }

    async fn update(&self, mr: &mut RdsInstance) -> Result<ExternalUpdate, ExternalError> {
        let id = instance_id(mr);
        let instance = self.instance(&id).await?.ok_or_else(|| {
            ExternalError::transient(format!("DB instance {id:?} disappeared before update"))
        })?;
        let new_password = self.password_change(mr).await?;
        if let Some(status) = instance.db_instance_status.as_deref().filter(|s| is_busy(Some(s))) {
            // Reporting success would hide that the connection Secret has no usable password.
            if let Some(NewPassword::Regenerated { secret, .. }) = new_password {
                return Err(ExternalError::transient(format!(
                    "DB instance {id:?} is {status}: the connection Secret {secret} gets a new master password once the instance can be modified"
                )));
            }
            return Ok(ExternalUpdate::default());
        }
        let drift = drift(&id, &mr.spec.for_provider, &instance, new_password.as_ref());
        if let Some(message) = drift.immutable_error() {
            return Err(ExternalError::terminal(message));
        }
        let mut written = None;
        if !drift.changes.is_empty() {
            written = Some(self.client.api.modify_db_instance(drift.modify).await?);
        }
        let arn = instance.db_instance_arn.clone().unwrap_or_default();
        if !drift.remove_tags.is_empty() {
            self.client.api.remove_tags(&arn, drift.remove_tags).await?;
        }
        if !drift.add_tags.is_empty() {
            self.client.api.add_tags(&arn, drift.add_tags).await?;
        }
        // Describe individually on the next observe, whatever was written.
        self.client.instances.written(&id, written).await;
        let mut details = ConnectionDetails::new();
        if let Some(password) = new_password {
            details.insert("password".to_owned(), password.value().as_bytes().to_vec());
        }
        Ok(ExternalUpdate { connection_details: details })
    }

    async fn delete(&self, mr: &mut RdsInstance) -> Result<(), ExternalError> {
        let id = instance_id(mr);
        let Some(instance) = self.instance(&id).await? else { return Ok(()) };
        if instance.db_instance_status.as_deref() == Some("deleting") {
            return Ok(());
        }
        if instance.deletion_protection == Some(true) {
            if mr.spec.for_provider.deletion_protection != Some(false) {
                return Err(ExternalError::terminal(format!(
                    "DB instance {id:?} has deletion protection: set spec.forProvider.deletionProtection: false first"
                )));
            }
            // The spec already asks for no protection; the update may not have run yet.
            let unprotect = ModifyDbInstanceInputBuilder::default()
                .db_instance_identifier(&id)
                .deletion_protection(false)
                .apply_immediately(true);
            self.client.api.modify_db_instance(unprotect).await?;
        }
        match self.client.api.delete_db_instance(delete_input(&id, &mr.spec.for_provider)).await {
            Ok(()) => {}
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
        self.client.instances.written(&id, None).await;
        Ok(())
    }
}

impl Connector<RdsInstance> for AwsConnector {
    type Client = RdsInstanceExternal<Rds, kube::Client>;

    async fn connect(&self, mr: &RdsInstance) -> Result<Self::Client, ExternalError> {
        let client = self
            .client(
                mr.spec.resource_spec.provider_config_name(),
                mr.spec.for_provider.region.as_deref(),
            )
            .await?;
        Ok(RdsInstanceExternal::new(client, self.kube().clone()))
    }
}
