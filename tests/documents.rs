//! Identity documents over the API: checked by their bytes, network
//! failures answered with one message, and a bound on documents in flight.
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
    while app.documents.hits.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

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
