//! Applies provider events: each event id once, stale or out-of-order
//! events ignored, in one transaction with the state change it causes.
use chrono::Utc;
use entity::{bank_account, payout, payout_account, provider_event};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::{payouts, App};
use crate::{
    db,
    domain::account_status::{AccountLifecycle, AccountStatus},
    error::{Error, Result},
    ids,
    provider::{EventObject, ProviderEvent, WebhookError},
};

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It changed something.
    Applied,
    /// Seen before, stale, or a move the lifecycle refuses.
    Ignored,
    /// Delivered before: nothing done.
    Duplicate,
}

pub async fn handle(
    app: &App,
    provider: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Applied> {
    let provider = app
        .provider_named(provider)
        .ok_or_else(|| Error::NotFound("no such webhook provider".into()))?;
    let event = provider
        .parse_webhook(signature, body, Utc::now())
        .map_err(|err| match err {
            WebhookError::Signature(reason) => Error::InvalidSignature(reason),
            WebhookError::Malformed(reason) => Error::MalformedEvent(reason),
        })?;
    check_storable(&event)?;
    apply(app, provider.name(), &event).await
}

/// The longest text of a provider event stored (its type, a failure's code
/// and message); the spec's `ProviderEvent` says it in characters.
pub const MAX_TEXT_BYTES: usize = 1000;

/// Every text of the event is looked up or stored: refuse what an engine
/// cannot store (PostgreSQL refuses NUL) before any query, so both engines
/// answer the same. Field names are those of the Stripe-shaped body.
fn check_storable(event: &ProviderEvent) -> Result<()> {
    let mut ids = vec![("id", Some(event.id.as_str()))];
    let mut texts = vec![("type", Some(event.event_type.as_str()))];
    match &event.object {
        EventObject::Account { account_id, .. } => {
            ids.push(("data.object.id", Some(account_id.as_str())))
        }
        EventObject::Payout {
            transfer_id,
            payout_id,
            failure_code,
            failure_message,
            ..
        } => {
            ids.push(("data.object.id", Some(transfer_id.as_str())));
            ids.push(("data.object.metadata.payout_id", payout_id.as_deref()));
            texts.push(("data.object.failure_code", failure_code.as_deref()));
            texts.push(("data.object.failure_message", failure_message.as_deref()));
        }
        EventObject::BankAccount {
            external_account_id,
            ..
        } => ids.push(("data.object.id", Some(external_account_id.as_str()))),
        EventObject::Other => {}
    }
    for (field, value) in ids {
        if value.is_some_and(|v| !ids::is_external_id(v)) {
            return Err(Error::field(
                field,
                "must be 1 to 255 printable ASCII characters",
            ));
        }
    }
    for (field, value) in texts {
        if value.is_some_and(|v| v.contains('\0') || v.len() > MAX_TEXT_BYTES) {
            return Err(Error::field(
                field,
                format!("must be text without NUL, at most {MAX_TEXT_BYTES} bytes"),
            ));
        }
    }
    Ok(())
}

pub async fn apply(app: &App, provider: &str, event: &ProviderEvent) -> Result<Applied> {
    let txn = db::begin_write(&app.db).await?;
    // Recording the event id first makes a redelivery (even a concurrent
    // one) a no-op: only one transaction can insert it.
    let inserted = provider_event::Entity::insert(provider_event::ActiveModel {
        provider: Set(provider.to_string()),
        event_id: Set(event.id.clone()),
        event_type: Set(event.event_type.clone()),
        received_at: Set(Utc::now()),
    })
    .on_conflict_do_nothing()
    .exec(&txn)
    .await?;
    if matches!(inserted, sea_orm::TryInsertResult::Conflicted) {
        return Ok(Applied::Duplicate);
    }
    let applied = match &event.object {
        EventObject::Account { account_id, status } => {
            match apply_account(&txn, provider, account_id, *status, event).await? {
                Some(applied) => applied,
                None => return Err(not_yet_known()),
            }
        }
        EventObject::Payout {
            transfer_id,
            payout_id,
            status,
            failure_code,
            failure_message,
        } => {
            let Some(payout) =
                find_payout(&txn, provider, transfer_id, payout_id.as_deref()).await?
            else {
                return Err(not_yet_known());
            };
            let failure = match (failure_code, failure_message) {
                (Some(code), message) => Some((
                    code.as_str(),
                    message.as_deref().unwrap_or("The payout failed."),
                )),
                _ => None,
            };
            let moved =
                payouts::apply_status(&txn, &payout.id, *status, failure, event.created).await?;
            if moved {
                payouts::after_provider_failure(
                    app,
                    &txn,
                    &payout.id,
                    *status,
                    failure_code.as_deref(),
                )
                .await?;
            }
            moved
        }
        EventObject::BankAccount {
            external_account_id,
            status,
        } => {
            let Some(bank) = bank_account::Entity::find()
                .filter(bank_account::Column::ProviderExternalAccountId.eq(external_account_id))
                .one(&txn)
                .await?
            else {
                return Err(not_yet_known());
            };
            bank.status != *status
                && bank_account::Entity::update_many()
                    .col_expr(bank_account::Column::Status, Expr::value(*status))
                    .filter(bank_account::Column::Id.eq(bank.id))
                    .exec(&txn)
                    .await?
                    .rows_affected
                    == 1
        }
        EventObject::Other => false,
    };
    txn.commit().await?;
    Ok(if applied {
        Applied::Applied
    } else {
        Applied::Ignored
    })
}

/// An event about an object this service does not have (yet: a provider
/// can call back before the transaction that stores the object commits).
/// The event is not recorded (the transaction rolls back), and the non-2xx
/// answer makes the provider deliver it again later.
fn not_yet_known() -> Error {
    Error::NotFound("no object for this event (yet); deliver it again later".into())
}

async fn find_payout<C: ConnectionTrait>(
    conn: &C,
    provider: &str,
    transfer_id: &str,
    payout_id: Option<&str>,
) -> Result<Option<payout::Model>> {
    // Our id in the metadata finds a payout whose transfer id we have not
    // recorded yet (the provider answered, then we crashed).
    if let Some(payout_id) = payout_id {
        if let Some(found) = payout::Entity::find_by_id(payout_id)
            .filter(payout::Column::Provider.eq(provider))
            .one(conn)
            .await?
        {
            // The object is the transfer or (Stripe) the bank payout.
            let ours = |id: &Option<String>| id.as_deref().is_none_or(|id| id == transfer_id);
            if ours(&found.provider_transfer_id)
                || found.provider_payout_id.as_deref() == Some(transfer_id)
                || (ours(&found.provider_payout_id) && found.provider_transfer_id.is_none())
            {
                return Ok(Some(found));
            }
        }
    }
    Ok(payout::Entity::find()
        .filter(payout::Column::Provider.eq(provider))
        .filter(
            sea_orm::Condition::any()
                .add(payout::Column::ProviderTransferId.eq(transfer_id))
                .add(payout::Column::ProviderPayoutId.eq(transfer_id)),
        )
        .one(conn)
        .await?)
}

async fn apply_account<C: ConnectionTrait>(
    conn: &C,
    provider: &str,
    account_id: &str,
    to: AccountStatus,
    event: &ProviderEvent,
) -> Result<Option<bool>> {
    let Some(account) = payout_account::Entity::find()
        .filter(payout_account::Column::Provider.eq(provider))
        .filter(payout_account::Column::ProviderAccountId.eq(account_id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    // Account events are snapshots: an older one than the last applied is stale.
    if account
        .last_event_at
        .is_some_and(|last| event.created < last)
    {
        return Ok(Some(false));
    }
    let from = account.status;
    if !from.can_move_to(to) {
        return Ok(Some(false));
    }
    let moved = payout_account::Entity::update_many()
        .col_expr(payout_account::Column::Status, Expr::value(to))
        .col_expr(
            payout_account::Column::TransfersEnabled,
            Expr::value(to.transfers_enabled()),
        )
        .col_expr(
            payout_account::Column::LastEventAt,
            Expr::value(event.created),
        )
        .col_expr(payout_account::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payout_account::Column::Id.eq(account.id))
        .filter(payout_account::Column::Status.eq(account.status))
        .exec(conn)
        .await?;
    Ok(Some(moved.rows_affected == 1))
}
