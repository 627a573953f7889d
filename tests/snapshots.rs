//! Representative response bodies, snapshotted with ids and times redacted.
mod common;

use common::*;
use serde_json::json;

fn redact(mut value: serde_json::Value) -> serde_json::Value {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    match key.as_str() {
                        "id"
                        | "payoutId"
                        | "providerAccountId"
                        | "providerTransferId"
                        | "providerExternalAccountId"
                            if v.is_string() =>
                        {
                            *v = json!("[id]")
                        }
                        "nextCursor" if v.is_string() => *v = json!("[cursor]"),
                        time if time.ends_with("At") && v.is_string() => *v = json!("[time]"),
                        "doc_url" => {
                            let path = v
                                .as_str()
                                .unwrap()
                                .split("/docs/")
                                .nth(1)
                                .unwrap_or_default()
                                .to_string();
                            *v = json!(format!("[base]/docs/{path}"));
                        }
                        _ => walk(v),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn representative_bodies() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let org = app.org().await;
    let no_key = app
        .request(reqwest::Method::GET, "/balance", None, None)
        .await;
    insta::assert_json_snapshot!("unauthorized", redact(no_key.body));
    let invalid = app
        .post(
            "/payouts",
            &org.key,
            json!({"amount": 999, "description": 7}),
        )
        .await;
    insta::assert_json_snapshot!("validation_error", redact(invalid.body));
    let no_account = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    insta::assert_json_snapshot!("payout_account_required", redact(no_account.body));

    let account = app
        .post(
            "/payouts/verification",
            &org.key,
            app.verification_body("1990-01-01", GOOD_ACCOUNT),
        )
        .await;
    insta::assert_json_snapshot!("payout_account_created", redact(account.body.clone()));
    let bank = app.post("/payouts/bank-accounts", &org.key, json!({"accountNumber": "000123456789", "accountHolderName": "Ann Lee", "routingNumber": TEST_ROUTING, "accountType": "checking"})).await;
    insta::assert_json_snapshot!("bank_account_created", redact(bank.body));

    // Verify through a signed provider event, then request payouts.
    let now = chrono::Utc::now().timestamp();
    let event = json!({"id": "evt_snapshot", "type": "account.updated", "created": now,
        "data": {"object": {"id": account.data()["providerAccountId"], "status": "verified"}}})
    .to_string();
    let receipt = app
        .send_webhook(&event, Some(app.signed_webhook(&event, now)))
        .await;
    insta::assert_json_snapshot!("webhook_receipt", redact(receipt.body));

    let insufficient = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    insta::assert_json_snapshot!("insufficient_balance", redact(insufficient.body));
    app.credit(&org, 10_000).await;
    let payout = app
        .post(
            "/payouts",
            &org.key,
            json!({"amount": 2500, "description": "Weekly payout"}),
        )
        .await;
    insta::assert_json_snapshot!("payout_created", redact(payout.body.clone()));
    let balance = app.get("/balance", &org.key).await;
    insta::assert_json_snapshot!("balance", redact(balance.body));
    insta::assert_json_snapshot!("rate_limit_headers", headers(&balance.headers));

    // Settled by the provider's event.
    let paid = json!({"id": "evt_snapshot_paid", "type": "payout.paid", "created": now,
        "data": {"object": {"id": payout.data()["providerTransferId"], "status": "paid"}}})
    .to_string();
    let receipt = app
        .send_webhook(&paid, Some(app.signed_webhook(&paid, now)))
        .await;
    assert_eq!(receipt.data()["result"], "applied", "{}", receipt.body);
    let id = payout.data()["id"].as_str().unwrap();
    let settled = app.get(&format!("/payouts/{id}"), &org.key).await;
    insta::assert_json_snapshot!("payout_paid", redact(settled.body));

    let page = app.get("/balance/transactions?limit=2", &org.key).await;
    insta::assert_json_snapshot!("balance_transactions_page", redact(page.body));
    let missing = app.get("/payouts/po_doesnotexist", &org.key).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    insta::assert_json_snapshot!("not_found", redact(missing.body));

    // A keyed request, its replay, and the same key with another body.
    let keyed = |amount: i64| {
        app.client
            .post(format!("{}/api/v1/payouts", app.base))
            .header("x-api-key", &org.key)
            .header("idempotency-key", "snapshot-key")
            .json(&json!({"amount": amount}))
            .send()
    };
    let first = TestApp::reply(keyed(1000).await.unwrap()).await;
    let replay = TestApp::reply(keyed(1000).await.unwrap()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(replay.status, 201, "{}", replay.body);
    assert_eq!(replay.body, first.body, "the replay is the stored answer");
    insta::assert_json_snapshot!("idempotent_replay_headers", headers(&replay.headers));
    let mismatch = TestApp::reply(keyed(1001).await.unwrap()).await;
    assert_eq!(mismatch.status, 409, "{}", mismatch.body);
    insta::assert_json_snapshot!("idempotency_key_mismatch", redact(mismatch.body));
    app.stop().await;
}

/// The headers a client reads, with the values that move redacted.
fn headers(headers: &reqwest::header::HeaderMap) -> serde_json::Value {
    let mut picked = serde_json::Map::new();
    for name in [
        "content-type",
        "idempotent-replayed",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
    ] {
        if let Some(value) = headers.get(name) {
            let value = value.to_str().unwrap();
            let shown = match name {
                // Depends on how many requests came before in the test.
                "ratelimit-remaining" => "[n]",
                _ => value,
            };
            picked.insert(name.into(), json!(shown));
        }
    }
    picked.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_body_and_headers() {
    // One request, then a token every 100 s: the second is refused.
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_burst = 1;
        c.rate_limit_per_second = 0.01;
    })
    .await;
    let org = app.org().await;
    let first = app.get("/balance", &org.key).await;
    assert_eq!(first.status, 200);
    let limited = app.get("/balance", &org.key).await;
    assert_eq!(limited.status, 429);
    insta::assert_json_snapshot!("rate_limited", redact(limited.body));
    insta::assert_json_snapshot!("rate_limited_headers", headers(&limited.headers));
    app.stop().await;
}

/// One success, one list and one error body in each API version, as the
/// `Commet-Version` header selects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_each_api_version() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    for version in payouts::domain::api_version::ApiVersion::ALL {
        let org = app.org().await;
        let send = |method: reqwest::Method, path: &str, body: Option<serde_json::Value>| {
            let mut request = app
                .client
                .request(method, format!("{}/api/v1{path}", app.base))
                .header("x-api-key", &org.key)
                .header("commet-version", version.as_str());
            if let Some(body) = body {
                request = request.json(&body);
            }
            async move { TestApp::reply(request.send().await.unwrap()).await }
        };
        let created = send(
            reqwest::Method::POST,
            "/payouts/verification",
            Some(app.verification_body("1990-01-01", GOOD_ACCOUNT)),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.headers["commet-version"], version.as_str());
        insta::assert_json_snapshot!(
            format!("verification_created@{version}"),
            redact(created.body)
        );
        app.credit(&org, 10_000).await;
        let page = send(reqwest::Method::GET, "/balance/transactions?limit=1", None).await;
        insta::assert_json_snapshot!(
            format!("balance_transactions_page@{version}"),
            redact(page.body)
        );
        let invalid = send(
            reqwest::Method::POST,
            "/payouts",
            Some(json!({"amount": 999, "description": 7})),
        )
        .await;
        assert_eq!(invalid.status, 422);
        insta::assert_json_snapshot!(format!("validation_error@{version}"), redact(invalid.body));
    }
    app.stop().await;
}
