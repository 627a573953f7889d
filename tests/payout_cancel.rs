//! Canceling a payout.
//!
//! One piece: one operation's tests, sharing the recording provider and its race harness.
//!
//! Canceling a payout: only before it is sent to the provider, with its
//! money back in the same transaction, and never both canceled and sent
//! however the cancel and the submission race (checked against a provider
//! that records every call).
mod common;

use std::{sync::Arc, time::Duration};

use common::{recording::Calls, *};
use futures_util::future::join_all;
use payouts::{
    queue::{Job, Outcome},
    service::{orgs, payouts::SubmitPayout},
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

/// A service with a recording provider, no background worker and a manual
/// clock: nothing is submitted unless the test says so.
async fn spawn() -> (TestApp, Arc<Calls>) {
    TestApp::spawn_recording(|c| {
        c.job_worker = false;
        c.clock = payouts::clock::Clock::manual(chrono::Utc::now());
        c.sandbox_delay = Duration::from_secs(3600);
    })
    .await
}

/// A payout reserved with its submit job queued, not sent: what a crash
/// between the reservation and the provider call leaves.
async fn unsubmitted(app: &TestApp, org: &Org, amount: i64) -> String {
    let model = orgs::find(app.db(), &org.id).await.unwrap().unwrap();
    payouts::service::payouts::create_unsubmitted(app.app(), &model, amount, None)
        .await
        .unwrap()
        .id
}

async fn cancel(app: &TestApp, org: &Org, id: &str) -> Reply {
    app.request(
        reqwest::Method::POST,
        &format!("/payouts/{id}/cancel"),
        Some(&org.key),
        None,
    )
    .await
}

async fn payout_row(app: &TestApp, id: &str) -> entity::payout::Model {
    entity::payout::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

fn asked_for(calls: &Calls, id: &str) -> usize {
    calls
        .payouts()
        .iter()
        .filter(|asked| asked.payout_id == id)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_not_sent_yet_is_canceled_and_its_money_comes_back() {
    let (app, calls) = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let id = unsubmitted(&app, &org, 4000).await;
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(6000), Some(4000))
    );

    let reply = cancel(&app, &org, &id).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.data()["id"], id.as_str());
    assert_eq!(reply.data()["object"], "payout");
    assert_eq!(reply.data()["status"], "canceled");
    assert_eq!(reply.data()["providerTransferId"], Value::Null);
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(10_000), Some(0))
    );
    let transactions = app.get("/balance/transactions", &org.key).await;
    let newest = &transactions.data()[0];
    assert_eq!(
        (newest["type"].as_str(), newest["payoutId"].as_str()),
        (Some("payout_canceled"), Some(id.as_str()))
    );
    assert_eq!(
        app.get(&format!("/payouts/{id}"), &org.key).await.data()["status"],
        "canceled"
    );
    // Commet has no `payout.canceled`: the organization hears of the money
    // back as `payout.available`, with the whole available balance.
    let events = app.get("/events", &org.key).await;
    let newest = &events.data()[0];
    assert_eq!(
        (newest["event"].as_str(), &newest["data"]["availableAmount"]),
        (Some("payout.available"), &Value::from(10_000))
    );

    // Its submit job falls due: it finds the payout canceled and never
    // calls the provider.
    app.advance(app.config.provider_retry_delay);
    assert_eq!(app.run_due_jobs().await.done, 1);
    assert_eq!(asked_for(&calls, &id), 0);
    assert_eq!(payout_row(&app, &id).await.submitted_at, None);

    // A second cancel is refused and changes nothing.
    let again = cancel(&app, &org, &id).await;
    assert_eq!(
        (again.status.as_u16(), again.error_code()),
        (409, "payout_not_cancelable")
    );
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("canceled"),
        "{}",
        again.body
    );
    assert_eq!(app.balance(&org).await["available"], 10_000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_sent_to_the_provider_is_not_cancelable() {
    let (app, calls) = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    // The request sends it itself: it has a transfer id when answered.
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 2500}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.data()["id"].as_str().unwrap().to_string();
    assert_eq!(asked_for(&calls, &id), 1);
    let before = (
        app.balance(&org).await,
        app.get("/balance/transactions", &org.key).await.body,
    );

    let refused = cancel(&app, &org, &id).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.error_code(), "payout_not_cancelable");
    assert_eq!(refused.body["error"]["type"], "invalid_request_error");
    assert_eq!(refused.body["error"]["param"], Value::Null);
    assert!(refused.body["error"]["doc_url"]
        .as_str()
        .unwrap()
        .ends_with("/docs/errors/payout_not_cancelable"));
    let after = (
        app.balance(&org).await,
        app.get("/balance/transactions", &org.key).await.body,
    );
    assert_eq!(after, before, "a refused cancel changes nothing");
    assert_eq!(payout_row(&app, &id).await.status.as_str(), "pending");

    // Even when the provider's answer was lost (unavailable), it may have
    // the payout: still not cancelable.
    app.sandbox()
        .inject(payouts::provider::sandbox::Fault::Unavailable, 1);
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(reply.data()["providerTransferId"], Value::Null);
    let lost = reply.data()["id"].as_str().unwrap().to_string();
    let refused = cancel(&app, &org, &lost).await;
    assert_eq!(refused.error_code(), "payout_not_cancelable");
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("provider"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organizations_payout_is_not_found_and_bad_ids_too() {
    let (app, calls) = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let other = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let id = unsubmitted(&app, &org, 1000).await;
    for (who, path) in [
        (&other, format!("/payouts/{id}/cancel")),
        (&org, "/payouts/po_doesNotExist1/cancel".to_string()),
        (&org, "/payouts/not-an-id/cancel".to_string()),
        (&org, "/payouts/po_%00/cancel".to_string()),
    ] {
        let reply = app
            .request(reqwest::Method::POST, &path, Some(&who.key), None)
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (404, "not_found"),
            "{path}: {}",
            reply.body
        );
    }
    // Without a key: 401.
    let reply = app
        .request(
            reqwest::Method::POST,
            &format!("/payouts/{id}/cancel"),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(payout_row(&app, &id).await.status.as_str(), "pending");
    assert_eq!(app.balance(&org).await["inPayout"], 1000);
    assert!(calls.payouts().is_empty());
    // The owner still can.
    assert_eq!(cancel(&app, &org, &id).await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_with_an_idempotency_key_is_applied_once() {
    let (app, _calls) = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let id = unsubmitted(&app, &org, 3000).await;
    let send = || async {
        let response = app
            .client
            .post(format!("{}/api/v1/payouts/{id}/cancel", app.base))
            .header("x-api-key", &org.key)
            .header("idempotency-key", "cancel-once")
            .send()
            .await
            .unwrap();
        TestApp::reply(response).await
    };
    let first = send().await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = send().await;
    assert_eq!((second.status.as_u16(), &second.body), (200, &first.body));
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(app.balance(&org).await["available"], 10_000);
    app.stop().await;
}

/// A crash after the submission claimed the payout but before the provider
/// call: the payout is not cancelable any more, and the submit job, when it
/// falls due, sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_payout_whose_sender_died_is_sent_by_the_job() {
    let (app, calls) = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let id = unsubmitted(&app, &org, 2000).await;
    // What the claim commits; the process then dies before the call.
    entity::payout::Entity::update_many()
        .col_expr(
            entity::payout::Column::SubmittedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(entity::payout::Column::Id.eq(id.clone()))
        .exec(app.db())
        .await
        .unwrap();
    let refused = cancel(&app, &org, &id).await;
    assert_eq!(refused.error_code(), "payout_not_cancelable");
    assert_eq!(asked_for(&calls, &id), 0);

    app.advance(app.config.provider_retry_delay);
    assert_eq!(app.run_due_jobs().await.done, 1);
    assert_eq!(asked_for(&calls, &id), 1);
    let row = payout_row(&app, &id).await;
    assert!(row.provider_transfer_id.is_some(), "{row:?}");
    assert_eq!(app.balance(&org).await["inPayout"], 2000);
    app.stop().await;
}

/// The cancel and the submit job fired at once, for many payouts: each
/// payout ends either canceled with its money back and never sent, or sent
/// (with a transfer id) and not canceled. On SQLite writes are serialized;
/// on PostgreSQL the two conditional updates really race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_racing_the_submit_job_never_both_cancels_and_sends() {
    let (app, calls) = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    const N: usize = 40;
    const AMOUNT: i64 = 1000;
    app.credit(&org, N as i64 * AMOUNT).await;
    let mut ids = Vec::new();
    for _ in 0..N {
        ids.push(unsubmitted(&app, &org, AMOUNT).await);
    }
    let races = ids.iter().enumerate().map(|(i, id)| {
        let (app, org) = (&app, &org);
        async move {
            let submit = async { SubmitPayout::new(id.clone()).run(app.app(), 1).await };
            // The cancel goes straight in, or a few database round trips
            // later, so that it meets the submission at each of its steps
            // (reading the payout, its destination, the claim, the call).
            let cancel_later = async {
                for _ in 0..i % 8 {
                    payout_row(app, id).await;
                }
                cancel(app, org, id).await
            };
            let (reply, outcome) = tokio::join!(cancel_later, submit);
            (reply, outcome)
        }
    });
    let results = join_all(races).await;
    let mut canceled = 0;
    for (id, (reply, outcome)) in ids.iter().zip(results) {
        assert!(matches!(outcome, Outcome::Done), "{id}: {outcome:?}");
        let row = payout_row(&app, id).await;
        match reply.status.as_u16() {
            200 => {
                canceled += 1;
                assert_eq!(row.status.as_str(), "canceled", "{id}");
                assert_eq!(asked_for(&calls, id), 0, "{id} canceled and sent");
                assert_eq!((row.submitted_at, row.provider_transfer_id), (None, None));
            }
            409 => {
                assert_eq!(reply.error_code(), "payout_not_cancelable");
                assert_eq!(row.status.as_str(), "pending", "{id}");
                assert_eq!(asked_for(&calls, id), 1, "{id} refused but not sent");
                assert!(row.provider_transfer_id.is_some(), "{row:?}");
            }
            other => panic!("{id}: {other} {}", reply.body),
        }
    }
    let sent = N - canceled;
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(canceled as i64 * AMOUNT), Some(sent as i64 * AMOUNT)),
        "every canceled payout's money is back, every sent one's still reserved"
    );
    eprintln!("{canceled} canceled, {sent} sent");
    app.stop().await;
}

