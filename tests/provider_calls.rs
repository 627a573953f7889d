//! What the service asks the payout provider, checked against a provider
//! that records every call: payouts send the net amount, and one
//! organization gets exactly one provider account however many
//! verifications race.
mod common;

use common::{recording::AskedPayout, *};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

async fn post_keyed(app: &TestApp, org: &Org, key: &str, body: Value) -> Reply {
    let response = app
        .client
        .post(format!("{}/api/v1/payouts", app.base))
        .header("x-api-key", &org.key)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    TestApp::reply(response).await
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
        c.fees.fixed_cents = 5;
        c.fees.basis_points = 9999;
    })
    .await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 200_000).await;

    // 5 + 99.99 % of 100,000 (99,990) = 99,995 withheld: the bank gets 5.
    let reply = post_keyed(&app, &org, "net-5", json!({"amount": 100_000})).await;
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
    let paid = app
        .wait_for(&format!("/payouts/{payout_id}"), &org.key, "paid")
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
        let reply = post_keyed(&app, &org, "eaten", json!({"amount": 1000})).await;
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
    let reply = post_keyed(&app, &org, "eaten", json!({"amount": 100_000})).await;
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

async fn count_rows<E>(app: &TestApp, _entity: E) -> u64
where
    E: EntityTrait,
    E::Model: Sync,
{
    E::find().count(app.db()).await.unwrap()
}

/// Provider events queued for delivery by the sandbox, of one type.
async fn queued_events(app: &TestApp, event_type: &str) -> usize {
    entity::job::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .filter(|job| job.payload.contains(&format!("\"type\":\"{event_type}\"")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_verifications_make_one_provider_account() {
    let (app, calls) = TestApp::spawn_recording(|_| {}).await;
    let org = app.org().await;
    let mut body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    body["documentUrl"] = json!(app.documents.url("/slow.pdf"));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let request = app
                .client
                .post(format!("{}/api/v1/payouts/verification", app.base))
                .header("x-api-key", &org.key)
                // As the SDKs do: each call its own key.
                .header("idempotency-key", format!("sdk-{i}"))
                .json(&body);
            tokio::spawn(async move { TestApp::reply(request.send().await.unwrap()).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [vec![200; 9], vec![201]].concat());
    let ids: std::collections::HashSet<_> = replies
        .iter()
        .map(|r| r.data()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "every reply names the one account");
    assert!(replies
        .iter()
        .filter(|r| r.status == 200)
        .all(|r| r.data()["alreadyExists"] == true));

    let account_id = ids.into_iter().next().unwrap();
    assert_eq!(calls.accounts(), vec![account_id], "provider asked once");
    assert_eq!((calls.uploads(), calls.external_accounts()), (1, 1));
    assert_eq!(
        app.documents.hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the document is fetched once"
    );
    assert_eq!(count_rows(&app, entity::payout_account::Entity).await, 1);
    assert_eq!(count_rows(&app, entity::bank_account::Entity).await, 1);
    assert_eq!(queued_events(&app, "account.updated").await, 1);
    assert_eq!(
        count_rows(&app, entity::verification_claim::Entity).await,
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn a_verification_whose_document_fails_leaves_nothing() {
    let (app, calls) = TestApp::spawn_recording(|_| {}).await;
    let org = app.org().await;
    let mut body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    body["documentUrl"] = json!(app.documents.url("/missing.pdf"));
    let reply = app.post("/payouts/verification", &org.key, body).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        count_rows(&app, entity::verification_claim::Entity).await,
        0
    );
    assert_eq!(count_rows(&app, entity::payout_account::Entity).await, 0);
    assert!(calls.accounts().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_failed_verification_keeps_the_provider_key_for_the_retry() {
    let (app, calls) = TestApp::spawn_recording(|_| {}).await;
    let org = app.org().await;
    *calls.failing_accounts.lock().unwrap() = 1;
    let body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    let reply = app.post("/payouts/verification", &org.key, body).await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    let claim = entity::verification_claim::Entity::find_by_id(org.id.clone())
        .one(app.db())
        .await
        .unwrap()
        .expect("the claim stays, expired, with its account id");
    assert!(claim.expires_at <= chrono::Utc::now());

    let body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    let reply = app.post("/payouts/verification", &org.key, body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.data()["id"], claim.account_id.as_str());
    assert_eq!(
        calls.accounts(),
        vec![claim.account_id.clone(), claim.account_id]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_claim_whose_holder_died_is_taken_over_after_its_lease() {
    let (app, calls) = TestApp::spawn_recording(|_| {}).await;
    let org = app.org().await;
    // A verification claimed the organization, maybe reached the provider,
    // and its instance died: its lease has run out.
    let now = chrono::Utc::now();
    entity::verification_claim::Entity::insert(entity::verification_claim::ActiveModel {
        organization_id: sea_orm::Set(org.id.clone()),
        account_id: sea_orm::Set("pacct_crashed".into()),
        holder: sea_orm::Set("vclm_dead".into()),
        expires_at: sea_orm::Set(now - chrono::Duration::seconds(1)),
        created_at: sea_orm::Set(now - chrono::Duration::minutes(1)),
    })
    .exec_without_returning(app.db())
    .await
    .unwrap();

    let body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    let reply = app.post("/payouts/verification", &org.key, body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.data()["id"], "pacct_crashed");
    assert_eq!(calls.accounts(), vec!["pacct_crashed".to_string()]);
    assert_eq!(
        count_rows(&app, entity::verification_claim::Entity).await,
        0
    );
    app.stop().await;
}
