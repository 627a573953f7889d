//! The webhooks resource: endpoints, their deliveries, and events.
//!
//! One piece: endpoints, deliveries and events are the SDKs' `client.webhooks` resource; each wire shape and its example sits beside the handler that answers with it.
//!
//! Webhook endpoints as Commet's SDKs call them (`client.webhooks.*`), their
//! deliveries, and the organization's events.
use entity::{
    organization,
    states::{DeliveryStatus, EventKind, PayoutStatus},
    webhook_endpoint, webhook_event,
};
use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    types::{Example, MaybeUndefined},
    ApiResponse, Object, OpenApi,
};

use super::{app, livemode, ApiKeyAuth, Result, Tag};
use crate::{
    api::{
        validate::ValidJson,
        wire::{
            example_time, Date, FetchUrl, IdempotencyKey, List, NoNul, SubscribableEvent, Success,
            Timestamp,
        },
    },
    error::Error,
    service::{
        events,
        webhooks::{self, DeliveryView, EndpointChanges, NewEndpoint, MAX_URL_CHARS},
        MAX_DESCRIPTION_CHARS,
    },
};

const EXAMPLE_URL: &str = "https://acme.example/webhooks/commet";

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct WebhookCreateRequest {
    /// Where events are POSTed: https on a public address, without
    /// credentials (http only for a `host:port` the operator allow-listed).
    pub url: FetchUrl<MAX_URL_CHARS>,
    /// The events to receive: `payout.created`, `payout.paid`,
    /// `payout.failed`, `payout.available`.
    #[oai(validator(min_items = 1, max_items = 16))]
    pub events: Vec<SubscribableEvent>,
    pub description: Option<NoNul<MAX_DESCRIPTION_CHARS>>,
    /// The API version (a date) the payloads follow; default `2026-07-11`.
    pub api_version: Option<Date>,
}

/// Only the fields sent change (`description: null` clears it).
#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct WebhookUpdateRequest {
    /// As in `WebhookCreateRequest`.
    pub url: Option<FetchUrl<MAX_URL_CHARS>>,
    #[oai(validator(min_items = 1, max_items = 16))]
    pub events: Option<Vec<SubscribableEvent>>,
    #[oai(nullable)]
    pub description: MaybeUndefined<NoNul<MAX_DESCRIPTION_CHARS>>,
    /// `false` stops deliveries; `true` turns a disabled endpoint back on.
    pub is_active: Option<bool>,
    pub api_version: Option<Date>,
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct Webhook {
    /// Always `webhook`.
    pub object: String,
    pub livemode: bool,
    pub id: String,
    pub url: String,
    pub events: Vec<SubscribableEvent>,
    #[oai(nullable)]
    pub description: Option<String>,
    pub is_active: bool,
    /// Why the service turned the endpoint off (every delivery failed for 3 days).
    #[oai(nullable)]
    pub disabled_reason: Option<String>,
    /// The API version (a date) its payloads follow.
    pub api_version: String,
    pub created_at: Timestamp,
}

/// An endpoint's events as stored (an unreadable list is an error).
fn events_of(row: &webhook_endpoint::Model) -> std::result::Result<Vec<SubscribableEvent>, Error> {
    Ok(webhooks::events_of(row)?
        .into_iter()
        .map(SubscribableEvent)
        .collect())
}

fn kinds(events: Vec<SubscribableEvent>) -> Vec<EventKind> {
    events.into_iter().map(|event| event.0).collect()
}

impl Webhook {
    fn view(
        org: &organization::Model,
        row: &webhook_endpoint::Model,
    ) -> std::result::Result<Self, Error> {
        Ok(Self {
            object: "webhook".into(),
            livemode: livemode(org),
            id: row.id.clone(),
            url: row.url.clone(),
            events: events_of(row)?,
            description: row.description.clone(),
            is_active: row.is_active,
            disabled_reason: row.disabled_reason.clone(),
            api_version: row.api_version.clone(),
            created_at: row.created_at.into(),
        })
    }
}

