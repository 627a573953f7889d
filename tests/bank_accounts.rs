//! Bank accounts over the API.
//!
//! One piece: the bank accounts resource's tests, sharing its helpers (add, list, the rows, an unsent payout).
//!
//! Bank accounts: added, listed, made the default and deleted over the API,
//! never showing the number; a deleted account never has a payout in flight.
mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_accounts_never_show_the_number() {
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let reply = app
        .post("/payouts/bank-accounts", &org.key, json!({"accountNumber": "000999999991", "accountHolderName": "Ann Lee", "routingNumber": TEST_ROUTING, "accountType": "savings"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let bank = reply.data();
    assert_eq!(bank["object"], "payout_bank_account");
    assert_eq!(bank["last4"], "9991");
    assert_eq!(
        bank["isDefault"], false,
        "the verification's account stays the default"
    );
    assert_eq!(bank["accountType"], "savings");
    assert_eq!(bank["bankName"], "STRIPE TEST BANK");
    assert_eq!(bank["status"], "active");
    assert_eq!(
        (bank["country"].as_str(), bank["currency"].as_str()),
        (Some("US"), Some("usd"))
    );
    assert!(!reply.body.to_string().contains("000999999991"));

    let reply = app.post("/payouts/bank-accounts", &org.key, json!({"accountNumber": "000111111116", "accountHolderName": "Ann Lee", "setDefault": true})).await;
    assert_eq!(reply.data()["isDefault"], true);
    assert_eq!(reply.data()["accountType"], serde_json::Value::Null);
    // Payouts now go to the new default, which fails.
    app.credit(&org, 5000).await;
    let id = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.settle().await;
    assert_eq!(
        app.expect_status(&format!("/payouts/{id}"), &org.key, "failed")
            .await["failureCode"],
        "no_account"
    );
    app.stop().await;
}

async fn add_bank(app: &TestApp, org: &Org, number: &str, set_default: bool) -> String {
    let reply = app
        .post(
            "/payouts/bank-accounts",
            &org.key,
            json!({"accountNumber": number, "accountHolderName": "Ann Lee",
                   "routingNumber": TEST_ROUTING, "setDefault": set_default}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.data()["id"].as_str().unwrap().to_string()
}

fn ids_of(reply: &Reply) -> Vec<String> {
    reply
        .data()
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", reply.body))
        .iter()
        .map(|b| b.as_object().unwrap()["id"].as_str().unwrap().to_string())
        .collect()
}

fn defaults(reply: &Reply) -> Vec<String> {
    reply
        .data()
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["isDefault"] == true)
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

async fn bank_row(app: &TestApp, id: &str) -> Option<entity::bank_account::Model> {
    use sea_orm::EntityTrait;
    entity::bank_account::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
}

/// A pending payout to the default bank account that was never sent (as a
/// crash before the provider call leaves it), so the test decides its fate.
async fn unsent_payout(app: &TestApp, org: &Org, amount: i64) -> String {
    let model = payouts::service::orgs::find(app.db(), &org.id)
        .await
        .unwrap()
        .unwrap();
    payouts::service::payouts::create_unsubmitted(app.app(), &model, amount, None)
        .await
        .unwrap()
        .id
}

async fn spawn_quiet() -> TestApp {
    TestApp::spawn_manual_jobs(|c| c.sandbox_delay = std::time::Duration::from_secs(3600)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_accounts_are_listed_newest_first_without_their_numbers() {
    let app = spawn_quiet().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let other = app.verified_org(GOOD_ACCOUNT).await;
    let first = ids_of(&app.get("/payouts/bank-accounts", &org.key).await);
    assert_eq!(first.len(), 1, "the verification's account");
    let second = add_bank(&app, &org, "000999999991", false).await;
    let third = add_bank(&app, &org, "000999999992", false).await;

    let reply = app.get("/payouts/bank-accounts", &org.key).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (
            reply.body["success"].as_bool(),
            reply.body["hasMore"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(
        ids_of(&reply),
        [third.clone(), second.clone(), first[0].clone()]
    );
    assert_eq!(defaults(&reply), [first[0].clone()]);
    let listed = &reply.data()[0];
    assert_eq!(listed["object"], "payout_bank_account");
    assert_eq!(listed["last4"], "9992");
    let text = reply.body.to_string();
    for number in ["000999999991", "000999999992", GOOD_ACCOUNT] {
        assert!(!text.contains(number), "a full number was listed: {text}");
    }

    // One at a time, with the cursor.
    let page = app.get("/payouts/bank-accounts?limit=1", &org.key).await;
    assert_eq!(ids_of(&page), vec![third.clone()]);
    assert_eq!(page.body["hasMore"], true);
    let cursor = page.body["nextCursor"].as_str().unwrap();
    let page = app
        .get(
            &format!("/payouts/bank-accounts?limit=2&cursor={cursor}"),
            &org.key,
        )
        .await;
    assert_eq!(ids_of(&page), [second.clone(), first[0].clone()]);
    assert_eq!(page.body["nextCursor"], serde_json::Value::Null);

    // Another organization sees none of them, and their ids name nothing.
    let theirs = app.get("/payouts/bank-accounts", &other.key).await;
    assert_eq!(ids_of(&theirs).len(), 1);
    assert!(!ids_of(&theirs).contains(&second));
    for cursor in [second.as_str(), "pba_doesNotExist", "po_abc", "nonsense"] {
        let reply = app
            .get(
                &format!("/payouts/bank-accounts?cursor={cursor}"),
                &other.key,
            )
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (404, "not_found"),
            "{cursor}"
        );
    }
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("cursor=", "cursor"),
    ] {
        let reply = app
            .get(&format!("/payouts/bank-accounts?{query}"), &org.key)
            .await;
        assert_eq!(reply.status, 422, "{query}");
        assert_eq!(reply.body["error"]["param"], param);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_account_is_made_the_default_and_payouts_follow_it() {
    let app = spawn_quiet().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let other = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let old = defaults(&app.get("/payouts/bank-accounts", &org.key).await);
    let new = add_bank(&app, &org, "000999999991", false).await;

    // Not found for another organization, nor for ids never issued: nothing changes.
    for (who, id) in [
        (&other, new.as_str()),
        (&org, "pba_doesNotExist"),
        (&org, "x%00"),
    ] {
        let reply = app
            .post(
                &format!("/payouts/bank-accounts/{id}/default"),
                &who.key,
                json!({}),
            )
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (404, "not_found"),
            "{id}"
        );
    }
    assert_eq!(
        defaults(&app.get("/payouts/bank-accounts", &org.key).await),
        old
    );

    let path = format!("/payouts/bank-accounts/{new}/default");
    let send = || async {
        let response = app
            .client
            .post(format!("{}/api/v1{path}", app.base))
            .header("x-api-key", &org.key)
            .header("idempotency-key", "make-default")
            .send()
            .await
            .unwrap();
        TestApp::reply(response).await
    };
    let reply = send().await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.data()["id"], new.as_str());
    assert_eq!(reply.data()["isDefault"], true);
    assert_eq!(reply.data()["last4"], "9991");
    let replay = send().await;
    assert_eq!((replay.status.as_u16(), &replay.body), (200, &reply.body));
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(
        defaults(&app.get("/payouts/bank-accounts", &org.key).await),
        vec![new.clone()]
    );
    // Already the default: the same answer, nothing changes.
    let again = app.post(&path, &org.key, json!({})).await;
    assert_eq!(again.data()["isDefault"], true);

    let payout = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    use sea_orm::EntityTrait;
    let row = entity::payout::Entity::find_by_id(payout.data()["id"].as_str().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.bank_account_id, new);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_bank_account_keeps_payout_history_and_refuses_the_default_and_busy_ones() {
    let app = spawn_quiet().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let other = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let first = defaults(&app.get("/payouts/bank-accounts", &org.key).await)[0].clone();
    let used = add_bank(&app, &org, "000999999991", true).await;
    let unused = add_bank(&app, &org, "000999999992", false).await;
    let delete = |id: String, key: String| {
        let app = &app;
        async move {
            app.request(
                reqwest::Method::DELETE,
                &format!("/payouts/bank-accounts/{id}"),
                Some(&key),
                None,
            )
            .await
        }
    };
    let listed = || async { ids_of(&app.get("/payouts/bank-accounts", &org.key).await) };
    let before = listed().await;

    // The default one: refused, nothing changes.
    let reply = delete(used.clone(), org.key.clone()).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (409, "bank_account_is_default"),
        "{}",
        reply.body
    );
    // Another organization's, or an id never issued: not found.
    for (id, key) in [
        (unused.clone(), other.key.clone()),
        ("pba_doesNotExist".to_string(), org.key.clone()),
        ("nonsense".to_string(), org.key.clone()),
    ] {
        let reply = delete(id.clone(), key).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (404, "not_found"),
            "{id}"
        );
    }
    assert_eq!(listed().await, before);

    // A payout in flight to it: refused until it is over.
    let payout = unsent_payout(&app, &org, 2000).await;
    let reply = app
        .post(
            &format!("/payouts/bank-accounts/{first}/default"),
            &org.key,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let reply = delete(used.clone(), org.key.clone()).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (409, "bank_account_in_use"),
        "{}",
        reply.body
    );
    assert_eq!(listed().await, before);
    let canceled = app
        .post(&format!("/payouts/{payout}/cancel"), &org.key, json!({}))
        .await;
    assert_eq!(canceled.status, 200, "{}", canceled.body);

    // Now it goes; the payout that named it keeps its history.
    let reply = delete(used.clone(), org.key.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.data(),
        &json!({"id": used, "deleted": true, "object": "payout_bank_account", "livemode": false})
    );
    assert!(!listed().await.contains(&used));
    let kept = bank_row(&app, &used)
        .await
        .expect("kept for the payout's history");
    assert!(kept.deleted_at.is_some());
    assert_eq!(kept.account_number_encrypted, "", "its number is forgotten");
    assert_eq!(kept.last4, "9991");
    let history = app.get(&format!("/payouts/{payout}"), &org.key).await;
    assert_eq!(history.data()["status"], "canceled");
    // Gone for every operation.
    assert_eq!(delete(used.clone(), org.key.clone()).await.status, 404);
    let reply = app
        .post(
            &format!("/payouts/bank-accounts/{used}/default"),
            &org.key,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 404);

    // One no payout ever named is removed outright.
    let reply = delete(unused.clone(), org.key.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(bank_row(&app, &unused).await.is_none());
    assert_eq!(listed().await, vec![first.clone()]);

    // Payouts still go to the default.
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 1000}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    app.stop().await;
}

/// Payouts requested while their default bank account is replaced and
/// deleted: a payout never stays in flight to a deleted account (the
/// reservation holds the account's row, the delete checks after taking it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bank_account_deleted_while_payouts_are_requested_is_never_left_with_one_in_flight() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_quiet().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 1_000_000).await;
    let mut current = defaults(&app.get("/payouts/bank-accounts", &org.key).await)[0].clone();
    for round in 0..8 {
        let next = add_bank(&app, &org, &format!("00099999999{round}"), false).await;
        let requests = async {
            let mut answers = Vec::new();
            for _ in 0..3 {
                answers.push(
                    app.post("/payouts", &org.key, json!({"amount": 1000}))
                        .await,
                );
            }
            answers
        };
        let replace = async {
            let reply = app
                .post(
                    &format!("/payouts/bank-accounts/{next}/default"),
                    &org.key,
                    json!({}),
                )
                .await;
            assert_eq!(reply.status, 200);
            app.request(
                reqwest::Method::DELETE,
                &format!("/payouts/bank-accounts/{current}"),
                Some(&org.key),
                None,
            )
            .await
        };
        let (answers, deleted) = tokio::join!(requests, replace);
        for answer in answers {
            assert!(
                answer.status == 201 || answer.error_code() == "no_default_bank_account",
                "{}",
                answer.body
            );
        }
        assert!(
            deleted.status == 200 || deleted.error_code() == "bank_account_in_use",
            "{}",
            deleted.body
        );
        current = next;
    }
    let in_flight = entity::payout::Entity::find()
        .filter(entity::payout::Column::OrganizationId.eq(org.id.clone()))
        .all(app.db())
        .await
        .unwrap();
    for payout in in_flight {
        let bank = bank_row(&app, &payout.bank_account_id).await;
        assert!(
            bank.as_ref().is_some_and(|b| b.deleted_at.is_none()),
            "payout {} in flight to a deleted account: {bank:?}",
            payout.id
        );
    }
    app.stop().await;
}

/// The same race, made to happen (PostgreSQL; SQLite runs every write one
/// after another, so it cannot): a payout's reservation is held up just
/// after it chose its bank account (the test holds the balance row) while
/// that account stops being the default and is deleted. The delete waits
/// for the reservation and then refuses (the payout is in flight), so no
/// payout goes to a deleted account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delete_waits_for_a_reservation_of_the_same_account() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let app = spawn_quiet().await;
    if app.db().get_database_backend() != DbBackend::Postgres {
        eprintln!("SQLite serializes writes: nothing to race");
        return app.stop().await;
    }
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    let old = defaults(&app.get("/payouts/bank-accounts", &org.key).await)[0].clone();
    let new = add_bank(&app, &org, "000999999991", false).await;

    let waiting = || async {
        let row = app
            .db()
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    let hold = app.db().begin().await.unwrap();
    hold.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT * FROM balances WHERE organization_id = $1 FOR UPDATE",
        [org.id.clone().into()],
    ))
    .await
    .unwrap();
    let payout = tokio::spawn({
        let (client, base, key) = (app.client.clone(), app.base.clone(), org.key.clone());
        async move {
            let response = client
                .post(format!("{base}/api/v1/payouts"))
                .header("x-api-key", key)
                .json(&json!({"amount": 1000}))
                .send()
                .await
                .unwrap();
            TestApp::reply(response).await
        }
    });
    while waiting().await < 1 {
        tokio::task::yield_now().await;
    }
    // The reservation has chosen `old` and waits for the balance. Now
    // `new` becomes the default and `old` is deleted: each of those waits
    // for the reservation (it holds `old`), or, were it not held, is done.
    let replace = tokio::spawn({
        let (client, base, key) = (app.client.clone(), app.base.clone(), org.key.clone());
        let (old, new) = (old.clone(), new.clone());
        async move {
            let response = client
                .post(format!("{base}/api/v1/payouts/bank-accounts/{new}/default"))
                .header("x-api-key", &key)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let response = client
                .delete(format!("{base}/api/v1/payouts/bank-accounts/{old}"))
                .header("x-api-key", &key)
                .send()
                .await
                .unwrap();
            TestApp::reply(response).await
        }
    });
    while waiting().await < 2 && !replace.is_finished() {
        tokio::task::yield_now().await;
    }
    hold.commit().await.unwrap();
    let (payout, delete) = (payout.await.unwrap(), replace.await.unwrap());
    assert_eq!(payout.status, 201, "{}", payout.body);
    assert_eq!(
        (delete.status.as_u16(), delete.error_code()),
        (409, "bank_account_in_use"),
        "{}",
        delete.body
    );
    let bank = bank_row(&app, &old).await.expect("still there");
    assert_eq!(bank.deleted_at, None);
    app.stop().await;
}
