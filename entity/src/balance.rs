use sea_orm::entity::prelude::*;

/// Running totals of an organization's ledger accounts, kept in the same
/// transaction as the entries so that a conditional update can refuse an
/// overspend atomically. `ledger verify` proves they equal the entries.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "balances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: String,
    pub currency: String,
    /// Negative when debits or holds took more than there was (a debt that
    /// later credits repay first).
    pub available: i64,
    pub pending: i64,
    pub in_payout: i64,
    /// Held back by open holds (disputes, reviews).
    pub held: i64,
    pub paid_out: i64,
    pub fees: i64,
    /// Money that came from or went to the outside world (negative of all credits).
    pub external: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
