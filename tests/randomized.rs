//! Thousands of random operations at once — credits, releases, payouts,
//! retries with the same key, provider events in any order and duplicated —
//! and the books must still be right, to the cent.
mod common;

use std::sync::{
    atomic::{AtomicI64, AtomicUsize, Ordering},
    Arc, Mutex,
};

use common::*;
use payouts::{
    domain::payout_status::PayoutStatus,
    error::Error,
    provider::{EventObject, ProviderEvent},
    service::{funds, orgs, payouts as payout_service, webhooks},
};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};

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
    let done = Arc::new(AtomicUsize::new(0));
    let payouts_made: Arc<Mutex<Vec<(String, String)>>> = Arc::default();

    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let (service, orgs_, credited, done, payouts_made) = (
            app.app().clone(),
            orgs_.clone(),
            credited.clone(),
            done.clone(),
            payouts_made.clone(),
        );
        let ops = total_ops / WORKERS as usize;
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(worker));
            let mut keys: Vec<(String, i64)> = Vec::new();
            for op in 0..ops {
                done.fetch_add(1, Ordering::SeqCst);
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
                        // A third are retries of an earlier request, same key and body.
                        let (key, amount) = match keys.choose(&mut rng) {
                            Some(earlier) if rng.gen_bool(0.3) => earlier.clone(),
                            _ => {
                                let fresh =
                                    (format!("w{worker}-op{op}"), rng.gen_range(1000..=8000));
                                keys.push(fresh.clone());
                                fresh
                            }
                        };
                        let org = &orgs_
                            [(key.len() + key.as_bytes()[key.len() - 1] as usize) % orgs_.len()];
                        match payout_service::create(&service, org, amount, None, Some(&key)).await
                        {
                            Ok(payout) => {
                                let transfer = payout
                                    .provider_transfer_id
                                    .expect("the sandbox accepted it");
                                payouts_made.lock().unwrap().push((payout.id, transfer));
                            }
                            Err(Error::InsufficientBalance { .. }) => {}
                            Err(other) => panic!("payout: {other:?}"),
                        }
                    }
                    _ => {
                        let target = payouts_made.lock().unwrap().choose(&mut rng).cloned();
                        let Some((payout_id, transfer_id)) = target else {
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
                        webhooks::apply(&service, "sandbox", &event).await.unwrap();
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker finished without panicking");
    }
    assert_eq!(
        done.load(Ordering::SeqCst),
        total_ops - total_ops % WORKERS as usize
    );

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
