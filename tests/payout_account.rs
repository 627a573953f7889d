//! The payout account: verification and its provider events.
//! One piece: the verification resource's tests, sharing its document servers and provider doubles.
//! Covers identity documents (checked by their bytes, network failures answered with one
//! message, a bound on documents in flight, public URLs only), and one
//! provider account per organization however many verifications race
//! (checked against a provider that records every call).
mod common;

use std::sync::atomic::Ordering;

use common::*;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

async fn verify_with(app: &TestApp, org: &Org, document_url: String) -> Reply {
    let mut body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    body["documentUrl"] = json!(document_url);
    app.post("/payouts/verification", &org.key, body).await
}

/// Nothing of a refused verification remains.
async fn assert_untouched(app: &TestApp, org: &Org) {
    let account = app.get("/payouts/account", &org.key).await;
    assert_eq!(account.error_code(), "not_found", "{}", account.body);
    let claims = entity::verification_claim::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(claims, 0);
}

#[tokio::test]
async fn a_document_whose_bytes_are_not_its_type_is_refused() {
    let (app, calls) = TestApp::spawn_recording(|_| {}).await;
    let org = app.org().await;
    let reply = verify_with(&app, &org, app.documents.url("/zeros.png")).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["error"]["param"], "documentUrl");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not the PNG, JPEG or PDF file its Content-Type says"),
        "{}",
        reply.body
    );
    assert_untouched(&app, &org).await;
    assert_eq!(calls.uploads(), 0);
    app.stop().await;
}

#[tokio::test]
async fn network_failures_all_answer_the_same() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_host = closed.local_addr().unwrap().to_string();
    drop(closed);
    let allowed = closed_host.clone();
    let app = TestApp::spawn_with(move |c| c.document_allow_hosts.push(allowed)).await;
    let org = app.org().await;
    let mut messages = Vec::new();
    for url in [
        app.documents.url("/missing.pdf"),
        format!("http://{closed_host}/id.pdf"),
        format!(
            "{}?to={}",
            app.documents.url("/redirect"),
            app.documents.url("/missing.pdf")
        ),
    ] {
        let reply = verify_with(&app, &org, url).await;
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(reply.body["error"]["param"], "documentUrl");
        messages.push(reply.body["error"]["message"].clone());
    }
    assert!(
        messages.iter().all(|m| m == &messages[0]),
        "one message for every network failure: {messages:?}"
    );
    assert_untouched(&app, &org).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn documents_in_flight_are_bounded_and_the_overflow_changes_nothing() {
    let (app, calls) = TestApp::spawn_recording(|c| c.document_fetches_max = 1).await;
    let first = app.org().await;
    let second = app.org().await;

    // The first verification holds the only slot while its slow document arrives.
    let mut body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    body["documentUrl"] = json!(app.documents.url("/slow.pdf"));
    let request = app
        .client
        .post(format!("{}/api/v1/payouts/verification", app.base))
        .header("x-api-key", &first.key)
        .json(&body);
    let slow = tokio::spawn(async move { TestApp::reply(request.send().await.unwrap()).await });
    // A real fetch over loopback: nothing to drive, so wait (bounded) for it.
    eventually(
        "the first verification fetching its slow document",
        WAIT_LIMIT,
        || async {
            match app.documents.hits.load(Ordering::SeqCst) {
                0 => Err("no document request yet".to_string()),
                _ => Ok(()),
            }
        },
    )
    .await;

    let reply = verify_with(&app, &second, app.documents.url("/id.pdf")).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.error_code(), "service_unavailable");
    assert_eq!(reply.body["error"]["type"], "api_error");
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(app.documents.hits.load(Ordering::SeqCst), 1, "not fetched");
    let account = app.get("/payouts/account", &second.key).await;
    assert_eq!(account.error_code(), "not_found");

    assert_eq!(slow.await.unwrap().status, 201);
    let claims = entity::verification_claim::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(claims, 0);
    assert_eq!(
        calls.accounts().len(),
        1,
        "only the first reached the provider"
    );
    // The slot is free again: the retry goes through.
    let reply = verify_with(&app, &second, app.documents.url("/id.pdf")).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_then_webhook_verifies_and_is_idempotent() {
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
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

    // The sandbox's verdict (account.updated), delivered now.
    app.settle().await;
    let verified = app
        .expect_status("/payouts/account", &org.key, "verified")
        .await;
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
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
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
    app.settle().await;
    let account = app
        .expect_status("/payouts/account", &org.key, "restricted")
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
