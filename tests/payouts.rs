//! Payouts over the API.
//!
//! One piece: the payouts resource's money path, its tests sharing the same helpers.
//!
//! Payouts: the lifecycle and the balance, no overspend under concurrency,
//! Idempotency-Key semantics, the fee withheld from what the provider is
//! asked to send (checked against a provider that records every call), and
//! the ledger the payouts post to.
mod common;

use std::collections::HashSet;

use common::{recording::AskedPayout, *};
use futures_util::future::join_all;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

async fn post_with_key(app: &TestApp, org: &Org, path: &str, key: &str, body: Value) -> Reply {
    let response = app
        .client
        .post(format!("{}/api/v1{path}", app.base))
        .header("x-api-key", &org.key)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    TestApp::reply(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_payouts_never_overspend() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 50_000).await;
    // 50 requests of 3000: three times the balance; 16 fit (48,000).
    let requests = (0..50).map(|_| app.post("/payouts", &org.key, json!({"amount": 3000})));
    let replies = join_all(requests).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let refused = replies.iter().filter(|r| r.status == 402).count();
    assert_eq!(
        (created, refused),
        (16, 34),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies
        .iter()
        .filter(|r| r.status == 402)
        .all(|r| r.error_code() == "insufficient_balance"));
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(2000), Some(48_000))
    );
    app.stop().await;
}

