//! Thousands of random operations at once — credits, releases, payouts,
//! retries and races with the same key (one answer, one payout per key), provider events in any order and duplicated —
//! and the books must still be right, to the cent.
mod common;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicI64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use common::*;
use payouts::{
    domain::payout_status::PayoutStatus,
    error::Error,
    provider::{EventObject, ProviderEvent},
    service::{funds, orgs, payouts as payout_service, provider_events},
};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const WORKERS: u64 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_operations_keep_the_books() {
    let total_ops: usize = std::env::var("TEST_RANDOM_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("TEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    println!("seed {seed} (rerun with TEST_SEED={seed})");

    // The sandbox's own events and retries stay out of the way: this test
    // plays the provider itself.
    let app = TestApp::spawn_with(|c| {
        c.sandbox_delay = std::time::Duration::from_secs(3600);
        c.provider_retry_delay = std::time::Duration::from_secs(3600);
    })
    .await;
    let mut orgs_ = Vec::new();
    for account in [GOOD_ACCOUNT, "000111111116", GOOD_ACCOUNT] {
        let org = app.verified_org(account).await;
        orgs_.push(orgs::find(app.db(), &org.id).await.unwrap().unwrap());
    }
    let orgs_ = Arc::new(orgs_);
    let credited = Arc::new(AtomicI64::new(0));
    // One key pool for all workers, so the same key is sent by several
    // workers at once; each key has one amount and one organization.
    let mut pool_rng = StdRng::seed_from_u64(seed);
    let key_pool: Arc<Vec<(String, i64, usize)>> = Arc::new(
        (0..(total_ops / 20).max(4))
            .map(|n| {
                let key = format!("key-{n}");
                (key, pool_rng.gen_range(1000..=8000), n % orgs_.len())
            })
            .collect(),
    );
    // Key → the payout id its first success answered.
    let answers: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let replays_checked = Arc::new(AtomicUsize::new(0));
    let payouts_made: Arc<Mutex<Vec<String>>> = Arc::default();

    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let (service, orgs_, credited, payouts_made, key_pool, answers, replays_checked) = (
            app.app().clone(),
            orgs_.clone(),
            credited.clone(),
            payouts_made.clone(),
            key_pool.clone(),
            answers.clone(),
            replays_checked.clone(),
        );
        let ops = total_ops / WORKERS as usize;
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(worker + 1));
            for _ in 0..ops {
                let org = orgs_.choose(&mut rng).unwrap();
                match rng.gen_range(0..100) {
                    0..=24 => {
                        let amount = rng.gen_range(1..=20_000);
                        funds::credit(&service.db, org, amount, rng.gen_bool(0.1), None)
                            .await
                            .unwrap();
                        credited.fetch_add(amount, Ordering::SeqCst);
                    }
                    25..=29 => {
                        let txn = payouts::db::begin_write(&service.db).await.unwrap();
                        funds::release(&txn, &org.id, Some(rng.gen_range(1..=10_000)))
                            .await
                            .unwrap();
                        txn.commit().await.unwrap();
                    }
                    30..=59 => {
                        // A key from the shared pool, sometimes sent twice at
                        // once: the same request raced and retried.
                        let (key, amount, org_index) = key_pool.choose(&mut rng).unwrap().clone();
                        let org = &orgs_[org_index];
                        let send =
                            || payout_service::create(&service, org, amount, None, Some(&key));
                        let results = if rng.gen_bool(0.2) {
                            let (a, b) = tokio::join!(send(), send());
                            vec![a, b]
                        } else {
                            vec![send().await]
                        };
                        for result in results {
                            match result {
                                Ok(payout) => {
                                    let mut answers = answers.lock().unwrap();
                                    match answers.get(&key) {
                                        Some(first) => {
                                            assert_eq!(
                                                first, &payout.id,
                                                "key {key} answered two different payouts"
                                            );
                                            replays_checked.fetch_add(1, Ordering::SeqCst);
                                        }
                                        None => {
                                            answers.insert(key.clone(), payout.id.clone());
                                            payouts_made.lock().unwrap().push(payout.id);
                                        }
                                    }
                                }
                                Err(Error::InsufficientBalance { .. }) => {}
                                // The twin of a raced request still holds the key.
                                Err(Error::IdempotencyInProgress) => {}
                                Err(other) => panic!("payout: {other:?}"),
                            }
                        }
                    }
                    _ => {
                        let target = payouts_made.lock().unwrap().choose(&mut rng).cloned();
                        let Some(payout_id) = target else {
                            continue;
                        };
                        // The answer of a raced twin can precede the winner's
                        // provider call: no transfer to report on yet.
                        let stored = entity::payout::Entity::find_by_id(payout_id.clone())
                            .one(&service.db)
                            .await
                            .unwrap()
                            .expect("an answered payout is stored");
                        let Some(transfer_id) = stored.provider_transfer_id else {
                            continue;
                        };
                        let status = *[
                            PayoutStatus::InTransit,
                            PayoutStatus::Paid,
                            PayoutStatus::Failed,
                            PayoutStatus::Canceled,
                        ]
                        .choose(&mut rng)
                        .unwrap();
                        let failed = status == PayoutStatus::Failed;
                        let event = ProviderEvent {
                            // A small pool of ids: redeliveries happen all the time.
                            id: format!("evt_{}", rng.gen_range(0..(total_ops / 3).max(1))),
                            event_type: format!("payout.{}", status.as_str()),
                            created: chrono::Utc::now(),
                            object: EventObject::Payout {
                                transfer_id,
                                payout_id: Some(payout_id).filter(|_| rng.gen_bool(0.5)),
                                status,
                                failure_code: failed.then(|| "account_closed".to_string()),
                                failure_message: failed.then(|| "closed".to_string()),
                            },
                        };
                        provider_events::apply(&service, "sandbox", &event)
                            .await
                            .unwrap();
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker finished without panicking");
    }

    // Exactly one payout per key that succeeded, and it is the one every
    // answer for that key named.
    let answers = answers.lock().unwrap().clone();
    assert!(
        replays_checked.load(Ordering::SeqCst) > 0,
        "no key was ever replayed: the test proved nothing about retries"
    );
    let keyed = entity::payout::Entity::find()
        .filter(entity::payout::Column::IdempotencyKey.is_not_null())
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(
        keyed.len(),
        answers.len(),
        "payouts made with a key vs distinct keys that succeeded"
    );
    for payout in &keyed {
        let key = payout.idempotency_key.as_deref().unwrap();
        assert_eq!(
            answers.get(key),
            Some(&payout.id),
            "stored payout for {key}"
        );
    }

    // Not a cent created or lost: everything credited is somewhere.
    let mut held = 0;
    for org in orgs_.iter() {
        let b = payouts::service::ledger::get_balance(app.db(), &org.id)
            .await
            .unwrap();
        assert!(b.available >= 0 && b.pending >= 0 && b.in_payout >= 0);
        held += b.available + b.pending + b.in_payout + b.paid_out + b.fees;
        assert_eq!(
            b.external,
            -(b.available + b.pending + b.in_payout + b.paid_out + b.fees)
        );
    }
    assert_eq!(held, credited.load(Ordering::SeqCst));
    println!("{} payouts made", payouts_made.lock().unwrap().len());
    // stop() runs `ledger verify` over every invariant.
    app.stop().await;
}
