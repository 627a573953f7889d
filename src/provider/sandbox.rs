//! The sandbox provider.
//!
//! One piece: the provider's answers and the events it later delivers are one simulated account's, driven by the same test numbers and faults.
//!
//! The sandbox provider: answers at once with provider ids, then delivers
//! signed events (Stripe's scheme) to this service's own webhook endpoint
//! after a delay, through the durable job queue, like a real provider would.
//! Outcomes follow Stripe's test numbers (see CONTRACT.md).
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::*;
use crate::{
    clock::Clock,
    config::Config,
    crypto,
    group_commit::Writer,
    ids,
    metrics::Metrics,
    queue::{self, Job, Outcome},
};

pub const NAME: &str = "sandbox";
const SIGNATURE_TOLERANCE_SECS: i64 = 300;
/// Like a real provider, the sandbox stops redelivering an event at last
/// (about a day of backoff), e.g. one about an account whose verification
/// lost a race and was never stored.
const MAX_DELIVERY_ATTEMPTS: i32 = 150;

/// Stripe's failing test account numbers and the failure each produces.
const FAILING_ACCOUNTS: [(&str, &str, &str); 5] = [
    (
        "000111111116",
        "no_account",
        "No bank account could be located with the details provided.",
    ),
    (
        "000111111113",
        "account_closed",
        "The bank account has been closed.",
    ),
    (
        "000222222227",
        "insufficient_funds",
        "The bank account has insufficient funds.",
    ),
    (
        "000333333335",
        "debit_not_authorized",
        "Debit transactions are not approved on the bank account.",
    ),
    (
        "000444444440",
        "invalid_currency",
        "The bank was unable to process this payout because of its currency.",
    ),
];
const TEST_ROUTING_NUMBER: &str = "110000000";
/// Born on this day, an individual matches the watch list and is restricted.
const WATCH_LIST_BIRTH_DATE: (i32, u32, u32) = (1900, 1, 1);

pub struct SandboxProvider {
    writer: Writer,
    delay: std::time::Duration,
    secret: String,
    /// Where its events are delivered: this service's webhook endpoint.
    webhook_url: String,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    clock: Clock,
    /// Failures to answer the next payout calls with, on demand (tests,
    /// demos): the sandbox can be down or say no like a real provider.
    faults: std::sync::Mutex<std::collections::VecDeque<Fault>>,
}

/// A failure the sandbox can be told to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A timeout or 5xx: the call may be retried.
    Unavailable,
    /// A definitive refusal.
    Refused,
}

/// Ids derived from the caller's idempotency key, so repeating a call gives
/// back the same object and schedules no second set of events.
fn derived_id(prefix: &str, key: &str) -> String {
    format!("{prefix}_{}", &crypto::sha256_hex(key.as_bytes())[..24])
}

fn failure_for(code: &str) -> Option<(&'static str, &'static str)> {
    FAILING_ACCOUNTS
        .iter()
        .find(|(_, c, _)| *c == code)
        .map(|(_, c, m)| (*c, *m))
}

impl SandboxProvider {
    pub fn new(
        writer: Writer,
        config: &Config,
        http: reqwest::Client,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            writer,
            delay: config.sandbox_delay,
            secret: config.sandbox_webhook_secret.clone(),
            webhook_url: format!("{}/api/v1/provider-webhooks/{NAME}", config.public_url),
            http,
            metrics,
            clock: config.clock.clone(),
            faults: Default::default(),
        }
    }

    /// Makes the next `count` payout calls fail with `fault`.
    pub fn inject(&self, fault: Fault, count: usize) {
        let mut faults = self.faults.lock().expect("faults lock");
        faults.extend(std::iter::repeat_n(fault, count));
    }

    fn next_fault(&self) -> Option<Fault> {
        self.faults.lock().expect("faults lock").pop_front()
    }

    /// Queues events, each for delivery its `steps` delays from now, all or
    /// none (as a real provider records an operation's events with it).
    async fn schedule(&self, events: Vec<(&str, Value, u32)>) -> Result<(), ProviderError> {
        let now = self.clock.now();
        let events: Vec<(String, DeliverEvent, DateTime<Utc>)> = events
            .into_iter()
            .map(|(event_type, object, steps)| {
                let object_id = object["id"].as_str().unwrap_or_default();
                let id = derived_id("evt", &format!("{object_id}:{event_type}"));
                let created = now + self.delay * steps;
                let event = DeliverEvent {
                    id: id.clone(),
                    object: "event".into(),
                    event_type: event_type.to_string(),
                    created: created.timestamp(),
                    data: EventData { object },
                };
                (id, event, created)
            })
            .collect();
        // Through the writer: on SQLite this commit joins a group commit.
        self.writer
            .write(move |txn| {
                Box::pin(async move {
                    let jobs = events
                        .iter()
                        .map(|(id, event, at)| (id.clone(), event, *at));
                    queue::enqueue_all(txn, jobs).await
                })
            })
            .await
            .map_err(|e: sea_orm::DbErr| ProviderError::Unavailable(format!("sandbox queue: {e}")))
    }

    /// The `Stripe-Signature` header for a body, signed now.
    pub fn sign(&self, body: &[u8]) -> String {
        crypto::stripe_signature::header(&self.secret, Utc::now().timestamp(), body)
    }
}

