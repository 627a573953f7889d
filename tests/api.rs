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
    // The unread body is still on the wire: the connection must not be reused.
    assert_eq!(reply.headers["connection"], "close");

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
    assert_eq!(reply.headers["allow"], "GET, POST");
    let reply = app
        .request(Method::PUT, "/payouts/po_123", Some(&org.key), None)
        .await;
    assert_eq!(reply.headers["allow"], "GET");
    // The fixed segment wins over a payout id: this is the bank account's
    // path, not a cancel of a payout named `bank-accounts`.
    let reply = app
        .request(
            Method::POST,
            "/payouts/bank-accounts/cancel",
            Some(&org.key),
            None,
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (405, "method_not_allowed")
    );
    assert_eq!(reply.headers["allow"], "DELETE");

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
