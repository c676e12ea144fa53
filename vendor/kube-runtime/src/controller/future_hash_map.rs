use ahash::AHashSet;
use futures::{FutureExt, Stream, StreamExt, stream::FuturesUnordered};
use std::{
    hash::Hash,
    pin::Pin,
    task::{Context, Poll},
};

/// Variant of [`futures::stream::FuturesUnordered`] that keys each future, so that a key's future
/// can be found (and kept unique) by its key.
///
/// Crosstie's patch: upstream keeps the futures in a `HashMap` and polls every one of them on
/// each wake-up, O(n) per completed future. With a thousand reconciles in flight that scan was
/// ~5% of a busy control plane's CPU. Here only woken futures are polled, and the keys (which
/// the scheduler looks up for every message it holds back) are hashed with aHash.
#[derive(Debug)]
pub struct FutureHashMap<K, F> {
    futures: FuturesUnordered<Keyed<K, F>>,
    keys: AHashSet<K>,
}

impl<K, F> Default for FutureHashMap<K, F> {
    fn default() -> Self {
        Self {
            futures: FuturesUnordered::new(),
            keys: AHashSet::new(),
        }
    }
}

impl<K, F> FutureHashMap<K, F>
where
    K: Hash + Eq + Clone,
{
    /// Inserts a future for `key`. A key that already has a future keeps it: the new future is
    /// handed back unpolled.
    pub fn insert(&mut self, key: K, future: F) -> Option<F> {
        if self.keys.contains(&key) {
            return Some(future);
        }
        self.keys.insert(key.clone());
        self.futures.push(Keyed { key: Some(key), future });
        None
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.keys.contains(key)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

impl<K, F> Stream for FutureHashMap<K, F>
where
    K: Hash + Clone + Eq + Unpin,
    F: Future + Unpin,
    Self: Unpin,
{
    type Item = F::Output;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.futures.poll_next_unpin(cx) {
            Poll::Ready(Some((key, msg))) => {
                self.keys.remove(&key);
                Poll::Ready(Some(msg))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A future that yields its key with its output.
#[derive(Debug)]
struct Keyed<K, F> {
    key: Option<K>,
    future: F,
}

impl<K: Unpin, F: Future + Unpin> Future for Keyed<K, F> {
    type Output = (K, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let output = futures::ready!(self.future.poll_unpin(cx));
        Poll::Ready((self.key.take().expect("polled after completion"), output))
    }
}

#[cfg(test)]
mod tests {
    use std::{future, task::Poll};

    use super::FutureHashMap;
    use futures::{StreamExt, channel::mpsc, poll};

    #[tokio::test]
    async fn fhm_should_forward_all_values_and_shut_down() {
        let mut fhm = FutureHashMap::default();
        let count = 100;
        for i in 0..count {
            fhm.insert(i, future::ready(i));
        }
        let mut values = fhm.collect::<Vec<u16>>().await;
        values.sort_unstable();
        assert_eq!(values, (0..count).collect::<Vec<u16>>());
    }

    #[tokio::test]
    async fn fhm_should_stay_alive_until_all_sources_finish() {
        let (tx0, mut rx0) = mpsc::unbounded::<()>();
        let (tx1, mut rx1) = mpsc::unbounded::<()>();
        let mut fhm = FutureHashMap::default();
        fhm.insert(0, rx0.next());
        fhm.insert(1, rx1.next());
        assert_eq!(poll!(fhm.next()), Poll::Pending);
        drop(tx0);
        assert_eq!(poll!(fhm.next()), Poll::Ready(Some(None)));
        assert_eq!(poll!(fhm.next()), Poll::Pending);
        drop(tx1);
        assert_eq!(poll!(fhm.next()), Poll::Ready(Some(None)));
        assert_eq!(poll!(fhm.next()), Poll::Ready(None));
    }

    #[tokio::test]
    async fn fhm_should_keep_the_first_future_of_a_key() {
        let mut fhm = FutureHashMap::default();
        assert!(fhm.insert(1, future::ready(1)).is_none());
        assert!(fhm.insert(1, future::ready(2)).is_some(), "the new future is handed back");
        assert!(fhm.contains_key(&1));
        assert_eq!(fhm.len(), 1);
        assert_eq!(fhm.next().await, Some(1));
        assert!(!fhm.contains_key(&1), "a finished key is free again");
        assert!(fhm.insert(1, future::ready(3)).is_none());
        assert_eq!(fhm.next().await, Some(3));
        assert_eq!(fhm.next().await, None);
    }
}
