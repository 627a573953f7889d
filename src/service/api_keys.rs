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

/// One organization's keys, newest first (`cursor`: the last id of the
/// previous page); never the keys themselves.
pub async fn page(
    conn: &DatabaseConnection,
    org_id: &str,
    limit: u64,
    cursor: Option<&str>,
) -> Result<crate::service::page::Page<api_key::Model>> {
    use sea_orm::QuerySelect;
    let mut query = api_key::Entity::find()
        .filter(api_key::Column::OrganizationId.eq(org_id))
        .order_by_desc(api_key::Column::CreatedAt)
        .order_by_desc(api_key::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        let after = find_in(conn, org_id, cursor)
            .await
            .map_err(|e| e.for_cursor("API key"))?;
        query = query.filter(super::page::after(
            api_key::Column::CreatedAt,
            api_key::Column::Id,
            after.created_at,
            after.id,
        ));
    }
    Ok(crate::service::page::Page::from_overfetch(
        query.all(conn).await?,
        limit,
    ))
}

/// The key `key_id` of `org_id` (another organization's is not found).
async fn find_in(conn: &DatabaseConnection, org_id: &str, key_id: &str) -> Result<api_key::Model> {
    if !crate::ids::is_own_id("key", key_id) {
        return Err(Error::NotFound("no such API key".into()));
    }
    api_key::Entity::find_by_id(key_id)
        .filter(api_key::Column::OrganizationId.eq(org_id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("no such API key".into()))
}

/// Revokes `org_id`'s key `key_id` (another organization's is not found).
pub async fn revoke_in(
    conn: &DatabaseConnection,
    org_id: &str,
    key_id: &str,
) -> Result<api_key::Model> {
    let row = find_in(conn, org_id, key_id).await?;
    revoke(conn, Selector::Id(&row.id)).await
}
