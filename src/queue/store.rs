//! The queue's rows: enqueue, claim with a lease, finish, retry with
//! backoff, mark dead, purge. A worker claims a due job through a
//! conditional update, so with several instances on one database each job
//! runs on one of them at a time, and a job whose worker died is picked up
//! again when its lease runs out.
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::job;
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::Job;

const BATCH: u64 = 16;
/// The longest wait between two attempts of a failing job.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Queues a job; a job with the same id already queued is left as it is.
pub async fn enqueue<J: Job, C: ConnectionTrait>(
    db: &C,
    id: &str,
    job: &J,
    run_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    enqueue_all(db, [(id.to_string(), job, run_at)]).await
}

/// Queues jobs of one kind in one statement (so all or none); ids already
/// queued are left as they are.
pub async fn enqueue_all<'j, J: Job, C: ConnectionTrait>(
    db: &C,
    jobs: impl IntoIterator<Item = (String, &'j J, DateTime<Utc>)>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let mut rows = Vec::new();
    for (id, job, run_at) in jobs {
        let payload = serde_json::to_string(job)
            .map_err(|e| DbErr::Custom(format!("{} payload: {e}", J::KIND)))?;
        rows.push(job::ActiveModel {
            id: Set(id),
            kind: Set(J::KIND.to_string()),
            payload: Set(payload),
            run_at: Set(run_at),
            attempts: Set(0),
            lease_owner: Set(None),
            lease_until: Set(None),
            done_at: Set(None),
            dead_at: Set(None),
            last_error: Set(None),
            created_at: Set(now),
        });
    }
    if rows.is_empty() {
        return Ok(());
    }
    job::Entity::insert_many(rows)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Claims up to a batch of jobs due at `now` for `owner`.
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Vec<job::Model>, DbErr> {
    let lease_free = || {
        Expr::col(job::Column::LeaseUntil)
            .is_null()
            .or(Expr::col(job::Column::LeaseUntil).lt(now))
    };
    let candidates = job::Entity::find()
        .filter(job::Column::DoneAt.is_null())
        .filter(job::Column::DeadAt.is_null())
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
            .filter(job::Column::DeadAt.is_null())
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

/// Marks a job done, if `owner` still holds it.
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    id: &str,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(job::Column::DoneAt, Expr::value(now))
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

/// How long a job waits after its `attempts`-th failure: `base`, doubling
/// with each further attempt, at most ten minutes.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    base.saturating_mul(2u32.pow(attempts.clamp(1, 11) as u32 - 1))
        .min(MAX_BACKOFF)
}

/// Puts a failed job back, due again after its backoff.
pub async fn retry_later<C: ConnectionTrait>(
    db: &C,
    job: &job::Model,
    owner: &str,
    error: &str,
    now: DateTime<Utc>,
    base: Duration,
) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(
            job::Column::RunAt,
            Expr::value(now + backoff(base, job.attempts)),
        )
        .col_expr(
            job::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::LastError, Expr::value(truncated(error)))
        .filter(job::Column::Id.eq(job.id.clone()))
        .filter(job::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks a job that can never run dead, with the reason; it is never
/// claimed again and stays for an operator to read.
pub async fn mark_dead<C: ConnectionTrait>(
    db: &C,
    id: &str,
    owner: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(job::Column::DeadAt, Expr::value(now))
        .col_expr(
            job::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::LastError, Expr::value(truncated(reason)))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes jobs done before `before` (dead ones stay). Safe on every
/// instance at once: deleting the same rows twice is harmless.
pub async fn purge_done<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(job::Entity::delete_many()
        .filter(job::Column::DoneAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

fn truncated(text: &str) -> String {
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_ten_minutes() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff(base, 1), base);
        assert_eq!(backoff(base, 2), base * 2);
        assert_eq!(backoff(base, 4), base * 8);
        // The doubling stops after ten doublings, the wait at ten minutes.
        assert_eq!(backoff(base, 40), base * 1024);
        assert_eq!(backoff(Duration::from_secs(1), 40), MAX_BACKOFF);
    }
}
