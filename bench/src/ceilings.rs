//! What the hardware and the database can do without the service: fsyncs
//! per second on the database's disk, the minimal SQL of a payout and of a
//! GET written directly against the driver, and pgbench's tpcb-like.
use std::{
    io::Write,
    path::Path,
    process::Command,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value};

use crate::load::{closed_loop, Call, Stats};

/// `write` + `fdatasync` of 8 KiB in a loop on one file in `dir`, as
/// `pg_test_fsync` does: the rate of durable commits one at a time.
pub fn fsyncs_per_second(dir: &Path, duration: Duration) -> Result<f64> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path)?;
    let block = vec![7u8; 8192];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < duration {
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(0))?;
        file.write_all(&block)?;
        file.sync_data()?;
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    std::fs::remove_file(path).ok();
    Ok(rate)
}

/// One organization a workload writes to: its id and default bank account.
#[derive(Clone)]
pub struct Target {
    pub org_id: String,
    pub bank_account_id: String,
}

/// `?` placeholders, numbered for PostgreSQL.
fn sql(backend: DatabaseBackend, text: &str) -> String {
    if backend != DatabaseBackend::Postgres {
        return text.to_string();
    }
    let mut out = String::new();
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out += &format!("${n}");
        } else {
            out.push(c);
        }
    }
    out
}

fn stmt(backend: DatabaseBackend, text: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, sql(backend, text), values)
}

fn new_id(prefix: &str) -> String {
    payouts::ids::new_id(prefix)
}

/// The statements a payout needs today, and nothing else, in the two
/// commits it needs: first (`BEGIN IMMEDIATE` on SQLite, as the service
/// does) the bank account held against deletion (`FOR SHARE` on
/// PostgreSQL), the conditional balance update, the ledger transaction and
/// its two entries, the payout row, its job row and its `payout.created`
/// event row (the webhook outbox); then the submission claim, which must be
/// durable before the provider is called. Not here: recording the
/// provider's ids after its answer, and the provider's own rows (the
/// sandbox's events), which a provider could do without.
async fn raw_payout(db: &DatabaseConnection, to: &Target) -> Result<(), sea_orm::DbErr> {
    let b = db.get_database_backend();
    let now = chrono::Utc::now();
    let amount = 1000i64;
    let txn = payouts::db::begin_write(db).await?;
    let lock = if b == DatabaseBackend::Postgres {
        " FOR SHARE"
    } else {
        ""
    };
    let bank = txn
        .query_one_raw(stmt(
            b,
            &format!(
                "SELECT id, bank_name, last4 FROM bank_accounts WHERE id = ? AND deleted_at IS NULL{lock}"
            ),
            vec![to.bank_account_id.clone().into()],
        ))
        .await?;
    if bank.is_none() {
        return Err(sea_orm::DbErr::Custom("no bank account".into()));
    }
    let updated = txn
        .execute_raw(stmt(
            b,
            "UPDATE balances SET available = available - ?, in_payout = in_payout + ?, updated_at = ? \
             WHERE organization_id = ? AND currency = 'usd' AND available >= ?",
            vec![amount.into(), amount.into(), now.into(), to.org_id.clone().into(), amount.into()],
        ))
        .await?;
    if updated.rows_affected() != 1 {
        return Err(sea_orm::DbErr::Custom("balance refused".into()));
    }
    let (txn_id, payout_id) = (new_id("txn"), new_id("po"));
    txn.execute_raw(stmt(
        b,
        "INSERT INTO ledger_transactions (id, organization_id, kind, payout_id, amount, currency, created_at) \
         VALUES (?, ?, 'payout', ?, ?, 'usd', ?)",
        vec![txn_id.clone().into(), to.org_id.clone().into(), payout_id.clone().into(), amount.into(), now.into()],
    ))
    .await?;
    txn.execute_raw(stmt(
        b,
        "INSERT INTO ledger_entries (transaction_id, organization_id, account, amount, created_at) \
         VALUES (?, ?, 'available', ?, ?), (?, ?, 'in_payout', ?, ?)",
        vec![
            txn_id.clone().into(), to.org_id.clone().into(), (-amount).into(), now.into(),
            txn_id.into(), to.org_id.clone().into(), amount.into(), now.into(),
        ],
    ))
    .await?;
    txn.execute_raw(stmt(
        b,
        "INSERT INTO payouts (id, organization_id, bank_account_id, status, amount, fee, net_amount, \
         currency, provider, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, 0, ?, 'usd', 'sandbox', ?, ?)",
        vec![
            payout_id.clone().into(), to.org_id.clone().into(), to.bank_account_id.clone().into(),
            amount.into(), amount.into(), now.into(), now.into(),
        ],
    ))
    .await?;
    let later = now + chrono::Duration::hours(1);
    txn.execute_raw(stmt(
        b,
        "INSERT INTO jobs (id, kind, payload, run_at, attempts, created_at) VALUES (?, 'payout_submit', ?, ?, 0, ?)",
        vec![
            format!("submit_{payout_id}").into(),
            format!("{{\"payout_id\":\"{payout_id}\"}}").into(),
            later.into(),
            now.into(),
        ],
    ))
    .await?;
    let data = format!(
        "{{\"payoutId\":\"{payout_id}\",\"amount\":{amount},\"fee\":0,\"netAmount\":{amount},\
         \"currency\":\"usd\",\"status\":\"pending\",\"destinationBank\":null,\"createdAt\":\"{}\"}}",
        now.to_rfc3339()
    );
    txn.execute_raw(stmt(
        b,
        "INSERT INTO webhook_events (id, organization_id, event, data, created_at) \
         VALUES (?, ?, 'payout.created', ?, ?)",
        vec![
            new_id("whev").into(),
            to.org_id.clone().into(),
            data.into(),
            now.into(),
        ],
    ))
    .await?;
    txn.commit().await?;
    // The claim: its own commit, before the provider call.
    let txn = payouts::db::begin_write(db).await?;
    let claimed = txn
        .execute_raw(stmt(
            b,
            "UPDATE payouts SET submitted_at = COALESCE(submitted_at, ?) \
             WHERE id = ? AND status IN ('pending', 'in_transit')",
            vec![chrono::Utc::now().into(), payout_id.into()],
        ))
        .await?;
    if claimed.rows_affected() != 1 {
        return Err(sea_orm::DbErr::Custom("claim refused".into()));
    }
    txn.commit().await
}

