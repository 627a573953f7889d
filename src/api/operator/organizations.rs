//! Organizations (with their balance and payout account status) and their
//! API keys.
use entity::{
    api_key,
    states::{AccountStatus, OrgMode},
};
use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    types::Example,
    ApiResponse, Object, OpenApi,
};

use super::{app, OperatorAuth, Result, Tag};
use crate::{
    api::{
        validate::ValidJson,
        wire::{example_time, IdempotencyKey, List, NonBlank, Success, Timestamp},
    },
    service::{api_keys, orgs},
};

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct OrganizationCreateRequest {
    pub name: NonBlank<200>,
    /// ISO 3166-1 alpha-2, upper case.
    #[oai(validator(pattern = "^[A-Z]{2}$"))]
    pub country: String,
    /// ISO 4217, lower case.
    #[oai(validator(pattern = "^[a-z]{3}$"))]
    pub currency: String,
    /// `live` organizations get `ck_live_` keys, `sandbox` ones `ck_test_`.
    pub mode: OrgMode,
}

/// The running totals of an organization's balance, in cents.
#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct OrganizationBalance {
    /// Can be paid out now; negative while debits or holds owe more than
    /// there was (later credits repay it first).
    pub available: i64,
    pub pending: i64,
    pub in_payout: i64,
    /// Held by open holds.
    pub held: i64,
    pub paid_out: i64,
    pub currency: String,
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct Organization {
    /// Always `organization`.
    pub object: String,
    pub id: String,
    pub name: String,
    pub country: String,
    pub currency: String,
    pub mode: OrgMode,
    pub livemode: bool,
    pub balance: OrganizationBalance,
    /// The payout account's status; null before payout verification.
    #[oai(nullable)]
    pub account_status: Option<AccountStatus>,
    pub created_at: Timestamp,
    /// The organization's first API key: only in the answer to its creation.
    #[oai(skip_serializing_if_is_none)]
    pub api_key: Option<String>,
}

