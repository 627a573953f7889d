//! The organization's events (an outbox): each is written by `record` in the
//! same transaction as the change it reports, with one delivery per
//! subscribed endpoint and each delivery's first job, so a crash between the
//! change and the delivery loses nothing: either all of it committed, or
//! none. The job queue then delivers (`webhooks::DeliverWebhook`).
use chrono::Utc;
use entity::{
    bank_account, payout,
    states::{EventKind, PayoutStatus},
    webhook_event,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{json, Value};

use super::{
    ledger::get_balance,
    page::Page,
    webhooks::{self, wire_time},
};
use crate::{error::Result, ids};

/// Records an event of `org_id` inside the caller's transaction, with a
/// delivery (and its first job) for each active endpoint subscribed to it.
/// Returns the event's id (`whev_…`).
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    kind: EventKind,
    data: Value,
) -> Result<String> {
    let row = webhook_event::Model {
        id: ids::new_id("whev"),
        organization_id: org_id.to_string(),
        event: kind,
        data: data.to_string(),
        created_at: Utc::now(),
    };
    webhook_event::Entity::insert(webhook_event::ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await?;
    webhooks::fan_out(conn, &row).await?;
    Ok(row.id)
}

/// `payout.available` with the organization's whole available balance, read
/// inside the caller's transaction. Call it from every path that makes money
/// available (a credit to available, a release, a failed or canceled payout
/// giving its amount back, a hold released), after the ledger posting.
/// Money that only repays a debt (available still zero or below, after an
/// operator's debit or hold) makes nothing available: no event.
pub async fn record_funds_available<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
) -> Result<Option<String>> {
    let balance = get_balance(conn, org_id).await?;
    if balance.available <= 0 {
        return Ok(None);
    }
    record(
        conn,
        org_id,
        EventKind::PayoutAvailable,
        json!({"availableAmount": balance.available, "currency": balance.currency}),
    )
    .await
    .map(Some)
}

/// The payout event its move to `to` fires (`payout.created` for a new
/// payout, `pending`), inside the caller's transaction; a move that fires
/// none (`in_transit`, `canceled`) records nothing.
pub async fn record_payout<C: ConnectionTrait>(conn: &C, payout: &payout::Model) -> Result<()> {
    let kind = match payout.status {
        PayoutStatus::Pending => EventKind::PayoutCreated,
        PayoutStatus::Paid => EventKind::PayoutPaid,
        PayoutStatus::Failed => EventKind::PayoutFailed,
        PayoutStatus::InTransit | PayoutStatus::Canceled => return Ok(()),
    };
    let bank = bank_account::Entity::find_by_id(payout.bank_account_id.clone())
        .one(conn)
        .await?;
    let data = payout_data(payout, bank.as_ref());
    record(conn, &payout.organization_id, kind, data).await?;
    Ok(())
}

/// `PayoutCreatedData` / `PayoutPaidData` / `PayoutFailedData` of Commet's
/// SDKs: the bank by its name and last four digits, never its number.
pub fn payout_data(payout: &payout::Model, bank: Option<&bank_account::Model>) -> Value {
    let mut data = json!({
        "payoutId": payout.id,
        "amount": payout.amount,
        "fee": payout.fee,
        "netAmount": payout.net_amount,
        "currency": payout.currency,
        "status": payout.status.as_str(),
        "destinationBank": bank.map(|b| json!({"bankName": b.bank_name, "last4": b.last4})),
    });
    let fields = data.as_object_mut().expect("an object");
    match payout.status {
        PayoutStatus::Paid => {
            fields.insert("paidAt".into(), json!(payout.paid_at.map(wire_time)));
        }
        PayoutStatus::Failed => {
            fields.insert("failedAt".into(), json!(payout.failed_at.map(wire_time)));
            fields.insert("failureCode".into(), json!(payout.failure_code));
            fields.insert("failureMessage".into(), json!(payout.failure_message));
        }
        _ => {
            fields.insert("createdAt".into(), json!(wire_time(payout.created_at)));
        }
    }
    data
}

/// The organization's events, newest first (test events excluded); `cursor`
/// is the last event id of the previous page (another organization's is
/// not found).
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<webhook_event::Model>> {
    let mut query = webhook_event::Entity::find()
        .filter(webhook_event::Column::OrganizationId.eq(org_id))
        .filter(webhook_event::Column::Event.ne(EventKind::WebhookTest))
        .order_by_desc(webhook_event::Column::CreatedAt)
        .order_by_desc(webhook_event::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        let unknown = crate::error::Error::UnknownCursor("event");
        if !ids::is_own_id("whev", cursor) {
            return Err(unknown);
        }
        let after = webhook_event::Entity::find_by_id(cursor)
            .filter(webhook_event::Column::OrganizationId.eq(org_id))
            .one(conn)
            .await?
            .ok_or(unknown)?;
        query = query.filter(super::page::after(
            webhook_event::Column::CreatedAt,
            webhook_event::Column::Id,
            after.created_at,
            after.id,
        ));
    }
    Ok(Page::from_overfetch(query.all(conn).await?, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payout_data_has_the_sdk_fields_and_never_the_account_number() {
        let now = Utc::now();
        let mut payout = payout::Model {
            id: "po_1".into(),
            organization_id: "org_1".into(),
            bank_account_id: "pba_1".into(),
            status: PayoutStatus::Pending,
            amount: 2500,
            fee: 25,
            net_amount: 2475,
            currency: "usd".into(),
            description: None,
            provider: "sandbox".into(),
            provider_transfer_id: None,
            provider_payout_id: None,
            failure_code: None,
            failure_message: None,
            idempotency_key: None,
            created_at: now,
            updated_at: now,
            paid_at: None,
            failed_at: None,
            submitted_at: None,
        };
        let bank = bank_account::Model {
            id: "pba_1".into(),
            organization_id: "org_1".into(),
            payout_account_id: "pacct_1".into(),
            provider_external_account_id: None,
            holder_name: "Ann".into(),
            last4: "6789".into(),
            account_number_encrypted: "secret".into(),
            routing_number: None,
            bank_name: Some("STRIPE TEST BANK".into()),
            account_type: None,
            country: "US".into(),
            currency: "usd".into(),
            is_default: true,
            status: entity::states::BankAccountStatus::Active,
            created_at: now,
            deleted_at: None,
        };
        let created = payout_data(&payout, Some(&bank));
        let keys: Vec<&str> = created
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "amount",
                "createdAt",
                "currency",
                "destinationBank",
                "fee",
                "netAmount",
                "payoutId",
                "status"
            ]
        );
        assert_eq!(
            created["destinationBank"],
            json!({"bankName": "STRIPE TEST BANK", "last4": "6789"})
        );
        payout.status = PayoutStatus::Failed;
        payout.failed_at = Some(now);
        payout.failure_code = Some("no_account".into());
        let failed = payout_data(&payout, None);
        assert_eq!(failed["destinationBank"], Value::Null);
        assert_eq!(failed["failureCode"], "no_account");
        assert_eq!(failed["failureMessage"], Value::Null);
        assert!(failed["failedAt"].is_string());
        assert!(failed.get("createdAt").is_none());
    }
}
