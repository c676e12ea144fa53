//! Pure conversions between an RDSInstance and the RDS API: create/modify/delete inputs,
//! late-initialization, drift (with a readable diff), readiness and `status.atProvider`.

use std::collections::BTreeSet;
use std::fmt::Debug;

use aws_sdk_rds::operation::create_db_instance::builders::CreateDbInstanceInputBuilder;
use aws_sdk_rds::operation::delete_db_instance::builders::DeleteDbInstanceInputBuilder;
use aws_sdk_rds::operation::modify_db_instance::builders::ModifyDbInstanceInputBuilder;
use aws_sdk_rds::types::{self as aws, CloudwatchLogsExportConfiguration, DbInstance};
use crosstie_runtime::{ConnectionDetails, Readiness};

use super::types::{
    DbSubnetGroupInRds, Endpoint, PendingModifiedValues, RdsInstanceObservation,
    RdsInstanceParameters, Tag, VpcSecurityGroupMembership,
};

/// The master user name used when `masterUsername` is omitted: `postgres` for PostgreSQL
/// engines (the name RDS's console proposes), `admin` for every other engine (MySQL, MariaDB,
/// Oracle, SQL Server, Aurora MySQL), which all accept it.
pub fn default_master_username(engine: &str) -> &'static str {
    match engine {
        "postgres" | "aurora-postgresql" => "postgres",
        _ => "admin",
    }
}

/// Readiness of an instance from its AWS status, as classic provider-aws maps it.
pub fn readiness(status: Option<&str>) -> Readiness {
    match status {
        Some(
            "available"
            | "modifying"
            | "backing-up"
            | "configuring-enhanced-monitoring"
            | "storage-optimization",
        ) => Readiness::Available,
        Some("creating") => Readiness::Creating,
        Some("deleting") => Readiness::Deleting,
        Some(other) => Readiness::Unavailable(format!("DB instance status is {other:?}")),
        None => Readiness::Unavailable("DB instance reports no status".to_owned()),
    }
}

/// Whether `update` must wait: AWS refuses modifications while an instance is being created
/// or modified, and the engine will observe again.
pub fn is_busy(status: Option<&str>) -> bool {
    matches!(status, Some("creating" | "modifying"))
}

/// `status.atProvider` from what AWS reports.
pub fn observation(instance: &DbInstance) -> RdsInstanceObservation {
    RdsInstanceObservation {
        db_instance_status: instance.db_instance_status.clone(),
        db_instance_arn: instance.db_instance_arn.clone(),
        db_resource_id: instance.dbi_resource_id.clone(),
        db_instance_port: instance.db_instance_port.filter(|p| *p != 0),
        endpoint: instance.endpoint.as_ref().map(|e| Endpoint {
            address: e.address.clone(),
            port: e.port,
            hosted_zone_id: e.hosted_zone_id.clone(),
        }),
        engine_version: instance.engine_version.clone(),
        allocated_storage: instance.allocated_storage,
        backup_retention_period: instance.backup_retention_period,
        db_subnet_group: instance.db_subnet_group.as_ref().map(|g| DbSubnetGroupInRds {
            db_subnet_group_name: g.db_subnet_group_name.clone(),
            db_subnet_group_arn: g.db_subnet_group_arn.clone(),
            subnet_group_status: g.subnet_group_status.clone(),
            vpc_id: g.vpc_id.clone(),
        }),
        vpc_security_groups: instance
            .vpc_security_groups()
            .iter()
            .map(|g| VpcSecurityGroupMembership {
                vpc_security_group_id: g.vpc_security_group_id.clone(),
                status: g.status.clone(),
            })
            .collect(),
        pending_modified_values: instance.pending_modified_values.as_ref().map(|p| {
            PendingModifiedValues {
                allocated_storage: p.allocated_storage,
                db_instance_class: p.db_instance_class.clone(),
                engine_version: p.engine_version.clone(),
                multi_az: p.multi_az,
                storage_type: p.storage_type.clone(),
                iops: p.iops,
                backup_retention_period: p.backup_retention_period,
                port: p.port,
            }
        }),
        secondary_availability_zone: instance.secondary_availability_zone.clone(),
        performance_insights_enabled: instance.performance_insights_enabled,
        enabled_cloudwatch_logs_exports: instance.enabled_cloudwatch_logs_exports().to_vec(),
    }
}

