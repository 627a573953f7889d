//! Security properties, over HTTP.
//!
//! One piece: the secret scans share one traffic generator and log capture, each property its own test.
//!
//! Security properties, each shown over HTTP (or the real binary): account
//! numbers and API keys never leave the service in clear, organizations are
//! isolated, keys are rate limited, and oversized or slow requests are
//! refused in the error envelope.
mod common;

use std::time::Duration;

use common::{binary::Binary, logs::captured_logs_at, *};
use payouts::{crypto::Cipher, service::ledger};
use reqwest::Method;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Statement};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NEW_ACCOUNT: &str = "000999999991";

// ---------------------------------------------------------------- helpers

/// Every byte the database holds: the SQLite file and its WAL, or on
/// PostgreSQL every row of every table as JSON text.
async fn database_bytes(app: &TestApp) -> Vec<u8> {
    if let Some(path) = payouts::config::sqlite_file(&app.config.database_url) {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            if let Ok(mut file) = std::fs::read(format!("{path}{suffix}")) {
                bytes.append(&mut file);
            }
        }
        assert!(!bytes.is_empty(), "no database file at {path}");
        return bytes;
    }
    let db = app.db();
    let backend = db.get_database_backend();
    let tables = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        ))
        .await
        .unwrap();
    let mut bytes = Vec::new();
    for table in tables {
        let name: String = table.try_get_by_index(0).unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT row_to_json(t)::text FROM \"{name}\" t"),
            ))
            .await
            .unwrap();
        for row in rows {
            let text: String = row.try_get_by_index(0).unwrap();
            bytes.extend_from_slice(text.as_bytes());
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// A reply, with its body and headers kept as text for scanning.
fn transcript(reply: &Reply) -> String {
    format!("{:?}\n{}\n", reply.headers, reply.body)
}

/// The real binary, against the test's database.
async fn cli(app: &TestApp, args: &[&str]) -> (bool, Value, String) {
    let output = Binary::new()
        .env("DATABASE_URL", &app.config.database_url)
        .env("PAYOUTS_ENCRYPTION_KEY", Cipher::generate_key_hex())
        .env("PAYOUTS_LOG", "warn")
        .run(args)
        .await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.success(), json, stdout)
}

struct Raw {
    status: u16,
    head: String,
    body: Value,
}

/// Sends `head` and then `chunks` (pausing between them) on a raw
/// connection, and reads the answer. Writing stops at the first error: the
/// server may answer and close before the client is done.
async fn raw(app: &TestApp, head: String, chunks: Vec<Vec<u8>>, pause: Duration) -> Raw {
    let stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for chunk in chunks {
            tokio::time::sleep(pause).await;
            writer.write_all(&chunk).await?;
        }
        // Keep the connection open: the client never says it is done.
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, std::io::Error>(writer)
    });
    let mut answer = Vec::new();
    // A guard against a hung test, not a speed requirement.
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if complete(&answer) {
                break;
            }
        }
    })
    .await;
    sending.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Raw {
        status,
        head: head.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// A whole response with a Content-Length body has arrived.
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.to_ascii_lowercase()
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|len| body.len() >= len)
}

fn post_head(app: &TestApp, key: &str, extra: &str) -> String {
    format!(
        "POST /api/v1/payouts HTTP/1.1\r\nhost: {}\r\nx-api-key: {key}\r\ncontent-type: application/json\r\nconnection: close\r\n{extra}\r\n",
        app.base.trim_start_matches("http://")
    )
}

