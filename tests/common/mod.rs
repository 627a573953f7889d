//! Test harness.
//!
//! One piece: `TestApp` and its request helpers, which every integration test uses; the binary, logs and recording provider helpers are beside it.
//!
//! Test harness: starts the whole service on a free loopback port against a
//! fresh database (SQLite by default; PostgreSQL when TEST_DATABASE_URL is
//! set, one database per test) and drives it over HTTP.
#![allow(dead_code)]

pub mod binary;
pub mod fake_stripe;
pub mod logs;
pub mod recording;
pub mod servers;

use std::{future::Future, sync::Arc, time::Duration};

use payouts::{config::Config, crypto::Cipher, server, service::orgs};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
#[allow(unused_imports)] // each test binary uses some of them
pub use servers::{DocumentServer, Mode, Received, Receiver, Trap};

pub const GOOD_ACCOUNT: &str = "000123456789";
pub const TEST_ROUTING: &str = "110000000";

pub struct TestApp {
    pub base: String,
    pub config: Config,
    pub running: Option<server::Running>,
    pub client: reqwest::Client,
    pub documents: DocumentServer,
    /// Dropped at `stop`; a peer shares its first instance's, so has none.
    database: Option<TestDatabase>,
}

pub struct Org {
    pub id: String,
    pub key: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// The database for one test, and how to drop it afterwards.
pub async fn fresh_database() -> (String, Option<std::path::PathBuf>, Option<(String, String)>) {
    let name = format!(
        "payouts_t_{}",
        payouts::ids::new_id("x")[2..].to_lowercase()
    );
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(admin_url) => {
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let (prefix, _) = admin_url.rsplit_once('/').expect("database URL has a path");
            (format!("{prefix}/{name}"), None, Some((admin_url, name)))
        }
        None => {
            let dir = std::env::temp_dir().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.join("payouts.db").display());
            (url, Some(dir), None)
        }
    }
}

/// One test's database: the suite's engine (`fresh`) or a SQLite file
/// whatever the engine (`sqlite`); `drop` removes it.
pub struct TestDatabase {
    pub url: String,
    sqlite_dir: Option<std::path::PathBuf>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn fresh() -> Self {
        let (url, sqlite_dir, postgres) = fresh_database().await;
        Self {
            url,
            sqlite_dir,
            postgres,
        }
    }

    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "payouts_t_{}",
            payouts::ids::new_id("x")[2..].to_lowercase()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("payouts.db").display());
        Self {
            url,
            sqlite_dir: Some(dir),
            postgres: None,
        }
    }

    /// The server's URL for administration and the database's name, on
    /// PostgreSQL.
    pub fn postgres(&self) -> Option<(&str, &str)> {
        self.postgres
            .as_ref()
            .map(|(admin, name)| (admin.as_str(), name.as_str()))
    }

    pub async fn drop(mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            if let Ok(admin) = Database::connect(&admin_url).await {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                admin.close().await.ok();
            }
        }
        if let Some(dir) = self.sqlite_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// How long a test waits for work it does not drive itself (the real
