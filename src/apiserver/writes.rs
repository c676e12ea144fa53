//! The write thread: every API write runs on one thread, in group commits.
//!
//! Writes are serialized by the store anyway (one SQLite writer). Running them on one
//! long-lived thread instead of a blocking-pool thread each saves a thread wake-up and a
//! contended lock per write, and lets writes that queue up while one runs share a single
//! transaction ([`Store::batch`]): one commit, and one copy of the pages they all touch,
//! instead of one each. Nothing is answered before its batch commits.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, mpsc};

use super::status::ApiError;
use super::store::{Store, StoreError};

/// Writes run in one transaction at most: bounds how long the first waits for its answer.
const MAX_BATCH: usize = 64;

/// Answers a write once its batch's commit is known.
type Answer = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// A write: runs on the write thread and returns how to answer it.
type Job = Box<dyn FnOnce() -> Answer + Send>;

/// The queue of the write thread; the thread ends when every clone is dropped.
#[derive(Debug, Clone)]
pub struct Writes {
    jobs: mpsc::Sender<Job>,
}

impl Writes {
    /// Starts the write thread of `store`.
    pub fn start(store: Arc<Store>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("crosstie-writes".into()).spawn(move || {
            // A write that panics is answered by its dropped sender (an internal error).
            let run = |job: Job| std::panic::catch_unwind(AssertUnwindSafe(job)).ok();
            while let Ok(first) = queue.recv() {
                let (answers, committed) = store.batch(|| {
                    let mut answers: Vec<Answer> = run(first).into_iter().collect();
                    while answers.len() < MAX_BATCH
                        && let Ok(job) = queue.try_recv()
                    {
                        answers.extend(run(job));
                    }
                    answers
                });
                for answer in answers {
                    answer(committed.as_ref().map(|_| ()));
                }
            }
        })?;
        Ok(Self { jobs })
    }

    /// Runs `write` on the write thread; its result comes back once it is committed.
    pub async fn run<T: Send + 'static>(
        &self,
        write: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = write();
            Box::new(move |committed: Result<(), &StoreError>| {
                let _ = answer.send(committed.map_err(ApiError::internal).and(result));
            })
        });
        self.jobs.send(job).map_err(|_| ApiError::internal("the write thread has stopped"))?;
        answered.await.map_err(|_| ApiError::internal("a write failed unexpectedly"))?
    }
}
