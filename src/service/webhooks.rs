//! Organizations' webhook endpoints and the delivery of their events.
//!
//! One piece: the endpoint's secret, URL rule and state are read by every
//! step of a delivery, and the delivery's bookkeeping is one transaction.
//!
//! Organizations' webhook endpoints and the delivery of their events:
//! endpoints (create, read, update, delete, test), one delivery per (event,
//! endpoint) made by `DeliverWebhook` jobs, signed two ways (Commet's
//! `X-Commet-Signature` and Standard Webhooks), retried on a schedule and
//! given up after 3 days; an endpoint that failed every attempt for 3 days
//! is disabled.
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use entity::{
    organization,
    states::{DeliveryStatus, EventKind},
    webhook_delivery, webhook_delivery_attempt, webhook_endpoint, webhook_event,
};
use rand::{Rng, RngCore};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use super::{page::Page, App};
use crate::{
    db,
    document::{self, DocumentError},
    domain::api_version,
    error::{Error, Result},
    ids,
    queue::{self, Job, Outcome},
};

/// The events an endpoint can subscribe to (`webhook.test` is sent only by
/// `POST /webhooks/{id}/test`).
pub const SUBSCRIBABLE: [EventKind; 4] = [
    EventKind::PayoutCreated,
    EventKind::PayoutPaid,
    EventKind::PayoutFailed,
    EventKind::PayoutAvailable,
];

pub const MAX_URL_CHARS: usize = 2048;
/// Retries stop this long after a delivery's first attempt.
pub const RETRY_WINDOW: Duration = Duration::from_secs(3 * 24 * 3600);
/// An endpoint whose every attempt failed for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
/// The wait after attempt n (1-based) failed, before jitter: roughly
/// doubling, 8 attempts within the first 8 hours (Commet's schedule), then
/// further ones until `RETRY_WINDOW` (its end is a last attempt).
const RETRY_DELAYS_SECS: [u64; 10] = [
    60,
    5 * 60,
    15 * 60,
    30 * 60,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    16 * 3600,
    24 * 3600,
];
/// How long resolving an endpoint's host may take when it is created.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// A job run at this time is due at once, whatever the clock says.
const DUE_NOW: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

/// Times on the wire: RFC 3339 UTC with milliseconds.
pub fn wire_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The wait before the attempt after attempt `attempt`, with jitter (up to
/// a fifth less, never more, so the schedule's bounds hold).
pub fn retry_delay(attempt: i32) -> Duration {
    let index = (std::cmp::max(attempt, 1) as usize - 1).min(RETRY_DELAYS_SECS.len() - 1);
    let base = Duration::from_secs(RETRY_DELAYS_SECS[index]);
    base.mul_f64(rand::thread_rng().gen_range(0.8..=1.0))
}

/// What a new endpoint is made of.
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<EventKind>,
    pub description: Option<String>,
    pub api_version: Option<String>,
}

/// What an update changes: `None` leaves a field as it is (`description:
/// Some(None)` clears it).
#[derive(Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub events: Option<Vec<EventKind>>,
    pub description: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub api_version: Option<String>,
}

/// A new endpoint and its signing secret, which is shown only now.
pub struct Created {
    pub endpoint: webhook_endpoint::Model,
    pub secret: String,
}

/// The events an endpoint receives. A row whose list cannot be read is an
/// error, not an endpoint subscribed to nothing.
pub fn events_of(endpoint: &webhook_endpoint::Model) -> Result<Vec<EventKind>> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::internal(format!(
            "webhook endpoint {}: unreadable events: {e}",
            endpoint.id
        ))
    };
    let names: Vec<String> = serde_json::from_str(&endpoint.events).map_err(|e| unreadable(&e))?;
    names
        .iter()
        .map(|name| name.parse().map_err(|e: String| unreadable(&e)))
        .collect()
}

/// How an endpoint's events are stored: a JSON array of their names.
fn stored_events(events: &[EventKind]) -> Result<String> {
    let names: Vec<&str> = events.iter().map(|kind| kind.as_str()).collect();
    serde_json::to_string(&names).map_err(Error::internal)
}

