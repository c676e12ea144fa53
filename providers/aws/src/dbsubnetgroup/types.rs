//! `DBSubnetGroup` in `database.aws.crossplane.io/v1beta1`, with the field names of classic
//! provider-aws v0.58 (`apis/database/v1beta1/dbsubnetgroup_types.go`).

use crosstie_runtime::{Reference, ResourceSpec, ResourceStatus, Selector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::rdsinstance::types::Tag;

/// Desired state of a DBSubnetGroup.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "database.aws.crossplane.io",
    version = "v1beta1",
    kind = "DBSubnetGroup",
    root = "DbSubnetGroup",
    status = "DbSubnetGroupStatus",
    category = "crossplane",
    category = "managed",
    category = "aws",
    printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type=='Ready')].status"}"#,
    printcolumn = r#"{"name":"SYNCED","type":"string","jsonPath":".status.conditions[?(@.type=='Synced')].status"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct DbSubnetGroupSpec {
    /// The AWS-side parameters.
    pub for_provider: DbSubnetGroupParameters,
    /// Common managed-resource fields.
    #[serde(flatten)]
    pub resource_spec: ResourceSpec,
}

/// The `spec.forProvider` of a DBSubnetGroup.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DbSubnetGroupParameters {
    /// AWS region of the subnet group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Description of the subnet group.
    pub description: String,
    /// EC2 subnets of the subnet group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
    /// References to ec2 Subnets (not served by Crosstie yet: set the IDs instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id_refs: Option<Vec<Reference>>,
    /// Selects ec2 Subnets (not served by Crosstie yet: set the IDs instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id_selector: Option<Selector>,
    /// Tags of the subnet group. Tags are added or changed, never removed (as provider-aws).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// Observed state of a DBSubnetGroup.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DbSubnetGroupStatus {
    /// What AWS reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_provider: Option<DbSubnetGroupObservation>,
    /// Common managed-resource status.
    #[serde(flatten)]
    pub resource_status: ResourceStatus,
}

/// `status.atProvider` of a DBSubnetGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DbSubnetGroupObservation {
    /// Status, e.g. `Complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ARN of the subnet group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The subnets and their status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<SubnetStatus>,
    /// The VPC of the subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

/// One subnet of a subnet group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubnetStatus {
    /// Subnet ID.
    #[serde(default, rename = "subnetID", skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// Subnet status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_status: Option<String>,
}
