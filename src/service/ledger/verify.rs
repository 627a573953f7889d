//! The ledger's audit (`payouts ledger verify`, and every test's last
//! step): its queries read the tables `post` writes, in one snapshot.
use entity::balance;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::must_stay_non_negative;
use crate::{
    domain::{
        ledger::Account,
        payout_status::{PayoutLifecycle, PayoutStatus},
    },
    error::Result,
};

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
        account: String,
        total: i64,
    }
    #[derive(FromQueryResult)]
    struct PayoutTotal {
        organization_id: String,
        status: String,
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

    let mut entries: HashMap<(String, String), i64> = HashMap::new();
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
        let totals = payouts.entry(row.organization_id.clone()).or_default();
        // An unknown status is a problem to report, not a payout to skip.
        match row.status.parse::<PayoutStatus>() {
            Ok(status) if status.holds_reservation() => totals.0 += row.amount,
            Ok(PayoutStatus::Paid) => {
                totals.1 += row.net;
                totals.2 += row.fee;
            }
            Ok(_) => {}
            Err(err) => problems.push(format!("{}: {err}", row.organization_id)),
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
            let summed = entries
                .get(&(org.clone(), account.as_str().to_string()))
                .copied()
                .unwrap_or(0);
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
