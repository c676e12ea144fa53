//! The DBSubnetGroup external client. Subnet groups are few and change rarely, so each is
//! described on its own (plus `ListTagsForResource`), as in provider-aws — with two exceptions
//! that save a call each. A group no create was ever started for is not described: it is
//! reported absent and the create finds out, adopting a group of that name that already exists
//! (what observing it first would have done). And the first observation after a create is the
//! create response. While a group is observed, and from finding it absent until its create is
//! answered, DB instances created in it wait for it
//! ([`Settling`](crate::observation::Settling)).

use std::sync::Arc;

use crosstie_runtime::annotations::external_name;
use crosstie_runtime::{
    Connector, ExternalClient, ExternalCreation, ExternalError, ExternalObservation, ExternalUpdate,
};
use kube::ResourceExt;

use super::convert::{
    create_input, diff, late_initialize, missing_tags, modify_input, observation, readiness,
    region_change,
};
use super::types::{DbSubnetGroup, DbSubnetGroupStatus};
use crate::api::{ApiErrorKind, Rds, RdsApi};
use crate::config::{AwsClient, AwsConnector};
use crate::observation::{Creation, create_will_tell};

/// Operations on the DB subnet group behind one DBSubnetGroup.
#[derive(Debug)]
pub struct DbSubnetGroupExternal<A> {
    client: Arc<AwsClient<A>>,
}

impl<A: RdsApi> DbSubnetGroupExternal<A> {
    /// A client using `client` for AWS.
    pub fn new(client: Arc<AwsClient<A>>) -> Self {
        Self { client }
    }
}

/// The AWS name of `mr`'s group: its external name, else its name.
pub fn group_name(mr: &DbSubnetGroup) -> String {
    external_name(mr).map_or_else(|| mr.name_any(), str::to_owned)
}

impl<A: RdsApi> ExternalClient<DbSubnetGroup> for DbSubnetGroupExternal<A> {
    async fn observe(&self, mr: &mut DbSubnetGroup) -> Result<ExternalObservation, ExternalError> {
        let name = group_name(mr);
        let at_provider = mr.status.as_ref().and_then(|s| s.at_provider.as_ref());
        let recorded_arn = at_provider.and_then(|a| a.arn.as_deref());
        if let Some(message) = region_change(recorded_arn, &self.client.region) {
            return Err(ExternalError::terminal(message));
        }
        let observed = at_provider.is_some();
        let settling = &self.client.settling_subnet_groups;
        let (group, tags) = match self.client.subnet_groups.take(&name) {
            Some(created) => created,
            None if create_will_tell(mr, observed) => {
                settling.begin(&name);
                return Ok(ExternalObservation::default());
            }
            None => {
                settling.begin(&name);
                let described = self.client.api.describe_db_subnet_group(&name).await;
                // Absent: settled by the create that follows.
                let Some(group) = described.inspect_err(|_| settling.end(&name))? else {
                    return Ok(ExternalObservation::default());
                };
                settling.end(&name);
                let tags = match group.db_subnet_group_arn.as_deref() {
                    Some(arn) => self.client.api.list_tags(arn).await?,
                    None => Vec::new(),
                };
                (group, tags)
            }
        };
        let late_initialized = late_initialize(&mut mr.spec.for_provider, &group);
        mr.status.get_or_insert_with(DbSubnetGroupStatus::default).at_provider =
            Some(observation(&group));
        let diff = diff(&mr.spec.for_provider, &group, &tags);
        Ok(ExternalObservation {
            resource_exists: true,
            resource_up_to_date: diff.is_empty(),
            resource_late_initialized: late_initialized,
            readiness: readiness(group.subnet_group_status.as_deref()),
            connection_details: Default::default(),
            diff: diff.join("\n"),
        })
    }

    async fn create(&self, mr: &mut DbSubnetGroup) -> Result<ExternalCreation, ExternalError> {
        let name = group_name(mr);
        let create =
            self.client.api.create_db_subnet_group(create_input(&name, &mr.spec.for_provider));
        let created = self.client.unanswered.create(&format!("subgrp:{name}"), create).await;
        self.client.settling_subnet_groups.end(&name);
        match created {
            Ok(Creation::Created(group)) => {
                let tags = missing_tags(&mr.spec.for_provider.tags, &[]);
                self.client.subnet_groups.put(&name, (group, tags));
            }
            // The group exists — made by an earlier create of ours whose answer was lost, or
            // by someone else and so adopted, as observing it first would have. The next
            // observe compares and updates as needed.
            Ok(Creation::Earlier) => {}
            Err(err) if err.kind == ApiErrorKind::AlreadyExists => {
                tracing::info!(group = %name, "DB subnet group already exists: adopted");
            }
            Err(err) => return Err(err.into()),
        }
        Ok(ExternalCreation::default())
    }

    async fn update(&self, mr: &mut DbSubnetGroup) -> Result<ExternalUpdate, ExternalError> {
        let name = group_name(mr);
        let group = self.client.api.describe_db_subnet_group(&name).await?.ok_or_else(|| {
            ExternalError::transient(format!("DB subnet group {name:?} disappeared before update"))
        })?;
        let p = &mr.spec.for_provider;
        let tags = match group.db_subnet_group_arn.as_deref() {
            Some(arn) => self.client.api.list_tags(arn).await?,
            None => Vec::new(),
        };
        let missing = missing_tags(&p.tags, &tags);
        if diff(p, &group, &[]).iter().any(|line| !line.starts_with("spec.forProvider.tags")) {
            self.client.api.modify_db_subnet_group(modify_input(&name, p)).await?;
        }
        if !missing.is_empty()
            && let Some(arn) = group.db_subnet_group_arn.as_deref()
        {
            self.client.api.add_tags(arn, missing).await?;
        }
        Ok(ExternalUpdate::default())
    }

    async fn delete(&self, mr: &mut DbSubnetGroup) -> Result<(), ExternalError> {
        let name = group_name(mr);
        self.client.subnet_groups.take(&name);
        self.client.settling_subnet_groups.end(&name);
        match self.client.api.delete_db_subnet_group(&name).await {
            Err(err) if !err.is_not_found() => Err(err.into()),
            _ => Ok(()),
        }
    }
}

impl Connector<DbSubnetGroup> for AwsConnector {
    type Client = DbSubnetGroupExternal<Rds>;

    async fn connect(&self, mr: &DbSubnetGroup) -> Result<Self::Client, ExternalError> {
        let client = self
            .client(
                mr.spec.resource_spec.provider_config_name(),
                mr.spec.for_provider.region.as_deref(),
            )
            .await?;
        Ok(DbSubnetGroupExternal::new(client))
    }
}
