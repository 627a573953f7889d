//! Funds in: credits from outside, pending funds released to available, and
//! the list of ledger transactions an organization can read.
use chrono::{DateTime, Utc};
use entity::{balance, ledger_transaction, organization};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    credits,
    ledger::get_balance,
    page::{self, Page},
};
use crate::error::{Error, Result};

/// Credits funds that arrived from outside (customer payments), as
/// `credits::create` does with an external id of its own (so not
/// idempotent: the CLI's `--external-id` makes it so). They land in
/// `available`, or in `pending` when `pending` is set; with `available_on`,
/// a job releases them then. Returns the new balance.
pub async fn credit(
    conn: &DatabaseConnection,
    org: &organization::Model,
    amount: i64,
    pending: bool,
    available_on: Option<DateTime<Utc>>,
) -> Result<balance::Model> {
    credit_with(conn, org, amount, pending, available_on, None).await
}

/// As `credit`, under the operator's `external_id` when given.
pub async fn credit_with(
    conn: &DatabaseConnection,
    org: &organization::Model,
    amount: i64,
    pending: bool,
    available_on: Option<DateTime<Utc>>,
    external_id: Option<String>,
) -> Result<balance::Model> {
    let writer = crate::group_commit::Writer::new(conn.clone(), false);
    let new = credits::NewCredit {
        external_id: external_id.unwrap_or_else(|| crate::ids::new_id("manual")),
        amount,
        description: None,
        release_at: available_on,
        pending,
    };
    credits::create(&writer, org, new).await?;
    get_balance(conn, &org.id).await
}

// Releasing pending funds (and its job) lives beside the credits that
// schedule it; named here too, where callers have always found it.
pub use super::credits::{release, ReleaseFunds};

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
            return Err(Error::UnknownCursor("transaction"));
        }
        let after = ledger_transaction::Entity::find_by_id(cursor)
            .filter(ledger_transaction::Column::OrganizationId.eq(org_id))
            .one(conn)
            .await?
            // Like any id of another organization's: not found.
            .ok_or(Error::UnknownCursor("transaction"))?;
        query = query.filter(page::after(
            ledger_transaction::Column::CreatedAt,
            ledger_transaction::Column::Id,
            after.created_at,
            after.id,
        ));
    }
    Ok(Page::from_overfetch(query.all(conn).await?, limit))
}