/// Connection details known from observation: `endpoint` and `port` once AWS assigned an
/// address, and `username`.
pub fn connection_details(instance: &DbInstance) -> ConnectionDetails {
    let mut details = ConnectionDetails::new();
    if let Some(endpoint) = &instance.endpoint
        && let Some(address) = endpoint.address.as_deref().filter(|a| !a.is_empty())
    {
        details.insert("endpoint".to_owned(), address.as_bytes().to_vec());
        if let Some(port) = endpoint.port.or(instance.db_instance_port).filter(|p| *p != 0) {
            details.insert("port".to_owned(), port.to_string().into_bytes());
        }
    }
    if let Some(username) = &instance.master_username {
        details.insert("username".to_owned(), username.as_bytes().to_vec());
    }
    details
}

/// The `CreateDBInstance` input for instance `id`.
pub fn create_input(
    id: &str,
    p: &RdsInstanceParameters,
    username: &str,
    password: &str,
) -> CreateDbInstanceInputBuilder {
    let multi_az = p.multi_az.unwrap_or(false);
    CreateDbInstanceInputBuilder::default()
        .db_instance_identifier(id)
        .db_instance_class(&p.db_instance_class)
        .engine(&p.engine)
        .set_engine_version(p.engine_version.clone())
        .master_username(username)
        .master_user_password(password)
        .set_allocated_storage(p.allocated_storage)
        .set_max_allocated_storage(p.max_allocated_storage)
        .set_storage_type(p.storage_type.clone())
        .set_iops(p.iops.filter(|v| *v != 0))
        .set_storage_throughput(p.storage_throughput.filter(|v| *v != 0))
        .set_multi_az(p.multi_az)
        .set_storage_encrypted(p.storage_encrypted)
        .set_kms_key_id(p.kms_key_id.clone())
        .set_backup_retention_period(p.backup_retention_period)
        .set_preferred_backup_window(p.preferred_backup_window.clone())
        .set_preferred_maintenance_window(p.preferred_maintenance_window.clone())
        .set_db_name(p.db_name.clone())
        .set_port(p.port)
        .set_publicly_accessible(p.publicly_accessible)
        .set_db_subnet_group_name(p.db_subnet_group_name.clone())
        .set_vpc_security_group_ids(p.vpc_security_group_ids.clone())
        .set_db_security_groups(p.db_security_groups.clone())
        .set_deletion_protection(p.deletion_protection)
        .set_auto_minor_version_upgrade(p.auto_minor_version_upgrade)
        .set_tags(p.tags.as_ref().map(|tags| tags.iter().map(aws_tag).collect()))
        // AWS rejects an AZ together with Multi-AZ.
        .set_availability_zone(p.availability_zone.clone().filter(|_| !multi_az))
        .set_ca_certificate_identifier(p.ca_certificate_identifier.clone())
        .set_copy_tags_to_snapshot(p.copy_tags_to_snapshot)
        .set_db_parameter_group_name(p.db_parameter_group_name.clone())
        .set_option_group_name(p.option_group_name.clone())
        .set_enable_performance_insights(p.enable_performance_insights)
        .set_performance_insights_kms_key_id(p.performance_insights_kms_key_id.clone())
        .set_performance_insights_retention_period(p.performance_insights_retention_period)
        .set_monitoring_interval(p.monitoring_interval)
        .set_monitoring_role_arn(p.monitoring_role_arn.clone())
        .set_enable_iam_database_authentication(p.enable_iam_database_authentication)
        .set_enable_cloudwatch_logs_exports(p.enable_cloudwatch_logs_exports.clone())
        .set_license_model(p.license_model.clone())
        .set_character_set_name(p.character_set_name.clone())
        .set_timezone(p.timezone.clone())
        .set_db_cluster_identifier(p.db_cluster_identifier.clone())
        .set_promotion_tier(p.promotion_tier)
        .set_domain(p.domain.clone())
        .set_domain_iam_role_name(p.domain_iam_role_name.clone())
        .set_processor_features(p.processor_features.as_ref().map(|features| {
            features
                .iter()
                .map(|f| aws::ProcessorFeature::builder().name(&f.name).value(&f.value).build())
                .collect()
        }))
}

