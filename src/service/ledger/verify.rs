//! The ledger's audit (`payouts ledger verify`, and every test's last
//! step): its queries read the tables `post` writes, in one snapshot.
use entity::{
    balance,
    states::{HoldStatus, LedgerKind},
};
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
/// non-negative is negative (`available` may be, only for an organization
/// that has debits or holds); `in_payout` equals the payouts still reserved,
/// `paid_out` and `fees` the paid ones, `held` the open holds; every credit,
/// debit and hold has its ledger transaction, of its amount.
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
    #[derive(FromQueryResult)]
    struct OrgTotal {
        organization_id: String,
        total: i64,
    }
    #[derive(FromQueryResult)]
    struct Orphan {
        id: String,
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
        // An unknown account is a problem to report, not entries to skip.
        match row.account.parse::<Account>() {
            Ok(account) => {
                entries.insert((row.organization_id, account), row.total);
            }
            Err(err) => problems.push(format!("{}: {err}", row.organization_id)),
        }
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

    let mut open_holds: HashMap<String, i64> = HashMap::new();
    for row in OrgTotal::find_by_statement(query(&format!(
        "SELECT organization_id, CAST(SUM(amount) AS BIGINT) AS total FROM holds \
         WHERE status = '{}' GROUP BY organization_id",
        HoldStatus::Open.as_str()
    )))
    .all(conn)
    .await?
    {
        open_holds.insert(row.organization_id, row.total);
    }
    // Only debits and holds may overdraw `available`.
    let mut may_owe = std::collections::HashSet::new();
    for row in OrgTotal::find_by_statement(query(&format!(
        "SELECT organization_id, CAST(COUNT(*) AS BIGINT) AS total FROM ledger_transactions \
         WHERE kind IN ('{}', '{}') GROUP BY organization_id",
        LedgerKind::Debit.as_str(),
        LedgerKind::Hold.as_str()
    )))
    .all(conn)
    .await?
    {
        may_owe.insert(row.organization_id);
    }
    for table in ["credits", "debits", "holds"] {
        for row in Orphan::find_by_statement(query(&format!(
            "SELECT r.id AS id FROM {table} r LEFT JOIN ledger_transactions t \
             ON t.id = r.transaction_id AND t.organization_id = r.organization_id \
             AND t.amount = r.amount WHERE t.id IS NULL"
        )))
        .all(conn)
        .await?
        {
            problems.push(format!(
                "{table} row {} has no ledger transaction of its amount",
                row.id
            ));
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
            (Account::Held, balance.held),
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
        if balance.available < 0 && !may_owe.contains(org) {
            problems.push(format!(
                "{org} available is negative ({}) with no debit or hold",
                balance.available
            ));
        }
        let open = open_holds.get(org).copied().unwrap_or(0);
        if balance.held != open {
            problems.push(format!(
                "{org}: held {} but open holds total {open}",
                balance.held
            ));
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