/// Only the payout events (`webhook.test` is refused, by name); at least
/// one; each once, in the order given.
fn check_events(events: &[EventKind]) -> Result<Vec<EventKind>> {
    let unknown: Vec<&str> = events
        .iter()
        .filter(|kind| !SUBSCRIBABLE.contains(kind))
        .map(|kind| kind.as_str())
        .collect();
    if !unknown.is_empty() {
        let allowed: Vec<&str> = SUBSCRIBABLE.iter().map(|k| k.as_str()).collect();
        return Err(Error::field(
            "events",
            format!(
                "has events this service does not send: {}; allowed: {}",
                unknown.join(", "),
                allowed.join(", ")
            ),
        ));
    }
    if events.is_empty() {
        return Err(Error::field("events", "must name at least one event"));
    }
    let mut unique: Vec<EventKind> = Vec::new();
    for kind in events {
        if !unique.contains(kind) {
            unique.push(*kind);
        }
    }
    Ok(unique)
}

/// The identity document's rule: https on public addresses, unless
/// `host:port` is allow-listed (development). A name that does not resolve
/// now is accepted (each delivery checks again, and connects only to the
/// addresses it checked).
async fn check_endpoint_url(app: &App, raw: &str) -> Result<()> {
    let url = Url::parse(raw).map_err(|_| Error::field("url", "is not a valid URL"))?;
    let allow = document::normalize_allow_hosts(&app.config.document_allow_hosts);
    let checked = tokio::time::timeout(RESOLVE_TIMEOUT, document::check_url(&allow, &url))
        .await
        .unwrap_or_else(|_| {
            Err(DocumentError::Unreachable {
                detail: "timed out".into(),
            })
        });
    match checked {
        Ok(_) | Err(DocumentError::Unreachable { .. }) => Ok(()),
        Err(DocumentError::Scheme) => Err(Error::field("url", "must use https")),
        Err(DocumentError::Credentials) => Err(Error::field("url", "must not contain credentials")),
        Err(DocumentError::NonPublic) => {
            Err(Error::field("url", "resolves to a non-public address"))
        }
        Err(_) => Err(Error::field("url", "is not a valid URL")),
    }
}

/// `whsec_` and the base64 of 32 random bytes: Commet's SDKs key their HMAC
/// with the whole string, Standard Webhooks libraries with the decoded bytes.
fn new_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

pub async fn create(app: &App, org_id: &str, new: NewEndpoint) -> Result<Created> {
    let events = check_events(&new.events)?;
    check_endpoint_url(app, &new.url).await?;
    // Not pinned here: the organization's pin, as Commet resolves it.
    let api_version = match new.api_version {
        Some(pinned) => pinned,
        None => {
            let org = organization::Entity::find_by_id(org_id)
                .one(&app.db)
                .await?
                .ok_or_else(|| Error::NotFound("no such organization".into()))?;
            api_version::for_webhook_endpoint(None, Some(org.api_version))
                .as_str()
                .to_string()
        }
    };
    let secret = new_secret();
    let now = Utc::now();
    let row = webhook_endpoint::Model {
        id: ids::new_id("wh"),
        organization_id: org_id.to_string(),
        url: new.url,
        events: stored_events(&events)?,
        description: new.description,
        is_active: true,
        api_version,
        secret_encrypted: app.config.cipher.encrypt(&secret),
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    webhook_endpoint::Entity::insert(webhook_endpoint::ActiveModel::from(row.clone()))
        .exec_without_returning(&app.db)
        .await?;
    Ok(Created {
        endpoint: row,
        secret,
    })
}

/// An endpoint of this organization, or 404 (also for another's).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    id: &str,
) -> Result<webhook_endpoint::Model> {
    let not_found = || Error::NotFound("no such webhook endpoint".into());
    if !ids::is_own_id("wh", id) {
        return Err(not_found());
    }
    webhook_endpoint::Entity::find_by_id(id)
        .filter(webhook_endpoint::Column::OrganizationId.eq(org_id))
        .one(conn)
        .await?
        .ok_or_else(not_found)
}

