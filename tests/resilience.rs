//! Provider outages, pending funds and several instances.
//!
//! One piece: every test drives the same failure harness (provider faults, the manual clock, two instances on one database).
//!
//! Provider outages and refusals, funds that arrive pending, the balance
//! transaction list, and several instances on one database.
mod common;

use std::{collections::HashSet, time::Duration};

use common::*;
use payouts::{provider::sandbox::Fault, queue::Job};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_outage_is_retried_by_the_job() {
    // The test runs the jobs and moves their clock: a minute's backoff
    // passes without waiting.
    let app = TestApp::spawn_manual_jobs(|c| c.job_retry_base = Duration::from_secs(60)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    // Down for the request's own call and the job's first retry.
    app.sandbox().inject(Fault::Unavailable, 2);
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 2000}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.data()["status"], "pending");
    assert_eq!(reply.data()["providerTransferId"], serde_json::Value::Null);
    let id = reply.data()["id"].as_str().unwrap().to_string();
    let submit_job = || async {
        use sea_orm::EntityTrait;
        entity::job::Entity::find_by_id(format!("submit_{id}"))
            .one(app.db())
            .await
            .unwrap()
            .expect("the submit job")
    };

    // The safety net waits `provider_retry_delay` before its first run.
    assert!(app.run_due_jobs().await.is_idle());
    app.advance(app.config.provider_retry_delay);
    assert_eq!(app.run_due_jobs().await.retried, 1, "met the outage");
    assert_eq!(submit_job().await.attempts, 1);
    // Backed off by `job_retry_base`: not a second sooner.
    app.advance(Duration::from_secs(59));
    assert!(app.run_due_jobs().await.is_idle());
    app.advance(Duration::from_secs(1));
    assert_eq!(app.run_due_jobs().await.done, 1, "got through");
    // The sandbox's events (in_transit, then paid) fall due in turn.
    app.advance(app.config.sandbox_delay * 2);
    app.run_due_jobs().await;

    let paid = app
        .expect_status(&format!("/payouts/{id}"), &org.key, "paid")
        .await;
    assert!(paid["providerTransferId"].is_string());
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["paidOut"].as_i64()),
        (Some(8000), Some(2000))
    );
    // It was the job that retried: its first run met the outage, its second
    // got through (three provider calls in all, the request's included).
    let job = submit_job().await;
    assert_eq!(job.attempts, 2, "{job:?}");
    assert!(job.done_at.is_some());
    assert!(
        job.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("unavailable"),
        "{job:?}"
    );
    assert_eq!(metric(&app, PAYOUT_CALLS).await, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_fails_the_payout_and_returns_the_money() {
    let app = TestApp::spawn_manual_jobs(|c| c.provider_max_attempts = 2).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    app.sandbox().inject(Fault::Unavailable, 100);
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 2000}))
        .await;
    assert_eq!(reply.status, 201);
    let id = reply.data()["id"].as_str().unwrap().to_string();
    // The job's two attempts, each after its wait.
    app.advance(app.config.provider_retry_delay);
    assert_eq!(app.run_due_jobs().await.retried, 1);
    app.advance(app.config.job_retry_base);
    assert_eq!(app.run_due_jobs().await.done, 1);
    let failed = app
        .expect_status(&format!("/payouts/{id}"), &org.key, "failed")
        .await;
    assert_eq!(failed["failureCode"], "provider_error");
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(10_000), Some(0))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_refusal_is_a_502_and_changes_no_balance() {
    let app = TestApp::spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    app.sandbox().inject(Fault::Refused, 1);
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 2000}))
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (502, "provider_error")
    );
    assert_eq!(reply.body["error"]["type"], "provider_error");
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(10_000), Some(0))
    );
    // The next one goes through.
    assert_eq!(
        app.post("/payouts", &org.key, json!({"amount": 2000}))
            .await
            .status,
        201
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_funds_are_released() {
    use payouts::service::{funds, orgs};
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let model = orgs::find(app.db(), &org.id).await.unwrap().unwrap();
    funds::credit(app.db(), &model, 5000, true, None)
        .await
        .unwrap();
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["pending"].as_i64()),
        (Some(0), Some(5000))
    );
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(reply.status, 402, "pending funds cannot be paid out");

    let txn = payouts::db::begin_write(app.db()).await.unwrap();
    funds::release(&txn, &org.id, Some(2000)).await.unwrap();
    txn.commit().await.unwrap();
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["pending"].as_i64()),
        (Some(2000), Some(3000))
    );

    // Funds with a release date: the job makes them available when it comes.
    let due = app.app().clock.now() + chrono::Duration::hours(1);
    funds::credit(app.db(), &model, 4000, false, Some(due))
        .await
        .unwrap();
    let not_yet = app.balance(&org).await;
    assert_eq!(
        (not_yet["available"].as_i64(), not_yet["pending"].as_i64()),
        (Some(2000), Some(7000))
    );
    app.advance(Duration::from_secs(3600));
    app.run_due_jobs().await;
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["pending"].as_i64()),
        (Some(6000), Some(3000))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_transactions_are_paginated() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    for _ in 0..3 {
        app.credit(&org, 5000).await;
    }
    for amount in [1000, 1100] {
        assert_eq!(
            app.post("/payouts", &org.key, json!({"amount": amount}))
                .await
                .status,
            201
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/balance/transactions?limit=2&cursor={c}"),
            None => "/balance/transactions?limit=2".to_string(),
        };
        let page = app.get(&path, &org.key).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["data"].as_array().unwrap().clone();
        assert!(items.len() <= 2);
        seen.extend(items);
        if page.body["hasMore"] == false {
            assert_eq!(page.body["nextCursor"], serde_json::Value::Null);
            break;
        }
        cursor = Some(page.body["nextCursor"].as_str().unwrap().to_string());
    }
    let kinds: Vec<&str> = seen.iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["payout", "payout", "credit", "credit", "credit"],
        "newest first"
    );
    let ids: HashSet<&str> = seen.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 5, "no transaction twice");
    assert_eq!(seen[0]["amount"], 1100);
    assert!(seen[0]["payoutId"].as_str().unwrap().starts_with("po_"));
    assert_eq!(seen[4]["payoutId"], serde_json::Value::Null);

    // Bad parameters, and a cursor of another organization.
    let reply = app.get("/balance/transactions?limit=0", &org.key).await;
    assert_eq!(
        (reply.status.as_u16(), reply.body["error"]["param"].as_str()),
        (422, Some("limit"))
    );
    let other = app.org().await;
    let reply = app
        .get(
            &format!(
                "/balance/transactions?cursor={}",
                seen[0]["id"].as_str().unwrap()
            ),
            &other.key,
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (404, "not_found")
    );
    app.stop().await;
}

