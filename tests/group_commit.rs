//! Group commit: concurrent payouts share one transaction on SQLite's
//! single writer, each in its own savepoint. Refused ones change nothing,
//! the others commit, and every caller hears only after the shared commit.
mod common;

use std::{sync::atomic::Ordering, time::Duration};

use common::{TestApp, GOOD_ACCOUNT};
use sea_orm::{DbBackend, EntityTrait, PaginatorTrait};
use serde_json::json;

/// POST /payouts of 1000 in the background: `(status, body)`.
fn payout(app: &TestApp, key: &str) -> tokio::task::JoinHandle<(u16, serde_json::Value)> {
    let request = app
        .client
        .post(format!("{}/api/v1/payouts", app.base))
        .header("x-api-key", key)
        .json(&json!({"amount": 1000}));
    tokio::spawn(async move {
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap())
    })
}

/// Waits until `n` write requests wait in the writer's queue.
async fn wait_queued(stats: &payouts::group_commit::Stats, n: u64) {
    for _ in 0..2000 {
        if stats.waiting.load(Ordering::Relaxed) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the writer never queued {n} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_payouts_inside_a_batch_change_nothing_and_the_others_commit() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = Duration::from_secs(3600)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 5_000).await;
    let payouts_before = entity::payout::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    let sqlite = app.db().get_database_backend() == DbBackend::Sqlite;
    let stats = app.app().writer.stats.clone();

    // Hold SQLite's one write connection so the payouts queue up behind it
    // and the writer takes them as one batch when it is released.
    let held = payouts::db::begin_write(app.db()).await.unwrap();
    let requests: Vec<_> = (0..12).map(|_| payout(&app, &org.key)).collect();
    if sqlite {
        // The writer took the first request and waits for the connection;
        // the other eleven wait in its queue.
        wait_queued(&stats, 11).await;
    }
    held.rollback().await.unwrap();
    let mut replies = Vec::new();
    for request in requests {
        replies.push(request.await.unwrap());
    }

    let created: Vec<_> = replies.iter().filter(|(s, _)| *s == 201).collect();
    let refused: Vec<_> = replies.iter().filter(|(s, _)| *s == 402).collect();
    assert_eq!((created.len(), refused.len()), (5, 7), "{replies:?}");
    assert!(refused
        .iter()
        .all(|(_, body)| body["error"]["code"] == "insufficient_balance"));
    // Every acknowledged payout is there; the refused left no row and no money moved.
    for (_, body) in &created {
        let id = body["data"]["id"].as_str().unwrap();
        assert_eq!(
            app.get(&format!("/payouts/{id}"), &org.key).await.status,
            200
        );
    }
    let payouts_after = entity::payout::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(payouts_after - payouts_before, 5);
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(0), Some(5_000))
    );
    if sqlite {
        assert!(
            stats.mixed_batches.load(Ordering::Relaxed) >= 1,
            "no batch held both committed and refused payouts"
        );
    }
    // Ledger invariants (balanced, no overspend, matching balances) checked here.
    app.stop().await;
}

/// Same idempotency key, six payouts at once into one batch, called below
/// the API (whose key lock would otherwise serialize them): the later ones
/// reserve money, then hit the key's unique index; rolling back their
/// savepoints must undo the reservation too. One payout, money moved once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_savepoint_rolled_back_after_it_wrote_leaves_nothing() {
    let app = TestApp::spawn_with(|c| c.sandbox_delay = Duration::from_secs(3600)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 5_000).await;
    let sqlite = app.db().get_database_backend() == DbBackend::Sqlite;
    let stats = app.app().writer.stats.clone();
    let model = payouts::service::orgs::find(app.db(), &org.id)
        .await
        .unwrap()
        .unwrap();
    let held = payouts::db::begin_write(app.db()).await.unwrap();
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let (service, model) = (app.app().clone(), model.clone());
            tokio::spawn(async move {
                payouts::service::payouts::create(&service, &model, 1000, None, Some("same-key-1"))
                    .await
            })
        })
        .collect();
    if sqlite {
        wait_queued(&stats, 5).await;
    }
    held.rollback().await.unwrap();
    let mut ids = Vec::new();
    for request in requests {
        let created = request.await.unwrap();
        ids.push(created.map_err(|e| format!("{e:?}")).unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one payout for one key: {ids:?}");
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(4_000), Some(1_000))
    );
    app.stop().await;
}
