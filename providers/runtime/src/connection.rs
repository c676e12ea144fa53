//! Publishing connection details to the Secret named by `writeConnectionSecretToRef`.
//!
//! As in crossplane-runtime's `APISecretPublisher`: the Secret has type
//! `connection.crossplane.io/v1alpha1` and a controller reference to the managed resource; keys
//! are only ever added or changed (never removed); a Secret controlled by someone else is
//! refused; and nothing is written when the data already matches.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Map, Value, json};

use crate::{ConnectionDetails, Managed};

/// The Secret type Crossplane gives connection Secrets.
pub const SECRET_TYPE: &str = "connection.crossplane.io/v1alpha1";

/// The connection Secret could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The Secret exists and belongs to another object.
    #[error(
        "cannot publish connection details: Secret {namespace}/{name} is controlled by {owner}"
    )]
    ControlledByOther {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// `Kind/name` of its controller, or why it is not ours.
        owner: String,
    },
    /// Reading or writing the Secret failed.
    #[error(
        "cannot publish connection details to Secret {namespace}/{name}: {}",
        crate::patch::describe(source)
    )]
    Api {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// What the caller expects of the connection Secret before publishing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Nothing: it is read first.
    Unknown,
    /// Absent, as right after the external resource was created: it is created at once, and
    /// read (then patched) only if one turns out to exist. Saves a read per create.
    Absent,
}

/// Write `details` to `mr`'s connection Secret, if it names one. Returns whether a write was made.
///
/// # Panics
/// If `mr` has no `metadata.uid` (it was not read from the API server).
pub async fn publish<M: Managed>(
    client: &Client,
    mr: &M,
    details: &ConnectionDetails,
    expected: Expected,
) -> Result<bool, PublishError> {
    let Some(target) = &mr.resource_spec().write_connection_secret_to_ref else {
        return Ok(false);
    };
    let (namespace, name) = (target.namespace.clone(), target.name.clone());
    let api_error =
        |source| PublishError::Api { namespace: namespace.clone(), name: name.clone(), source };
    let api: Api<Secret> = Api::namespaced(client.clone(), &target.namespace);
    let owner = crate::managed::controller_reference(mr);
    // Built only when creating: most publishes find the Secret and write nothing.
    let new_secret = || Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        type_: Some(SECRET_TYPE.to_owned()),
        data: Some(details.iter().map(|(k, v)| (k.clone(), ByteString(v.clone()))).collect()),
        ..Secret::default()
    };
    if expected == Expected::Absent {
        match api.create(&PostParams::default(), &new_secret()).await {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(err) => return Err(api_error(err)),
        }
    }
    let Some(existing) = api.get_opt(&name).await.map_err(api_error)? else {
        api.create(&PostParams::default(), &new_secret()).await.map_err(api_error)?;
        return Ok(true);
    };

    let mut patch = Map::new();
    match existing.owner_references().iter().find(|o| o.controller == Some(true)) {
        Some(controller) if controller.uid == owner.uid => {}
        Some(controller) => {
            return Err(PublishError::ControlledByOther {
                namespace,
                name,
                owner: format!("{}/{}", controller.kind, controller.name),
            });
        }
        None if existing.type_.as_deref() != Some(SECRET_TYPE) => {
            return Err(PublishError::ControlledByOther {
                namespace,
                name,
                owner: format!("nobody, and its type is not {SECRET_TYPE}"),
            });
        }
        None => {
            let mut owners = existing.owner_references().to_vec();
            owners.push(owner);
            patch.insert("metadata".into(), json!({ "ownerReferences": owners }));
        }
    }
    let current = existing.data.unwrap_or_default();
    let changed: Map<String, Value> = details
        .iter()
        .filter(|(key, value)| current.get(*key).is_none_or(|c| &c.0 != *value))
        .map(|(key, value)| (key.clone(), json!(ByteString(value.clone()))))
        .collect();
    if !changed.is_empty() {
        patch.insert("data".into(), Value::Object(changed));
    }
    if patch.is_empty() {
        return Ok(false);
    }
    crate::patch::merge(&api, &name, &Value::Object(patch)).await.map_err(api_error)?;
    Ok(true)
}
