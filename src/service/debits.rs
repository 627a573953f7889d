//! Debits: money taken from available (a refund, an adjustment), once per
//! `externalId`. When available is short it goes negative, as Stripe's
//! balance does: a debt that later credits repay first, and no payout until
//! available covers it.
use chrono::Utc;
use entity::{debit, organization, states::DebitReason};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{
    ledger,
    movements::{check, made_or_found, same_or_conflict, Applied, WriteError},
};
use crate::{domain::ledger::debit as debit_posting, error::Result, group_commit::Writer, ids};

#[derive(Debug, Clone)]
pub struct NewDebit {
    pub external_id: String,
    pub amount: i64,
    pub reason: DebitReason,
    pub description: Option<String>,
}

async fn find_by_external<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    external_id: &str,
) -> std::result::Result<Option<debit::Model>, sea_orm::DbErr> {
    debit::Entity::find()
        .filter(debit::Column::OrganizationId.eq(org_id))
        .filter(debit::Column::ExternalId.eq(external_id))
        .one(conn)
        .await
}

/// Debits `new.amount` from `org`'s available balance (which may go
/// negative) unless a debit with its `external_id` exists: then that one is
/// returned if it has the same amount and reason, and the request is a
/// conflict otherwise.
pub async fn create(
    writer: &Writer,
    org: &organization::Model,
    new: NewDebit,
) -> Result<Applied<debit::Model>> {
    check(&new.external_id, new.amount, new.description.as_deref())?;
    let attempt = {
        let org = org.clone();
        let new = new.clone();
        writer
            .write(move |txn| {
                Box::pin(async move {
                    if let Some(existing) = find_by_external(txn, &org.id, &new.external_id).await?
                    {
                        return Ok(Applied::Existing(existing));
                    }
                    let transaction_id = ledger::post_with(
                        txn,
                        &org.id,
                        &org.currency,
                        &debit_posting(new.amount),
                        None,
                        Some(&new.external_id),
                    )
                    .await?;
                    let row = debit::Model {
                        id: ids::new_id("dbt"),
                        organization_id: org.id.clone(),
                        external_id: new.external_id.clone(),
                        amount: new.amount,
                        currency: org.currency.clone(),
                        reason: new.reason,
                        description: new.description.clone(),
                        transaction_id,
                        created_at: Utc::now(),
                    };
                    debit::Entity::insert(debit::ActiveModel::from(row.clone()))
                        .exec_without_returning(txn)
                        .await?;
                    Ok::<_, WriteError>(Applied::Created(row))
                })
            })
            .await
    };
    let (org_id, external_id) = (org.id.clone(), new.external_id.clone());
    let found = match made_or_found(writer, "debit", attempt, move |txn| {
        Box::pin(async move { find_by_external(txn, &org_id, &external_id).await })
    })
    .await?
    {
        Applied::Created(row) => return Ok(Applied::Created(row)),
        Applied::Existing(row) => row,
    };
    let same = found.amount == new.amount && found.reason == new.reason;
    same_or_conflict(found, "debit", &new.external_id, same, |d| {
        format!("of {} ({})", d.amount, d.reason)
    })
}