/// The `DeleteDBInstance` input: a final snapshot unless `skipFinalSnapshotBeforeDeletion`.
pub fn delete_input(id: &str, p: &RdsInstanceParameters) -> DeleteDbInstanceInputBuilder {
    let skip = p.skip_final_snapshot_before_deletion.unwrap_or(false);
    DeleteDbInstanceInputBuilder::default()
        .db_instance_identifier(id)
        .skip_final_snapshot(skip)
        .set_final_db_snapshot_identifier(p.final_db_snapshot_identifier.clone().filter(|_| !skip))
        .set_delete_automated_backups(p.delete_automated_backups)
}

/// Fill unset fields of `p` with the values AWS chose. Returns whether anything was filled.
pub fn late_initialize(p: &mut RdsInstanceParameters, i: &DbInstance) -> bool {
    fn fill<T>(field: &mut Option<T>, observed: Option<T>) -> bool {
        if field.is_none() && observed.is_some() {
            *field = observed;
            return true;
        }
        false
    }
    let multi_az = p.multi_az.or(i.multi_az).unwrap_or(false);
    let mut filled = [
        fill(&mut p.engine_version, i.engine_version.clone()),
        fill(&mut p.master_username, i.master_username.clone()),
        fill(&mut p.allocated_storage, i.allocated_storage),
        fill(&mut p.max_allocated_storage, i.max_allocated_storage),
        fill(&mut p.storage_type, i.storage_type.clone()),
        fill(&mut p.iops, i.iops.filter(|v| *v != 0)),
        fill(&mut p.storage_throughput, i.storage_throughput.filter(|v| *v != 0)),
        fill(&mut p.multi_az, i.multi_az),
        fill(&mut p.storage_encrypted, i.storage_encrypted),
        fill(&mut p.kms_key_id, i.kms_key_id.clone()),
        fill(&mut p.backup_retention_period, i.backup_retention_period),
        fill(&mut p.preferred_backup_window, i.preferred_backup_window.clone()),
        fill(&mut p.preferred_maintenance_window, i.preferred_maintenance_window.clone()),
        fill(&mut p.db_name, i.db_name.clone()),
        fill(&mut p.port, observed_port(i)),
        fill(&mut p.publicly_accessible, i.publicly_accessible),
        fill(&mut p.db_subnet_group_name, observed_subnet_group(i)),
        fill(&mut p.deletion_protection, i.deletion_protection),
        fill(&mut p.auto_minor_version_upgrade, i.auto_minor_version_upgrade),
        fill(&mut p.ca_certificate_identifier, i.ca_certificate_identifier.clone()),
        fill(&mut p.copy_tags_to_snapshot, i.copy_tags_to_snapshot),
        fill(&mut p.db_parameter_group_name, observed_parameter_group(i)),
        fill(&mut p.option_group_name, observed_option_group(i)),
        fill(&mut p.enable_performance_insights, i.performance_insights_enabled),
        fill(&mut p.monitoring_interval, i.monitoring_interval),
        fill(&mut p.enable_iam_database_authentication, i.iam_database_authentication_enabled),
        fill(&mut p.license_model, i.license_model.clone()),
        fill(&mut p.character_set_name, i.character_set_name.clone()),
        fill(&mut p.timezone, i.timezone.clone()),
        fill(&mut p.promotion_tier, i.promotion_tier),
    ]
    .contains(&true);
    let groups = observed_security_groups(i);
    filled |= fill(&mut p.vpc_security_group_ids, (!groups.is_empty()).then_some(groups));
    // With Multi-AZ the AZ is AWS's choice and moves on failover: never pin it.
    if !multi_az {
        filled |= fill(&mut p.availability_zone, i.availability_zone.clone());
    }
    filled
}

