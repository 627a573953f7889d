//! The durable job queue. Jobs live in the database; a worker claims a due
//! job with a lease through a conditional update, so with several instances
//! on one database each job runs on one of them at a time, and a job whose
//! worker died is picked up again when its lease runs out.
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::job;
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::{service::payouts, service::App};

const BATCH: u64 = 16;
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// A job to queue.
pub struct NewJob<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub payload: String,
    pub run_at: DateTime<Utc>,
}

/// Queues a job; a job with the same id already queued is left as it is.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    id: &str,
    kind: &str,
    payload: String,
    run_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    enqueue_all(
        db,
        vec![NewJob {
            id,
            kind,
            payload,
            run_at,
        }],
    )
    .await
}

/// Queues jobs in one statement (so all or none); ids already queued are
/// left as they are.
pub async fn enqueue_all<C: ConnectionTrait>(db: &C, jobs: Vec<NewJob<'_>>) -> Result<(), DbErr> {
    let now = Utc::now();
    let rows = jobs.into_iter().map(|job| job::ActiveModel {
        id: Set(job.id.to_string()),
        kind: Set(job.kind.to_string()),
        payload: Set(job.payload),
        run_at: Set(job.run_at),
        attempts: Set(0),
        lease_owner: Set(None),
        lease_until: Set(None),
        done_at: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    });
    job::Entity::insert_many(rows)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Claims up to a batch of due jobs for `owner`.
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    lease: Duration,
) -> Result<Vec<job::Model>, DbErr> {
    let now = Utc::now();
    let lease_free = || {
        Expr::col(job::Column::LeaseUntil)
            .is_null()
            .or(Expr::col(job::Column::LeaseUntil).lt(now))
    };
    let candidates = job::Entity::find()
        .filter(job::Column::DoneAt.is_null())
        .filter(job::Column::RunAt.lte(now))
        .filter(lease_free())
        .order_by_asc(job::Column::RunAt)
        .limit(BATCH)
        .all(db)
        .await?;
    let mut claimed = Vec::new();
    for mut candidate in candidates {
        let lease_until = now + lease;
        let result = job::Entity::update_many()
            .col_expr(job::Column::LeaseOwner, Expr::value(owner))
            .col_expr(job::Column::LeaseUntil, Expr::value(lease_until))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).add(1),
            )
            .filter(job::Column::Id.eq(candidate.id.clone()))
            .filter(job::Column::DoneAt.is_null())
            .filter(lease_free())
            .exec(db)
            .await?;
        if result.rows_affected == 1 {
            candidate.attempts += 1;
            claimed.push(candidate);
        }
    }
    Ok(claimed)
}

pub async fn finish<C: ConnectionTrait>(db: &C, id: &str, owner: &str) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(job::Column::DoneAt, Expr::value(Utc::now()))
        .col_expr(
            job::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(())
}

/// Puts a failed job back, due again after an exponential backoff.
pub async fn retry_later<C: ConnectionTrait>(
    db: &C,
    job: &job::Model,
    owner: &str,
    error: &str,
    base: Duration,
) -> Result<(), DbErr> {
    let backoff = base
        .saturating_mul(2u32.pow(job.attempts.clamp(1, 11) as u32 - 1))
        .min(Duration::from_secs(600));
    job::Entity::update_many()
        .col_expr(job::Column::RunAt, Expr::value(Utc::now() + backoff))
        .col_expr(
            job::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            job::Column::LastError,
            Expr::value(error.chars().take(500).collect::<String>()),
        )
        .filter(job::Column::Id.eq(job.id.clone()))
        .filter(job::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(())
}

/// What running a job came to.
pub enum Outcome {
    Done,
    Retry(String),
}

async fn run_one(app: &App, job: &job::Model) -> Outcome {
    match job.kind.as_str() {
        crate::provider::sandbox::DELIVERY_JOB => deliver_sandbox_event(app, job).await,
        payouts::SUBMIT_JOB => payouts::submit_job(app, &job.payload, job.attempts).await,
        crate::service::funds::RELEASE_JOB => {
            crate::service::funds::release_job(app, &job.payload).await
        }
        other => Outcome::Retry(format!("unknown job kind {other}")),
    }
}

/// Like a real provider, the sandbox stops redelivering an event at last
/// (about a day of backoff), e.g. one about an account whose verification
/// lost a race and was never stored.
const MAX_DELIVERY_ATTEMPTS: i32 = 150;

/// POSTs a sandbox event to this service's own webhook endpoint.
async fn deliver_sandbox_event(app: &App, job: &job::Model) -> Outcome {
    let body = &job.payload;
    let url = format!(
        "{}/api/v1/webhooks/{}",
        app.config.public_url,
        crate::provider::sandbox::NAME
    );
    let request = app
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("stripe-signature", app.sandbox.sign(body.as_bytes()))
        .body(body.to_string());
    let outcome = match request.send().await {
        Ok(response) if response.status().is_success() => Outcome::Done,
        Ok(response) => Outcome::Retry(format!("webhook answered {}", response.status())),
        Err(err) => Outcome::Retry(format!("webhook delivery failed: {err}")),
    };
    app.metrics
        .webhook_delivery(matches!(outcome, Outcome::Done));
    match outcome {
        Outcome::Retry(error) if job.attempts >= MAX_DELIVERY_ATTEMPTS => {
            tracing::warn!(job = %job.id, %error, "sandbox event abandoned after its last delivery attempt");
            Outcome::Done
        }
        outcome => outcome,
    }
}

/// Runs due jobs until `shutdown` turns true; finishes the job in hand first.
pub async fn worker(app: App, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let owner = app.instance_id.clone();
    let mut next_purge = std::time::Instant::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if std::time::Instant::now() >= next_purge {
            // Safe on every instance at once: deleting expired rows twice is harmless.
            match crate::service::idempotency::purge_expired(&app.db).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired idempotency keys purged"),
                Err(err) => tracing::warn!(error = %err, "idempotency purge failed"),
            }
            next_purge = std::time::Instant::now() + PURGE_EVERY;
        }
        let jobs = match claim_due(&app.db, &owner, app.config.job_lease).await {
            Ok(jobs) => jobs,
            Err(err) => {
                tracing::warn!(error = %err, "job claim failed");
                Vec::new()
            }
        };
        let idle = jobs.is_empty();
        for job in jobs {
            let result = match run_one(&app, &job).await {
                Outcome::Done => finish(&app.db, &job.id, &owner).await,
                Outcome::Retry(error) => {
                    tracing::debug!(job = %job.id, kind = %job.kind, %error, "job will be retried");
                    retry_later(&app.db, &job, &owner, &error, app.config.job_retry_base).await
                }
            };
            if let Err(err) = result {
                tracing::warn!(job = %job.id, error = %err, "could not record job result");
            }
        }
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(app.config.job_poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
