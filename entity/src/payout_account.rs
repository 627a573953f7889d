use sea_orm::entity::prelude::*;

use crate::states::{AccountStatus, BusinessType};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payout_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub organization_id: String,
    pub provider: String,
    pub provider_account_id: String,
    pub status: AccountStatus,
    pub transfers_enabled: bool,
    pub business_type: BusinessType,
    pub country: String,
    pub email: String,
    pub business_url: String,
    /// Creation time of the newest provider event applied; older ones are stale.
    pub last_event_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
