//! Locking the engine's in-memory bookkeeping.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, even one poisoned by a panic elsewhere: every guarded value here (backoff
/// counters, confirmations, write records, snapshots) changes in single inserts and removals,
/// so a panicking holder never leaves it half-updated.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