impl Organization {
    fn view(o: orgs::Overview, api_key: Option<String>) -> Self {
        Self {
            object: "organization".into(),
            livemode: o.organization.mode == OrgMode::Live,
            id: o.organization.id,
            name: o.organization.name,
            country: o.organization.country,
            currency: o.organization.currency,
            mode: o.organization.mode,
            balance: OrganizationBalance {
                available: o.balance.available,
                pending: o.balance.pending,
                in_payout: o.balance.in_payout,
                held: o.balance.held,
                paid_out: o.balance.paid_out,
                currency: o.balance.currency,
            },
            account_status: o.account_status,
            created_at: o.organization.created_at.into(),
            api_key,
        }
    }
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct ApiKey {
    /// Always `api_key`.
    pub object: String,
    pub id: String,
    pub organization_id: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub created_at: Timestamp,
    #[oai(nullable)]
    pub revoked_at: Option<Timestamp>,
    /// The key itself: only in the answer to its creation.
    #[oai(skip_serializing_if_is_none)]
    pub key: Option<String>,
}

impl ApiKey {
    fn view(row: api_key::Model, key: Option<String>) -> Self {
        Self {
            object: "api_key".into(),
            id: row.id,
            organization_id: row.organization_id,
            prefix: row.prefix,
            created_at: row.created_at.into(),
            revoked_at: row.revoked_at.map(Into::into),
            key,
        }
    }
}

#[derive(ApiResponse)]
enum OrganizationCreated {
    #[oai(status = 201)]
    Created(Json<Success<Organization>>),
}

#[derive(ApiResponse)]
enum OrganizationResponse {
    #[oai(status = 200)]
    Ok(Json<Success<Organization>>),
}

#[derive(ApiResponse)]
enum OrganizationsResponse {
    #[oai(status = 200)]
    Ok(Json<List<Organization>>),
}

#[derive(ApiResponse)]
enum ApiKeyCreated {
    #[oai(status = 201)]
    Created(Json<Success<ApiKey>>),
}

#[derive(ApiResponse)]
enum ApiKeyResponse {
    #[oai(status = 200)]
    Ok(Json<Success<ApiKey>>),
}

#[derive(ApiResponse)]
enum ApiKeysResponse {
    #[oai(status = 200)]
    Ok(Json<List<ApiKey>>),
}

pub struct Api;

#[OpenApi]
impl Api {
    /// Create an organization
    ///
    /// With its first API key, shown only in this answer.
    #[oai(
        path = "/organizations",
        method = "post",
        tag = "Tag::Organizations",
        operation_id = "createOrganization"
    )]
    async fn create_organization(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        body: ValidJson<OrganizationCreateRequest>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<OrganizationCreated> {
        let body = body.0;
        let db = &app(req)?.db;
        let created = orgs::create(
            db,
            body.name.as_ref(),
            &body.country,
            &body.currency,
            body.mode == OrgMode::Live,
        )
        .await?;
        let overview = orgs::overview(db, &created.organization.id).await?;
        Ok(OrganizationCreated::Created(Json(Success::new(
            Organization::view(overview, Some(created.api_key)),
        ))))
    }

    /// List organizations
    ///
    /// Newest first. Pass the previous page's `nextCursor` as `cursor`.
    #[oai(
        path = "/organizations",
        method = "get",
        tag = "Tag::Organizations",
        operation_id = "listOrganizations"
    )]
    async fn list_organizations(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// The `nextCursor` of the previous page.
        #[oai(validator(min_length = 1, max_length = 64))]
        cursor: Query<Option<String>>,
    ) -> Result<OrganizationsResponse> {
        let limit = limit.0.unwrap_or(20) as u64;
        let page = orgs::list(&app(req)?.read_db, limit, cursor.0.as_deref()).await?;
        Ok(OrganizationsResponse::Ok(Json(List::from_page(
            page,
            |o| o.organization.id.clone(),
            |o| Organization::view(o, None),
        ))))
    }

    /// Get an organization
    ///
    /// With its balance and its payout account's status.
    #[oai(
        path = "/organizations/:id",
        method = "get",
        tag = "Tag::Organizations",
        operation_id = "getOrganization"
    )]
    async fn get_organization(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        id: Path<String>,
    ) -> Result<OrganizationResponse> {
        let overview = orgs::overview(&app(req)?.read_db, &id.0).await?;
        Ok(OrganizationResponse::Ok(Json(Success::new(
            Organization::view(overview, None),
        ))))
    }

    /// Create an API key
    ///
    /// Another key for the organization; the key is shown only in this answer.
    #[oai(
        path = "/organizations/:id/keys",
        method = "post",
        tag = "Tag::Organizations",
        operation_id = "createApiKey"
    )]
    async fn create_key(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        id: Path<String>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<ApiKeyCreated> {
        let db = &app(req)?.db;
        let org = orgs::get(db, &id.0).await?;
        let (row, key) = api_keys::create(db, &org.id).await?;
        Ok(ApiKeyCreated::Created(Json(Success::new(ApiKey::view(
            row,
            Some(key),
        )))))
    }

    /// List API keys
    ///
    /// Ids and prefixes, newest first; never the keys.
    #[oai(
        path = "/organizations/:id/keys",
        method = "get",
        tag = "Tag::Organizations",
        operation_id = "listApiKeys"
    )]
    async fn list_keys(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        id: Path<String>,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// The `nextCursor` of the previous page.
        #[oai(validator(min_length = 1, max_length = 64))]
        cursor: Query<Option<String>>,
    ) -> Result<ApiKeysResponse> {
        let db = &app(req)?.read_db;
        let org = orgs::get(db, &id.0).await?;
        let limit = limit.0.unwrap_or(20) as u64;
        let page = api_keys::page(db, &org.id, limit, cursor.0.as_deref()).await?;
        Ok(ApiKeysResponse::Ok(Json(List::from_page(
            page,
            |k| k.id.clone(),
            |k| ApiKey::view(k, None),
        ))))
    }

    /// Revoke an API key
    ///
    /// The very next request with it gets 401. Revoking a revoked key
    /// returns it unchanged.
    #[oai(
        path = "/organizations/:id/keys/:keyId/revoke",
        method = "post",
        tag = "Tag::Organizations",
        operation_id = "revokeApiKey"
    )]
    async fn revoke_key(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        id: Path<String>,
        #[oai(name = "keyId")] key_id: Path<String>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<ApiKeyResponse> {
        let db = &app(req)?.db;
        let org = orgs::get(db, &id.0).await?;
        let row = api_keys::revoke_in(db, &org.id, &key_id.0).await?;
        Ok(ApiKeyResponse::Ok(Json(Success::new(ApiKey::view(
            row, None,
        )))))
    }
}

impl Example for OrganizationCreateRequest {
    fn example() -> Self {
        Self {
            name: "Acme".into(),
            country: "US".into(),
            currency: "usd".into(),
            mode: OrgMode::Sandbox,
        }
    }
}

impl Example for OrganizationBalance {
    fn example() -> Self {
        Self {
            available: 50000,
            pending: 0,
            in_payout: 0,
            held: 0,
            paid_out: 0,
            currency: "usd".into(),
        }
    }
}

impl Example for Organization {
    fn example() -> Self {
        Self {
            object: "organization".into(),
            id: "org_3kTq8PzR3nW6Kq1Xv5Tm9Ls2".into(),
            name: "Acme".into(),
            country: "US".into(),
            currency: "usd".into(),
            mode: OrgMode::Sandbox,
            livemode: false,
            balance: OrganizationBalance::example(),
            account_status: Some(AccountStatus::Verified),
            created_at: example_time(9, 0),
            api_key: None,
        }
    }
}

impl Example for ApiKey {
    fn example() -> Self {
        Self {
            object: "api_key".into(),
            id: "key_7Hc2Ls9Tm5Xv1Kq6Wn3RzP8".into(),
            organization_id: "org_3kTq8PzR3nW6Kq1Xv5Tm9Ls2".into(),
            prefix: "ck_test_4fQz".into(),
            created_at: example_time(9, 0),
            revoked_at: None,
            key: None,
        }
    }
}
