//! Provider webhooks: authenticated by their signature, applied once, in
//! any order, including payouts the bank returns.
mod common;

use common::*;
use serde_json::json;

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
        .post(format!("{}/api/v1/provider-webhooks/acme", app.base))
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
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let payout = app
        .post("/payouts", &org.key, json!({"amount": 3000}))
        .await
        .data()
        .clone();
    let id = payout["id"].as_str().unwrap();
    let transfer = payout["providerTransferId"].as_str().unwrap();
    app.settle().await;
    app.expect_status(&format!("/payouts/{id}"), &org.key, "paid")
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
