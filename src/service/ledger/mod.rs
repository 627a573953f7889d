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
    let update = || conditional_update(organization_id, currency, posting, now);
    if update().exec(conn).await?.rows_affected != 1 {
        // Refused, but by a balance that may have changed since: on
        // PostgreSQL (read committed) a credit can commit between the
        // refusal and a second look. So the verdict is taken on the row
        // locked: short there, the posting is refused with what is there;
        // otherwise the row is ours and the update applies.
        let current = lock_balance(conn, organization_id).await?;
        if let Some(refusal) = shortfall(posting, &current) {
            return Err(refusal);
        }
        if update().exec(conn).await?.rows_affected != 1 {
            return Err(Error::internal(format!(
                "posting {posting:?} refused for {organization_id} on a balance that allows it"
            )));
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

/// All legs of `posting` in one conditional update of the running
/// balances: refused atomically (no row updated) if an account that must
/// stay non-negative would go below zero, so two concurrent withdrawals
/// cannot both spend the same cents.
fn conditional_update(
    organization_id: &str,
    currency: &str,
    posting: &Posting,
    now: chrono::DateTime<Utc>,
) -> sea_orm::UpdateMany<balance::Entity> {
    let mut update = balance::Entity::update_many()
        .col_expr(balance::Column::UpdatedAt, Expr::value(now))
        .filter(balance::Column::OrganizationId.eq(organization_id))
        .filter(balance::Column::Currency.eq(currency));
    for (account, amount) in net_legs(posting) {
        let col = column(account);
        update = update.col_expr(col, Expr::col(col).add(amount));
        if amount < 0 && guarded(account, posting) {
            update = update.filter(col.gte(-amount));
        }
    }
    update
}

/// The posting's net amount per account, zero sums left out.
fn net_legs(posting: &Posting) -> impl Iterator<Item = (Account, i64)> + '_ {
    Account::ALL.into_iter().filter_map(|account| {
        let amount: i64 = posting
            .legs
            .iter()
            .filter(|(a, _)| *a == account)
            .map(|(_, v)| v)
            .sum();
        (amount != 0).then_some((account, amount))
    })
}

/// Why `balance` cannot take `posting`, if it cannot: too little available
/// is the client's `InsufficientBalance`; any other guarded account going
/// negative is a bug.
fn shortfall(posting: &Posting, balance: &balance::Model) -> Option<Error> {
    net_legs(posting).find_map(|(account, amount)| {
        let has = amount_in(balance, account);
        if amount >= 0 || !guarded(account, posting) || has >= -amount {
            return None;
        }
        Some(match account {
            Account::Available => Error::InsufficientBalance {
                requested: -amount,
                available: has,
            },
            _ => Error::internal(format!(
                "posting {posting:?} would leave {account:?} negative for {}",
                balance.organization_id
            )),
        })
    })
}

fn amount_in(balance: &balance::Model, account: Account) -> i64 {
    // Every account column is a BIGINT, so the value is an i64.
    sea_orm::ModelTrait::get(balance, column(account)).unwrap::<i64>()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ledger, payout_status::PayoutStatus};

    fn balance(available: i64, in_payout: i64) -> balance::Model {
        balance::Model {
            organization_id: "org_1".into(),
            currency: "usd".into(),
            available,
            pending: 0,
            in_payout,
            held: 0,
            paid_out: 0,
            fees: 0,
            external: -(available + in_payout),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_payout_short_of_available_is_insufficient_balance_with_what_is_there() {
        let refusal = shortfall(&ledger::payout_reserve(1000), &balance(999, 0));
        assert!(matches!(
            refusal,
            Some(Error::InsufficientBalance {
                requested: 1000,
                available: 999
            })
        ));
        assert!(shortfall(&ledger::payout_reserve(1000), &balance(1000, 0)).is_none());
    }

    #[test]
    fn debits_and_holds_may_overdraw_available() {
        assert!(shortfall(&ledger::debit(1000), &balance(0, 0)).is_none());
        assert!(shortfall(&ledger::hold(1000), &balance(-5, 0)).is_none());
    }

    #[test]
    fn a_reservation_that_is_not_there_is_a_bug_not_a_client_error() {
        let back = ledger::payout_transition(PayoutStatus::Pending, PayoutStatus::Failed, 1000, 0)
            .unwrap();
        assert!(matches!(
            shortfall(&back, &balance(0, 999)),
            Some(Error::Internal(_))
        ));
        assert!(shortfall(&back, &balance(0, 1000)).is_none());
    }

    #[test]
    fn each_account_reads_its_own_column() {
        let row = balance::Model {
            pending: 2,
            held: 3,
            paid_out: 4,
            fees: 5,
            external: 6,
            ..balance(7, 8)
        };
        let read: Vec<i64> = Account::ALL.iter().map(|a| amount_in(&row, *a)).collect();
        let expected: Vec<i64> = Account::ALL
            .iter()
            .map(|a| match a {
                Account::Available => 7,
                Account::Pending => 2,
                Account::InPayout => 8,
                Account::PaidOut => 4,
                Account::Fees => 5,
                Account::External => 6,
                Account::Held => 3,
            })
            .collect();
        assert_eq!(read, expected);
    }
}
