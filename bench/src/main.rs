//! `make bench`: loads the release service over loopback and measures each
//! figure beside its ceiling, in one run, then writes `bench/RESULTS.md`.
//!
//! Ceilings: POST /payouts against the same service-layer calls (API-key
//! lookup + `payouts::create`, the same SQL) in a tight loop in-process with
//! the same concurrency and pool; GET /payouts/{id} against a bare poem
//! handler answering the same JSON bytes.
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

const WEBHOOK_SECRET: &str = "bench-webhook-secret";
const KEY_HEX: &str = "4242424242424242424242424242424242424242424242424242424242424242";

fn secs() -> Duration {
    Duration::from_secs(env_or("BENCH_SECS", 5))
}
fn concurrency() -> usize {
    env_or("BENCH_CONCURRENCY", 16) as usize
}
fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Latencies of one load phase.
struct Stats {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

impl Stats {
    fn from(mut micros: Vec<u64>, errors: usize, elapsed: Duration) -> Stats {
        micros.sort_unstable();
        let pct = |p: f64| {
            micros
                .get(((micros.len() as f64 * p) as usize).min(micros.len().saturating_sub(1)))
                .map_or(f64::NAN, |&us| us as f64 / 1000.0)
        };
        Stats {
            rps: micros.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            errors,
        }
    }
}

/// One request of a load phase; `Ok(())` when it got the expected status.
type Call = Arc<dyn Fn() -> futures::BoxFuture<'static, bool> + Send + Sync>;

mod futures {
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

/// Saturation: `concurrency` workers, each sending as fast as answers come.
async fn closed_loop(call: Call, workers: usize, duration: Duration) -> Stats {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let t = Instant::now();
                if call().await {
                    lat.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (lat, e) = task.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    Stats::from(all, errors, started.elapsed())
}

/// A fixed arrival rate; latency counts from when each request was due,
/// so a stall is not hidden by requests that were never sent.
async fn open_loop(call: Call, rate: f64, duration: Duration) -> Stats {
    let period = Duration::from_secs_f64(1.0 / rate);
    let total = (rate * duration.as_secs_f64()) as u64;
    let started = tokio::time::Instant::now();
    let lat = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let errors = Arc::new(Mutex::new(0usize));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = started + period * i as u32;
        tokio::time::sleep_until(due).await;
        let (call, lat, errors) = (call.clone(), lat.clone(), errors.clone());
        tasks.spawn(async move {
            if call().await {
                lat.lock().unwrap().push(due.elapsed().as_micros() as u64);
            } else {
                *errors.lock().unwrap() += 1;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let lat = std::mem::take(&mut *lat.lock().unwrap());
    let errors = *errors.lock().unwrap();
    Stats::from(lat, errors, elapsed)
}

fn exe_dir() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

fn payouts_cli(database_url: &str, args: &[&str]) -> Result<Value> {
    let out = Command::new(exe_dir().join("payouts"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("PAYOUTS_ENCRYPTION_KEY", KEY_HEX)
        .stderr(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!("payouts {args:?} failed");
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Service {
    child: Child,
    base: String,
}

impl Service {
    fn start(database_url: &str, document_host: &str) -> Result<Service> {
        let port = free_port();
        let child = Command::new(exe_dir().join("payouts"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PAYOUTS_BIND", format!("127.0.0.1:{port}"))
            .env("PAYOUTS_ENCRYPTION_KEY", KEY_HEX)
            .env("PAYOUTS_SANDBOX_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("PAYOUTS_DOCUMENT_ALLOW_HOSTS", document_host)
            // Deliveries an hour out: the load measures the request, not the
            // settlement that follows it.
            .env("PAYOUTS_SANDBOX_DELAY_MS", "3600000")
            // One key drives the whole load: the limiter still runs on every
            // request, but must not be what the figures measure.
            .env("PAYOUTS_RATE_LIMIT_PER_SECOND", "1000000")
            .env("PAYOUTS_RATE_LIMIT_BURST", "1000000")
            // Default (info) logging, as deployed; the lines go nowhere.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Service {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Time until `/readyz` answers 200.
    async fn wait_ready(&self, client: &reqwest::Client, started: Instant) -> Result<Duration> {
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == 200 {
                    return Ok(started.elapsed());
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("the service never became ready");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Peak resident set (VmHWM) so far, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Serves the identity document the verification fetches.
async fn document_server() -> String {
    use poem::{get, handler, IntoResponse, Route};
    #[handler]
    fn document() -> impl IntoResponse {
        b"%PDF-1.4 bench"
            .to_vec()
            .with_content_type("application/pdf")
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_std(listener).unwrap();
    tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run(Route::new().at("/id.pdf", get(document))),
    );
    host
}

/// An organization with a verified payout account and a large balance.
async fn setup_org(
    client: &reqwest::Client,
    service: &Service,
    database_url: &str,
    document_host: &str,
) -> Result<(String, String)> {
    let org = payouts_cli(database_url, &["org", "create", "--name", "Bench"])?;
    let (org_id, key) = (
        org["organizationId"]
            .as_str()
            .context("org id")?
            .to_string(),
        org["apiKey"].as_str().context("api key")?.to_string(),
    );
    payouts_cli(
        database_url,
        &[
            "balance",
            "credit",
            "--org",
            &org_id,
            "--amount",
            "1000000000000",
        ],
    )?;
    let body = json!({
        "email": "owner@bench.test", "businessType": "individual", "businessUrl": "https://bench.test",
        "documentUrl": format!("http://{document_host}/id.pdf"),
        "bank": {"accountNumber": "000123456789", "accountHolderName": "Ann Lee", "routingNumber": "110000000"},
        "individual": {"firstName": "Ann", "lastName": "Lee", "phone": "+15550100", "dateOfBirth": "1990-01-01",
            "address": {"line1": "1 Main St", "city": "San Francisco", "state": "CA", "postalCode": "94107", "country": "US"}}
    });
    let reply: Value = client
        .post(format!("{}/api/v1/payouts/verification", service.base))
        .header("x-api-key", &key)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let account = reply["data"]["providerAccountId"].clone();
    // The provider's verdict, signed as the sandbox would sign it.
    let now = chrono::Utc::now().timestamp();
    let event =
        json!({"id": format!("evt_bench_{org_id}"), "type": "account.updated", "created": now,
        "data": {"object": {"id": account, "status": "verified"}}})
        .to_string();
    let signature =
        payouts::crypto::stripe_signature::header(WEBHOOK_SECRET, now, event.as_bytes());
    let receipt = client
        .post(format!("{}/api/v1/webhooks/sandbox", service.base))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(event)
        .send()
        .await?;
    if receipt.status() != 200 {
        bail!("verification webhook refused: {}", receipt.status());
    }
    Ok((org_id, key))
}

fn post_payout(client: &reqwest::Client, base: &str, key: &str) -> Call {
    let (client, url, key) = (
        client.clone(),
        format!("{base}/api/v1/payouts"),
        key.to_string(),
    );
    Arc::new(move || {
        let request = client
            .post(&url)
            .header("x-api-key", &key)
            .header("content-type", "application/json")
            .body(r#"{"amount":1000}"#);
        Box::pin(async move {
            match request.send().await {
                Ok(r) => r.status() == 201 && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        })
    })
}

fn get_url(client: &reqwest::Client, url: String, key: &str) -> Call {
    let (client, key) = (client.clone(), key.to_string());
    Arc::new(move || {
        let request = client.get(&url).header("x-api-key", &key);
        Box::pin(async move {
            match request.send().await {
                Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        })
    })
}

/// The storage ceiling: what POST /payouts does below HTTP, in-process.
async fn storage_ceiling(database_url: &str, key: &str) -> Result<Stats> {
    use payouts::{config::Config, crypto::Cipher, service};
    // The same pools the service runs on.
    let (writes, reads) =
        payouts::db::connect_pools(database_url, payouts::db::SqliteSync::Full).await?;
    let cipher = Cipher::from_encoded_key(KEY_HEX).map_err(anyhow::Error::msg)?;
    let mut config = Config::new(database_url, "127.0.0.1:0", cipher);
    config.sandbox_delay = Duration::from_secs(3600);
    config.sandbox_webhook_secret = WEBHOOK_SECRET.into();
    let app = service::App::with_pools(writes, reads, config);
    let key = key.to_string();
    let call: Call = Arc::new(move || {
        let (app, key) = (app.clone(), key.clone());
        Box::pin(async move {
            let Ok(Some((_, org))) = service::orgs::authenticate_key(&app.read_db, &key).await
            else {
                return false;
            };
            let created = service::payouts::create(&app, &org, 1000, None, None).await;
            created.is_ok()
        })
    });
    Ok(closed_loop(call, concurrency(), secs()).await)
}

/// A bare poem server answering GET /api/v1/payouts/:id with fixed bytes.
fn bare_server(port: &str, body_file: &str) -> Result<()> {
    use poem::{get, handler, web::Data, EndpointExt, IntoResponse, Route};
    #[handler]
    fn payout(Data(body): Data<&Arc<Vec<u8>>>) -> impl IntoResponse {
        body.as_ref()
            .clone()
            .with_content_type("application/json; charset=utf-8")
    }
    let body = Arc::new(std::fs::read(body_file)?);
    let routes = Route::new()
        .at("/api/v1/payouts/:id", get(payout))
        .data(body);
    tokio::runtime::Runtime::new()?.block_on(
        poem::Server::new(poem::listener::TcpListener::bind(format!(
            "127.0.0.1:{port}"
        )))
        .run(routes),
    )?;
    Ok(())
}

struct EngineResult {
    engine: &'static str,
    saturated: Stats,
    half: Stats,
    ceiling: Stats,
    get: Option<(Stats, Stats)>,
    rss_mib: f64,
}

async fn run_engine(
    engine: &'static str,
    database_url: &str,
    document_host: &str,
    with_get: bool,
) -> Result<EngineResult> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    payouts_cli(database_url, &["migrate"])?;
    let service = Service::start(database_url, document_host)?;
    service.wait_ready(&client, Instant::now()).await?;
    let (_org, key) = setup_org(&client, &service, database_url, document_host).await?;
    // Warm the connections and the pools before measuring.
    closed_loop(
        post_payout(&client, &service.base, &key),
        concurrency(),
        Duration::from_secs(1),
    )
    .await;

    eprintln!("[{engine}] POST /payouts at saturation");
    let saturated = closed_loop(
        post_payout(&client, &service.base, &key),
        concurrency(),
        secs(),
    )
    .await;
    eprintln!("[{engine}] POST /payouts at half that rate");
    let half = open_loop(
        post_payout(&client, &service.base, &key),
        (saturated.rps / 2.0).max(1.0),
        secs(),
    )
    .await;

    let mut get = None;
    if with_get {
        let created: Value = client
            .post(format!("{}/api/v1/payouts", service.base))
            .header("x-api-key", &key)
            .json(&json!({"amount": 1000}))
            .send()
            .await?
            .json()
            .await?;
        let id = created["data"]["id"]
            .as_str()
            .context("payout id")?
            .to_string();
        let url = format!("{}/api/v1/payouts/{id}", service.base);
        let body = client
            .get(&url)
            .header("x-api-key", &key)
            .send()
            .await?
            .bytes()
            .await?;
        eprintln!("[{engine}] GET /payouts/{{id}} at saturation");
        let served = closed_loop(get_url(&client, url, &key), concurrency(), secs()).await;

        let body_file =
            std::env::temp_dir().join(format!("payouts-bench-{}.json", std::process::id()));
        std::fs::write(&body_file, &body)?;
        let port = free_port();
        let mut bare = Command::new(std::env::current_exe()?)
            .args([
                "bare-server",
                &port.to_string(),
                body_file.to_str().unwrap(),
            ])
            .spawn()?;
        let bare_url = format!("http://127.0.0.1:{port}/api/v1/payouts/{id}");
        while client.get(&bare_url).send().await.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        eprintln!("[{engine}] GET on a bare poem handler at saturation");
        let bare_stats = closed_loop(get_url(&client, bare_url, &key), concurrency(), secs()).await;
        let _ = bare.kill();
        let _ = bare.wait();
        let _ = std::fs::remove_file(body_file);
        get = Some((served, bare_stats));
    }
    let rss_mib = service.peak_rss_mib();
    service.stop();

    eprintln!("[{engine}] storage ceiling: the same service calls in-process");
    let ceiling = storage_ceiling(database_url, &key).await?;
    Ok(EngineResult {
        engine,
        saturated,
        half,
        ceiling,
        get,
        rss_mib,
    })
}

/// Start to ready (migrations on a fresh SQLite file), the median of five.
async fn time_to_ready(dir: &std::path::Path, document_host: &str) -> Result<Duration> {
    let client = reqwest::Client::new();
    let mut times = Vec::new();
    for i in 0..5 {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("ready{i}.db")).display()
        );
        let started = Instant::now();
        let service = Service::start(&url, document_host)?;
        times.push(service.wait_ready(&client, started).await?);
        service.stop();
    }
    times.sort();
    Ok(times[2])
}

fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = Command::new("uname")
        .args(["-sr"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem_gib:.0} GiB, {kernel}; load client, service and database on the same machine over loopback")
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

fn report(engines: &[EngineResult], ready: Duration) -> String {
    let mut out = String::new();
    let w = workers_line();
    out += &format!(
        "# Benchmark results\n\nMachine: {}\n\nDate: {}\n\n{w}\n\n",
        machine_line(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    out += "| figure | measured | ceiling (same run) | ratio | target | met |\n|---|---|---|---|---|---|\n";
    for e in engines {
        let ratio = e.saturated.rps / e.ceiling.rps;
        out += &format!(
            "| POST /payouts, {}, saturation | {:.0} req/s (p50 {:.1} ms, p99 {:.1} ms, {} errors) | {:.0} req/s storage (p50 {:.1} ms, p99 {:.1} ms) | {:.2} | ≥ 0.5 | {} |\n",
            e.engine, e.saturated.rps, e.saturated.p50_ms, e.saturated.p99_ms, e.saturated.errors,
            e.ceiling.rps, e.ceiling.p50_ms, e.ceiling.p99_ms, ratio, verdict(ratio >= 0.5)
        );
        out += &format!(
            "| POST /payouts, {}, fixed rate (half of saturation) | {:.0} req/s: p50 {:.1} ms, p99 {:.1} ms ({} errors) | | | p99 ≤ 10 ms | {} |\n",
            e.engine, e.half.rps, e.half.p50_ms, e.half.p99_ms, e.half.errors, verdict(e.half.p99_ms <= 10.0)
        );
        if let Some((served, bare)) = &e.get {
            let ratio = served.rps / bare.rps;
            out += &format!(
                "| GET /payouts/{{id}}, {}, saturation | {:.0} req/s (p50 {:.1} ms, p99 {:.1} ms, {} errors) | {:.0} req/s bare poem handler (p50 {:.1} ms, p99 {:.1} ms) | {:.2} | ≥ 0.5 | {} |\n",
                e.engine, served.rps, served.p50_ms, served.p99_ms, served.errors,
                bare.rps, bare.p50_ms, bare.p99_ms, ratio, verdict(ratio >= 0.5)
            );
        }
        out += &format!(
            "| peak RSS of the service under load, {} | {:.1} MiB | | | ≤ 64 MiB | {} |\n",
            e.engine,
            e.rss_mib,
            verdict(e.rss_mib <= 64.0)
        );
    }
    let ms = ready.as_secs_f64() * 1000.0;
    out += &format!(
        "| start to ready, fresh SQLite file with migrations (median of 5) | {ms:.0} ms | | | ≤ 200 ms | {} |\n",
        verdict(ms <= 200.0)
    );
    out
}

fn workers_line() -> String {
    format!(
        "Load: {} concurrent connections for saturation, {} s per phase; the fixed-rate phase sends at half the saturated rate and counts latency from each request's due time.",
        concurrency(),
        secs().as_secs()
    )
}

async fn drop_postgres(admin_url: &str, name: &str) {
    if let Ok(admin) = sea_orm::Database::connect(admin_url).await {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
        admin.close().await.ok();
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("bare-server") {
        return bare_server(&args[2], &args[3]);
    }
    tokio::runtime::Runtime::new()?.block_on(run())
}

async fn run() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("payouts-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let document_host = document_server().await;

    eprintln!("start to ready on fresh SQLite files");
    let ready = time_to_ready(&dir, &document_host).await?;

    let mut engines = Vec::new();
    let sqlite = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    engines.push(run_engine("SQLite", &sqlite, &document_host, true).await?);

    let admin_url = std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("payouts_bench_{}", std::process::id());
    let created = match sea_orm::Database::connect(&admin_url).await {
        Ok(admin) => {
            let r = admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await;
            admin.close().await.ok();
            r.is_ok()
        }
        Err(err) => {
            eprintln!("PostgreSQL at {admin_url} unreachable ({err}): its rows are left out");
            false
        }
    };
    if created {
        let (prefix, _) = admin_url
            .rsplit_once('/')
            .context("database URL has a path")?;
        let result = run_engine(
            "PostgreSQL",
            &format!("{prefix}/{name}"),
            &document_host,
            true,
        )
        .await;
        drop_postgres(&admin_url, &name).await;
        engines.push(result?);
    }
    std::fs::remove_dir_all(&dir).ok();

    let mut text = report(&engines, ready);
    println!("{text}");
    let notes = std::fs::read_to_string("bench/NOTES.md").unwrap_or_default();
    if !notes.is_empty() {
        text += "\n";
        text += &notes;
    }
    std::fs::write("bench/RESULTS.md", text)?;
    eprintln!("written to bench/RESULTS.md");
    Ok(())
}
