//! A durable, typed job queue. Jobs live in the database (`store`); each
//! kind is a `Job`: a serde payload type with a kind name and a `run`. A
//! `Registry` maps kinds to runners and runs due jobs.
//!
//! This module knows nothing of the application: a job's context (what its
//! `run` gets) is whatever the registry's owner hands in, so adding a job
//! kind never touches this file. A job that can never run (its payload does
//! not parse, no runner is registered for its kind, or its run found what it
//! needs unreadable: `Outcome::Dead`) is logged and marked dead, and
//! reported to the caller to count: never retried forever, never dropped.
mod store;

use std::{collections::HashMap, future::Future, pin::Pin, time::Duration};

use sea_orm::{DatabaseConnection, DbErr};
use serde::{de::DeserializeOwned, Serialize};

pub use store::{backoff, enqueue, enqueue_all, purge_done};

use crate::clock::Clock;

/// One kind of background work; the implementing type is its payload.
/// `run` must be idempotent: a job whose worker died mid-run runs again.
#[async_trait::async_trait]
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stored with each job; never rename one that may be queued.
    const KIND: &'static str;
    /// What `run` needs (the application, a provider...).
    type Context: Sync;
    /// `attempt` counts from 1.
    async fn run(self, context: &Self::Context, attempt: i32) -> Outcome;
}

/// What running a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Try again after a backoff; the reason is kept in `last_error`.
    Retry(String),
    /// It can never succeed (what it works on is unreadable): marked dead
    /// like a payload that does not parse.
    Dead(String),
}

/// How due jobs are claimed and retried.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a claimed job is its worker's before another may take it.
    pub lease: Duration,
    /// The first retry's wait; doubles with each further attempt.
    pub retry_base: Duration,
}

/// A job that was marked dead in a run.
#[derive(Debug, Clone)]
pub struct DeadJob {
    pub id: String,
    pub kind: String,
    pub reason: String,
}

/// What one `Registry::run_due` did.
#[derive(Debug, Default)]
pub struct Ran {
    pub done: usize,
    pub retried: usize,
    pub dead: Vec<DeadJob>,
}

impl Ran {
    pub fn is_idle(&self) -> bool {
        self.done + self.retried + self.dead.len() == 0
    }
}

type Running<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;
type Runner<Ctx> =
    Box<dyn for<'a> Fn(&'a Ctx, &str, i32) -> Result<Running<'a>, serde_json::Error> + Send + Sync>;

/// The job kinds an application runs, each with how to reach its context
/// from the application's (`Ctx`).
pub struct Registry<Ctx> {
    runners: HashMap<&'static str, Runner<Ctx>>,
}

impl<Ctx: Sync + 'static> Default for Registry<Ctx> {
    fn default() -> Self {
        Self {
            runners: HashMap::new(),
        }
    }
}

impl<Ctx: Sync + 'static> Registry<Ctx> {
    /// Adds job kind `J`, whose context `context` picks out of `Ctx`.
    /// Panics on a kind registered twice (a programming error).
    pub fn register<J: Job>(mut self, context: for<'a> fn(&'a Ctx) -> &'a J::Context) -> Self {
        let runner: Runner<Ctx> = Box::new(move |ctx, payload, attempt| {
            let job: J = serde_json::from_str(payload)?;
            Ok(job.run(context(ctx), attempt))
        });
        let previous = self.runners.insert(J::KIND, runner);
        assert!(previous.is_none(), "job kind {} registered twice", J::KIND);
        self
    }

    /// Claims the jobs due now for `owner` and runs them one by one.
    pub async fn run_due(
        &self,
        ctx: &Ctx,
        db: &DatabaseConnection,
        owner: &str,
        clock: &Clock,
        settings: &Settings,
    ) -> Result<Ran, DbErr> {
        let mut ran = Ran::default();
        for job in store::claim_due(db, owner, clock.now(), settings.lease).await? {
            let started = match self.runners.get(job.kind.as_str()) {
                None => Err(format!("no runner for job kind {:?}", job.kind)),
                Some(runner) => runner(ctx, &job.payload, job.attempts)
                    .map_err(|e| format!("payload is not a {}: {e}", job.kind)),
            };
            let running = match started {
                Err(reason) => Err(reason),
                Ok(running) => match running.await {
                    Outcome::Done => Ok(None),
                    Outcome::Retry(error) => Ok(Some(error)),
                    Outcome::Dead(reason) => Err(reason),
                },
            };
            let recorded = match running {
                Err(reason) => {
                    // The payload is not logged: it may hold what logs must not.
                    tracing::error!(job = %job.id, kind = %job.kind, %reason, "job is dead: it can never run");
                    let marked = store::mark_dead(db, &job.id, owner, &reason, clock.now()).await;
                    ran.dead.push(DeadJob {
                        id: job.id.clone(),
                        kind: job.kind.clone(),
                        reason,
                    });
                    marked
                }
                Ok(None) => {
                    ran.done += 1;
                    store::finish(db, &job.id, owner, clock.now()).await
                }
                Ok(Some(error)) => {
                    ran.retried += 1;
                    tracing::debug!(job = %job.id, kind = %job.kind, %error, "job will be retried");
                    let now = clock.now();
                    store::retry_later(db, &job, owner, &error, now, settings.retry_base).await
                }
            };
            if let Err(err) = recorded {
                tracing::warn!(job = %job.id, error = %err, "could not record job result");
            }
        }
        Ok(ran)
    }
}