/// A new endpoint, with its signing secret: shown only in this answer.
#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct WebhookCreated {
    /// Always `webhook`.
    pub object: String,
    pub livemode: bool,
    pub id: String,
    pub url: String,
    pub events: Vec<SubscribableEvent>,
    #[oai(nullable)]
    pub description: Option<String>,
    pub is_active: bool,
    pub api_version: String,
    pub created_at: Timestamp,
    /// `whsec_…`: verify `X-Commet-Signature` (HMAC-SHA256 of the body, keyed
    /// with this whole string) or the Standard Webhooks headers. Shown only here.
    pub secret_key: String,
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct WebhookDeleted {
    pub id: String,
    pub deleted: bool,
    /// Always `webhook`.
    pub object: String,
    pub livemode: bool,
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct WebhookTestResult {
    /// Whether the endpoint answered 2xx within 10 seconds.
    pub success: bool,
    pub delivery_id: String,
    pub delivered_at: Timestamp,
    /// Always `webhook_delivery`.
    pub object: String,
    pub livemode: bool,
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct WebhookDeliveryAttempt {
    /// 1 for the first attempt.
    pub attempt: i32,
    /// The endpoint's HTTP status; null when none came.
    #[oai(nullable)]
    pub status_code: Option<i32>,
    /// Why the attempt failed: `the endpoint answered <status>`, or, whenever
    /// no HTTP answer came (refused, unresolvable, TLS, timeout), always
    /// `the endpoint could not be reached`. Null when it succeeded.
    #[oai(nullable)]
    pub error: Option<String>,
    pub duration_ms: i64,
    pub attempted_at: Timestamp,
}

#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct WebhookDelivery {
    /// Always `webhook_delivery`.
    pub object: String,
    pub livemode: bool,
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event: EventKind,
    pub status: DeliveryStatus,
    pub attempt_count: i32,
    /// When the next attempt is due; null once delivered or failed.
    #[oai(nullable)]
    pub next_attempt_at: Option<Timestamp>,
    #[oai(nullable)]
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub attempts: Vec<WebhookDeliveryAttempt>,
}

impl WebhookDelivery {
    fn view(org: &organization::Model, view: DeliveryView) -> Self {
        let row = view.delivery;
        Self {
            object: "webhook_delivery".into(),
            livemode: livemode(org),
            id: row.id,
            webhook_id: row.endpoint_id,
            event_id: row.event_id,
            event: view.event,
            status: row.status,
            attempt_count: row.attempts,
            next_attempt_at: row.next_attempt_at.map(Into::into),
            delivered_at: row.delivered_at.map(Into::into),
            created_at: row.created_at.into(),
            attempts: view
                .attempts
                .into_iter()
                .map(|a| WebhookDeliveryAttempt {
                    attempt: a.attempt,
                    status_code: a.status_code,
                    error: a.error,
                    duration_ms: a.duration_ms,
                    attempted_at: a.attempted_at.into(),
                })
                .collect(),
        }
    }
}

/// An event as it is delivered (`data` per event, as in Commet's SDKs).
#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct Event {
    /// Always `event`.
    pub object: String,
    pub livemode: bool,
    /// `whev_…`, the same in every delivery of it.
    pub id: String,
    pub event: EventKind,
    pub timestamp: Timestamp,
    pub data: serde_json::Value,
}

impl Event {
    fn view(
        org: &organization::Model,
        row: webhook_event::Model,
    ) -> std::result::Result<Self, Error> {
        Ok(Self {
            object: "event".into(),
            livemode: livemode(org),
            data: webhooks::event_data(&row)?,
            id: row.id,
            event: row.event,
            timestamp: row.created_at.into(),
        })
    }
}

#[derive(ApiResponse)]
enum WebhookCreatedResponse {
    #[oai(status = 201)]
    Created(Json<Success<WebhookCreated>>),
}

#[derive(ApiResponse)]
enum WebhookResponse {
    #[oai(status = 200)]
    Ok(Json<Success<Webhook>>),
}

#[derive(ApiResponse)]
enum WebhookListResponse {
    #[oai(status = 200)]
    Ok(Json<List<Webhook>>),
}

#[derive(ApiResponse)]
enum WebhookDeletedResponse {
    #[oai(status = 200)]
    Ok(Json<Success<WebhookDeleted>>),
}

#[derive(ApiResponse)]
enum WebhookTestResponse {
    #[oai(status = 200)]
    Ok(Json<Success<WebhookTestResult>>),
}

