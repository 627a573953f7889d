//! PostgreSQL's row triggers do not fire on `TRUNCATE`: a statement trigger
//! refuses it too, so the ledger cannot be emptied either. (SQLite has no
//! `TRUNCATE`; its `DELETE` triggers already cover a `DELETE` of every row.)
use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 2] = ["ledger_entries", "ledger_transactions"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        for table in TABLES {
            // ledger_immutable() is the function of the previous migration.
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable()"
            ))
            .await?;
        }
        Ok(())
    }
}
