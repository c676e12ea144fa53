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
//! snapshot, which may have been made since. Those individual describes are [`Lookups`]: the
//! ones waiting while one is in flight go out together as the next call. One exception: a new
//! resource whose create was never started, and which the snapshot does not list, is taken as
//! absent ([`Unlisted::Absent`]). Its create finds out: should the instance have been made since
//! the snapshot, AWS answers `DBInstanceAlreadyExists`, nothing is changed, and the next pass
//! describes it and adopts it. Every new instance thus costs its create alone, as every new
//! DB subnet group does.
//!
//! The price: a change made outside Crosstie is seen up to one freshness window later than
//! with per-resource describes (at most two poll intervals after it happened).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_rds::types::DbInstance;
use tokio::sync::{Mutex, Notify, OnceCell};

use crate::api::{ApiError, ApiErrorKind, DESCRIBE_PAGE_SIZE, RdsApi};
use crosstie_runtime::annotations::never_created;
use crosstie_runtime::policy::Policies;
use crosstie_runtime::sync::lock;
use crosstie_runtime::{Managed, ManagementAction};

/// Whether nothing is known about `mr`'s external resource (`observed`: whether an observation
/// was ever recorded in its status) and, if it is absent, the engine will create it. The create's
/// answer then says whether it exists, so describing it first would be a wasted call: the one
/// every new resource costs. Not when deleting, when the policies forbid creating, or once a
/// create was started: then only a describe can tell.
pub fn create_will_tell<M: Managed>(mr: &M, observed: bool) -> bool {
    never_created(mr)
        && !observed
        && mr.meta().deletion_timestamp.is_none()
        && Policies::of(mr.resource_spec()).is_ok_and(|p| p.allows(ManagementAction::Create))
}

/// What [`InstanceCache::get`] takes an instance for that its fresh snapshot does not list (and
/// that was not written since).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlisted {
    /// Unknown: it may have been made since the snapshot, so it is described.
    Describe,
    /// Absent, for a caller whose next step is a create, which fails harmlessly with
    /// `DBInstanceAlreadyExists` if it was made since: no describe is spent on every new one.
    Absent,
}

/// A snapshot of every DB instance in one region, shared by all RDSInstances using it.
#[derive(Debug)]
pub struct InstanceCache {
    freshness: Duration,
    state: Mutex<Snapshot>,
    /// Create responses not observed yet.
    created: Created<DbInstance>,
    lookups: Lookups,
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
        Self {
            freshness,
            state: Mutex::new(Snapshot::default()),
            created: Created::default(),
            lookups: Lookups::default(),
        }
    }

    /// The instance `id`, from the snapshot when it is fresh and `id` was not written since;
    /// `unlisted` says what an instance the snapshot does not list is taken for.
    pub async fn get<A: RdsApi>(
        &self,
        api: &A,
        id: &str,
        unlisted: Unlisted,
    ) -> Result<Option<DbInstance>, ApiError> {
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
            if !snapshot.stale.contains(id) {
                match (snapshot.instances.get(id), unlisted) {
                    (Some(instance), _) => return Ok(Some(instance.clone())),
                    (None, Unlisted::Absent) => return Ok(None),
                    (None, Unlisted::Describe) => {}
                }
            }
        }
        let found = self.lookups.describe(id, |ids| describe_all(api, ids)).await?;
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

/// Describes of single DB instances, coalesced: while one call is in flight, the instances asked
/// for meanwhile wait and then go out together in one call (a `db-instance-id` filter of up to
/// [`DESCRIBE_PAGE_SIZE`] identifiers). A lone describe goes out at once, as before; N new
/// instances observed at once cost about N / 100 calls instead of N.
#[derive(Debug, Default)]
struct Lookups {
    /// The batch that describes join; sealed (replaced) when its call starts.
    open: std::sync::Mutex<Arc<Lookup>>,
    /// Held while a call is in flight.
    turn: Mutex<()>,
}

#[derive(Debug, Default)]
struct Lookup {
    ids: std::sync::Mutex<Vec<String>>,
    /// What the call found, by lowercase identifier (identifiers are case-insensitive).
    found: OnceCell<Result<HashMap<String, DbInstance>, ApiError>>,
}