#[derive(ApiResponse)]
enum DeliveryListResponse {
    #[oai(status = 200)]
    Ok(Json<List<WebhookDelivery>>),
}

#[derive(ApiResponse)]
enum DeliveryResponse {
    #[oai(status = 200)]
    Ok(Json<Success<WebhookDelivery>>),
}

#[derive(ApiResponse)]
enum EventListResponse {
    #[oai(status = 200)]
    Ok(Json<List<Event>>),
}

fn changes(body: WebhookUpdateRequest) -> EndpointChanges {
    EndpointChanges {
        url: body.url.map(FetchUrl::into_inner),
        events: body.events.map(kinds),
        description: match body.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(text) => Some(Some(text.into_inner())),
        },
        is_active: body.is_active,
        api_version: body.api_version.map(|d| d.0.format("%Y-%m-%d").to_string()),
    }
}

pub struct Api;

#[OpenApi]
impl Api {
    /// Create a webhook endpoint
    ///
    /// Events are POSTed to `url`, signed with the endpoint's `secretKey`
    /// (returned only in this answer). `url` must be https on a public address.
    #[oai(
        path = "/webhooks",
        method = "post",
        tag = "Tag::Webhooks",
        operation_id = "createWebhook"
    )]
    async fn create_webhook(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
        body: ValidJson<WebhookCreateRequest>,
    ) -> Result<WebhookCreatedResponse> {
        let body = body.0;
        let new = NewEndpoint {
            url: body.url.into_inner(),
            events: kinds(body.events),
            description: body.description.map(NoNul::into_inner),
            api_version: body.api_version.map(|d| d.0.format("%Y-%m-%d").to_string()),
        };
        let created = webhooks::create(app(req)?, &auth.0.id, new).await?;
        let row = &created.endpoint;
        Ok(WebhookCreatedResponse::Created(Json(Success::new(
            WebhookCreated {
                object: "webhook".into(),
                livemode: livemode(&auth.0),
                id: row.id.clone(),
                url: row.url.clone(),
                events: events_of(row)?,
                description: row.description.clone(),
                is_active: row.is_active,
                api_version: row.api_version.clone(),
                created_at: row.created_at.into(),
                secret_key: created.secret,
            },
        ))))
    }

    /// List webhook endpoints
    ///
    /// Newest first. Pass the previous page's `nextCursor` as `cursor`.
    #[oai(
        path = "/webhooks",
        method = "get",
        tag = "Tag::Webhooks",
        operation_id = "listWebhooks"
    )]
    async fn list_webhooks(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// The `nextCursor` of the previous page.
        #[oai(validator(min_length = 1, max_length = 64))]
        cursor: Query<Option<String>>,
    ) -> Result<WebhookListResponse> {
        let limit = limit.0.unwrap_or(20) as u64;
        let page =
            webhooks::list(&app(req)?.read_db, &auth.0.id, limit, cursor.0.as_deref()).await?;
        Ok(WebhookListResponse::Ok(Json(List::try_from_page(
            page,
            |row| row.id.clone(),
            |row| Webhook::view(&auth.0, &row),
        )?)))
    }

    /// Get a webhook endpoint
    #[oai(
        path = "/webhooks/:id",
        method = "get",
        tag = "Tag::Webhooks",
        operation_id = "getWebhook"
    )]
    async fn get_webhook(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
    ) -> Result<WebhookResponse> {
        let row = webhooks::find(&app(req)?.read_db, &auth.0.id, &id.0).await?;
        Ok(WebhookResponse::Ok(Json(Success::new(Webhook::view(
            &auth.0, &row,
        )?))))
    }

    /// Update a webhook endpoint
    ///
    /// Only the fields sent change.
    #[oai(
        path = "/webhooks/:id",
        method = "patch",
        tag = "Tag::Webhooks",
        operation_id = "updateWebhook"
    )]
    async fn update_webhook(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
        body: ValidJson<WebhookUpdateRequest>,
    ) -> Result<WebhookResponse> {
        let row = webhooks::update(app(req)?, &auth.0.id, &id.0, changes(body.0)).await?;
        Ok(WebhookResponse::Ok(Json(Success::new(Webhook::view(
            &auth.0, &row,
        )?))))
    }

    /// Update a webhook endpoint (PUT)
    ///
    /// The same as PATCH (the Node SDK sends PUT): only the fields sent change.
    #[oai(
        path = "/webhooks/:id",
        method = "put",
        tag = "Tag::Webhooks",
        operation_id = "putWebhook"
    )]
    async fn put_webhook(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
        body: ValidJson<WebhookUpdateRequest>,
    ) -> Result<WebhookResponse> {
        let row = webhooks::update(app(req)?, &auth.0.id, &id.0, changes(body.0)).await?;
        Ok(WebhookResponse::Ok(Json(Success::new(Webhook::view(
            &auth.0, &row,
        )?))))
    }

    /// Delete a webhook endpoint
    ///
    /// Deliveries still pending for it are given up.
    #[oai(
        path = "/webhooks/:id",
        method = "delete",
        tag = "Tag::Webhooks",
        operation_id = "deleteWebhook"
    )]
    async fn delete_webhook(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
    ) -> Result<WebhookDeletedResponse> {
        let row = webhooks::delete(app(req)?, &auth.0.id, &id.0).await?;
        Ok(WebhookDeletedResponse::Ok(Json(Success::new(
            WebhookDeleted {
                id: row.id,
                deleted: true,
                object: "webhook".into(),
                livemode: livemode(&auth.0),
            },
        ))))
    }

    /// Send a test event
    ///
    /// A real, signed delivery of a `webhook.test` event, now (one attempt,
    /// no retries); `success` says whether the endpoint answered 2xx within 10 s.
    #[oai(
        path = "/webhooks/:id/test",
        method = "post",
        tag = "Tag::Webhooks",
        operation_id = "testWebhook"
    )]
    async fn test_webhook(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<WebhookTestResponse> {
        let result = webhooks::send_test(app(req)?, &auth.0.id, &id.0).await?;
        Ok(WebhookTestResponse::Ok(Json(Success::new(
            WebhookTestResult {
                success: result.success,
                delivery_id: result.delivery_id,
                delivered_at: result.attempted_at.into(),
                object: "webhook_delivery".into(),
                livemode: livemode(&auth.0),
            },
        ))))
    }

    /// List an endpoint's deliveries
    ///
    /// Newest first, each with its attempts (status code, error, duration)
    /// and when the next one is due.
    #[oai(
        path = "/webhooks/:id/deliveries",
        method = "get",
        tag = "Tag::Webhooks",
        operation_id = "listWebhookDeliveries"
    )]
    async fn list_deliveries(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// The `nextCursor` of the previous page.
        #[oai(validator(min_length = 1, max_length = 64))]
        cursor: Query<Option<String>>,
    ) -> Result<DeliveryListResponse> {
        let limit = limit.0.unwrap_or(20) as u64;
        let page = webhooks::deliveries(
            &app(req)?.read_db,
            &auth.0.id,
            &id.0,
            limit,
            cursor.0.as_deref(),
        )
        .await?;
        Ok(DeliveryListResponse::Ok(Json(List::from_page(
            page,
            |view| view.delivery.id.clone(),
            |view| WebhookDelivery::view(&auth.0, view),
        ))))
    }

    /// Retry a delivery
    ///
    /// One attempt now, whatever the delivery's state; if it fails within the
    /// delivery's 3 days, its retries go on.
    #[oai(
        path = "/webhooks/:id/deliveries/:deliveryId/retry",
        method = "post",
        tag = "Tag::Webhooks",
        operation_id = "retryWebhookDelivery"
    )]
    async fn retry_delivery(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
        #[oai(name = "deliveryId")] delivery_id: Path<String>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<DeliveryResponse> {
        let view = webhooks::retry(app(req)?, &auth.0.id, &id.0, &delivery_id.0).await?;
        Ok(DeliveryResponse::Ok(Json(Success::new(
            WebhookDelivery::view(&auth.0, view),
        ))))
    }

    /// List events
    ///
    /// The organization's events, newest first, as they are delivered.
    #[oai(
        path = "/events",
        method = "get",
        tag = "Tag::Webhooks",
        operation_id = "listEvents"
    )]
    async fn list_events(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// The `nextCursor` of the previous page.
        #[oai(validator(min_length = 1, max_length = 64))]
        cursor: Query<Option<String>>,
    ) -> Result<EventListResponse> {
        let limit = limit.0.unwrap_or(20) as u64;
        let page = events::list(&app(req)?.read_db, &auth.0.id, limit, cursor.0.as_deref()).await?;
        Ok(EventListResponse::Ok(Json(List::try_from_page(
            page,
            |row| row.id.clone(),
            |row| Event::view(&auth.0, row),
        )?)))
    }
}

