//! `RDSInstance` in `database.aws.crossplane.io/v1beta1`, with the field names of classic
//! provider-aws v0.58 (`apis/database/v1beta1/rdsinstance_types.go`) so existing manifests apply
//! unchanged.

use crosstie_runtime::{Reference, ResourceSpec, ResourceStatus, SecretKeySelector, Selector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of an RDSInstance.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "database.aws.crossplane.io",
    version = "v1beta1",
    kind = "RDSInstance",
    root = "RdsInstance",
    status = "RdsInstanceStatus",
    shortname = "rds",
    category = "crossplane",
    category = "managed",
    category = "aws",
    printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type=='Ready')].status"}"#,
    printcolumn = r#"{"name":"SYNCED","type":"string","jsonPath":".status.conditions[?(@.type=='Synced')].status"}"#,
    printcolumn = r#"{"name":"STATE","type":"string","jsonPath":".status.atProvider.dbInstanceStatus"}"#,
    printcolumn = r#"{"name":"ENGINE","type":"string","jsonPath":".spec.forProvider.engine"}"#,
    printcolumn = r#"{"name":"VERSION","type":"string","jsonPath":".spec.forProvider.engineVersion"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RdsInstanceSpec {
    /// The AWS-side parameters.
    pub for_provider: RdsInstanceParameters,
    /// Common managed-resource fields.
    #[serde(flatten)]
    pub resource_spec: ResourceSpec,
}

/// A tag on an AWS resource.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    #[serde(default)]
    pub value: String,
}

/// A processor feature (`coreCount`, `threadsPerCore`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct ProcessorFeature {
    /// Feature name.
    pub name: String,
    /// Feature value.
    pub value: String,
}

/// The `spec.forProvider` of an RDSInstance. Fields marked immutable cannot change after
/// creation: a change is reported as an error naming the field, never ignored.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RdsInstanceParameters {
    /// AWS region of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Compute and memory class, e.g. `db.r6g.xlarge`.
    pub db_instance_class: String,
    /// Database engine (`postgres`, `mysql`, …). Immutable.
    pub engine: String,
    /// Engine version; a prefix such as `15` matches any `15.x`. Only upgrades are applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Master user name. Immutable. Defaults per engine: `postgres` for postgres and
    /// aurora-postgresql, `admin` for every other engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_username: Option<String>,
    /// The Secret key holding the master password; a strong random password is generated
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_password_secret_ref: Option<SecretKeySelector>,
    /// Storage in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_storage: Option<i32>,
    /// Upper limit of storage autoscaling in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allocated_storage: Option<i32>,
    /// `gp2`, `gp3`, `io1`, `io2`, `standard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Provisioned IOPS (0 and unset are equivalent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<i32>,
    /// Storage throughput for gp3 (0 and unset are equivalent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_throughput: Option<i32>,
    /// Multi-AZ deployment.
    #[serde(default, rename = "multiAZ", skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<bool>,
    /// Encrypt storage. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_encrypted: Option<bool>,
    /// KMS key for storage encryption. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Days to keep automated backups (0 disables them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<i32>,
    /// Daily backup window, `hh24:mi-hh24:mi` UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_backup_window: Option<String>,
    /// Weekly maintenance window, `ddd:hh24:mi-ddd:hh24:mi` UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_maintenance_window: Option<String>,
    /// Name of the database created with the instance. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_name: Option<String>,
    /// Port the database listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Whether the instance gets a public address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publicly_accessible: Option<bool>,
    /// DB subnet group of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    /// Sets `dbSubnetGroupName` from a DBSubnetGroup's external name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name_ref: Option<Reference>,
    /// Selects a DBSubnetGroup to set `dbSubnetGroupName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name_selector: Option<Selector>,
    /// VPC security groups of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_security_group_ids: Option<Vec<String>>,
    /// References to ec2 SecurityGroups (not served by Crosstie yet: set the IDs instead).
    #[serde(default, rename = "vpcSecurityGroupIDRefs", skip_serializing_if = "Option::is_none")]
    pub vpc_security_group_id_refs: Option<Vec<Reference>>,
    /// Selects ec2 SecurityGroups (not served by Crosstie yet: set the IDs instead).
    #[serde(
        default,
        rename = "vpcSecurityGroupIDSelector",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_security_group_id_selector: Option<Selector>,
    /// Legacy DB security groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_security_groups: Option<Vec<String>>,
    /// Refuse deletion while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// Apply minor engine upgrades in the maintenance window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_minor_version_upgrade: Option<bool>,
    /// Allow major version upgrades when `engineVersion` changes major.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_major_version_upgrade: Option<bool>,
    /// Apply modifications now instead of in the next maintenance window (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_modifications_immediately: Option<bool>,
    /// Skip the final snapshot on deletion (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_final_snapshot_before_deletion: Option<bool>,
    /// Name of the final snapshot taken on deletion.
    #[serde(
        default,
        rename = "finalDBSnapshotIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub final_db_snapshot_identifier: Option<String>,
    /// Delete automated backups with the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_automated_backups: Option<bool>,
    /// Tags of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Availability Zone. Immutable unless `multiAZ` is true (then AWS ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// CA certificate of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate_identifier: Option<String>,
    /// Copy tags to snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_tags_to_snapshot: Option<bool>,
    /// DB parameter group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_parameter_group_name: Option<String>,
    /// Option group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_group_name: Option<String>,
    /// Enable Performance Insights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_performance_insights: Option<bool>,
    /// KMS key for Performance Insights data.
    #[serde(
        default,
        rename = "performanceInsightsKMSKeyId",
        skip_serializing_if = "Option::is_none"
    )]
    pub performance_insights_kms_key_id: Option<String>,
    /// Days to keep Performance Insights data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_insights_retention_period: Option<i32>,
    /// Enhanced Monitoring interval in seconds (0 disables it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_interval: Option<i32>,
    /// IAM role for Enhanced Monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_role_arn: Option<String>,
    /// Map IAM identities to database accounts.
    #[serde(
        default,
        rename = "enableIAMDatabaseAuthentication",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_iam_database_authentication: Option<bool>,
    /// Log types exported to CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_cloudwatch_logs_exports: Option<Vec<String>>,
    /// `license-included`, `bring-your-own-license`, `general-public-license`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_model: Option<String>,
    /// Character set (Oracle, SQL Server). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character_set_name: Option<String>,
    /// Time zone (SQL Server). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The DB cluster the instance joins. Immutable.
    #[serde(default, rename = "dbClusterIdentifier", skip_serializing_if = "Option::is_none")]
    pub db_cluster_identifier: Option<String>,
    /// Aurora failover priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_tier: Option<i32>,
    /// Active Directory domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// IAM role for the Directory Service.
    #[serde(default, rename = "domainIAMRoleName", skip_serializing_if = "Option::is_none")]
    pub domain_iam_role_name: Option<String>,
    /// CPU features of the instance class. Set at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor_features: Option<Vec<ProcessorFeature>>,
    /// Use the instance class's default processor features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_default_processor_features: Option<bool>,
}

