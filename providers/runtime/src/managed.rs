//! The [`Managed`] trait every managed resource kind implements.

use std::fmt::Debug;
use std::future::Future;

use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::spec::{ResourceSpec, ResourceStatus};

/// A cluster-scoped custom resource that represents one external (cloud) resource.
///
/// Kinds follow Crossplane's shape: `spec.forProvider` plus the flattened [`ResourceSpec`], and
/// `status.atProvider` plus the flattened [`ResourceStatus`].
pub trait Managed:
    Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The common managed-resource spec fields.
    fn resource_spec(&self) -> &ResourceSpec;

    /// The common status fields, if a status has been written.
    fn resource_status(&self) -> Option<&ResourceStatus>;

    /// The common status fields, creating an empty status when there is none.
    fn resource_status_mut(&mut self) -> &mut ResourceStatus;

    /// Resolve cross-resource references (`fooRef` / `fooSelector`) into their value fields.
    /// Kinds without references keep the default, which does nothing. Implementations call
    /// [`crate::reference::Resolver`] for each reference field.
    fn resolve_references<'a>(
        &'a mut self,
        resolver: &'a crate::reference::Resolver,
    ) -> impl Future<Output = Result<(), crate::reference::ResolveError>> + Send + 'a {
        let _ = resolver;
        async { Ok(()) }
    }

    /// The external resource is found by a name known before `create` (the external name, as
    /// for RDS instances), so a create whose result went unrecorded is found again by the next
    /// `observe`: the leak guard then does not stop the resource (Crossplane's
    /// `WithDeterministicExternalName`). Kinds whose cloud picks the identifier keep the
    /// default, `false`.
    fn external_name_is_deterministic(&self) -> bool {
        false
    }
}

/// The controller reference the engine puts on objects it creates for `mr` (connection Secret,
/// ProviderConfig usage), blocking foreground deletion of `mr` until they are gone, like
/// Crossplane's `meta.AsController`.
pub(crate) fn controller_reference<M: Managed>(
    mr: &M,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
    let mut owner =
        mr.controller_owner_ref(&()).expect("a managed resource read from the API has a uid");
    owner.block_owner_deletion = Some(true);
    owner
}
