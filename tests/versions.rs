//! Commet API versions, black box.
//!
//! One piece: every test compares answers across versions with the same call and shape helpers.
//!
//! Commet API versions, black box: each route's answer in both versions,
//! how a request's version is resolved (header, organization pin, default),
//! unknown and malformed versions, idempotent replays across versions, the
//! version header on every answer, and the documents served per version.
mod common;

use common::{binary::Binary, *};
use payouts::{domain::api_version::ApiVersion, service::orgs};
use reqwest::Method;
use serde_json::{json, Value};

const ENVELOPE: &str = "2026-07-11";
const DIRECT: &str = "2026-07-24";

/// A request with an optional `Commet-Version` and `Idempotency-Key`.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    version: Option<&str>,
    body: Option<Value>,
) -> Reply {
    send(app, method, path, key, version, body, None).await
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    version: Option<&str>,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> Reply {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    if let Some(version) = version {
        request = request.header("commet-version", version);
    }
    if let Some(idempotency_key) = idempotency_key {
        request = request.header("idempotency-key", idempotency_key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::reply(request.send().await.unwrap()).await
}

fn answered_in(reply: &Reply) -> &str {
    reply.headers["commet-version"].to_str().unwrap()
}

/// The reply is `{success: true, data}` in the envelope version, answered
/// as such; returns `data`.
fn enveloped(reply: &Reply) -> Value {
    assert_eq!(answered_in(reply), ENVELOPE, "{}", reply.body);
    let body = reply.body.as_object().unwrap();
    assert_eq!(body.len(), 2, "{}", reply.body);
    assert_eq!(body["success"], true);
    body["data"].clone()
}

/// The reply is the resource itself, answered in the direct version.
fn direct(reply: &Reply) -> Value {
    assert_eq!(answered_in(reply), DIRECT, "{}", reply.body);
    assert!(reply.body.get("success").is_none(), "{}", reply.body);
    assert!(reply.body.get("data").is_none(), "{}", reply.body);
    assert!(reply.body["object"].is_string(), "{}", reply.body);
    reply.body.clone()
}

/// The same error in both versions: `{success: false, error}` and `{error}`.
fn same_error(old: &Reply, new: &Reply, code: &str) {
    assert_eq!(old.status, new.status);
    assert_eq!(answered_in(old), ENVELOPE);
    assert_eq!(answered_in(new), DIRECT);
    assert_eq!(old.body["success"], false, "{}", old.body);
    assert_eq!(old.body.as_object().unwrap().len(), 2, "{}", old.body);
    assert_eq!(new.body.as_object().unwrap().len(), 1, "{}", new.body);
    assert_eq!(new.body["error"]["code"], code, "{}", new.body);
    let mut old_error = old.body["error"].clone();
    let mut new_error = new.body["error"].clone();
    // Messages may name ids that differ per request; everything else is equal.
    old_error["message"] = Value::Null;
    new_error["message"] = Value::Null;
    assert_eq!(old_error, new_error);
}

/// An organization pinned to `version` at creation.
async fn pinned_org(app: &TestApp, version: ApiVersion) -> Org {
    let created = orgs::create_pinned(app.db(), "Pinned", "US", "usd", false, version)
        .await
        .unwrap();
    Org {
        id: created.organization.id,
        key: created.api_key,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_in_both_versions() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let key = |org: &Org| org.key.clone();

    // Verification: created, then existing, in each version.
    let org = app.org().await;
    let body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    let path = "/api/v1/payouts/verification";
    let created = call(
        &app,
        Method::POST,
        path,
        Some(&key(&org)),
        Some(DIRECT),
        Some(body.clone()),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let account = direct(&created);
    assert_eq!(account["object"], "payout_account");
    assert_eq!(account["outcome"], "created");
    assert!(account.get("alreadyExists").is_none(), "{account}");
    let again = call(
        &app,
        Method::POST,
        path,
        Some(&key(&org)),
        Some(DIRECT),
        Some(body.clone()),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(direct(&again)["outcome"], "existing");
    let old = call(
        &app,
        Method::POST,
        path,
        Some(&key(&org)),
        Some(ENVELOPE),
        Some(body.clone()),
    )
    .await;
    assert_eq!(old.status, 200, "{}", old.body);
    let old_account = enveloped(&old);
    assert_eq!(old_account["alreadyExists"], true);
    assert!(old_account.get("outcome").is_none(), "{old_account}");
    // The same account either way, but for the one field.
    let mut same = old_account.clone();
    same.as_object_mut().unwrap().remove("alreadyExists");
    let mut direct_again = direct(&again);
    direct_again.as_object_mut().unwrap().remove("outcome");
    assert_eq!(same, direct_again);
    let other = app.org().await;
    let first = call(
        &app,
        Method::POST,
        path,
        Some(&key(&other)),
        Some(ENVELOPE),
        Some(body),
    )
    .await;
    assert_eq!(first.status, 201);
    assert_eq!(enveloped(&first)["alreadyExists"], false);

    // Verified by the provider's event (answered in each version too).
    let now = chrono::Utc::now().timestamp();
    let mut receipts = Vec::new();
    for version in [ENVELOPE, DIRECT] {
        let event = json!({"id": "evt_versions", "type": "account.updated", "created": now,
            "data": {"object": {"id": account["providerAccountId"], "status": "verified"}}})
        .to_string();
        let reply = TestApp::reply(
            app.client
                .post(format!("{}/api/v1/provider-webhooks/sandbox", app.base))
                .header("content-type", "application/json")
                .header("commet-version", version)
                .header("stripe-signature", app.signed_webhook(&event, now))
                .body(event)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        receipts.push(reply);
    }
    assert_eq!(enveloped(&receipts[0])["received"], true);
    assert_eq!(answered_in(&receipts[1]), DIRECT);
    assert_eq!(
        receipts[1].body,
        json!({"received": true, "result": "duplicate"})
    );

    // Reads: the same resource, enveloped or not.
    app.credit(&org, 100_000).await;
    for path in ["/api/v1/payouts/account", "/api/v1/balance"] {
        let old = call(
            &app,
            Method::GET,
            path,
            Some(&key(&org)),
            Some(ENVELOPE),
            None,
        )
        .await;
        let new = call(
            &app,
            Method::GET,
            path,
            Some(&key(&org)),
            Some(DIRECT),
            None,
        )
        .await;
        assert_eq!(
            (old.status.as_u16(), new.status.as_u16()),
            (200, 200),
            "{path}"
        );
        assert_eq!(enveloped(&old), direct(&new), "{path}");
    }

    // Writes: each version's answer has the resource's fields.
    let path = "/api/v1/payouts/bank-accounts";
    let bank = json!({"accountNumber": GOOD_ACCOUNT, "accountHolderName": "Ann Lee", "routingNumber": TEST_ROUTING});
    let old = call(
        &app,
        Method::POST,
        path,
        Some(&key(&org)),
        Some(ENVELOPE),
        Some(bank.clone()),
    )
    .await;
    let new = call(
        &app,
        Method::POST,
        path,
        Some(&key(&org)),
        Some(DIRECT),
        Some(bank),
    )
    .await;
    assert_eq!((old.status.as_u16(), new.status.as_u16()), (201, 201));
    let (old, new) = (enveloped(&old), direct(&new));
    assert_eq!(new["object"], "payout_bank_account");
    assert_eq!(keys(&old), keys(&new));

    let path = "/api/v1/payouts";
    let old = call(
        &app,
        Method::POST,
        path,
        Some(&key(&org)),
        Some(ENVELOPE),
        Some(json!({"amount": 1000})),
    )
    .await;
    let new = call(
        &app,
        Method::POST,
        path,
        Some(&key(&org)),
        Some(DIRECT),
        Some(json!({"amount": 2000})),
    )
    .await;
    assert_eq!(
        (old.status.as_u16(), new.status.as_u16()),
        (201, 201),
        "{}",
        new.body
    );
    let (old, new) = (enveloped(&old), direct(&new));
    assert_eq!(
        (new["object"].as_str(), new["amount"].as_i64()),
        (Some("payout"), Some(2000))
    );
    assert_eq!(keys(&old), keys(&new));
    for payout in [&old, &new] {
        let path = format!("/api/v1/payouts/{}", payout["id"].as_str().unwrap());
        let read_old = call(
            &app,
            Method::GET,
            &path,
            Some(&key(&org)),
            Some(ENVELOPE),
            None,
        )
        .await;
        let read_new = call(
            &app,
            Method::GET,
            &path,
            Some(&key(&org)),
            Some(DIRECT),
            None,
        )
        .await;
        assert_eq!(enveloped(&read_old), direct(&read_new));
        assert_eq!(&direct(&read_new), payout);
    }

    // A list: `{success, data, hasMore, nextCursor}` → `{object: "list", …}`.
    let path = "/api/v1/balance/transactions?limit=2";
    let old = call(
        &app,
        Method::GET,
        path,
        Some(&key(&org)),
        Some(ENVELOPE),
        None,
    )
    .await;
    let new = call(
        &app,
        Method::GET,
        path,
        Some(&key(&org)),
        Some(DIRECT),
        None,
    )
    .await;
    assert_eq!(answered_in(&old), ENVELOPE);
    assert_eq!(answered_in(&new), DIRECT);
    assert_eq!(
        keys(&old.body),
        ["data", "hasMore", "nextCursor", "success"]
    );
    assert_eq!(keys(&new.body), ["data", "hasMore", "nextCursor", "object"]);
    assert_eq!(old.body["success"], true);
    assert_eq!(new.body["object"], "list");
    for field in ["data", "hasMore", "nextCursor"] {
        assert_eq!(old.body[field], new.body[field], "{field}");
    }
    assert_eq!(new.body["hasMore"], true);
    assert_eq!(new.body["data"].as_array().unwrap().len(), 2);

    // Errors: `{success: false, error}` and `{error}`, the same error.
    /// method, path, API key, body, the error's code
    type Case<'a> = (Method, &'a str, Option<String>, Option<Value>, &'a str);
    let cases: [Case; 6] = [
        (
            Method::GET,
            "/api/v1/payouts/po_missing",
            Some(key(&org)),
            None,
            "not_found",
        ),
        (
            Method::POST,
            "/api/v1/payouts",
            Some(key(&org)),
            Some(json!({"amount": 5})),
            "validation_error",
        ),
        (
            Method::POST,
            "/api/v1/payouts",
            Some(key(&org)),
            Some(json!({"amount": 100_000_000})),
            "insufficient_balance",
        ),
        (Method::GET, "/api/v1/balance", None, None, "unauthorized"),
        (
            Method::GET,
            "/api/v1/no-such-route",
            Some(key(&org)),
            None,
            "not_found",
        ),
        (
            Method::DELETE,
            "/api/v1/balance",
            Some(key(&org)),
            None,
            "method_not_allowed",
        ),
    ];
    for (method, path, key, body, code) in cases {
        let old = call(
            &app,
            method.clone(),
            path,
            key.as_deref(),
            Some(ENVELOPE),
            body.clone(),
        )
        .await;
        let new = call(&app, method, path, key.as_deref(), Some(DIRECT), body).await;
        same_error(&old, &new, code);
    }
    app.stop().await;
}

fn keys(value: &Value) -> Vec<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_wins_over_the_organizations_pin_which_wins_over_the_default() {
    let app = TestApp::spawn().await;
    let unpinned = app.org().await; // pinned to the default at creation
    let pinned = pinned_org(&app, ApiVersion::V2026_07_24).await;
    let balance = |org: &Org, version: Option<&'static str>| {
        let key = org.key.clone();
        let app = &app;
        async move {
            call(
                app,
                Method::GET,
                "/api/v1/balance",
                Some(&key),
                version,
                None,
            )
            .await
        }
    };
    // No header: the organization's pin.
    enveloped(&balance(&unpinned, None).await);
    direct(&balance(&pinned, None).await);
    // A header: whatever the pin.
    direct(&balance(&unpinned, Some(DIRECT)).await);
    enveloped(&balance(&pinned, Some(ENVELOPE)).await);
    // Errors follow the pin too, once the caller is known.
    let missing = call(
        &app,
        Method::GET,
        "/api/v1/payouts/po_x",
        Some(&pinned.key),
        None,
        None,
    )
    .await;
    assert_eq!(answered_in(&missing), DIRECT);
    assert_eq!(keys(&missing.body), ["error"]);
    // No organization (no key): the header, else the default.
    let anonymous = call(&app, Method::GET, "/api/v1/balance", None, None, None).await;
    assert_eq!(
        (anonymous.status.as_u16(), answered_in(&anonymous)),
        (401, ENVELOPE)
    );
    assert_eq!(anonymous.body["success"], false);
    let anonymous = call(
        &app,
        Method::GET,
        "/api/v1/balance",
        None,
        Some(DIRECT),
        None,
    )
    .await;
    assert_eq!(
        (anonymous.status.as_u16(), answered_in(&anonymous)),
        (401, DIRECT)
    );
    assert_eq!(keys(&anonymous.body), ["error"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_version_gets_the_nearest_earlier_known_one() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    for (sent, answered) in [
        ("2026-08-27", DIRECT), // what commet-sdk 9.7.0 sends
        ("2099-01-01", DIRECT),
        ("2026-07-25", DIRECT),
        ("2026-07-23", ENVELOPE),
        ("2026-07-12", ENVELOPE),
        // Before every known version: the oldest, the seed's envelope.
        ("2026-07-10", ENVELOPE),
        ("2019-01-01", ENVELOPE),
    ] {
        let reply = call(
            &app,
            Method::GET,
            "/api/v1/balance",
            Some(&org.key),
            Some(sent),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{sent}: {}", reply.body);
        assert_eq!(answered_in(&reply), answered, "{sent}");
        if answered == DIRECT {
            direct(&reply);
        } else {
            enveloped(&reply);
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_version_is_a_400_naming_the_header_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let pinned = pinned_org(&app, ApiVersion::V2026_07_24).await;
    for bad in [
        "latest",
        "2026-7-24",
        "2026-13-01",
        "2026-02-30",
        "20260724",
        "2026-07-24T00:00:00Z",
        "v2",
    ] {
        let reply = send(
            &app,
            Method::POST,
            "/api/v1/payouts",
            Some(&org.key),
            Some(bad),
            Some(json!({"amount": 1000})),
            Some("malformed-version-key"),
        )
        .await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert_eq!(reply.error_code(), "invalid_api_version", "{bad}");
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
        assert_eq!(reply.body["error"]["param"], "Commet-Version");
        assert!(reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("YYYY-MM-DD"));
        // No version could be read: the default's envelope answers.
        assert_eq!(reply.body["success"], false);
        assert_eq!(answered_in(&reply), ENVELOPE);
        // Whatever the organization's pin.
        let reply = call(
            &app,
            Method::GET,
            "/api/v1/balance",
            Some(&pinned.key),
            Some(bad),
            None,
        )
        .await;
        assert_eq!(
            (reply.status.as_u16(), answered_in(&reply)),
            (400, ENVELOPE)
        );
    }
    // Sent twice, even with good values: ambiguous.
    let reply = TestApp::reply(
        app.client
            .get(format!("{}/api/v1/balance", app.base))
            .header("x-api-key", &org.key)
            .header("commet-version", DIRECT)
            .header("commet-version", ENVELOPE)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error_code(), "invalid_api_version");

    // Nothing was paid out, and the Idempotency-Key was not used up.
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(10_000), Some(0))
    );
    let reply = send(
        &app,
        Method::POST,
        "/api/v1/payouts",
        Some(&org.key),
        Some(DIRECT),
        Some(json!({"amount": 1000})),
        Some("malformed-version-key"),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(!reply.headers.contains_key("idempotent-replayed"));
    app.stop().await;
}

/// The idempotency store keeps the answer in one shape; a replay is rendered
/// for the replaying request's version, so a client that changed versions
/// between two tries gets the same payout in the shape it asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_replay_is_rendered_for_the_replaying_requests_version() {
    let app = TestApp::spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let post = |version: &'static str, key: &'static str| {
        let app = &app;
        let api_key = org.key.clone();
        async move {
            send(
                app,
                Method::POST,
                "/api/v1/payouts",
                Some(&api_key),
                Some(version),
                Some(json!({"amount": 1000})),
                Some(key),
            )
            .await
        }
    };
    for (first_version, then) in [(ENVELOPE, DIRECT), (DIRECT, ENVELOPE)] {
        let key = if first_version == ENVELOPE {
            "replay-a"
        } else {
            "replay-b"
        };
        let first = post(first_version, key).await;
        assert_eq!(first.status, 201, "{}", first.body);
        let replay = post(then, key).await;
        assert_eq!(replay.status, 201, "{}", replay.body);
        assert_eq!(replay.headers["idempotent-replayed"], "true");
        let again = post(first_version, key).await;
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(
            again.body, first.body,
            "a same-version replay is the first answer"
        );
        let (first, replay) = if first_version == ENVELOPE {
            (enveloped(&first), direct(&replay))
        } else {
            (direct(&first), enveloped(&replay))
        };
        assert_eq!(
            first, replay,
            "the same payout, in the replaying version's shape"
        );
    }
    // Two keys, two payouts: replays created nothing.
    let balance = app.balance(&org).await;
    assert_eq!(balance["available"], 8_000);
    assert_eq!(
        balance["inPayout"].as_i64().unwrap() + balance["paidOut"].as_i64().unwrap(),
        2_000
    );

    // A stored refusal is rendered for the replay too.
    let broke = app.org().await;
    let first = send(
        &app,
        Method::POST,
        "/api/v1/payouts",
        Some(&broke.key),
        Some(ENVELOPE),
        Some(json!({"amount": 1000})),
        Some("refused"),
    )
    .await;
    let replay = send(
        &app,
        Method::POST,
        "/api/v1/payouts",
        Some(&broke.key),
        Some(DIRECT),
        Some(json!({"amount": 1000})),
        Some("refused"),
    )
    .await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    same_error(&first, &replay, "payout_account_required");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_says_which_version_answered() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    let paths = [
        (Method::GET, "/healthz"),
        (Method::GET, "/readyz"),
        (Method::GET, "/nope"),
        (Method::GET, "/docs/errors/not_found"),
        (Method::GET, "/docs/errors/nope"),
        (Method::GET, "/api/v1/balance"),
        (Method::GET, "/api/v1/nope"),
        (Method::PUT, "/api/v1/payouts"),
        (Method::POST, "/api/v1/payouts"),
    ];
    for (method, path) in paths {
        for (sent, answered) in [
            (None, ENVELOPE),
            (Some("2026-09-01"), DIRECT),
            (Some(ENVELOPE), ENVELOPE),
        ] {
            let mut request = app
                .client
                .request(method.clone(), format!("{}{path}", app.base))
                .header("x-api-key", &org.key);
            if let Some(sent) = sent {
                request = request.header("commet-version", sent);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response
                    .headers()
                    .get("commet-version")
                    .map(|v| v.to_str().unwrap()),
                Some(answered),
                "{method} {path} with {sent:?} ({})",
                response.status()
            );
        }
    }
    // An answer given before the request was read (413) says it too.
    let big = "x".repeat(app.config.max_body_bytes + 1);
    let response = app
        .client
        .post(format!("{}/api/v1/payouts", app.base))
        .header("x-api-key", &org.key)
        .header("commet-version", DIRECT)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["commet-version"], DIRECT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(keys(&body), ["error"]);
    assert_eq!(body["error"]["code"], "payload_too_large");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_versions_document_is_served() {
    let app = TestApp::spawn().await;
    let get = |path: String, version: Option<&'static str>| {
        let app = &app;
        async move {
            let mut request = app.client.get(format!("{}{path}", app.base));
            if let Some(version) = version {
                request = request.header("commet-version", version);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let answered = response.headers()["commet-version"]
                .to_str()
                .unwrap()
                .to_string();
            (status, answered, response.text().await.unwrap())
        }
    };
    let committed = |name: &str| {
        std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let json = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    let yaml = |text: &str| serde_norway::from_str::<Value>(text).unwrap();

    let (status, answered, text) = get("/openapi.json".into(), None).await;
    assert_eq!((status, answered.as_str()), (200, ENVELOPE));
    assert_eq!(json(&text), yaml(&committed("openapi.yaml")));
    for (query, header) in [
        ("?version=2026-07-24", None),
        ("?version=2026-12-01", None),
        ("", Some(DIRECT)),
    ] {
        let (status, answered, text) = get(format!("/openapi.json{query}"), header).await;
        assert_eq!(
            (status, answered.as_str()),
            (200, DIRECT),
            "{query} {header:?}"
        );
        assert_eq!(json(&text), yaml(&committed("openapi-2026-07-24.yaml")));
    }
    let (status, _, text) = get("/openapi.yaml?version=2026-07-24".into(), None).await;
    assert_eq!(status, 200);
    assert_eq!(text, committed("openapi-2026-07-24.yaml"));
    let (status, answered, text) =
        get("/openapi.json?version=2026-07-11".into(), Some(DIRECT)).await;
    assert_eq!(
        (status, answered.as_str()),
        (200, ENVELOPE),
        "the query wins"
    );
    assert_eq!(json(&text), yaml(&committed("openapi.yaml")));

    let (status, _, text) = get("/openapi.json?version=newest".into(), None).await;
    assert_eq!(status, 400);
    let body = json(&text);
    assert_eq!(body["error"]["code"], "invalid_api_version");
    assert_eq!(body["error"]["param"], "version");
    app.stop().await;
}

/// `payouts org create --api-version` pins the organization (a date
/// between versions pins the earlier one), and refuses what is not a date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_create_pins_the_version_it_is_given() {
    let app = TestApp::spawn().await;
    let binary = Binary::new()
        .env("DATABASE_URL", &app.config.database_url)
        .env(
            "PAYOUTS_ENCRYPTION_KEY",
            payouts::crypto::Cipher::generate_key_hex(),
        )
        .env("PAYOUTS_LOG", "warn");
    for (given, pinned) in [
        (None, ENVELOPE),
        (Some("2026-08-27"), DIRECT),
        (Some(DIRECT), DIRECT),
        (Some("2026-07-20"), ENVELOPE),
    ] {
        let mut args = vec!["org", "create", "--name", "Pinned"];
        args.extend(given.iter().flat_map(|v| ["--api-version", v]));
        let created = binary.cli(&args).await;
        assert_eq!(created["apiVersion"], pinned, "{given:?}");
        let key = created["apiKey"].as_str().unwrap();
        let reply = call(&app, Method::GET, "/api/v1/balance", Some(key), None, None).await;
        assert_eq!(answered_in(&reply), pinned, "{given:?}");
    }
    let refused = binary
        .run(&["org", "create", "--name", "Bad", "--api-version", "latest"])
        .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--api-version") && stderr.contains("YYYY-MM-DD"),
        "{stderr}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_endpoint_takes_its_organizations_pin_unless_it_names_one() {
    // Nothing listens there: no delivery is made in this test.
    let app = TestApp::spawn_with(|c| c.document_allow_hosts.push("127.0.0.1:9".into())).await;
    let unpinned = app.org().await;
    let pinned = pinned_org(&app, ApiVersion::V2026_07_24).await;
    let endpoint = |org: &Org, api_version: Option<&str>| {
        let mut body = json!({"url": "http://127.0.0.1:9/hooks", "events": ["payout.paid"]});
        if let Some(version) = api_version {
            body["apiVersion"] = json!(version);
        }
        let key = org.key.clone();
        let app = &app;
        async move {
            let reply = call(
                app,
                Method::POST,
                "/api/v1/webhooks",
                Some(&key),
                Some(ENVELOPE),
                Some(body),
            )
            .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            enveloped(&reply)["apiVersion"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(endpoint(&unpinned, None).await, ENVELOPE);
    assert_eq!(endpoint(&pinned, None).await, DIRECT);
    assert_eq!(endpoint(&pinned, Some(ENVELOPE)).await, ENVELOPE);
    app.stop().await;
}