/// One field whose desired and observed values differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The `spec.forProvider` field name, e.g. `allocatedStorage`.
    pub field: &'static str,
    /// The desired value, formatted.
    pub desired: String,
    /// The observed value, formatted.
    pub observed: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "spec.forProvider.{}: desired {}, AWS has {}",
            self.field, self.desired, self.observed
        )
    }
}

/// How the spec differs from the instance.
#[derive(Clone, Debug, Default)]
pub struct Drift {
    /// Differences `ModifyDBInstance` can fix.
    pub changes: Vec<Change>,
    /// Differences AWS cannot apply in place.
    pub immutable: Vec<Change>,
    /// The modification fixing `changes` (meaningful only when `changes` is non-empty).
    pub modify: ModifyDbInstanceInputBuilder,
    /// Tags to add.
    pub add_tags: Vec<aws::Tag>,
    /// Tag keys to remove.
    pub remove_tags: Vec<String>,
}

impl Drift {
    /// Nothing to change.
    pub fn is_up_to_date(&self) -> bool {
        self.changes.is_empty()
            && self.immutable.is_empty()
            && self.add_tags.is_empty()
            && self.remove_tags.is_empty()
    }

    /// A readable diff, one change per line (empty when up to date).
    pub fn diff(&self) -> String {
        let mut lines: Vec<String> =
            self.immutable.iter().map(|c| format!("{c} (immutable)")).collect();
        lines.extend(self.changes.iter().map(ToString::to_string));
        if !self.add_tags.is_empty() || !self.remove_tags.is_empty() {
            let added: Vec<_> = self.add_tags.iter().filter_map(|t| t.key.as_deref()).collect();
            lines.push(format!(
                "spec.forProvider.tags: add or change {added:?}, remove {:?}",
                self.remove_tags
            ));
        }
        lines.join("\n")
    }

    /// The error for fields AWS cannot change in place, if any.
    pub fn immutable_error(&self) -> Option<String> {
        (!self.immutable.is_empty()).then(|| {
            let fields: Vec<String> = self.immutable.iter().map(ToString::to_string).collect();
            format!(
                "cannot change in place (AWS would require replacing the DB instance): {}; revert the spec, or delete and recreate the resource",
                fields.join("; ")
            )
        })
    }
}

/// A master password `ModifyDBInstance` must set, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewPassword {
    /// `masterPasswordSecretRef` holds a password other than the published one.
    Referenced(String),
    /// The password generated at creation never reached the connection Secret `secret`: its
    /// write failed, the process stopped first, or `writeConnectionSecretToRef` moved since. AWS
    /// never returns passwords, so a new one is generated, set and published.
    Regenerated {
        /// The new password.
        password: String,
        /// `namespace/name` of the connection Secret that lacks it.
        secret: String,
    },
}

impl NewPassword {
    /// The password to send.
    pub fn value(&self) -> &str {
        match self {
            Self::Referenced(password) | Self::Regenerated { password, .. } => password,
        }
    }
}