impl Example for WebhookCreateRequest {
    fn example() -> Self {
        Self {
            url: EXAMPLE_URL.into(),
            events: vec![
                SubscribableEvent(EventKind::PayoutCreated),
                SubscribableEvent(EventKind::PayoutPaid),
            ],
            description: Some("Payout notifications".into()),
            api_version: None,
        }
    }
}

impl Example for WebhookUpdateRequest {
    fn example() -> Self {
        Self {
            url: None,
            events: Some(vec![
                SubscribableEvent(EventKind::PayoutPaid),
                SubscribableEvent(EventKind::PayoutFailed),
                SubscribableEvent(EventKind::PayoutAvailable),
            ]),
            description: MaybeUndefined::Undefined,
            is_active: Some(true),
            api_version: None,
        }
    }
}

impl Example for Webhook {
    fn example() -> Self {
        Self {
            object: "webhook".into(),
            livemode: false,
            id: "wh_3Jd8Kq2Xr7TzL1mVc4Hy9Dgb".into(),
            url: EXAMPLE_URL.into(),
            events: vec![
                SubscribableEvent(EventKind::PayoutCreated),
                SubscribableEvent(EventKind::PayoutPaid),
            ],
            description: Some("Payout notifications".into()),
            is_active: true,
            disabled_reason: None,
            api_version: crate::domain::api_version::DEFAULT.as_str().into(),
            created_at: example_time(10, 0),
        }
    }
}

