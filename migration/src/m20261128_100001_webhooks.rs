//! Outgoing webhooks: the organizations' endpoints, the events (an outbox
//! written in the same transaction as the change each reports), one
//! delivery per (event, endpoint) and every attempt of each delivery.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("webhook_endpoints")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(text("url"))
                // JSON array of event names.
                .col(text("events"))
                .col(text_null("description"))
                .col(boolean("is_active"))
                .col(string("api_version"))
                // The signing secret, encrypted (it must be recovered to sign).
                .col(text("secret_encrypted"))
                .col(text_null("disabled_reason"))
                // Since when every attempt to this endpoint failed; null once one succeeds.
                .col(timestamp_with_time_zone_null("failing_since"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("webhook_endpoints_org")
                .table("webhook_endpoints")
                .col("organization_id")
                .col("created_at")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("webhook_events")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string("event"))
                // JSON object: the event's `data`.
                .col(text("data"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("webhook_events_org")
                .table("webhook_events")
                .col("organization_id")
                .col("created_at")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("webhook_deliveries")
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string("endpoint_id"))
                .col(string("event_id"))
                .col(string("status"))
                .col(integer("attempts"))
                .col(timestamp_with_time_zone_null("first_attempt_at"))
                .col(timestamp_with_time_zone_null("next_attempt_at"))
                .col(timestamp_with_time_zone_null("delivered_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        // One delivery per (event, endpoint).
        m.create_index(
            Index::create()
                .name("webhook_deliveries_event_endpoint")
                .table("webhook_deliveries")
                .col("event_id")
                .col("endpoint_id")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("webhook_deliveries_endpoint")
                .table("webhook_deliveries")
                .col("endpoint_id")
                .col("created_at")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("webhook_delivery_attempts")
                .col(string("id").primary_key())
                .col(string("delivery_id"))
                .col(integer("attempt"))
                .col(integer_null("status_code"))
                .col(text_null("error"))
                .col(big_integer("duration_ms"))
                .col(timestamp_with_time_zone("attempted_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("webhook_delivery_attempts_delivery")
                .table("webhook_delivery_attempts")
                .col("delivery_id")
                .col("attempt")
                .unique()
                .to_owned(),
        )
        .await
    }
}