/// Compare the (late-initialized) spec with the instance. Unset spec fields are not managed.
/// `new_password` is the master password to set, if any.
pub fn drift(
    id: &str,
    p: &RdsInstanceParameters,
    i: &DbInstance,
    new_password: Option<&NewPassword>,
) -> Drift {
    let i = &with_pending(i);
    let mut d = Diff::new(id, p.apply_modifications_immediately.unwrap_or(false));
    let multi_az = p.multi_az.or(i.multi_az).unwrap_or(false);

    d.immutable("engine", Some(&p.engine), i.engine.as_ref());
    d.immutable("masterUsername", p.master_username.as_ref(), i.master_username.as_ref());
    d.immutable("dbName", p.db_name.as_ref(), i.db_name.as_ref());
    d.immutable(
        "storageEncrypted",
        p.storage_encrypted,
        Some(i.storage_encrypted.unwrap_or(false)),
    );
    if !kms_key_matches(p.kms_key_id.as_deref(), i.kms_key_id.as_deref()) {
        d.immutable("kmsKeyId", p.kms_key_id.as_ref(), i.kms_key_id.as_ref());
    }
    d.immutable("characterSetName", p.character_set_name.as_ref(), i.character_set_name.as_ref());
    d.immutable("timezone", p.timezone.as_ref(), i.timezone.as_ref());
    d.immutable(
        "dbClusterIdentifier",
        p.db_cluster_identifier.as_ref(),
        i.db_cluster_identifier.as_ref(),
    );
    if !multi_az {
        d.immutable("availabilityZone", p.availability_zone.as_ref(), i.availability_zone.as_ref());
    }

    d.modifiable(
        "dbInstanceClass",
        Some(p.db_instance_class.clone()),
        i.db_instance_class.clone(),
        |b, v| b.db_instance_class(v),
    );
    d.modifiable("allocatedStorage", p.allocated_storage, i.allocated_storage, |b, v| {
        b.allocated_storage(v)
    });
    d.modifiable(
        "maxAllocatedStorage",
        p.max_allocated_storage,
        i.max_allocated_storage,
        |b, v| b.max_allocated_storage(v),
    );
    d.modifiable("storageType", p.storage_type.clone(), i.storage_type.clone(), |b, v| {
        b.storage_type(v)
    });
    d.modifiable("iops", p.iops, Some(i.iops.unwrap_or(0)), |b, v| b.iops(v));
    d.modifiable(
        "storageThroughput",
        p.storage_throughput,
        Some(i.storage_throughput.unwrap_or(0)),
        |b, v| b.storage_throughput(v),
    );
    d.modifiable("multiAZ", p.multi_az, i.multi_az, |b, v| b.multi_az(v));
    d.modifiable(
        "backupRetentionPeriod",
        p.backup_retention_period,
        i.backup_retention_period,
        |b, v| b.backup_retention_period(v),
    );
    d.modifiable(
        "preferredBackupWindow",
        p.preferred_backup_window.clone(),
        i.preferred_backup_window.clone(),
        |b, v| b.preferred_backup_window(v),
    );
    d.modifiable(
        "preferredMaintenanceWindow",
        p.preferred_maintenance_window.clone(),
        i.preferred_maintenance_window.clone(),
        |b, v| b.preferred_maintenance_window(v),
    );
    d.modifiable("port", p.port, observed_port(i), |b, v| b.db_port_number(v));
    d.modifiable("publiclyAccessible", p.publicly_accessible, i.publicly_accessible, |b, v| {
        b.publicly_accessible(v)
    });
    d.modifiable(
        "dbSubnetGroupName",
        p.db_subnet_group_name.clone(),
        observed_subnet_group(i),
        |b, v| b.db_subnet_group_name(v),
    );
    d.modifiable(
        "vpcSecurityGroupIds",
        p.vpc_security_group_ids.as_ref().map(|v| v.iter().cloned().collect::<BTreeSet<_>>()),
        Some(observed_security_groups(i).into_iter().collect()),
        |b, v| b.set_vpc_security_group_ids(Some(v.into_iter().collect())),
    );
    d.modifiable(
        "deletionProtection",
        p.deletion_protection,
        Some(i.deletion_protection.unwrap_or(false)),
        |b, v| b.deletion_protection(v),
    );
    d.modifiable(
        "autoMinorVersionUpgrade",
        p.auto_minor_version_upgrade,
        i.auto_minor_version_upgrade,
        |b, v| b.auto_minor_version_upgrade(v),
    );
    d.modifiable(
        "caCertificateIdentifier",
        p.ca_certificate_identifier.clone(),
        i.ca_certificate_identifier.clone(),
        |b, v| b.ca_certificate_identifier(v),
    );
    d.modifiable(
        "copyTagsToSnapshot",
        p.copy_tags_to_snapshot,
        Some(i.copy_tags_to_snapshot.unwrap_or(false)),
        |b, v| b.copy_tags_to_snapshot(v),
    );
    d.modifiable(
        "dbParameterGroupName",
        p.db_parameter_group_name.clone(),
        observed_parameter_group(i),
        |b, v| b.db_parameter_group_name(v),
    );
    d.modifiable(
        "optionGroupName",
        p.option_group_name.clone(),
        observed_option_group(i),
        |b, v| b.option_group_name(v),
    );
    d.modifiable(
        "enablePerformanceInsights",
        p.enable_performance_insights,
        Some(i.performance_insights_enabled.unwrap_or(false)),
        |b, v| b.enable_performance_insights(v),
    );
    d.modifiable(
        "performanceInsightsRetentionPeriod",
        p.performance_insights_retention_period,
        i.performance_insights_retention_period,
        |b, v| b.performance_insights_retention_period(v),
    );
    if !kms_key_matches(
        p.performance_insights_kms_key_id.as_deref(),
        i.performance_insights_kms_key_id.as_deref(),
    ) {
        d.modifiable(
            "performanceInsightsKMSKeyId",
            p.performance_insights_kms_key_id.clone(),
            i.performance_insights_kms_key_id.clone(),
            |b, v| b.performance_insights_kms_key_id(v),
        );
    }
    d.modifiable(
        "monitoringInterval",
        p.monitoring_interval,
        Some(i.monitoring_interval.unwrap_or(0)),
        |b, v| b.monitoring_interval(v),
    );
    d.modifiable(
        "monitoringRoleArn",
        p.monitoring_role_arn.clone(),
        i.monitoring_role_arn.clone(),
        |b, v| b.monitoring_role_arn(v),
    );
    d.modifiable(
        "enableIAMDatabaseAuthentication",
        p.enable_iam_database_authentication,
        Some(i.iam_database_authentication_enabled.unwrap_or(false)),
        |b, v| b.enable_iam_database_authentication(v),
    );
    d.modifiable("licenseModel", p.license_model.clone(), i.license_model.clone(), |b, v| {
        b.license_model(v)
    });
    d.modifiable("promotionTier", p.promotion_tier, i.promotion_tier, |b, v| b.promotion_tier(v));
    let domain_role = p.domain_iam_role_name.clone();
    d.modifiable(
        "domain",
        p.domain.clone(),
        i.domain_memberships().first().and_then(|m| m.domain.clone()),
        move |b, v| b.domain(v).set_domain_iam_role_name(domain_role),
    );
    let observed_logs: BTreeSet<String> =
        i.enabled_cloudwatch_logs_exports().iter().cloned().collect();
    let desired_logs = p
        .enable_cloudwatch_logs_exports
        .as_ref()
        .map(|v| v.iter().cloned().collect::<BTreeSet<_>>());
    let current_logs = observed_logs.clone();
    d.modifiable(
        "enableCloudwatchLogsExports",
        desired_logs,
        Some(observed_logs),
        move |b, want| {
            let enable = want.difference(&current_logs).cloned().collect();
            let disable = current_logs.difference(&want).cloned().collect();
            b.cloudwatch_logs_export_configuration(
                CloudwatchLogsExportConfiguration::builder()
                    .set_enable_log_types(Some(enable))
                    .set_disable_log_types(Some(disable))
                    .build(),
            )
        },
    );
    if let (Some(want), Some(have)) = (p.engine_version.as_deref(), i.engine_version.as_deref())
        && is_engine_upgrade(want, have)
    {
        d.change("engineVersion", format!("{want:?}"), format!("{have:?}"));
        d.modify = std::mem::take(&mut d.modify)
            .engine_version(want)
            .set_allow_major_version_upgrade(p.allow_major_version_upgrade);
    }
    if let Some(password) = new_password {
        let (desired, observed) = match password {
            NewPassword::Referenced(_) => ("a new password", "the published one".to_owned()),
            NewPassword::Regenerated { secret, .. } => {
                ("a newly generated password", format!("one never published to Secret {secret}"))
            }
        };
        d.change("masterPasswordSecretRef", desired.to_owned(), observed);
        d.modify = std::mem::take(&mut d.modify).master_user_password(password.value());
    }
    let (add_tags, remove_tags) = tag_changes(p.tags.as_deref(), i.tag_list());
    Drift { changes: d.changes, immutable: d.immutable, modify: d.modify, add_tags, remove_tags }
}

