//! Batched observation of DB instances.
//!
//! Describing each RDSInstance separately costs N calls per poll interval (provider-aws#847:
//! throttling at scale). Instead, one [`InstanceCache`] per (ProviderConfig, region) holds a
//! snapshot from a paginated `DescribeDBInstances` ([`DESCRIBE_PAGE_SIZE`] per page), refreshed
//! at most once per freshness window (the poll interval), so a poll cycle over N instances costs
//! about N / 100 calls. Concurrent observers wait for the one refresh in flight instead of
//! starting their own.
//!
//! The first observation of an instance this provider just created is the create response (it
//! is the instance's state at that moment: AWS says `creating`, moto `available`). After that,
//! and after any other write, the instance is described on its own until the next refresh, so
//! a reconcile right after a write sees the write; so is an instance missing from the
//! snapshot, so a create is never based on a stale "absent".
//!
//! The price: a change made outside Crosstie is seen up to one freshness window later than
//! with per-resource describes (at most two poll intervals after it happened).
//!
//! [`DESCRIBE_PAGE_SIZE`]: crate::api::DESCRIBE_PAGE_SIZE

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_rds::types::DbInstance;
use tokio::sync::Mutex;

use crate::api::{ApiError, ApiErrorKind, RdsApi};

/// A snapshot of every DB instance in one region, shared by all RDSInstances using it.
#[derive(Debug)]
pub struct InstanceCache {
    freshness: Duration,
    state: Mutex<Snapshot>,
    /// Create responses not observed yet.
    created: Created<DbInstance>,
}

#[derive(Debug, Default)]
struct Snapshot {
    fetched_at: Option<Instant>,
    instances: HashMap<String, DbInstance>,
    /// Written by this provider since the snapshot was taken: describe individually.
    stale: HashSet<String>,
}

impl InstanceCache {
    /// A cache whose snapshot is reused for `freshness` (use the poll interval).
    pub fn new(freshness: Duration) -> Self {
        Self { freshness, state: Mutex::new(Snapshot::default()), created: Created::default() }
    }

    /// The instance `id`, from the snapshot when it is fresh and `id` was not written since.
    pub async fn get<A: RdsApi>(&self, api: &A, id: &str) -> Result<Option<DbInstance>, ApiError> {
        {
            let mut snapshot = self.state.lock().await;
            let fresh = snapshot.fetched_at.is_some_and(|at| at.elapsed() < self.freshness);
            if !fresh {
                // Holding the lock while listing makes concurrent observers wait for this
                // refresh rather than start their own.
                snapshot.instances = list_all(api).await?;
                snapshot.fetched_at = Some(Instant::now());
                snapshot.stale.clear();
            }
            if let Some(instance) = self.created.take(id) {
                snapshot.stale.insert(id.to_owned());
                snapshot.instances.insert(id.to_owned(), instance.clone());
                return Ok(Some(instance));
            }
            if !snapshot.stale.contains(id)
                && let Some(instance) = snapshot.instances.get(id)
            {
                return Ok(Some(instance.clone()));
            }
        }
        let found = api.describe_db_instance(id).await?;
        self.record(id, found.clone()).await;
        Ok(found)
    }

    /// Record what a write returned (or `None` after a delete) and describe `id` individually
    /// until the next refresh.
    pub async fn written(&self, id: &str, instance: Option<DbInstance>) {
        let mut snapshot = self.state.lock().await;
        snapshot.stale.insert(id.to_owned());
        self.created.take(id);
        match instance {
            Some(instance) => snapshot.instances.insert(id.to_owned(), instance),
            None => snapshot.instances.remove(id),
        };
    }

    /// Record the response of a create: the next [`get`](Self::get) of `id` returns it, the
    /// ones after it describe `id` individually until the next refresh.
    pub fn created(&self, id: &str, instance: DbInstance) {
        self.created.put(id, instance);
    }

    async fn record(&self, id: &str, instance: Option<DbInstance>) {
        let mut snapshot = self.state.lock().await;
        snapshot.stale.remove(id);
        match instance {
            Some(instance) => snapshot.instances.insert(id.to_owned(), instance),
            None => snapshot.instances.remove(id),
        };
    }
}

