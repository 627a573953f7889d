//! An organization's Commet API version pin (`Commet-Version`): the wire
//! shapes its requests get when they send no `Commet-Version` header, and
//! its webhook endpoints when they have no pin of their own. Set once, at
//! creation (`payouts org create --api-version`). Organizations created
//! before versions existed have been answered with the seed page's shapes,
//! `2026-07-11`, so that is what they are pinned to.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("organizations")
                .add_column(string("api_version").default("2026-07-11"))
                .to_owned(),
        )
        .await
    }
}
