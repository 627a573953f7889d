use sea_orm::entity::prelude::*;

/// Durable background work (sandbox webhook deliveries, provider retries).
/// Claimed with a lease by a conditional update, so several instances on one
/// database never run the same job at once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub run_at: DateTimeUtc,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub done_at: Option<DateTimeUtc>,
    /// Set when the job can never run (unparsable payload, unknown kind);
    /// a dead job is never claimed again.
    pub dead_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
