//! `GET /payouts`: newest first, filtered by status and creation time,
//! paged by cursor, scoped to the organization, bad input refused.
mod common;

use std::time::Duration;

use common::*;
use payouts::service::orgs;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

async fn spawn() -> TestApp {
    TestApp::spawn_manual_jobs(|c| c.sandbox_delay = Duration::from_secs(3600)).await
}

fn day(n: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc.with_ymd_and_hms(2026, 1, n, 12, 0, 0).unwrap()
}

/// Five payouts created on January 1st to 5th (in that order), the third
/// canceled; returns their ids, oldest first.
async fn five_payouts(app: &TestApp, org: &Org) -> Vec<String> {
    app.credit(org, 100_000).await;
    let model = orgs::find(app.db(), &org.id).await.unwrap().unwrap();
    let mut ids = Vec::new();
    for n in 1..=5 {
        let id = if n == 3 {
            let row = payouts::service::payouts::create_unsubmitted(
                app.app(),
                &model,
                1000 * n as i64,
                None,
            )
            .await
            .unwrap();
            payouts::service::payouts::cancel(app.app(), &org.id, &row.id)
                .await
                .unwrap();
            row.id
        } else {
            let reply = app
                .post("/payouts", &org.key, json!({"amount": 1000 * n}))
                .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.data()["id"].as_str().unwrap().to_string()
        };
        entity::payout::Entity::update_many()
            .col_expr(entity::payout::Column::CreatedAt, Expr::value(day(n)))
            .filter(entity::payout::Column::Id.eq(id.clone()))
            .exec(app.db())
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

fn ids_of(reply: &Reply) -> Vec<String> {
    reply
        .data()
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", reply.body))
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of `query`, following `nextCursor`.
async fn all_pages(app: &TestApp, org: &Org, query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/payouts?{query}&cursor={c}"),
            None => format!("/payouts?{query}"),
        };
        let reply = app.get(&path, &org.key).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        pages.push(ids_of(&reply));
        match reply.body["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(reply.body["hasMore"], true);
                cursor = Some(next.to_string());
            }
            None => {
                assert_eq!(reply.body["hasMore"], false);
                return pages;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_are_listed_newest_first_and_paged() {
    let app = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let ids = five_payouts(&app, &org).await;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let reply = app.get("/payouts", &org.key).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["hasMore"], false);
    assert_eq!(reply.body["nextCursor"], Value::Null);
    assert_eq!(ids_of(&reply), newest_first);
    let first = &reply.data()[0];
    assert_eq!(first["object"], "payout");
    assert_eq!(first["amount"], 5000);
    assert_eq!(first["createdAt"], "2026-01-05T12:00:00.000Z");
    // The same view as GET /payouts/{id}.
    let one = app.get(&format!("/payouts/{}", ids[4]), &org.key).await;
    assert_eq!(first, one.data());

    let pages = all_pages(&app, &org, "limit=2").await;
    assert_eq!(
        pages,
        vec![
            newest_first[0..2].to_vec(),
            newest_first[2..4].to_vec(),
            newest_first[4..].to_vec()
        ]
    );

    // Two payouts created in the same instant: the id breaks the tie, and
    // paging one at a time neither skips nor repeats one.
    entity::payout::Entity::update_many()
        .col_expr(entity::payout::Column::CreatedAt, Expr::value(day(2)))
        .filter(entity::payout::Column::Id.eq(ids[3].clone()))
        .exec(app.db())
        .await
        .unwrap();
    let pages = all_pages(&app, &org, "limit=1").await;
    let flat: Vec<String> = pages.concat();
    assert_eq!(flat.len(), 5);
    let mut sorted = flat.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "no payout twice: {flat:?}");
    assert_eq!(flat[0], ids[4]);
    assert_eq!(flat[4], ids[0]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_are_filtered_by_status_and_creation_time() {
    let app = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let ids = five_payouts(&app, &org).await;
    let get = |query: &str| {
        let path = format!("/payouts?{query}");
        let app = &app;
        let key = org.key.clone();
        async move {
            let reply = app.get(&path, &key).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            ids_of(&reply)
        }
    };
    assert_eq!(get("status=canceled").await, vec![ids[2].clone()]);
    assert_eq!(
        get("status=pending").await,
        vec![
            ids[4].clone(),
            ids[3].clone(),
            ids[1].clone(),
            ids[0].clone()
        ]
    );
    assert!(get("status=paid").await.is_empty());
    // From inclusive, to exclusive.
    assert_eq!(
        get("createdFrom=2026-01-02T12:00:00Z&createdTo=2026-01-04T12:00:00Z").await,
        vec![ids[2].clone(), ids[1].clone()]
    );
    // Any offset: 13:00 at +01:00 is 12:00 UTC.
    assert_eq!(
        get("createdFrom=2026-01-04T13:00:00%2B01:00").await,
        vec![ids[4].clone(), ids[3].clone()]
    );
    assert_eq!(
        get("createdTo=2026-01-02T00:00:00Z").await,
        vec![ids[0].clone()]
    );
    assert_eq!(
        get("status=pending&createdFrom=2026-01-02T00:00:00Z&createdTo=2026-01-05T00:00:00Z").await,
        vec![ids[3].clone(), ids[1].clone()]
    );
    // An empty range, and times at the ends of what RFC 3339 can say.
    assert!(
        get("createdFrom=2026-01-05T00:00:00Z&createdTo=2026-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert_eq!(
        get("createdFrom=0000-01-01T00:00:00%2B01:00&createdTo=9999-12-31T23:59:59-23:59")
            .await
            .len(),
        5
    );
    assert!(get("createdFrom=9999-12-31T23:59:59-23:59")
        .await
        .is_empty());
    // Filters and pages together.
    let pages = all_pages(&app, &org, "status=pending&limit=3").await;
    assert_eq!(
        pages,
        vec![
            vec![ids[4].clone(), ids[3].clone(), ids[1].clone()],
            vec![ids[0].clone()]
        ]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organizations_payouts_and_cursors_are_not_seen() {
    let app = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    let other = app.verified_org(GOOD_ACCOUNT).await;
    let ids = five_payouts(&app, &org).await;
    let reply = app.get("/payouts", &other.key).await;
    assert_eq!(reply.status, 200);
    assert!(ids_of(&reply).is_empty());
    // A cursor of another organization's payout names nothing here; nor do
    // cursors of a form never issued, or of another kind of object.
    for cursor in [
        ids[2].as_str(),
        "po_doesNotExist1",
        "nonsense",
        "txn_abc",
        "po_%00",
    ] {
        let reply = app
            .get(&format!("/payouts?cursor={cursor}"), &other.key)
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (404, "not_found"),
            "{cursor}: {}",
            reply.body
        );
        // The cursor is to blame, and the message says so.
        assert_eq!(reply.body["error"]["param"], "cursor", "{}", reply.body);
        assert_eq!(
            reply.body["error"]["message"], "no such payout (cursor)",
            "{}",
            reply.body
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_list_parameters_are_refused_naming_them() {
    let app = spawn().await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    for (query, param) in [
        ("status=lost", "status"),
        ("status=", "status"),
        ("createdFrom=yesterday", "createdFrom"),
        ("createdTo=2026-01-01", "createdTo"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=", "cursor"),
    ] {
        let reply = app.get(&format!("/payouts?{query}"), &org.key).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (422, "validation_error"),
            "{query}: {}",
            reply.body
        );
        assert_eq!(reply.body["error"]["param"], param, "{query}");
        assert_eq!(reply.body["success"], false);
    }
    let reply = app
        .request(reqwest::Method::GET, "/payouts", None, None)
        .await;
    assert_eq!(reply.status, 401);
    app.stop().await;
}
