//! Ledger entries and transactions are immutable: the database itself
//! refuses to update or delete them, whatever the application does.
use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 2] = ["ledger_entries", "ledger_transactions"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION ledger_immutable() RETURNS trigger AS $$ \
                     BEGIN RAISE EXCEPTION 'ledger rows are immutable'; END; $$ LANGUAGE plpgsql",
                )
                .await?;
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} \
                         FOR EACH ROW EXECUTE FUNCTION ledger_immutable()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in TABLES {
                    for event in ["UPDATE", "DELETE"] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_no_{} BEFORE {event} ON {table} \
                             BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable'); END",
                            event.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }
}
