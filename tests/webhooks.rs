//! Outgoing webhooks, black box.
//!
//! One piece: the webhooks resource's tests, sharing one receiver, signature checks and endpoint helpers.
//!
//! Outgoing webhooks, black box: endpoints through the API, events received
//! by a local receiver and checked as a client would (Commet's HMAC and
//! Standard Webhooks), retries on the test clock, a crash between a change
//! and its delivery, bad URLs, tenancy and idempotency.
mod common;

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// How the receiver answers.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Status(u16),
    /// Answers 200 after this long (longer than the delivery timeout: a timeout).
    Slow(Duration),
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
    answered: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
    }
}

/// A webhook receiver on loopback: records every request and answers as
/// its mode says. Stopped and restarted on the same port to be "down".
struct Receiver {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    got: Arc<Mutex<Vec<Received>>>,
    /// Requests that arrived (a slow one is recorded only when it ends).
    arrived: Arc<std::sync::atomic::AtomicUsize>,
    server: Option<tokio::task::JoinHandle<()>>,
}

type State = (
    Arc<Mutex<Mode>>,
    Arc<Mutex<Vec<Received>>>,
    Arc<std::sync::atomic::AtomicUsize>,
);

impl Receiver {
    async fn start() -> Receiver {
        let mut receiver = Receiver {
            port: free_port(),
            mode: Arc::new(Mutex::new(Mode::Status(200))),
            got: Arc::default(),
            arrived: Arc::default(),
            server: None,
        };
        receiver.up().await;
        receiver
    }

    async fn up(&mut self) {
        use poem::{handler, http::StatusCode, web::Data, EndpointExt, Route};
        #[handler]
        async fn receive(req: &poem::Request, body: String, state: Data<&State>) -> StatusCode {
            state.0 .2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mode = *state.0 .0.lock().unwrap();
            // A slow answer comes after the sender gave up: it counts as none (0).
            let (status, answered) = match mode {
                Mode::Status(status) => (status, status),
                Mode::Slow(wait) => {
                    tokio::time::sleep(wait).await;
                    (200, 0)
                }
            };
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            state.0 .1.lock().unwrap().push(Received {
                headers,
                body,
                answered,
            });
            StatusCode::from_u16(status).unwrap()
        }
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let acceptor = poem::listener::TcpAcceptor::from_std(listener).unwrap();
        let routes = Route::new().at("/*path", poem::post(receive)).data((
            self.mode.clone(),
            self.got.clone(),
            self.arrived.clone(),
        ));
        self.server = Some(tokio::spawn(async move {
            poem::Server::new_with_acceptor(acceptor)
                .run(routes)
                .await
                .ok();
        }));
    }

