//! Reconciliation: webhooks get lost and providers time out, so the
//! provider is asked directly about (1) payouts whose submission is
//! uncertain (no provider id recorded a while after they were made: the
//! call timed out or the instance died) and (2) payouts `pending` or
//! `in_transit` for longer than `reconcile_after`. What it finds goes
//! through the same state machine as events (`payouts::apply_status`), so a
//! result applied twice, or raced by an event, moves the payout once.
use chrono::Utc;
use entity::{organization, payout, states::PayoutStatus};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::{payouts, App};
use crate::{
    db,
    domain::payout_status::PayoutLifecycle,
    error::Result,
    provider::{PayoutState, Submitted},
};

/// One thing reconciliation changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub payout_id: String,
    pub organization_id: String,
    /// `found_at_provider` (ids recorded) or `status`.
    pub kind: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub detail: String,
}

/// Reconciles every open payout due for it (of one organization, if given).
/// A payout the provider cannot be asked about now is left for next time.
pub async fn run(app: &App, org_id: Option<&str>) -> Result<Vec<Change>> {
    let now = app.clock.now();
    let uncertain_before = now - app.config.provider_retry_delay;
    let stale_before = now - app.config.reconcile_after;
    // Uncertain: no transfer id yet, or (two-step providers) no bank payout id.
    let two_step = app.providers.two_step_names();
    let mut query = payout::Entity::find()
        .filter(payout::Column::Status.is_in(PayoutStatus::holding_reservation()))
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(
                            Condition::any()
                                .add(payout::Column::ProviderTransferId.is_null())
                                .add(
                                    Condition::all()
                                        .add(payout::Column::ProviderPayoutId.is_null())
                                        .add(payout::Column::Provider.is_in(two_step)),
                                ),
                        )
                        .add(payout::Column::CreatedAt.lt(uncertain_before)),
                )
                .add(payout::Column::UpdatedAt.lt(stale_before)),
        )
        .order_by_asc(payout::Column::CreatedAt);
    if let Some(org_id) = org_id {
        query = query.filter(payout::Column::OrganizationId.eq(org_id));
    }
    let mut changes = Vec::new();
    for row in query.all(&app.db).await? {
        if let Err(err) = reconcile_one(app, row.clone(), &mut changes).await {
            tracing::warn!(payout = %row.id, error = %err, "payout not reconciled this time");
        }
    }
    Ok(changes)
}

async fn reconcile_one(app: &App, mut row: payout::Model, changes: &mut Vec<Change>) -> Result<()> {
    let Some(org) = organization::Entity::find_by_id(row.organization_id.clone())
        .one(&app.db)
        .await?
    else {
        return Ok(());
    };
    if !payouts::is_submitted(app, &row) {
        let Some(found) = payouts::settle_uncertain(app, &row).await? else {
            // Not made (yet): the submit job makes it, or fails it once certain.
            return Ok(());
        };
        if row.provider_transfer_id.as_deref() != Some(&found.transfer_id)
            || row.provider_payout_id != found.payout_id
        {
            payouts::record_submitted(app, &row.id, &found).await?;
            changes.push(Change {
                payout_id: row.id.clone(),
                organization_id: row.organization_id.clone(),
                kind: "found_at_provider",
                from: row.status.as_str(),
                to: row.status.as_str(),
                detail: format!(
                    "the provider made it: transfer {}, payout {}",
                    found.transfer_id,
                    found.payout_id.as_deref().unwrap_or("not yet")
                ),
            });
        }
        row.provider_transfer_id = Some(found.transfer_id);
        row.provider_payout_id = found.payout_id;
    }
    let Some(transfer_id) = row.provider_transfer_id.clone() else {
        return Ok(());
    };
    // Never asked about under an empty account id: skipped, and said so.
    let Some(account) = super::accounts::find_account(&app.db, &row.organization_id)
        .await?
        .map(|a| a.provider_account_id)
    else {
        tracing::warn!(
            payout = %row.id,
            organization = %row.organization_id,
            "payout not reconciled: its organization has no payout account"
        );
        return Ok(());
    };
    let provider = payouts::payout_provider(app, &row, &org)?;
    let submitted = Submitted {
        transfer_id,
        payout_id: row.provider_payout_id.clone(),
    };
    let Some(state) = provider.payout_state(&account, &submitted).await? else {
        return Ok(());
    };
    let PayoutState {
        status,
        failure_code,
        failure_message,
    } = state;
    if status == row.status {
        return Ok(());
    }
    let txn = db::begin_write(&app.db).await?;
    let failure = failure_code.as_deref().map(|code| {
        (
            code,
            failure_message.as_deref().unwrap_or("The payout failed."),
        )
    });
    let moved = payouts::apply_status(&txn, &row.id, status, failure, Utc::now()).await?;
    if moved {
        payouts::after_provider_failure(app, &txn, &row.id, status, failure_code.as_deref())
            .await?;
    }
    txn.commit().await?;
    if moved {
        changes.push(Change {
            payout_id: row.id.clone(),
            organization_id: row.organization_id.clone(),
            kind: "status",
            from: row.status.as_str(),
            to: status.as_str(),
            detail: match failure_code {
                Some(code) => format!("the provider says {status} ({code})"),
                None => format!("the provider says {status}"),
            },
        });
    }
    Ok(())
}
