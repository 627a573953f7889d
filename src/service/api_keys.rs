//! Operator management of API keys: create (the key is shown once), list
//! (never the key), revoke.
use chrono::Utc;
use entity::api_key;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};

use crate::{
    error::{Error, Result},
    service::orgs,
};

/// Another key for an existing organization. Returns its row and the key.
pub async fn create(conn: &DatabaseConnection, org_id: &str) -> Result<(api_key::Model, String)> {
    let org = orgs::find(conn, org_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no organization {org_id}")))?;
    let key = orgs::create_key(conn, &org).await?;
    let (row, _) = orgs::authenticate_key(conn, &key)
        .await?
        .ok_or_else(|| Error::internal("the new key is not stored"))?;
    Ok((row, key))
}

pub async fn list(conn: &DatabaseConnection, org_id: &str) -> Result<Vec<api_key::Model>> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::OrganizationId.eq(org_id))
        .order_by_asc(api_key::Column::CreatedAt)
        .all(conn)
        .await?)
}

/// Which key to revoke: its id, or its listed prefix (must be unambiguous).
pub enum Selector<'a> {
    Id(&'a str),
    Prefix(&'a str),
}

/// Revokes a key; revoking a revoked key is a no-op that returns it.
pub async fn revoke(conn: &DatabaseConnection, selector: Selector<'_>) -> Result<api_key::Model> {
    let query = api_key::Entity::find();
    let mut rows = match selector {
        Selector::Id(id) => query.filter(api_key::Column::Id.eq(id)).all(conn).await?,
        // A prefix names only active keys: old revoked ones may share it.
        Selector::Prefix(prefix) => {
            query
                .filter(api_key::Column::Prefix.eq(prefix))
                .filter(api_key::Column::RevokedAt.is_null())
                .all(conn)
                .await?
        }
    };
    let row = match rows.len() {
        0 => return Err(Error::NotFound("no such API key".into())),
        1 => rows.remove(0),
        n => {
            return Err(Error::field(
                "prefix",
                format!("matches {n} active keys; revoke by --key-id"),
            ))
        }
    };
    if row.revoked_at.is_some() {
        return Ok(row);
    }
    let mut active: api_key::ActiveModel = row.into();
    active.revoked_at = Set(Some(Utc::now()));
    Ok(api_key::Entity::update(active).exec(conn).await?)
}