impl Lookups {
    /// Describe `id` in a batch; `fetch` describes a batch's identifiers.
    async fn describe<F, Fut>(&self, id: &str, fetch: F) -> Result<Option<DbInstance>, ApiError>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<HashMap<String, DbInstance>, ApiError>>,
    {
        let lookup = {
            let open = lock(&self.open);
            lock(&open.ids).push(id.to_owned());
            open.clone()
        };
        let _turn = self.turn.lock().await;
        // The first of the batch to get its turn sends it; the others find the answer. Should
        // that call be abandoned, the next one of the batch sends the same identifiers again.
        let found = lookup
            .found
            .get_or_init(|| async {
                {
                    let mut open = lock(&self.open);
                    if Arc::ptr_eq(&open, &lookup) {
                        *open = Arc::default();
                    }
                }
                let ids = lock(&lookup.ids).clone();
                fetch(ids).await
            })
            .await;
        match found {
            Ok(found) => Ok(found.get(&id.to_ascii_lowercase()).cloned()),
            Err(err) => Err(err.clone()),
        }
    }
}

async fn describe_all<A: RdsApi>(
    api: &A,
    mut ids: Vec<String>,
) -> Result<HashMap<String, DbInstance>, ApiError> {
    ids.sort_unstable();
    ids.dedup();
    let mut found = HashMap::new();
    for chunk in ids.chunks(DESCRIBE_PAGE_SIZE as usize) {
        for instance in api.describe_db_instances_by_id(chunk).await? {
            if let Some(id) = &instance.db_instance_identifier {
                found.insert(id.to_ascii_lowercase(), instance);
            }
        }
    }
    Ok(found)
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
        lock(&self.responses)
    }
}

/// How long a DB instance create waits at most for its subnet group to settle (see
/// [`Settling`]), counted from when the group began settling.
pub const SETTLE_WAIT: Duration = Duration::from_secs(10);

/// DB subnet groups this provider is settling: an observe is asking AWS about one, or found it
/// absent and its create is to follow, or a DB instance found it missing (or found a
/// DBSubnetGroup resource about to make it) and awaits its create.
/// A DB instance created in such a group meanwhile — as when a composition makes both at once —
/// would fail with `DBSubnetGroupNotFoundFault`, showing an error and costing a retry; instead
/// its create waits for the group to settle, for at most [`SETTLE_WAIT`]. Names are
/// case-insensitive, as in AWS.
#[derive(Debug, Default)]
pub struct Settling(std::sync::Mutex<SettlingGroups>);

#[derive(Debug, Default)]
struct SettlingGroups {
    groups: HashMap<String, Settle>,
    /// Size at which records that no longer matter are dropped (amortised).
    prune_at: usize,
}

#[derive(Debug, Clone)]
struct Settle {
    began: tokio::time::Instant,
    settled: Arc<Notify>,
    /// When it settled: kept for [`SETTLE_WAIT`], for creates that were in flight meanwhile.
    ended: Option<tokio::time::Instant>,
}

impl Settle {
    fn new(now: tokio::time::Instant) -> Self {
        Self { began: now, settled: Arc::default(), ended: None }
    }

    fn stale(&self, now: tokio::time::Instant) -> bool {
        now - self.ended.unwrap_or(self.began) >= SETTLE_WAIT
    }
}

impl Settling {
    /// `name` is being observed (and, if absent, will be created), or is awaited.
    pub fn begin(&self, name: &str) {
        self.start(name, true);
    }

    /// `name` is about to be made by a resource whose pass has not begun: settling from now,
    /// unless it already is or settled less than [`SETTLE_WAIT`] ago — as when that pass ran
    /// while the caller was finding out.
    pub fn expect(&self, name: &str) {
        self.start(name, false);
    }

    fn start(&self, name: &str, again_if_settled: bool) {
        let mut settling = lock(&self.0);
        let now = tokio::time::Instant::now();
        let SettlingGroups { groups, prune_at } = &mut *settling;
        let entry = groups.entry(name.to_ascii_lowercase()).or_insert_with(|| Settle::new(now));
        // Settled before (for `begin`), or left from long ago (observed absent and never
        // created): over again.
        if (again_if_settled && entry.ended.is_some()) || entry.stale(now) {
            *entry = Settle::new(now);
        }
        if groups.len() >= *prune_at {
            groups.retain(|_, settle| !settle.stale(now));
            *prune_at = (2 * groups.len()).max(1024);
        }
    }

