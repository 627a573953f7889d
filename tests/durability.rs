//! An acknowledged payout is durable by default: SQLite fsyncs every commit
//! (`synchronous=FULL`) unless `PAYOUTS_SQLITE_SYNCHRONOUS=normal` opts out,
//! and the service refuses to start on PostgreSQL with `synchronous_commit`
//! off for its database.
mod common;

use common::{fresh_database, TestApp};
use payouts::{crypto::Cipher, db::SqliteSync, server};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

async fn sqlite_synchronous(db: &impl ConnectionTrait) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA synchronous",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

async fn postgres_synchronous_commit(db: &DatabaseConnection) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('synchronous_commit')",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// A SQLite file of its own, whatever engine the suite runs on.
fn sqlite_url(tag: &str) -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("payouts_{tag}_{}", payouts::ids::new_id("d")));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("payouts.db").display());
    (url, dir)
}

async fn start_sqlite(sync: Option<SqliteSync>) -> (server::Running, std::path::PathBuf) {
    let (url, dir) = sqlite_url("sync");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = listener.local_addr().unwrap().to_string();
    let cipher = Cipher::from_encoded_key(&Cipher::generate_key_hex()).unwrap();
    let mut config = payouts::config::Config::new(&url, &bind, cipher);
    if let Some(sync) = sync {
        config.sqlite_synchronous = sync;
    }
    let running = server::start(config, listener).await.expect("starts");
    (running, dir)
}

/// FULL is 2, NORMAL is 1 (https://sqlite.org/pragma.html#pragma_synchronous).
#[tokio::test]
async fn sqlite_fsyncs_every_commit_by_default() {
    let (running, dir) = start_sqlite(None).await;
    assert_eq!(
        sqlite_synchronous(&running.app.db).await,
        2,
        "write connection"
    );
    // Every connection of the read pool, not just the first one handed out.
    let mut held = Vec::new();
    for _ in 0..8 {
        // An open transaction holds its connection, so the next one differs.
        held.push(running.app.read_db.begin().await.unwrap());
    }
    for conn in &held {
        assert_eq!(sqlite_synchronous(conn).await, 2, "read connection");
    }
    drop(held);
    running.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn sqlite_normal_is_an_explicit_opt_out() {
    let (running, dir) = start_sqlite(Some(SqliteSync::Normal)).await;
    assert_eq!(sqlite_synchronous(&running.app.db).await, 1);
    assert_eq!(sqlite_synchronous(&running.app.read_db).await, 1);
    running.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_setting_takes_full_or_normal_only() {
    assert_eq!("FULL".parse::<SqliteSync>(), Ok(SqliteSync::Full));
    assert_eq!("normal".parse::<SqliteSync>(), Ok(SqliteSync::Normal));
    assert!("off".parse::<SqliteSync>().is_err());
    assert_eq!(SqliteSync::default(), SqliteSync::Full);
}

/// On the suite's engine: SQLite's write connection is FULL; PostgreSQL's
/// session commits synchronously, and a database set to
/// `synchronous_commit=off` is refused at start.
#[tokio::test]
async fn the_service_refuses_non_durable_commits_on_its_engine() {
    let app = TestApp::spawn().await;
    if app.db().get_database_backend() == DbBackend::Sqlite {
        assert_eq!(sqlite_synchronous(app.db()).await, 2);
        app.stop().await;
        return;
    }
    assert_eq!(postgres_synchronous_commit(app.db()).await, "on");
    app.stop().await;

    let (url, _, postgres) = fresh_database().await;
    let (admin_url, name) = postgres.expect("a PostgreSQL database");
    let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" SET synchronous_commit = off"
        ))
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = listener.local_addr().unwrap().to_string();
    let cipher = Cipher::from_encoded_key(&Cipher::generate_key_hex()).unwrap();
    let config = payouts::config::Config::new(&url, &bind, cipher);
    let refused = server::start(config, listener).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .ok();
    let err = refused.err().expect("the start is refused");
    assert!(
        err.to_string().contains("synchronous_commit=off"),
        "unexpected error: {err}"
    );
}
