//! Durable object storage on SQLite (WAL), the role etcd plays for kube-apiserver.
//!
//! Every object lives in `objects`, keyed by (resource, namespace, name). Every write is one
//! transaction (or one savepoint of a group commit, [`Store::batch`]) that stores the object,
//! appends an event to `events` (the retained history that watches resume from) and maintains
//! the `owners` index used by garbage collection; nothing is acknowledged, nor sent to watches,
//! before its transaction commits. One global sequence numbers all writes: it is the
//! `resourceVersion`. Committed events are then fanned out to live watches in commit order.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::ThreadId;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use tokio::sync::broadcast;

/// Storage failures (I/O, SQLite, corrupt rows).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("storage failure: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row is not valid JSON.
    #[error("corrupt stored object: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The data directory cannot be created.
    #[error("cannot create data directory: {0}")]
    Io(#[from] std::io::Error),
}

/// What a watch event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object is gone; the event carries its last state with a fresh resourceVersion.
    Deleted,
}

impl EventType {
    /// The wire name, `ADDED` etc.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "ADDED" => EventType::Added,
            "DELETED" => EventType::Deleted,
            _ => EventType::Modified,
        }
    }
}

/// One committed change, as retained in the history and fanned out to watches.
#[derive(Debug, Clone)]
pub struct Event {
    /// The resourceVersion of the write.
    pub rv: u64,
    /// Storage resource key, e.g. `apps/deployments` (see [`crate::apiserver::registry`]).
    pub resource: String,
    /// Namespace ("" for cluster-scoped objects).
    pub namespace: String,
    /// What happened.
    pub kind: EventType,
    /// The object as JSON text, serialized once for every watcher.
    pub object: Arc<str>,
    /// The object before this write: lets a filtered watch turn "no longer selected" into
    /// DELETED and "newly selected" into ADDED.
    pub previous: Previous,
    /// `object` without managedFields, made by the first watcher in this process that sends it.
    lean: OnceLock<Arc<str>>,
}

impl Event {
    /// The object as watchers in this process get it ([`super::lean`]), made once per event.
    pub fn lean_object(&self) -> &Arc<str> {
        self.lean.get_or_init(|| {
            super::lean::without_managed_fields(&self.object)
                .map_or_else(|| self.object.clone(), Into::into)
        })
    }
}

/// What an [`Event`] knows of the object before its write.
#[derive(Debug, Clone)]
pub enum Previous {
    /// Nothing: the write created it (or the event predates recording previous versions).
    Unknown,
    /// The whole previous version as JSON text (live events, and replays that asked for it).
    Whole(Arc<str>),
    /// Its name, namespace and labels as JSON text (replayed history).
    Selectable(Arc<str>),
}

impl Previous {
    /// The previous version's text, whole or as far as label selectors read it.
    pub fn labelled(&self) -> Option<&str> {
        match self {
            Previous::Unknown => None,
            Previous::Whole(text) | Previous::Selectable(text) => Some(text),
        }
    }
}

/// What a [`Store::mutate`] closure decides.
#[derive(Debug)]
pub enum Write {
    /// Store this object (created when absent).
    Put(Value),
    /// Remove the object; the value is its final state, sent in the DELETED event.
    Delete(Value),
    /// Change nothing: no new resourceVersion, no event.
    Unchanged(Value),
}

/// The result of a committed mutation: the object as stored (with its resourceVersion) and the
/// event it produced, if any.
#[derive(Debug)]
pub struct Outcome {
    /// The stored (or deleted, or unchanged) object.
    pub object: Value,
    /// The event written, `None` when nothing changed.
    pub event: Option<EventType>,
    /// The event of the write, which holds `object` as stored (JSON text), when it was written.
    pub written: Option<Arc<Event>>,
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    /// Matching objects in (namespace, name) order, as stored JSON text (never parsed here, so a
    /// large list costs one copy of its bytes).
    pub items: Vec<String>,
    /// The resourceVersion the page was read at.
    pub rv: u64,
    /// Where the next page starts (namespace, name), when more rows remain.
    pub next: Option<(String, String)>,
}

/// An object's address in the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// Storage resource key.
    pub resource: String,
    /// Namespace ("" for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
}

struct Writer {
    conn: Connection,
    writes_since_compaction: u64,
    /// The open group commit, if any (see [`Store::batch`]).
    batch: Option<Batch>,
}

/// Writes made inside [`Store::batch`], held back until its transaction commits.
struct Batch {
    /// The thread running the batch: only its writes join it; others wait for it to end.
    thread: ThreadId,
    /// The last resourceVersion given out.
    rv: u64,
    /// Events to send once committed, in resourceVersion order.
    events: Vec<Arc<Event>>,
}

impl Writer {
    /// The resourceVersion the next write gets.
    fn next_rv(&self, latest: u64) -> u64 {
        self.batch.as_ref().map_or(latest, |b| b.rv) + 1
    }
}

