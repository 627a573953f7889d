//! Black-box tests of the HTTP API: the service runs on a free port against
//! its own database, and each test drives it over HTTP like a client would.
mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_is_required() {
    let app = TestApp::spawn().await;
    for key in [
        None,
        Some("ck_test_unknownkey"),
        Some("not-a-key"),
        Some(""),
    ] {
        let reply = app.request(Method::GET, "/balance", key, None).await;
        assert_eq!(reply.status, 401, "{key:?}");
        assert_eq!(reply.body["success"], false);
        assert_eq!(reply.body["error"]["type"], "authentication_error");
        assert_eq!(reply.error_code(), "unauthorized");
        assert!(reply.headers.contains_key("x-request-id"));
    }
    // A non-ASCII header value fails before our checker runs: still the envelope.
    let response = app
        .client
        .get(format!("{}/api/v1/balance", app.base))
        .header(
            "x-api-key",
            reqwest::header::HeaderValue::from_bytes(b"ck_test_\xff").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(TestApp::reply(response).await.error_code(), "unauthorized");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_the_envelope() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    let url = format!("{}/api/v1/payouts", app.base);

    let bad_json = app
        .client
        .post(&url)
        .header("x-api-key", &org.key)
        .header("content-type", "application/json")
        .body("{\"amount\": ")
        .send()
        .await
        .unwrap();
    let reply = TestApp::reply(bad_json).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (400, "invalid_json")
    );
    assert_eq!(reply.body["error"]["type"], "validation_error");

    let not_object = app
        .client
        .post(&url)
        .header("x-api-key", &org.key)
        .header("content-type", "application/json")
        .body("[1]")
        .send()
        .await
        .unwrap();
    assert_eq!(
        TestApp::reply(not_object).await.error_code(),
        "invalid_json"
    );

    let wrong_type = app
        .client
        .post(&url)
        .header("x-api-key", &org.key)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let reply = TestApp::reply(wrong_type).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (415, "unsupported_media_type")
    );

    let too_big = json!({"amount": 1000, "description": "x".repeat(100 * 1024)});
    let reply = app.post("/payouts", &org.key, too_big).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (413, "payload_too_large")
    );

    let reply = app.get("/nowhere", &org.key).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (404, "not_found")
    );

    let reply = app
        .request(Method::DELETE, "/payouts", Some(&org.key), None)
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (405, "method_not_allowed")
    );
    assert_eq!(reply.headers["allow"], "POST");
    let reply = app
        .request(Method::PUT, "/payouts/po_123", Some(&org.key), None)
        .await;
    assert_eq!(reply.headers["allow"], "GET");

    // A sane request id is echoed; an unreasonable one is replaced.
    let response = app
        .client
        .get(format!("{}/api/v1/balance", app.base))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42");
    let response = app
        .client
        .get(format!("{}/api/v1/balance", app.base))
        .header("x-request-id", "a b<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "a b<script>");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_name_the_field() {
    let app = TestApp::spawn().await;
    let org = app.org().await;

    let reply = app.post("/payouts", &org.key, json!({"amount": 999})).await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["error"]["code"], "validation_error");
    assert_eq!(reply.body["error"]["param"], "amount");
    assert_eq!(
        reply.body["error"]["message"],
        "amount must be at least 1000"
    );
    assert_eq!(
        reply.body["error"]["details"],
        json!([{"field": "amount", "message": "must be at least 1000"}])
    );
    assert!(reply.body["error"]["doc_url"]
        .as_str()
        .unwrap()
        .ends_with("/docs/errors/validation_error"));

    let reply = app
        .post(
            "/payouts",
            &org.key,
            json!({"amount": 1000, "description": "x".repeat(501)}),
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.body["error"]["param"].as_str()),
        (422, Some("description"))
    );

    for body in [
        json!({}),
        json!({"amount": "1000"}),
        json!({"amount": 10.5}),
        json!({"amount": null}),
    ] {
        let reply = app.post("/payouts", &org.key, body.clone()).await;
        assert_eq!(
            (reply.status.as_u16(), reply.body["error"]["param"].as_str()),
            (422, Some("amount")),
            "{body}"
        );
    }

    // Nested fields are dotted; every bad field is in details.
    let mut body = app.verification_body("1990-01-01", "");
    body["email"] = json!("nope");
    let reply = app.post("/payouts/verification", &org.key, body).await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["error"]["param"], "email");
    let fields: Vec<&str> = reply.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "bank.accountNumber"]);

    let mut body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    body.as_object_mut().unwrap().remove("individual");
    let reply = app.post("/payouts/verification", &org.key, body).await;
    assert_eq!(
        (reply.status.as_u16(), reply.body["error"]["param"].as_str()),
        (422, Some("individual"))
    );
    assert_eq!(
        app.documents.hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "invalid input fetches nothing"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_before_a_payout_account() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    app.credit(&org, 50_000).await;
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (409, "payout_account_required")
    );
    let reply = app
        .post(
            "/payouts/bank-accounts",
            &org.key,
            json!({"accountNumber": GOOD_ACCOUNT, "accountHolderName": "Ann"}),
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (409, "payout_account_required")
    );
    let reply = app.get("/payouts/account", &org.key).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (404, "not_found")
    );
    assert_eq!(app.balance(&org).await["available"], 50_000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_then_webhook_verifies_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    let reply = app
        .post(
            "/payouts/verification",
            &org.key,
            app.verification_body("1990-01-01", GOOD_ACCOUNT),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let account = reply.data();
    assert_eq!(account["object"], "payout_account");
    assert_eq!(account["status"], "pending_verification");
    assert_eq!(account["transfersEnabled"], false);
    assert_eq!(account["alreadyExists"], false);
    assert_eq!(account["livemode"], false);
    assert_eq!(account["businessType"], "individual");
    assert_eq!(account["country"], "US");
    assert!(account["id"].as_str().unwrap().starts_with("pacct_"));
    assert!(account["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        app.documents.hits.load(std::sync::atomic::Ordering::SeqCst),
        1
    );

    let verified = app.wait_for("/payouts/account", &org.key, "verified").await;
    assert_eq!(verified["transfersEnabled"], true);
    assert!(
        verified.get("alreadyExists").is_none(),
        "only the verification call answers alreadyExists: {verified}"
    );

    let again = app
        .post(
            "/payouts/verification",
            &org.key,
            app.verification_body("1990-01-01", GOOD_ACCOUNT),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.data()["alreadyExists"], true);
    assert_eq!(again.data()["id"], account["id"]);
    assert_eq!(
        app.documents.hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a repeat does nothing"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_list_match_is_restricted_and_cannot_withdraw() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    app.credit(&org, 50_000).await;
    let reply = app
        .post(
            "/payouts/verification",
            &org.key,
            app.verification_body("1900-01-01", GOOD_ACCOUNT),
        )
        .await;
    assert_eq!(reply.status, 201);
    let account = app
        .wait_for("/payouts/account", &org.key, "restricted")
        .await;
    assert_eq!(account["transfersEnabled"], false);
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (409, "payout_account_not_verified")
    );
    assert_eq!(app.balance(&org).await["available"], 50_000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_urls_must_be_public() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    let trap = Trap::start().await;
    let port = trap.port;
    let refused = [
        format!("https://127.0.0.1:{port}/id.pdf"),
        format!("http://127.0.0.1:{port}/id.pdf"),
        format!("https://localhost:{port}/id.pdf"),
        format!("https://[::1]:{port}/id.pdf"),
        format!("https://[::ffff:127.0.0.1]:{port}/id.pdf"),
        format!("https://0.0.0.0:{port}/id.pdf"),
        "https://10.0.0.1/id.pdf".to_string(),
        "https://172.16.0.1/id.pdf".to_string(),
        "https://192.168.1.1/id.pdf".to_string(),
        "https://169.254.169.254/latest/meta-data".to_string(),
        "https://100.64.0.1/id.pdf".to_string(),
        "https://224.0.0.1/id.pdf".to_string(),
        "https://[fd00::1]/id.pdf".to_string(),
        "https://[fe80::1]/id.pdf".to_string(),
        "https://192.0.2.1/id.pdf".to_string(),
        "http://93.184.216.34/id.pdf".to_string(),
        // An allowed host redirecting to an internal address.
        app.documents
            .url(&format!("/redirect?to=http://127.0.0.1:{port}/id.pdf")),
        // Allowed host, but not a document.
        app.documents.url("/page.html"),
    ];
    for url in refused {
        let mut body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
        body["documentUrl"] = json!(url);
        let reply = app.post("/payouts/verification", &org.key, body).await;
        assert_eq!(reply.status, 422, "{url}: {}", reply.body);
        assert_eq!(reply.body["error"]["param"], "documentUrl", "{url}");
    }
    assert_eq!(
        trap.count(),
        0,
        "no connection was made to an internal address"
    );
    let reply = app.get("/payouts/account", &org.key).await;
    assert_eq!(reply.status, 404, "nothing was created");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payout_lifecycle_and_balance() {
    let app = TestApp::spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;

    let reply = app
        .post("/payouts", &org.key, json!({"amount": 5000}))
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (402, "insufficient_balance")
    );
    assert_eq!(reply.body["error"]["type"], "billing_error");

    app.credit(&org, 20_000).await;
    let reply = app
        .post(
            "/payouts",
            &org.key,
            json!({"amount": 5000, "description": "November"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let payout = reply.data().clone();
    assert_eq!(payout["object"], "payout");
    assert_eq!(payout["status"], "pending");
    assert_eq!(payout["amount"], 5000);
    assert_eq!(payout["fee"], 0);
    assert_eq!(payout["netAmount"], 5000);
    assert_eq!(payout["currency"], "usd");
    assert_eq!(payout["description"], "November");
    assert!(payout["id"].as_str().unwrap().starts_with("po_"));
    assert!(payout["providerTransferId"].is_string());

    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(15_000), Some(5000))
    );

    let id = payout["id"].as_str().unwrap();
    let paid = app
        .wait_for(&format!("/payouts/{id}"), &org.key, "paid")
        .await;
    assert_eq!(paid["failureCode"], serde_json::Value::Null);
    let balance = app.balance(&org).await;
    assert_eq!(balance["available"], 15_000);
    assert_eq!(balance["inPayout"], 0);
    assert_eq!(balance["paidOut"], 5000);

    let reply = app
        .post("/payouts", &org.key, json!({"amount": 15_001}))
        .await;
    assert_eq!(reply.status, 402);
    assert_eq!(
        app.balance(&org).await["available"],
        15_000,
        "a refused payout reserves nothing"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_bank_account_fails_the_payout_and_returns_the_money() {
    let app = TestApp::spawn().await;
    let org = app.verified_org("000111111116").await;
    app.credit(&org, 10_000).await;
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 4000}))
        .await;
    assert_eq!(reply.status, 201);
    let id = reply.data()["id"].as_str().unwrap().to_string();
    let failed = app
        .wait_for(&format!("/payouts/{id}"), &org.key, "failed")
        .await;
    assert_eq!(failed["failureCode"], "no_account");
    assert!(failed["failureMessage"].is_string());
    let balance = app.balance(&org).await;
    assert_eq!(
        (
            balance["available"].as_i64(),
            balance["inPayout"].as_i64(),
            balance["paidOut"].as_i64()
        ),
        (Some(10_000), Some(0), Some(0))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_accounts_never_show_the_number() {
    let app = TestApp::spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let reply = app
        .post("/payouts/bank-accounts", &org.key, json!({"accountNumber": "000999999991", "accountHolderName": "Ann Lee", "routingNumber": TEST_ROUTING, "accountType": "savings"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let bank = reply.data();
    assert_eq!(bank["object"], "payout_bank_account");
    assert_eq!(bank["last4"], "9991");
    assert_eq!(
        bank["isDefault"], false,
        "the verification's account stays the default"
    );
    assert_eq!(bank["accountType"], "savings");
    assert_eq!(bank["bankName"], "STRIPE TEST BANK");
    assert_eq!(bank["status"], "active");
    assert_eq!(
        (bank["country"].as_str(), bank["currency"].as_str()),
        (Some("US"), Some("usd"))
    );
    assert!(!reply.body.to_string().contains("000999999991"));

    let reply = app.post("/payouts/bank-accounts", &org.key, json!({"accountNumber": "000111111116", "accountHolderName": "Ann Lee", "setDefault": true})).await;
    assert_eq!(reply.data()["isDefault"], true);
    assert_eq!(reply.data()["accountType"], serde_json::Value::Null);
    // Payouts now go to the new default, which fails.
    app.credit(&org, 5000).await;
    let id = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.wait_for(&format!("/payouts/{id}"), &org.key, "failed")
            .await["failureCode"],
        "no_account"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_organizations_see_nothing() {
    let app = TestApp::spawn().await;
    let a = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&a, 5000).await;
    let id = app
        .post("/payouts", &a.key, json!({"amount": 1000}))
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = app.org().await;
    let reply = app.get(&format!("/payouts/{id}"), &b.key).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (404, "not_found")
    );
    let reply = app.get(&format!("/payouts/{id}"), &a.key).await;
    assert_eq!(reply.status, 200);
    let reply = app.get("/payouts/account", &b.key).await;
    assert_eq!(reply.status, 404);
    assert_eq!(app.balance(&b).await["available"], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_webhooks_are_authenticated_and_applied_once() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let org = app.org().await;
    let reply = app
        .post(
            "/payouts/verification",
            &org.key,
            app.verification_body("1990-01-01", GOOD_ACCOUNT),
        )
        .await;
    let provider_account = reply.data()["providerAccountId"]
        .as_str()
        .unwrap()
        .to_string();
    let now = chrono::Utc::now().timestamp();
    let event = |id: &str, status: &str, created: i64| {
        json!({"id": id, "type": "account.updated", "created": created, "data": {"object": {"id": provider_account, "status": status}}}).to_string()
    };

    // Forged: wrong secret; missing; stale (10 minutes old); tampered body.
    let body = event("evt_forged", "verified", now);
    let forged = payouts::crypto::stripe_signature::header("not-the-secret", now, body.as_bytes());
    for signature in [
        Some(forged),
        None,
        Some(app.signed_webhook(&body, now - 600)),
        Some(app.signed_webhook(&event("evt_x", "disabled", now), now)),
    ] {
        let reply = app.send_webhook(&body, signature).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (400, "invalid_signature"),
            "{}",
            reply.body
        );
    }
    let account = app.get("/payouts/account", &org.key).await;
    assert_eq!(
        account.data()["status"],
        "pending_verification",
        "rejected events change nothing"
    );

    // Unknown provider.
    let response = app
        .client
        .post(format!("{}/api/v1/webhooks/acme", app.base))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // Valid: applied once; the exact replay is a duplicate.
    let reply = app
        .send_webhook(&body, Some(app.signed_webhook(&body, now)))
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.data()["result"].as_str()),
        (200, Some("applied"))
    );
    let reply = app
        .send_webhook(&body, Some(app.signed_webhook(&body, now)))
        .await;
    assert_eq!(reply.data()["result"], "duplicate");

    // Same event id with another content: still the first one's effect.
    let restricted = event("evt_forged", "restricted", now + 1);
    let reply = app
        .send_webhook(&restricted, Some(app.signed_webhook(&restricted, now)))
        .await;
    assert_eq!(reply.data()["result"], "duplicate");
    assert_eq!(
        app.get("/payouts/account", &org.key).await.data()["status"],
        "verified"
    );

    // An older snapshot arriving late is ignored.
    let stale = event("evt_old", "restricted", now - 60);
    let reply = app
        .send_webhook(&stale, Some(app.signed_webhook(&stale, now)))
        .await;
    assert_eq!(reply.data()["result"], "ignored");
    assert_eq!(
        app.get("/payouts/account", &org.key).await.data()["status"],
        "verified"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payout_events_out_of_order_and_returned_payouts() {
    let app =
        TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_millis(100)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let payout = app
        .post("/payouts", &org.key, json!({"amount": 3000}))
        .await
        .data()
        .clone();
    let id = payout["id"].as_str().unwrap();
    let transfer = payout["providerTransferId"].as_str().unwrap();
    app.wait_for(&format!("/payouts/{id}"), &org.key, "paid")
        .await;
    let now = chrono::Utc::now().timestamp();
    let app_ref = &app;
    let send = |event_id: &str, status: &str, extra: serde_json::Value| {
        let mut object = json!({"id": transfer, "status": status, "metadata": {"payout_id": id}});
        object
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let body = json!({"id": event_id, "type": format!("payout.{status}"), "created": now, "data": {"object": object}}).to_string();
        let signature = app_ref.signed_webhook(&body, now);
        async move { app_ref.send_webhook(&body, Some(signature)).await }
    };
    // A late in_transit or a cancel cannot move a paid payout back.
    assert_eq!(
        send("evt_late", "in_transit", json!({})).await.data()["result"],
        "ignored"
    );
    assert_eq!(
        send("evt_cancel", "canceled", json!({})).await.data()["result"],
        "ignored"
    );
    assert_eq!(
        app.get(&format!("/payouts/{id}"), &org.key).await.data()["status"],
        "paid"
    );
    assert_eq!(app.balance(&org).await["paidOut"], 3000);

    // The bank returns it: paid → failed, the money comes back, once.
    let returned = json!({"failure_code": "account_closed", "failure_message": "The bank account has been closed."});
    assert_eq!(
        send("evt_return", "failed", returned.clone()).await.data()["result"],
        "applied"
    );
    assert_eq!(
        send("evt_return", "failed", returned.clone()).await.data()["result"],
        "duplicate"
    );
    assert_eq!(
        send("evt_return2", "failed", returned).await.data()["result"],
        "ignored"
    );
    let payout = app.get(&format!("/payouts/{id}"), &org.key).await;
    assert_eq!(payout.data()["status"], "failed");
    assert_eq!(payout.data()["failureCode"], "account_closed");
    let balance = app.balance(&org).await;
    assert_eq!(
        (
            balance["available"].as_i64(),
            balance["paidOut"].as_i64(),
            balance["inPayout"].as_i64()
        ),
        (Some(10_000), Some(0), Some(0))
    );
    // Final: nothing moves it again.
    assert_eq!(
        send("evt_paid_again", "paid", json!({})).await.data()["result"],
        "ignored"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_and_swagger_ui_are_served() {
    let app = TestApp::spawn().await;
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    let yaml = app
        .client
        .get(format!("{}/openapi.yaml", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        yaml == committed,
        "GET /openapi.yaml serves the committed document"
    );
    let json: serde_json::Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["servers"][0]["url"], "/api/v1");
    assert_eq!(
        json["components"]["securitySchemes"]["ApiKeyAuth"]["name"],
        "x-api-key"
    );
    let docs = app
        .client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let page = docs.text().await.unwrap();
    assert!(
        page.contains("swagger-ui") && !page.contains("https://unpkg.com"),
        "Swagger UI works offline"
    );
    app.stop().await;
}

/// A state the code does not know, read from the database, is an error (500,
/// nothing else shown), never quietly read as some other state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_stored_state_is_an_error_not_a_default() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let org = app.verified_org("000123456789").await;
    let reply = app.get("/payouts/account", &org.key).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.data()["businessType"], "individual");

    app.db()
        .execute_unprepared(&format!(
            "UPDATE payout_accounts SET business_type = 'partnership' WHERE organization_id = '{}'",
            org.id
        ))
        .await
        .unwrap();
    let reply = app.get("/payouts/account", &org.key).await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.error_code(), "internal_error");
    assert!(
        !reply.body.to_string().contains("partnership"),
        "the stored value is not shown: {}",
        reply.body
    );
    app.stop().await;
}
