//! Canceling payouts and deleting bank accounts.
//!
//! `payouts.submitted_at`: when the service first began sending the payout
//! to its provider (set by a conditional update just before the first call,
//! never cleared). From then on the provider may have it, so it can no
//! longer be canceled. Existing payouts were all sent at creation (or were
//! about to be), so they count as submitted then.
//!
//! `bank_accounts.deleted_at`: a deleted bank account that payouts still
//! name stays, hidden, for their history.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("payouts")
                .add_column(timestamp_with_time_zone_null("submitted_at"))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared("UPDATE payouts SET submitted_at = created_at")
            .await?;
        m.alter_table(
            Table::alter()
                .table("bank_accounts")
                .add_column(timestamp_with_time_zone_null("deleted_at"))
                .to_owned(),
        )
        .await?;
        // Whether a bank account has payouts in flight, or any at all.
        m.create_index(
            Index::create()
                .name("payouts_bank_account")
                .table("payouts")
                .col("bank_account_id")
                .col("status")
                .to_owned(),
        )
        .await
    }
}