/// Payouts of the whole balance race while the winner's money comes back
/// at once (a credit after each success), so `available` flips between 0
/// and 1000. A refused payout must be judged on the balance that refused
/// it: on PostgreSQL a credit committed between the refusal and a second
/// look made the refusal look impossible, a 500 `posting … refused` where
/// the client is owed a 402 (or the payout).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payouts_refused_while_money_comes_back_are_insufficient_balance() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 1000).await;
    let model = payouts::service::orgs::find(app.db(), &org.id)
        .await
        .unwrap()
        .unwrap();
    let racers = (0..8).map(|_| {
        let (service, model) = (app.app().clone(), model.clone());
        tokio::spawn(async move {
            let (mut made, mut refused) = (0, 0);
            for _ in 0..40 {
                match payouts::service::payouts::create(&service, &model, 1000, None, None).await {
                    Ok(_) => {
                        made += 1;
                        payouts::service::funds::credit(&service.db, &model, 1000, false, None)
                            .await
                            .unwrap();
                    }
                    Err(payouts::error::Error::InsufficientBalance {
                        requested: 1000,
                        available,
                    }) if available < 1000 => refused += 1,
                    Err(other) => panic!("a payout of the whole balance: {other:?}"),
                }
            }
            (made, refused)
        })
    });
    let (mut made, mut refused) = (0, 0);
    for racer in join_all(racers).await {
        let (m, r) = racer.unwrap();
        (made, refused) = (made + m, refused + r);
    }
    assert_eq!(made + refused, 8 * 40);
    assert!(
        made > 0 && refused > 0,
        "made {made}, refused {refused}: no race"
    );
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(1000), Some(made * 1000))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_key_twenty_times_at_once_makes_one_payout() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 50_000).await;
    let body = json!({"amount": 1500, "description": "once"});
    let replies =
        join_all((0..20).map(|_| post_with_key(&app, &org, "/payouts", "key-20", body.clone())))
            .await;
    let mut ids = HashSet::new();
    for reply in &replies {
        match reply.status.as_u16() {
            201 => {
                ids.insert(reply.data()["id"].as_str().unwrap().to_string());
            }
            409 => assert_eq!(reply.error_code(), "idempotency_in_progress"),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(ids.len(), 1, "every success carries the same payout");
    // After the first finished, a repeat replays it.
    let replay = post_with_key(&app, &org, "/payouts", "key-20", body.clone()).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert!(ids.contains(replay.data()["id"].as_str().unwrap()));
    let balance = app.balance(&org).await;
    assert_eq!(
        balance["inPayout"], 1500,
        "exactly one payout reserved money"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_rules() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 50_000).await;

    // A request that fails validation stores nothing: the key stays usable.
    let reply = post_with_key(&app, &org, "/payouts", "k1", json!({"amount": 999})).await;
    assert_eq!(reply.status, 422);
    let first = post_with_key(&app, &org, "/payouts", "k1", json!({"amount": 1000})).await;
    assert_eq!(first.status, 201);
    assert!(!first.headers.contains_key("idempotent-replayed"));

    // Same body (other key order and spacing): replayed byte for byte.
    let again = app
        .client
        .post(format!("{}/api/v1/payouts", app.base))
        .header("x-api-key", &org.key)
        .header("idempotency-key", "k1")
        .header("content-type", "application/json")
        .body("{ \"amount\" : 1000 }")
        .send()
        .await
        .unwrap();
    let again = TestApp::reply(again).await;
    assert_eq!((again.status.as_u16(), &again.body), (201, &first.body));

    // Another body or another route: mismatch, nothing created.
    let reply = post_with_key(&app, &org, "/payouts", "k1", json!({"amount": 2000})).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (409, "idempotency_key_mismatch")
    );
    let reply = post_with_key(
        &app,
        &org,
        "/payouts/bank-accounts",
        "k1",
        json!({"amount": 1000}),
    )
    .await;
    assert_eq!(reply.error_code(), "idempotency_key_mismatch");

    // Keys are per organization.
    let other = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&other, 5000).await;
    let reply = post_with_key(&app, &other, "/payouts", "k1", json!({"amount": 1000})).await;
    assert_eq!(reply.status, 201);
    assert_ne!(reply.data()["id"], first.data()["id"]);

    // Too long.
    let reply = post_with_key(
        &app,
        &org,
        "/payouts",
        &"k".repeat(256),
        json!({"amount": 1000}),
    )
    .await;
    assert_eq!(
        (reply.status.as_u16(), reply.body["error"]["param"].as_str()),
        (422, Some("Idempotency-Key"))
    );

    // A stored business refusal is replayed too (as Stripe does).
    let reply = post_with_key(&app, &org, "/payouts", "big", json!({"amount": 1_000_000})).await;
    assert_eq!(reply.status, 402);
    app.credit(&org, 1_000_000).await;
    let reply = post_with_key(&app, &org, "/payouts", "big", json!({"amount": 1_000_000})).await;
    assert_eq!(
        (
            reply.status.as_u16(),
            reply.headers.get("idempotent-replayed").is_some()
        ),
        (402, true)
    );

    assert_eq!(app.balance(&org).await["inPayout"], 1000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_forgotten_and_purged() {
    use entity::idempotency_key::{Column, Entity};
    use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let mut ids = Vec::new();
    for key in ["old", "kept", "gone"] {
        let reply = post_with_key(&app, &org, "/payouts", key, json!({"amount": 1000})).await;
        assert_eq!(reply.status, 201);
        ids.push(reply.data()["id"].as_str().unwrap().to_string());
    }
    // Age "old" and "gone" past their 24 hours.
    Entity::update_many()
        .col_expr(
            Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::hours(1)),
        )
        .filter(Column::Key.is_in(["old", "gone"]))
        .exec(app.db())
        .await
        .unwrap();

    // An expired key is forgotten: its answer is not replayed, the request
    // runs again; the payout, which records its key, is still not made twice.
    let again = post_with_key(&app, &org, "/payouts", "old", json!({"amount": 1000})).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert!(
        !again.headers.contains_key("idempotent-replayed"),
        "an expired answer is not replayed"
    );
    assert_eq!(again.data()["id"], ids[0].as_str());
    let kept = post_with_key(&app, &org, "/payouts", "kept", json!({"amount": 1000})).await;
    assert_eq!(kept.headers["idempotent-replayed"], "true");
    assert_eq!(app.balance(&org).await["inPayout"], 3000);

    // The worker purges at its start and then every ten minutes: a second
    // instance's worker, started now, is the one that meets the expired key.
    let peer = app.spawn_peer().await;
    let left = eventually(
        "the peer's worker purging the expired key \"gone\" at its start",
        WAIT_LIMIT,
        || async {
            let mut left: Vec<String> = Entity::find()
                .all(app.db())
                .await
                .unwrap()
                .into_iter()
                .map(|k| k.key)
                .collect();
            left.sort();
            match left.contains(&"gone".to_string()) {
                true => Err(format!("keys left: {left:?}")),
                false => Ok(left),
            }
        },
    )
    .await;
    assert_eq!(
        left,
        ["kept", "old"],
        "\"old\" was stored again when it ran"
    );
    peer.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_to_edit_the_ledger() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let org = app.org().await;
    app.credit(&org, 5000).await;
    let mut statements = vec![
        "UPDATE ledger_entries SET amount = amount + 1",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET amount = 1",
        "DELETE FROM ledger_transactions",
    ];
    if app.db().get_database_backend() == sea_orm::DbBackend::Postgres {
        // Row triggers do not see TRUNCATE.
        statements.extend([
            "TRUNCATE ledger_entries",
            "TRUNCATE ledger_entries, ledger_transactions CASCADE",
        ]);
    }
    for sql in statements {
        let error = app
            .db()
            .execute_unprepared(sql)
            .await
            .expect_err(&format!("{sql} must be refused"));
        assert!(
            error.to_string().contains("ledger rows are immutable"),
            "{sql} refused by the ledger's trigger, not by something else: {error}"
        );
    }
    assert_eq!(app.balance(&org).await["available"], 5000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payout_lifecycle_and_balance() {
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
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
    app.settle().await;
    let paid = app
        .expect_status(&format!("/payouts/{id}"), &org.key, "paid")
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
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
    let org = app.verified_org("000111111116").await;
    app.credit(&org, 10_000).await;
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 4000}))
        .await;
    assert_eq!(reply.status, 201);
    let id = reply.data()["id"].as_str().unwrap().to_string();
    app.settle().await;
    let failed = app
        .expect_status(&format!("/payouts/{id}"), &org.key, "failed")
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