    /// Whether `name` is settling, or settled less than [`SETTLE_WAIT`] ago.
    pub fn knows(&self, name: &str) -> bool {
        let now = tokio::time::Instant::now();
        lock(&self.0).groups.get(&name.to_ascii_lowercase()).is_some_and(|s| !s.stale(now))
    }

    /// `name` was found, or its create was answered (either way), or it is being deleted.
    pub fn end(&self, name: &str) {
        if let Some(settle) = lock(&self.0).groups.get_mut(&name.to_ascii_lowercase()) {
            settle.ended.get_or_insert_with(tokio::time::Instant::now);
            settle.settled.notify_waiters();
        }
    }

    /// Wait until `name` settles: at once when it is not settling, at most until [`SETTLE_WAIT`]
    /// after it began. Returns whether it has settled (rather than was not settling or is still).
    pub async fn wait(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        let settle = || lock(&self.0).groups.get(&name).cloned();
        let Some(Settle { began, settled, ended }) = settle() else { return false };
        if ended.is_some() {
            return true;
        }
        let notified = settled.notified();
        // Ended between the lookup and `notified` (which catches every later end)?
        if settle().is_none_or(|now| now.ended.is_some() || !Arc::ptr_eq(&now.settled, &settled)) {
            return true;
        }
        tokio::time::timeout_at(began + SETTLE_WAIT, notified).await.is_ok()
    }

    /// For a create that found `name` missing, sent at `sent`: whether the group has settled
    /// since — at once when its create was answered meanwhile, else awaiting one for at most
    /// [`SETTLE_WAIT`].
    pub async fn settled_since(&self, name: &str, sent: tokio::time::Instant) -> bool {
        let ended = lock(&self.0).groups.get(&name.to_ascii_lowercase()).and_then(|s| s.ended);
        if ended.is_some_and(|ended| ended >= sent) {
            return true;
        }
        self.begin(name);
        self.wait(name).await
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
        lock(&self.0)
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

    /// Fetches that record the identifiers of each call and wait for a permit of `gate` to answer
    /// which of them exist (those in `existing`, by lowercase identifier).
    #[derive(Clone)]
    struct Calls {
        sent: Arc<std::sync::Mutex<Vec<Vec<String>>>>,
        gate: Arc<tokio::sync::Semaphore>,
    }

    impl Default for Calls {
        fn default() -> Self {
            Self { sent: Arc::default(), gate: Arc::new(tokio::sync::Semaphore::new(0)) }
        }
    }

    impl Calls {
        fn fetch(
            self,
            existing: &'static [&'static str],
        ) -> impl FnOnce(Vec<String>) -> BoxFuture<HashMap<String, DbInstance>> {
            let calls = self;
            move |ids| {
                Box::pin(async move {
                    calls.sent.lock().unwrap().push(ids.clone());
                    calls.gate.acquire().await.unwrap().forget();
                    let found = ids.iter().map(|id| id.to_ascii_lowercase());
                    let found = found.filter(|id| existing.contains(&id.as_str()));
                    Ok(found.map(|id| (id.clone(), instance(&id))).collect())
                })
            }
        }

        fn sent(&self) -> Vec<Vec<String>> {
            self.sent.lock().unwrap().clone()
        }

        async fn until(&self, condition: impl Fn(&Self) -> bool) {
            while !condition(self) {
                tokio::task::yield_now().await;
            }
        }
    }

    type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send>>;

    fn instance(id: &str) -> DbInstance {
        DbInstance::builder().db_instance_identifier(id).build()
    }

    fn describe(
        lookups: &Arc<Lookups>,
        calls: &Calls,
        id: &'static str,
    ) -> tokio::task::JoinHandle<Result<Option<DbInstance>, ApiError>> {
        let (lookups, fetch) = (lookups.clone(), calls.clone().fetch(&["a", "c", "y"]));
        tokio::spawn(async move { lookups.describe(id, fetch).await })
    }

    fn waiting(lookups: &Lookups) -> usize {
        lock(&lock(&lookups.open).ids).len()
    }

    fn exists(
        answer: Result<Result<Option<DbInstance>, ApiError>, tokio::task::JoinError>,
    ) -> bool {
        answer.expect("describe ran").expect("describe answered").is_some()
    }

