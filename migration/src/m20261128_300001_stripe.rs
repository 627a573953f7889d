//! Stripe Connect: the organization records which provider holds its
//! account (`organizations.provider`, set by its first verification; a
//! payout always goes through it), and a payout keeps the provider's payout
//! id beside its transfer id (Stripe: `po_…` on the connected account,
//! after the platform's `tr_…`).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("organizations")
                .add_column(string_null("provider"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("payouts")
                .add_column(string_null("provider_payout_id"))
                .to_owned(),
        )
        .await?;
        // Organizations verified before this migration: their account's provider.
        m.get_connection()
            .execute_unprepared(
                "UPDATE organizations SET provider = (SELECT provider FROM payout_accounts \
                 WHERE payout_accounts.organization_id = organizations.id)",
            )
            .await?;
        Ok(())
    }
}