/// The organization's endpoints, newest first.
pub async fn list(
    conn: &DatabaseConnection,
    org_id: &str,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<webhook_endpoint::Model>> {
    let mut query = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::OrganizationId.eq(org_id))
        .order_by_desc(webhook_endpoint::Column::CreatedAt)
        .order_by_desc(webhook_endpoint::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        let after = find(conn, org_id, cursor)
            .await
            .map_err(|e| e.for_cursor("webhook endpoint"))?;
        query = query.filter(super::page::after(
            webhook_endpoint::Column::CreatedAt,
            webhook_endpoint::Column::Id,
            after.created_at,
            after.id,
        ));
    }
    Ok(Page::from_overfetch(query.all(conn).await?, limit))
}

/// Changes only the given fields. Turning an endpoint back on clears why it
/// was disabled.
pub async fn update(
    app: &App,
    org_id: &str,
    id: &str,
    changes: EndpointChanges,
) -> Result<webhook_endpoint::Model> {
    let current = find(&app.db, org_id, id).await?;
    let events = match &changes.events {
        Some(kinds) => Some(check_events(kinds)?),
        None => None,
    };
    if let Some(url) = &changes.url {
        check_endpoint_url(app, url).await?;
    }
    let mut row: webhook_endpoint::ActiveModel = current.into();
    if let Some(url) = changes.url {
        row.url = Set(url);
    }
    if let Some(events) = events {
        row.events = Set(stored_events(&events)?);
    }
    if let Some(description) = changes.description {
        row.description = Set(description);
    }
    if let Some(api_version) = changes.api_version {
        row.api_version = Set(api_version);
    }
    if let Some(active) = changes.is_active {
        row.is_active = Set(active);
        if active {
            row.disabled_reason = Set(None);
            row.failing_since = Set(None);
        }
    }
    row.updated_at = Set(Utc::now());
    Ok(row.update(&app.db).await?)
}

/// Deletes the endpoint; its pending deliveries are given up when due.
pub async fn delete(app: &App, org_id: &str, id: &str) -> Result<webhook_endpoint::Model> {
    let endpoint = find(&app.db, org_id, id).await?;
    webhook_endpoint::Entity::delete_many()
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id.clone()))
        .filter(webhook_endpoint::Column::OrganizationId.eq(org_id))
        .exec(&app.db)
        .await?;
    Ok(endpoint)
}

/// Inside the transaction that records `event`: a delivery, and its first
/// job (due at once), for each active endpoint of the organization that
/// receives this event.
pub(super) async fn fan_out<C: ConnectionTrait>(
    conn: &C,
    event: &webhook_event::Model,
) -> Result<()> {
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::OrganizationId.eq(event.organization_id.clone()))
        .filter(webhook_endpoint::Column::IsActive.eq(true))
        .all(conn)
        .await?;
    let mut jobs = Vec::new();
    for endpoint in endpoints {
        if !events_of(&endpoint)?.contains(&event.event) {
            continue;
        }
        let delivery = new_delivery(event, &endpoint.id);
        webhook_delivery::Entity::insert(webhook_delivery::ActiveModel::from(delivery.clone()))
            .exec_without_returning(conn)
            .await?;
        jobs.push(DeliverWebhook {
            delivery_id: delivery.id,
            attempt: 1,
        });
    }
    queue::enqueue_all(conn, jobs.iter().map(|job| (job.job_id(), job, DUE_NOW))).await?;
    Ok(())
}

fn new_delivery(event: &webhook_event::Model, endpoint_id: &str) -> webhook_delivery::Model {
    webhook_delivery::Model {
        id: ids::new_id("whdl"),
        organization_id: event.organization_id.clone(),
        endpoint_id: endpoint_id.to_string(),
        event_id: event.id.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        first_attempt_at: None,
        next_attempt_at: Some(event.created_at),
        delivered_at: None,
        created_at: event.created_at,
        updated_at: event.created_at,
    }
}

/// The body POSTed for `event` to an endpoint pinned to `api_version`. An
/// event whose stored data cannot be read is an error, never sent as null.
pub fn body(
    event: &webhook_event::Model,
    org: &organization::Model,
    api_version: &str,
) -> Result<String> {
    let data = event_data(event)?;
    Ok(json!({
        "id": event.id,
        "event": event.event.as_str(),
        "timestamp": wire_time(event.created_at),
        "organizationId": org.id,
        "mode": org.mode.as_str(),
        "apiVersion": api_version,
        "data": data,
    })
    .to_string())
}

