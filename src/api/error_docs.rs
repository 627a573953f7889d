//! `GET /docs/errors/{code}`: the page every envelope's `doc_url` points to,
//! one per code the service can return: what it means, what to do, and
//! whether to retry. The pages and the error tables of `docs/contract.md`
//! and `docs/operator.md` are generated from `api::error_codes`.
use poem::{handler, web::Path, IntoResponse, Response};

use super::{
    error::error_response,
    error_codes::{self, ErrorCode},
};
use crate::error::Error;

/// The page as HTML. All its text is static; `code` is one of ours.
pub fn page(entry: &ErrorCode) -> String {
    let ErrorCode { code, kind, .. } = entry;
    let status = entry.status.as_u16();
    let [meaning, action, retry] = [entry.meaning, entry.action, entry.retry].map(escape);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{code} – Payouts API errors</title></head><body>\n\
         <h1><code>{code}</code></h1>\n\
         <p>HTTP {status}, <code>type: {kind}</code></p>\n\
         <h2>What it means</h2>\n<p>{meaning}</p>\n\
         <h2>What to do</h2>\n<p>{action}</p>\n\
         <h2>Retry?</h2>\n<p>{retry}</p>\n</body></html>\n"
    )
}

/// The error table of `docs/contract.md` (between its `errors:begin` and
/// `errors:end` markers), generated from the same source as the pages so the
/// two cannot drift; `tests/error_docs.rs` compares them.
pub fn markdown_table() -> String {
    table(error_codes::ALL.iter())
}

/// The table of `docs/operator.md`'s "Errors only this API returns" (its
/// `operator-errors:begin`/`end` markers): the codes only the operator API
/// answers with, from the same source.
pub fn operator_markdown_table() -> String {
    table(error_codes::ALL.iter().filter(|entry| entry.operator_only))
}

fn table<'a>(entries: impl Iterator<Item = &'a ErrorCode>) -> String {
    let mut table = String::from(
        "| HTTP | type | code | what it means | retry? |\n| --- | --- | --- | --- | --- |\n",
    );
    for entry in entries {
        let ErrorCode { code, kind, .. } = entry;
        let [meaning, retry] =
            [entry.meaning, entry.retry].map(|text| escape(text).replace('|', "\\|"));
        table += &format!(
            "| {} | `{kind}` | `{code}` | {meaning} | {retry} |\n",
            entry.status.as_u16()
        );
    }
    table
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[handler]
pub fn error_page(Path(code): Path<String>) -> Response {
    match error_codes::by_code(&code) {
        Some(entry) => page(entry)
            .with_content_type("text/html; charset=utf-8")
            .into_response(),
        None => error_response(Error::NotFound("no such error code".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_page_that_says_its_status_and_whether_to_retry() {
        for entry in error_codes::ALL {
            let page = page(entry);
            assert!(page.contains("<h2>Retry?</h2>"), "{}", entry.code);
            assert!(
                page.contains(&format!("HTTP {}", entry.status.as_u16())),
                "{}",
                entry.code
            );
            assert!(page.contains(&escape(entry.meaning)), "{}", entry.code);
        }
    }
}