/// A sandbox event, delivered (signed) to this service's webhook endpoint
/// when due: the job and its payload are the event, in Stripe's shape.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverEvent {
    id: String,
    object: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    data: EventData,
}

#[derive(Debug, Serialize, Deserialize)]
struct EventData {
    object: Value,
}

#[async_trait::async_trait]
impl Job for DeliverEvent {
    const KIND: &'static str = "sandbox_webhook";
    type Context = SandboxProvider;

    /// POSTs the event to this service's own webhook endpoint.
    async fn run(self, sandbox: &SandboxProvider, attempt: i32) -> Outcome {
        let body = match serde_json::to_string(&self) {
            Ok(body) => body,
            Err(err) => return Outcome::Retry(format!("event does not serialize: {err}")),
        };
        let request = sandbox
            .http
            .post(&sandbox.webhook_url)
            .header("content-type", "application/json")
            .header("stripe-signature", sandbox.sign(body.as_bytes()))
            .body(body);
        let outcome = match request.send().await {
            Ok(response) if response.status().is_success() => Outcome::Done,
            Ok(response) => Outcome::Retry(format!("webhook answered {}", response.status())),
            Err(err) => Outcome::Retry(format!("webhook delivery failed: {err}")),
        };
        sandbox
            .metrics
            .webhook_delivery(matches!(outcome, Outcome::Done));
        match outcome {
            Outcome::Retry(error) if attempt >= MAX_DELIVERY_ATTEMPTS => {
                tracing::warn!(event = %self.id, %error, "sandbox event abandoned after its last delivery attempt");
                Outcome::Done
            }
            outcome => outcome,
        }
    }
}

#[async_trait::async_trait]
impl PayoutProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn upload_document(
        &self,
        document: &Document,
        _idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        if document.bytes.is_empty() {
            return Err(ProviderError::Refused(
                "the identity document is empty".into(),
            ));
        }
        Ok(ids::new_id("file"))
    }

    async fn create_account(
        &self,
        request: &AccountRequest<'_>,
    ) -> Result<CreatedAccount, ProviderError> {
        let account_id = derived_id("acct", request.idempotency_key);
        let (y, m, d) = WATCH_LIST_BIRTH_DATE;
        let on_watch_list = request.date_of_birth == NaiveDate::from_ymd_opt(y, m, d);
        let status = if on_watch_list {
            AccountStatus::Restricted
        } else {
            AccountStatus::Verified
        };
        let verdict = json!({"id": account_id, "status": status.as_str()});
        self.schedule(vec![("account.updated", verdict, 1)]).await?;
        Ok(CreatedAccount {
            id: account_id,
            external_account: None,
        })
    }

    async fn add_external_account(
        &self,
        _account_id: &str,
        bank: &BankDetails<'_>,
        _idempotency_key: &str,
        _set_default: bool,
    ) -> Result<ExternalAccount, ProviderError> {
        // The sandbox remembers a bank account's fate in its own opaque id.
        let outcome = FAILING_ACCOUNTS
            .iter()
            .find(|(number, _, _)| *number == bank.account_number)
            .map_or("ok", |(_, code, _)| *code);
        Ok(ExternalAccount {
            id: format!("ba_{}_{outcome}", &ids::new_id("x")[2..]),
            bank_name: (bank.routing_number == Some(TEST_ROUTING_NUMBER))
                .then(|| "STRIPE TEST BANK".to_string()),
            last4: None,
        })
    }

    async fn create_payout(&self, request: &PayoutRequest<'_>) -> Result<Submitted, ProviderError> {
        match self.next_fault() {
            Some(Fault::Unavailable) => {
                return Err(ProviderError::Unavailable(
                    "sandbox: service unavailable (injected)".into(),
                ))
            }
            Some(Fault::Refused) => {
                return Err(ProviderError::Refused(
                    "sandbox: payout refused (injected)".into(),
                ))
            }
            None => {}
        }
        let transfer_id = derived_id("tr", request.payout_id);
        let outcome = request
            .external_account_id
            .split_once('_')
            .and_then(|(_, rest)| rest.split_once('_'))
            .map_or("ok", |(_, outcome)| outcome);
        let metadata = json!({"payout_id": request.payout_id, "fee": request.fee});
        let object = |status: PayoutStatus| json!({"id": transfer_id, "status": status.as_str(), "amount": request.net_amount, "currency": request.currency, "metadata": metadata});
        let settled = match failure_for(outcome) {
            None => ("payout.paid", object(PayoutStatus::Paid)),
            Some((code, message)) => {
                let mut failed = object(PayoutStatus::Failed);
                failed["failure_code"] = json!(code);
                failed["failure_message"] = json!(message);
                ("payout.failed", failed)
            }
        };
        self.schedule(vec![
            ("payout.updated", object(PayoutStatus::InTransit), 1),
            (settled.0, settled.1, 2),
        ])
        .await?;
        Ok(Submitted {
            transfer_id,
            payout_id: None,
        })
    }

    fn parse_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ProviderEvent, WebhookError> {
        let signature = signature
            .ok_or_else(|| WebhookError::Signature("missing Stripe-Signature header".into()))?;
        crypto::stripe_signature::verify(
            &self.secret,
            signature,
            body,
            now.timestamp(),
            SIGNATURE_TOLERANCE_SECS,
        )
        .map_err(WebhookError::Signature)?;
        parse_event(body).map_err(WebhookError::Malformed)
    }
}

