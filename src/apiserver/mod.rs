//! The embedded Kubernetes-API-compatible server: schemas, patches, server-side apply, tables and
//! OpenAPI documents.

pub mod openapi;
pub mod patch;
pub mod schema;
pub mod ssa;
pub mod table;
