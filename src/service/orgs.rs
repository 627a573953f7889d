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
        held: Set(0),
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

/// An organization with its balance and its payout account's status (none
/// before verification): what the operator reads.
#[derive(Debug, Clone)]
pub struct Overview {
    pub organization: organization::Model,
    pub balance: balance::Model,
    pub account_status: Option<entity::states::AccountStatus>,
}

async fn overview_of(
    conn: &DatabaseConnection,
    organization: organization::Model,
) -> Result<Overview> {
    let balance = super::ledger::get_balance(conn, &organization.id).await?;
    let account_status = entity::payout_account::Entity::find()
        .filter(entity::payout_account::Column::OrganizationId.eq(organization.id.clone()))
        .one(conn)
        .await?
        .map(|account| account.status);
    Ok(Overview {
        organization,
        balance,
        account_status,
    })
}

/// The organization `id` with its balance and account status.
pub async fn overview(conn: &DatabaseConnection, id: &str) -> Result<Overview> {
    if !ids::is_own_id("org", id) {
        return Err(crate::error::Error::NotFound("no such organization".into()));
    }
    let org = find(conn, id)
        .await?
        .ok_or_else(|| crate::error::Error::NotFound("no such organization".into()))?;
    overview_of(conn, org).await
}

/// Organizations, newest first; `cursor` is the last id of the previous page.
pub async fn list(
    conn: &DatabaseConnection,
    limit: u64,
    cursor: Option<&str>,
) -> Result<super::page::Page<Overview>> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut query = organization::Entity::find()
        .order_by_desc(organization::Column::CreatedAt)
        .order_by_desc(organization::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        let after = overview(conn, cursor)
            .await
            .map_err(|e| e.for_cursor("organization"))?
            .organization;
        query = query.filter(super::page::after(
            organization::Column::CreatedAt,
            organization::Column::Id,
            after.created_at,
            after.id,
        ));
    }
    let page = super::page::Page::from_overfetch(query.all(conn).await?, limit);
    let mut items = Vec::with_capacity(page.items.len());
    for org in page.items {
        items.push(overview_of(conn, org).await?);
    }
    Ok(super::page::Page {
        items,
        has_more: page.has_more,
    })
}

/// The organization `id`, or not found (an id of a form never issued is not
/// looked up).
pub async fn get(conn: &DatabaseConnection, id: &str) -> Result<organization::Model> {
    if !ids::is_own_id("org", id) {
        return Err(crate::error::Error::NotFound("no such organization".into()));
    }
    find(conn, id)
        .await?
        .ok_or_else(|| crate::error::Error::NotFound("no such organization".into()))
}
