//! `make bench`.
//!
//! One piece: the run in order (workloads, engines, the report); the ceilings and the load client are in `ceilings.rs` and `load.rs`.
//!
//! `make bench`: loads the release service over loopback and measures each
//! figure beside honest ceilings, in one run, then writes `bench/RESULTS.md`.
//!
//! Ceilings (see `ceilings.rs`): fsyncs per second on the database's disk;
//! the minimal SQL of a payout written directly against the driver at the
//! same concurrency; on PostgreSQL `pgbench -b tpcb-like` at the same
//! client count; for GET the same two indexed reads done raw, and a bare
//! poem handler answering the same bytes. Workloads: one hot organization,
//! and payouts spread over many (`BENCH_ORGS`, 1,000).
mod ceilings;
mod load;

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use ceilings::Target;
use load::{closed_loop, open_loop, Call, Stats};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

const WEBHOOK_SECRET: &str = "bench-webhook-secret";
const KEY_HEX: &str = "4242424242424242424242424242424242424242424242424242424242424242";

fn secs() -> Duration {
    Duration::from_secs(env_or("BENCH_SECS", 5))
}
fn concurrency() -> usize {
    env_or("BENCH_CONCURRENCY", 16) as usize
}
fn org_count() -> usize {
    env_or("BENCH_ORGS", 1000).max(1) as usize
}
fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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
    fn start(database_url: &str, sync: &str, document_host: &str) -> Result<Service> {
        let port = free_port();
        // "full-single": durable, one commit per request (group commit off).
        let (sync, group) = match sync {
            "full-single" => ("full", "off"),
            other => (other, "on"),
        };
        let child = Command::new(exe_dir().join("payouts"))
            .arg("serve")
            .env("PAYOUTS_SQLITE_SYNCHRONOUS", sync)
            .env("PAYOUTS_SQLITE_GROUP_COMMIT", group)
            // The safety-net job an hour out too: the load measures requests.
            .env("PAYOUTS_PROVIDER_RETRY_DELAY_MS", "3600000")
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

/// Organizations with a large balance, made in-process before the service
/// starts: `(organization id, API key)`.
async fn create_orgs(database_url: &str, n: usize) -> Result<Vec<(String, String)>> {
    use payouts::service::{funds, orgs};
    let db = payouts::db::connect(database_url).await?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let created = orgs::create(&db, &format!("Bench {i}"), "US", "usd", false)
            .await
            .map_err(|e| anyhow::anyhow!("org create: {e:?}"))?;
        funds::credit(&db, &created.organization, 1_000_000_000_000, false, None)
            .await
            .map_err(|e| anyhow::anyhow!("credit: {e:?}"))?;
        out.push((created.organization.id, created.api_key));
    }
    db.close().await.ok();
    Ok(out)
}

