//! Organizations and their API keys.
use chrono::Utc;
use entity::{
    api_key, balance, organization,
    states::{ApiVersion, OrgMode},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::{crypto, db, error::Result, ids};

pub struct NewOrganization {
    pub organization: organization::Model,
    /// Shown once; only its hash is stored.
    pub api_key: String,
}

/// A new organization pinned to the default API version.
pub async fn create(
    conn: &DatabaseConnection,
    name: &str,
    country: &str,
    currency: &str,
    live: bool,
) -> Result<NewOrganization> {
    create_pinned(
        conn,
        name,
        country,
        currency,
        live,
        crate::domain::api_version::DEFAULT,
    )
    .await
}

/// A new organization whose requests without `Commet-Version` get
/// `api_version`'s shapes.
pub async fn create_pinned(
    conn: &DatabaseConnection,
    name: &str,
    country: &str,
    currency: &str,
    live: bool,
    api_version: ApiVersion,
) -> Result<NewOrganization> {
    let now = Utc::now();
    let org = organization::Model {
        id: ids::new_id("org"),
        name: name.to_string(),
        mode: if live {
            OrgMode::Live
        } else {
            OrgMode::Sandbox
        },
        country: country.to_uppercase(),
        currency: currency.to_lowercase(),
        provider: None,
        created_at: now,
        api_version,
    };
    let txn = db::begin_write(conn).await?;
    organization::Entity::insert(organization::ActiveModel::from(org.clone()))
        .exec_without_returning(&txn)
        .await?;
    balance::Entity::insert(balance::ActiveModel {
        organization_id: Set(org.id.clone()),
        currency: Set(org.currency.clone()),
        available: Set(0),
        pending: Set(0),
        in_payout: Set(0),
        paid_out: Set(0),
        fees: Set(0),
        external: Set(0),
        updated_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    let api_key = create_key(&txn, &org).await?;
    txn.commit().await?;
    Ok(NewOrganization {
        organization: org,
        api_key,
    })
}

/// A new key for `org`; returns the key itself (shown once).
pub async fn create_key<C: sea_orm::ConnectionTrait>(
    conn: &C,
    org: &organization::Model,
) -> Result<String> {
    let key = ids::new_api_key(org.mode == OrgMode::Live);
    api_key::Entity::insert(api_key::ActiveModel {
        id: Set(ids::new_id("key")),
        organization_id: Set(org.id.clone()),
        prefix: Set(ids::api_key_prefix(&key)),
        key_hash: Set(crypto::sha256_hex(key.as_bytes())),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(key)
}

pub async fn find(conn: &DatabaseConnection, id: &str) -> Result<Option<organization::Model>> {
    Ok(organization::Entity::find_by_id(id).one(conn).await?)
}

/// The stored, unrevoked API key row for a presented key, with its
/// organization, in one query (this runs on every request). The key is
/// looked up by its SHA-256, never stored in clear; nothing is cached, so a
/// revocation applies to the very next request.
pub async fn authenticate_key(
    conn: &DatabaseConnection,
    key: &str,
) -> Result<Option<(api_key::Model, organization::Model)>> {
    if !ids::looks_like_api_key(key) {
        return Ok(None);
    }
    let hash = crypto::sha256_hex(key.as_bytes());
    let found = api_key::Entity::find()
        .find_also_related(organization::Entity)
        .filter(api_key::Column::KeyHash.eq(hash.clone()))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(conn)
        .await?;
    Ok(match found {
        Some((row, Some(org))) if crypto::constant_time_eq(&row.key_hash, &hash) => {
            Some((row, org))
        }
        _ => None,
    })
}