/// Observed state of an RDSInstance.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RdsInstanceStatus {
    /// What AWS reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_provider: Option<RdsInstanceObservation>,
    /// Common managed-resource status.
    #[serde(flatten)]
    pub resource_status: ResourceStatus,
}

/// `status.atProvider`: the instance as AWS reports it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RdsInstanceObservation {
    /// AWS status, e.g. `available`, `creating`, `modifying`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_status: Option<String>,
    /// ARN of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_arn: Option<String>,
    /// Region-unique immutable identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_resource_id: Option<String>,
    /// Port the instance listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_port: Option<i32>,
    /// Connection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// Running engine version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Allocated storage in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_storage: Option<i32>,
    /// Backup retention in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<i32>,
    /// The instance's subnet group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group: Option<DbSubnetGroupInRds>,
    /// VPC security groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpc_security_groups: Vec<VpcSecurityGroupMembership>,
    /// Changes AWS will apply later (maintenance window) or is applying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_modified_values: Option<PendingModifiedValues>,
    /// Secondary AZ of a Multi-AZ instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_availability_zone: Option<String>,
    /// Whether Performance Insights is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_insights_enabled: Option<bool>,
    /// Log types exported to CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled_cloudwatch_logs_exports: Vec<String>,
}

/// The connection endpoint of an instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// DNS address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Route 53 hosted zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
}

/// The subnet group an instance is in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DbSubnetGroupInRds {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    /// ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_arn: Option<String>,
    /// Status, e.g. `Complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_group_status: Option<String>,
    /// VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

/// A VPC security group an instance belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpcSecurityGroupMembership {
    /// Security group ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_security_group_id: Option<String>,
    /// Membership status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Changes pending on an instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingModifiedValues {
    /// Pending storage in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_storage: Option<i32>,
    /// Pending instance class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_class: Option<String>,
    /// Pending engine version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Pending Multi-AZ.
    #[serde(default, rename = "multiAZ", skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<bool>,
    /// Pending storage type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Pending IOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<i32>,
    /// Pending backup retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<i32>,
    /// Pending port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}
