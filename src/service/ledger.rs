//! Writes postings to the ledger. Call inside the transaction of the state
//! change that causes them, so money and state move together or not at all.
use chrono::Utc;
use entity::{balance, ledger_entry, ledger_transaction};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait,
    QueryFilter,
};

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
    }
}

/// Accounts that can never go below zero.
fn must_stay_non_negative(account: Account) -> bool {
    matches!(
        account,
        Account::Available | Account::Pending | Account::InPayout
    )
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
    if !posting.is_balanced() {
        return Err(Error::internal(format!("unbalanced posting {posting:?}")));
    }
    let now = Utc::now();
    for &(account, amount) in &posting.legs {
        let col = column(account);
        let mut update = balance::Entity::update_many()
            .col_expr(col, Expr::col(col).add(amount))
            .col_expr(balance::Column::UpdatedAt, Expr::value(now))
            .filter(balance::Column::OrganizationId.eq(organization_id))
            .filter(balance::Column::Currency.eq(currency));
        if amount < 0 && must_stay_non_negative(account) {
            update = update.filter(col.gte(-amount));
        }
        if update.exec(conn).await?.rows_affected != 1 {
            return Err(match account {
                Account::Available => Error::InsufficientBalance {
                    requested: -amount,
                    available: available(conn, organization_id).await?,
                },
                _ => Error::internal(format!(
                    "ledger account {} of {organization_id} cannot take {amount}",
                    account.as_str()
                )),
            });
        }
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
        kind: Set(posting.kind.to_string()),
        payout_id: Set(payout_id.map(str::to_string)),
        amount: Set(total),
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
                account: Set(account.as_str().to_string()),
                amount: Set(amount),
                created_at: Set(now),
                ..Default::default()
            });
    ledger_entry::Entity::insert_many(entries)
        .exec_without_returning(conn)
        .await?;
    Ok(transaction_id)
}

async fn available<C: ConnectionTrait>(conn: &C, organization_id: &str) -> Result<i64> {
    Ok(get_balance(conn, organization_id).await?.available)
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

/// Funds that arrived from outside (customer payments), credited by an
/// operator or an upstream system. Returns the new balance.
pub async fn credit(
    conn: &sea_orm::DatabaseConnection,
    org: &entity::organization::Model,
    amount: i64,
    pending: bool,
) -> Result<balance::Model> {
    if amount <= 0 {
        return Err(Error::field("amount", "must be a positive number of cents"));
    }
    let txn = crate::db::begin_write(conn).await?;
    let posting = crate::domain::ledger::credit(amount, pending);
    post(&txn, &org.id, &org.currency, &posting, None).await?;
    let balance = get_balance(&txn, &org.id).await?;
    txn.commit().await?;
    Ok(balance)
}
