//! `DBSubnetGroup` (`database.aws.crossplane.io/v1beta1`): the subnets an RDS instance may use.

pub mod convert;
pub mod external;
pub mod types;

use crosstie_runtime::Managed;
use crosstie_runtime::reference::{ResolveError, Resolver};
use crosstie_runtime::{ResourceSpec, ResourceStatus};

pub use external::{DbSubnetGroupExternal, group_name};
pub use types::{
    DbSubnetGroup, DbSubnetGroupObservation, DbSubnetGroupParameters, DbSubnetGroupSpec,
    DbSubnetGroupStatus,
};

impl Managed for DbSubnetGroup {
    /// The group name is the external name: a create lost in a crash is found by observe.
    fn external_name_is_deterministic(&self) -> bool {
        true
    }

    fn resource_spec(&self) -> &ResourceSpec {
        &self.spec.resource_spec
    }

    fn resource_status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref().map(|s| &s.resource_status)
    }

    fn resource_status_mut(&mut self) -> &mut ResourceStatus {
        &mut self.status.get_or_insert_with(DbSubnetGroupStatus::default).resource_status
    }

    async fn resolve_references(&mut self, _resolver: &Resolver) -> Result<(), ResolveError> {
        let p = &self.spec.for_provider;
        let unresolvable = p.subnet_id_refs.as_ref().is_some_and(|r| !r.is_empty())
            || p.subnet_id_selector.is_some();
        if unresolvable && p.subnet_ids.is_empty() {
            return Err(ResolveError(
                "cannot resolve spec.forProvider.subnetIds: ec2 Subnet is not served by Crosstie yet; set subnetIds directly".to_owned(),
            ));
        }
        Ok(())
    }
}
