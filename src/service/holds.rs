//! Holds: money moved from available to held while a dispute or a review is
//! open (when available is short it goes negative, as with debits), once per
//! `externalId`; then released back to available, or captured for good (a
//! lost dispute). A hold is resolved once: releasing a released hold (or
//! capturing a captured one) returns it, the other way is a conflict.
use chrono::Utc;
use entity::{
    hold, organization,
    states::{HoldReason, HoldStatus},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use super::{
    events, ledger,
    movements::{check, make_once, Applied, Movement},
};
use crate::{
    domain::ledger::{hold as hold_posting, hold_capture, hold_release},
    error::{Error, Result},
    group_commit::Writer,
    ids,
};

#[derive(Debug, Clone)]
pub struct NewHold {
    pub external_id: String,
    pub amount: i64,
    pub reason: HoldReason,
}

impl Movement for hold::Model {
    const KIND: &'static str = "hold";

    type Entity = hold::Entity;
    const ORGANIZATION_ID: hold::Column = hold::Column::OrganizationId;
    const EXTERNAL_ID: hold::Column = hold::Column::ExternalId;

    fn describe(&self) -> String {
        format!("of {} ({})", self.amount, self.reason)
    }
}

/// Holds `new.amount` of `org`'s available balance unless a hold with its
/// `external_id` exists: then that one is returned if it has the same amount
/// and reason (whatever its status now), and the request is a conflict
/// otherwise.
pub async fn create(
    writer: &Writer,
    org: &organization::Model,
    new: NewHold,
) -> Result<Applied<hold::Model>> {
    check(&new.external_id, new.amount, None)?;
    let (org_id, external_id) = (org.id.clone(), new.external_id.clone());
    let same = |found: &hold::Model| found.amount == new.amount && found.reason == new.reason;
    let (org, new) = (org.clone(), new.clone());
    make_once(writer, &org_id, &external_id, same, move |txn| {
        Box::pin(async move {
            let transaction_id = ledger::post_with(
                txn,
                &org.id,
                &org.currency,
                &hold_posting(new.amount),
                None,
                Some(&new.external_id),
            )
            .await?;
            let row = hold::Model {
                id: ids::new_id("hold"),
                organization_id: org.id.clone(),
                external_id: new.external_id.clone(),
                amount: new.amount,
                currency: org.currency.clone(),
                reason: new.reason,
                status: HoldStatus::Open,
                transaction_id,
                resolution_transaction_id: None,
                created_at: Utc::now(),
                resolved_at: None,
            };
            hold::Entity::insert(hold::ActiveModel::from(row.clone()))
                .exec_without_returning(txn)
                .await?;
            Ok(row)
        })
    })
    .await
}

/// The hold `hold_id` of `org_id` (another organization's is not found).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    hold_id: &str,
) -> Result<hold::Model> {
    if !ids::is_own_id("hold", hold_id) {
        return Err(Error::NotFound("no such hold".into()));
    }
    hold::Entity::find_by_id(hold_id)
        .filter(hold::Column::OrganizationId.eq(org_id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("no such hold".into()))
}

/// Releases an open hold: its money goes back to available (repaying a
/// debt first, if available is negative). Available money rises here: the
/// place a `payout.available` event belongs (in the transaction below).
pub async fn release(writer: &Writer, org_id: &str, hold_id: &str) -> Result<hold::Model> {
    resolve(writer, org_id, hold_id, HoldStatus::Released).await
}

/// Captures an open hold: its money leaves the service for good.
pub async fn capture(writer: &Writer, org_id: &str, hold_id: &str) -> Result<hold::Model> {
    resolve(writer, org_id, hold_id, HoldStatus::Captured).await
}

async fn resolve(
    writer: &Writer,
    org_id: &str,
    hold_id: &str,
    to: HoldStatus,
) -> Result<hold::Model> {
    let (org_id, hold_id) = (org_id.to_string(), hold_id.to_string());
    writer
        .write(move |txn| {
            Box::pin(async move {
                // Locked: two resolutions at once apply one after the other,
                // and the second sees the first's status.
                let row = find_locked(txn, &org_id, &hold_id).await?;
                match row.status {
                    HoldStatus::Open => {}
                    status if status == to => return Ok(row),
                    status => {
                        return Err(Error::HoldResolved(format!(
                            "hold {hold_id} was already {status}"
                        )))
                    }
                }
                let posting = if to == HoldStatus::Released {
                    hold_release(row.amount)
                } else {
                    hold_capture(row.amount)
                };
                let transaction_id = ledger::post_with(
                    txn,
                    &org_id,
                    &row.currency,
                    &posting,
                    None,
                    Some(&row.external_id),
                )
                .await?;
                if to == HoldStatus::Released {
                    events::record_funds_available(txn, &org_id).await?;
                }
                let mut active: hold::ActiveModel = row.into();
                active.status = Set(to);
                active.resolution_transaction_id = Set(Some(transaction_id));
                active.resolved_at = Set(Some(Utc::now()));
                Ok(hold::Entity::update(active).exec(txn).await?)
            })
        })
        .await
}

async fn find_locked<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    hold_id: &str,
) -> Result<hold::Model> {
    if !ids::is_own_id("hold", hold_id) {
        return Err(Error::NotFound("no such hold".into()));
    }
    hold::Entity::find_by_id(hold_id)
        .filter(hold::Column::OrganizationId.eq(org_id))
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("no such hold".into()))
}