/// A verified payout account with a default bank account, through the API
/// and the provider's signed webhook, as a real organization gets one.
async fn verify_org(
    client: &reqwest::Client,
    base: &str,
    document_host: &str,
    org_id: &str,
    key: &str,
) -> Result<()> {
    let body = json!({
        "email": "owner@bench.test", "businessType": "individual", "businessUrl": "https://bench.test",
        "documentUrl": format!("http://{document_host}/id.pdf"),
        "bank": {"accountNumber": "000123456789", "accountHolderName": "Ann Lee", "routingNumber": "110000000"},
        "individual": {"firstName": "Ann", "lastName": "Lee", "phone": "+15550100", "dateOfBirth": "1990-01-01",
            "address": {"line1": "1 Main St", "city": "San Francisco", "state": "CA", "postalCode": "94107", "country": "US"}}
    });
    let reply: Value = client
        .post(format!("{base}/api/v1/payouts/verification"))
        .header("x-api-key", key)
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
        .post(format!("{base}/api/v1/provider-webhooks/sandbox"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(event)
        .send()
        .await?;
    if receipt.status() != 200 {
        bail!("verification webhook refused: {}", receipt.status());
    }
    Ok(())
}

/// Verifies every organization, `concurrency()` at a time.
async fn verify_all(
    client: &reqwest::Client,
    base: &str,
    document_host: &str,
    orgs: &[(String, String)],
) -> Result<()> {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency()));
    let mut tasks = tokio::task::JoinSet::new();
    for (org_id, key) in orgs {
        let (org_id, key) = (org_id.clone(), key.clone());
        let (client, base, host, limit) = (
            client.clone(),
            base.to_string(),
            document_host.to_string(),
            limit.clone(),
        );
        tasks.spawn(async move {
            let _permit = limit.acquire().await;
            verify_org(&client, &base, &host, &org_id, &key).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// Each organization's default bank account, for the raw-SQL payouts.
async fn targets(database_url: &str, orgs: &[(String, String)]) -> Result<Vec<Target>> {
    let db = payouts::db::connect(database_url).await?;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT organization_id, id FROM bank_accounts WHERE is_default",
        ))
        .await?;
    let mut by_org = std::collections::HashMap::new();
    for row in rows {
        by_org.insert(
            row.try_get::<String>("", "organization_id")?,
            row.try_get::<String>("", "id")?,
        );
    }
    db.close().await.ok();
    orgs.iter()
        .map(|(org_id, _)| {
            Ok(Target {
                org_id: org_id.clone(),
                bank_account_id: by_org
                    .get(org_id)
                    .context("a default bank account")?
                    .clone(),
            })
        })
        .collect()
}

/// `POST /payouts`, round-robin over `keys`.
fn post_payout(client: &reqwest::Client, base: &str, keys: Arc<Vec<String>>) -> Call {
    let (client, url) = (client.clone(), format!("{base}/api/v1/payouts"));
    let next = Arc::new(AtomicUsize::new(0));
    Arc::new(move || {
        let key = &keys[next.fetch_add(1, Ordering::Relaxed) % keys.len()];
        let request = client
            .post(&url)
            .header("x-api-key", key)
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

/// One workload's POST figures.
struct PostFigures {
    workload: String,
    saturated: Stats,
    half: Stats,
    raw: Stats,
}

struct GetFigures {
    served: Stats,
    raw: Stats,
    bare: Stats,
}

struct EngineResult {
    engine: &'static str,
    /// Commits are fsynced one by one (durable SQLite): bounded by the disk.
    fsync_bound: bool,
    posts: Vec<PostFigures>,
    get: Option<GetFigures>,
    pgbench_tps: Option<f64>,
    rss_mib: f64,
}

/// Saturated GET on the service, then the bare handler with the same bytes.
async fn get_phases(
    client: &reqwest::Client,
    service: &Service,
    key: &str,
) -> Result<(Stats, Stats, String)> {
    let created: Value = client
        .post(format!("{}/api/v1/payouts", service.base))
        .header("x-api-key", key)
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
        .header("x-api-key", key)
        .send()
        .await?
        .bytes()
        .await?;
    eprintln!("  GET /payouts/{{id}} at saturation");
    let served = closed_loop(get_url(client, url, key), concurrency(), secs()).await;

    let body_file = std::env::temp_dir().join(format!("payouts-bench-{}.json", std::process::id()));
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
    eprintln!("  GET on a bare poem handler at saturation");
    let bare_stats = closed_loop(get_url(client, bare_url, key), concurrency(), secs()).await;
    let _ = bare.kill();
    let _ = bare.wait();
    let _ = std::fs::remove_file(body_file);
    Ok((served, bare_stats, id))
}

async fn run_engine(
    engine: &'static str,
    database_url: &str,
    sync: &str,
    document_host: &str,
    with_get: bool,
    pgbench_url: Option<String>,
) -> Result<EngineResult> {
    eprintln!("[{engine}] setup: {} organizations", org_count());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    payouts_cli(database_url, &["migrate"])?;
    let orgs = create_orgs(database_url, org_count()).await?;
    let service = Service::start(database_url, sync, document_host)?;
    service.wait_ready(&client, Instant::now()).await?;
    verify_all(&client, &service.base, document_host, &orgs).await?;
    let targets = targets(database_url, &orgs).await?;
    let all_keys: Arc<Vec<String>> = Arc::new(orgs.iter().map(|(_, k)| k.clone()).collect());
    let hot_key: Arc<Vec<String>> = Arc::new(vec![orgs[0].1.clone()]);
    let workloads = [
        (
            "one hot organization".to_string(),
            hot_key,
            vec![targets[0].clone()],
        ),
        (format!("{} organizations", orgs.len()), all_keys, targets),
    ];
    // Warm the connections and the pools before measuring.
    closed_loop(
        post_payout(&client, &service.base, workloads[0].1.clone()),
        concurrency(),
        Duration::from_secs(1),
    )
    .await;

    let mut served = Vec::new();
    for (name, keys, _) in &workloads {
        eprintln!("[{engine}] POST /payouts, {name}: saturation, then half that rate");
        let call = post_payout(&client, &service.base, keys.clone());
        let saturated = closed_loop(call.clone(), concurrency(), secs()).await;
        let half = open_loop(call, (saturated.rps / 2.0).max(1.0), secs()).await;
        served.push((saturated, half));
    }
    let get = if with_get {
        Some(get_phases(&client, &service, &orgs[0].1).await?)
    } else {
        None
    };
    let rss_mib = service.peak_rss_mib();
    service.stop();

    // The ceilings, with the service stopped, on the pools it runs on.
    let mode = sync.trim_end_matches("-single").parse().unwrap_or_default();
    let (writes, reads) = payouts::db::connect_pools(database_url, mode).await?;
    let mut posts = Vec::new();
    for ((name, _, targets), (saturated, half)) in workloads.into_iter().zip(served) {
        eprintln!("[{engine}] raw SQL payouts, {name}");
        let raw =
            ceilings::raw_payouts(writes.clone(), Arc::new(targets), concurrency(), secs()).await;
        posts.push(PostFigures {
            workload: name,
            saturated,
            half,
            raw,
        });
    }
    let get = match get {
        Some((served, bare, payout_id)) => {
            eprintln!("[{engine}] raw indexed reads of GET");
            let key_hash = payouts::crypto::sha256_hex(orgs[0].1.as_bytes());
            let raw =
                ceilings::raw_reads(reads.clone(), key_hash, payout_id, concurrency(), secs())
                    .await;
            Some(GetFigures { served, raw, bare })
        }
        None => None,
    };
    writes.close().await.ok();
    reads.close().await.ok();
    let pgbench_tps = match pgbench_url {
        Some(url) => {
            eprintln!("[{engine}] pgbench -b tpcb-like -c {}", concurrency());
            Some(ceilings::pgbench_tpcb(&url, concurrency(), secs())?)
        }
        None => None,
    };
    Ok(EngineResult {
        engine,
        fsync_bound: database_url.starts_with("sqlite") && sync.starts_with("full"),
        posts,
        get,
        pgbench_tps,
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
        let service = Service::start(&url, "full", document_host)?;
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

fn figure(s: &Stats) -> String {
    format!(
        "{:.0}/s (p50 {:.1} ms, p99 {:.1} ms, {} errors)",
        s.rps, s.p50_ms, s.p99_ms, s.errors
    )
}

fn report(
    engines: &[EngineResult],
    fsyncs: f64,
    ready: Duration,
    postgres_skipped: Option<&str>,
) -> String {
    let mut out = String::new();
    out += &format!(
        "# Benchmark results\n\nMachine: {}\n\nDate: {}\n\n{}\n\n",
        machine_line(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        workers_line()
    );
    out += &format!(
        "Physical ceiling: **{fsyncs:.0} fsyncs/s** (8 KiB write + fdatasync in a loop on the database's disk, as pg_test_fsync does): the most durable commits per second one at a time.\n\n"
    );
    if let Some(reason) = postgres_skipped {
        out += &format!("PostgreSQL: not measured ({reason}).\n\n");
    }
    out += "| engine | figure | measured | ceiling (same run) | ratio | target | met |\n|---|---|---|---|---|---|---|\n";
    for e in engines {
        for p in &e.posts {
            let ratio = p.saturated.rps / p.raw.rps;
            out += &format!(
                "| {} | POST /payouts, {}, saturation | {} | raw SQL of a payout: {} | {:.2} | ≥ 0.5 | {} |\n",
                e.engine, p.workload, figure(&p.saturated), figure(&p.raw), ratio, verdict(ratio >= 0.5)
            );
            let per_fsync = p.saturated.rps / fsyncs;
            let (target, met) = if e.fsync_bound {
                ("≥ 1.5", verdict(per_fsync >= 1.5))
            } else {
                ("", "")
            };
            out += &format!(
                "| {} | POST /payouts, {}, against the disk | {:.0}/s | {fsyncs:.0} fsyncs/s | {per_fsync:.2} (raw SQL {:.2}) | {target} | {met} |\n",
                e.engine, p.workload, p.saturated.rps, p.raw.rps / fsyncs
            );
            if let Some(tps) = e.pgbench_tps {
                out += &format!(
                    "| {} | POST /payouts, {}, against pgbench | {:.0}/s | pgbench -b tpcb-like, {} clients: {tps:.0} tps | {:.2} (raw SQL {:.2}) | | |\n",
                    e.engine, p.workload, p.saturated.rps, concurrency(), p.saturated.rps / tps, p.raw.rps / tps
                );
            }
            out += &format!(
                "| {} | POST /payouts, {}, fixed rate at half of saturation | {} | | | p99 ≤ 10 ms | {} |\n",
                e.engine, p.workload, figure(&p.half), verdict(p.half.p99_ms <= 10.0)
            );
        }
        if let Some(g) = &e.get {
            let ratio = g.served.rps / g.raw.rps;
            out += &format!(
                "| {} | GET /payouts/{{id}}, saturation | {} | the same two reads, raw: {} | {:.2} | ≥ 0.5 | {} |\n",
                e.engine, figure(&g.served), figure(&g.raw), ratio, verdict(ratio >= 0.5)
            );
            out += &format!(
                "| {} | GET /payouts/{{id}} against the framework | {:.0}/s | bare poem handler, same bytes: {} | {:.2} | | |\n",
                e.engine, g.served.rps, figure(&g.bare), g.served.rps / g.bare.rps
            );
        }
        out += &format!(
            "| {} | peak RSS of the service under load | {:.1} MiB | | | ≤ 64 MiB | {} |\n",
            e.engine,
            e.rss_mib,
            verdict(e.rss_mib <= 64.0)
        );
    }
    if let Some(reason) = postgres_skipped {
        out += &format!("| PostgreSQL | not measured ({reason}) | | | | | no |\n");
    }
    let ms = ready.as_secs_f64() * 1000.0;
    out += &format!(
        "| SQLite | start to ready, fresh file with migrations (median of 5) | {ms:.0} ms | | | ≤ 200 ms | {} |\n",
        verdict(ms <= 200.0)
    );
    out
}

fn workers_line() -> String {
    format!(
        "Load: {} concurrent connections (and raw-SQL workers, and pgbench clients) at saturation, {} s per phase; the fixed-rate phase sends at half the saturated rate and counts latency from each request's due time. Raw SQL runs on the pools the service uses (SQLite: one write connection; PostgreSQL: 20).",
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

    eprintln!(
        "fsyncs per second on the database's disk ({})",
        dir.display()
    );
    let fsyncs = ceilings::fsyncs_per_second(&dir, secs())?;
    eprintln!("start to ready on fresh SQLite files");
    let ready = time_to_ready(&dir, &document_host).await?;

    let mut engines = Vec::new();
    let durable = format!("sqlite://{}?mode=rwc", dir.join("durable.db").display());
    engines.push(
        run_engine(
            "SQLite (FULL, group commit)",
            &durable,
            "full",
            &document_host,
            true,
            None,
        )
        .await?,
    );
    let single = format!("sqlite://{}?mode=rwc", dir.join("single.db").display());
    engines.push(
        run_engine(
            "SQLite (FULL, one commit per request)",
            &single,
            "full-single",
            &document_host,
            false,
            None,
        )
        .await?,
    );
    let normal = format!("sqlite://{}?mode=rwc", dir.join("normal.db").display());
    engines.push(
        run_engine(
            "SQLite (NORMAL, not durable)",
            &normal,
            "normal",
            &document_host,
            false,
            None,
        )
        .await?,
    );

    let admin_url = std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("payouts_bench_{}", std::process::id());
    let scratch = format!("payouts_pgbench_{}", std::process::id());
    // Why PostgreSQL was not measured, if it was not: said in RESULTS.md.
    let skipped = match sea_orm::Database::connect(&admin_url).await {
        Ok(admin) => {
            let r = admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await;
            let s = admin
                .execute_unprepared(&format!("CREATE DATABASE \"{scratch}\""))
                .await;
            admin.close().await.ok();
            r.and(s)
                .err()
                .map(|err| format!("could not create its databases: {err}"))
        }
        Err(err) => Some(format!("unreachable: {err}")),
    }
    .map(|reason| reason.replace(['\n', '|'], " "));
    if let Some(reason) = &skipped {
        eprintln!("PostgreSQL: not measured ({reason})");
        drop_postgres(&admin_url, &name).await;
        drop_postgres(&admin_url, &scratch).await;
    } else {
        let (prefix, _) = admin_url
            .rsplit_once('/')
            .context("database URL has a path")?;
        let result = run_engine(
            "PostgreSQL",
            &format!("{prefix}/{name}"),
            "full",
            &document_host,
            true,
            Some(format!("{prefix}/{scratch}")),
        )
        .await;
        drop_postgres(&admin_url, &name).await;
        drop_postgres(&admin_url, &scratch).await;
        engines.push(result?);
    }
    std::fs::remove_dir_all(&dir).ok();

    let mut text = report(&engines, fsyncs, ready, skipped.as_deref());
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