/// The error when the instance recorded at `recorded_arn` lives in another region than
/// `region`, the one the spec now names: RDS cannot move an instance, and looking for it in the
/// new region would create a second one and abandon the first.
pub fn region_change(recorded_arn: Option<&str>, region: &str) -> Option<String> {
    let recorded = crate::api::arn_region(recorded_arn?)?;
    if recorded == region {
        return None;
    }
    let change = Change {
        field: "region",
        desired: format!("{region:?}"),
        observed: format!("{recorded:?}"),
    };
    Drift { immutable: vec![change], ..Drift::default() }.immutable_error()
}

/// The instance as it will be once pending modifications apply: a change AWS accepted for the
/// maintenance window (`applyModificationsImmediately: false`) is not drift to re-request.
fn with_pending(i: &DbInstance) -> DbInstance {
    let mut effective = i.clone();
    if let Some(p) = &i.pending_modified_values {
        effective.allocated_storage = p.allocated_storage.or(i.allocated_storage);
        effective.db_instance_class =
            p.db_instance_class.clone().or_else(|| i.db_instance_class.clone());
        effective.engine_version = p.engine_version.clone().or_else(|| i.engine_version.clone());
        effective.multi_az = p.multi_az.or(i.multi_az);
        effective.storage_type = p.storage_type.clone().or_else(|| i.storage_type.clone());
        effective.iops = p.iops.or(i.iops);
        effective.storage_throughput = p.storage_throughput.or(i.storage_throughput);
        effective.backup_retention_period = p.backup_retention_period.or(i.backup_retention_period);
        effective.ca_certificate_identifier =
            p.ca_certificate_identifier.clone().or_else(|| i.ca_certificate_identifier.clone());
        effective.license_model = p.license_model.clone().or_else(|| i.license_model.clone());
        if let Some(port) = p.port {
            effective.db_instance_port = Some(port);
            effective.endpoint = None;
        }
        if let Some(group) = &p.db_subnet_group_name {
            effective.db_subnet_group =
                Some(aws::DbSubnetGroup::builder().db_subnet_group_name(group).build());
        }
    }
    effective
}

