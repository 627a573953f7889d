//! `payouts ledger verify` on a live system: run over and over on its own
//! connection (as the operator's command is) while every kind of ledger
//! movement happens at once, it never reports a violation that is not there.
//! The traffic: payouts paid (with a fee) and payouts failed by the bank,
//! their money given back; payouts canceled before submission; and the
//! operator API's credits, debits, and holds captured or released. At the
//! end each payout has the status it must, and each balance what the
//! operations that succeeded imply.
mod common;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use common::*;
use payouts::service::{ledger, orgs};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

/// The sandbox fails a payout to this account (`no_account`).
const FAILING_ACCOUNT: &str = "000111111116";
/// Writers paying out to the good account; each other kind has one.
const PAYING_WRITERS: usize = 2;
const PAYOUTS_PER_WRITER: i64 = 15;
/// Rounds of each operator writer: a credit, a debit, a hold captured and
/// a hold released.
const OPERATOR_ROUNDS: i64 = 8;
/// Left open by each operator writer at the end, so `held` is checked too.
const OPEN_HOLD: i64 = 700;

/// What the operations that succeeded imply for an organization's balance.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Books {
    available: i64,
    held: i64,
    paid_out: i64,
}

/// What one writer did: its payouts, each with the status it must end in,
/// and the change it made to its organization's balance.
struct Done {
    org: usize,
    payouts: Vec<(String, &'static str)>,
    books: Books,
}

async fn post_payout(client: &reqwest::Client, base: &str, key: &str, amount: i64) -> Value {
    let response = client
        .post(format!("{base}/api/v1/payouts"))
        .header("x-api-key", key)
        .json(&json!({"amount": amount}))
        .send()
        .await
        .expect("request sent");
    let reply = TestApp::reply(response).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.data().clone()
}

async fn operator(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Reply {
    let response = client
        .post(format!("{base}/operator/v1{path}"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("request sent");
    TestApp::reply(response).await
}

/// Payouts by HTTP, each of which must end `want` (`paid` or `failed`).
fn payout_writer(
    app: &TestApp,
    org: usize,
    key: &str,
    want: &'static str,
    first: i64,
) -> JoinHandle<Done> {
    let (client, base, key) = (app.client.clone(), app.base.clone(), key.to_string());
    tokio::spawn(async move {
        let mut done = Done {
            org,
            payouts: Vec::new(),
            books: Books::default(),
        };
        for i in 0..PAYOUTS_PER_WRITER {
            let amount = first + i;
            let payout = post_payout(&client, &base, &key, amount).await;
            done.payouts
                .push((payout["id"].as_str().unwrap().to_string(), want));
            if want == "paid" {
                done.books.available -= amount;
                done.books.paid_out += payout["netAmount"].as_i64().unwrap();
            }
        }
        done
    })
}

/// Payouts reserved but not sent (as a crash between the reservation and
/// the provider call leaves them), each canceled over HTTP: the money
/// comes back.
fn cancel_writer(app: &TestApp, org: usize, org_id: &str, key: &str) -> JoinHandle<Done> {
    let (client, base, key) = (app.client.clone(), app.base.clone(), key.to_string());
    let (service, org_id) = (app.app().clone(), org_id.to_string());
    tokio::spawn(async move {
        let model = orgs::find(&service.db, &org_id).await.unwrap().unwrap();
        let mut done = Done {
            org,
            payouts: Vec::new(),
            books: Books::default(),
        };
        for i in 0..PAYOUTS_PER_WRITER {
            let payout =
                payouts::service::payouts::create_unsubmitted(&service, &model, 2000 + i, None)
                    .await
                    .unwrap();
            let response = client
                .post(format!("{base}/api/v1/payouts/{}/cancel", payout.id))
                .header("x-api-key", &key)
                .send()
                .await
                .expect("request sent");
            let reply = TestApp::reply(response).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(reply.data()["status"], "canceled", "{}", reply.body);
            done.payouts.push((payout.id, "canceled"));
        }
        done
    })
}

/// The operator API on one organization: credits, debits (which may
/// overdraw), holds captured and released, and one hold left open.
fn operator_writer(app: &TestApp, org: usize, org_id: &str) -> JoinHandle<Done> {
    let (client, base) = (app.client.clone(), app.base.clone());
    let path = format!("/organizations/{org_id}");
    tokio::spawn(async move {
        let mut books = Books::default();
        let hold = |amount: i64, external_id: String| {
            let (client, base, path) = (client.clone(), base.clone(), path.clone());
            async move {
                let reply = operator(
                    &client,
                    &base,
                    &format!("{path}/holds"),
                    json!({"amount": amount, "externalId": external_id, "reason": "dispute"}),
                )
                .await;
                assert_eq!(reply.status, 201, "{}", reply.body);
                assert_eq!(reply.data()["status"], "open", "{}", reply.body);
                reply.data()["id"].as_str().unwrap().to_string()
            }
        };
        let resolve = |id: String, how: &'static str, want: &'static str| {
            let (client, base, path) = (client.clone(), base.clone(), path.clone());
            async move {
                let reply = operator(
                    &client,
                    &base,
                    &format!("{path}/holds/{id}/{how}"),
                    json!({}),
                )
                .await;
                assert_eq!(reply.status, 200, "{}", reply.body);
                assert_eq!(reply.data()["status"], want, "{}", reply.body);
            }
        };
        for round in 0..OPERATOR_ROUNDS {
            let tag = format!("{org}_{round}");
            let credit = operator(
                &client,
                &base,
                &format!("{path}/credits"),
                json!({"amount": 5000 + round, "externalId": format!("cr_{tag}")}),
            )
            .await;
            assert_eq!(credit.status, 201, "{}", credit.body);
            books.available += 5000 + round;

            let debit = operator(
                &client,
                &base,
                &format!("{path}/debits"),
                json!({"amount": 3000 + round, "externalId": format!("re_{tag}"), "reason": "refund"}),
            )
            .await;
            assert_eq!(debit.status, 201, "{}", debit.body);
            books.available -= 3000 + round;

            let captured = hold(1200 + round, format!("dpc_{tag}")).await;
            let released = hold(900 + round, format!("dpr_{tag}")).await;
            resolve(captured, "capture", "captured").await;
            books.available -= 1200 + round;
            resolve(released, "release", "released").await;
        }
        hold(OPEN_HOLD, format!("dpo_{org}")).await;
        books.available -= OPEN_HOLD;
        books.held += OPEN_HOLD;
        Done {
            org,
            payouts: Vec::new(),
            books,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_reads_one_snapshot_while_every_kind_of_movement_happens() {
    // The test runs the jobs (sandbox events included) on its own task,
    // moving the clock as it goes, so settlement runs during the traffic.
    let app = TestApp::spawn_manual_jobs(|c| {
        operator_tokens(c, &[]);
        c.fees = payouts::domain::fees::FeeSchedule {
            fixed_cents: 25,
            basis_points: 25,
        };
        // A payout's submit job is the safety net for a request that did
        // not reach the provider; here it waits past the whole run (the
        // settler moves the clock by seconds, not hours), so a payout
        // reserved to be canceled is never submitted first.
        c.provider_retry_delay = Duration::from_secs(3600);
    })
    .await;
    // Organization 0 is paid out and cancels; 1's payouts all fail.
    let orgs = [
        app.verified_org(GOOD_ACCOUNT).await,
        app.verified_org(FAILING_ACCOUNT).await,
    ];
    let start = [10_000_000, 1_000_000];
    for (org, amount) in orgs.iter().zip(start) {
        app.credit(org, amount).await;
    }
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

    let mut writers: Vec<_> = (0..PAYING_WRITERS as i64)
        .map(|w| payout_writer(&app, 0, &orgs[0].key, "paid", 1000 + 100 * w))
        .collect();
    writers.push(payout_writer(&app, 1, &orgs[1].key, "failed", 1500));
    writers.push(cancel_writer(&app, 0, &orgs[0].id, &orgs[0].key));
    for (i, org) in orgs.iter().enumerate() {
        writers.push(operator_writer(&app, i, &org.id));
    }
    let mut expected = start.map(|available| Books {
        available,
        ..Books::default()
    });
    let mut payouts = Vec::new();
    for writer in writers {
        let done = writer.await.unwrap();
        let books = &mut expected[done.org];
        books.available += done.books.available;
        books.held += done.books.held;
        books.paid_out += done.books.paid_out;
        payouts.extend(
            done.payouts
                .into_iter()
                .map(|(id, want)| (done.org, id, want)),
        );
    }
    // Settlement goes on after the last request: keep verifying through it.
    requests_done.store(true, Ordering::SeqCst);
    settler.await.unwrap();
    app.settle().await;
    for (org, id, want) in &payouts {
        app.expect_status(&format!("/payouts/{id}"), &orgs[*org].key, want)
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
    assert!(runs >= 5, "{runs} runs");

    for (org, want) in orgs.iter().zip(expected) {
        let balance = app.balance(org).await;
        let got = Books {
            available: balance["available"].as_i64().unwrap(),
            held: balance["held"].as_i64().unwrap(),
            paid_out: balance["paidOut"].as_i64().unwrap(),
        };
        assert_eq!(got, want, "{}: {balance}", org.id);
        assert_eq!(
            (balance["inPayout"].as_i64(), balance["pending"].as_i64()),
            (Some(0), Some(0)),
            "{}: {balance}",
            org.id
        );
    }
    app.stop().await;
}