// ---------------------------------------------------------------- secrets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_numbers_never_leave_the_service_in_clear() {
    // Every level: nothing logged anywhere may carry a secret.
    let logs = captured_logs_at("trace");
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
    let org = app.org().await;
    app.credit(&org, 50_000).await;
    let mut seen = String::new();

    let reply = app
        .post(
            "/payouts/verification",
            &org.key,
            app.verification_body("1990-01-01", GOOD_ACCOUNT),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    seen += &transcript(&reply);
    let now = chrono::Utc::now().timestamp();
    let event = json!({"id": "evt_verify_leak", "type": "account.updated", "created": now,
        "data": {"object": {"id": reply.data()["providerAccountId"], "status": "verified"}}})
    .to_string();
    let receipt = app
        .send_webhook(&event, Some(app.signed_webhook(&event, now)))
        .await;
    seen += &transcript(&receipt);
    seen += &app
        .expect_status("/payouts/account", &org.key, "verified")
        .await
        .to_string();

    // A refused request that carries the number must not echo it either.
    let refused = app
        .post(
            "/payouts/bank-accounts",
            &org.key,
            json!({"accountNumber": NEW_ACCOUNT, "accountHolderName": ""}),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    seen += &transcript(&refused);
    let added = app
        .post(
            "/payouts/bank-accounts",
            &org.key,
            json!({"accountNumber": NEW_ACCOUNT, "accountHolderName": "Ann Lee",
                   "routingNumber": TEST_ROUTING, "setDefault": true}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.data()["last4"], "9991");
    seen += &transcript(&added);

    let payout = app
        .post("/payouts", &org.key, json!({"amount": 10_000}))
        .await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    seen += &transcript(&payout);
    let id = payout.data()["id"].as_str().unwrap().to_string();
    // The sandbox's events (its verdict, in_transit, paid), delivered now.
    app.settle().await;
    seen += &app
        .expect_status(&format!("/payouts/{id}"), &org.key, "paid")
        .await
        .to_string();
    seen += &transcript(&app.get("/balance", &org.key).await);

    let stored = database_bytes(&app).await;
    // The scans see real data (so finding nothing means something).
    assert!(contains(&stored, &id), "the database scan misses rows");
    let logs = logs.text();
    assert!(
        logs.contains(&id),
        "the log capture misses the service's logs"
    );
    for number in [GOOD_ACCOUNT, NEW_ACCOUNT] {
        assert!(!seen.contains(number), "{number} in a response: {seen}");
        assert!(!logs.contains(number), "{number} in the logs");
        assert!(!contains(&stored, number), "{number} stored in clear");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_created_listed_and_revoked_by_the_operator() {
    let app = TestApp::spawn().await;
    let org = app.org().await;

    let (ok, created, _) = cli(&app, &["key", "create", "--org", &org.id]).await;
    assert!(ok, "{created}");
    let second = created["apiKey"].as_str().unwrap().to_string();
    let second_id = created["keyId"].as_str().unwrap().to_string();
    assert!(second.starts_with("ck_test_"));
    assert_eq!(created["prefix"], &second[..12]);
    assert_eq!(app.get("/balance", &second).await.status, 200);

    let (ok, listed, stdout) = cli(&app, &["key", "list", "--org", &org.id]).await;
    assert!(ok, "{stdout}");
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2, "{listed}");
    assert!(!stdout.contains(&second) && !stdout.contains(&org.key));
    assert!(!stdout.contains("apiKey"));

    // Revoked: refused on the very next request; the other key still works.
    let (ok, revoked, _) = cli(&app, &["key", "revoke", "--key-id", &second_id]).await;
    assert!(ok && revoked["revokedAt"].is_string(), "{revoked}");
    let reply = app.get("/balance", &second).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (401, "unauthorized")
    );
    let reply = app.post("/payouts", &second, json!({"amount": 1000})).await;
    assert_eq!(reply.status, 401);
    assert_eq!(app.get("/balance", &org.key).await.status, 200);

    // By prefix too.
    let (_, third, _) = cli(&app, &["key", "create", "--org", &org.id]).await;
    let third_key = third["apiKey"].as_str().unwrap().to_string();
    assert_eq!(app.get("/balance", &third_key).await.status, 200);
    let prefix = third["prefix"].as_str().unwrap();
    let (ok, _, stdout) = cli(&app, &["key", "revoke", "--prefix", prefix]).await;
    assert!(ok, "{stdout}");
    assert_eq!(app.get("/balance", &third_key).await.status, 401);

    let (ok, listed, _) = cli(&app, &["key", "list", "--org", &org.id]).await;
    assert!(ok);
    let revoked = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["revokedAt"].is_string())
        .count();
    assert_eq!(revoked, 2, "{listed}");

    // Unknown organization or key: a clear failure, nothing created.
    let (ok, _, _) = cli(&app, &["key", "create", "--org", "org_nope"]).await;
    assert!(!ok);
    let (ok, _, _) = cli(&app, &["key", "revoke", "--key-id", "key_nope"]).await;
    assert!(!ok);

    let stored = database_bytes(&app).await;
    assert!(contains(
        &stored,
        &payouts::crypto::sha256_hex(org.key.as_bytes())
    ));
    for key in [&org.key, &second, &third_key] {
        assert!(!contains(&stored, key), "an API key is stored in clear");
    }
    app.stop().await;
}

// ---------------------------------------------------------------- tenancy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organization_sees_nothing_and_changes_nothing() {
    // The sandbox never settles A's payout during the test: A's balance
    // must not move, whatever the machine's load.
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let a = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&a, 50_000).await;
    let b = app.org().await;
    let body = json!({"amount": 10_000});
    let idem = |key: &str| {
        app.client
            .post(format!("{}/api/v1/payouts", app.base))
            .header("x-api-key", key)
            .header("idempotency-key", "shared-key")
            .json(&body)
    };
    let first = TestApp::reply(idem(&a.key).send().await.unwrap()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let payout_id = first.data()["id"].as_str().unwrap().to_string();
    let a_balance = app.balance(&a).await;

    // A's payout, to B: exactly as absent as one that does not exist.
    let theirs = app.get(&format!("/payouts/{payout_id}"), &b.key).await;
    let absent = app.get("/payouts/po_doesnotexist0000000000", &b.key).await;
    assert_eq!(theirs.status, 404);
    assert_eq!(theirs.body, absent.body);
    assert_eq!(
        app.get(&format!("/payouts/{payout_id}"), &a.key)
            .await
            .status,
        200
    );

    let reply = app.get("/payouts/account", &b.key).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (404, "not_found")
    );

    let reply = app.get("/balance", &b.key).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.data()["available"], 0);

    let reply = app.post("/payouts", &b.key, json!({"amount": 1000})).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (409, "payout_account_required")
    );

    let bank =
        json!({"accountNumber": NEW_ACCOUNT, "accountHolderName": "Bea", "setDefault": true});
    let reply = app.post("/payouts/bank-accounts", &b.key, bank).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (409, "payout_account_required")
    );

    // Idempotency keys are per organization: B's request with A's key runs
    // as B's own, and is not A's stored answer.
    let reply = TestApp::reply(idem(&b.key).send().await.unwrap()).await;
    assert_eq!(reply.error_code(), "payout_account_required");
    assert!(!reply.headers.contains_key("idempotent-replayed"));
    assert!(!reply.body.to_string().contains(&payout_id));
    let replay = TestApp::reply(idem(&a.key).send().await.unwrap()).await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.data()["id"], payout_id.as_str());

    // A is untouched: same balance, still one bank account, one payout.
    assert_eq!(app.balance(&a).await, a_balance);
    let banks = entity::bank_account::Entity::find()
        .filter(entity::bank_account::Column::OrganizationId.eq(&a.id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(banks, 1);
    let payouts_of_b = entity::payout::Entity::find()
        .filter(entity::payout::Column::OrganizationId.eq(&b.id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(payouts_of_b, 0);
    app.stop().await;
}

// ---------------------------------------------------------------- rate limits

fn rate_headers(headers: &reqwest::header::HeaderMap) -> (String, String, String) {
    let get = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_string()
    };
    (
        get("ratelimit-limit"),
        get("ratelimit-remaining"),
        get("ratelimit-reset"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_budget_gets_429_and_others_do_not() {
    // Refills one token per 100 s: nothing refills during the test.
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_burst = 3;
        c.rate_limit_per_second = 0.01;
    })
    .await;
    let org = app.org().await;
    app.credit(&org, 50_000).await;
    let other = app.org().await;

    for remaining in ["2", "1", "0"] {
        let reply = app.get("/balance", &org.key).await;
        assert_eq!(reply.status, 200);
        let (limit, left, reset) = rate_headers(&reply.headers);
        assert_eq!((limit.as_str(), left.as_str()), ("3", remaining));
        assert!(reset.parse::<u64>().unwrap() > 0);
    }
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (429, "rate_limited")
    );
    assert_eq!(reply.body["error"]["type"], "rate_limit_error");
    assert_eq!(reply.headers["retry-after"], "100");
    assert_eq!(rate_headers(&reply.headers).1, "0");
    // Refused, so nothing happened.
    let model = payouts::service::orgs::find(app.db(), &org.id)
        .await
        .unwrap()
        .unwrap();
    let balance = ledger::get_balance(app.db(), &model.id).await.unwrap();
    assert_eq!((balance.available, balance.in_payout), (50_000, 0));

    let reply = app.get("/balance", &other.key).await;
    assert_eq!(reply.status, 200);
    assert_eq!(rate_headers(&reply.headers).1, "2");
    // Requests without a valid key are not counted and carry no budget.
    let reply = app
        .request(Method::GET, "/balance", Some("ck_test_unknown"), None)
        .await;
    assert_eq!(reply.status, 401);
    assert!(!reply.headers.contains_key("ratelimit-limit"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_redis_share_the_budget() {
    let redis_url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let prefix = format!("payouts-test:{}:", payouts::ids::new_id("t"));
    let shared = |c: &mut payouts::config::Config| {
        c.redis_url = Some(redis_url.clone());
        c.redis_prefix = prefix.clone();
        c.rate_limit_burst = 4;
        c.rate_limit_per_second = 0.01;
    };
    let one = TestApp::spawn_with(shared).await;
    let (database_url, cipher) = (one.config.database_url.clone(), one.config.cipher.clone());
    let two = TestApp::spawn_with(|c| {
        shared(c);
        c.database_url = database_url;
        c.cipher = cipher;
    })
    .await;
    let org = one.org().await;
    let other = one.org().await;

    for (app, remaining) in [(&one, "3"), (&two, "2"), (&one, "1"), (&two, "0")] {
        let reply = app.get("/balance", &org.key).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(rate_headers(&reply.headers).1, remaining);
    }
    for app in [&one, &two] {
        let reply = app.get("/balance", &org.key).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (429, "rate_limited")
        );
        assert!(
            reply.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1
        );
    }
    assert_eq!(two.get("/balance", &other.key).await.status, 200);
    two.stop().await;
    one.stop().await;
}

// ---------------------------------------------------------------- request limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_over_the_cap_is_refused() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    app.credit(&org, 50_000).await;
    // 64 KiB cap in the tests; 80 KiB of JSON, chunked, no Content-Length.
    let json = format!(
        "{{\"amount\": 1000, \"description\": \"{}\"}}",
        "x".repeat(80 * 1024)
    );
    let chunks = json
        .as_bytes()
        .chunks(8 * 1024)
        .map(|c| {
            [
                format!("{:x}\r\n", c.len()).into_bytes(),
                c.to_vec(),
                b"\r\n".to_vec(),
            ]
            .concat()
        })
        .chain([b"0\r\n\r\n".to_vec()])
        .collect();
    let head = post_head(&app, &org.key, "transfer-encoding: chunked\r\n");
    let reply = raw(&app, head, chunks, Duration::ZERO).await;
    assert_eq!(reply.status, 413, "{}", reply.head);
    assert_eq!(reply.body["error"]["code"], "payload_too_large");
    assert_eq!(app.balance(&org).await["available"], 50_000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_body_is_cut_off() {
    let app = TestApp::spawn_with(|c| c.request_read_timeout = Duration::from_millis(500)).await;
    let org = app.org().await;
    app.credit(&org, 50_000).await;
    // Announces 100 bytes, then trickles a byte every 100 ms: each read
    // makes progress, but the whole body never arrives in time.
    let head = post_head(&app, &org.key, "content-length: 100\r\n");
    let trickle = b"{\"amount\": 1000, \"description\": \""
        .iter()
        .map(|b| vec![*b])
        .collect();
    let reply = raw(&app, head, trickle, Duration::from_millis(100)).await;
    assert_eq!(reply.status, 408, "{}", reply.head);
    assert_eq!(reply.body["error"]["code"], "request_timeout");
    assert!(reply.head.contains("x-request-id"));
    // Nothing happened, and the service still serves others.
    assert_eq!(app.balance(&org).await["available"], 50_000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    let url = format!("{}/api/v1/balance", app.base);

    let big = app
        .client
        .get(&url)
        .header("x-api-key", &org.key)
        .header("x-filler", "a".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    let reply = TestApp::reply(big).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (431, "request_header_fields_too_large")
    );

    let mut many = app.client.get(&url).header("x-api-key", &org.key);
    for i in 0..80 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let reply = TestApp::reply(many.send().await.unwrap()).await;
    assert_eq!(reply.error_code(), "request_header_fields_too_large");

    // Far beyond: hyper refuses before any handler (no envelope possible
    // from there, but a clean 431 and a closed connection).
    let head = format!(
        "GET /api/v1/balance HTTP/1.1\r\nhost: x\r\nx-filler: {}\r\nconnection: close\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let reply = raw(&app, head, vec![], Duration::ZERO).await;
    assert_eq!(reply.status, 431, "{}", reply.head);

    assert_eq!(app.get("/balance", &org.key).await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_json_is_refused() {
    let app = TestApp::spawn().await;
    let org = app.org().await;
    app.credit(&org, 50_000).await;
    let depth = 200;
    let body = format!(
        "{{\"amount\": 1000, \"description\": {}1{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    for path in [
        "/payouts",
        "/payouts/bank-accounts",
        "/payouts/verification",
    ] {
        let response = app
            .client
            .post(format!("{}/api/v1{path}", app.base))
            .header("x-api-key", &org.key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let reply = TestApp::reply(response).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (400, "invalid_json"),
            "{path}"
        );
        assert!(reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit"));
    }
    assert_eq!(app.balance(&org).await["available"], 50_000);
    app.stop().await;
}
