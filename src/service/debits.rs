//! Debits: money taken from available (a refund, an adjustment), once per
//! `externalId`. When available is short it goes negative, as Stripe's
//! balance does: a debt that later credits repay first, and no payout until
//! available covers it.
use chrono::Utc;
use entity::{debit, organization, states::DebitReason};
use sea_orm::EntityTrait;

use super::{
    ledger,
    movements::{check, make_once, Applied, Movement},
};
use crate::{domain::ledger::debit as debit_posting, error::Result, group_commit::Writer, ids};

#[derive(Debug, Clone)]
pub struct NewDebit {
    pub external_id: String,
    pub amount: i64,
    pub reason: DebitReason,
    pub description: Option<String>,
}

impl Movement for debit::Model {
    const KIND: &'static str = "debit";

    type Entity = debit::Entity;
    const ORGANIZATION_ID: debit::Column = debit::Column::OrganizationId;
    const EXTERNAL_ID: debit::Column = debit::Column::ExternalId;

    fn describe(&self) -> String {
        format!("of {} ({})", self.amount, self.reason)
    }
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
    let (org_id, external_id) = (org.id.clone(), new.external_id.clone());
    let same = |found: &debit::Model| found.amount == new.amount && found.reason == new.reason;
    let (org, new) = (org.clone(), new.clone());
    make_once(writer, &org_id, &external_id, same, move |txn| {
        Box::pin(async move {
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
            Ok(row)
        })
    })
    .await
}
