//! Live updates: `GET /events` is a server-sent event stream that says `changed` whenever a
//! watch cache changes (at most every [`MIN_GAP`]); the page script then re-fetches itself.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;

use super::WebState;

/// Bursts of changes (a resync, a reconcile writing status) become one update per gap.
const MIN_GAP: Duration = Duration::from_millis(500);

/// `GET /events`.
pub async fn stream(
    State(state): State<WebState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = state.caches().subscribe();
    let events = futures::stream::unfold(changes, |mut changes| async move {
        changes.changed().await.ok()?;
        tokio::time::sleep(MIN_GAP).await;
        changes.mark_unchanged();
        Some((Ok(Event::default().event("changed").data("")), changes))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
