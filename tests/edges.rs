//! Edge input at the HTTP boundary answers the same on SQLite and
//! PostgreSQL, in the envelope, with the right status and `param`, and changes nothing.
//! One piece: NUL and undecodable bytes in paths (every documented one), queries, headers and
//! provider events; `OPTIONS`; signed but unreadable events; duplicate credentials.
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
        assert_error(&reply, 404, "not_found", Some("cursor"));
    }
    let reply = get_raw(&app, "/balance/transactions?cursor=txn_unknown", &org.key).await;
    assert_error(&reply, 404, "not_found", Some("cursor"));

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
    let app = spawn_with_operator_token().await;
    let org = app.org().await;
    for (path, allow) in [
        ("/api/v1/payouts", "GET, POST"),
        ("/api/v1/payouts/po_x", "GET"),
        ("/api/v1/payouts/po_x/cancel", "POST"),
        ("/api/v1/payouts/bank-accounts", "GET, POST"),
        ("/api/v1/payouts/bank-accounts/pba_x", "DELETE"),
        ("/api/v1/balance", "GET"),
        ("/api/v1/webhooks", "GET, POST"),
        ("/api/v1/webhooks/wh_x", "DELETE, GET, PATCH, PUT"),
        ("/api/v1/webhooks/wh_x/deliveries", "GET"),
        ("/api/v1/events", "GET"),
        ("/operator/v1/organizations", "GET, POST"),
        (
            "/operator/v1/organizations/org_x/holds/hold_x/release",
            "POST",
        ),
        ("/healthz", "GET"),
    ] {
        let response = app
            .client
            .request(Method::OPTIONS, format!("{}{path}", app.base))
            .header("x-api-key", &org.key)
            .header("authorization", format!("Bearer {OPERATOR_TOKEN}"))
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

/// The operator token the walk below uses.
/// A service that knows `OPERATOR_TOKEN`.
async fn spawn_with_operator_token() -> TestApp {
    TestApp::spawn_with(|c| operator_tokens(c, &[])).await
}

/// One API as published: its served document, where it is mounted and the
/// headers that authenticate (and version) a request to it.
struct Published {
    name: String,
    doc: Value,
    prefix: String,
    headers: Vec<(&'static str, String)>,
}

impl Published {
    /// A request body the operation accepts: its documented example.
    fn example_body(&self, op: &Value) -> Option<Value> {
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        if schema.is_null() {
            return None;
        }
        let schema = match schema["$ref"].as_str() {
            Some(reference) => self.doc.pointer(&reference[1..]).unwrap(),
            None => schema,
        };
        Some(schema["example"].clone())
    }
}

/// Every operation of every published document (each API version, and the
/// operator API), taken from what the service serves, so a route added
/// later is walked without anyone listing it. Each path parameter in turn
/// gets NUL, an overlong NUL and undecodable bytes (the others real ids),
/// and each string query parameter NUL and undecodable bytes: a path names
/// nothing (404 `not_found`); a cursor was never issued (404, `param`
/// `cursor`); any other
/// parameter is refused naming it. Never a 500, the same on both engines,
/// and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_and_undecodable_bytes_in_every_documented_parameter_are_refused_alike() {
    let app = spawn_with_operator_token().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 50_000).await;
    // Real parents, so that a bad child id reaches its own lookup.
    let payout = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    let hook = app
        .post(
            "/webhooks",
            &org.key,
            json!({"url": app.documents.url("/hook"), "events": ["payout.paid"]}),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let banks = app.get("/payouts/bank-accounts", &org.key).await;
    let real: std::collections::HashMap<&str, String> = [
        ("payouts", payout.data()["id"].as_str().unwrap().to_string()),
        (
            "bank-accounts",
            banks.data()[0]["id"].as_str().unwrap().to_string(),
        ),
        ("webhooks", hook.data()["id"].as_str().unwrap().to_string()),
        ("organizations", org.id.clone()),
        ("provider-webhooks", "sandbox".to_string()),
    ]
    .into_iter()
    .collect();

    let served = |path: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.json::<Value>().await.unwrap()
        }
    };
    let mut apis = Vec::new();
    for version in entity::states::ApiVersion::ALL {
        let doc = served(format!("/openapi.json?version={version}")).await;
        apis.push(Published {
            name: format!("public {version}"),
            prefix: doc["servers"][0]["url"].as_str().unwrap().to_string(),
            doc,
            headers: vec![
                ("x-api-key", org.key.clone()),
                ("commet-version", version.to_string()),
            ],
        });
    }
    let doc = served("/operator/openapi.json".into()).await;
    apis.push(Published {
        name: "operator".into(),
        prefix: doc["servers"][0]["url"].as_str().unwrap().to_string(),
        doc,
        headers: vec![("authorization", format!("Bearer {OPERATOR_TOKEN}"))],
    });
    assert_eq!(apis[0].prefix, "/api/v1");
    assert_eq!(apis.last().unwrap().prefix, "/operator/v1");

    let paid = format!("/payouts/{}", real["payouts"]);
    app.wait_for(&paid, &org.key, "paid").await;
    let balance = app.balance(&org).await;
    let mut walked = (0, 0);
    for api in &apis {
        for (template, item) in api.doc["paths"].as_object().unwrap() {
            let segments: Vec<&str> = template.split('/').collect();
            // A real id for each parameter, by the collection it follows.
            let fill = |bad: Option<(usize, &str)>| -> String {
                segments
                    .iter()
                    .enumerate()
                    .map(|(i, s)| match bad {
                        Some((at, value)) if at == i => value.to_string(),
                        _ if s.starts_with('{') => real
                            .get(segments[i - 1])
                            .cloned()
                            .unwrap_or_else(|| "x_unknown".into()),
                        _ => s.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            };
            for (method, op) in item.as_object().unwrap() {
                let method: Method = method.to_uppercase().parse().unwrap();
                let body = api.example_body(op);
                let send = |path: String| {
                    let (app, api, method, body) = (&app, api, method.clone(), body.clone());
                    async move {
                        let mut request = app
                            .client
                            .request(method, format!("{}{}{path}", app.base, api.prefix));
                        for (name, value) in &api.headers {
                            request = request.header(*name, value);
                        }
                        if let Some(body) = body {
                            request = request.json(&body);
                        }
                        let response = request.send().await.unwrap();
                        let status = response.status().as_u16();
                        let text = response.text().await.unwrap();
                        (
                            status,
                            serde_json::from_str::<Value>(&text).unwrap_or(json!(text)),
                        )
                    }
                };
                for (at, segment) in segments.iter().enumerate() {
                    if !segment.starts_with('{') {
                        continue;
                    }
                    for bad in ["%00", "x_%00y", "%C0%80", "%ff", "x_%ff%fe"] {
                        let path = fill(Some((at, bad)));
                        let (status, body) = send(path.clone()).await;
                        let case = format!("{}: {method} {path}: {status} {body}", api.name);
                        assert_eq!(status, 404, "{case}");
                        assert_eq!(body["error"]["code"], "not_found", "{case}");
                        walked.0 += 1;
                    }
                }
                let path = fill(None);
                let parameters = op["parameters"].as_array().cloned().unwrap_or_default();
                for parameter in parameters.iter().filter(|p| p["in"] == "query") {
                    let name = parameter["name"].as_str().unwrap();
                    if ["integer", "number", "boolean"]
                        .contains(&parameter["schema"]["type"].as_str().unwrap_or_default())
                    {
                        continue; // not text: never reaches SQL as text
                    }
                    for bad in ["%00", "x_%00y", "%ff"] {
                        let (status, body) = send(format!("{path}?{name}={bad}")).await;
                        let case = format!(
                            "{}: {method} {path}?{name}={bad}: {status} {body}",
                            api.name
                        );
                        if name == "cursor" {
                            assert_eq!(status, 404, "{case}");
                            assert_eq!(body["error"]["code"], "not_found", "{case}");
                            assert_eq!(body["error"]["param"], "cursor", "{case}");
                        } else {
                            assert!([400, 422].contains(&status), "{case}");
                            assert_eq!(body["error"]["param"], name, "{case}");
                        }
                        walked.1 += 1;
                    }
                }
            }
        }
    }
    // Every API was walked, paths and queries both.
    assert!(walked.0 >= 100 && walked.1 >= 30, "{walked:?}");
    eprintln!("walked {walked:?} (path, query) cases");
    assert_eq!(app.balance(&org).await, balance);
    app.stop().await;
}

/// Stripe's endpoint, like the sandbox's: a correctly signed event whose
/// ids or texts hold NUL is refused 422 naming the field, on both engines
/// (PostgreSQL cannot store NUL), one that does not parse is `invalid_json`,
/// and nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_signed_event_holding_nul_is_refused_naming_the_field() {
    use common::fake_stripe::FakeStripe;
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |_| {}).await;
    let nul = "x\u{0}y";
    let cases = [
        (
            FakeStripe::event(
                &format!("evt_{nul}"),
                "account.updated",
                json!({"id": "acct_1"}),
                Some("acct_1"),
            ),
            "id",
        ),
        (
            FakeStripe::event(
                "evt_a",
                "account.updated",
                json!({"id": format!("acct_{nul}")}),
                None,
            ),
            "data.object.id",
        ),
        (
            FakeStripe::event(
                "evt_b",
                "payout.paid",
                json!({"id": "po_1", "status": "paid", "metadata": {"payout_id": format!("po_{nul}")}}),
                Some("acct_1"),
            ),
            "data.object.metadata.payout_id",
        ),
        (
            FakeStripe::event(
                "evt_c",
                "payout.failed",
                json!({"id": "po_1", "status": "failed", "failure_code": "x", "failure_message": nul}),
                Some("acct_1"),
            ),
            "data.object.failure_message",
        ),
        (
            FakeStripe::event(
                "evt_d",
                "transfer.reversed",
                json!({"id": format!("tr_{nul}")}),
                None,
            ),
            "data.object.id",
        ),
        (
            FakeStripe::event(
                "evt_e",
                &format!("account.{nul}"),
                json!({"id": "acct_1"}),
                None,
            ),
            "type",
        ),
    ];
    for (body, param) in cases {
        assert!(body.contains("\\u0000"), "{body}");
        let (status, reply) = fake.send_event(&app.base, &body).await;
        let case = format!("{body}: {status} {reply}");
        assert_eq!(status, 422, "{case}");
        assert_eq!(reply["error"]["code"], "validation_error", "{case}");
        assert_eq!(reply["error"]["param"], param, "{case}");
    }
    // Signed but unreadable: invalid_json, as on the sandbox's endpoint.
    for body in [
        "not json",
        "{}",
        r#"{"id":"evt_f","type":"payout.paid","created":1}"#,
    ] {
        let (status, reply) = fake.send_event(&app.base, body).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], "invalid_json", "{body}: {reply}");
    }
    assert_eq!(events_recorded(&app).await, 0);
    app.stop().await;
}

/// Two `Authorization` headers on the operator API authenticate as neither,
/// whichever comes first (as two `x-api-key` do on the public API).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operator_tokens_authenticate_as_neither() {
    let other = payouts::crypto::operator_token::generate();
    let app = TestApp::spawn_with(|c| {
        operator_tokens(c, &[&payouts::crypto::operator_token::hash_entry(&other)])
    })
    .await;
    let (good, second) = (
        format!("Bearer {OPERATOR_TOKEN}"),
        format!("Bearer {other}"),
    );
    let with = |values: &[&str]| {
        let mut request = app
            .client
            .get(format!("{}/operator/v1/organizations", app.base));
        for value in values {
            request = request.header("authorization", *value);
        }
        request
    };
    for values in [
        vec![good.as_str(), second.as_str()],
        vec![second.as_str(), good.as_str()],
        vec![good.as_str(), good.as_str()],
        vec![good.as_str(), "Bearer nope"],
    ] {
        let reply = TestApp::reply(with(&values).send().await.unwrap()).await;
        assert_error(&reply, 401, "unauthorized", None);
    }
    for value in [&good, &second] {
        let reply = TestApp::reply(with(&[value]).send().await.unwrap()).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    app.stop().await;
}
