//! `RDSInstance` (`database.aws.crossplane.io/v1beta1`): an RDS DB instance.

pub mod convert;
pub mod external;
pub mod types;

use crosstie_runtime::Managed;
use crosstie_runtime::reference::{ResolveError, Resolver};
use crosstie_runtime::{ResourceSpec, ResourceStatus};

pub use external::RdsInstanceExternal;
pub use types::{
    RdsInstance, RdsInstanceObservation, RdsInstanceParameters, RdsInstanceSpec, RdsInstanceStatus,
};

use crate::dbsubnetgroup::DbSubnetGroup;

impl Managed for RdsInstance {
    fn resource_spec(&self) -> &ResourceSpec {
        &self.spec.resource_spec
    }

    fn resource_status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref().map(|s| &s.resource_status)
    }

    fn resource_status_mut(&mut self) -> &mut ResourceStatus {
        &mut self.status.get_or_insert_with(RdsInstanceStatus::default).resource_status
    }

    /// The instance identifier is the external name, so a create lost in a crash is found by the
    /// next observe rather than made twice.
    fn external_name_is_deterministic(&self) -> bool {
        true
    }

    async fn resolve_references(&mut self, resolver: &Resolver) -> Result<(), ResolveError> {
        let p = &mut self.spec.for_provider;
        resolver
            .resolve::<DbSubnetGroup>(
                "spec.forProvider.dbSubnetGroupName",
                &mut p.db_subnet_group_name,
                p.db_subnet_group_name_ref.as_ref(),
                p.db_subnet_group_name_selector.as_ref(),
            )
            .await?;
        let unresolvable = p.vpc_security_group_id_refs.as_ref().is_some_and(|r| !r.is_empty())
            || p.vpc_security_group_id_selector.is_some();
        if unresolvable && p.vpc_security_group_ids.as_ref().is_none_or(Vec::is_empty) {
            return Err(ResolveError(
                "cannot resolve spec.forProvider.vpcSecurityGroupIds: ec2 SecurityGroup is not served by Crosstie yet; set vpcSecurityGroupIds directly".to_owned(),
            ));
        }
        Ok(())
    }
}
