//! Group commit on SQLite's single writer. With `synchronous=FULL` every
//! commit costs an fsync, so one commit per request caps writes at the
//! disk's fsync rate. Write requests that arrive while the writer is busy
//! wait in a queue; the writer runs the next batch of them in one
//! transaction, each in its own savepoint (a refused request rolls back only
//! its savepoint), commits once, and only then answers every caller: nobody
//! hears "done" before the shared commit is durable, and if it fails they
//! all hear an error.
//!
//! On PostgreSQL (which shares fsyncs between concurrent commits itself) or
//! with grouping off, each write is its own transaction, as before.
use std::{
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use sea_orm::{DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot, Mutex};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Most requests one transaction carries.
const MAX_BATCH: usize = 64;

/// Answers a caller once the batch's commit is known (`Some` if it failed).
type Completion = Box<dyn FnOnce(Option<&DbErr>) + Send>;
/// One request: runs in its savepoint, says whether it succeeded.
type Job =
    Box<dyn for<'a> FnOnce(&'a DatabaseTransaction) -> BoxFuture<'a, (bool, Completion)> + Send>;

/// Counters for tests and metrics.
#[derive(Default)]
pub struct Stats {
    pub batches: AtomicU64,
    pub requests: AtomicU64,
    /// Batches in which some requests committed and others were refused.
    pub mixed_batches: AtomicU64,
    /// Requests queued and not yet taken into a batch.
    pub waiting: AtomicU64,
}

#[derive(Clone)]
pub struct Writer {
    db: DatabaseConnection,
    queue: Option<mpsc::UnboundedSender<Job>>,
    pub stats: Arc<Stats>,
}

impl Writer {
    /// Groups commits when `group` is set and `db` is SQLite. Needs a tokio
    /// runtime (the writer is a task).
    pub fn new(db: DatabaseConnection, group: bool) -> Self {
        let stats = Arc::new(Stats::default());
        let queue = (group && db.get_database_backend() == DatabaseBackend::Sqlite).then(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(supervise(
                db.clone(),
                Arc::new(Mutex::new(rx)),
                stats.clone(),
            ));
            tx
        });
        Writer { db, queue, stats }
    }

    /// Runs `f` in a write transaction (its own, or a savepoint of a shared
    /// one) and returns its result once that is durable. On `Err` nothing
    /// `f` wrote remains. `f` must use only the transaction it is given:
    /// the write connection is busy with the batch.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
        F: for<'a> FnOnce(&'a DatabaseTransaction) -> BoxFuture<'a, Result<T, E>> + Send + 'static,
    {
        let Some(queue) = &self.queue else {
            let txn = crate::db::begin_write(&self.db).await?;
            let out = f(&txn).await?;
            txn.commit().await?;
            return Ok(out);
        };
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |txn| {
            Box::pin(async move {
                let result = f(txn).await;
                let ok = result.is_ok();
                let done: Completion = Box::new(move |commit_failed| {
                    let _ = reply.send(match (result, commit_failed) {
                        (Ok(_), Some(err)) => Err(E::from(DbErr::Custom(format!(
                            "group commit failed: {err}"
                        )))),
                        (result, _) => result,
                    });
                });
                (ok, done)
            })
        });
        self.stats.waiting.fetch_add(1, Ordering::Relaxed);
        queue
            .send(job)
            .map_err(|_| E::from(DbErr::Custom("the writer has stopped".into())))?;
        answer.await.map_err(|_| {
            E::from(DbErr::Custom(
                "the write was abandoned (its batch could not begin or the writer failed)".into(),
            ))
        })?
    }
}

/// Restarts the writer if a request panics in it: that batch's callers get
/// an error (their replies are dropped), the queue carries on.
async fn supervise(
    db: DatabaseConnection,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    stats: Arc<Stats>,
) {
    loop {
        let run = tokio::spawn(run(db.clone(), queue.clone(), stats.clone()));
        match run.await {
            Ok(()) => return,
            Err(err) => tracing::error!(error = %err, "group-commit writer failed; restarting"),
        }
    }
}

async fn run(
    db: DatabaseConnection,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    stats: Arc<Stats>,
) {
    let mut queue = queue.lock().await;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats
            .waiting
            .fetch_sub(batch.len() as u64, Ordering::Relaxed);
        // Dropping a job answers its caller with an error.
        let Ok(txn) = crate::db::begin_write(&db).await else {
            continue;
        };
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats
            .requests
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let (mut completions, mut refused, mut broken) = (Vec::new(), 0, false);
        for job in batch {
            let Ok(savepoint) = txn.begin().await else {
                broken = true;
                break;
            };
            let (ok, done) = job(&savepoint).await;
            let closed = if ok {
                savepoint.commit().await
            } else {
                refused += 1;
                savepoint.rollback().await
            };
            completions.push(done);
            if closed.is_err() {
                // The transaction is in an unknown state: commit none of it.
                broken = true;
                break;
            }
        }
        if refused > 0 && refused < completions.len() {
            stats.mixed_batches.fetch_add(1, Ordering::Relaxed);
        }
        let outcome = if broken {
            let _ = txn.rollback().await;
            Err(DbErr::Custom(
                "a savepoint failed; the batch was rolled back".into(),
            ))
        } else {
            txn.commit().await
        };
        for done in completions {
            done(outcome.as_ref().err());
        }
    }
}
