use sea_orm::entity::prelude::*;

use crate::states::DebitReason;

/// Money taken from available by the operator (a refund, an adjustment),
/// once per `external_id`; may leave available negative.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "debits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub external_id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: DebitReason,
    pub description: Option<String>,
    pub transaction_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
