//! Every documented list, walked one item at a time through `nextCursor`,
//! gives exactly what one big page gives: no item skipped or repeated, in
//! the same order (newest first), on both engines. The lists are taken from
//! the published documents (each API version, and the operator API), so a
//! list added later is walked without anyone naming it here. Each list is
//! walked twice: as made, then with every row's `createdAt` set to one
//! instant, where only the cursor's tie-break on the id keeps the order
//! (the ledger's transactions are immutable and keep their times).
mod common;

use std::collections::HashMap;

use common::*;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_walked_one_by_one_gives_what_one_page_gives() {
    // Nothing runs in the background: every list holds only what is made here.
    let app = TestApp::spawn_manual_jobs(|c| operator_tokens(c, &[])).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 50_000).await;
    let mut hooks = Vec::new();
    for _ in 0..3 {
        let hook = app
            .post(
                "/webhooks",
                &org.key,
                json!({"url": app.documents.url("/hook"), "events": ["payout.created"]}),
            )
            .await;
        assert_eq!(hook.status, 201, "{}", hook.body);
        hooks.push(hook.data()["id"].as_str().unwrap().to_string());
    }
    for number in ["000123456780", "000999999991"] {
        let bank = app
            .post(
                "/payouts/bank-accounts",
                &org.key,
                json!({"accountNumber": number, "accountHolderName": "Ann Lee"}),
            )
            .await;
        assert_eq!(bank.status, 201, "{}", bank.body);
    }
    // Each payout: a ledger transaction, a `payout.created` event, and a
    // delivery of it to each endpoint.
    for amount in [1000, 1100, 1200] {
        let payout = app
            .post("/payouts", &org.key, json!({"amount": amount}))
            .await;
        assert_eq!(payout.status, 201, "{}", payout.body);
    }
    for _ in 0..2 {
        app.org().await;
        let key = operator_request(
            &app,
            reqwest::Method::POST,
            &format!("/organizations/{}/keys", org.id),
        )
        .await;
        assert_eq!(key.0, 201, "{}", key.1);
    }

    // A real id for each path parameter, by the collection it follows.
    let parents: HashMap<&str, &str> =
        [("webhooks", hooks[0].as_str()), ("organizations", &org.id)]
            .into_iter()
            .collect();
    let mut apis = Vec::new();
    for version in entity::states::ApiVersion::ALL {
        apis.push((
            format!("/openapi.json?version={version}"),
            vec![
                ("x-api-key", org.key.clone()),
                ("commet-version", version.to_string()),
            ],
        ));
    }
    apis.push((
        "/operator/openapi.json".to_string(),
        vec![("authorization", format!("Bearer {OPERATOR_TOKEN}"))],
    ));

    let walked = walk_every_list(&app, &apis, &parents).await;
    // Six lists per API version and two on the operator API.
    let lists = 6 * entity::states::ApiVersion::ALL.len() + 2;
    assert_eq!(walked, lists);

    // All made in one instant: the order is the ids' alone.
    for table in [
        "payouts",
        "bank_accounts",
        "webhook_endpoints",
        "webhook_deliveries",
        "webhook_events",
        "api_keys",
        "organizations",
    ] {
        let sql = format!("UPDATE {table} SET created_at = (SELECT MAX(created_at) FROM {table})");
        app.db().execute_unprepared(&sql).await.unwrap();
    }
    assert_eq!(walk_every_list(&app, &apis, &parents).await, lists);
    app.stop().await;
}

/// Walks every list of `apis` (document path, headers) one item at a time
/// and compares it with one page of 100; returns how many lists it walked.
async fn walk_every_list(
    app: &TestApp,
    apis: &[(String, Vec<(&str, String)>)],
    parents: &HashMap<&str, &str>,
) -> usize {
    let mut walked = Vec::new();
    for (doc_path, headers) in apis {
        let doc: Value = app
            .client
            .get(format!("{}{doc_path}", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let prefix = doc["servers"][0]["url"].as_str().unwrap();
        for (template, item) in doc["paths"].as_object().unwrap() {
            let Some(op) = item.get("get") else { continue };
            let takes_cursor = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["in"] == "query" && p["name"] == "cursor");
            if !takes_cursor {
                continue;
            }
            let segments: Vec<&str> = template.split('/').collect();
            let path: String = segments
                .iter()
                .enumerate()
                .map(|(i, s)| match s.starts_with('{') {
                    true => parents[segments[i - 1]].to_string(),
                    false => s.to_string(),
                })
                .collect::<Vec<_>>()
                .join("/");
            let list = |query: String| {
                let (app, headers, url) =
                    (&app, headers, format!("{}{prefix}{path}?{query}", app.base));
                async move {
                    let mut request = app.client.get(&url);
                    for (name, value) in headers {
                        request = request.header(*name, value);
                    }
                    let response = request.send().await.unwrap();
                    assert_eq!(response.status(), 200, "{url}");
                    let body: Value = response.json().await.unwrap();
                    let ids: Vec<String> = body["data"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{url}: {body}"))
                        .iter()
                        .map(|item| item["id"].as_str().unwrap().to_string())
                        .collect();
                    (
                        ids,
                        body["hasMore"] == true,
                        body["nextCursor"].as_str().map(String::from),
                    )
                }
            };
            let (whole, more, _) = list("limit=100".into()).await;
            let case = format!("{doc_path}: GET {prefix}{path}");
            assert!(!more, "{case}: more than one page of 100");
            assert!(
                whole.len() >= 3,
                "{case}: only {} items to walk",
                whole.len()
            );
            let mut one_by_one = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let query = match &cursor {
                    Some(c) => format!("limit=1&cursor={c}"),
                    None => "limit=1".to_string(),
                };
                let (ids, more, next) = list(query).await;
                assert_eq!(ids.len(), 1, "{case}: a page of limit 1");
                one_by_one.extend(ids);
                if !more {
                    break;
                }
                assert!(one_by_one.len() < whole.len(), "{case}: walks past the end");
                cursor = Some(next.unwrap_or_else(|| panic!("{case}: hasMore without nextCursor")));
            }
            assert_eq!(one_by_one, whole, "{case}");
            walked.push(case);
        }
    }
    walked.len()
}

/// An operator API call without a body: (status, body).
async fn operator_request(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, Value) {
    let response = app
        .client
        .request(method, format!("{}/operator/v1{path}", app.base))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}