/// An event's `data` as stored (JSON text).
pub fn event_data(event: &webhook_event::Model) -> Result<Value> {
    serde_json::from_str(&event.data)
        .map_err(|e| Error::internal(format!("event {}: unreadable data: {e}", event.id)))
}

/// The headers that sign `body`: Commet's (hex HMAC-SHA256 of the body with
/// the whole secret) and Standard Webhooks' (over `id.timestamp.body`, with
/// the secret's decoded bytes), at `now` (the wall clock: receivers compare
/// it with theirs).
pub fn signature_headers(
    secret: &str,
    event_id: &str,
    event: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(&'static str, String)>> {
    let standard = standardwebhooks::Webhook::new(secret)
        .and_then(|hook| hook.sign(event_id, now.timestamp(), body.as_bytes()))
        .map_err(|e| Error::internal(format!("standard webhooks signature: {e}")))?;
    Ok(vec![
        (
            "x-commet-signature",
            crate::crypto::hmac_sha256_hex(secret.as_bytes(), body.as_bytes()),
        ),
        ("x-commet-event", event.to_string()),
        ("x-commet-event-id", event_id.to_string()),
        ("x-commet-timestamp", wire_time(now)),
        (standardwebhooks::HEADER_WEBHOOK_ID, event_id.to_string()),
        (
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            now.timestamp().to_string(),
        ),
        (standardwebhooks::HEADER_WEBHOOK_SIGNATURE, standard),
    ])
}

/// What one POST came to.
struct Sent {
    status_code: Option<i32>,
    error: Option<String>,
    duration: Duration,
}

impl Sent {
    fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// What an attempt records when no HTTP answer came back, whatever the
/// cause: telling refused from unresolvable from timed out would let any key
/// holder map which hosts and ports answer. The cause is only logged.
pub const UNREACHABLE: &str = "the endpoint could not be reached";

/// POSTs `body` to `url`, connecting only to the addresses checked now.
async fn post(
    app: &App,
    delivery_id: &str,
    url: &str,
    body: String,
    headers: Vec<(&str, String)>,
) -> Sent {
    let timeout = app.config.webhook_timeout;
    let started = Instant::now();
    let result = async {
        let url = Url::parse(url).map_err(|_| "the URL is not valid".to_string())?;
        let allow = document::normalize_allow_hosts(&app.config.document_allow_hosts);
        let addrs = document::check_url(&allow, &url)
            .await
            .map_err(|err| match err {
                DocumentError::Unreachable { detail } => detail,
                other => other.to_string().replacen("documentUrl", "url", 1),
            })?;
        let client = document::pinned_client(&url, &addrs, timeout).map_err(|e| e.to_string())?;
        let mut request = client
            .post(url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("payouts-webhooks/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.map_err(|e| {
            if e.is_timeout() {
                format!("no answer within {} ms", timeout.as_millis())
            } else {
                // Without the URL: its path or query may hold the receiver's secret.
                format!("request failed: {}", e.without_url())
            }
        })?;
        Ok::<_, String>(response.status())
    };
    let outcome = tokio::time::timeout(timeout, result)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())));
    let duration = started.elapsed();
    match outcome {
        Ok(status) if status.is_success() => Sent {
            status_code: Some(status.as_u16().into()),
            error: None,
            duration,
        },
        Ok(status) => Sent {
            status_code: Some(status.as_u16().into()),
            error: Some(format!("the endpoint answered {status}")),
            duration,
        },
        Err(detail) => {
            tracing::info!(delivery_id, %detail, "webhook delivery got no answer");
            Sent {
                status_code: None,
                error: Some(UNREACHABLE.into()),
                duration,
            }
        }
    }
}

/// What an attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempted {
    Delivered,
    /// Failed; another attempt is scheduled.
    WillRetry,
    /// Failed for good (or the endpoint is gone or off).
    Failed,
    /// Not this attempt's turn (already made, or the delivery is over).
    Skipped,
    /// Never sendable: what it is made of cannot be read (given up, with
    /// the reason).
    Unsendable(String),
}