/// Accumulates changes and the modification that fixes them.
struct Diff {
    changes: Vec<Change>,
    immutable: Vec<Change>,
    modify: ModifyDbInstanceInputBuilder,
}

impl Diff {
    fn new(id: &str, apply_immediately: bool) -> Self {
        Self {
            changes: Vec::new(),
            immutable: Vec::new(),
            modify: ModifyDbInstanceInputBuilder::default()
                .db_instance_identifier(id)
                .apply_immediately(apply_immediately),
        }
    }

    fn change(&mut self, field: &'static str, desired: String, observed: String) {
        self.changes.push(Change { field, desired, observed });
    }

    fn modifiable<T: PartialEq + Debug>(
        &mut self,
        field: &'static str,
        desired: Option<T>,
        observed: Option<T>,
        set: impl FnOnce(ModifyDbInstanceInputBuilder, T) -> ModifyDbInstanceInputBuilder,
    ) {
        let Some(desired) = desired else { return };
        if observed.as_ref() == Some(&desired) {
            return;
        }
        self.change(field, format!("{desired:?}"), show(observed.as_ref()));
        self.modify = set(std::mem::take(&mut self.modify), desired);
    }

    fn immutable<T: PartialEq + Debug>(
        &mut self,
        field: &'static str,
        desired: Option<T>,
        observed: Option<T>,
    ) {
        let Some(desired) = desired else { return };
        // An unreported value cannot be compared: not evidence of a change.
        let Some(observed) = observed else { return };
        if desired != observed {
            self.immutable.push(Change {
                field,
                desired: format!("{desired:?}"),
                observed: format!("{observed:?}"),
            });
        }
    }
}

