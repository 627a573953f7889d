//! Idempotency keys: a POST with `Idempotency-Key` is applied once per
//! organization and key for 24 hours; a repeat gets the stored answer.
use chrono::{Duration, Utc};
use entity::idempotency_key;
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use crate::error::{Error, Result};

const RETENTION: Duration = Duration::hours(24);

/// The outcome of presenting a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use (or a takeover of an abandoned one): run the request.
    Run,
    /// Seen and finished: answer with the stored status and body.
    Replay { status: u16, body: String },
}

/// Claims `key` for a request of `route` whose body hashes to `request_hash`.
pub async fn claim(
    db: &DatabaseConnection,
    org_id: &str,
    key: &str,
    route: &str,
    request_hash: &str,
    lock: std::time::Duration,
) -> Result<Claim> {
    let lock = Duration::from_std(lock).map_err(Error::internal)?;
    for _ in 0..3 {
        let now = Utc::now();
        // `Config::validate` bounds the lock; never panic on a bad one anyway.
        let locked_until = now
            .checked_add_signed(lock)
            .ok_or_else(|| Error::internal("idempotency lock out of range"))?;
        let inserted = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            organization_id: Set(org_id.to_string()),
            key: Set(key.to_string()),
            route: Set(route.to_string()),
            request_hash: Set(request_hash.to_string()),
            response_status: Set(None),
            response_body: Set(None),
            locked_until: Set(locked_until),
            created_at: Set(now),
            expires_at: Set(now + RETENTION),
        })
        .on_conflict_do_nothing()
        .exec(db)
        .await?;
        if !matches!(inserted, sea_orm::TryInsertResult::Conflicted) {
            return Ok(Claim::Run);
        }
        let Some(existing) =
            idempotency_key::Entity::find_by_id((org_id.to_string(), key.to_string()))
                .one(db)
                .await?
        else {
            continue; // purged in between: try again
        };
        if existing.expires_at <= now {
            forget_expired(db, org_id, key, now).await?;
            continue;
        }
        if existing.route != route || existing.request_hash != request_hash {
            return Err(Error::IdempotencyKeyMismatch);
        }
        if let (Some(status), Some(body)) = (existing.response_status, existing.response_body) {
            // `as u16` would wrap a corrupt 65736 into 200.
            let status = u16::try_from(status).map_err(|_| {
                Error::internal(format!("stored idempotent answer: status {status}"))
            })?;
            return Ok(Claim::Replay { status, body });
        }
        if existing.locked_until > now {
            return Err(Error::IdempotencyInProgress);
        }
        // Abandoned by a crashed request: take it over, unless someone else
        // just did.
        let taken = idempotency_key::Entity::update_many()
            .col_expr(
                idempotency_key::Column::LockedUntil,
                Expr::value(locked_until),
            )
            .filter(idempotency_key::Column::OrganizationId.eq(org_id))
            .filter(idempotency_key::Column::Key.eq(key))
            .filter(idempotency_key::Column::LockedUntil.eq(existing.locked_until))
            .filter(idempotency_key::Column::ResponseStatus.is_null())
            .exec(db)
            .await?;
        return if taken.rows_affected == 1 {
            Ok(Claim::Run)
        } else {
            Err(Error::IdempotencyInProgress)
        };
    }
    Err(Error::IdempotencyInProgress)
}

/// Stores the answer of a claimed key.
pub async fn complete(
    db: &DatabaseConnection,
    org_id: &str,
    key: &str,
    status: u16,
    body: &str,
) -> Result<()> {
    idempotency_key::Entity::update_many()
        .col_expr(
            idempotency_key::Column::ResponseStatus,
            Expr::value(status as i32),
        )
        .col_expr(idempotency_key::Column::ResponseBody, Expr::value(body))
        .filter(idempotency_key::Column::OrganizationId.eq(org_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets a claimed key whose request stored nothing.
pub async fn release(db: &DatabaseConnection, org_id: &str, key: &str) -> Result<()> {
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::OrganizationId.eq(org_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .filter(idempotency_key::Column::ResponseStatus.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets a key past its retention, answered or not (a concurrent
/// request may already have claimed it afresh: that row is kept).
async fn forget_expired(
    db: &DatabaseConnection,
    org_id: &str,
    key: &str,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::OrganizationId.eq(org_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .filter(idempotency_key::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes expired keys; returns how many.
pub async fn purge_expired(db: &DatabaseConnection) -> Result<u64> {
    let result = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::ExpiresAt.lt(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
