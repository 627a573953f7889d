//! The operator API's money: a `held` balance, an `available` balance that
//! may go negative (debits and holds beyond it make a debt that later
//! credits repay first), the operator's `external_id` on ledger
//! transactions, and the credits, debits and holds themselves, each unique
//! per organization and external id (for ever: a retried credit is the same
//! credit).
//!
//! PostgreSQL drops the `available >= 0` check in place; SQLite cannot drop
//! a check, so its `balances` table is rebuilt (nothing refers to it). The
//! conditional update in `service::ledger::post` still refuses a payout
//! beyond available; `held`, `pending` and `in_payout` keep their checks.
use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn balances_table(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(name)
        .col(string("organization_id").primary_key())
        .col(string_len("currency", 3))
        .col(big_integer("available"))
        .col(big_integer("pending").check(Expr::col("pending").gte(0)))
        .col(big_integer("in_payout").check(Expr::col("in_payout").gte(0)))
        .col(
            big_integer("held")
                .default(0)
                .check(Expr::col("held").gte(0)),
        )
        .col(big_integer("paid_out"))
        .col(big_integer("fees"))
        .col(big_integer("external"))
        .col(timestamp_with_time_zone("updated_at"))
        .to_owned()
}

async fn unique(m: &SchemaManager<'_>, table: &'static str) -> Result<(), DbErr> {
    m.create_index(
        Index::create()
            .name(format!("{table}_org_external_id"))
            .table(table)
            .col("organization_id")
            .col("external_id")
            .unique()
            .to_owned(),
    )
    .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE balances DROP CONSTRAINT IF EXISTS balances_available_check",
                )
                .await?;
                db.execute_unprepared(
                    "ALTER TABLE balances ADD COLUMN held BIGINT NOT NULL DEFAULT 0 \
                     CHECK (held >= 0)",
                )
                .await?;
            }
            _ => {
                // One call, so one connection runs every step (a pool may
                // hand separate statements to separate connections).
                let create = balances_table("balances_new").to_string(SqliteQueryBuilder);
                db.execute_unprepared(&format!(
                    "{create}; \
                     INSERT INTO balances_new (organization_id, currency, available, pending, \
                     in_payout, held, paid_out, fees, external, updated_at) \
                     SELECT organization_id, currency, available, pending, in_payout, 0, \
                     paid_out, fees, external, updated_at FROM balances; \
                     DROP TABLE balances; \
                     ALTER TABLE balances_new RENAME TO balances;"
                ))
                .await?;
            }
        }

        m.alter_table(
            Table::alter()
                .table("ledger_transactions")
                .add_column(string_len_null("external_id", 255))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("credits")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string_len("external_id", 255))
                .col(big_integer("amount"))
                .col(string_len("currency", 3))
                .col(string_len_null("description", 500))
                .col(date_null("available_on"))
                .col(string("transaction_id"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        unique(m, "credits").await?;

        m.create_table(
            Table::create()
                .table("debits")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string_len("external_id", 255))
                .col(big_integer("amount"))
                .col(string_len("currency", 3))
                .col(string("reason"))
                .col(string_len_null("description", 500))
                .col(string("transaction_id"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        unique(m, "debits").await?;

        m.create_table(
            Table::create()
                .table("holds")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string_len("external_id", 255))
                .col(big_integer("amount"))
                .col(string_len("currency", 3))
                .col(string("reason"))
                .col(string("status"))
                .col(string("transaction_id"))
                .col(string_null("resolution_transaction_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("resolved_at"))
                .to_owned(),
        )
        .await?;
        unique(m, "holds").await?;
        Ok(())
    }
}
