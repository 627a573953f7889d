//! Payouts: request one, read it back, list them, cancel one not sent yet.
use entity::{organization, payout, states::PayoutStatus};
use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    types::Example,
    ApiResponse, Object, OpenApi,
};

use super::{app, livemode, ApiKeyAuth, Result, Tag};
use crate::{
    api::{
        validate::ValidJson,
        wire::{example_time, IdempotencyKey, List, NoNul, Success, Timestamp},
    },
    service::{
        payouts::{self, ListFilter},
        MAX_DESCRIPTION_CHARS,
    },
};

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct PayoutCreateRequest {
    /// Payout amount in cents. Minimum 1000 ($10).
    // The bounds are `payouts::MIN_AMOUNT` and `MAX_AMOUNT`; the attribute
    // takes only literals, so a test checks that the spec says the same.
    #[oai(validator(minimum(value = "1000"), maximum(value = "100000000000")))]
    pub amount: i64,
    pub description: Option<NoNul<MAX_DESCRIPTION_CHARS>>,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct Payout {
    /// Always `payout`.
    pub object: String,
    pub livemode: bool,
    pub id: String,
    pub status: PayoutStatus,
    pub amount: i64,
    pub fee: i64,
    pub net_amount: i64,
    pub currency: String,
    #[oai(nullable)]
    pub description: Option<String>,
    /// Null until the provider has accepted the payout.
    #[oai(nullable)]
    pub provider_transfer_id: Option<String>,
    /// Set when `status` is `failed` (e.g. `no_account`).
    #[oai(nullable)]
    pub failure_code: Option<String>,
    #[oai(nullable)]
    pub failure_message: Option<String>,
    pub created_at: Timestamp,
}

impl Payout {
    pub fn view(org: &organization::Model, row: &payout::Model) -> Self {
        Self {
            object: "payout".into(),
            livemode: livemode(org),
            id: row.id.clone(),
            status: row.status,
            amount: row.amount,
            fee: row.fee,
            net_amount: row.net_amount,
            currency: row.currency.clone(),
            description: row.description.clone(),
            provider_transfer_id: row.provider_transfer_id.clone(),
            failure_code: row.failure_code.clone(),
            failure_message: row.failure_message.clone(),
            created_at: row.created_at.into(),
        }
    }
}

#[derive(ApiResponse)]
enum PayoutCreated {
    #[oai(status = 201)]
    Created(Json<Success<Payout>>),
}

#[derive(ApiResponse)]
enum PayoutResponse {
    #[oai(status = 200)]
    Ok(Json<Success<Payout>>),
}

#[derive(ApiResponse)]
enum PayoutList {
    #[oai(status = 200)]
    Ok(Json<List<Payout>>),
}

pub struct Api;

#[OpenApi]
impl Api {
    /// Request a payout
    ///
    /// Withdraw available balance to the organization's verified payout
    /// account. `amount` is in cents (minimum 1000 = $10). The payout is
    /// created in `pending` and settles to `paid` asynchronously as provider
    /// webhooks arrive.
    #[oai(
        path = "/payouts",
        method = "post",
        tag = "Tag::Payouts",
        operation_id = "requestPayout"
    )]
    async fn create_payout(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        body: ValidJson<PayoutCreateRequest>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<PayoutCreated> {
        let body = body.0;
        let key = idempotency_key.0.as_ref().map(IdempotencyKey::as_str);
        let description = body.description.map(NoNul::into_inner);
        let row = payouts::create(app(req)?, &auth.0, body.amount, description, key).await?;
        Ok(PayoutCreated::Created(Json(Success::new(Payout::view(
            &auth.0, &row,
        )))))
    }

    /// Get a payout
    #[oai(
        path = "/payouts/:id",
        method = "get",
        tag = "Tag::Payouts",
        operation_id = "getPayout"
    )]
    async fn get_payout(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
    ) -> Result<PayoutResponse> {
        let row = payouts::find(&app(req)?.read_db, &auth.0.id, &id.0).await?;
        Ok(PayoutResponse::Ok(Json(Success::new(Payout::view(
            &auth.0, &row,
        )))))
    }

    /// List payouts
    ///
    /// The organization's payouts, newest first. Filter by `status` and by
    /// creation time (`createdFrom` inclusive, `createdTo` exclusive); pass
    /// the previous page's `nextCursor` as `cursor` for the next page.
    #[oai(
        path = "/payouts",
        method = "get",
        tag = "Tag::Payouts",
        operation_id = "listPayouts"
    )]
    // poem-openapi takes each query parameter as an argument of its own.
    #[allow(clippy::too_many_arguments)]
    async fn list_payouts(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        /// Only payouts in this status.
        status: Query<Option<PayoutStatus>>,
        /// Only payouts created at or after this time.
        #[oai(name = "createdFrom")]
        created_from: Query<Option<Timestamp>>,
        /// Only payouts created before this time.
        #[oai(name = "createdTo")]
        created_to: Query<Option<Timestamp>>,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// The `nextCursor` of the previous page.
        #[oai(validator(min_length = 1, max_length = 64))]
        cursor: Query<Option<String>>,
    ) -> Result<PayoutList> {
        let filter = ListFilter {
            status: status.0,
            created_from: created_from.0.map(|t| t.0),
            created_to: created_to.0.map(|t| t.0),
        };
        let limit = limit.0.unwrap_or(20) as u64;
        let page = payouts::list(
            &app(req)?.read_db,
            &auth.0.id,
            &filter,
            limit,
            cursor.0.as_deref(),
        )
        .await?;
        let org = &auth.0;
        Ok(PayoutList::Ok(Json(List::from_page(
            page,
            |row| row.id.clone(),
            |row| Payout::view(org, &row),
        ))))
    }

    /// Cancel a payout
    ///
    /// Only a `pending` payout that has not been sent to the payout provider
    /// yet can be canceled; its amount returns to the available balance at
    /// once. Otherwise 409 `payout_not_cancelable`, and nothing changes.
    #[oai(
        path = "/payouts/:id/cancel",
        method = "post",
        tag = "Tag::Payouts",
        operation_id = "cancelPayout"
    )]
    async fn cancel_payout(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<PayoutResponse> {
        let row = payouts::cancel(app(req)?, &auth.0.id, &id.0).await?;
        Ok(PayoutResponse::Ok(Json(Success::new(Payout::view(
            &auth.0, &row,
        )))))
    }
}

