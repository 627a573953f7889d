//! Database connection, migrations and transaction helpers shared by both
//! engines (SQLite embedded, PostgreSQL for production and scale-out).
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
    AccessMode, ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    DbErr, IsolationLevel, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    connect_with(url, if url.starts_with("sqlite") { 8 } else { 20 }).await
}

/// The pools the service runs on: `(writes, reads)`. On SQLite, writes go
/// through one connection, so writers queue in order in the pool instead of
/// sleeping in SQLite's busy handler, while reads (WAL) use their own pool
/// and never wait behind a write. On PostgreSQL both are the same pool.
pub async fn connect_pools(url: &str) -> anyhow::Result<(DatabaseConnection, DatabaseConnection)> {
    if url.starts_with("sqlite") {
        Ok((connect_with(url, 1).await?, connect_with(url, 8).await?))
    } else {
        let pool = connect_with(url, 20).await?;
        Ok((pool.clone(), pool))
    }
}

async fn connect_with(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .sqlx_logging(false)
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
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