/// Makes attempt number `attempt` of a delivery and records it, with the
/// next attempt's job when it failed and time remains. `manual` attempts
/// (a test or a retry asked through the API) also run for a delivery that
/// is over.
async fn attempt(app: &App, delivery_id: &str, attempt: i32, manual: bool) -> Result<Attempted> {
    let Some(delivery) = webhook_delivery::Entity::find_by_id(delivery_id)
        .one(&app.db)
        .await?
    else {
        return Ok(Attempted::Skipped);
    };
    if delivery.attempts != attempt - 1 || (!manual && delivery.status != DeliveryStatus::Pending) {
        return Ok(Attempted::Skipped);
    }
    let endpoint = webhook_endpoint::Entity::find_by_id(delivery.endpoint_id.clone())
        .one(&app.db)
        .await?;
    let endpoint = match endpoint {
        Some(endpoint) if endpoint.is_active => endpoint,
        gone_or_off => {
            let reason = match gone_or_off {
                None => "the endpoint was deleted",
                Some(_) => "the endpoint is disabled",
            };
            give_up(&app.db, &delivery, reason).await?;
            return Ok(Attempted::Failed);
        }
    };
    let event = webhook_event::Entity::find_by_id(delivery.event_id.clone())
        .one(&app.db)
        .await?
        .ok_or_else(|| Error::internal("a delivery without its event"))?;
    let org = organization::Entity::find_by_id(delivery.organization_id.clone())
        .one(&app.db)
        .await?
        .ok_or_else(|| Error::internal("a delivery without its organization"))?;
    let secret = app
        .config
        .cipher
        .decrypt(&endpoint.secret_encrypted)
        .map_err(|e| Error::internal(format!("webhook secret: {e}")))?;
    let body = match body(&event, &org, &endpoint.api_version) {
        Ok(body) => body,
        Err(err) => {
            give_up(&app.db, &delivery, "the event cannot be read").await?;
            let reason = match err {
                Error::Internal(detail) => detail,
                other => other.to_string(),
            };
            return Ok(Attempted::Unsendable(reason));
        }
    };
    let headers = signature_headers(&secret, &event.id, event.event.as_str(), &body, Utc::now())?;
    let sent = post(app, &delivery.id, &endpoint.url, body, headers).await;
    record_attempt(app, &delivery, &endpoint, attempt, &sent).await
}

/// Records an attempt, its delivery's new state and the endpoint's health in
/// one transaction; only the first to record attempt n of a delivery counts
/// (a concurrent duplicate run records nothing).
async fn record_attempt(
    app: &App,
    delivery: &webhook_delivery::Model,
    endpoint: &webhook_endpoint::Model,
    attempt: i32,
    sent: &Sent,
) -> Result<Attempted> {
    let now = app.clock.now();
    let first = delivery.first_attempt_at.unwrap_or(now);
    let deadline = first + RETRY_WINDOW;
    let (status, next, outcome) = if sent.delivered() {
        (DeliveryStatus::Delivered, None, Attempted::Delivered)
    } else if now < deadline {
        let next = std::cmp::min(now + retry_delay(attempt), deadline);
        (DeliveryStatus::Pending, Some(next), Attempted::WillRetry)
    } else {
        (DeliveryStatus::Failed, None, Attempted::Failed)
    };
    let txn = db::begin_write(&app.db).await?;
    let inserted =
        webhook_delivery_attempt::Entity::insert(webhook_delivery_attempt::ActiveModel {
            id: Set(ids::new_id("whatt")),
            delivery_id: Set(delivery.id.clone()),
            attempt: Set(attempt),
            status_code: Set(sent.status_code),
            error: Set(sent.error.clone()),
            duration_ms: Set(sent.duration.as_millis() as i64),
            attempted_at: Set(now),
        })
        .on_conflict_do_nothing()
        .exec(&txn)
        .await?;
    if matches!(inserted, sea_orm::TryInsertResult::Conflicted) {
        return Ok(Attempted::Skipped);
    }
    let moved = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempt))
        .col_expr(webhook_delivery::Column::Status, Expr::value(status))
        .col_expr(webhook_delivery::Column::FirstAttemptAt, Expr::value(first))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            webhook_delivery::Column::DeliveredAt,
            Expr::value(sent.delivered().then_some(now)),
        )
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(delivery.id.clone()))
        .filter(webhook_delivery::Column::Attempts.eq(attempt - 1))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Ok(Attempted::Skipped); // rolled back: another run recorded it
    }
    record_health(&txn, endpoint, sent, now).await?;
    if let Some(at) = next {
        let job = DeliverWebhook {
            delivery_id: delivery.id.clone(),
            attempt: attempt + 1,
        };
        queue::enqueue(&txn, &job.job_id(), &job, at).await?;
    }
    txn.commit().await?;
    if let Some(error) = &sent.error {
        tracing::info!(delivery = %delivery.id, attempt, %error, "webhook delivery attempt failed");
    }
    Ok(outcome)
}

