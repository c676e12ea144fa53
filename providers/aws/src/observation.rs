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

use crate::api::{ApiError, RdsApi};

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