/// worker, another instance, a binary) before it fails.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Polls `probe` every 25 ms until it answers `Ok`, for at most `within`,
/// then fails saying what did not happen and its last answer. Only for work
/// the test does not drive: with the manual clock, run the jobs instead.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let last = match probe().await {
            Ok(done) => return done,
            Err(last) => last,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("{what}: not within {within:?}; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Turns the background job worker off and gives the job queue a manual
/// clock (see `TestApp::spawn_manual_jobs`), for the other spawn variants.
pub fn manual_jobs(config: &mut Config) {
    config.job_worker = false;
    config.clock = payouts::clock::Clock::manual(chrono::Utc::now());
}

/// The operator token of the tests that drive the operator API.
pub const OPERATOR_TOKEN: &str = "op_test_0123456789abcdefghijklmnopqrstuvwxyzABCD";

/// Makes the service know `OPERATOR_TOKEN` (by its hash) and `others`,
/// entries as `PAYOUTS_OPERATOR_TOKENS` takes them (a token or its hash).
pub fn operator_tokens(config: &mut Config, others: &[&str]) {
    use payouts::crypto::operator_token;
    let mut entries = vec![operator_token::hash_entry(OPERATOR_TOKEN)];
    entries.extend(others.iter().map(|entry| entry.to_string()));
    config.operator_token_hashes = operator_token::parse(&entries.join(",")).unwrap();
}

/// A loopback port nobody listens on right now (for a real binary to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_with_layer(adjust, Box::new(|provider| provider)).await
    }

    /// A service whose provider calls are recorded in the returned `Calls`.
    pub async fn spawn_recording(
        adjust: impl FnOnce(&mut Config),
    ) -> (TestApp, Arc<recording::Calls>) {
        let calls = Arc::new(recording::Calls::default());
        let recorded = calls.clone();
        let layer: payouts::service::ProviderLayer = Box::new(move |inner| {
            Arc::new(recording::Recording {
                inner,
                calls: recorded,
            })
        });
        (Self::spawn_with_layer(adjust, layer).await, calls)
    }

    pub async fn spawn_with_layer(
        adjust: impl FnOnce(&mut Config),
        layer: payouts::service::ProviderLayer,
    ) -> TestApp {
        Self::try_spawn_on(TestDatabase::fresh().await, adjust, layer)
            .await
            .expect("service starts")
    }

    /// A service on `database`, or why it would not start (the database
    /// then dropped).
    pub async fn try_spawn_on(
        database: TestDatabase,
        adjust: impl FnOnce(&mut Config),
        layer: payouts::service::ProviderLayer,
    ) -> anyhow::Result<TestApp> {
        let documents = DocumentServer::start().await;
        let database_url = database.url.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let cipher = Cipher::from_encoded_key(&Cipher::generate_key_hex()).unwrap();
        let mut config = Config::new(&database_url, base.trim_start_matches("http://"), cipher);
        // Fast timings, a small body cap and the local document server.
        config.sandbox_delay = Duration::from_millis(150);
        config.document_allow_hosts = vec![documents.host.clone()];
        config.document_max_bytes = 1024 * 1024;
        config.document_timeout = Duration::from_secs(5);
        config.max_body_bytes = 64 * 1024;
        config.job_poll_interval = Duration::from_millis(25);
        config.job_retry_base = Duration::from_millis(50);
        config.provider_retry_delay = Duration::from_millis(200);
        config.rate_limit_per_second = 1000.0;
        config.rate_limit_burst = 1000;
        config.redis_prefix = format!("payouts-test:{}:", payouts::ids::new_id("t"));
        adjust(&mut config);
        let running = match server::start_with_provider_layer(config.clone(), listener, layer).await
        {
            Ok(running) => running,
            Err(err) => {
                database.drop().await;
                return Err(err);
            }
        };
        Ok(TestApp {
            base,
            config,
            running: Some(running),
            client: reqwest::Client::new(),
            documents,
            database: Some(database),
        })
    }

    /// A service whose Stripe Connect provider is `fake` (live key, the
    /// fake's webhook secrets, a short request timeout), with the job
    /// worker off and a manual clock (as `spawn_manual_jobs`).
    pub async fn spawn_stripe(
        fake: &fake_stripe::FakeStripe,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let base = fake.base.clone();
        Self::spawn_manual_jobs(|c| {
            let mut stripe = payouts::config::StripeConfig::new(
                fake_stripe::SECRET_KEY,
                vec![fake_stripe::WEBHOOK_SECRET.to_string()],
            );
            stripe.api_base = base.clone();
            stripe.files_base = base;
            stripe.timeout = Duration::from_millis(1500);
            c.provider = payouts::config::ProviderChoice::Stripe(stripe);
            adjust(c)
        })
        .await
    }

    /// A service whose background job worker is off and whose job queue
    /// reads a manual clock: the test runs due jobs itself
    /// (`run_due_jobs`) and moves time (`advance`), so nothing waits.
    pub async fn spawn_manual_jobs(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_with(|c| {
            manual_jobs(c);
            adjust(c)
        })
        .await
    }

    /// Runs the jobs due now, once (as one pass of the worker).
    pub async fn run_due_jobs(&self) -> payouts::queue::Ran {
        self.app().run_due_jobs().await.expect("due jobs run")
    }

    /// Moves the job queue's manual clock forward.
    pub fn advance(&self, by: Duration) {
        self.app().clock.advance(by);
    }

    /// Runs due jobs, moving the manual clock a second at a time, until
    /// nothing is left to run now: the sandbox's events (a verdict, a
    /// payout's in_transit and paid or failed) and what they cause.
    pub async fn settle(&self) {
        let mut idle = 0;
        while idle < 3 {
            self.advance(Duration::from_secs(1));
            idle = if self.run_due_jobs().await.is_idle() {
                idle + 1
            } else {
                0
            };
        }
    }

    /// A second instance of the service on the same database (as behind a
    /// load balancer): same keys and secrets, its own port and worker.
    pub async fn spawn_peer(&self) -> TestApp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = self.config.clone();
        config.bind = base.trim_start_matches("http://").to_string();
        config.public_url = base.clone();
        let running = server::start(config.clone(), listener)
            .await
            .expect("peer starts");
        TestApp {
            base,
            config,
            running: Some(running),
            client: reqwest::Client::new(),
            documents: DocumentServer::start().await,
            database: None,
        }
    }

    pub fn app(&self) -> &payouts::service::App {
        &self.running.as_ref().unwrap().app
    }

    pub fn sandbox(&self) -> &payouts::provider::sandbox::SandboxProvider {
        &self.running.as_ref().unwrap().app.sandbox
    }

    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.running.as_ref().unwrap().app.db
    }

    /// Stops the service, checks the ledger's invariants (every scenario
    /// ends with the books right), and drops its database.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            let db = running.app.db.clone();
            running.stop().await;
            let problems = payouts::service::ledger::verify(&db)
                .await
                .expect("ledger verify runs");
            db.close().await.ok();
            self.drop_database().await;
            assert!(
                problems.is_empty(),
                "ledger invariants violated: {problems:#?}"
            );
        }
    }

    /// Stops the service and drops its database without the ledger check,
    /// for tests that broke the database on purpose.
    pub async fn stop_unchecked(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        self.drop_database().await;
    }

    async fn drop_database(&mut self) {
        if let Some(database) = self.database.take() {
            database.drop().await;
        }
    }

    pub async fn org(&self) -> Org {
        self.org_with(false).await
    }

    pub async fn org_with(&self, live: bool) -> Org {
        let created = orgs::create(self.db(), "Acme", "US", "usd", live)
            .await
            .unwrap();
        Org {
            id: created.organization.id,
            key: created.api_key,
        }
    }

    pub async fn credit(&self, org: &Org, amount: i64) {
        let model = orgs::find(self.db(), &org.id).await.unwrap().unwrap();
        payouts::service::funds::credit(self.db(), &model, amount, false, None)
            .await
            .unwrap();
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request.send().await.expect("request sent")).await
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(key), Some(body))
            .await
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.request(Method::GET, path, Some(key), None).await
    }

    pub fn verification_body(&self, date_of_birth: &str, account_number: &str) -> Value {
        json!({
            "email": "owner@acme.test",
            "businessType": "individual",
            "businessUrl": "https://acme.test",
            "documentUrl": self.documents.url("/id.pdf"),
            "bank": {"accountNumber": account_number, "accountHolderName": "Ann Lee", "routingNumber": TEST_ROUTING, "accountType": "checking"},
            "individual": {
                "firstName": "Ann", "lastName": "Lee", "phone": "+15550100", "dateOfBirth": date_of_birth,
                "address": {"line1": "1 Main St", "city": "San Francisco", "state": "CA", "postalCode": "94107", "country": "US"}
            }
        })
    }

    /// Verification with the given bank account, waited until `verified`.
    pub async fn verified_org(&self, account_number: &str) -> Org {
        let org = self.org().await;
        let body = self.verification_body("1990-01-01", account_number);
        let reply = self.post("/payouts/verification", &org.key, body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        // Deliver the provider's verdict now rather than after the sandbox delay.
        let now = chrono::Utc::now().timestamp();
        let event = json!({"id": format!("evt_verify_{}", org.id), "type": "account.updated", "created": now,
            "data": {"object": {"id": reply.data()["providerAccountId"], "status": "verified"}}})
        .to_string();
        let receipt = self
            .send_webhook(&event, Some(self.signed_webhook(&event, now)))
            .await;
        assert_eq!(receipt.status, 200, "{}", receipt.body);
        // Applied before the webhook's answer: nothing to wait for.
        self.expect_status("/payouts/account", &org.key, "verified")
            .await;
        org
    }

    /// A resource, which must have `status` `want` now (after `settle`,
    /// say); returns it.
    pub async fn expect_status(&self, path: &str, key: &str, want: &str) -> Value {
        let reply = self.get(path, key).await;
        assert_eq!(reply.data()["status"], want, "{path}: {}", reply.body);
        reply.data().clone()
    }

    /// Polls a resource until its `status` is `want` (for `WAIT_LIMIT` at
    /// most); returns it. Only where the real worker moves it: a service
    /// with a manual clock runs its jobs itself (`settle`, `expect_status`).
    pub async fn wait_for(&self, path: &str, key: &str, want: &str) -> Value {
        assert!(
            self.config.job_worker,
            "wait_for {path}: this service's worker is off, nothing would move it; run its jobs (settle) and use expect_status"
        );
        eventually(
            &format!("{path} reaching status {want} (moved by the background worker)"),
            WAIT_LIMIT,
            || async {
                let reply = self.get(path, key).await;
                if reply.data()["status"] == want {
                    Ok(reply.data().clone())
                } else {
                    Err(reply.body.to_string())
                }
            },
        )
        .await
    }

    pub async fn balance(&self, org: &Org) -> Value {
        self.get("/balance", &org.key).await.data().clone()
    }

    /// Signs a provider event body as the sandbox provider does.
    pub fn signed_webhook(&self, body: &str, timestamp: i64) -> String {
        payouts::crypto::stripe_signature::header(
            &self.config.sandbox_webhook_secret,
            timestamp,
            body.as_bytes(),
        )
    }

    pub async fn send_webhook(&self, body: &str, signature: Option<String>) -> Reply {
        let mut request = self
            .client
            .post(format!("{}/api/v1/provider-webhooks/sandbox", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        Self::reply(request.send().await.unwrap()).await
    }
}
