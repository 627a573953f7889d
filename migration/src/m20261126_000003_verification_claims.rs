//! One verification per organization at a time: a claim row, taken before
//! the identity document is fetched or the provider is called. Its
//! `account_id` becomes the payout account's id and is the provider's
//! idempotency key, so a verification retried after a crash asks the
//! provider for the same account again instead of a second one.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("verification_claims")
                .col(string("organization_id").primary_key())
                .col(string("account_id"))
                .col(string("holder"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await
    }
}