/// A counter's value in an instance's Prometheus text (0 when absent).
async fn metric(app: &TestApp, series: &str) -> u64 {
    let text = app.app().metrics.render(app.db()).await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

const PAYOUT_CALLS: &str =
    "provider_call_duration_seconds_count{operation=\"create_payout\",provider=\"sandbox\"}";
const DELIVERIES: &str = "sandbox_webhook_deliveries_total{result=\"succeeded\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_settle_each_payout_exactly_once() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    const PAYOUTS: i64 = 20;
    // The submit safety net falls due after the requests' own provider
    // calls, even on a loaded machine (one due while a request is still
    // sending would ask the provider again: harmless, the call is keyed by
    // the payout id, but not what this test counts).
    let first = TestApp::spawn_with(|c| {
        c.sandbox_delay = std::time::Duration::from_millis(100);
        c.provider_retry_delay = std::time::Duration::from_secs(2);
    })
    .await;
    let second = first.spawn_peer().await;
    let org = first.verified_org(GOOD_ACCOUNT).await;
    first.credit(&org, 100_000).await;
    // All at once, half through each instance.
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..PAYOUTS {
        let app = if i % 2 == 0 { &first } else { &second };
        let request = app
            .client
            .post(format!("{}/api/v1/payouts", app.base))
            .header("x-api-key", &org.key)
            .json(&json!({"amount": 1000 + i}));
        requests.spawn(async move { TestApp::reply(request.send().await.unwrap()).await });
    }
    let replies = requests.join_all().await;
    let mut ids = Vec::new();
    for reply in replies {
        assert_eq!(reply.status, 201, "{}", reply.body);
        ids.push(reply.data()["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        second
            .wait_for(&format!("/payouts/{id}"), &org.key, "paid")
            .await;
    }
    let total: i64 = (0..PAYOUTS).map(|i| 1000 + i).sum();
    let balance = first.balance(&org).await;
    assert_eq!(
        balance["paidOut"].as_i64(),
        Some(total),
        "each payout paid once"
    );
    assert_eq!(balance["available"].as_i64(), Some(100_000 - total));

    // Every job is done and ran once: the submit safety nets (which find the
    // transfer recorded) and the sandbox's deliveries (the verification's
    // account.updated, then in_transit and paid per payout).
    // The two real workers run them: this is about them, so wait (bounded).
    let jobs = eventually("every job done by the two workers", WAIT_LIMIT, || async {
        let jobs = entity::job::Entity::find().all(first.db()).await.unwrap();
        let pending: Vec<_> = jobs.iter().filter(|j| j.done_at.is_none()).collect();
        match pending.is_empty() {
            true => Ok(jobs),
            false => Err(format!("jobs never done: {pending:#?}")),
        }
    })
    .await;
    let twice: Vec<_> = jobs.iter().filter(|j| j.attempts != 1).collect();
    assert!(twice.is_empty(), "jobs run more than once: {twice:#?}");
    let deliveries = jobs
        .iter()
        .filter(|j| j.kind == <payouts::provider::sandbox::DeliverEvent as Job>::KIND)
        .count() as u64;
    let submits = jobs
        .iter()
        .filter(|j| j.kind == <payouts::service::payouts::SubmitPayout as Job>::KIND)
        .count() as u64;
    assert_eq!(
        (deliveries, submits),
        (1 + 2 * PAYOUTS as u64, PAYOUTS as u64)
    );

    // The provider was asked once per payout, and each event delivered once,
    // across both instances.
    assert_eq!(
        metric(&first, PAYOUT_CALLS).await + metric(&second, PAYOUT_CALLS).await,
        PAYOUTS as u64,
        "provider payout calls"
    );
    assert_eq!(
        metric(&first, DELIVERIES).await + metric(&second, DELIVERIES).await,
        deliveries,
        "webhook deliveries made"
    );
    let applied = entity::provider_event::Entity::find()
        .count(first.db())
        .await
        .unwrap();
    assert_eq!(
        applied,
        deliveries + 1,
        "one event per delivery job, plus the test's verification"
    );
    second.stop().await;
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_an_object_not_stored_yet_is_not_consumed() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let app = TestApp::spawn_with(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await;
    let org = app.org().await;
    let now = chrono::Utc::now().timestamp();
    let event = |account: &str| {
        json!({"id": "evt_early", "type": "account.updated", "created": now,
               "data": {"object": {"id": account, "status": "verified"}}})
        .to_string()
    };
    // The provider calls back before the account is stored: refused with a
    // non-2xx (so it is redelivered), and the event id is not used up.
    let early = event("acct_not_stored_yet");
    let reply = app
        .send_webhook(&early, Some(app.signed_webhook(&early, now)))
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (404, "not_found")
    );
    let payout_event = json!({"id": "evt_early_payout", "type": "payout.paid", "created": now,
        "data": {"object": {"id": "tr_unknown", "status": "paid"}}})
    .to_string();
    let reply = app
        .send_webhook(&payout_event, Some(app.signed_webhook(&payout_event, now)))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        entity::provider_event::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );

    // Once the account exists, the same event id applies.
    let body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    let account = app.post("/payouts/verification", &org.key, body).await;
    let redelivered = event(account.data()["providerAccountId"].as_str().unwrap());
    let reply = app
        .send_webhook(&redelivered, Some(app.signed_webhook(&redelivered, now)))
        .await;
    assert_eq!(reply.data()["result"], "applied");
    assert_eq!(
        app.get("/payouts/account", &org.key).await.data()["status"],
        "verified"
    );
    app.stop().await;
}

/// The limiter protects capacity, not money: when Redis is down, requests
/// are served uncounted (no 429 even past the burst, no RateLimit headers)
/// rather than refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limiter_fails_open_when_redis_is_down() {
    // A port nobody listens on: every Redis call is refused at once.
    let app = TestApp::spawn_with(|c| {
        c.redis_url = Some(format!("redis://127.0.0.1:{}", free_port()));
        c.rate_limit_burst = 1;
        c.rate_limit_per_second = 0.01;
    })
    .await;
    let org = app.org().await;
    for _ in 0..3 {
        let reply = app.get("/balance", &org.key).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            !reply.headers.contains_key("ratelimit-remaining"),
            "uncounted: {:?}",
            reply.headers
        );
    }
    app.stop().await;
}