async fn list_all<A: RdsApi>(api: &A) -> Result<HashMap<String, DbInstance>, ApiError> {
    let mut instances = HashMap::new();
    let mut marker = None;
    loop {
        let page = api.describe_db_instances(marker).await?;
        for instance in page.instances {
            if let Some(id) = instance.db_instance_identifier.clone() {
                instances.insert(id, instance);
            }
        }
        match page.marker {
            Some(next) => marker = Some(next),
            None => return Ok(instances),
        }
    }
}

/// Create responses not yet observed, by identifier: the first observation after a create is
/// what the create returned (DB instances through [`InstanceCache`], DB subnet groups).
#[derive(Debug)]
pub struct Created<T> {
    responses: std::sync::Mutex<HashMap<String, T>>,
}

impl<T> Default for Created<T> {
    fn default() -> Self {
        Self { responses: std::sync::Mutex::default() }
    }
}

impl<T> Created<T> {
    /// Hold the create response of `id` for its next observation.
    pub fn put(&self, id: &str, response: T) {
        self.lock().insert(id.to_owned(), response);
    }

    /// The create response of `id`, once; `None` when it was taken or `id` was not created.
    pub fn take(&self, id: &str) -> Option<T> {
        self.lock().remove(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, T>> {
        self.responses.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Creates this provider sent whose answer never arrived (a timeout, a dropped connection), by
/// ARN resource part (`db:ID`, `subgrp:NAME`): an "already exists" when one of them is retried is
/// this provider's own earlier create, not somebody else's resource (whose password, say, must
/// not be reset).
///
/// Kept in memory only: after a restart, such a resource is found by observing it instead.
#[derive(Debug, Default)]
pub struct Unanswered(std::sync::Mutex<HashSet<String>>);

/// The result of [`Unanswered::create`].
#[derive(Debug)]
pub enum Creation<T> {
    /// Created now.
    Created(T),
    /// An earlier create of ours, whose answer was lost, had already created it.
    Earlier,
}

impl Unanswered {
    /// Send `create` for `key`. An `AlreadyExists` answer becomes [`Creation::Earlier`] when an
    /// earlier create of `key` went unanswered, and stays an error otherwise.
    pub async fn create<T>(
        &self,
        key: &str,
        create: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<Creation<T>, ApiError> {
        // Until AWS answers (or if this future is dropped first) the outcome is unknown.
        let earlier = !self.lock().insert(key.to_owned());
        let result = create.await;
        if !matches!(&result, Err(err) if err.kind == ApiErrorKind::Transient) {
            self.lock().remove(key);
        }
        match result {
            Ok(created) => Ok(Creation::Created(created)),
            Err(err) if err.kind == ApiErrorKind::AlreadyExists && earlier => Ok(Creation::Earlier),
            Err(err) => Err(err),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn error(kind: ApiErrorKind) -> ApiError {
        ApiError { operation: "CreateDBInstance", code: "Code".into(), message: "m".into(), kind }
    }

    async fn answer(
        creates: &Unanswered,
        kind: Option<ApiErrorKind>,
    ) -> Result<Creation<()>, ApiError> {
        creates.create("db:a", async { kind.map_or(Ok(()), |kind| Err(error(kind))) }).await
    }

    #[tokio::test]
    async fn already_exists_is_our_own_create_only_after_an_unanswered_one() {
        let creates = Unanswered::default();
        let foreign = answer(&creates, Some(ApiErrorKind::AlreadyExists)).await;
        assert!(foreign.is_err_and(|e| e.kind == ApiErrorKind::AlreadyExists), "not ours");

        assert!(answer(&creates, Some(ApiErrorKind::Transient)).await.is_err(), "answer lost");
        let retried = answer(&creates, Some(ApiErrorKind::AlreadyExists)).await;
        assert!(matches!(retried, Ok(Creation::Earlier)), "the lost create made it");

        let abandoned = creates.create("db:a", std::future::pending::<Result<(), ApiError>>());
        assert!(tokio::time::timeout(Duration::from_millis(5), abandoned).await.is_err());
        let retried = answer(&creates, Some(ApiErrorKind::AlreadyExists)).await;
        assert!(matches!(retried, Ok(Creation::Earlier)), "an abandoned create may have made it");
        let again = answer(&creates, Some(ApiErrorKind::AlreadyExists)).await;
        assert!(again.is_err(), "once answered, the record is gone");
    }
}