impl Example for WebhookCreated {
    fn example() -> Self {
        let hook = Webhook::example();
        Self {
            object: hook.object,
            livemode: hook.livemode,
            id: hook.id,
            url: hook.url,
            events: hook.events,
            description: hook.description,
            is_active: hook.is_active,
            api_version: hook.api_version,
            created_at: hook.created_at,
            secret_key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        }
    }
}

impl Example for WebhookDeleted {
    fn example() -> Self {
        Self {
            id: Webhook::example().id,
            deleted: true,
            object: "webhook".into(),
            livemode: false,
        }
    }
}

impl Example for WebhookTestResult {
    fn example() -> Self {
        Self {
            success: true,
            delivery_id: "whdl_7Hc2Lm9Qw4Rt6Yx1Zb8Nv3Ks".into(),
            delivered_at: example_time(10, 5),
            object: "webhook_delivery".into(),
            livemode: false,
        }
    }
}

impl Example for WebhookDeliveryAttempt {
    fn example() -> Self {
        Self {
            attempt: 1,
            status_code: Some(200),
            error: None,
            duration_ms: 84,
            attempted_at: example_time(10, 10),
        }
    }
}

impl Example for WebhookDelivery {
    fn example() -> Self {
        Self {
            object: "webhook_delivery".into(),
            livemode: false,
            id: "whdl_7Hc2Lm9Qw4Rt6Yx1Zb8Nv3Ks".into(),
            webhook_id: Webhook::example().id,
            event_id: Event::example().id,
            event: EventKind::PayoutCreated,
            status: DeliveryStatus::Delivered,
            attempt_count: 1,
            next_attempt_at: None,
            delivered_at: Some(example_time(10, 10)),
            created_at: example_time(10, 10),
            attempts: vec![WebhookDeliveryAttempt::example()],
        }
    }
}

impl Example for Event {
    fn example() -> Self {
        Self {
            object: "event".into(),
            livemode: false,
            id: "whev_4Tq9Zr2Mx8Kc1Lp6Wd3Hn7Vb".into(),
            event: EventKind::PayoutCreated,
            timestamp: example_time(10, 10),
            data: serde_json::json!({
                "payoutId": "po_5bWn8Kq2Xr7TzL1mVc4Hy9Dg", "amount": 2500, "fee": 0,
                "netAmount": 2500, "currency": "usd", "status": PayoutStatus::Pending.as_str(),
                "destinationBank": {"bankName": "STRIPE TEST BANK", "last4": "6789"},
                "createdAt": "2026-06-12T10:10:00.000Z"
            }),
        }
    }
}