/// The object store. Cheap to share behind an `Arc`; all methods block briefly on SQLite.
///
/// Lock order: a read connection is never held while waiting for the writer (a write may read
/// through a read connection while holding the writer), so the resourceVersions readers need
/// are atomics rather than writer state.
pub struct Store {
    writer: Mutex<Writer>,
    /// Signalled when a batch ends, for writes from other threads waiting on it.
    batch_ended: Condvar,
    /// The latest committed resourceVersion (written only under the writer lock).
    latest: AtomicU64,
    /// The oldest resourceVersion a watch can resume from.
    compacted: AtomicU64,
    /// Read connections: WAL lets them read concurrently with the writer and each other.
    readers: Vec<Mutex<Connection>>,
    events: broadcast::Sender<Arc<Event>>,
    retention: u64,
    on_commit: OnceLock<CommitHook>,
}

/// Told of every commit's events before its writes are acknowledged (see [`Store::on_commit`]).
type CommitHook = Box<dyn Fn(&Store, &[Arc<Event>]) + Send + Sync>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("retention", &self.retention).finish_non_exhaustive()
    }
}

/// Events kept for watch resume: older resourceVersions get `410 Expired`.
pub const DEFAULT_RETENTION: u64 = 100_000;
/// Read connections kept open.
const READERS: usize = 4;
/// WAL pages (4 KiB) after which a commit checkpoints the WAL into the database.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 8192;
/// Compaction runs once per this many writes.
const COMPACTION_INTERVAL: u64 = 1024;

// `objects` is a rowid table: its rows (whole objects, often several KiB) spill into overflow
// pages, and in a WITHOUT ROWID table every step of a key search through such a row reads all
// of it. Here the search runs in the small primary-key index and one row is read at the end.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    uid TEXT NOT NULL, deleting INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name));
CREATE INDEX IF NOT EXISTS objects_uid ON objects(uid);
CREATE INDEX IF NOT EXISTS objects_namespace ON objects(namespace);
CREATE INDEX IF NOT EXISTS objects_deleting ON objects(deleting) WHERE deleting = 1;
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY, resource TEXT NOT NULL, namespace TEXT NOT NULL,
    type TEXT NOT NULL, data TEXT NOT NULL, previous_meta TEXT);
