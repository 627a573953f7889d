//! The operator API, black box.
//!
//! One piece: the operator API's tests, sharing its bearer-token client and ledger export helpers.
//!
//! The operator API (`/operator/v1`), black-box over HTTP on both engines:
//! credits, debits and holds once per `externalId` (also under concurrent
//! requests), holds
//! and debits that may leave `available` negative, payouts refused until it
//! covers them, the ledger export, organizations and keys, and credentials
//! that never cross between the operator API and the organizations' API.
//! Every test ends with `ledger verify` clean (`TestApp::stop`).
mod common;

use common::{operator_tokens, Org, Reply, TestApp, GOOD_ACCOUNT, OPERATOR_TOKEN};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

/// A service that knows `OPERATOR_TOKEN` by its hash and another token in clear.
async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| operator_tokens(c, &[&payouts::crypto::operator_token::generate()]))
        .await
}

/// A request to the operator API with `headers` (name, value).
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .client
        .request(method, format!("{}/operator/v1{path}", app.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::reply(request.send().await.expect("request sent")).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn op_post(app: &TestApp, path: &str, body: Value) -> Reply {
    let auth = bearer(OPERATOR_TOKEN);
    call(
        app,
        Method::POST,
        path,
        &[("authorization", &auth)],
        Some(body),
    )
    .await
}

async fn op_get(app: &TestApp, path: &str) -> Reply {
    let auth = bearer(OPERATOR_TOKEN);
    call(app, Method::GET, path, &[("authorization", &auth)], None).await
}

async fn credit(app: &TestApp, org: &Org, amount: i64, external_id: &str) -> Reply {
    op_post(
        app,
        &format!("/organizations/{}/credits", org.id),
        json!({"amount": amount, "externalId": external_id}),
    )
    .await
}

/// The ledger export's JSON lines.
async fn export(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app
        .client
        .get(format!(
            "{}/operator/v1/ledger/transactions{query}",
            app.base
        ))
        .header("authorization", bearer(OPERATOR_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn amounts(balance: &Value) -> (i64, i64) {
    (
        balance["available"].as_i64().unwrap(),
        balance["held"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_credits_with_one_external_id_make_one_credit() {
    let app = spawn().await;
    let org = app.org().await;
    let replies = join_all((0..20).map(|_| credit(&app, &org, 5000, "pay_concurrent"))).await;
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for reply in &replies {
        assert!(
            reply.status == 201 || reply.status == 200,
            "{}: {}",
            reply.status,
            reply.body
        );
        created += usize::from(reply.status == 201);
        ids.insert(reply.data()["id"].as_str().unwrap().to_string());
    }
    assert_eq!((created, ids.len()), (1, 1), "one credit, answered to all");
    assert_eq!(amounts(&app.balance(&org).await), (5000, 0));
    let credits: Vec<Value> = export(&app, "")
        .await
        .into_iter()
        .filter(|e| e["type"] == "credit" && e["organizationId"] == org.id.as_str())
        .collect();
    assert_eq!(credits.len(), 2, "one credit's two entries: {credits:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_external_id_with_another_amount_is_409() {
    let app = spawn().await;
    let org = app.org().await;
    let first = credit(&app, &org, 5000, "pay_1").await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.data()["object"], "credit");
    assert_eq!(first.data()["externalId"], "pay_1");
    // Long after any Idempotency-Key would have expired: the externalId
    // alone says it is the same credit.
    let again = credit(&app, &org, 5000, "pay_1").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.data()["id"], first.data()["id"]);
    let other = credit(&app, &org, 6000, "pay_1").await;
    assert_eq!(other.status, 409, "{}", other.body);
    assert_eq!(other.error_code(), "external_id_conflict");
    // Another organization may use the same id for its own payment.
    let second_org = app.org().await;
    assert_eq!(credit(&app, &second_org, 6000, "pay_1").await.status, 201);
    assert_eq!(amounts(&app.balance(&org).await), (5000, 0));
    assert_eq!(amounts(&app.balance(&second_org).await), (6000, 0));
    app.stop().await;
}

/// Debits and holds are once per `externalId` as credits are: ten raced
/// requests make one (answered to all), a later repeat finds it, and the
/// same id with another amount is 409. The money moves once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn debits_and_holds_raced_or_repeated_under_one_external_id_move_money_once() {
    let app = spawn().await;
    let org = app.org().await;
    assert_eq!(credit(&app, &org, 10_000, "pay_once").await.status, 201);
    for (kind, body, other, after) in [
        (
            "debits",
            json!({"amount": 1500, "externalId": "re_once", "reason": "refund"}),
            json!({"amount": 1600, "externalId": "re_once", "reason": "refund"}),
            (8500, 0),
        ),
        (
            "holds",
            json!({"amount": 2000, "externalId": "dp_once", "reason": "dispute"}),
            json!({"amount": 2100, "externalId": "dp_once", "reason": "dispute"}),
            (6500, 2000),
        ),
    ] {
        let path = format!("/organizations/{}/{kind}", org.id);
        let replies = join_all((0..10).map(|_| op_post(&app, &path, body.clone()))).await;
        let mut ids = std::collections::HashSet::new();
        let mut created = 0;
        for reply in &replies {
            assert!(
                [200, 201].contains(&reply.status.as_u16()),
                "{kind}: {}",
                reply.body
            );
            created += usize::from(reply.status == 201);
            ids.insert(reply.data()["id"].as_str().unwrap().to_string());
        }
        assert_eq!((created, ids.len()), (1, 1), "{kind}: one, answered to all");
        let again = op_post(&app, &path, body).await;
        assert_eq!(again.status, 200, "{kind}: {}", again.body);
        assert!(ids.contains(again.data()["id"].as_str().unwrap()), "{kind}");
        let conflict = op_post(&app, &path, other).await;
        assert_eq!(conflict.status, 409, "{kind}: {}", conflict.body);
        assert_eq!(conflict.error_code(), "external_id_conflict", "{kind}");
        assert_eq!(amounts(&app.balance(&org).await), after, "{kind}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_refuses_a_payout_over_the_rest_and_its_release_allows_it() {
    let app = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    assert_eq!(credit(&app, &org, 10000, "pay_h").await.status, 201);
    let hold = op_post(
        &app,
        &format!("/organizations/{}/holds", org.id),
        json!({"amount": 6000, "externalId": "dp_1", "reason": "dispute"}),
    )
    .await;
    assert_eq!(hold.status, 201, "{}", hold.body);
    assert_eq!(hold.data()["status"], "open");
    assert_eq!(amounts(&app.balance(&org).await), (4000, 6000));

    let payout = app
        .post("/payouts", &org.key, json!({"amount": 5000}))
        .await;
    assert_eq!(payout.status, 402, "{}", payout.body);
    assert_eq!(payout.error_code(), "insufficient_balance");

    let hold_id = hold.data()["id"].as_str().unwrap().to_string();
    let release_path = format!("/organizations/{}/holds/{hold_id}/release", org.id);
    let released = op_post(&app, &release_path, json!({})).await;
    assert_eq!(released.status, 200, "{}", released.body);
    assert_eq!(released.data()["status"], "released");
    assert_eq!(amounts(&app.balance(&org).await), (10000, 0));
    let payout = app
        .post("/payouts", &org.key, json!({"amount": 5000}))
        .await;
    assert_eq!(payout.status, 201, "{}", payout.body);

    // Released once: again is the same hold, capturing it now a conflict.
    let again = op_post(&app, &release_path, json!({})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.data()["status"], "released");
    let capture = op_post(
        &app,
        &format!("/organizations/{}/holds/{hold_id}/capture", org.id),
        json!({}),
    )
    .await;
    assert_eq!(capture.status, 409, "{}", capture.body);
    assert_eq!(capture.error_code(), "hold_already_resolved");
    assert_eq!(amounts(&app.balance(&org).await), (5000, 0));
    // Another organization's hold id is not found under this one.
    let other = app.org().await;
    let foreign = op_post(
        &app,
        &format!("/organizations/{}/holds/{hold_id}/release", other.id),
        json!({}),
    )
    .await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_takes_the_held_money_out_for_good() {
    let app = spawn().await;
    let org = app.org().await;
    assert_eq!(credit(&app, &org, 10000, "pay_c").await.status, 201);
    let hold = op_post(
        &app,
        &format!("/organizations/{}/holds", org.id),
        json!({"amount": 3000, "externalId": "dp_2", "reason": "dispute"}),
    )
    .await;
    assert_eq!(hold.status, 201, "{}", hold.body);
    let hold_id = hold.data()["id"].as_str().unwrap();
    let captured = op_post(
        &app,
        &format!("/organizations/{}/holds/{hold_id}/capture", org.id),
        json!({}),
    )
    .await;
    assert_eq!(captured.status, 200, "{}", captured.body);
    assert_eq!(captured.data()["status"], "captured");
    assert_eq!(amounts(&app.balance(&org).await), (7000, 0));

    // The ledger shows the money gone: held back, then out to the world.
    let entries: Vec<(String, String, i64)> = export(&app, "")
        .await
        .into_iter()
        .filter(|e| e["organizationId"] == org.id.as_str())
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["account"].as_str().unwrap().to_string(),
                e["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    for entry in [
        ("hold", "available", -3000),
        ("hold", "held", 3000),
        ("hold_capture", "held", -3000),
        ("hold_capture", "external", 3000),
    ] {
        let entry = (entry.0.to_string(), entry.1.to_string(), entry.2);
        assert!(entries.contains(&entry), "{entry:?} not in {entries:?}");
    }
    let overview = op_get(&app, &format!("/organizations/{}", org.id)).await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert_eq!(overview.data()["balance"]["available"], 7000);
    assert_eq!(overview.data()["balance"]["held"], 0);

    // CSV by Accept, with the external ids; `from` after everything: empty.
    let csv = app
        .client
        .get(format!("{}/operator/v1/ledger/transactions", app.base))
        .header("authorization", bearer(OPERATOR_TOKEN))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("transaction_id,created_at,organization_id,type,account,amount"));
    assert!(
        csv.contains(&format!(
            ",{},hold_capture,external,3000,usd,,dp_2\n",
            org.id
        )),
        "{csv}"
    );
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    assert!(
        export(&app, &format!("?from={}", later.replace('+', "%2B")))
            .await
            .is_empty()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debit_beyond_available_is_a_debt_that_refuses_payouts_until_a_credit_repays_it() {
    let app = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    assert_eq!(credit(&app, &org, 2000, "pay_d1").await.status, 201);
    let debit = op_post(
        &app,
        &format!("/organizations/{}/debits", org.id),
        json!({"amount": 5000, "externalId": "re_1", "reason": "refund"}),
    )
    .await;
    assert_eq!(debit.status, 201, "{}", debit.body);
    assert_eq!(debit.data()["reason"], "refund");
    assert_eq!(amounts(&app.balance(&org).await), (-3000, 0));

    let payout = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(payout.status, 402, "{}", payout.body);

    // The next credit repays the 3000 owed first: 1000 is left.
    assert_eq!(credit(&app, &org, 4000, "pay_d2").await.status, 201);
    assert_eq!(amounts(&app.balance(&org).await), (1000, 0));
    let payout = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    assert_eq!(amounts(&app.balance(&org).await), (0, 0));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_and_keys_over_the_operator_api() {
    let app = spawn().await;
    let created = op_post(
        &app,
        "/organizations",
        json!({"name": "Globex", "country": "US", "currency": "usd", "mode": "sandbox"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let org_id = created.data()["id"].as_str().unwrap().to_string();
    let first_key = created.data()["apiKey"].as_str().unwrap().to_string();
    assert!(first_key.starts_with("ck_test_"));
    assert!(
        created
            .data()
            .get("accountStatus")
            .is_some_and(Value::is_null),
        "null before verification: {}",
        created.body
    );
    // The key works on the organizations' API.
    assert_eq!(app.get("/balance", &first_key).await.status, 200);
    let got = op_get(&app, &format!("/organizations/{org_id}")).await;
    assert_eq!(got.status, 200);
    assert!(got.data().get("apiKey").is_none(), "the key is shown once");

    let key = op_post(&app, &format!("/organizations/{org_id}/keys"), json!({})).await;
    assert_eq!(key.status, 201, "{}", key.body);
    let secret = key.data()["key"].as_str().unwrap().to_string();
    let key_id = key.data()["id"].as_str().unwrap().to_string();
    assert_eq!(app.get("/balance", &secret).await.status, 200);
    let listed = op_get(&app, &format!("/organizations/{org_id}/keys")).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.data().as_array().unwrap().len(), 2);
    assert!(
        !listed.body.to_string().contains(&secret[12..]),
        "prefixes only"
    );

    // Another organization's key is not found under this one.
    let other = app.org().await;
    let foreign = op_post(
        &app,
        &format!("/organizations/{}/keys/{key_id}/revoke", other.id),
        json!({}),
    )
    .await;
    assert_eq!(foreign.status, 404);
    let revoked = op_post(
        &app,
        &format!("/organizations/{org_id}/keys/{key_id}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.data()["revokedAt"].is_string());
    assert!(revoked.data().get("key").is_none(), "the key is shown once");
    assert!(key.data().get("revokedAt").is_some_and(Value::is_null));
    assert_eq!(app.get("/balance", &secret).await.status, 401);

    let list = op_get(&app, "/organizations?limit=1").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["hasMore"], true);
    let next = list.body["nextCursor"].as_str().unwrap();
    let page = op_get(&app, &format!("/organizations?limit=1&cursor={next}")).await;
    assert_eq!(page.status, 200);
    assert_ne!(page.data()[0]["id"], list.data()[0]["id"]);
    assert_eq!(op_get(&app, "/organizations/org_nope").await.status, 404);
    app.stop().await;
}

/// Fills a path template's parameters with ids of the right shape.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{id}" => "org_aaaaaaaaaaaaaaaaaaaaaaaa",
            "{holdId}" => "hold_aaaaaaaaaaaaaaaaaaaaaaaa",
            "{keyId}" => "key_aaaaaaaaaaaaaaaaaaaaaaaa",
            s if s.starts_with('{') => "x_aaaaaaaaaaaaaaaaaaaaaaaa",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn operations(spec: &str) -> Vec<(Method, String, Value)> {
    let spec: Value = serde_json::from_str(spec).unwrap();
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((
                method.to_uppercase().parse().unwrap(),
                concrete(path),
                op.clone(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_and_organization_credentials_never_cross() {
    let app = spawn().await;
    let org = app.org().await;
    let as_bearer = bearer(&org.key);
    let token_bearer = bearer(OPERATOR_TOKEN);

    // Every operator operation refuses an organization's key, however sent.
    let operator_ops = operations(&payouts::api::spec::operator_document().json);
    assert!(operator_ops.len() >= 11, "{}", operator_ops.len());
    for (method, path, _) in &operator_ops {
        for headers in [
            vec![("x-api-key", org.key.as_str())],
            vec![("authorization", as_bearer.as_str())],
            vec![
                ("x-api-key", org.key.as_str()),
                ("authorization", as_bearer.as_str()),
            ],
            vec![],
        ] {
            let body = (*method == Method::POST).then(|| json!({}));
            let reply = call(&app, method.clone(), path, &headers, body).await;
            assert_eq!(
                reply.status, 401,
                "{method} {path} {headers:?}: {}",
                reply.body
            );
            assert_eq!(reply.error_code(), "unauthorized");
        }
    }
    // ... and the operator token opens them (the walk is not vacuous).
    assert_eq!(op_get(&app, "/organizations").await.status, 200);

    // Every organization operation refuses the operator token.
    let public_ops = operations(&payouts::api::spec::document().json);
    let mut walked = 0;
    for (method, path, op) in &public_ops {
        if op["security"] == json!([]) {
            continue; // the provider webhook: signed, no key of any kind
        }
        walked += 1;
        for headers in [
            vec![("authorization", token_bearer.as_str())],
            vec![("x-api-key", OPERATOR_TOKEN)],
        ] {
            let mut request = app
                .client
                .request(method.clone(), format!("{}/api/v1{path}", app.base));
            for (name, value) in &headers {
                request = request.header(*name, *value);
            }
            if *method == Method::POST {
                request = request.json(&json!({}));
            }
            let reply = TestApp::reply(request.send().await.unwrap()).await;
            assert_eq!(
                reply.status, 401,
                "{method} {path} {headers:?}: {}",
                reply.body
            );
        }
    }
    assert!(walked >= 6, "{walked}");
    assert_eq!(app.get("/balance", &org.key).await.status, 200);
    app.stop().await;
}

/// The real binary: `operator-token create` prints a token and the
/// `sha256:` entry a served instance accepts it by; `balance credit
/// --external-id` is the operator API's credit (once per id, another amount
/// refused); and `ledger verify` is clean after it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_token_opens_the_served_operator_api_and_cli_credits_are_once_per_external_id() {
    use common::{binary::Binary, free_port, fresh_database};
    let (database_url, sqlite_dir, postgres) = fresh_database().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let service = Binary::new()
        .env("DATABASE_URL", database_url.clone())
        .env(
            "PAYOUTS_ENCRYPTION_KEY",
            payouts::crypto::Cipher::generate_key_hex(),
        )
        .env("PAYOUTS_BIND", format!("127.0.0.1:{port}"))
        .env("PAYOUTS_LOG", "warn");
    let created = service.cli(&["operator-token", "create"]).await;
    let token = created["token"].as_str().unwrap().to_string();
    let hash = created["hash"].as_str().unwrap().to_string();
    assert_eq!(hash, payouts::crypto::operator_token::hash_entry(&token));
    assert!(!hash.contains(&token));

    let org = service.cli(&["org", "create", "--name", "Cli"]).await;
    let org_id = org["organizationId"].as_str().unwrap().to_string();
    let credit = |amount: &'static str| {
        let org_id = org_id.clone();
        let service = service.clone();
        async move {
            service
                .run(&[
                    "balance",
                    "credit",
                    "--org",
                    &org_id,
                    "--amount",
                    amount,
                    "--external-id",
                    "pay_cli",
                ])
                .await
        }
    };
    for _ in 0..2 {
        let out = credit("5000").await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let balance: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(balance["available"], 5000, "the same credit twice is one");
    }
    let conflict = credit("6000").await;
    assert!(!conflict.status.success());
    assert!(String::from_utf8_lossy(&conflict.stderr).contains("pay_cli"));

    let mut server = service
        .clone()
        .env("PAYOUTS_OPERATOR_TOKENS", hash)
        .serve(&base)
        .await;
    let client = reqwest::Client::new();
    let get = |token: String| {
        client
            .get(format!("{base}/operator/v1/organizations/{org_id}"))
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    let reply = get(token.clone()).await.unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["data"]["balance"]["available"], 5000);
    assert_eq!(
        get(payouts::crypto::operator_token::generate())
            .await
            .unwrap()
            .status(),
        401
    );
    server.kill().ok();
    server.wait().ok();
    let verified = service.cli(&["ledger", "verify"]).await;
    assert_eq!(verified["ok"], true, "{verified}");

    if let Some((admin_url, name)) = postgres {
        use sea_orm::ConnectionTrait;
        let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .ok();
    }
    if let Some(dir) = sqlite_dir {
        std::fs::remove_dir_all(dir).ok();
    }
}
