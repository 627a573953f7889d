use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("organizations")
                .col(string("id").primary_key())
                .col(string("name"))
                .col(string("mode"))
                .col(string_len("country", 2))
                .col(string_len("currency", 3))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("api_keys")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string("prefix"))
                .col(string_uniq("key_hash"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("payout_accounts")
                .col(string("id").primary_key())
                .col(string_uniq("organization_id"))
                .col(string("provider"))
                .col(string("provider_account_id"))
                .col(string("status"))
                .col(boolean("transfers_enabled"))
                .col(string("business_type"))
                .col(string_len("country", 2))
                .col(string("email"))
                .col(string("business_url"))
                .col(timestamp_with_time_zone_null("last_event_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("payout_accounts_provider_account")
                .table("payout_accounts")
                .col("provider")
                .col("provider_account_id")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("bank_accounts")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string("payout_account_id"))
                .col(string_null("provider_external_account_id"))
                .col(string("holder_name"))
                .col(string_len("last4", 4))
                .col(text("account_number_encrypted"))
                .col(string_null("routing_number"))
                .col(string_null("bank_name"))
                .col(string_null("account_type"))
                .col(string_len("country", 2))
                .col(string_len("currency", 3))
                .col(boolean("is_default"))
                .col(string("status"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        // At most one default bank account per organization, enforced by the
        // database so two concurrent "setDefault" requests cannot both win.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX bank_accounts_one_default \
                 ON bank_accounts (organization_id) WHERE is_default = TRUE",
            )
            .await?;

        m.create_table(
            Table::create()
                .table("payouts")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string("bank_account_id"))
                .col(string("status"))
                .col(big_integer("amount"))
                .col(big_integer("fee"))
                .col(big_integer("net_amount"))
                .col(string_len("currency", 3))
                .col(string_len_null("description", 500))
                .col(string("provider"))
                .col(string_null("provider_transfer_id"))
                .col(string_null("failure_code"))
                .col(string_null("failure_message"))
                .col(string_len_null("idempotency_key", 255))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("paid_at"))
                .col(timestamp_with_time_zone_null("failed_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("payouts_org_created")
                .table("payouts")
                .col("organization_id")
                .col("created_at")
                .to_owned(),
        )
        .await?;
        // A retried request with the same key finds its payout even when the
        // stored idempotent answer was lost (crash after the commit).
        m.create_index(
            Index::create()
                .name("payouts_org_idempotency_key")
                .table("payouts")
                .col("organization_id")
                .col("idempotency_key")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("payouts_provider_transfer")
                .table("payouts")
                .col("provider")
                .col("provider_transfer_id")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("balances")
                .col(string("organization_id").primary_key())
                .col(string_len("currency", 3))
                // The database itself refuses a negative available balance.
                .col(big_integer("available").check(Expr::col("available").gte(0)))
                .col(big_integer("pending").check(Expr::col("pending").gte(0)))
                .col(big_integer("in_payout").check(Expr::col("in_payout").gte(0)))
                .col(big_integer("paid_out"))
                .col(big_integer("fees"))
                .col(big_integer("external"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("ledger_transactions")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string("kind"))
                .col(string_null("payout_id"))
                .col(big_integer("amount"))
                .col(string_len("currency", 3))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ledger_transactions_org")
                .table("ledger_transactions")
                .col("organization_id")
                .col("created_at")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("ledger_entries")
                .col(big_pk_auto("id"))
                .col(string("transaction_id"))
                .col(string("organization_id"))
                .col(string("account"))
                .col(big_integer("amount"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ledger_entries_txn")
                .table("ledger_entries")
                .col("transaction_id")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ledger_entries_org_account")
                .table("ledger_entries")
                .col("organization_id")
                .col("account")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("provider_events")
                .col(string("provider"))
                .col(string("event_id"))
                .col(string("event_type"))
                .col(timestamp_with_time_zone("received_at"))
                .primary_key(Index::create().col("provider").col("event_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("jobs")
                .col(string("id").primary_key())
                .col(string("kind"))
                .col(text("payload"))
                .col(timestamp_with_time_zone("run_at"))
                .col(integer("attempts").default(0))
                .col(string_null("lease_owner"))
                .col(timestamp_with_time_zone_null("lease_until"))
                .col(timestamp_with_time_zone_null("done_at"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("jobs_due")
                .table("jobs")
                .col("done_at")
                .col("run_at")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("idempotency_keys")
                .col(string("organization_id"))
                .col(string_len("key", 255))
                .col(string("route"))
                .col(string("request_hash"))
                .col(integer_null("response_status"))
                .col(text_null("response_body"))
                .col(timestamp_with_time_zone("locked_until"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .primary_key(Index::create().col("organization_id").col("key"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
