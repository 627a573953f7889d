//! One verification per organization at a time. Before the identity
//! document is fetched or the provider is called, the request takes the
//! organization's claim (a row, unique per organization); concurrent
//! verifications wait for it. The claim's `account_id` is the payout
//! account's id and the provider's idempotency key, and it survives a
//! failed or crashed attempt, so however often verification is retried the
//! provider is asked for one account. A claim whose holder died expires
//! after its lease and the next attempt takes it over.
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::verification_claim;
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter,
};

use crate::{db, error::Result, ids};

/// How often a waiting verification looks whether the claim is done.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A claim this attempt holds.
#[derive(Debug, Clone)]
pub struct Claim {
    pub organization_id: String,
    /// The payout account's id to be: the provider's idempotency key.
    pub account_id: String,
    holder: String,
}

/// Takes the organization's claim for `lease`, or `None` while another live
/// attempt holds it.
pub async fn try_claim(
    conn: &DatabaseConnection,
    organization_id: &str,
    lease: Duration,
) -> Result<Option<Claim>> {
    let now = Utc::now();
    // Waiters poll: look before trying to write (a failed insert is not free).
    let held = verification_claim::Entity::find_by_id(organization_id)
        .one(conn)
        .await?
        .is_some_and(|claim| claim.expires_at > now);
    if held {
        return Ok(None);
    }
    let expires_at = now + lease;
    let holder = ids::new_id("vclm");
    let account_id = ids::new_id("pacct");
    let row = verification_claim::ActiveModel {
        organization_id: Set(organization_id.to_string()),
        account_id: Set(account_id.clone()),
        holder: Set(holder.clone()),
        expires_at: Set(expires_at),
        created_at: Set(now),
    };
    match verification_claim::Entity::insert(row)
        .exec_without_returning(conn)
        .await
    {
        Ok(_) => {
            return Ok(Some(Claim {
                organization_id: organization_id.to_string(),
                account_id,
                holder,
            }))
        }
        Err(err) if db::is_unique_violation(&err) => {}
        Err(err) => return Err(err.into()),
    }
    let Some(current) = verification_claim::Entity::find_by_id(organization_id)
        .one(conn)
        .await?
    else {
        return Ok(None); // finished or released just now: look again
    };
    if current.expires_at > now {
        return Ok(None);
    }
    // Expired: take it over, keeping its account id. Conditional on the
    // holder read, so of several attempts taking over only one wins.
    let taken = verification_claim::Entity::update_many()
        .col_expr(verification_claim::Column::Holder, Expr::value(&holder))
        .col_expr(
            verification_claim::Column::ExpiresAt,
            Expr::value(expires_at),
        )
        .filter(verification_claim::Column::OrganizationId.eq(organization_id))
        .filter(verification_claim::Column::Holder.eq(current.holder))
        .exec(conn)
        .await?;
    Ok((taken.rows_affected == 1).then_some(Claim {
        organization_id: current.organization_id,
        account_id: current.account_id,
        holder,
    }))
}

/// Gives a claim up after an attempt that failed once the provider was
/// called: it expires now, so the next
/// attempt takes it over at once, with the same account id.
pub async fn release(conn: &DatabaseConnection, claim: &Claim) -> Result<()> {
    verification_claim::Entity::update_many()
        .col_expr(
            verification_claim::Column::ExpiresAt,
            Expr::value(DateTime::<Utc>::UNIX_EPOCH),
        )
        .filter(verification_claim::Column::OrganizationId.eq(&claim.organization_id))
        .filter(verification_claim::Column::Holder.eq(&claim.holder))
        .exec(conn)
        .await?;
    Ok(())
}

/// Drops a claim whose attempt never reached the provider (the document
/// could not be fetched): nothing remains of it.
pub async fn abandon(conn: &DatabaseConnection, claim: &Claim) -> Result<()> {
    verification_claim::Entity::delete_many()
        .filter(verification_claim::Column::OrganizationId.eq(&claim.organization_id))
        .filter(verification_claim::Column::Holder.eq(&claim.holder))
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends a claim whose account is stored, inside the storing transaction.
pub async fn finish<C: ConnectionTrait>(conn: &C, claim: &Claim) -> Result<()> {
    verification_claim::Entity::delete_many()
        .filter(verification_claim::Column::OrganizationId.eq(&claim.organization_id))
        .exec(conn)
        .await?;
    Ok(())
}
