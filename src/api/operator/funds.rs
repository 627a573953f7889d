//! Money in and out of an organization's balance, over the operator API.
//!
//! One piece: credits, holds and debits are one family of routes (the same `externalId` rule, envelope, errors and balance answer); each handler is thin.
//!
//! Credits, holds (release, capture) and debits, each once per `externalId`.
use entity::{
    credit, debit, hold,
    states::{DebitReason, HoldReason, HoldStatus},
};
use poem::Request;
use poem_openapi::{
    param::{Header, Path},
    payload::Json,
    types::Example,
    ApiResponse, Object, OpenApi,
};

use super::{app, OperatorAuth, Result, Tag};
use crate::{
    api::{
        validate::ValidJson,
        wire::{example_time, Date, IdempotencyKey, NoNul, Success, Timestamp},
    },
    service::{credits, debits, holds, movements::Applied, orgs, MAX_DESCRIPTION_CHARS},
};

/// The operator's id of the payment, refund or dispute: 1 to 255 printable
/// ASCII characters without spaces. One movement per organization and id,
/// for ever.
#[derive(Debug, Clone)]
pub struct ExternalId(pub String);

mod external_id {
    use std::borrow::Cow;

    use poem_openapi::{
        registry::{MetaSchema, MetaSchemaRef},
        types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
    };
    use serde_json::Value;

    use super::ExternalId;

    pub const PATTERN: &str = "^[!-~]+$";

    impl Type for ExternalId {
        const IS_REQUIRED: bool = true;
        type RawValueType = Self;
        type RawElementValueType = Self;

        fn name() -> Cow<'static, str> {
            "external_id".into()
        }

        fn schema_ref() -> MetaSchemaRef {
            MetaSchemaRef::Inline(Box::new(MetaSchema {
                min_length: Some(1),
                max_length: Some(255),
                pattern: Some(PATTERN.into()),
                ..MetaSchema::new("string")
            }))
        }

        fn as_raw_value(&self) -> Option<&Self> {
            Some(self)
        }

        fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
            Box::new(self.as_raw_value().into_iter())
        }
    }

    impl ParseFromJSON for ExternalId {
        fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
            match value {
                Some(Value::String(text)) if crate::ids::is_external_id(&text) => Ok(Self(text)),
                Some(Value::String(_)) => Err(ParseError::custom(
                    "must be 1 to 255 printable ASCII characters without spaces",
                )),
                other => Err(ParseError::expected_type(other.unwrap_or_default())),
            }
        }
    }

    impl ToJSON for ExternalId {
        fn to_json(&self) -> Option<Value> {
            Some(Value::String(self.0.clone()))
        }
    }
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct CreditCreateRequest {
    /// Cents, 1 to 10^15.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000000000000")))]
    pub amount: i64,
    /// Your id of the payment. The same id again returns the same credit
    /// (200); with another amount it is 409 `external_id_conflict`.
    pub external_id: ExternalId,
    pub description: Option<NoNul<MAX_DESCRIPTION_CHARS>>,
    /// Credited to pending and made available on this date (00:00 UTC);
    /// without it, available at once.
    pub available_on: Option<Date>,
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct Credit {
    /// Always `credit`.
    pub object: String,
    pub id: String,
    pub organization_id: String,
    pub external_id: String,
    pub amount: i64,
    pub currency: String,
    #[oai(nullable)]
    pub description: Option<String>,
    #[oai(nullable)]
    pub available_on: Option<Date>,
    /// The ledger transaction (`txn_…`) that applied it.
    pub balance_transaction_id: String,
    pub created_at: Timestamp,
}

impl From<credit::Model> for Credit {
    fn from(row: credit::Model) -> Self {
        Self {
            object: "credit".into(),
            id: row.id,
            organization_id: row.organization_id,
            external_id: row.external_id,
            amount: row.amount,
            currency: row.currency,
            description: row.description,
            available_on: row.available_on.map(Date),
            balance_transaction_id: row.transaction_id,
            created_at: row.created_at.into(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct HoldCreateRequest {
    /// Cents, 1 to 10^15. Taken from available even beyond it (available
    /// then goes negative).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000000000000")))]
    pub amount: i64,
    /// Your id of the dispute or review; the same id again returns the same hold.
    pub external_id: ExternalId,
    pub reason: HoldReason,
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct Hold {
    /// Always `hold`.
    pub object: String,
    pub id: String,
    pub organization_id: String,
    pub external_id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: HoldReason,
    pub status: HoldStatus,
    pub created_at: Timestamp,
    /// When it was released or captured.
    #[oai(nullable)]
    pub resolved_at: Option<Timestamp>,
}

impl From<hold::Model> for Hold {
    fn from(row: hold::Model) -> Self {
        Self {
            object: "hold".into(),
            id: row.id,
            organization_id: row.organization_id,
            external_id: row.external_id,
            amount: row.amount,
            currency: row.currency,
            reason: row.reason,
            status: row.status,
            created_at: row.created_at.into(),
            resolved_at: row.resolved_at.map(Into::into),
        }
    }
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct DebitCreateRequest {
    /// Cents, 1 to 10^15. Taken from available even beyond it (available
    /// then goes negative, and later credits repay it first).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000000000000")))]
    pub amount: i64,
    /// Your id of the refund or adjustment; the same id again returns the same debit.
    pub external_id: ExternalId,
    pub reason: DebitReason,
    pub description: Option<NoNul<MAX_DESCRIPTION_CHARS>>,
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct Debit {
    /// Always `debit`.
    pub object: String,
    pub id: String,
    pub organization_id: String,
    pub external_id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: DebitReason,
    #[oai(nullable)]
    pub description: Option<String>,
    /// The ledger transaction (`txn_…`) that applied it.
    pub balance_transaction_id: String,
    pub created_at: Timestamp,
}

impl From<debit::Model> for Debit {
    fn from(row: debit::Model) -> Self {
        Self {
            object: "debit".into(),
            id: row.id,
            organization_id: row.organization_id,
            external_id: row.external_id,
            amount: row.amount,
            currency: row.currency,
            reason: row.reason,
            description: row.description,
            balance_transaction_id: row.transaction_id,
            created_at: row.created_at.into(),
        }
    }
}

/// 201 when this request made it, 200 when it was made before under the
/// same `externalId`.
#[derive(ApiResponse)]
enum Made<
    T: poem_openapi::types::ParseFromJSON + poem_openapi::types::ToJSON + Example + Send + Sync,
> {
    #[oai(status = 201)]
    Created(Json<Success<T>>),
    /// Made before with this `externalId` and the same values.
    #[oai(status = 200)]
    Existing(Json<Success<T>>),
}

fn made<M, T>(applied: Applied<M>) -> Made<T>
where
    T: From<M>
        + poem_openapi::types::ParseFromJSON
        + poem_openapi::types::ToJSON
        + Example
        + Send
        + Sync,
{
    match applied {
        Applied::Created(row) => Made::Created(Json(Success::new(row.into()))),
        Applied::Existing(row) => Made::Existing(Json(Success::new(row.into()))),
    }
}

#[derive(ApiResponse)]
enum HoldResponse {
    #[oai(status = 200)]
    Ok(Json<Success<Hold>>),
}

pub struct Api;

#[OpenApi]
impl Api {
    /// Credit an organization
    ///
    /// Money that arrived from outside (a customer's payment), once per
    /// `externalId` for ever. A negative available balance is repaid first.
    #[oai(
        path = "/organizations/:id/credits",
        method = "post",
        tag = "Tag::Funds",
        operation_id = "createCredit"
    )]
    async fn create_credit(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        id: Path<String>,
        body: ValidJson<CreditCreateRequest>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<Made<Credit>> {
        let app = app(req)?;
        let org = orgs::get(&app.read_db, &id.0).await?;
        let body = body.0;
        let new = credits::NewCredit {
            external_id: body.external_id.0,
            amount: body.amount,
            description: body.description.map(NoNul::into_inner),
            release_at: body
                .available_on
                .map(|d| d.0.and_time(chrono::NaiveTime::MIN).and_utc()),
            pending: false,
        };
        Ok(made(credits::create(&app.writer, &org, new).await?))
    }

    /// Hold money
    ///
    /// Moves `amount` from available to held while a dispute or a review is
    /// open, once per `externalId`. Payouts are refused while available does
    /// not cover them.
    #[oai(
        path = "/organizations/:id/holds",
        method = "post",
        tag = "Tag::Funds",
        operation_id = "createHold"
    )]
    async fn create_hold(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        id: Path<String>,
        body: ValidJson<HoldCreateRequest>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<Made<Hold>> {
        let app = app(req)?;
        let org = orgs::get(&app.read_db, &id.0).await?;
        let body = body.0;
        let new = holds::NewHold {
            external_id: body.external_id.0,
            amount: body.amount,
            reason: body.reason,
        };
        Ok(made(holds::create(&app.writer, &org, new).await?))
    }

    /// Release a hold
    ///
    /// Gives the held money back to available. A released hold is returned
    /// as it is; a captured one is 409 `hold_already_resolved`.
    #[oai(
        path = "/organizations/:id/holds/:holdId/release",
        method = "post",
        tag = "Tag::Funds",
        operation_id = "releaseHold"
    )]
    async fn release_hold(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        id: Path<String>,
        #[oai(name = "holdId")] hold_id: Path<String>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<HoldResponse> {
        let app = app(req)?;
        let org = orgs::get(&app.read_db, &id.0).await?;
        let row = holds::release(&app.writer, &org.id, &hold_id.0).await?;
        Ok(HoldResponse::Ok(Json(Success::new(row.into()))))
    }

    /// Capture a hold
    ///
    /// Takes the held money out for good (a lost dispute). A captured hold
    /// is returned as it is; a released one is 409 `hold_already_resolved`.
    #[oai(
        path = "/organizations/:id/holds/:holdId/capture",
        method = "post",
        tag = "Tag::Funds",
        operation_id = "captureHold"
    )]
    async fn capture_hold(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        id: Path<String>,
        #[oai(name = "holdId")] hold_id: Path<String>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<HoldResponse> {
        let app = app(req)?;
        let org = orgs::get(&app.read_db, &id.0).await?;
        let row = holds::capture(&app.writer, &org.id, &hold_id.0).await?;
        Ok(HoldResponse::Ok(Json(Success::new(row.into()))))
    }

    /// Debit an organization
    ///
    /// Takes `amount` from available (a refund, an adjustment), once per
    /// `externalId`. When available is short it goes negative: later
    /// credits repay it first, and payouts are refused until it covers them.
    #[oai(
        path = "/organizations/:id/debits",
        method = "post",
        tag = "Tag::Funds",
        operation_id = "createDebit"
    )]
    async fn create_debit(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        id: Path<String>,
        body: ValidJson<DebitCreateRequest>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<Made<Debit>> {
        let app = app(req)?;
        let org = orgs::get(&app.read_db, &id.0).await?;
        let body = body.0;
        let new = debits::NewDebit {
            external_id: body.external_id.0,
            amount: body.amount,
            reason: body.reason,
            description: body.description.map(NoNul::into_inner),
        };
        Ok(made(debits::create(&app.writer, &org, new).await?))
    }
}

impl Example for ExternalId {
    fn example() -> Self {
        Self("pay_1PzR3nW6Kq".into())
    }
}

impl Example for CreditCreateRequest {
    fn example() -> Self {
        Self {
            amount: 50000,
            external_id: ExternalId::example(),
            description: Some("Invoice 1042".into()),
            available_on: None,
        }
    }
}

impl Example for Credit {
    fn example() -> Self {
        Self {
            object: "credit".into(),
            id: "cr_4Ls2Hc7J8PzR3nW6Kq1Xv5Tm".into(),
            organization_id: "org_3kTq8PzR3nW6Kq1Xv5Tm9Ls2".into(),
            external_id: "pay_1PzR3nW6Kq".into(),
            amount: 50000,
            currency: "usd".into(),
            description: Some("Invoice 1042".into()),
            available_on: None,
            balance_transaction_id: "txn_8PzR3nW6Kq1Xv5Tm9Ls2Hc7J".into(),
            created_at: example_time(9, 30),
        }
    }
}

impl Example for HoldCreateRequest {
    fn example() -> Self {
        Self {
            amount: 2000,
            external_id: ExternalId("dp_9Xv5Tm2Hc7".into()),
            reason: HoldReason::Dispute,
        }
    }
}

impl Example for Hold {
    fn example() -> Self {
        Self {
            object: "hold".into(),
            id: "hold_6Kq1Xv5Tm9Ls2Hc7J8PzR3nW".into(),
            organization_id: "org_3kTq8PzR3nW6Kq1Xv5Tm9Ls2".into(),
            external_id: "dp_9Xv5Tm2Hc7".into(),
            amount: 2000,
            currency: "usd".into(),
            reason: HoldReason::Dispute,
            status: HoldStatus::Open,
            created_at: example_time(11, 0),
            resolved_at: None,
        }
    }
}

impl Example for DebitCreateRequest {
    fn example() -> Self {
        Self {
            amount: 1500,
            external_id: ExternalId("re_3nW6Kq1Xv5".into()),
            reason: DebitReason::Refund,
            description: Some("Refund of invoice 1042".into()),
        }
    }
}

impl Example for Debit {
    fn example() -> Self {
        Self {
            object: "debit".into(),
            id: "dbt_2Hc7J8PzR3nW6Kq1Xv5Tm9Ls".into(),
            organization_id: "org_3kTq8PzR3nW6Kq1Xv5Tm9Ls2".into(),
            external_id: "re_3nW6Kq1Xv5".into(),
            amount: 1500,
            currency: "usd".into(),
            reason: DebitReason::Refund,
            description: Some("Refund of invoice 1042".into()),
            balance_transaction_id: "txn_5Tm9Ls2Hc7J8PzR3nW6Kq1X".into(),
            created_at: example_time(12, 0),
        }
    }
}