/// A success clears the endpoint's failing streak; a failure starts one or,
/// after `DISABLE_AFTER` of nothing but failures, disables the endpoint.
async fn record_health<C: ConnectionTrait>(
    conn: &C,
    endpoint: &webhook_endpoint::Model,
    sent: &Sent,
    now: DateTime<Utc>,
) -> Result<()> {
    let update = webhook_endpoint::Entity::update_many()
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id.clone()));
    if sent.delivered() {
        if endpoint.failing_since.is_some() {
            update
                .col_expr(
                    webhook_endpoint::Column::FailingSince,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .exec(conn)
                .await?;
        }
        return Ok(());
    }
    let since = endpoint.failing_since.unwrap_or(now);
    let update = if now - since >= chrono::Duration::from_std(DISABLE_AFTER).expect("fits") {
        let reason = format!(
            "disabled: every delivery failed since {} (last: {})",
            wire_time(since),
            sent.error.as_deref().unwrap_or("error")
        );
        update
            .col_expr(webhook_endpoint::Column::IsActive, Expr::value(false))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(reason),
            )
    } else {
        update.col_expr(webhook_endpoint::Column::FailingSince, Expr::value(since))
    };
    update.exec(conn).await?;
    Ok(())
}

async fn give_up(
    conn: &DatabaseConnection,
    delivery: &webhook_delivery::Model,
    reason: &str,
) -> Result<()> {
    tracing::info!(delivery = %delivery.id, reason, "webhook delivery given up");
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(DeliveryStatus::Failed),
        )
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(webhook_delivery::Column::Id.eq(delivery.id.clone()))
        .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
        .exec(conn)
        .await?;
    Ok(())
}

/// One delivery attempt, due at its time. Each attempt is its own job (id
/// `<delivery id>_<attempt>`), so the schedule is this module's, and a run
/// that is not its attempt's turn any more does nothing.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverWebhook {
    delivery_id: String,
    attempt: i32,
}

impl DeliverWebhook {
    fn job_id(&self) -> String {
        format!("{}_{}", self.delivery_id, self.attempt)
    }
}

#[async_trait::async_trait]
impl Job for DeliverWebhook {
    const KIND: &'static str = "webhook_delivery";
    type Context = App;

    async fn run(self, app: &App, _attempt: i32) -> Outcome {
        match attempt(app, &self.delivery_id, self.attempt, false).await {
            Ok(Attempted::Unsendable(reason)) => Outcome::Dead(reason),
            Ok(_) => Outcome::Done,
            Err(err) => Outcome::Retry(err.to_string()),
        }
    }
}

/// An attempt asked through the API: one that can never be sent is the
/// service's fault (500), not a failed delivery.
fn sendable(attempted: Attempted) -> Result<Attempted> {
    match attempted {
        Attempted::Unsendable(reason) => Err(Error::internal(reason)),
        other => Ok(other),
    }
}

/// What a test delivery came to.
pub struct TestResult {
    pub delivery_id: String,
    pub success: bool,
    pub attempted_at: DateTime<Utc>,
}