    fn down(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("http://{}/hooks", self.host())
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The events received with a 2xx answer, by event id.
    fn delivered(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }
}

/// Checks a delivery as a receiver would: Commet's signature (hex HMAC of
/// the body keyed with the whole secret), Standard Webhooks' (via the
/// crate), and that the headers agree with the body.
fn verify(received: &Received, secret: &str) {
    let expected = payouts::crypto::hmac_sha256_hex(secret.as_bytes(), received.body.as_bytes());
    assert_eq!(received.header("x-commet-signature"), expected);
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &received.headers {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(received.body.as_bytes(), &headers)
        .expect("Standard Webhooks signature verifies");
    let body = received.json();
    assert_eq!(received.header("x-commet-event-id"), body["id"]);
    assert_eq!(received.header("webhook-id"), body["id"]);
    assert_eq!(received.header("x-commet-event"), body["event"]);
    assert!(body["id"].as_str().unwrap().starts_with("whev_"));
}

async fn spawn(receiver: &Receiver) -> TestApp {
    let host = receiver.host();
    TestApp::spawn_manual_jobs(move |c| {
        c.document_allow_hosts.push(host);
        c.webhook_timeout = Duration::from_millis(300);
    })
    .await
}

/// Runs due jobs, moving the clock a second at a time, until nothing is left
/// to run now (the sandbox's events included).
async fn settle(app: &TestApp) {
    let mut idle = 0;
    while idle < 3 {
        app.advance(Duration::from_secs(1));
        idle = if app.run_due_jobs().await.is_idle() {
            idle + 1
        } else {
            0
        };
    }
}

async fn create_endpoint(app: &TestApp, key: &str, url: &str, events: &[&str]) -> Value {
    let reply = app
        .post(
            "/webhooks",
            key,
            json!({"url": url, "events": events, "description": "test receiver"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.data().clone()
}

const ALL_EVENTS: [&str; 4] = [
    "payout.created",
    "payout.paid",
    "payout.failed",
    "payout.available",
];

#[tokio::test]
async fn a_payouts_lifecycle_is_received_signed_and_shaped_as_the_sdks_say() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let endpoint = create_endpoint(&app, &org.key, &receiver.url(), &ALL_EVENTS).await;
    let secret = endpoint["secretKey"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{endpoint}");
    assert_eq!(endpoint["object"], "webhook");
    assert_eq!(endpoint["isActive"], true);
    assert_eq!(endpoint["apiVersion"], "2026-07-11");
    assert_eq!(endpoint["livemode"], false);

    app.credit(&org, 10_000).await;
    let payout = app
        .post("/payouts", &org.key, json!({"amount": 2500}))
        .await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    let payout_id = payout.data()["id"].as_str().unwrap().to_string();
    settle(&app).await;
    assert_eq!(
        app.get(&format!("/payouts/{payout_id}"), &org.key)
            .await
            .data()["status"],
        "paid"
    );

    let got = receiver.delivered();
    let names: Vec<String> = got
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["payout.available", "payout.created", "payout.paid"],
        "each event once, in order"
    );
    for received in &got {
        verify(received, &secret);
        let body = received.json();
        assert_eq!(body["organizationId"], org.id.as_str());
        assert_eq!(body["mode"], "sandbox");
        assert_eq!(body["apiVersion"], "2026-07-11");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(
            !received.body.contains(GOOD_ACCOUNT),
            "never the account number"
        );
    }
    assert_eq!(
        got[0].json()["data"],
        json!({"availableAmount": 10_000, "currency": "usd"})
    );
    let created = &got[1].json()["data"];
    assert_eq!(created["payoutId"], payout_id.as_str());
    assert_eq!(created["status"], "pending");
    assert_eq!(
        (&created["amount"], &created["fee"], &created["netAmount"]),
        (&json!(2500), &json!(0), &json!(2500))
    );
    assert_eq!(
        created["destinationBank"],
        json!({"bankName": "STRIPE TEST BANK", "last4": "6789"})
    );
    assert!(created["createdAt"].is_string());
    let paid = &got[2].json()["data"];
    assert_eq!(paid["status"], "paid");
    assert!(paid["paidAt"].is_string());

    // The same events are listed, newest first, with the same ids.
    let events = app.get("/events", &org.key).await;
    assert_eq!(events.status, 200, "{}", events.body);
    let listed: Vec<&str> = events
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let sent: Vec<String> = got
        .iter()
        .rev()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, sent);

    // Each delivery shows its one successful attempt.
    let deliveries = app
        .get(
            &format!("/webhooks/{}/deliveries", endpoint["id"].as_str().unwrap()),
            &org.key,
        )
        .await;
    assert_eq!(deliveries.status, 200, "{}", deliveries.body);
    for delivery in deliveries.data().as_array().unwrap() {
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attemptCount"], 1);
        assert_eq!(delivery["attempts"][0]["statusCode"], 200);
        assert_eq!(delivery["nextAttemptAt"], Value::Null);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_failed_payout_sends_payout_failed_and_the_money_back_as_available() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let org = app.verified_org("000111111116").await;
    let endpoint = create_endpoint(&app, &org.key, &receiver.url(), &ALL_EVENTS).await;
    let secret = endpoint["secretKey"].as_str().unwrap().to_string();
    app.credit(&org, 5_000).await;
    let payout = app
        .post("/payouts", &org.key, json!({"amount": 2000}))
        .await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    settle(&app).await;
    let got = receiver.delivered();
    let summary: Vec<(String, Value)> = got
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["event"].as_str().unwrap().to_string(),
                body["data"].clone(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 4, "{summary:#?}");
    assert_eq!(summary[2].0, "payout.failed");
    assert_eq!(summary[2].1["failureCode"], "no_account");
    assert!(summary[2].1["failureMessage"].is_string());
    assert!(summary[2].1["failedAt"].is_string());
    assert_eq!(summary[3].0, "payout.available");
    assert_eq!(summary[3].1["availableAmount"], 5_000, "the whole balance");
    for received in &got {
        verify(received, &secret);
    }
    app.stop().await;
}

/// The receiver fails (500, then a timeout, then it is down), then recovers:
/// each attempt waits longer than the one before, and once delivered the
/// event is never sent again.
#[tokio::test]
async fn a_failing_receiver_gets_retries_with_growing_delays_and_the_event_once() {
    let mut receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let org = app.org().await;
    let endpoint = create_endpoint(&app, &org.key, &receiver.url(), &["payout.available"]).await;
    let deliveries_path = format!("/webhooks/{}/deliveries", endpoint["id"].as_str().unwrap());

    receiver.set(Mode::Status(500));
    app.credit(&org, 1_000).await;
    app.run_due_jobs().await;
    assert_eq!(receiver.got().len(), 1);

    let mut waits = Vec::new();
    for step in 0..3 {
        match step {
            0 => {}
            1 => receiver.set(Mode::Slow(Duration::from_secs(2))),
            _ => receiver.down(),
        }
        let delivery = app.get(&deliveries_path, &org.key).await.data()[0].clone();
        assert_eq!(delivery["status"], "pending", "{delivery}");
        let last = delivery["attempts"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        let attempted =
            chrono::DateTime::parse_from_rfc3339(last["attemptedAt"].as_str().unwrap()).unwrap();
        let next =
            chrono::DateTime::parse_from_rfc3339(delivery["nextAttemptAt"].as_str().unwrap())
                .unwrap();
        let wait = (next - attempted).to_std().unwrap();
        waits.push(wait);
        // Not before it is due...
        app.advance(wait - Duration::from_secs(5));
        app.run_due_jobs().await;
        assert_eq!(
            delivery_attempts(&app, &deliveries_path, &org.key).await,
            step + 1,
            "no attempt before its time"
        );
        // ...and at once when it is (times on the wire are to the millisecond).
        app.advance(Duration::from_secs(6));
        app.run_due_jobs().await;
        assert_eq!(
            delivery_attempts(&app, &deliveries_path, &org.key).await,
            step + 2
        );
    }
    assert!(waits.windows(2).all(|w| w[0] < w[1]), "{waits:?}");
    let delivery = app.get(&deliveries_path, &org.key).await.data()[0].clone();
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["statusCode"], 500);
    assert_eq!(attempts[1]["statusCode"], 500);
    assert!(
        attempts[2]["error"].as_str().unwrap().contains("no answer"),
        "{delivery}"
    );
    assert_eq!(attempts[3]["statusCode"], Value::Null, "{delivery}");
    assert!(attempts[3]["error"].is_string(), "{delivery}");
    assert!(attempts.iter().all(|a| a["durationMs"].is_i64()));

    // Back up: the next attempt delivers, and nothing is sent after that.
    receiver.set(Mode::Status(200));
    receiver.up().await;
    let next =
        chrono::DateTime::parse_from_rfc3339(delivery["nextAttemptAt"].as_str().unwrap()).unwrap();
    app.advance(
        (next
            - chrono::DateTime::parse_from_rfc3339(attempts[3]["attemptedAt"].as_str().unwrap())
                .unwrap())
        .to_std()
        .unwrap()
            + Duration::from_secs(1),
    );
    app.run_due_jobs().await;
    let delivery = app.get(&deliveries_path, &org.key).await.data()[0].clone();
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(delivery["nextAttemptAt"], Value::Null);
    for _ in 0..5 {
        app.advance(Duration::from_secs(24 * 3600));
        app.run_due_jobs().await;
    }
    let ids: Vec<String> = receiver
        .got()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "one event, the same id on every retry"
    );
    assert_eq!(receiver.delivered().len(), 1, "delivered once");
    // The endpoint recovered: still active.
    let hook = app
        .get(
            &format!("/webhooks/{}", endpoint["id"].as_str().unwrap()),
            &org.key,
        )
        .await;
    assert_eq!(hook.data()["isActive"], true);
    app.stop().await;
}

async fn delivery_attempts(app: &TestApp, path: &str, key: &str) -> usize {
    app.get(path, key).await.data()[0]["attempts"]
        .as_array()
        .unwrap()
        .len()
}

/// A receiver that never answers 2xx: at least 8 attempts in the first 8
/// hours, the last about 3 days after the first; then the delivery is
/// failed and the endpoint disabled, with the reason.
#[tokio::test]
async fn three_days_of_failures_fail_the_delivery_and_disable_the_endpoint() {
    let receiver = Receiver::start().await;
    receiver.set(Mode::Status(503));
    let app = spawn(&receiver).await;
    let org = app.org().await;
    let endpoint = create_endpoint(&app, &org.key, &receiver.url(), &["payout.available"]).await;
    let id = endpoint["id"].as_str().unwrap();
    app.credit(&org, 1_000).await;
    app.run_due_jobs().await;
    let mut elapsed = Duration::ZERO;
    let mut in_first_eight_hours = receiver.got().len();
    let step = Duration::from_secs(60);
    while elapsed < Duration::from_secs(4 * 24 * 3600) {
        app.advance(step);
        elapsed += step;
        app.run_due_jobs().await;
        if elapsed <= Duration::from_secs(8 * 3600) {
            in_first_eight_hours = receiver.got().len();
        }
    }
    assert!(
        in_first_eight_hours >= 8,
        "{in_first_eight_hours} attempts in 8 h"
    );
    let delivery = app
        .get(&format!("/webhooks/{id}/deliveries"), &org.key)
        .await
        .data()[0]
        .clone();
    assert_eq!(delivery["status"], "failed", "{delivery}");
    assert_eq!(delivery["nextAttemptAt"], Value::Null);
    let attempts = delivery["attempts"].as_array().unwrap();
    let at = |a: &Value| {
        chrono::DateTime::parse_from_rfc3339(a["attemptedAt"].as_str().unwrap()).unwrap()
    };
    let span = at(attempts.last().unwrap()) - at(&attempts[0]);
    assert!(
        span >= chrono::Duration::hours(71) && span <= chrono::Duration::hours(73),
        "retried for {span}"
    );
    assert_eq!(attempts.len(), receiver.got().len());
    let hook = app.get(&format!("/webhooks/{id}"), &org.key).await;
    assert_eq!(hook.data()["isActive"], false, "{}", hook.body);
    assert!(hook.data()["disabledReason"]
        .as_str()
        .unwrap()
        .contains("failed"));
    // A disabled endpoint gets no new deliveries...
    app.credit(&org, 1_000).await;
    settle(&app).await;
    assert_eq!(attempts.len(), receiver.got().len());
    // ...until it is turned back on.
    let reply = app
        .request(
            Method::PATCH,
            &format!("/webhooks/{id}"),
            Some(&org.key),
            Some(json!({"isActive": true})),
        )
        .await;
    assert_eq!(reply.data()["isActive"], true, "{}", reply.body);
    assert_eq!(reply.data()["disabledReason"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn bad_urls_and_events_are_422_and_store_nothing() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let org = app.org().await;
    let trap = Trap::start().await;
    let cases = [
        (json!("http://example.com/hooks"), "url"),
        (json!("https://127.0.0.1/hooks"), "url"),
        (
            json!(format!("https://127.0.0.1:{}/hooks", trap.port)),
            "url",
        ),
        (json!("https://10.1.2.3/hooks"), "url"),
        (json!("https://169.254.169.254/latest"), "url"),
        (json!("https://[::1]/hooks"), "url"),
        (json!("https://localhost/hooks"), "url"),
        (json!("https://user:pw@example.com/hooks"), "url"),
        (json!("ftp://example.com/hooks"), "url"),
    ];
    for (url, param) in cases {
        let reply = app
            .post(
                "/webhooks",
                &org.key,
                json!({"url": url, "events": ["payout.paid"]}),
            )
            .await;
        assert_eq!(reply.status, 422, "{url}: {}", reply.body);
        assert_eq!(reply.body["error"]["param"], param, "{url}: {}", reply.body);
    }
    let reply = app
        .post(
            "/webhooks",
            &org.key,
            json!({"url": "https://example.com/hooks", "events": ["payout.paid", "invoice.created", "customer.updated"]}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["error"]["param"], "events");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("invoice.created") && message.contains("customer.updated"),
        "{message}"
    );
    let reply = app
        .post(
            "/webhooks",
            &org.key,
            json!({"url": "https://example.com/hooks", "events": []}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    // An update is held to the same rules.
    let hook = create_endpoint(&app, &org.key, &receiver.url(), &["payout.paid"]).await;
    let path = format!("/webhooks/{}", hook["id"].as_str().unwrap());
    let reply = app
        .request(
            Method::PATCH,
            &path,
            Some(&org.key),
            Some(json!({"url": "https://192.168.1.1/x"})),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    let listed = app.get("/webhooks", &org.key).await;
    assert_eq!(
        listed.data().as_array().unwrap().len(),
        1,
        "{}",
        listed.body
    );
    assert_eq!(listed.data()[0]["url"], receiver.url());
    assert_eq!(trap.count(), 0, "no connection to a refused address");
    app.stop().await;
}

#[tokio::test]
async fn endpoints_are_read_updated_tested_and_deleted_only_by_their_organization() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let (a, b) = (app.org().await, app.org().await);
    let hook = create_endpoint(&app, &a.key, &receiver.url(), &["payout.paid"]).await;
    let id = hook["id"].as_str().unwrap().to_string();
    let secret = hook["secretKey"].as_str().unwrap().to_string();
    let path = format!("/webhooks/{id}");

    // Read back: the same, without the secret.
    let got = app.get(&path, &a.key).await;
    assert_eq!(got.status, 200);
    assert!(got.data().get("secretKey").is_none(), "{}", got.body);
    let listed = app.get("/webhooks", &a.key).await;
    assert_eq!(listed.body["hasMore"], false);
    assert!(listed.body.to_string().find("whsec_").is_none());

    // Org B sees none of it.
    assert_eq!(app.get("/webhooks", &b.key).await.data(), &json!([]));
    for (method, sub, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"description": "mine"}))),
        (Method::PUT, "", Some(json!({"description": "mine"}))),
        (Method::DELETE, "", None),
        (Method::POST, "/test", None),
        (Method::GET, "/deliveries", None),
    ] {
        let reply = app
            .request(method.clone(), &format!("{path}{sub}"), Some(&b.key), body)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {sub}: {}",
            reply.body
        );
    }

    // PATCH and PUT change only what they are given.
    let reply = app
        .request(
            Method::PATCH,
            &path,
            Some(&a.key),
            Some(json!({"events": ["payout.paid", "payout.failed"]})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.data()["events"],
        json!(["payout.paid", "payout.failed"])
    );
    assert_eq!(reply.data()["description"], "test receiver");
    assert_eq!(reply.data()["url"], receiver.url());
    let reply = app
        .request(
            Method::PUT,
            &path,
            Some(&a.key),
            Some(json!({"apiVersion": "2026-08-27", "description": null})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.data()["apiVersion"], "2026-08-27");
    assert_eq!(reply.data()["description"], Value::Null);
    assert_eq!(
        reply.data()["events"],
        json!(["payout.paid", "payout.failed"])
    );

    // A test is a real signed delivery, pinned to the endpoint's version.
    let test = app.post(&format!("{path}/test"), &a.key, json!({})).await;
    assert_eq!(test.status, 200, "{}", test.body);
    assert_eq!(test.data()["success"], true);
    assert_eq!(test.data()["object"], "webhook_delivery");
    let received = receiver.delivered();
    assert_eq!(received.len(), 1);
    verify(&received[0], &secret);
    assert_eq!(received[0].json()["event"], "webhook.test");
    assert_eq!(received[0].json()["apiVersion"], "2026-08-27");
    assert_eq!(
        received[0].json()["id"],
        received[0].header("x-commet-event-id")
    );
    let delivery_id = test.data()["deliveryId"].as_str().unwrap().to_string();

    // A retry is another real attempt of the same event; B cannot ask for it.
    let retry_path = format!("{path}/deliveries/{delivery_id}/retry");
    let reply = app.post(&retry_path, &b.key, json!({})).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    let reply = app.post(&retry_path, &a.key, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.data()["attemptCount"], 2);
    assert_eq!(reply.data()["status"], "delivered");
    let received = receiver.delivered();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].json()["id"], received[1].json()["id"]);

    // Delete: gone for its organization too.
    let deleted = app.request(Method::DELETE, &path, Some(&a.key), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(
        deleted.data(),
        &json!({"id": id, "deleted": true, "object": "webhook", "livemode": false})
    );
    assert_eq!(app.get(&path, &a.key).await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn creating_an_endpoint_is_idempotent() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let org = app.org().await;
    let send = || {
        app.client
            .post(format!("{}/api/v1/webhooks", app.base))
            .header("x-api-key", &org.key)
            .header("idempotency-key", "create-hook-1")
            .json(&json!({"url": receiver.url(), "events": ["payout.paid"]}))
            .send()
    };
    let first = TestApp::reply(send().await.unwrap()).await;
    let second = TestApp::reply(send().await.unwrap()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(second.status, 201);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(first.data()["id"], second.data()["id"]);
    assert_eq!(first.data()["secretKey"], second.data()["secretKey"]);
    let listed = app.get("/webhooks", &org.key).await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    // The stored answer (it carries the secret) is not stored in clear, nor
    // is the endpoint's secret.
    use sea_orm::EntityTrait;
    let secret = first.data()["secretKey"].as_str().unwrap();
    let keys = entity::idempotency_key::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert!(!keys.is_empty());
    for row in keys {
        assert!(!row.response_body.unwrap_or_default().contains(secret));
    }
    for row in entity::webhook_endpoint::Entity::find()
        .all(app.db())
        .await
        .unwrap()
    {
        assert!(!row.secret_encrypted.contains(secret));
    }
    app.stop().await;
}

/// The real binary: a change committed by a process that died before any
/// delivery (a CLI credit, which never delivers), and a server killed with
/// SIGKILL while a delivery was in flight. After a restart every event is
/// delivered, under its one id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_a_crash_between_the_change_and_the_delivery() {
    use common::binary::Binary;
    let mut receiver = Receiver::start().await;
    let (database_url, sqlite_dir, postgres) = fresh_database().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let service = Binary::new()
        .env("DATABASE_URL", database_url.clone())
        .env(
            "PAYOUTS_ENCRYPTION_KEY",
            payouts::crypto::Cipher::generate_key_hex(),
        )
        .env("PAYOUTS_BIND", format!("127.0.0.1:{port}"))
        .env("PAYOUTS_DOCUMENT_ALLOW_HOSTS", receiver.host())
        .env("PAYOUTS_JOB_POLL_MS", "25")
        .env("PAYOUTS_JOB_LEASE_MS", "1000")
        .env("PAYOUTS_LOG", "warn");
    service.cli(&["migrate"]).await;
    let org = service.cli(&["org", "create", "--name", "Crash"]).await;
    let (org_id, key) = (
        org["organizationId"].as_str().unwrap().to_string(),
        org["apiKey"].as_str().unwrap().to_string(),
    );
    let client = reqwest::Client::new();
    let mut server = service.serve(&base).await;
    let hook: Value = client
        .post(format!("{base}/api/v1/webhooks"))
        .header("x-api-key", &key)
        .json(&json!({"url": receiver.url(), "events": ["payout.available"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(hook["data"]["secretKey"].is_string(), "{hook}");
    server.kill().unwrap();
    server.wait().unwrap();

    // The change, committed by a process that exits without delivering.
    receiver.down();
    service
        .cli(&["balance", "credit", "--org", &org_id, "--amount", "1000"])
        .await;
    // A server that starts delivering it to a receiver that hangs, killed mid-delivery.
    receiver.set(Mode::Slow(Duration::from_secs(30)));
    receiver.up().await;
    let mut server = service.serve(&base).await;
    for _ in 0..400 {
        if receiver.arrived.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        receiver.arrived.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "a delivery was in flight"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    receiver.down();
    assert!(
        receiver.delivered().is_empty(),
        "nothing delivered before the crash"
    );

    // Another change while down, then a restart with the receiver back.
    service
        .cli(&["balance", "credit", "--org", &org_id, "--amount", "500"])
        .await;
    receiver.set(Mode::Status(200));
    receiver.up().await;
    let mut server = service.serve(&base).await;
    let events: Value = client
        .get(format!("{base}/api/v1/events"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let want: BTreeSet<String> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(want.len(), 2, "{events}");
    for _ in 0..400 {
        let got: BTreeSet<String> = receiver
            .delivered()
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_string())
            .collect();
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let delivered = receiver.delivered();
    let got: BTreeSet<String> = delivered
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want, "every event delivered, by its id");
    assert_eq!(delivered.len(), 2, "once each");
    let amounts: Vec<i64> = delivered
        .iter()
        .map(|r| r.json()["data"]["availableAmount"].as_i64().unwrap())
        .collect();
    assert_eq!(BTreeSet::from_iter(amounts), BTreeSet::from([1000, 1500]));
    server.kill().unwrap();
    server.wait().unwrap();

    if let Some((admin_url, name)) = postgres {
        use sea_orm::ConnectionTrait;
        let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .ok();
    }
    if let Some(dir) = sqlite_dir {
        std::fs::remove_dir_all(dir).ok();
    }
}

/// Two instances on one database run due jobs at the same time: every event
/// reaches the receiver once (each attempt is claimed by one instance, and
/// recorded once).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_deliver_each_event_once() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let peer = app.spawn_peer().await;
    let org = app.org().await;
    create_endpoint(&app, &org.key, &receiver.url(), &["payout.available"]).await;
    create_endpoint(&app, &org.key, &receiver.url(), &["payout.available"]).await;
    for amount in 1..=10 {
        app.credit(&org, amount * 100).await;
    }
    for _ in 0..3 {
        let (a, b) = tokio::join!(app.run_due_jobs(), peer.run_due_jobs());
        let _ = (a, b);
    }
    let got = receiver.delivered();
    assert_eq!(got.len(), 20, "10 events to 2 endpoints");
    let pairs: BTreeSet<(String, String)> = got
        .iter()
        .map(|r| {
            (
                r.json()["id"].as_str().unwrap().to_string(),
                r.header("x-commet-signature").to_string(),
            )
        })
        .collect();
    assert_eq!(pairs.len(), 20, "no (event, endpoint) twice");
    let hooks = app.get("/webhooks", &org.key).await;
    for hook in hooks.data().as_array().unwrap() {
        let deliveries = app
            .get(
                &format!(
                    "/webhooks/{}/deliveries?limit=100",
                    hook["id"].as_str().unwrap()
                ),
                &org.key,
            )
            .await;
        let list = deliveries.data().as_array().unwrap();
        assert_eq!(list.len(), 10);
        assert!(
            list.iter()
                .all(|d| d["attemptCount"] == 1 && d["status"] == "delivered"),
            "{}",
            deliveries.body
        );
    }
    peer.stop_unchecked().await;
    app.stop().await;
}
