//! Writes postings to the ledger. Call inside the transaction of the state
//! change that causes them, so money and state move together or not at all.
use chrono::Utc;
use entity::{balance, ledger_entry, ledger_transaction};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait,
    QueryFilter, QuerySelect,
};

use crate::{
    domain::{
        ledger::{Account, Posting},
        payout_status::{PayoutLifecycle, PayoutStatus},
    },
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
        if amount < 0 && must_stay_non_negative(account) {
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

/// Checks the ledger's invariants and returns every violation found (none
/// means the books are right): each transaction balances; each running
/// balance equals the sum of its entries; no balance that must stay
/// non-negative is negative; `in_payout` equals the payouts still reserved,
/// `paid_out` and `fees` the paid ones.
///
/// Everything is read in one snapshot, so it can run on a live system:
/// balances and entries are always compared as of the same instant.
pub async fn verify(db: &sea_orm::DatabaseConnection) -> Result<Vec<String>> {
    let snapshot = crate::db::begin_snapshot(db).await?;
    let problems = verify_in(&snapshot).await?;
    snapshot.commit().await?;
    Ok(problems)
}

async fn verify_in<C: ConnectionTrait>(conn: &C) -> Result<Vec<String>> {
    use sea_orm::{FromQueryResult, Statement};
    use std::collections::HashMap;

    #[derive(FromQueryResult)]
    struct Unbalanced {
        transaction_id: String,
        total: i64,
    }
    #[derive(FromQueryResult)]
    struct AccountTotal {
        organization_id: String,
        account: Account,
        total: i64,
    }
    #[derive(FromQueryResult)]
    struct PayoutTotal {
        organization_id: String,
        status: PayoutStatus,
        amount: i64,
        net: i64,
        fee: i64,
    }
    let backend = conn.get_database_backend();
    let query = |sql: &str| Statement::from_string(backend, sql.to_string());
    let mut problems = Vec::new();

    let unbalanced = Unbalanced::find_by_statement(query(
        "SELECT transaction_id, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_entries \
         GROUP BY transaction_id HAVING SUM(amount) <> 0",
    ))
    .all(conn)
    .await?;
    for t in unbalanced {
        problems.push(format!(
            "transaction {} does not balance (off by {})",
            t.transaction_id, t.total
        ));
    }

    let mut entries: HashMap<(String, Account), i64> = HashMap::new();
    for row in AccountTotal::find_by_statement(query(
        "SELECT organization_id, account, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_entries \
         GROUP BY organization_id, account",
    ))
    .all(conn)
    .await?
    {
        entries.insert((row.organization_id, row.account), row.total);
    }
    let mut payouts: HashMap<String, (i64, i64, i64)> = HashMap::new();
    for row in PayoutTotal::find_by_statement(query(
        "SELECT organization_id, status, CAST(SUM(amount) AS BIGINT) AS amount, \
         CAST(SUM(net_amount) AS BIGINT) AS net, CAST(SUM(fee) AS BIGINT) AS fee \
         FROM payouts GROUP BY organization_id, status",
    ))
    .all(conn)
    .await?
    {
        let totals = payouts.entry(row.organization_id).or_default();
        if row.status.holds_reservation() {
            totals.0 += row.amount;
        } else if row.status == PayoutStatus::Paid {
            totals.1 += row.net;
            totals.2 += row.fee;
        }
    }

    for balance in balance::Entity::find().all(conn).await? {
        let org = &balance.organization_id;
        let running = [
            (Account::Available, balance.available),
            (Account::Pending, balance.pending),
            (Account::InPayout, balance.in_payout),
            (Account::PaidOut, balance.paid_out),
            (Account::Fees, balance.fees),
            (Account::External, balance.external),
        ];
        for (account, value) in running {
            let summed = entries.get(&(org.clone(), account)).copied().unwrap_or(0);
            if summed != value {
                problems.push(format!(
                    "{org} {}: balance {value} but entries sum to {summed}",
                    account.as_str()
                ));
            }
            if must_stay_non_negative(account) && value < 0 {
                problems.push(format!("{org} {} is negative: {value}", account.as_str()));
            }
        }
        if running.iter().map(|(_, v)| *v as i128).sum::<i128>() != 0 {
            problems.push(format!("{org}: accounts do not sum to zero"));
        }
        let (reserved, paid_net, paid_fees) = payouts.get(org).copied().unwrap_or_default();
        if balance.in_payout != reserved {
            problems.push(format!(
                "{org}: in_payout {} but open payouts total {reserved}",
                balance.in_payout
            ));
        }
        if balance.paid_out != paid_net {
            problems.push(format!(
                "{org}: paid_out {} but paid payouts net {paid_net}",
                balance.paid_out
            ));
        }
        if balance.fees != paid_fees {
            problems.push(format!(
                "{org}: fees {} but paid payouts' fees total {paid_fees}",
                balance.fees
            ));
        }
    }
    Ok(problems)
}
