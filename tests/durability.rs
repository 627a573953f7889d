//! An acknowledged payout is durable by default: SQLite fsyncs every commit
//! (`synchronous=FULL`) unless `PAYOUTS_SQLITE_SYNCHRONOUS=normal` opts out,
//! and the service refuses to start on PostgreSQL with `synchronous_commit`
//! off for its database.
mod common;

use common::{TestApp, TestDatabase};
use payouts::db::SqliteSync;
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

/// A service on a SQLite file of its own, whatever engine the suite runs on.
async fn start_sqlite(sync: Option<SqliteSync>) -> TestApp {
    let adjust = |c: &mut payouts::config::Config| {
        if let Some(sync) = sync {
            c.sqlite_synchronous = sync;
        }
    };
    TestApp::try_spawn_on(TestDatabase::sqlite(), adjust, Box::new(|p| p))
        .await
        .expect("starts")
}

/// FULL is 2, NORMAL is 1 (https://sqlite.org/pragma.html#pragma_synchronous).
#[tokio::test]
async fn sqlite_fsyncs_every_commit_by_default() {
    let app = start_sqlite(None).await;
    let running = app.app();
    assert_eq!(sqlite_synchronous(&running.db).await, 2, "write connection");
    // Every connection of the read pool, not just the first one handed out.
    let mut held = Vec::new();
    for _ in 0..8 {
        // An open transaction holds its connection, so the next one differs.
        held.push(running.read_db.begin().await.unwrap());
    }
    for conn in &held {
        assert_eq!(sqlite_synchronous(conn).await, 2, "read connection");
    }
    drop(held);
    app.stop().await;
}

#[tokio::test]
async fn sqlite_normal_is_an_explicit_opt_out() {
    let app = start_sqlite(Some(SqliteSync::Normal)).await;
    assert_eq!(sqlite_synchronous(&app.app().db).await, 1);
    assert_eq!(sqlite_synchronous(&app.app().read_db).await, 1);
    app.stop().await;
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

    let database = TestDatabase::fresh().await;
    let (admin_url, name) = database.postgres().expect("a PostgreSQL database");
    let admin = sea_orm::Database::connect(admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" SET synchronous_commit = off"
        ))
        .await
        .unwrap();
    admin.close().await.ok();
    // A refused start drops the database.
    let refused = TestApp::try_spawn_on(database, |_| {}, Box::new(|p| p)).await;
    let err = refused.err().expect("the start is refused");
    assert!(
        err.to_string().contains("synchronous_commit=off"),
        "unexpected error: {err}"
    );
}
