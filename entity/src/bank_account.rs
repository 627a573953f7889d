use sea_orm::entity::prelude::*;

use crate::states::{BankAccountStatus, BankAccountType};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bank_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub payout_account_id: String,
    pub provider_external_account_id: Option<String>,
    pub holder_name: String,
    pub last4: String,
    /// AES-256-GCM, base64 of nonce || ciphertext. Never decrypted for display.
    pub account_number_encrypted: String,
    pub routing_number: Option<String>,
    pub bank_name: Option<String>,
    pub account_type: Option<BankAccountType>,
    pub country: String,
    pub currency: String,
    pub is_default: bool,
    pub status: BankAccountStatus,
    pub created_at: DateTimeUtc,
    /// Deleted, but kept (hidden) because payouts name it.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