CREATE TABLE IF NOT EXISTS owners (
    owner_uid TEXT NOT NULL, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS owners_uid ON owners(owner_uid);
CREATE INDEX IF NOT EXISTS owners_dependent ON owners(resource, namespace, name);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // WAL + synchronous=NORMAL: a commit is in the WAL file before `mutate` returns, so it
    // survives the process being killed; only an OS crash can lose the last transactions.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoint every 32 MiB of WAL rather than SQLite's 4 MiB: the pages written most (the
    // tails of `events` and of the indexes) are copied into the database once per checkpoint,
    // however often they changed, and each checkpoint ends with an fsync.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// Stores written before `objects` became a rowid table keep their objects: the table is
/// rebuilt in one transaction (its indexes are recreated by [`SCHEMA`]).
fn migrate_objects_to_rowid(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    let sql: Option<String> = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'objects'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if !sql.is_some_and(|sql| sql.contains("WITHOUT ROWID")) {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch(
        "ALTER TABLE objects RENAME TO objects_without_rowid;
         DROP INDEX IF EXISTS objects_uid;
         DROP INDEX IF EXISTS objects_namespace;
         DROP INDEX IF EXISTS objects_deleting;",
    )?;
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(
        "INSERT INTO objects SELECT resource, namespace, name, uid, deleting, data
             FROM objects_without_rowid;
         DROP TABLE objects_without_rowid;",
    )?;
    tx.commit()
}

/// Stores written before events recorded their previous version's selectable metadata get the
/// column; their older events replay without it, as before.
fn add_previous_meta_to_events(conn: &Connection) -> Result<(), rusqlite::Error> {
    let has_column = conn
        .prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'previous_meta'")?
        .exists([])?;
    if !has_column {
        conn.execute_batch("ALTER TABLE events ADD COLUMN previous_meta TEXT")?;
    }
    Ok(())
}

/// Gives each update in `events` (the history of `resource` after `since`) the whole version it
/// replaced: the object's previous event in `events`, or its last one up to `since`. Those are
/// found in one backward scan of the older history, however many objects need one. Where the
/// version is no longer retained, the update keeps what label selectors read.
fn attach_replaced_versions(
    conn: &Connection,
    resource: &str,
    since: u64,
    events: &mut [Event],
) -> Result<(), StoreError> {
    type Key = (String, String);
    let keys: Vec<Option<Key>> =
        events.iter().map(|e| name_of(&e.object).map(|name| (e.namespace.clone(), name))).collect();
    // Objects whose first update in the replay replaced a version from before it.
    let mut seen = HashSet::new();
    let mut older: HashMap<Key, Option<Arc<str>>> = HashMap::new();
    for (event, key) in events.iter().zip(&keys) {
        let Some(key) = key else { continue };
        if seen.insert(key) && matches!(event.previous, Previous::Selectable(_)) {
            older.insert(key.clone(), None);
        }
    }
    if !older.is_empty() {
        let mut stmt = conn.prepare_cached(
            "SELECT namespace, data FROM events WHERE rv <= ?1 AND resource = ?2 ORDER BY rv DESC",
        )?;
        let mut rows = stmt.query(params![since as i64, resource])?;
        let mut missing = older.len();
        while missing > 0
            && let Some(row) = rows.next()?
        {
            let data: String = row.get(1)?;
            let Some(name) = name_of(&data) else { continue };
            if let Some(slot @ None) = older.get_mut(&(row.get(0)?, name)) {
                *slot = Some(Arc::from(data));
                missing -= 1;
            }
        }
    }
    let mut latest: HashMap<Key, Arc<str>> = HashMap::new();
    for (event, key) in events.iter_mut().zip(keys) {
        let Some(key) = key else { continue };
        if matches!(event.previous, Previous::Selectable(_)) {
            let replaced = latest.get(&key).or_else(|| older.get(&key).and_then(Option::as_ref));
            if let Some(text) = replaced {
                event.previous = Previous::Whole(text.clone());
            }
        }
        latest.insert(key, event.object.clone());
    }
    Ok(())
}

/// `metadata.name` of an object's JSON text, without parsing the rest into values.
fn name_of(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Object {
        metadata: Metadata,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        name: String,
    }
    serde_json::from_str::<Object>(text).ok().map(|o| o.metadata.name)
}

/// What label and field selectors read of `object`: its name, namespace and labels.
fn selectable_meta(object: &Value) -> Value {
    let mut meta = serde_json::Map::new();
    for field in ["name", "namespace", "labels"] {
        if let Some(value) = object["metadata"].get(field) {
            meta.insert(field.to_owned(), value.clone());
        }
    }
    serde_json::json!({ "metadata": meta })
}

impl Store {
    /// Opens (or creates) the store in `dir/crosstie.db`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Self::open_with_retention(dir, DEFAULT_RETENTION)
    }

    /// Opens the store keeping the last `retention` events for watch resume.
    pub fn open_with_retention(dir: &Path, retention: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("crosstie.db");
        let mut conn = open_connection(&path)?;
        migrate_objects_to_rowid(&mut conn)?;
        conn.execute_batch(SCHEMA)?;
        add_previous_meta_to_events(&conn)?;
        let compacted: i64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'compacted'", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let last_event: Option<i64> =
            conn.query_row("SELECT max(rv) FROM events", [], |r| r.get(0))?;
        let (compacted, rv) = (compacted as u64, last_event.unwrap_or(0).max(compacted) as u64);
        let readers = (0..READERS)
            .map(|_| open_connection(&path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        let (events, _) = broadcast::channel(4096);
        Ok(Store {
            writer: Mutex::new(Writer { conn, writes_since_compaction: 0, batch: None }),
            batch_ended: Condvar::new(),
            latest: AtomicU64::new(rv),
            compacted: AtomicU64::new(compacted),
            readers,
            events,
            retention,
            on_commit: OnceLock::new(),
        })
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `hook` after every commit, with its events, before its writes are acknowledged and
    /// before watchers are told of them (a client that watched a CRD go must not then find its
    /// kind still served): how state derived from stored objects (the registry's CRDs) follows
    /// them, reading the committed store. It runs holding the write lock, so it must not write.
    /// Set once; a second hook is refused (returned).
    pub fn on_commit(
        &self,
        hook: impl Fn(&Store, &[Arc<Event>]) + Send + Sync + 'static,
    ) -> Result<(), CommitHook> {
        self.on_commit.set(Box::new(hook))
    }

    fn committed(&self, events: &[Arc<Event>]) {
        if let Some(hook) = self.on_commit.get()
            && !events.is_empty()
        {
            hook(self, events);
        }
    }

    /// The writer, once no other thread's batch is open.
    fn writer_outside_others_batch(&self) -> MutexGuard<'_, Writer> {
        let me = std::thread::current().id();
        let w = self.writer();
        self.batch_ended
            .wait_while(w, |w| w.batch.as_ref().is_some_and(|b| b.thread != me))
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `writes` as one group commit: every [`Store::mutate`] it makes on this thread
    /// joins one transaction, committed when it returns, and their events are sent only then.
    /// Many small writes then share one commit (and the pages they both touch, such as the
    /// tail of `events`), instead of paying for one each. Returns what `writes` returned and
    /// whether the commit succeeded: callers must not acknowledge any of the writes otherwise.
    ///
    /// Reads (other than a mutation's own) do not see the batch's writes until it commits, and
    /// writes from other threads wait until then.
    pub fn batch<R>(&self, writes: impl FnOnce() -> R) -> (R, Result<(), StoreError>) {
        let begun = {
            let mut w = self.writer_outside_others_batch();
            let begun = w.conn.execute_batch("BEGIN IMMEDIATE");
            if begun.is_ok() {
                let thread = std::thread::current().id();
                w.batch = Some(Batch { thread, rv: self.current_rv(), events: Vec::new() });
            }
            begun
        };
        if let Err(e) = begun {
            // Without a batch each write commits (or fails) on its own, as outside one.
            tracing::warn!(error = %e, "cannot begin a group commit; writing one by one");
            return (writes(), Ok(()));
        }
        // A panic rolls the batch back (none of its writes was acknowledged), then goes on.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(writes));
        let mut w = self.writer();
        let batch = w.batch.take().expect("the batch this thread opened");
        let committed = if result.is_ok() { w.conn.execute_batch("COMMIT") } else { Ok(()) };
        if result.is_err() || committed.is_err() {
            let _ = w.conn.execute_batch("ROLLBACK");
        } else if let Some(last) = batch.events.last() {
            self.latest.store(last.rv, Ordering::Release);
            self.committed(&batch.events);
            // Sent under the write lock so live watchers see events in resourceVersion order.
            for event in &batch.events {
                let _ = self.events.send(event.clone());
            }
        }
        let compacted = self.compact_when_due(&mut w);
        drop(w);
        self.batch_ended.notify_all();
        match result {
            Ok(result) => (result, committed.map_err(StoreError::from).and(compacted)),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// A free read connection, or the first one once it is free.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.readers.iter().find_map(|r| r.try_lock().ok()).unwrap_or_else(|| {
            self.readers[0].lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        })
    }

    /// Live events committed from now on, in commit order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// The latest resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.latest.load(Ordering::Acquire)
    }

    /// The oldest resourceVersion a watch can resume from.
    pub fn compacted_rv(&self) -> u64 {
        self.compacted.load(Ordering::Acquire)
    }

    /// Reads one object.
    pub fn get(&self, key: &ObjectKey) -> Result<Option<Value>, StoreError> {
        Ok(self.get_text(key)?.map(|d| serde_json::from_str(&d)).transpose()?)
    }

    /// Reads one object as stored (JSON text).
    pub fn get_text(&self, key: &ObjectKey) -> Result<Option<String>, StoreError> {
        let conn = self.reader();
        let data = conn
            .prepare_cached(
                "SELECT data FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
            )?
            .query_row(params![key.resource, key.namespace, key.name], |r| r.get(0))
            .optional()?;
        Ok(data)
    }

    /// Atomically reads the object at `key`, lets `decide` choose the write, and commits it with a
    /// new resourceVersion (set into `metadata.resourceVersion`). `decide` runs under the write
    /// lock, so read-modify-write is serializable; an error from it writes nothing.
    pub fn mutate<E: From<StoreError>>(
        &self,
        key: &ObjectKey,
        decide: impl FnOnce(Option<Value>) -> Result<Write, E>,
    ) -> Result<Outcome, E> {
        let mut w = self.writer_outside_others_batch();
        let current: Option<String> = w
            .conn
            .prepare_cached(
                "SELECT data FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
            )
            .map_err(StoreError::from)?
            .query_row(params![key.resource, key.namespace, key.name], |r| r.get(0))
            .optional()
            .map_err(StoreError::from)?;
        let previous: Option<Arc<str>> = current.map(Arc::from);
        let existed = previous.is_some();
        let current: Option<Value> =
            previous.as_deref().map(serde_json::from_str).transpose().map_err(StoreError::from)?;
        let previous = previous.map_or(Previous::Unknown, Previous::Whole);
        let owners_before = current.as_ref().map(owner_uids);
        let previous_meta = current.as_ref().map(selectable_meta);
        let (mut object, kind) = match decide(current)? {
            Write::Unchanged(object) => return Ok(Outcome { object, event: None, written: None }),
            Write::Put(object) => {
                (object, if existed { EventType::Modified } else { EventType::Added })
            }
            Write::Delete(object) => (object, EventType::Deleted),
        };
        let rv = w.next_rv(self.current_rv());
        object["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let text: Arc<str> = serde_json::to_string(&object).map_err(StoreError::from)?.into();
        let owners_changed = owners_before != Some(owner_uids(&object));
        let change = Change { key, kind, rv, object: &object, text: &text, previous_meta };
        commit(&mut w.conn, &change, owners_changed).map_err(StoreError::from)?;
        w.writes_since_compaction += 1;
        let event = Arc::new(Event {
            rv,
            resource: key.resource.clone(),
            namespace: key.namespace.clone(),
            kind,
            object: text,
            previous,
            lean: OnceLock::new(),
        });
        if let Some(batch) = &mut w.batch {
            batch.rv = rv;
            batch.events.push(event.clone());
        } else {
            self.latest.store(rv, Ordering::Release);
            self.compact_when_due(&mut w)?;
            self.committed(std::slice::from_ref(&event));
            // Sent under the write lock so live watchers see events in resourceVersion order.
            let _ = self.events.send(event.clone());
        }
        Ok(Outcome { object, event: Some(kind), written: Some(event) })
    }

    fn compact_when_due(&self, w: &mut Writer) -> Result<(), StoreError> {
        if w.writes_since_compaction >= COMPACTION_INTERVAL {
            w.writes_since_compaction = 0;
            self.compact(w)?;
        }
        Ok(())
    }

    fn compact(&self, w: &mut Writer) -> Result<(), rusqlite::Error> {
        let horizon = self.current_rv().saturating_sub(self.retention);
        if horizon <= self.compacted_rv() {
            return Ok(());
        }
        let tx = w.conn.transaction()?;
        tx.execute("DELETE FROM events WHERE rv <= ?1", [horizon as i64])?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted', ?1)",
            [horizon as i64],
        )?;
        tx.commit()?;
        self.compacted.store(horizon, Ordering::Release);
        Ok(())
    }

    /// Lists objects of `resource` (in `namespace`, or all namespaces), starting after `after`,
    /// keeping those `keep` accepts, until `limit` are found (0 = no limit).
    pub fn list(
        &self,
        resource: &str,
        namespace: Option<&str>,
        after: Option<(&str, &str)>,
        limit: usize,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<Page, StoreError> {
        const CHUNK: usize = 1000;
        let mut conn = self.reader();
        // One read transaction: the rows and the resourceVersion are one consistent snapshot.
        let tx = conn.transaction()?;
        let rv = tx.query_row("SELECT max(rv) FROM events", [], |r| r.get::<_, Option<i64>>(0))?;
        let rv = (rv.unwrap_or(0) as u64).max(self.compacted_rv());
        let (mut ns_cursor, mut name_cursor) =
            after.map(|(n, m)| (n.to_owned(), m.to_owned())).unwrap_or_default();
        let mut started = after.is_some();
        let mut items = Vec::new();
        let mut next = None;
        'outer: loop {
            let rows: Vec<(String, String, String)> = {
                let mut stmt = match namespace {
                    Some(_) => tx.prepare_cached(
                        "SELECT namespace, name, data FROM objects WHERE resource = ?1 AND namespace = ?2 \
                         AND (?5 = 0 OR name > ?4) ORDER BY name LIMIT ?6",
                    )?,
                    None => tx.prepare_cached(
                        "SELECT namespace, name, data FROM objects WHERE resource = ?1 \
                         AND (?5 = 0 OR (namespace, name) > (?3, ?4)) ORDER BY namespace, name LIMIT ?6",
                    )?,
                };
                let ns = namespace.unwrap_or("");
                stmt.query_map(
                    params![resource, ns, ns_cursor, name_cursor, started as i64, CHUNK as i64],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?
                .collect::<Result<_, _>>()?
            };
            let exhausted = rows.len() < CHUNK;
            for (ns, name, data) in rows {
                if limit > 0 && items.len() == limit {
                    next = Some((ns_cursor.clone(), name_cursor.clone()));
                    break 'outer;
                }
                (ns_cursor, name_cursor, started) = (ns, name, true);
                if keep(&data) {
                    items.push(data);
                }
            }
            if exhausted {
                break;
            }
        }
        drop(tx);
        Ok(Page { items, rv, next })
    }

    /// Retained events of `resource` after `since`, or `Err(compacted)` when `since` is older than
    /// the retained history. Each update's `previous` is what label selectors read of the
    /// version it replaced; with `whole_previous` (for field selectors, which may read any
    /// field) it is that whole version, read from the history while it is retained.
    pub fn history(
        &self,
        resource: &str,
        since: u64,
        whole_previous: bool,
    ) -> Result<Result<Vec<Event>, u64>, StoreError> {
        let compacted = self.compacted_rv();
        if since < compacted {
            return Ok(Err(compacted));
        }
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT rv, namespace, type, data, previous_meta FROM events \
             WHERE rv > ?1 AND resource = ?2 ORDER BY rv",
        )?;
        let mut events = stmt
            .query_map(params![since as i64, resource], |r| {
                Ok(Event {
                    rv: r.get::<_, i64>(0)? as u64,
                    resource: resource.to_owned(),
                    namespace: r.get(1)?,
                    kind: EventType::parse(&r.get::<_, String>(2)?),
                    object: Arc::from(r.get::<_, String>(3)?),
                    previous: r
                        .get::<_, Option<String>>(4)?
                        .map_or(Previous::Unknown, |meta| Previous::Selectable(meta.into())),
                    lean: OnceLock::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if whole_previous {
            attach_replaced_versions(&conn, resource, since, &mut events)?;
        }
        Ok(Ok(events))
    }

    /// Objects whose `ownerReferences` name `owner_uid`.
    pub fn dependents(&self, owner_uid: &str) -> Result<Vec<ObjectKey>, StoreError> {
        self.keys("SELECT resource, namespace, name FROM owners WHERE owner_uid = ?1", [owner_uid])
    }

    /// Objects that have owner references but none of whose owners exist any more.
    pub fn orphans(&self) -> Result<Vec<ObjectKey>, StoreError> {
        self.keys(
            "SELECT resource, namespace, name FROM owners o GROUP BY resource, namespace, name \
             HAVING sum(EXISTS (SELECT 1 FROM objects x WHERE x.uid = o.owner_uid)) = 0",
            [],
        )
    }

    /// Objects with a deletionTimestamp (waiting for finalizers).
    pub fn deleting(&self) -> Result<Vec<ObjectKey>, StoreError> {
        self.keys("SELECT resource, namespace, name FROM objects WHERE deleting = 1", [])
    }

    /// Every object in `namespace`.
    pub fn in_namespace(&self, namespace: &str) -> Result<Vec<ObjectKey>, StoreError> {
        self.keys("SELECT resource, namespace, name FROM objects WHERE namespace = ?1", [namespace])
    }

    /// Every object of `resource`.
    pub fn resource_keys(&self, resource: &str) -> Result<Vec<ObjectKey>, StoreError> {
        self.keys("SELECT resource, namespace, name FROM objects WHERE resource = ?1", [resource])
    }

    fn keys(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<ObjectKey>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(sql)?;
        let keys = stmt
            .query_map(p, |r| {
                Ok(ObjectKey { resource: r.get(0)?, namespace: r.get(1)?, name: r.get(2)? })
            })?
            .collect::<Result<_, _>>()?;
        Ok(keys)
    }
}

/// The owner uids `object` records in `owners`.
fn owner_uids(object: &Value) -> Vec<String> {
    let owners = object["metadata"]["ownerReferences"].as_array().into_iter().flatten();
    owners.filter_map(|o| o["uid"].as_str().map(str::to_owned)).collect()
}

/// One write, as [`commit`] stores it.
struct Change<'a> {
    key: &'a ObjectKey,
    kind: EventType,
    rv: u64,
    object: &'a Value,
    text: &'a str,
    /// [`selectable_meta`] of the version replaced, if any.
    previous_meta: Option<Value>,
}

/// Writes one change and its event. Only what changed is written: every page a transaction
/// touches is another WAL frame, and most writes (status updates) change neither the owners,
/// the uid nor the deletion mark, so they touch no index.
fn commit(
    conn: &mut Connection,
    change: &Change<'_>,
    owners_changed: bool,
) -> Result<(), rusqlite::Error> {
    let Change { key, kind, rv, object, text, .. } = *change;
    let meta = &object["metadata"];
    let at = params![key.resource, key.namespace, key.name];
    // A savepoint: its own transaction, or a nested one inside a batch (see `Store::batch`).
    let tx = conn.savepoint()?;
    if owners_changed || kind == EventType::Deleted {
        tx.prepare_cached(
            "DELETE FROM owners WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
        )?
        .execute(at)?;
    }
    match kind {
        EventType::Deleted => {
            tx.prepare_cached(
                "DELETE FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
            )?
            .execute(at)?;
        }
        EventType::Added => {
            let uid = meta["uid"].as_str().unwrap_or_default();
            let deleting = !meta["deletionTimestamp"].is_null();
            tx.prepare_cached("INSERT INTO objects VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute(params![key.resource, key.namespace, key.name, uid, deleting, text])?;
        }
        // The uid of a stored object never changes, and its deletion mark is set only once.
        EventType::Modified => {
            tx.prepare_cached(
                "UPDATE objects SET data = ?4 WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
            )?
            .execute(params![key.resource, key.namespace, key.name, text])?;
            if !meta["deletionTimestamp"].is_null() {
                tx.prepare_cached(
                    "UPDATE objects SET deleting = 1 \
                     WHERE resource = ?1 AND namespace = ?2 AND name = ?3 AND deleting = 0",
                )?
                .execute(at)?;
            }
        }
    }
    if owners_changed && kind != EventType::Deleted {
        for owner in owner_uids(object) {
            tx.prepare_cached("INSERT INTO owners VALUES (?1, ?2, ?3, ?4)")?.execute(params![
                owner,
                key.resource,
                key.namespace,
                key.name
            ])?;
        }
    }
    tx.prepare_cached("INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(params![
        rv as i64,
        key.resource,
        key.namespace,
        kind.as_str(),
        text,
        change.previous_meta.as_ref().map(Value::to_string)
    ])?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::panic::AssertUnwindSafe;

    fn key(name: &str) -> ObjectKey {
        ObjectKey { resource: "/configmaps".into(), namespace: "default".into(), name: name.into() }
    }

    fn put(store: &Store, name: &str) -> Outcome {
        store
            .mutate::<StoreError>(&key(name), |_| {
                Ok(Write::Put(json!({"metadata": {"name": name, "uid": name}})))
            })
            .unwrap()
    }

    #[test]
    fn a_replay_that_asks_for_whole_versions_gets_each_update_the_version_it_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let put_tier = |name: &str, tier: &str| {
            let object = json!({"metadata": {"name": name, "uid": name}, "data": {"tier": tier}});
            store.mutate::<StoreError>(&key(name), |_| Ok(Write::Put(object))).unwrap()
        };
        put_tier("a", "one");
        put_tier("b", "one");
        let since = put_tier("a", "two").object["metadata"]["resourceVersion"].clone();
        let since: u64 = since.as_str().unwrap().parse().unwrap();
        put_tier("b", "two");
        put_tier("a", "three");
        put_tier("a", "four");
        let tier =
            |text: &str| serde_json::from_str::<Value>(text).unwrap()["data"]["tier"].clone();
        let replaced = |whole: bool| -> Vec<Value> {
            let history = store.history("/configmaps", since, whole).unwrap().unwrap();
            history
                .iter()
                .map(|e| match &e.previous {
                    Previous::Whole(text) => tier(text),
                    Previous::Selectable(text) => json!(format!("selectable {}", tier(text))),
                    Previous::Unknown => Value::Null,
                })
                .collect()
        };
        // The first two replaced versions predate the replay; the last is the replay's own.
        assert_eq!(replaced(true), [json!("one"), json!("two"), json!("three")]);
        let selectable = json!("selectable null");
        assert_eq!(replaced(false), [selectable.clone(), selectable.clone(), selectable]);
    }

    #[test]
    fn writes_get_increasing_resource_versions_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = put(&store, "a");
        let b = put(&store, "b");
        assert_eq!(a.object["metadata"]["resourceVersion"], "1");
        assert_eq!(b.object["metadata"]["resourceVersion"], "2");
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.current_rv(), 2);
        assert_eq!(store.get(&key("a")).unwrap().unwrap()["metadata"]["resourceVersion"], "1");
        let history = store.history("/configmaps", 1, false).unwrap().unwrap();
        assert_eq!(history.iter().map(|e| e.rv).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn a_batch_commits_its_writes_together_and_only_then_shows_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        put(&store, "before");
        let mut events = store.subscribe();
        let (versions, committed) = store.batch(|| {
            let a = put(&store, "a");
            let b = put(&store, "b");
            let refused =
                store.mutate(&key("c"), |_| Err(StoreError::Io(std::io::ErrorKind::Other.into())));
            assert!(refused.is_err());
            assert_eq!(store.get(&key("a")).unwrap(), None, "readers see only committed writes");
            assert_eq!(store.current_rv(), 1);
            assert!(events.try_recv().is_err(), "nothing is sent before the commit");
            [a, b].map(|o| o.object["metadata"]["resourceVersion"].as_str().unwrap().to_owned())
        });
        committed.unwrap();
        assert_eq!(versions, ["2", "3"]);
        assert_eq!(store.current_rv(), 3);
        assert_eq!(store.get(&key("b")).unwrap().unwrap()["metadata"]["name"], "b");
        assert_eq!(store.get(&key("c")).unwrap(), None);
        let sent: Vec<u64> = std::iter::from_fn(|| events.try_recv().ok()).map(|e| e.rv).collect();
        assert_eq!(sent, [2, 3]);
    }

    #[test]
    fn the_commit_hook_sees_each_commit_readable_before_it_is_acknowledged_or_watched() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let watch = Mutex::new(store.subscribe());
        let hooked = store.on_commit(move |store, events| {
            let readable = events.iter().all(|e| {
                let name = e.object.split("\"name\":\"").nth(1).unwrap().split('"').next();
                store.get(&key(name.unwrap())).unwrap().is_some()
            });
            let watched = std::iter::from_fn(|| watch.lock().unwrap().try_recv().ok())
                .any(|told| events.iter().any(|e| e.rv == told.rv));
            let rvs = events.iter().map(|e| e.rv).collect::<Vec<_>>();
            record.lock().unwrap().push((rvs, readable, watched));
        });
        assert!(hooked.is_ok());
        assert!(store.on_commit(|_, _| {}).is_err(), "set once");

        put(&store, "alone");
        let (_, committed) = store.batch(|| {
            put(&store, "a");
            put(&store, "b");
            assert_eq!(seen.lock().unwrap().len(), 1, "not before the batch commits");
        });
        committed.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(*seen, [(vec![1], true, false), (vec![2, 3], true, false)], "none watched yet");
    }

    #[test]
    fn a_batch_that_panics_writes_nothing_and_other_threads_wait_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let (started, start) = std::sync::mpsc::channel();
        let other = {
            let store = store.clone();
            std::thread::spawn(move || {
                start.recv().unwrap();
                put(&store, "other")
            })
        };
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            store.batch(|| {
                put(&store, "lost");
                started.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
                panic!("a write failed unexpectedly");
            })
        }));
        assert!(panicked.is_err());
        let other = other.join().unwrap();
        assert_eq!(store.get(&key("lost")).unwrap(), None);
        assert_eq!(
            other.object["metadata"]["resourceVersion"], "1",
            "the rolled-back version is reused"
        );
        assert_eq!(store.current_rv(), 1);
    }

    #[test]
    fn a_store_from_before_the_rowid_objects_table_keeps_its_objects() {
        let dir = tempfile::tempdir().unwrap();
        let old = Connection::open(dir.path().join("crosstie.db")).unwrap();
        old.execute_batch(
            "CREATE TABLE objects (
                resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                uid TEXT NOT NULL, deleting INTEGER NOT NULL, data TEXT NOT NULL,
                PRIMARY KEY (resource, namespace, name)) WITHOUT ROWID;
             CREATE INDEX objects_uid ON objects(uid);
             CREATE TABLE events (rv INTEGER PRIMARY KEY, resource TEXT NOT NULL,
                namespace TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL);
             INSERT INTO objects VALUES ('/configmaps', 'default', 'kept', 'u1', 0,
                '{\"metadata\":{\"name\":\"kept\",\"uid\":\"u1\",\"resourceVersion\":\"7\"}}');
             INSERT INTO events VALUES (7, '/configmaps', 'default', 'ADDED', '{}');",
        )
        .unwrap();
        drop(old);

        let store = Store::open(dir.path()).unwrap();
        let kept = store.get(&key("kept")).unwrap().expect("the object survived");
        assert_eq!(kept["metadata"]["uid"], "u1");
        assert_eq!(store.current_rv(), 7);
        assert_eq!(put(&store, "new").object["metadata"]["resourceVersion"], "8");
        let history = store.history("/configmaps", 6, false).unwrap().unwrap();
        assert_eq!(history.iter().map(|e| e.rv).collect::<Vec<_>>(), [7, 8]);
        assert!(matches!(history[0].previous, Previous::Unknown), "events from before the column");
        let sql: String = store
            .reader()
            .query_row("SELECT sql FROM sqlite_master WHERE name = 'objects'", [], |r| r.get(0))
            .unwrap();
        assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
        let uid_index: i64 = store
            .reader()
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'objects_uid'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(uid_index, 1, "indexes recreated");
    }

    #[test]
    fn owners_and_deletion_marks_follow_every_kind_of_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let write = |object: Value| {
            store.mutate::<StoreError>(&key("child"), |_| Ok(Write::Put(object))).unwrap();
        };
        let owned_by = |uid: &str| json!([{"uid": uid, "kind": "ConfigMap", "name": uid}]);
        write(json!({"metadata": {"name": "child", "uid": "c", "ownerReferences": owned_by("a")}}));
        write(json!({"metadata": {"name": "child", "uid": "c", "ownerReferences": owned_by("a")},
            "data": {"status": "changed, owners not"}}));
        assert_eq!(store.dependents("a").unwrap(), [key("child")]);
        write(json!({"metadata": {"name": "child", "uid": "c", "ownerReferences": owned_by("b")}}));
        assert!(store.dependents("a").unwrap().is_empty(), "the old owner is forgotten");
        assert_eq!(store.dependents("b").unwrap(), [key("child")]);
        assert!(store.deleting().unwrap().is_empty());

        let marked = json!({"metadata": {"name": "child", "uid": "c",
            "deletionTimestamp": "2026-11-22T10:00:00Z", "ownerReferences": owned_by("b")}});
        write(marked.clone());
        write(marked.clone());
        assert_eq!(store.deleting().unwrap(), [key("child")]);
        store.mutate::<StoreError>(&key("child"), |_| Ok(Write::Delete(marked))).unwrap();
        assert!(store.deleting().unwrap().is_empty() && store.dependents("b").unwrap().is_empty());
        assert!(store.get(&key("child")).unwrap().is_none());
    }

    #[test]
    fn lists_page_through_objects_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for name in ["c", "a", "b"] {
            put(&store, name);
        }
        let page = store.list("/configmaps", Some("default"), None, 2, &|_| true).unwrap();
        let names: Vec<Value> = page
            .items
            .iter()
            .map(|o| serde_json::from_str::<Value>(o).unwrap()["metadata"]["name"].clone())
            .collect();
        assert_eq!(names, ["a", "b"]);
        let (ns, name) = page.next.unwrap();
        let rest =
            store.list("/configmaps", Some("default"), Some((&ns, &name)), 2, &|_| true).unwrap();
        assert_eq!(rest.items.len(), 1);
        assert!(rest.next.is_none());
    }

    #[test]
    fn compaction_expires_old_resource_versions() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with_retention(dir.path(), 10).unwrap();
        for i in 0..COMPACTION_INTERVAL {
            put(&store, &format!("o{i}"));
        }
        assert!(store.history("/configmaps", 1, false).unwrap().is_err());
        let recent = store.history("/configmaps", store.current_rv() - 5, false).unwrap().unwrap();
        assert_eq!(recent.len(), 5);
    }

    /// A write that reads (through a read connection) under the writer lock, racing lists on
    /// every read connection, once deadlocked: a list held its connection while it waited for
    /// the writer.
    #[test]
    fn writes_that_read_and_concurrent_lists_never_deadlock() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        put(&store, "seed");
        let (done, finished) = std::sync::mpsc::channel();
        for worker in 0..4 * READERS {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                for i in 0..200 {
                    if worker % 2 == 0 {
                        store.list("/configmaps", None, None, 0, &|_| true).unwrap();
                    } else {
                        let name = format!("w{worker}-{i}");
                        store
                            .mutate::<StoreError>(&key(&name), |_| {
                                store.get(&key("seed"))?;
                                Ok(Write::Put(json!({"metadata": {"name": name, "uid": name}})))
                            })
                            .unwrap();
                    }
                }
                done.send(()).unwrap();
            });
        }
        for _ in 0..4 * READERS {
            finished
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("every worker finishes: no deadlock between reads and writes");
        }
    }

    #[test]
    fn a_failed_decision_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store
            .mutate::<StoreError>(&key("a"), |_| Err(StoreError::Io(std::io::Error::other("no"))));
        assert!(err.is_err());
        assert_eq!(store.current_rv(), 0);
        assert!(store.get(&key("a")).unwrap().is_none());
    }
}