/// Sends a signed `webhook.test` event to the endpoint now (one attempt,
/// no retries), recorded like any delivery.
pub async fn send_test(app: &App, org_id: &str, id: &str) -> Result<TestResult> {
    let endpoint = find(&app.db, org_id, id).await?;
    let event = webhook_event::Model {
        id: ids::new_id("whev"),
        organization_id: org_id.to_string(),
        event: EventKind::WebhookTest,
        data:
            json!({"webhookId": endpoint.id, "message": "A test event from the payouts service."})
                .to_string(),
        created_at: Utc::now(),
    };
    let mut delivery = new_delivery(&event, &endpoint.id);
    // A test is one attempt: were it to fail, nothing is scheduled.
    delivery.first_attempt_at = Some(app.clock.now() - RETRY_WINDOW);
    let txn = db::begin_write(&app.db).await?;
    webhook_event::Entity::insert(webhook_event::ActiveModel::from(event))
        .exec_without_returning(&txn)
        .await?;
    webhook_delivery::Entity::insert(webhook_delivery::ActiveModel::from(delivery.clone()))
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    let outcome = if endpoint.is_active {
        sendable(attempt(app, &delivery.id, 1, true).await?)?
    } else {
        give_up(&app.db, &delivery, "the endpoint is disabled").await?;
        Attempted::Failed
    };
    Ok(TestResult {
        delivery_id: delivery.id,
        success: outcome == Attempted::Delivered,
        attempted_at: app.clock.now(),
    })
}

/// A delivery with its event's name and its attempts, oldest first.
pub struct DeliveryView {
    pub delivery: webhook_delivery::Model,
    pub event: EventKind,
    pub attempts: Vec<webhook_delivery_attempt::Model>,
}

async fn view<C: ConnectionTrait>(
    conn: &C,
    delivery: webhook_delivery::Model,
) -> Result<DeliveryView> {
    let event = webhook_event::Entity::find_by_id(delivery.event_id.clone())
        .one(conn)
        .await?
        .map(|e| e.event)
        .ok_or_else(|| Error::internal("a delivery without its event"))?;
    let attempts = webhook_delivery_attempt::Entity::find()
        .filter(webhook_delivery_attempt::Column::DeliveryId.eq(delivery.id.clone()))
        .order_by_asc(webhook_delivery_attempt::Column::Attempt)
        .all(conn)
        .await?;
    Ok(DeliveryView {
        delivery,
        event,
        attempts,
    })
}

async fn find_delivery<C: ConnectionTrait>(
    conn: &C,
    endpoint: &webhook_endpoint::Model,
    delivery_id: &str,
) -> Result<webhook_delivery::Model> {
    let not_found = || Error::NotFound("no such webhook delivery".into());
    if !ids::is_own_id("whdl", delivery_id) {
        return Err(not_found());
    }
    webhook_delivery::Entity::find_by_id(delivery_id)
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id.clone()))
        .filter(webhook_delivery::Column::OrganizationId.eq(endpoint.organization_id.clone()))
        .one(conn)
        .await?
        .ok_or_else(not_found)
}

/// An endpoint's deliveries, newest first, with their attempts.
pub async fn deliveries(
    conn: &DatabaseConnection,
    org_id: &str,
    endpoint_id: &str,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<DeliveryView>> {
    let endpoint = find(conn, org_id, endpoint_id).await?;
    let mut query = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id.clone()))
        .filter(webhook_delivery::Column::OrganizationId.eq(org_id))
        .order_by_desc(webhook_delivery::Column::CreatedAt)
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        let after = find_delivery(conn, &endpoint, cursor)
            .await
            .map_err(|e| e.for_cursor("webhook delivery"))?;
        query = query.filter(super::page::after(
            webhook_delivery::Column::CreatedAt,
            webhook_delivery::Column::Id,
            after.created_at,
            after.id,
        ));
    }
    let page = Page::from_overfetch(query.all(conn).await?, limit);
    let mut items = Vec::with_capacity(page.items.len());
    for delivery in page.items {
        items.push(view(conn, delivery).await?);
    }
    Ok(Page {
        items,
        has_more: page.has_more,
    })
}

