use sea_orm::entity::prelude::*;

/// An organization's verification in progress (see the migration).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "verification_claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: String,
    /// The payout account's id to be; the provider's idempotency key.
    pub account_id: String,
    /// The attempt that holds the claim now.
    pub holder: String,
    /// After this the holder is presumed dead and another attempt takes over.
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