/// Raw payouts at `workers` concurrency, round-robin over `targets`, on the
/// write pool the service would use.
pub async fn raw_payouts(
    db: DatabaseConnection,
    targets: Arc<Vec<Target>>,
    workers: usize,
    duration: Duration,
) -> Stats {
    let next = Arc::new(AtomicUsize::new(0));
    let call: Call = Arc::new(move || {
        let (db, targets, next) = (db.clone(), targets.clone(), next.clone());
        Box::pin(async move {
            let to = &targets[next.fetch_add(1, Ordering::Relaxed) % targets.len()];
            raw_payout(&db, to).await.is_ok()
        })
    });
    closed_loop(call, workers, duration).await
}

/// The two indexed reads of `GET /payouts/{id}`, raw: the API key joined
/// with its organization, then the payout.
pub async fn raw_reads(
    db: DatabaseConnection,
    key_hash: String,
    payout_id: String,
    workers: usize,
    duration: Duration,
) -> Stats {
    let call: Call = Arc::new(move || {
        let (db, key_hash, payout_id) = (db.clone(), key_hash.clone(), payout_id.clone());
        Box::pin(async move {
            let b = db.get_database_backend();
            let Ok(Some(row)) = db
                .query_one_raw(stmt(
                    b,
                    "SELECT k.id, k.organization_id, k.prefix, k.key_hash, k.created_at, k.revoked_at, \
                     o.id AS org_id, o.name, o.mode, o.country, o.currency, o.created_at AS org_created_at \
                     FROM api_keys k JOIN organizations o ON o.id = k.organization_id \
                     WHERE k.key_hash = ? AND k.revoked_at IS NULL",
                    vec![key_hash.into()],
                ))
                .await
            else {
                return false;
            };
            let Ok(org_id) = row.try_get::<String>("", "org_id") else {
                return false;
            };
            matches!(
                db.query_one_raw(stmt(
                    b,
                    "SELECT * FROM payouts WHERE id = ? AND organization_id = ?",
                    vec![payout_id.into(), org_id.into()],
                ))
                .await,
                Ok(Some(_))
            )
        })
    });
    closed_loop(call, workers, duration).await
}

/// `pgbench -b tpcb-like` at `clients` on a scratch database (scale 1: one
/// branch row every transaction updates, like one hot organization).
pub fn pgbench_tpcb(url: &str, clients: usize, duration: Duration) -> Result<f64> {
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", "1", url])
        .output()
        .context("pgbench is not installed")?;
    if !init.status.success() {
        bail!("pgbench -i: {}", String::from_utf8_lossy(&init.stderr));
    }
    let run = Command::new("pgbench")
        .args([
            "-b",
            "tpcb-like",
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &duration.as_secs().max(1).to_string(),
            url,
        ])
        .output()?;
    let out = String::from_utf8_lossy(&run.stdout);
    out.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {out}"))
}
