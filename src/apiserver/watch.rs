//! Watch streams: newline-delimited JSON events, one chunk per event, from a resourceVersion in
//! the retained history (or from a synthetic ADDED snapshot), with periodic BOOKMARKs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use super::convert::present;
use super::lean::remove_managed_fields;
use super::registry::Shape;
use super::status::ApiError;
use super::store::{Event, EventType, Previous};
use super::table::{TableOptions, table};
use super::verbs::{Api, ListOptions, Scope};

/// How often an idle watch with `allowWatchBookmarks` gets a BOOKMARK.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);
/// Watch length when the client sets no `timeoutSeconds` (kube-apiserver: 30–60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Watch parameters.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Start after this resourceVersion; `None` or "0" starts with the current state as ADDED.
    pub resource_version: Option<String>,
    /// Selectors (limit/continue are ignored).
    pub list: ListOptions,
    /// Send BOOKMARK events.
    pub bookmarks: bool,
    /// End the stream after this long.
    pub timeout: Option<Duration>,
    /// Streaming list (`sendInitialEvents=true`): the current state as ADDED events, then a
    /// BOOKMARK annotated `k8s.io/initial-events-end`, whatever the resourceVersion.
    pub send_initial_events: bool,
    /// Send each object as a one-row Table with these columns (`kubectl get -w`).
    pub table: Option<TableOptions>,
    /// Send objects without managedFields (a watch of this process's controllers, [`super::lean`]).
    pub lean: bool,
}

struct State {
    api: Api,
    scope: Scope,
    opts: WatchOptions,
    queue: VecDeque<Bytes>,
    rx: broadcast::Receiver<Arc<Event>>,
    /// Every event up to here has been considered (sent or filtered out).
    last_rv: u64,
    deadline: Instant,
    next_bookmark: Instant,
    done: bool,
    /// Table column definitions go out with the first row only, as kube-apiserver does.
    sent_columns: bool,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    text.push(b'\n');
    Bytes::from(text)
}

fn expired_line(message: String) -> Bytes {
    line("ERROR", &ApiError::expired(message).body())
}