/// The same race against the request's own submission: a cancel fired the
/// moment the payout's row is visible, while `POST /payouts` goes on to
/// send it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_racing_the_requests_own_submission_never_both_cancels_and_sends() {
    let (app, calls) = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    const N: usize = 20;
    app.credit(&org, N as i64 * 1000).await;
    let mut canceled = 0;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..N {
        let create = app.post("/payouts", &org.key, json!({"amount": 1000}));
        let cancel_as_soon_as_seen = async {
            loop {
                let new = entity::payout::Entity::find()
                    .filter(entity::payout::Column::OrganizationId.eq(org.id.clone()))
                    .all(app.db())
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|row| !seen.contains(&row.id));
                if let Some(row) = new {
                    // The service call itself, without the HTTP and key
                    // lookup in front of it: as close behind the
                    // reservation's commit as a cancel can come.
                    let canceled =
                        payouts::service::payouts::cancel(app.app(), &org.id, &row.id).await;
                    return (row.id.clone(), canceled);
                }
                tokio::task::yield_now().await;
            }
        };
        let (created, (id, reply)) = tokio::join!(create, cancel_as_soon_as_seen);
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.data()["id"], id.as_str());
        seen.insert(id.clone());
        let row = payout_row(&app, &id).await;
        match reply {
            Ok(_) => {
                canceled += 1;
                assert_eq!(row.status.as_str(), "canceled");
                assert_eq!(created.data()["status"], "canceled", "answered as it is");
                assert_eq!(asked_for(&calls, &id), 0, "{id} canceled and sent");
            }
            Err(payouts::error::Error::PayoutNotCancelable(_)) => {
                assert_eq!(row.status.as_str(), "pending");
                assert!(row.provider_transfer_id.is_some(), "{row:?}");
                assert_eq!(asked_for(&calls, &id), 1);
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    let balance = app.balance(&org).await;
    assert_eq!(balance["available"].as_i64(), Some(canceled as i64 * 1000));
    eprintln!("{canceled} of {N} canceled before they were sent");
    app.stop().await;
}
