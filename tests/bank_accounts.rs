//! Bank accounts: added and listed over the API, never showing the number.
mod common;

use common::*;
use serde_json::json;

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