async fn payout_rows(app: &TestApp) -> u64 {
    entity::payout::Entity::find()
        .count(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_provider_is_asked_for_the_net_amount() {
    let (app, calls) = TestApp::spawn_recording(|c| {
        manual_jobs(c);
        c.fees.fixed_cents = 5;
        c.fees.basis_points = 9999;
    })
    .await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 200_000).await;

    // 5 + 99.99 % of 100,000 (99,990) = 99,995 withheld: the bank gets 5.
    let reply = post_with_key(&app, &org, "/payouts", "net-5", json!({"amount": 100_000})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        (
            reply.data()["fee"].as_i64(),
            reply.data()["netAmount"].as_i64()
        ),
        (Some(99_995), Some(5))
    );
    let payout_id = reply.data()["id"].as_str().unwrap().to_string();
    assert_eq!(
        calls.payouts(),
        vec![AskedPayout {
            payout_id: payout_id.clone(),
            net_amount: 5,
            fee: 99_995
        }]
    );
    app.settle().await;
    let paid = app
        .expect_status(&format!("/payouts/{payout_id}"), &org.key, "paid")
        .await;
    assert_eq!(paid["netAmount"], 5);
    assert_eq!(app.balance(&org).await["paidOut"], 5);
    app.stop().await;
}

#[tokio::test]
async fn a_payout_the_fee_eats_whole_is_refused_and_changes_nothing() {
    let (app, calls) = TestApp::spawn_recording(|c| {
        c.fees.fixed_cents = 5;
        c.fees.basis_points = 9999;
    })
    .await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 200_000).await;
    let balance_before = app.balance(&org).await;
    let transactions_before = app.get("/balance/transactions", &org.key).await.body;

    // The fee (5 + 999.9 → 1000, capped at the amount) leaves nothing to send.
    for _ in 0..2 {
        let reply = post_with_key(&app, &org, "/payouts", "eaten", json!({"amount": 1000})).await;
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(reply.body["error"]["param"], "amount");
        assert!(
            reply.headers.get("idempotent-replayed").is_none(),
            "a refusal is not stored as the key's answer"
        );
    }
    assert_eq!(app.balance(&org).await, balance_before);
    assert_eq!(
        app.get("/balance/transactions", &org.key).await.body,
        transactions_before
    );
    assert_eq!(payout_rows(&app).await, 0);
    assert!(calls.payouts().is_empty());

    // The same key still works for a payout that leaves something to send.
    let reply = post_with_key(&app, &org, "/payouts", "eaten", json!({"amount": 100_000})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.data()["netAmount"], 5);
    assert_eq!(calls.payouts()[0].net_amount, 5);
    app.stop().await;
}

#[tokio::test]
async fn an_ordinary_fee_is_withheld_from_the_transfer() {
    let (app, calls) = TestApp::spawn_recording(|c| {
        c.fees.fixed_cents = 25;
        c.fees.basis_points = 250;
    })
    .await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 50_000).await;
    // 25 + 2.5 % of 2000 (50) = 75.
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 2000}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let asked = calls.payouts();
    assert_eq!(asked.len(), 1);
    assert_eq!((asked[0].net_amount, asked[0].fee), (1925, 75));
    app.stop().await;
}
