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
                        | "providerAccountId"
                        | "providerTransferId"
                        | "providerExternalAccountId"
                            if v.is_string() =>
                        {
                            *v = json!("[id]")
                        }
                        "createdAt" if v.is_string() => *v = json!("[time]"),
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
    insta::assert_json_snapshot!("payout_created", redact(payout.body));
    let balance = app.get("/balance", &org.key).await;
    insta::assert_json_snapshot!("balance", redact(balance.body));
    app.stop().await;
}