fn show<T: Debug>(value: Option<&T>) -> String {
    value.map_or_else(|| "nothing".to_owned(), |v| format!("{v:?}"))
}

/// A KMS key given as key ID or ARN matches the ARN AWS reports. Aliases cannot be resolved
/// without KMS, so they are not compared.
fn kms_key_matches(desired: Option<&str>, observed: Option<&str>) -> bool {
    match (desired, observed) {
        (None, _) => true,
        (Some(d), _) if d.starts_with("alias/") || d.contains(":alias/") => true,
        (Some(d), Some(o)) => d == o || o.ends_with(&format!("/{d}")),
        (Some(_), None) => false,
    }
}

/// Whether `desired` is a newer engine version than `observed`. A prefix (`15` vs `15.4`)
/// matches; a lower version is not an upgrade (AWS cannot downgrade, and minor versions move
/// forward on their own with `autoMinorVersionUpgrade`).
pub fn is_engine_upgrade(desired: &str, observed: &str) -> bool {
    let mut have = observed.split('.');
    for want in desired.split('.') {
        let have = have.next().unwrap_or("0");
        let ordering = match (want.parse::<u64>(), have.parse::<u64>()) {
            (Ok(w), Ok(h)) => w.cmp(&h),
            _ => want.cmp(have),
        };
        match ordering {
            std::cmp::Ordering::Equal => continue,
            std::cmp::Ordering::Greater => return true,
            std::cmp::Ordering::Less => return false,
        }
    }
    false
}

/// Tags to add (new or changed values) and keys to remove. Unset `tags` manages nothing.
pub fn tag_changes(desired: Option<&[Tag]>, observed: &[aws::Tag]) -> (Vec<aws::Tag>, Vec<String>) {
    let Some(desired) = desired else { return (Vec::new(), Vec::new()) };
    let have: BTreeSet<(String, String)> = observed
        .iter()
        .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()))
        .collect();
    let want: BTreeSet<(String, String)> =
        desired.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
    let add =
        want.difference(&have).map(|(k, v)| aws::Tag::builder().key(k).value(v).build()).collect();
    let wanted_keys: BTreeSet<&String> = want.iter().map(|(k, _)| k).collect();
    let remove = have
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !wanted_keys.contains(k))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    (add, remove)
}

fn aws_tag(tag: &Tag) -> aws::Tag {
    aws::Tag::builder().key(&tag.key).value(&tag.value).build()
}

fn observed_port(i: &DbInstance) -> Option<i32> {
    i.endpoint.as_ref().and_then(|e| e.port).or(i.db_instance_port).filter(|p| *p != 0)
}

fn observed_subnet_group(i: &DbInstance) -> Option<String> {
    i.db_subnet_group.as_ref().and_then(|g| g.db_subnet_group_name.clone())
}

fn observed_parameter_group(i: &DbInstance) -> Option<String> {
    i.db_parameter_groups().first().and_then(|g| g.db_parameter_group_name.clone())
}

fn observed_option_group(i: &DbInstance) -> Option<String> {
    i.option_group_memberships().first().and_then(|g| g.option_group_name.clone())
}

fn observed_security_groups(i: &DbInstance) -> Vec<String> {
    i.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id.clone()).collect()
}

#[cfg(test)]
mod tests;