/// Attempts a delivery again now (whatever its state), once; if it fails
/// and its 3 days are not over, its schedule goes on.
pub async fn retry(
    app: &App,
    org_id: &str,
    endpoint_id: &str,
    delivery_id: &str,
) -> Result<DeliveryView> {
    let endpoint = find(&app.db, org_id, endpoint_id).await?;
    let delivery = find_delivery(&app.db, &endpoint, delivery_id).await?;
    sendable(attempt(app, &delivery.id, delivery.attempts + 1, true).await?)?;
    let delivery = find_delivery(&app.db, &endpoint, delivery_id).await?;
    view(&app.db, delivery).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_attempts_fit_in_eight_hours_and_delays_grow() {
        // The first attempt is at once; the next seven wait the first seven delays.
        let worst: u64 = RETRY_DELAYS_SECS[..7].iter().sum();
        assert!(worst <= 8 * 3600, "{worst}");
        assert!(RETRY_DELAYS_SECS.windows(2).all(|w| w[0] < w[1]));
        for attempt in 1..20 {
            let delay = retry_delay(attempt);
            let index = (attempt as usize - 1).min(RETRY_DELAYS_SECS.len() - 1);
            let base = Duration::from_secs(RETRY_DELAYS_SECS[index]);
            assert!(
                delay <= base && delay >= base.mul_f64(0.8),
                "{attempt}: {delay:?}"
            );
        }
    }

    #[test]
    fn events_are_checked_by_name() {
        use EventKind::*;
        assert_eq!(
            check_events(&[PayoutPaid, PayoutPaid, PayoutCreated]).unwrap(),
            [PayoutPaid, PayoutCreated]
        );
        let err = check_events(&[PayoutPaid, WebhookTest]).unwrap_err();
        assert_eq!(err.details().unwrap()[0].field, "events");
        assert!(err.to_string().contains("webhook.test"), "{err}");
        assert!(check_events(&[]).is_err());
    }

    fn endpoint(events: &str) -> webhook_endpoint::Model {
        webhook_endpoint::Model {
            id: "wh_1".into(),
            organization_id: "org_1".into(),
            url: "https://example.com/hooks".into(),
            events: events.into(),
            description: None,
            is_active: true,
            api_version: "2026-07-11".into(),
            secret_encrypted: String::new(),
            disabled_reason: None,
            failing_since: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn stored_events_read_back_and_unreadable_ones_are_an_error() {
        use EventKind::*;
        let stored = stored_events(&[PayoutPaid, PayoutFailed]).unwrap();
        assert_eq!(stored, r#"["payout.paid","payout.failed"]"#);
        assert_eq!(
            events_of(&endpoint(&stored)).unwrap(),
            [PayoutPaid, PayoutFailed]
        );
        for unreadable in ["", "not json", r#"["payout.paid","invoice.created"]"#, "{}"] {
            let err = events_of(&endpoint(unreadable)).unwrap_err();
            assert!(matches!(err, Error::Internal(_)), "{unreadable:?}: {err}");
        }
    }

    #[test]
    fn an_event_with_unreadable_data_has_no_body() {
        let org = organization::Model {
            id: "org_1".into(),
            name: "Org".into(),
            mode: entity::states::OrgMode::Sandbox,
            country: "US".into(),
            currency: "usd".into(),
            provider: None,
            created_at: Utc::now(),
            api_version: crate::domain::api_version::DEFAULT,
        };
        let mut event = webhook_event::Model {
            id: "whev_1".into(),
            organization_id: org.id.clone(),
            event: EventKind::PayoutPaid,
            data: r#"{"payoutId":"po_1"}"#.into(),
            created_at: Utc::now(),
        };
        let sent: Value = serde_json::from_str(&body(&event, &org, "2026-07-11").unwrap()).unwrap();
        assert_eq!(sent["data"]["payoutId"], "po_1");
        event.data = "{truncated".into();
        assert!(matches!(
            body(&event, &org, "2026-07-11"),
            Err(Error::Internal(_))
        ));
    }

    #[test]
    fn both_signatures_verify() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_"));
        let body = r#"{"id":"whev_1","event":"payout.paid"}"#;
        let headers =
            signature_headers(&secret, "whev_1", "payout.paid", body, Utc::now()).unwrap();
        let get = |name: &str| headers.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(
            get("x-commet-signature"),
            crate::crypto::hmac_sha256_hex(secret.as_bytes(), body.as_bytes())
        );
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in &headers {
            map.insert(*name, value.parse().unwrap());
        }
        let hook = standardwebhooks::Webhook::new(&secret).unwrap();
        hook.verify(body.as_bytes(), &map).unwrap();
        assert!(hook.verify(b"{}", &map).is_err());
    }
}