/// The object as a watch event carries it: itself, or a one-row Table.
fn render(opts: &WatchOptions, sent_columns: &mut bool, object: Value) -> Value {
    let Some(options) = &opts.table else { return object };
    let rv = object["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned();
    let mut rendered = table(&[object], options, &rv, None);
    if std::mem::replace(sent_columns, true) {
        rendered["columnDefinitions"] = Value::Array(Vec::new());
    }
    rendered
}

/// Starts a watch; errors only for a malformed resourceVersion or a failed initial list.
pub fn watch(
    api: Api,
    scope: Scope,
    opts: WatchOptions,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>>, ApiError> {
    // Subscribe before reading anything so no commit falls between the snapshot and the stream.
    let rx = api.store.subscribe();
    let mut queue = VecDeque::new();
    let mut sent_columns = false;
    let resume_from = opts
        .resource_version
        .as_deref()
        .filter(|rv| !rv.is_empty() && *rv != "0" && !opts.send_initial_events);
    let from = match resume_from {
        None => {
            let all = ListOptions { limit: 0, continue_token: None, ..opts.list.clone() };
            let snapshot = api.list(&scope, &all)?;
            for mut object in snapshot.items {
                if opts.lean {
                    remove_managed_fields(&mut object);
                }
                queue.push_back(line(
                    EventType::Added.as_str(),
                    &render(&opts, &mut sent_columns, object),
                ));
            }
            let rv = snapshot.resource_version.parse().unwrap_or(0);
            if opts.send_initial_events {
                queue.push_back(line(
                    "BOOKMARK",
                    &json!({"kind": scope.rt.kind, "apiVersion": scope.rt.api_version(&scope.version),
                        "metadata": {"resourceVersion": rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}}),
                ));
            }
            rv
        }
        Some(rv) => {
            let rv: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?;
            rv
        }
    };
    let resuming = resume_from.is_some();
    let now = Instant::now();
    let mut state = State {
        deadline: now + opts.timeout.unwrap_or(DEFAULT_TIMEOUT),
        next_bookmark: now + BOOKMARK_INTERVAL,
        api,
        scope,
        opts,
        queue,
        rx,
        last_rv: from,
        done: false,
        sent_columns,
    };
    if resuming {
        state.replay_history()?;
    }
    Ok(futures::stream::unfold(state, |mut state| async move {
        let next = state.next().await?;
        Some((Ok(next), state))
    }))
}

impl State {
    /// Queues retained events after `last_rv`, or an Expired error when they are compacted.
    fn replay_history(&mut self) -> Result<(), ApiError> {
        let whole_previous = !self.opts.list.fields.reads_only_metadata();
        match self.api.store.history(&self.scope.rt.storage, self.last_rv, whole_previous)? {
            Ok(events) => {
                for event in events {
                    self.consider(&event);
                }
            }
            Err(compacted) => {
                self.queue.push_back(expired_line(format!(
                    "too old resource version: {} ({compacted})",
                    self.last_rv
                )));
                self.done = true;
            }
        }
        Ok(())
    }

    /// Queues `event` when it is newer than what was sent and the watch selects it.
    fn consider(&mut self, event: &Event) {
        if event.rv <= self.last_rv {
            return;
        }
        self.last_rv = event.rv;
        if event.resource != self.scope.rt.storage
            || self.scope.namespace.as_deref().is_some_and(|ns| ns != event.namespace)
        {
            return;
        }
        if self.verbatim() {
            // Served as stored: the stored text is sent as it is, never parsed whole per
            // watcher; a label selector reads only the labels.
            let labels = &self.opts.list.labels;
            let kind = if labels.is_empty() {
                event.kind
            } else {
                let selected = |text: &str| labels_of(text).map(|l| labels.matches_labels(&l));
                let Some(now) = selected(&event.object) else { return };
                let was = event.previous.labelled().and_then(selected);
                let Some(kind) = moved(event.kind, was, now) else { return };
                kind
            };
            let object = if self.opts.lean { event.lean_object() } else { &event.object };
            let mut text = format!(r#"{{"type":"{}","object":"#, kind.as_str()).into_bytes();
            text.extend_from_slice(object.as_bytes());
            text.extend_from_slice(b"}\n");
            self.queue.push_back(Bytes::from(text));
            return;
        }
        let Ok(object) = serde_json::from_str::<Value>(&event.object) else { return };
        let mut object = present(&self.scope.rt, &self.scope.version, object);
        let selected =
            |o: &Value| self.opts.list.labels.matches(o) && self.opts.list.fields.matches(o);
        let filtered = !self.opts.list.labels.is_empty() || !self.opts.list.fields.is_empty();
        // Replayed history keeps only what label selectors and metadata field selectors read,
        // unless the replay fetched whole versions for this watch's field selector.
        let previous = match &event.previous {
            Previous::Whole(text) => Some(text),
            Previous::Selectable(text) if self.opts.list.fields.reads_only_metadata() => Some(text),
            _ => None,
        };
        let was_selected = previous
            .filter(|_| filtered)
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .map(|p| selected(&present(&self.scope.rt, &self.scope.version, p)));
        let Some(kind) = moved(event.kind, was_selected, selected(&object)) else { return };
        if self.opts.lean {
            remove_managed_fields(&mut object);
        }
        let object = render(&self.opts, &mut self.sent_columns, object);
        self.queue.push_back(line(kind.as_str(), &object));
    }

    /// Whether this watch sends the events it selects exactly as stored: no field selector, no
    /// table, and one served version (stored objects then already carry its apiVersion and kind).
    fn verbatim(&self) -> bool {
        let list = &self.opts.list;
        list.fields.is_empty()
            && self.opts.table.is_none()
            && self.scope.rt.shape == Shape::Plain
            && self.scope.rt.versions.len() == 1
    }

    fn bookmark(&self) -> Bytes {
        line(
            "BOOKMARK",
            &json!({"kind": self.scope.rt.kind, "apiVersion": self.scope.rt.api_version(&self.scope.version),
                "metadata": {"resourceVersion": self.last_rv.to_string()}}),
        )
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(line) = self.queue.pop_front() {
                return Some(line);
            }
            if self.done {
                return None;
            }
            tokio::select! {
                received = self.rx.recv() => match received {
                    Ok(event) => self.consider(&event),
                    // Fell behind the live fan-out: catch up from the stored history.
                    Err(RecvError::Lagged(_)) => {
                        if self.replay_history().is_err() {
                            self.done = true;
                        }
                    }
                    Err(RecvError::Closed) => self.done = true,
                },
                _ = tokio::time::sleep_until(self.next_bookmark) => {
                    self.next_bookmark = Instant::now() + BOOKMARK_INTERVAL;
                    if self.opts.bookmarks {
                        return Some(self.bookmark());
                    }
                }
                _ = tokio::time::sleep_until(self.deadline) => {
                    self.done = true;
                    if self.opts.bookmarks {
                        return Some(self.bookmark());
                    }
                }
            }
        }
    }
}

/// The event a watch sends for a change of `kind` to an object that was (`None`: unknown or not
/// filtered) and now is selected, if any: a change that moves an object in or out of the
/// selection is an ADDED or DELETED for this watch, as in kube-apiserver.
fn moved(kind: EventType, was_selected: Option<bool>, selected: bool) -> Option<EventType> {
    match (kind, was_selected, selected) {
        (EventType::Modified, Some(false), true) => Some(EventType::Added),
        (EventType::Modified, Some(true), false) => Some(EventType::Deleted),
        (_, _, false) => None,
        (kind, _, true) => Some(kind),
    }
}

/// The labels of a stored object, read without parsing the rest of it into values.
fn labels_of(text: &str) -> Option<serde_json::Map<String, Value>> {
    #[derive(serde::Deserialize)]
    struct Object {
        #[serde(default)]
        metadata: Metadata,
    }
    #[derive(serde::Deserialize, Default)]
    struct Metadata {
        #[serde(default)]
        labels: Option<serde_json::Map<String, Value>>,
    }
    let object: Object = serde_json::from_str(text).ok()?;
    Some(object.metadata.labels.unwrap_or_default())
}
