use sea_orm::entity::prelude::*;

/// An organization's webhook endpoint: where its events are POSTed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// JSON array of the event names it receives.
    #[sea_orm(column_type = "Text")]
    pub events: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub is_active: bool,
    /// The version pin as the client wrote it (a date `YYYY-MM-DD`), not an
    /// `ApiVersion`: the pin is echoed as given, in the endpoint and in each
    /// payload's `apiVersion` (a date between versions, such as
    /// `2026-08-27`, stays the client's); `domain::api_version` resolves a
    /// date to the version whose shapes apply.
    pub api_version: String,
    /// The signing secret (`whsec_…`), AES-256-GCM encrypted: it must be
    /// recovered to sign, and is never shown again after creation.
    #[sea_orm(column_type = "Text")]
    pub secret_encrypted: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub disabled_reason: Option<String>,
    /// Since when every delivery attempt to it failed; null after a success.
    pub failing_since: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
