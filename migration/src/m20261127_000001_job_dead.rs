//! A job that can never run (its payload does not parse, or no runner is
//! registered for its kind) is marked dead instead of being retried forever
//! or dropped: `dead_at` says when, `last_error` why. Dead jobs are never
//! claimed again and stay for an operator to read.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("jobs")
                .add_column(timestamp_with_time_zone_null("dead_at"))
                .to_owned(),
        )
        .await
    }
}
