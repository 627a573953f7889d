//! The real binary, killed with SIGKILL while clients request payouts:
//! after a restart every payout a client saw a 201 for exists, none exists
//! twice (clients retry with their Idempotency-Key, as the SDKs do), and
//! each one settles. And, deterministically, the case a crash makes only
//! sometimes: a payout committed whose answer was lost.
mod common;

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use common::*;
use serde_json::{json, Value};

struct Service {
    env: Vec<(&'static str, String)>,
    base: String,
}

impl Service {
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_payouts"));
        command.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        command
    }

    fn cli(&self, args: &[&str]) -> Value {
        let output = self
            .command()
            .args(args)
            .stderr(Stdio::null())
            .output()
            .expect("cli runs");
        assert!(output.status.success(), "payouts {args:?} failed");
        serde_json::from_slice(&output.stdout).expect("cli prints JSON")
    }

    async fn start(&self) -> Child {
        let child = self
            .command()
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        for _ in 0..200 {
            if reqwest::get(format!("{}/healthz", self.base)).await.is_ok() {
                return child;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let mut child = child;
        child.kill().ok();
        child.wait().ok();
        panic!("service did not come up");
    }
}

#[derive(Clone, Debug)]
enum Outcome {
    Created(String),
    /// Sent, but no answer: the connection broke (the crash). The payout
    /// may or may not exist.
    Unknown,
    /// Never reached the service (connection refused after the kill).
    NotSent,
}

async fn request_payout(
    client: &reqwest::Client,
    base: &str,
    api_key: &str,
    key: &str,
) -> Result<(u16, Value), Outcome> {
    let response = client
        .post(format!("{base}/api/v1/payouts"))
        .header("x-api-key", api_key)
        .header("idempotency-key", key)
        .json(&json!({"amount": 1000}))
        .send()
        .await
        .map_err(|err| {
            if err.is_connect() {
                Outcome::NotSent
            } else {
                Outcome::Unknown
            }
        })?;
    let status = response.status().as_u16();
    let body = response.json().await.map_err(|_| Outcome::Unknown)?;
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_traffic_loses_nothing_and_pays_nothing_twice() {
    let (database_url, sqlite_dir, postgres) = fresh_database().await;
    let documents = DocumentServer::start().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let service = Service {
        env: vec![
            ("DATABASE_URL", database_url.clone()),
            (
                "PAYOUTS_ENCRYPTION_KEY",
                payouts::crypto::Cipher::generate_key_hex(),
            ),
            ("PAYOUTS_BIND", format!("127.0.0.1:{port}")),
            ("PAYOUTS_SANDBOX_DELAY_MS", "100".into()),
            ("PAYOUTS_DOCUMENT_ALLOW_HOSTS", documents.host.clone()),
            ("PAYOUTS_PROVIDER_RETRY_DELAY_MS", "300".into()),
            ("PAYOUTS_JOB_POLL_MS", "25".into()),
            ("PAYOUTS_JOB_RETRY_BASE_MS", "100".into()),
            ("PAYOUTS_JOB_LEASE_MS", "1000".into()),
            ("PAYOUTS_IDEMPOTENCY_LOCK_MS", "1000".into()),
            ("PAYOUTS_LOG", "warn".into()),
        ],
        base: base.clone(),
    };
    service.cli(&["migrate"]);
    let org = service.cli(&["org", "create", "--name", "Crash"]);
    let (org_id, api_key) = (
        org["organizationId"].as_str().unwrap().to_string(),
        org["apiKey"].as_str().unwrap().to_string(),
    );
    service.cli(&[
        "balance",
        "credit",
        "--org",
        &org_id,
        "--amount",
        "100000000",
    ]);

    let mut server = service.start().await;
    let client = reqwest::Client::new();
    let mut verification = serde_json::from_str::<Value>(
        &include_str!("crash_verification.json").replace("DOC", &documents.url("/id.pdf")),
    )
    .unwrap();
    verification["bank"]["accountNumber"] = json!(GOOD_ACCOUNT);
    let reply = client
        .post(format!("{base}/api/v1/payouts/verification"))
        .header("x-api-key", &api_key)
        .json(&verification)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    for attempt in 0.. {
        assert!(attempt < 400, "the payout account never became verified");
        let account: Value = client
            .get(format!("{base}/api/v1/payouts/account"))
            .header("x-api-key", &api_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if account["data"]["status"] == "verified" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Clients fire payouts, each with its own key, until the crash.
    let outcomes: Arc<Mutex<HashMap<String, Outcome>>> = Arc::default();
    let crashed = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (client, base, api_key, outcomes, crashed) = (
            client.clone(),
            base.clone(),
            api_key.clone(),
            outcomes.clone(),
            crashed.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut i = 0;
            while !crashed.load(Ordering::SeqCst) {
                let key = format!("client{c}-{i}");
                i += 1;
                let outcome = match request_payout(&client, &base, &api_key, &key).await {
                    Ok((201, body)) => {
                        Outcome::Created(body["data"]["id"].as_str().unwrap().to_string())
                    }
                    Ok((status, body)) => panic!("unexpected {status}: {body}"),
                    Err(outcome) => outcome,
                };
                outcomes.lock().unwrap().insert(key, outcome);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    crashed.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    let seen = outcomes.lock().unwrap().clone();
    let created_before = seen
        .values()
        .filter(|o| matches!(o, Outcome::Created(_)))
        .count();
    assert!(
        created_before > 0,
        "some payouts were made before the crash"
    );

    // Restart; every client retries what it does not know the fate of, and
    // repeats what it does: the same key must give the same payout.
    let mut server = service.start().await;
    let mut final_ids: HashMap<String, String> = HashMap::new();
    for (key, outcome) in &seen {
        let mut id = None;
        // The lock of a request cut by the crash lasts 1 s
        // (PAYOUTS_IDEMPOTENCY_LOCK_MS): 50 tries of 100 ms are plenty.
        for _ in 0..50 {
            match request_payout(&client, &base, &api_key, key).await {
                Ok((201, body)) => {
                    id = Some(body["data"]["id"].as_str().unwrap().to_string());
                    break;
                }
                Ok((409, body)) if body["error"]["code"] == "idempotency_in_progress" => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                other => panic!("retry of {key}: {other:?}"),
            }
        }
        let id = id.unwrap_or_else(|| panic!("{key} stayed in progress after the restart"));
        if let Outcome::Created(before) = outcome {
            assert_eq!(
                &id, before,
                "{key}: a retry returns the payout the client was told about"
            );
        }
        final_ids.insert(key.clone(), id);
    }
    let distinct: std::collections::HashSet<&String> = final_ids.values().collect();
    assert_eq!(
        distinct.len(),
        final_ids.len(),
        "no two keys share a payout"
    );

    // Each settles; the balance shows exactly one payout per key.
    for id in final_ids.values() {
        for attempt in 0.. {
            let payout: Value = client
                .get(format!("{base}/api/v1/payouts/{id}"))
                .header("x-api-key", &api_key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if payout["data"]["status"] == "paid" {
                break;
            }
            assert!(attempt < 400, "{id} never settled: {payout}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let balance: Value = client
        .get(format!("{base}/api/v1/balance"))
        .header("x-api-key", &api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        balance["data"]["paidOut"].as_i64(),
        Some(1000 * final_ids.len() as i64),
        "{balance}"
    );
    assert_eq!(balance["data"]["inPayout"], 0);
    server.kill().unwrap();
    server.wait().unwrap();
    let verify = service
        .command()
        .args(["ledger", "verify"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "ledger verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let unknown = seen
        .values()
        .filter(|o| matches!(o, Outcome::Unknown))
        .count();
    println!(
        "{created_before} payouts acknowledged before the crash, {unknown} cut by it, {} keys in all",
        final_ids.len()
    );

    if let Some((admin_url, name)) = postgres {
        let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
        use sea_orm::ConnectionTrait;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .ok();
    }
    if let Some(dir) = sqlite_dir {
        std::fs::remove_dir_all(dir).ok();
    }
}

/// A payout committed, its answer lost (the instance died between the
/// transaction and storing the answer, and the key's lock ran out): the
/// client's retry with the same key gets that payout, not a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_committed_but_its_answer_lost_is_found_by_the_retry() {
    use entity::{idempotency_key, payout};
    use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app = TestApp::spawn_with(|c| c.sandbox_delay = Duration::from_secs(3600)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let client = reqwest::Client::new();
    let (status, first) = request_payout(&client, &app.base, &org.key, "lost-answer")
        .await
        .expect("answered");
    assert_eq!(status, 201, "{first}");
    let id = first["data"]["id"].as_str().unwrap().to_string();

    // What the crash leaves: the key claimed, no answer stored, its lock over.
    let reset = idempotency_key::Entity::update_many()
        .col_expr(
            idempotency_key::Column::ResponseStatus,
            Expr::value(Option::<i32>::None),
        )
        .col_expr(
            idempotency_key::Column::ResponseBody,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            idempotency_key::Column::LockedUntil,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(idempotency_key::Column::Key.eq("lost-answer"))
        .exec(app.db())
        .await
        .unwrap();
    assert_eq!(
        reset.rows_affected, 1,
        "the stored answer was there to lose"
    );

    let (status, retry) = request_payout(&client, &app.base, &org.key, "lost-answer")
        .await
        .expect("answered");
    assert_eq!(status, 201, "{retry}");
    assert_eq!(
        retry["data"]["id"],
        id.as_str(),
        "the retry finds the payout"
    );
    assert_eq!(retry["data"]["amount"], 1000);
    assert_eq!(
        payout::Entity::find()
            .filter(payout::Column::OrganizationId.eq(org.id.clone()))
            .count(app.db())
            .await
            .unwrap(),
        1,
        "one payout"
    );
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(9000), Some(1000)),
        "reserved once"
    );
    // And its answer is stored again: a third try is a replay.
    let third = client
        .post(format!("{}/api/v1/payouts", app.base))
        .header("x-api-key", &org.key)
        .header("idempotency-key", "lost-answer")
        .json(&json!({"amount": 1000}))
        .send()
        .await
        .unwrap();
    assert_eq!(third.headers()["idempotent-replayed"], "true");
    app.stop().await;
}
