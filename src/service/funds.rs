//! Funds in: credits from outside, pending funds released to available, and
//! the list of ledger transactions an organization can read.
use chrono::{DateTime, Utc};
use entity::{balance, ledger_transaction, organization};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::{
    events,
    ledger::{get_balance, lock_balance, post},
    page::{self, Page},
    App,
};
use crate::{
    db,
    domain::ledger,
    error::{Error, Result},
    queue::{self, Job, Outcome},
};

/// Credits funds that arrived from outside (customer payments). They land
/// in `available`, or in `pending` when `pending` is set; with
/// `available_on`, a job releases them on that date.
pub async fn credit(
    conn: &DatabaseConnection,
    org: &organization::Model,
    amount: i64,
    pending: bool,
    available_on: Option<DateTime<Utc>>,
) -> Result<balance::Model> {
    if amount <= 0 {
        return Err(Error::field("amount", "must be a positive number of cents"));
    }
    let pending = pending || available_on.is_some();
    let txn = db::begin_write(conn).await?;
    let transaction_id = post(
        &txn,
        &org.id,
        &org.currency,
        &ledger::credit(amount, pending),
        None,
    )
    .await?;
    if let Some(at) = available_on {
        let job = ReleaseFunds {
            organization_id: org.id.clone(),
            amount,
        };
        queue::enqueue(&txn, &format!("release_{transaction_id}"), &job, at).await?;
    }
    if !pending {
        events::record_funds_available(&txn, &org.id).await?;
    }
    let balance = get_balance(&txn, &org.id).await?;
    txn.commit().await?;
    Ok(balance)
}

/// Moves pending funds to available: `amount`, or all of them. Releasing
/// more than is pending releases what there is.
pub async fn release<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    amount: Option<i64>,
) -> Result<balance::Model> {
    let current = lock_balance(conn, org_id).await?;
    let amount = std::cmp::min(amount.unwrap_or(current.pending), current.pending);
    if amount > 0 {
        post(
            conn,
            org_id,
            &current.currency,
            &ledger::release(amount),
            None,
        )
        .await?;
        events::record_funds_available(conn, org_id).await?;
    }
    get_balance(conn, org_id).await
}

/// Releases funds credited with an `available_on` date, when it comes.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseFunds {
    organization_id: String,
    amount: i64,
}

#[async_trait::async_trait]
impl Job for ReleaseFunds {
    const KIND: &'static str = "release_funds";
    type Context = App;

    async fn run(self, app: &App, _attempt: i32) -> Outcome {
        let result = async {
            let txn = db::begin_write(&app.db).await?;
            release(&txn, &self.organization_id, Some(self.amount)).await?;
            txn.commit().await?;
            Ok::<_, Error>(())
        }
        .await;
        match result {
            Ok(()) => Outcome::Done,
            Err(err) => Outcome::Retry(err.to_string()),
        }
    }
}

/// Keyset pagination: `cursor` is the id of the last transaction of the
/// previous page (scoped to the organization: another's id is not found).
pub async fn transactions(
    conn: &DatabaseConnection,
    org_id: &str,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<ledger_transaction::Model>> {
    let mut query = ledger_transaction::Entity::find()
        .filter(ledger_transaction::Column::OrganizationId.eq(org_id))
        .order_by_desc(ledger_transaction::Column::CreatedAt)
        .order_by_desc(ledger_transaction::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        // A cursor of a form we never issue is not found either (checked
        // before the query: PostgreSQL refuses NUL in text). The spec cannot
        // state the form, so it is not a 422 on schema-valid input.
        if !crate::ids::is_own_id("txn", cursor) {
            return Err(Error::NotFound("no such transaction (cursor)".into()));
        }
        let after = ledger_transaction::Entity::find_by_id(cursor)
            .filter(ledger_transaction::Column::OrganizationId.eq(org_id))
            .one(conn)
            .await?
            // Like any id of another organization's: not found.
            .ok_or_else(|| Error::NotFound("no such transaction (cursor)".into()))?;
        query = query.filter(page::after(
            ledger_transaction::Column::CreatedAt,
            ledger_transaction::Column::Id,
            after.created_at,
            after.id,
        ));
    }
    Ok(Page::from_overfetch(query.all(conn).await?, limit))
}
