//! Triggers held behind running passes, and the echoes of each pass's own writes.
//!
//! A controller's writes come back through its watches as new versions, and the echo of a
//! write often arrives before the write's own answer, when nobody can tell it from a change
//! yet. [`Passes`] holds every trigger of an object while a pass over it runs instead of
//! queueing it; the pass ends knowing everything it wrote and runs again at once only if a held
//! trigger carried someone else's change. The versions the last pass wrote stay known, so
//! their late echoes are dropped too. Used by the managed-resource engine
//! ([`crate::requeue::Echoes`]) and by the composite and claim controllers, whose triggers also
//! come from other objects (hence versions of any type `V`).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::sync::lock;

/// Passes by key (the object reconciled), and what the last pass of each key wrote.
#[derive(Debug)]
pub struct Passes<V> {
    state: Mutex<State<V>>,
}

impl<V> Default for Passes<V> {
    fn default() -> Self {
        Self { state: Mutex::new(State { running: HashMap::new(), written: HashMap::new() }) }
    }
}

#[derive(Debug)]
struct State<V> {
    /// Passes running, by key: the versions written so far and the triggers held meanwhile.
    running: HashMap<String, Pass<V>>,
    /// The versions the last pass of each key wrote: their echoes are dropped.
    written: HashMap<String, Vec<V>>,
}

#[derive(Debug)]
struct Pass<V> {
    wrote: Vec<V>,
    held: Vec<V>,
}

impl<V: PartialEq> Passes<V> {
    /// A pass over `key` starts: triggers of `key` are held until it ends.
    pub fn begin(&self, key: &str) {
        lock(&self.state)
            .running
            .insert(key.to_owned(), Pass { wrote: Vec::new(), held: Vec::new() });
    }

    /// [`Passes::begin`], ended by the returned guard: [`Running::end`], or its drop when the
    /// pass is dropped unfinished (a reconcile cancelled at shutdown).
    pub fn start(&self, key: &str) -> Running<'_, V> {
        self.begin(key);
        Running { passes: self, key: key.to_owned(), ended: false }
    }

    /// The running pass over `key` wrote `version` (`None`: a write that returned none).
    pub fn wrote(&self, key: &str, version: Option<V>) {
        let mut state = lock(&self.state);
        if let (Some(pass), Some(version)) = (state.running.get_mut(key), version) {
            pass.wrote.push(version);
        }
    }

    /// Whether a trigger carrying `version` should queue a reconcile of `key`: not when the
    /// last pass over `key` wrote it, nor while a pass over `key` runs (it is held for the
    /// pass's end to judge). A trigger without a version always queues one.
    pub fn admit(&self, key: &str, version: Option<V>) -> bool {
        let Some(version) = version else { return true };
        let mut state = lock(&self.state);
        if state.written.get(key).is_some_and(|ours| ours.contains(&version)) {
            return false;
        }
        match state.running.get_mut(key) {
            Some(pass) => {
                pass.held.push(version);
                false
            }
            None => true,
        }
    }

    /// The pass over `key` ended, having written `wrote` besides what [`Passes::wrote`]
    /// recorded. Returns whether a trigger held meanwhile carried a change it did not write
    /// itself: `key` must be reconciled again at once. A pass that wrote nothing leaves the
    /// last pass's writes as the echoes to drop.
    pub fn end(&self, key: &str, wrote: impl IntoIterator<Item = V>) -> bool {
        let mut state = lock(&self.state);
        let (changed, wrote) = finish(state.running.remove(key), wrote);
        if !wrote.is_empty() {
            state.written.insert(key.to_owned(), wrote);
        }
        changed
    }

    /// The pass over `key` failed after writing `wrote`: its writes are not remembered as
    /// echoes (their triggers retry it). Returns whether someone else changed `key` meanwhile.
    pub fn end_failed(&self, key: &str, wrote: impl IntoIterator<Item = V>) -> bool {
        let running = lock(&self.state).running.remove(key);
        finish(running, wrote).0
    }

    /// Whether `version` of `key` is one the last pass over `key` wrote.
    pub fn is_echo<Q: ?Sized>(&self, key: &str, version: &Q) -> bool
    where
        V: PartialEq<Q>,
    {
        lock(&self.state).written.get(key).is_some_and(|ours| ours.iter().any(|v| v == version))
    }

    /// `key` is gone: nothing more to remember of it.
    pub fn forget(&self, key: &str) {
        let mut state = lock(&self.state);
        state.written.remove(key);
        state.running.remove(key);
    }
}

/// Whether `running` held a version neither it nor `wrote` wrote; and everything it wrote.
fn finish<V: PartialEq>(
    running: Option<Pass<V>>,
    wrote: impl IntoIterator<Item = V>,
) -> (bool, Vec<V>) {
    let Pass { wrote: mut all, held } =
        running.unwrap_or(Pass { wrote: Vec::new(), held: Vec::new() });
    all.extend(wrote);
    (held.iter().any(|version| !all.contains(version)), all)
}

/// A pass in progress, from [`Passes::start`].
#[must_use = "a pass holds its object's triggers until it ends"]
pub struct Running<'a, V: PartialEq> {
    passes: &'a Passes<V>,
    key: String,
    ended: bool,
}

impl<V: PartialEq> Running<'_, V> {
    /// The pass ended: [`Passes::end`].
    pub fn end(mut self) -> bool {
        self.ended = true;
        self.passes.end(&self.key, [])
    }
}

impl<V: PartialEq> Drop for Running<'_, V> {
    fn drop(&mut self) {
        if !self.ended {
            lock(&self.passes.state).running.remove(&self.key);
        }
    }
}
