//! Operations: health, readiness, metrics, logs, configuration errors and
//! graceful shutdown of the real binary.
//! One piece: what an operator sees of a running service, most of it through the real binary.
mod common;

use std::{
    process::{Command, Stdio},
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use common::{
    binary::{temp_dir, wait_with_limit, Binary},
    logs::captured_logs,
    *,
};
use migration::MigratorTrait;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A service that serves `/metrics` on a listener of its own.
async fn spawn_with_metrics(adjust: impl FnOnce(&mut payouts::config::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.metrics_bind = Some("127.0.0.1:0".into());
        adjust(c)
    })
    .await
}

async fn metrics_text(app: &TestApp) -> String {
    let addr = app
        .running
        .as_ref()
        .unwrap()
        .metrics_addr
        .expect("metrics_bind is set");
    let response = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    response.text().await.unwrap()
}

/// The value of one sample line (`name{labels} value`), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    assert_eq!(
        get_json(&app, "/healthz").await,
        (200, json!({"status": "ok"}))
    );
    let (status, body) = get_json(&app, "/readyz").await;
    assert_eq!((status, &body["status"]), (200, &json!("ready")), "{body}");
    assert_eq!(body["migrations"]["pending"], json!([]));

    // The operations routes stay out of the published API.
    let spec = payouts::api::spec_yaml();
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert!(!spec.contains(path), "{path} is in the spec");
    }

    // A migration this build knows but the database lacks: not ready.
    let name = migration::Migrator::migrations()[0].name().to_string();
    app.db()
        .execute_unprepared(&format!(
            "DELETE FROM seaql_migrations WHERE version = '{name}'"
        ))
        .await
        .unwrap();
    let (status, body) = get_json(&app, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["migrations"]["pending"], json!([name]));
    // Liveness does not depend on the database.
    assert_eq!(get_json(&app, "/healthz").await.0, 200);

    // The database gone: not ready, and the answer is JSON.
    app.db().clone().close().await.unwrap();
    let (status, body) = get_json(&app, "/readyz").await;
    assert_eq!((status, &body["database"]), (503, &json!("unreachable")));
    assert_eq!(get_json(&app, "/healthz").await.0, 200);
    app.stop_unchecked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_payouts_and_provider_calls() {
    let app = spawn_with_metrics(manual_jobs).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 5000).await;
    let series =
        r#"http_requests_total{method="GET",route="/api/v1/payouts/:param0",status="404"}"#;
    let before = sample(&metrics_text(&app).await, series);
    for id in ["po_nope1", "po_nope2"] {
        assert_eq!(
            app.get(&format!("/payouts/{id}"), &org.key).await.status,
            404
        );
    }
    let text = metrics_text(&app).await;
    assert_eq!(sample(&text, series) - before, 2.0, "{text}");
    // Unknown paths share one label instead of one series each.
    app.get("/no/such/route", &org.key).await;
    let text = metrics_text(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        1.0,
        "{text}"
    );
    assert!(!text.contains("po_nope1"));

    let payout = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    let id = payout.data()["id"].as_str().unwrap().to_string();
    app.settle().await;
    app.expect_status(&format!("/payouts/{id}"), &org.key, "paid")
        .await;
    let text = metrics_text(&app).await;
    assert_eq!(sample(&text, r#"payouts{status="paid"}"#), 1.0, "{text}");
    assert_eq!(sample(&text, r#"payouts{status="pending"}"#), 0.0);
    assert_eq!(
        sample(
            &text,
            r#"provider_call_duration_seconds_count{operation="create_payout",provider="sandbox"}"#
        ),
        1.0,
        "{text}"
    );
    // The payout went pending → in_transit → paid by two delivered webhooks.
    assert!(
        sample(
            &text,
            r#"sandbox_webhook_deliveries_total{result="succeeded"}"#
        ) >= 2.0,
        "{text}"
    );
    assert!(text.contains("job_queue_depth "));
    // Only there: the public listener does not serve it.
    let (status, body) = get_json(&app, "/metrics").await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_served_unless_a_metrics_address_is_set() {
    let app = TestApp::spawn().await;
    assert!(app.running.as_ref().unwrap().metrics_addr.is_none());
    let org = app.org().await;
    let (status, body) = get_json(&app, "/metrics").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    // Not with a key either: it is not an API resource.
    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .header("x-api-key", &org.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(!response.text().await.unwrap().contains("payouts{"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_requests_are_labelled_with_their_route() {
    let app = spawn_with_metrics(|c| {
        c.rate_limit_burst = 1;
        c.rate_limit_per_second = 0.001;
    })
    .await;
    let org = app.org().await;
    assert_eq!(app.get("/balance", &org.key).await.status, 200);
    let reply = app.get("/payouts/po_x", &org.key).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    let text = metrics_text(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="/api/v1/payouts/:param0",status="429"}"#
        ),
        1.0,
        "{text}"
    );
    assert!(
        !text.contains(r#"route="unmatched",status="429""#),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_the_request_id_and_no_secrets() {
    let logs = captured_logs();
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let bank = app
        .post(
            "/payouts/bank-accounts",
            &org.key,
            json!({"accountNumber": GOOD_ACCOUNT, "accountHolderName": "Ann Lee", "routingNumber": TEST_ROUTING, "setDefault": true}),
        )
        .await;
    assert_eq!(bank.status, 201, "{}", bank.body);
    app.credit(&org, 5000).await;
    let response = app
        .client
        .post(format!("{}/api/v1/payouts", app.base))
        .header("x-api-key", &org.key)
        .header("x-request-id", "req-logcheck-1")
        .json(&json!({"amount": 1000}))
        .send()
        .await
        .unwrap();
    let reply = TestApp::reply(response).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.data()["id"].as_str().unwrap().to_string();
    app.settle().await;
    app.expect_status(&format!("/payouts/{id}"), &org.key, "paid")
        .await;
    app.stop().await;

    let text = logs.text();
    let lines = logs.lines();
    assert!(lines.len() > 10, "too few log lines: {text}");
    assert!(!text.contains(GOOD_ACCOUNT), "account number logged");
    assert!(!text.contains(&org.key), "API key logged");
    // The provider call happens in the service layer, inside the request's span.
    let in_request = |message: &str| {
        lines
            .iter()
            .any(|l| l["message"] == message && l["span"]["request_id"] == "req-logcheck-1")
    };
    assert!(in_request("provider call"), "{text}");
    assert!(in_request("request"), "{text}");
}

/// Settings that are free text: any value is valid.
const FREE_TEXT_SETTINGS: [&str; 2] = ["PAYOUTS_SANDBOX_WEBHOOK_SECRET", "PAYOUTS_REDIS_PREFIX"];

/// Every invalid or out-of-range setting stops the start, naming the variable.
/// Each variable the configuration reads has a case here (checked below),
/// so a setting added later without one fails this test.
#[test]
fn invalid_configuration_fails_at_start_naming_the_variable() {
    let dir = temp_dir("config");
    let database = format!("sqlite://{}?mode=rwc", dir.join("p.db").display());
    let stripe = |more: &[(&'static str, &'static str)]| {
        let mut env = vec![
            ("PAYOUTS_PROVIDER", "stripe"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ];
        for (name, value) in more {
            env.retain(|(n, _)| n != name);
            env.push((*name, *value));
        }
        env
    };
    let one = |name: &'static str, value: &'static str| (vec![(name, value)], name);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        one("DATABASE_URL", "mysql://localhost/payouts"),
        one("PAYOUTS_BIND", "not an address"),
        one("PAYOUTS_SANDBOX_DELAY_MS", "abc"),
        one("PAYOUTS_LOG_FORMAT", "xml"),
        one("PAYOUTS_LOG", "payouts=loud"),
        one("PAYOUTS_ENCRYPTION_KEY", "short"),
        one("PAYOUTS_SQLITE_SYNCHRONOUS", "sometimes"),
        one("PAYOUTS_SQLITE_GROUP_COMMIT", "maybe"),
        one("PAYOUTS_PUBLIC_URL", "not a url"),
        one("PAYOUTS_DOCUMENT_ALLOW_HOSTS", "127.0.0.1:8000,localhost"),
        one("PAYOUTS_DOCUMENT_ALLOW_HOSTS", "127.0.0.1:99999"),
        one("PAYOUTS_REDIS_URL", "not-a-redis-url"),
        one("PAYOUTS_OPERATOR_TOKENS", "sha256:zz"),
        // Out of range: each once passed the start and broke requests.
        one("PAYOUTS_IDEMPOTENCY_LOCK_MS", "18446744073709551615"),
        one("PAYOUTS_IDEMPOTENCY_LOCK_MS", "10000000000000000"),
        one("PAYOUTS_IDEMPOTENCY_LOCK_MS", "0"),
        one("PAYOUTS_JOB_LEASE_MS", "0"),
        one("PAYOUTS_JOB_RETRY_BASE_MS", "99999999999"),
        one("PAYOUTS_SANDBOX_DELAY_MS", "18446744073709551615"),
        one("PAYOUTS_DOCUMENT_TIMEOUT_MS", "0"),
        one("PAYOUTS_REQUEST_READ_TIMEOUT_MS", "0"),
        one("PAYOUTS_JOB_POLL_MS", "0"),
        one("PAYOUTS_PROVIDER_RETRY_DELAY_MS", "999999999999"),
        one("PAYOUTS_PROVIDER_MAX_ATTEMPTS", "0"),
        one("PAYOUTS_DOCUMENT_MAX_BYTES", "0"),
        one("PAYOUTS_MAX_BODY_BYTES", "10"),
        one("PAYOUTS_RATE_LIMIT_PER_SECOND", "inf"),
        one("PAYOUTS_RATE_LIMIT_PER_SECOND", "NaN"),
        one("PAYOUTS_RATE_LIMIT_BURST", "0"),
        one("PAYOUTS_PAYOUT_FEE_BPS", "10001"),
        one("PAYOUTS_PAYOUT_FEE_FIXED_CENTS", "-1"),
        one("PAYOUTS_METRICS_BIND", "not an address"),
        one("PAYOUTS_WEBHOOK_TIMEOUT_MS", "0"),
        one("PAYOUTS_WEBHOOK_TIMEOUT_MS", "60001"),
        one("PAYOUTS_WEBHOOK_TIMEOUT_MS", "18446744073709551615"),
        one("PAYOUTS_RECONCILE_AFTER_MS", "0"),
        one("PAYOUTS_RECONCILE_AFTER_MS", "2592000001"),
        one("PAYOUTS_DOCUMENT_FETCHES_MAX", "0"),
        one("PAYOUTS_DOCUMENT_FETCHES_MAX", "4097"),
        one("PAYOUTS_DOCUMENT_FETCHES_MAX", "-1"),
        one("PAYOUTS_PROVIDER", "paypal"),
        (vec![("PAYOUTS_PROVIDER", "stripe")], "STRIPE_SECRET_KEY"),
        (
            stripe(&[("STRIPE_SECRET_KEY", "pk_live_x")]),
            "STRIPE_SECRET_KEY",
        ),
        (
            stripe(&[("STRIPE_WEBHOOK_SECRET", " ")]),
            "STRIPE_WEBHOOK_SECRET",
        ),
        (
            stripe(&[("STRIPE_WEBHOOK_SECRET", "sk_live_x")]),
            "STRIPE_WEBHOOK_SECRET",
        ),
        (
            stripe(&[("STRIPE_API_BASE", "not a url")]),
            "STRIPE_API_BASE",
        ),
        (
            stripe(&[("STRIPE_FILES_BASE", "ftp://files.example")]),
            "STRIPE_FILES_BASE",
        ),
    ];

    // Every variable the configuration reads has a case (or is free text).
    let sources = [
        include_str!("../src/config.rs"),
        include_str!("../src/logging.rs"),
    ];
    let read: std::collections::BTreeSet<&str> = sources
        .iter()
        .flat_map(|source| source.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| {
            (word.starts_with("PAYOUTS_") || word.starts_with("STRIPE_") || *word == "DATABASE_URL")
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    assert!(read.len() > 30, "{read:?}");
    let missing: Vec<&&str> = read
        .iter()
        .filter(|name| !FREE_TEXT_SETTINGS.contains(name) && !cases.iter().any(|(_, n)| n == *name))
        .collect();
    assert!(
        missing.is_empty(),
        "settings without an invalid case: {missing:?}"
    );

    for (env, name) in &cases {
        let mut command = Binary::new().command();
        command.arg("serve");
        if !env.iter().any(|(n, _)| *n == "PAYOUTS_BIND") {
            command.args(["--bind", "127.0.0.1:0"]);
        }
        let mut child = command
            .env("DATABASE_URL", &database)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_with_limit(&mut child, Duration::from_secs(20));
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{env:?} was accepted");
        assert!(
            stderr.contains(name),
            "{env:?} should name {name}: {stderr}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_in_flight_request_finish_and_exits_zero() {
    let dir = temp_dir("shutdown");
    let database = format!("sqlite://{}?mode=rwc", dir.join("p.db").display());
    // The document server answers /slow.pdf after 2 s and counts requests.
    let documents = DocumentServer::start().await;
    let binary = Binary::new().env("DATABASE_URL", &database);
    let created = binary.cli(&["org", "create", "--name", "Slow"]).await;
    let key = created["apiKey"].as_str().unwrap().to_string();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = binary
        .clone()
        .env("PAYOUTS_BIND", format!("127.0.0.1:{port}"))
        .env("PAYOUTS_DOCUMENT_ALLOW_HOSTS", &documents.host)
        .env("PAYOUTS_SANDBOX_DELAY_MS", "60000")
        .serve(&base)
        .await;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);

    // The verification fetches the (slow) document while we send SIGTERM.
    let body = json!({
        "email": "owner@acme.test", "businessType": "individual", "businessUrl": "https://acme.test",
        "documentUrl": documents.url("/slow.pdf"),
        "bank": {"accountNumber": GOOD_ACCOUNT, "accountHolderName": "Ann Lee", "routingNumber": TEST_ROUTING},
        "individual": {"firstName": "Ann", "lastName": "Lee", "phone": "+15550100", "dateOfBirth": "1990-01-01",
            "address": {"line1": "1 Main St", "city": "San Francisco", "state": "CA", "postalCode": "94107", "country": "US"}}
    });
    let in_flight = tokio::spawn(
        client
            .post(format!("{base}/api/v1/payouts/verification"))
            .header("x-api-key", &key)
            .json(&body)
            .send(),
    );
    while documents.hits.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the document was never fetched");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    // New connections are refused while the request is still running.
    let refused = Instant::now() + Duration::from_secs(1);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < refused, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !in_flight.is_finished(),
        "the request ended before the document came"
    );

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(response.status(), 201);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["data"]["status"], "pending_verification", "{reply}");
    let status = wait_with_limit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));
    std::fs::remove_dir_all(dir).ok();
}

/// A one-shot command prints its JSON on stdout and, unless asked with
/// `PAYOUTS_LOG`, logs only warnings: no migration chatter on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_command_logs_only_warnings_unless_asked() {
    let dir = temp_dir("cli-logs");
    let database = format!("sqlite://{}?mode=rwc", dir.join("p.db").display());
    let run = move |log: Option<&'static str>| {
        let mut command = Binary::new()
            .env("DATABASE_URL", &database)
            .env("PAYOUTS_ENCRYPTION_KEY", "ab".repeat(32))
            .command();
        command.env_remove("PAYOUTS_LOG");
        if let Some(level) = log {
            command.env("PAYOUTS_LOG", level);
        }
        command.args(["org", "create", "--name", "Quiet"]);
        command.output().expect("the payouts binary runs")
    };
    let (default, asked) = tokio::task::spawn_blocking(move || (run(None), run(Some("info"))))
        .await
        .unwrap();
    for output in [&default, &asked] {
        assert!(output.status.success(), "{output:?}");
        let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(printed["apiKey"].is_string(), "{printed}");
    }
    assert_eq!(String::from_utf8_lossy(&default.stderr), "");
    let stderr = String::from_utf8_lossy(&asked.stderr);
    assert!(stderr.contains("INFO"), "{stderr}");
}
