//! The ledger's storage: writes postings and reads balances. Call `post`
//! inside the transaction of the state change that causes it, so money and
//! state move together or not at all. `verify` (the audit of these tables)
//! lives beside it.
mod verify;

use chrono::Utc;
use entity::{balance, ledger_entry, ledger_transaction};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait,
    QueryFilter, QuerySelect,
};
pub use verify::verify;

use crate::{
    domain::ledger::{Account, Posting},
    error::{Error, Result},
    ids,
};

fn column(account: Account) -> balance::Column {
    match account {
        Account::Available => balance::Column::Available,
        Account::Pending => balance::Column::Pending,
        Account::InPayout => balance::Column::InPayout,
        Account::PaidOut => balance::Column::PaidOut,
        Account::Fees => balance::Column::Fees,
        Account::External => balance::Column::External,
        Account::Held => balance::Column::Held,
    }
}

/// Accounts that can never go below zero (the database checks them too).
/// `available` can, but only by a posting that `may_overdraw`.
pub(super) fn must_stay_non_negative(account: Account) -> bool {
    matches!(
        account,
        Account::Pending | Account::InPayout | Account::Held
    )
}

/// Whether `posting` must leave `account` at or above zero.
fn guarded(account: Account, posting: &Posting) -> bool {
    must_stay_non_negative(account) || (account == Account::Available && !posting.may_overdraw())
}

/// Applies a balanced posting: each leg is a conditional update of the
/// running balance (refused atomically if it would go negative, so two
/// concurrent withdrawals cannot both spend the same cents), then the
/// immutable transaction and entries are written. Returns the ledger
/// transaction id.
pub async fn post<C: ConnectionTrait>(
    conn: &C,
    organization_id: &str,
    currency: &str,
    posting: &Posting,
    payout_id: Option<&str>,
) -> Result<String> {
    post_with(conn, organization_id, currency, posting, payout_id, None).await
}

/// As `post`, recording the operator's `external_id` on the transaction.
pub async fn post_with<C: ConnectionTrait>(
    conn: &C,
    organization_id: &str,
    currency: &str,
    posting: &Posting,
    payout_id: Option<&str>,
    external_id: Option<&str>,
) -> Result<String> {
    if !posting.is_balanced() {
        return Err(Error::internal(format!("unbalanced posting {posting:?}")));
    }
    let now = Utc::now();
    // All legs in one conditional update of the running balances: refused
    // atomically if an account that must stay non-negative would go below
    // zero, so two concurrent withdrawals cannot both spend the same cents.
    let mut update = balance::Entity::update_many()
        .col_expr(balance::Column::UpdatedAt, Expr::value(now))
        .filter(balance::Column::OrganizationId.eq(organization_id))
        .filter(balance::Column::Currency.eq(currency));
    for account in Account::ALL {
        let amount: i64 = posting
            .legs
            .iter()
            .filter(|(a, _)| *a == account)
            .map(|(_, v)| v)
            .sum();
        if amount == 0 {
            continue;
        }
        let col = column(account);
        update = update.col_expr(col, Expr::col(col).add(amount));
        if amount < 0 && guarded(account, posting) {
            update = update.filter(col.gte(-amount));
        }
    }
    if update.exec(conn).await?.rows_affected != 1 {
        let current = get_balance(conn, organization_id).await?;
        let withdrawal = posting
            .legs
            .iter()
            .find(|(a, v)| *a == Account::Available && *v < 0);
        return Err(match withdrawal {
            Some(&(_, amount)) if current.available < -amount => Error::InsufficientBalance {
                requested: -amount,
                available: current.available,
            },
            _ => Error::internal(format!("posting {posting:?} refused for {organization_id}")),
        });
    }
    let transaction_id = ids::new_id("txn");
    let total = posting
        .legs
        .iter()
        .filter(|(_, amount)| *amount > 0)
        .map(|(_, amount)| amount)
        .sum();
    ledger_transaction::Entity::insert(ledger_transaction::ActiveModel {
        id: Set(transaction_id.clone()),
        organization_id: Set(organization_id.to_string()),
        kind: Set(posting.kind),
        payout_id: Set(payout_id.map(str::to_string)),
        amount: Set(total),
        external_id: Set(external_id.map(str::to_string)),
        currency: Set(currency.to_string()),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    let entries =
        posting
            .legs
            .iter()
            .filter(|(_, amount)| *amount != 0)
            .map(|&(account, amount)| ledger_entry::ActiveModel {
                transaction_id: Set(transaction_id.clone()),
                organization_id: Set(organization_id.to_string()),
                account: Set(account),
                amount: Set(amount),
                created_at: Set(now),
                ..Default::default()
            });
    ledger_entry::Entity::insert_many(entries)
        .exec_without_returning(conn)
        .await?;
    Ok(transaction_id)
}

/// The balance row, locked until the transaction ends (PostgreSQL
/// `FOR UPDATE`; SQLite's write transactions are serialized already), for a
/// decision that reads the balance before it writes.
pub async fn lock_balance<C: ConnectionTrait>(
    conn: &C,
    organization_id: &str,
) -> Result<balance::Model> {
    balance::Entity::find_by_id(organization_id)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| Error::internal(format!("no balance row for {organization_id}")))
}

pub async fn get_balance<C: ConnectionTrait>(
    conn: &C,
    organization_id: &str,
) -> Result<balance::Model> {
    balance::Entity::find_by_id(organization_id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::internal(format!("no balance row for {organization_id}")))
}