impl Example for PayoutCreateRequest {
    fn example() -> Self {
        Self {
            amount: 2500,
            description: Some("Weekly payout".into()),
        }
    }
}

impl Example for Payout {
    fn example() -> Self {
        Self {
            object: "payout".into(),
            livemode: false,
            id: "po_5bWn8Kq2Xr7TzL1mVc4Hy9Dg".into(),
            status: PayoutStatus::Pending,
            amount: 2500,
            fee: 0,
            net_amount: 2500,
            currency: "usd".into(),
            description: Some("Weekly payout".into()),
            provider_transfer_id: Some("tr_2c26b46b68ffc68ff99b453c".into()),
            failure_code: None,
            failure_message: None,
            created_at: example_time(10, 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::payouts::{MAX_AMOUNT, MIN_AMOUNT};

    /// The schema's amount bounds are the service's constants.
    #[test]
    fn published_amount_bounds_are_the_constants() {
        let spec: serde_json::Value =
            serde_json::from_str(&crate::api::api_service().spec()).unwrap();
        let amount = &spec["components"]["schemas"]["PayoutCreateRequest"]["properties"]["amount"];
        assert_eq!(amount["minimum"].as_f64(), Some(MIN_AMOUNT as f64));
        assert_eq!(amount["maximum"].as_f64(), Some(MAX_AMOUNT as f64));
        let description =
            &spec["components"]["schemas"]["PayoutCreateRequest"]["properties"]["description"];
        assert_eq!(
            description["maxLength"].as_u64(),
            Some(MAX_DESCRIPTION_CHARS as u64)
        );
    }
}
