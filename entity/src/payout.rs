use sea_orm::entity::prelude::*;

use crate::states::PayoutStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payouts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub bank_account_id: String,
    pub status: PayoutStatus,
    pub amount: i64,
    pub fee: i64,
    pub net_amount: i64,
    pub currency: String,
    pub description: Option<String>,
    pub provider: String,
    pub provider_transfer_id: Option<String>,
    /// The provider's payout to the bank (Stripe: `po_…` on the connected
    /// account), when it is a separate object from the transfer.
    pub provider_payout_id: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// The request's `Idempotency-Key`, if it had one.
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    pub failed_at: Option<DateTimeUtc>,
    /// When the service first began sending it to the provider: from then
    /// on it cannot be canceled (the provider may have it).
    pub submitted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
