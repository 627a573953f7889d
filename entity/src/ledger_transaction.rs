use sea_orm::entity::prelude::*;

use crate::states::LedgerKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_transactions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub kind: LedgerKind,
    pub payout_id: Option<String>,
    pub amount: i64,
    /// The operator's id of what caused it (a credit's, debit's or hold's
    /// `externalId`), if any.
    pub external_id: Option<String>,
    pub currency: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
