//! `doc_url` in every error envelope leads to a page this service serves.
mod common;

use common::*;
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doc_url_of_an_envelope_is_a_page_that_says_whether_to_retry() {
    let app = TestApp::spawn().await;
    let reply = app.request(Method::GET, "/balance", None, None).await;
    let doc_url = reply.body["error"]["doc_url"].as_str().unwrap().to_string();
    assert_eq!(doc_url, format!("{}/docs/errors/unauthorized", app.base));
    let page = app.client.get(&doc_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("HTTP 401"), "{html}");
    assert!(html.contains("Retry?"), "{html}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_code_has_a_page_and_unknown_codes_are_404_envelopes() {
    let app = TestApp::spawn().await;
    for entry in payouts::api::error_codes::ALL {
        let code = entry.code;
        let page = app
            .client
            .get(format!("{}/docs/errors/{code}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{code}");
    }
    let reply = TestApp::reply(
        app.client
            .get(format!("{}/docs/errors/no_such_code", app.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.error_code(), "not_found");
    // Swagger UI shares the /docs prefix and still answers there.
    let swagger = app
        .client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(swagger.status(), 200);
    assert!(swagger.text().await.unwrap().contains("swagger"));
    app.stop().await;
}

/// Replaces (`UPDATE_DOCS=1`) or compares the text between `begin` and
/// `end` in the committed doc `file` with `generated`.
fn check_generated(file: &str, begin: &str, end: &str, generated: String) {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{file} is committed"));
    let start = doc.find(begin).expect("begin marker") + begin.len();
    let stop = doc.find(end).expect("end marker");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{generated}{}", &doc[..start], &doc[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        doc[start..stop] == generated,
        "{file}'s error table differs from the code: run \
         `UPDATE_DOCS=1 cargo test --test error_docs` and review the diff"
    );
}

/// `docs/contract.md`'s error table is generated from the error pages'
/// source; `UPDATE_DOCS=1 cargo test --test error_docs` rewrites it.
#[test]
fn the_contract_documents_every_error_code_as_the_code_does() {
    check_generated(
        "docs/contract.md",
        "<!-- errors:begin -->\n",
        "<!-- errors:end -->",
        payouts::api::error_docs::markdown_table(),
    );
}

/// `docs/operator.md` lists the codes only the operator API answers with
/// (`operator_only` in their entries), generated the same way.
#[test]
fn the_operator_doc_lists_the_operator_only_codes_as_the_code_does() {
    let generated = payouts::api::error_docs::operator_markdown_table();
    for code in ["external_id_conflict", "hold_already_resolved"] {
        assert!(generated.contains(code), "{generated}");
    }
    assert!(!generated.contains("insufficient_balance"), "{generated}");
    check_generated(
        "docs/operator.md",
        "<!-- operator-errors:begin -->\n",
        "<!-- operator-errors:end -->",
        generated,
    );
}
