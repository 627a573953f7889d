//! Database connection, migrations and transaction helpers shared by both
//! engines (SQLite embedded, PostgreSQL for production and scale-out).
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, IsolationLevel, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};

/// How SQLite syncs a commit to disk (`PRAGMA synchronous`, WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SqliteSync {
    /// Every commit is fsynced before it returns: an acknowledged write
    /// survives a power loss or an OS crash.
    #[default]
    Full,
    /// Commits reach the OS but are fsynced only at checkpoints: they
    /// survive a process crash, not a power loss (the last ones may vanish).
    Normal,
}

impl std::str::FromStr for SqliteSync {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(SqliteSync::Full),
            "normal" => Ok(SqliteSync::Normal),
            _ => Err(()),
        }
    }
}

/// One pool, durable, for commands and checks.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    connect_with(
        url,
        if url.starts_with("sqlite") { 8 } else { 20 },
        SqliteSync::Full,
    )
    .await
}

/// The pools the service runs on: `(writes, reads)`. On SQLite, writes go
/// through one connection, so writers queue in order in the pool instead of
/// sleeping in SQLite's busy handler, while reads (WAL) use their own pool
/// and never wait behind a write. On PostgreSQL both are the same pool.
///
/// PostgreSQL must acknowledge a commit only once it is flushed: the start
/// is refused when `synchronous_commit` is `off` for our sessions.
pub async fn connect_pools(
    url: &str,
    sync: SqliteSync,
) -> anyhow::Result<(DatabaseConnection, DatabaseConnection)> {
    if url.starts_with("sqlite") {
        Ok((
            connect_with(url, 1, sync).await?,
            connect_with(url, 8, sync).await?,
        ))
    } else {
        let pool = connect_with(url, 20, sync).await?;
        check_postgres_durable(&pool).await?;
        Ok((pool.clone(), pool))
    }
}

/// With `synchronous_commit = off` PostgreSQL answers COMMIT before the WAL
/// is flushed, so a crash loses payouts we already acknowledged (and may
/// have sent to the provider). `local`, `remote_write`, `on` and
/// `remote_apply` all flush locally first.
async fn check_postgres_durable(db: &DatabaseConnection) -> anyhow::Result<()> {
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT current_setting('synchronous_commit') AS value",
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("SHOW synchronous_commit returned nothing"))?;
    let value: String = row.try_get("", "value")?;
    if value == "off" {
        anyhow::bail!(
            "PostgreSQL runs with synchronous_commit=off for this database: a commit would be \
             acknowledged before it is durable, and a crash could lose acknowledged payouts; \
             set synchronous_commit to on (or local) for this database or role"
        );
    }
    Ok(())
}

async fn connect_with(
    url: &str,
    max_connections: u32,
    sync: SqliteSync,
) -> anyhow::Result<DatabaseConnection> {
    let synchronous = match sync {
        SqliteSync::Full => SqliteSynchronous::Full,
        SqliteSync::Normal => SqliteSynchronous::Normal,
    };
    let mut options = ConnectOptions::new(url.to_string());
    options
        .sqlx_logging(false)
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

/// Begins a transaction that will write. On SQLite it takes the write lock
/// up front (`BEGIN IMMEDIATE`): a deferred transaction that reads and then
/// writes fails at once with SQLITE_BUSY when another writer got in between,
/// while an immediate one waits for the busy timeout like any lock.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Begins a read-only transaction whose reads all see one snapshot, for
/// checks that compare several tables while others write: PostgreSQL
/// `REPEATABLE READ READ ONLY`; on SQLite (WAL) a deferred transaction
/// reads one snapshot from its first read until it ends.
pub async fn begin_snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await
        }
        _ => db.begin().await,
    }
}

/// True when the error is a unique-constraint violation (a concurrent
/// request inserted the same key first).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
