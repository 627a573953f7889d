//! Edge input at the HTTP boundary answers the same on SQLite and
//! PostgreSQL, in the envelope, with the right status and `param`, and
//! changes nothing: NUL and undecodable bytes in paths, queries, headers and
//! provider events; `OPTIONS`; signed but unreadable events; duplicate keys.
mod common;

use common::*;
use entity::provider_event;
use reqwest::{header::HeaderValue, Method};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

async fn get_raw(app: &TestApp, path_and_query: &str, key: &str) -> Reply {
    let response = app
        .client
        .get(format!("{}/api/v1{path_and_query}", app.base))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    TestApp::reply(response).await
}

fn assert_error(reply: &Reply, status: u16, code: &str, param: Option<&str>) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.error_code(), code, "{}", reply.body);
    assert_eq!(
        reply.body["error"]["param"].as_str(),
        param,
        "{}",
        reply.body
    );
}

async fn events_recorded(app: &TestApp) -> u64 {
    provider_event::Entity::find()
        .count(app.db())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_and_undecodable_bytes_never_reach_the_database() {
    let app = TestApp::spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 5000).await;
    let balance = app.balance(&org).await;

    // Paths: an id that cannot be ours names nothing.
    for path in [
        "/payouts/po_%00x",
        "/payouts/%00",
        "/payouts/po_abc%00",
        "/payouts/%ff",
        "/payouts/po_%C3%A9",
    ] {
        assert_error(&get_raw(&app, path, &org.key).await, 404, "not_found", None);
    }
    // Queries: a cursor we never issued is not found, malformed (NUL,
    // undecodable) or well-formed, on both engines alike.
    for query in ["?cursor=%00", "?cursor=txn_%00", "?cursor=%ff%fe"] {
        let reply = get_raw(&app, &format!("/balance/transactions{query}"), &org.key).await;
        assert_error(&reply, 404, "not_found", None);
    }
    let reply = get_raw(&app, "/balance/transactions?cursor=txn_unknown", &org.key).await;
    assert_error(&reply, 404, "not_found", None);

    // Headers: bytes beyond ASCII in the key or the Idempotency-Key.
    let response = app
        .client
        .get(format!("{}/api/v1/balance", app.base))
        .header(
            "x-api-key",
            HeaderValue::from_bytes(format!("{}\u{ff}", org.key).as_bytes()).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_error(&TestApp::reply(response).await, 401, "unauthorized", None);
    for key in [&b"key\xff"[..], &b"\xc3\xa9"[..]] {
        let response = app
            .client
            .post(format!("{}/api/v1/payouts", app.base))
            .header("x-api-key", &org.key)
            .header("idempotency-key", HeaderValue::from_bytes(key).unwrap())
            .json(&json!({"amount": 1000}))
            .send()
            .await
            .unwrap();
        assert_error(
            &TestApp::reply(response).await,
            422,
            "validation_error",
            Some("Idempotency-Key"),
        );
    }

    // Signed provider events whose texts hold NUL.
    let now = chrono::Utc::now().timestamp();
    let account = app.get("/payouts/account", &org.key).await.data()["providerAccountId"].clone();
    let account_event = |id: &str, account: Value| {
        json!({"id": id, "type": "account.updated", "created": now,
               "data": {"object": {"id": account, "status": "verified"}}})
    };
    let payout_event = |object: Value| {
        json!({"id": "evt_nul_payout", "type": "payout.failed", "created": now,
               "data": {"object": object}})
    };
    let cases = [
        (account_event("evt_\u{0}x", account.clone()), "id"),
        (
            account_event("evt_ok1", json!("acct_\u{0}")),
            "data.object.id",
        ),
        (
            json!({"id": "evt_ok2", "type": "account.updated\u{0}", "created": now,
                   "data": {"object": {"id": account, "status": "verified"}}}),
            "type",
        ),
        (
            payout_event(json!({"id": "tr_1", "status": "failed",
                                "metadata": {"payout_id": "po_\u{0}"}})),
            "data.object.metadata.payout_id",
        ),
        (
            payout_event(json!({"id": "tr_1", "status": "failed",
                                "failure_code": "no_account", "failure_message": "gone\u{0}"})),
            "data.object.failure_message",
        ),
    ];
    for (event, param) in cases {
        let body = event.to_string();
        assert!(body.contains("\\u0000"), "{body}");
        let reply = app
            .send_webhook(&body, Some(app.signed_webhook(&body, now)))
            .await;
        assert_error(&reply, 422, "validation_error", Some(param));
    }

    assert_eq!(app.balance(&org).await, balance);
    // None of the refused events was recorded (the sandbox's own ones may be).
    let recorded: Vec<String> = provider_event::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    for id in ["evt_ok1", "evt_ok2", "evt_nul_payout"] {
        assert!(!recorded.iter().any(|r| r == id), "{id} in {recorded:?}");
    }
    assert!(recorded.iter().all(|r| !r.contains('\0')));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_answers_405_with_allow() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    for (path, allow) in [
        ("/api/v1/payouts", "GET, POST"),
        ("/api/v1/payouts/po_x", "GET"),
        ("/api/v1/payouts/po_x/cancel", "POST"),
        ("/api/v1/payouts/bank-accounts", "GET, POST"),
        ("/api/v1/payouts/bank-accounts/pba_x", "DELETE"),
        ("/api/v1/balance", "GET"),
        ("/healthz", "GET"),
    ] {
        let response = app
            .client
            .request(Method::OPTIONS, format!("{}{path}", app.base))
            .header("x-api-key", &org.key)
            .send()
            .await
            .unwrap();
        let allowed = response.headers().get("allow").cloned();
        let reply = TestApp::reply(response).await;
        assert_error(&reply, 405, "method_not_allowed", None);
        assert_eq!(
            allowed.as_ref().and_then(|v| v.to_str().ok()),
            Some(allow),
            "{path}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_but_unreadable_event_is_invalid_json() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    for body in [
        "not json",
        "{}",
        r#"{"id":"evt_1","type":"payout.paid","created":1,"data":{"object":{"id":"tr_1","status":"nonsense"}}}"#,
    ] {
        let reply = app
            .send_webhook(body, Some(app.signed_webhook(body, now)))
            .await;
        assert_error(&reply, 400, "invalid_json", None);
        // Unsigned, the same body is a signature failure: its shape is not
        // even looked at.
        let reply = app.send_webhook(body, None).await;
        assert_error(&reply, 400, "invalid_signature", None);
    }
    assert_eq!(events_recorded(&app).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_messages_name_the_field_once() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    let mut body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    // http to a host that is not allow-listed: refused before any connection.
    body["documentUrl"] = json!("http://93.184.216.34/id.pdf");
    let reply = app.post("/payouts/verification", &org.key, body).await;
    assert_error(&reply, 422, "validation_error", Some("documentUrl"));
    let message = reply.body["error"]["message"].as_str().unwrap();
    let detail = reply.body["error"]["details"][0]["message"]
        .as_str()
        .unwrap();
    assert!(!message.contains("documentUrl documentUrl"), "{message}");
    assert!(!detail.starts_with("documentUrl"), "{detail}");
    assert_eq!(message, format!("documentUrl {detail}"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_keys_authenticate_as_neither() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.org().await, app.org().await);
    let with_keys = |keys: &[&str]| {
        let mut request = app.client.get(format!("{}/api/v1/balance", app.base));
        for key in keys {
            request = request.header("x-api-key", *key);
        }
        request
    };
    for keys in [
        vec![a.key.as_str(), b.key.as_str()],
        vec![b.key.as_str(), a.key.as_str()],
        vec![a.key.as_str(), a.key.as_str()],
        vec![a.key.as_str(), "ck_test_nope"],
    ] {
        let reply = TestApp::reply(with_keys(&keys).send().await.unwrap()).await;
        assert_error(&reply, 401, "unauthorized", None);
        assert!(reply.headers.contains_key("x-request-id"));
    }
    let reply = TestApp::reply(with_keys(&[&a.key]).send().await.unwrap()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    app.stop().await;
}
