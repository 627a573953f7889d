use sea_orm::entity::prelude::*;

use crate::states::{ApiVersion, OrgMode};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub mode: OrgMode,
    /// ISO 3166-1 alpha-2, upper case
    pub country: String,
    /// ISO 4217, lower case
    pub currency: String,
    /// The provider holding the organization's account (`sandbox`,
    /// `stripe`), set by its first verification; unset before.
    pub provider: Option<String>,
    pub created_at: DateTimeUtc,
    /// The `Commet-Version` its requests get when they send none.
    pub api_version: ApiVersion,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