    #[tokio::test]
    async fn describes_asked_for_during_a_call_go_out_together_in_the_next_one() {
        let (lookups, calls) = (Arc::new(Lookups::default()), Calls::default());
        let a = describe(&lookups, &calls, "a");
        calls.until(|c| c.sent().len() == 1).await;
        let (b, c) = (describe(&lookups, &calls, "b"), describe(&lookups, &calls, "C"));
        calls.until(|_| waiting(&lookups) == 2).await;
        calls.gate.add_permits(2);

        assert!(exists(a.await), "a exists");
        assert!(!exists(b.await), "b does not");
        assert!(exists(c.await), "identifiers are case-insensitive");
        assert_eq!(calls.sent(), [vec!["a"], vec!["b", "C"]], "a alone at once, then b and C");
    }

    #[tokio::test]
    async fn a_batch_whose_call_was_abandoned_is_sent_again_by_the_next_waiter() {
        let (lookups, calls) = (Arc::new(Lookups::default()), Calls::default());
        let z = describe(&lookups, &calls, "z");
        calls.until(|c| c.sent().len() == 1).await;
        let (x, y) = (describe(&lookups, &calls, "x"), describe(&lookups, &calls, "y"));
        calls.until(|_| waiting(&lookups) == 2).await;
        calls.gate.add_permits(1);
        calls.until(|c| c.sent().len() == 2).await;
        x.abort();
        calls.until(|c| c.sent().len() == 3).await;
        calls.gate.add_permits(1);

        assert!(!exists(z.await));
        assert!(exists(y.await), "y answered by the batch's second call");
        assert_eq!(calls.sent()[1..], [vec!["x", "y"], vec!["x", "y"]], "same batch, sent again");
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_create_waits_for_its_subnet_group_to_settle_but_not_forever() {
        let settling = Arc::new(Settling::default());
        let started = tokio::time::Instant::now();
        settling.wait("unknown-group").await;
        assert_eq!(started.elapsed(), Duration::ZERO, "a group nobody settles: no wait");
        assert!(!settling.knows("unknown-group"));

        settling.begin("team-a-subnets");
        assert!(settling.knows("TEAM-A-SUBNETS"), "settling");
        let waiter = {
            let settling = settling.clone();
            tokio::spawn(async move { settling.wait("Team-A-Subnets").await })
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!waiter.is_finished(), "waits while the group settles");
        settling.end("team-a-subnets");
        waiter.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(2), "released when it settles");
        settling.expect("team-a-subnets");
        assert!(settling.wait("team-a-subnets").await, "expecting a settled group: no wait");
        assert_eq!(started.elapsed(), Duration::from_secs(2));

        settling.begin("never-created");
        settling.wait("never-created").await;
        assert_eq!(started.elapsed(), Duration::from_secs(2) + SETTLE_WAIT, "bounded wait");
        settling.wait("never-created").await;
        assert_eq!(started.elapsed(), Duration::from_secs(2) + SETTLE_WAIT, "once over, no wait");
        assert!(!settling.knows("never-created"), "given up on");
        assert!(!settling.knows("team-a-subnets"), "settled longer than SETTLE_WAIT ago");
    }

    #[tokio::test(start_paused = true)]
    async fn a_create_that_found_its_group_missing_learns_whether_it_settled_since() {
        let settling = Arc::new(Settling::default());
        let sent = tokio::time::Instant::now();
        settling.begin("answered-meanwhile");
        settling.end("answered-meanwhile");
        assert!(settling.settled_since("Answered-Meanwhile", sent).await, "at once");
        assert_eq!(sent.elapsed(), Duration::ZERO);

        let waiter = {
            let settling = settling.clone();
            tokio::spawn(async move { settling.settled_since("not-begun", sent).await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        settling.begin("not-begun");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished(), "awaits the group's create");
        settling.end("not-begun");
        assert!(waiter.await.unwrap(), "settled by the create");
        assert_eq!(sent.elapsed(), Duration::from_secs(2));

        let later = tokio::time::Instant::now();
        assert!(!settling.settled_since("nobody-makes-it", later).await, "never settles");
        assert_eq!(later.elapsed(), SETTLE_WAIT, "waited at most SETTLE_WAIT");
        let again = tokio::time::Instant::now();
        let before = settling.settled_since("answered-meanwhile", again).await;
        assert!(!before, "settled before the create was sent: awaits another, in vain");
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