/// Parses a Stripe-shaped event body.
pub fn parse_event(body: &[u8]) -> Result<ProviderEvent, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
    let text = |v: &Value| v.as_str().map(str::to_string);
    let id = text(&value["id"]).ok_or("event has no id")?;
    let event_type = text(&value["type"]).ok_or("event has no type")?;
    let created = value["created"]
        .as_i64()
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .ok_or("event has no created time")?;
    // As the published ProviderEvent says, whatever the event's type.
    if value.get("data").is_some_and(|data| !data.is_object()) {
        return Err("event data is not an object".into());
    }
    let object = &value["data"]["object"];
    let status = object["status"].as_str().unwrap_or_default();
    let object = match event_type.split('.').next() {
        Some("account") => EventObject::Account {
            account_id: text(&object["id"]).ok_or("account event without id")?,
            status: status.parse()?,
        },
        Some("payout") => EventObject::Payout {
            transfer_id: text(&object["id"]).ok_or("payout event without id")?,
            payout_id: text(&object["metadata"]["payout_id"]),
            status: status.parse()?,
            failure_code: text(&object["failure_code"]),
            failure_message: text(&object["failure_message"]),
        },
        _ => EventObject::Other,
    };
    Ok(ProviderEvent {
        id,
        event_type,
        created,
        object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_that_is_not_an_object_is_refused_whatever_the_type() {
        for data in ["[]", "1", "\"x\"", "null"] {
            let body =
                format!(r#"{{"id":"evt_1","type":"other","created":1700000000,"data":{data}}}"#);
            assert!(parse_event(body.as_bytes()).is_err(), "{data}");
        }
        let body = br#"{"id":"evt_1","type":"other","created":1700000000}"#;
        assert!(parse_event(body).is_ok());
    }

    #[test]
    fn parses_payout_and_account_events() {
        let body = br#"{"id":"evt_1","type":"payout.failed","created":1700000000,
            "data":{"object":{"id":"tr_1","status":"failed","metadata":{"payout_id":"po_1"},
            "failure_code":"no_account","failure_message":"gone"}}}"#;
        let event = parse_event(body).unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(
            event.object,
            EventObject::Payout {
                transfer_id: "tr_1".into(),
                payout_id: Some("po_1".into()),
                status: PayoutStatus::Failed,
                failure_code: Some("no_account".into()),
                failure_message: Some("gone".into()),
            }
        );
        let body = br#"{"id":"evt_2","type":"account.updated","created":1,"data":{"object":{"id":"acct_1","status":"restricted"}}}"#;
        assert!(matches!(
            parse_event(body).unwrap().object,
            EventObject::Account {
                status: AccountStatus::Restricted,
                ..
            }
        ));
        assert!(parse_event(b"{}").is_err());
        assert!(parse_event(br#"{"id":"e","type":"payout.paid","created":1,"data":{"object":{"id":"t","status":"sent"}}}"#).is_err());
    }

    #[test]
    fn derived_ids_are_stable_per_key() {
        assert_eq!(derived_id("tr", "po_1"), derived_id("tr", "po_1"));
        assert_ne!(derived_id("tr", "po_1"), derived_id("tr", "po_2"));
    }
}
