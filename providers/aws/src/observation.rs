//! Batched observation of DB instances.
//!
//! Describing each RDSInstance separately costs N calls per poll interval (provider-aws#847:
//! throttling at scale). Instead, one [`InstanceCache`] per (ProviderConfig, region) holds a
//! snapshot from a paginated `DescribeDBInstances` ([`DESCRIBE_PAGE_SIZE`] per page), refreshed
//! at most once per freshness window (the poll interval), so a poll cycle over N instances costs
//! about N / 100 calls. Concurrent observers wait for the one refresh in flight instead of
//! starting their own.
//!
//! An instance this provider just created or modified is described on its own until the next
//! refresh, so a reconcile right after a write sees the write; so is an instance missing from
//! the snapshot, so a create is never based on a stale "absent".
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
        Self { freshness, state: Mutex::new(Snapshot::default()) }
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
        match instance {
            Some(instance) => snapshot.instances.insert(id.to_owned(), instance),
            None => snapshot.instances.remove(id),
        };
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
