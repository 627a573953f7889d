use sea_orm::entity::prelude::*;

/// Money credited by the operator (a customer's payment), once per
/// `external_id` for ever: the unique index on (organization, external id)
/// makes a retried or concurrent repeat find this row instead of crediting
/// twice.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub external_id: String,
    pub amount: i64,
    pub currency: String,
    pub description: Option<String>,
    /// Credited to pending, released by a job on this date.
    pub available_on: Option<Date>,
    /// The ledger transaction that applied it.
    pub transaction_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
