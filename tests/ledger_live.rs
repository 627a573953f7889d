//! `payouts ledger verify` on a live system: run over and over on its own
//! connection (as the operator's command is) while payouts are created and
//! settled, it never reports a violation that is not there.
mod common;

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use common::*;
use payouts::service::ledger;
use serde_json::json;

const WRITERS: usize = 4;
const PAYOUTS_PER_WRITER: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_reads_one_snapshot_while_payouts_are_created_and_settled() {
    // The test runs the jobs (sandbox events included) on its own task,
    // moving the clock as it goes, so settlement runs during the traffic.
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 100_000_000).await;
    let verifier = payouts::db::connect(&app.config.database_url)
        .await
        .unwrap();

    let traffic_done = Arc::new(AtomicBool::new(false));
    let requests_done = Arc::new(AtomicBool::new(false));
    let settler = {
        let (jobs, done) = (app.app().clone(), requests_done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                jobs.clock.advance(jobs.config.sandbox_delay);
                let ran = jobs.run_due_jobs().await.expect("due jobs run");
                if ran.is_idle() {
                    // Paced as the worker is, not to crowd out the requests.
                    tokio::time::sleep(jobs.config.job_poll_interval).await;
                }
            }
        })
    };
    let checker = {
        let done = traffic_done.clone();
        tokio::spawn(async move {
            let (mut runs, mut false_alarms) = (0, Vec::new());
            // At least a few runs even if the traffic finishes first.
            while runs < 5 || !done.load(Ordering::SeqCst) {
                let problems = ledger::verify(&verifier).await.unwrap();
                if !problems.is_empty() {
                    false_alarms.push(problems);
                }
                runs += 1;
            }
            verifier.close().await.ok();
            (runs, false_alarms)
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (client, base, key) = (app.client.clone(), app.base.clone(), org.key.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..PAYOUTS_PER_WRITER {
                    let response = client
                        .post(format!("{base}/api/v1/payouts"))
                        .header("x-api-key", &key)
                        .json(&json!({"amount": 1000}))
                        .send()
                        .await
                        .unwrap();
                    let reply = TestApp::reply(response).await;
                    assert_eq!(reply.status, 201, "{}", reply.body);
                    ids.push(reply.data()["id"].as_str().unwrap().to_string());
                }
                ids
            })
        })
        .collect();
    let mut ids = Vec::new();
    for writer in writers {
        ids.extend(writer.await.unwrap());
    }
    // Settlement goes on after the last request: keep verifying through it.
    requests_done.store(true, Ordering::SeqCst);
    settler.await.unwrap();
    app.settle().await;
    for id in &ids {
        app.expect_status(&format!("/payouts/{id}"), &org.key, "paid")
            .await;
    }
    traffic_done.store(true, Ordering::SeqCst);
    let (runs, false_alarms) = checker.await.unwrap();
    assert!(
        false_alarms.is_empty(),
        "{} of {runs} runs reported violations, first: {:#?}",
        false_alarms.len(),
        false_alarms[0]
    );
    assert!(runs >= 5);
    app.stop().await;
}
