use sea_orm::entity::prelude::*;

use crate::states::{HoldReason, HoldStatus};

/// Money moved from available to held (a dispute, a review), once per
/// `external_id`; released back or captured for good. Only `status`,
/// `resolution_transaction_id` and `resolved_at` ever change, once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "holds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub external_id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: HoldReason,
    pub status: HoldStatus,
    /// The ledger transaction that held the money.
    pub transaction_id: String,
    /// The one that released or captured it.
    pub resolution_transaction_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
