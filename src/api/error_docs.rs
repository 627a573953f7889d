//! `GET /docs/errors/{code}`: the page every envelope's `doc_url` points to,
//! one per code the service can return: what it means, what to do, and
//! whether to retry.
use poem::{handler, web::Path, IntoResponse, Response};

use crate::error::Error;

pub struct ErrorDoc {
    pub code: &'static str,
    pub meaning: &'static str,
    pub action: &'static str,
    /// Whether the same request may succeed if sent again unchanged.
    pub retry: &'static str,
}

/// One error of each kind, for the status and `type` shown on its page.
/// The match below has no wildcard: a new variant does not compile until it
/// is listed here (and then the tests want a page for it).
pub fn samples() -> Vec<Error> {
    let all = vec![
        Error::InvalidJson(String::new()),
        Error::Validation(Vec::new()),
        Error::Unauthorized,
        Error::NotFound(String::new()),
        Error::MethodNotAllowed,
        Error::PayloadTooLarge(0),
        Error::UnsupportedMediaType,
        Error::PayoutAccountRequired,
        Error::PayoutAccountNotVerified(String::new()),
        Error::NoDefaultBankAccount,
        Error::InsufficientBalance {
            requested: 0,
            available: 0,
        },
        Error::IdempotencyKeyMismatch,
        Error::IdempotencyInProgress,
        Error::RateLimited { retry_after: 0 },
        Error::HeadersTooLarge,
        Error::RequestTimeout,
        Error::InvalidSignature(String::new()),
        Error::Provider(String::new()),
        Error::Busy(String::new()),
        Error::Internal(String::new()),
    ];
    for err in &all {
        match err {
            Error::InvalidJson(_)
            | Error::Validation(_)
            | Error::Unauthorized
            | Error::NotFound(_)
            | Error::MethodNotAllowed
            | Error::PayloadTooLarge(_)
            | Error::UnsupportedMediaType
            | Error::PayoutAccountRequired
            | Error::PayoutAccountNotVerified(_)
            | Error::NoDefaultBankAccount
            | Error::InsufficientBalance { .. }
            | Error::IdempotencyKeyMismatch
            | Error::IdempotencyInProgress
            | Error::RateLimited { .. }
            | Error::HeadersTooLarge
            | Error::RequestTimeout
            | Error::InvalidSignature(_)
            | Error::Provider(_)
            | Error::Busy(_)
            | Error::Internal(_) => {}
        }
    }
    all
}

const NO: &str = "No: the same request fails the same way. Fix it first.";

pub const DOCS: &[ErrorDoc] = &[
    ErrorDoc {
        code: "invalid_json",
        meaning: "The request body is not JSON, is not a JSON object, or could not be read.",
        action: "Send one JSON object as the body, with Content-Type: application/json.",
        retry: NO,
    },
    ErrorDoc {
        code: "validation_error",
        meaning: "A field is missing, has the wrong type, or is out of range. `param` names \
                  the first bad field (dotted for nested fields, e.g. bank.accountNumber) \
                  and `details` lists every bad field with what is wrong with it.",
        action: "Correct the fields listed in `details`; the operation's schema in /openapi.json \
                 gives every rule.",
        retry: NO,
    },
    ErrorDoc {
        code: "unauthorized",
        meaning: "The x-api-key header is missing, or the key is unknown or revoked.",
        action: "Send the organization's secret key (ck_live_… or ck_test_…) in the x-api-key \
                 header. Keys are shown once, when created; create a new one if it is lost.",
        retry: "No: not with the same key.",
    },
    ErrorDoc {
        code: "not_found",
        meaning: "No such route, or no such resource in this organization (another \
                  organization's resources are not visible).",
        action: "Check the path, the id and the API key's organization.",
        retry: NO,
    },
    ErrorDoc {
        code: "method_not_allowed",
        meaning: "The path exists but does not accept this HTTP method.",
        action: "Use one of the methods the Allow response header lists.",
        retry: NO,
    },
    ErrorDoc {
        code: "payload_too_large",
        meaning: "The request body is over the service's size cap.",
        action: "Send a smaller body; no operation needs a large one.",
        retry: NO,
    },
    ErrorDoc {
        code: "unsupported_media_type",
        meaning: "The body was not sent as application/json.",
        action: "Set Content-Type: application/json and send a JSON body.",
        retry: NO,
    },
    ErrorDoc {
        code: "payout_account_required",
        meaning: "The organization has no payout account yet.",
        action: "Complete payout verification (POST /payouts/verification) first.",
        retry: "Only after the payout account exists.",
    },
    ErrorDoc {
        code: "payout_account_not_verified",
        meaning: "The payout account exists but is not verified (it is pending verification, \
                  restricted or disabled).",
        action: "Check GET /payouts/account. A pending account is verified by the provider \
                 shortly; a restricted or disabled one needs the provider's review.",
        retry: "Yes, once the account's status is verified.",
    },
    ErrorDoc {
        code: "no_default_bank_account",
        meaning: "The payout account has no active default bank account to send money to.",
        action: "Add one with POST /payouts/bank-accounts and setDefault: true.",
        retry: "Only after a default bank account is added.",
    },
    ErrorDoc {
        code: "request_header_fields_too_large",
        meaning: "The request's headers are too many or too large.",
        action: "Send fewer or smaller headers; the API needs only x-api-key, Content-Type \
                 and Idempotency-Key.",
        retry: NO,
    },
    ErrorDoc {
        code: "request_timeout",
        meaning: "The request body did not arrive in time.",
        action: "Send the whole body promptly; check the network between you and the service.",
        retry: "Yes, with the same Idempotency-Key.",
    },
    ErrorDoc {
        code: "insufficient_balance",
        meaning: "The amount is over the organization's available balance.",
        action: "Request at most the available amount (GET /balance), or wait for more funds \
                 to become available.",
        retry: "Only once the available balance covers the amount.",
    },
    ErrorDoc {
        code: "idempotency_key_mismatch",
        meaning: "This Idempotency-Key was already used with a different body or route.",
        action: "Use a new Idempotency-Key for a new request; reuse a key only to repeat the \
                 very same request.",
        retry: "No: not with this key. Send the request with a new key.",
    },
    ErrorDoc {
        code: "idempotency_in_progress",
        meaning: "A request with this Idempotency-Key is still being processed.",
        action: "Wait, then repeat the same request with the same key: it returns the first \
                 request's answer.",
        retry: "Yes, after a short wait, with the same key and body.",
    },
    ErrorDoc {
        code: "rate_limited",
        meaning: "Too many requests in a short time.",
        action: "Slow down.",
        retry: "Yes, after the number of seconds in the Retry-After header.",
    },
    ErrorDoc {
        code: "invalid_signature",
        meaning: "A provider webhook's signature header is missing, malformed, too old \
                  (over 5 minutes) or does not match the body. Nothing was changed.",
        action: "Sign the exact raw body with the provider's webhook secret \
                 (Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"t.body\">).",
        retry: "Only with a valid, fresh signature.",
    },
    ErrorDoc {
        code: "provider_error",
        meaning: "The payout provider refused the request or failed to answer.",
        action: "Read the message for the provider's reason. A refusal needs the request \
                 changed; an outage passes.",
        retry: "Yes, with backoff, using the same Idempotency-Key so it is applied once.",
    },
    ErrorDoc {
        code: "service_unavailable",
        meaning: "The service is at capacity for this operation right now (for instance, too \
                  many identity documents are being fetched at once). Nothing was changed.",
        action: "Wait the number of seconds in the Retry-After header.",
        retry: "Yes, with the same Idempotency-Key.",
    },
    ErrorDoc {
        code: "internal_error",
        meaning: "Something failed inside the service. No detail is sent; the service logs it \
                  with the response's x-request-id.",
        action: "Report the x-request-id to the operator if it persists.",
        retry: "Yes, with backoff, using the same Idempotency-Key so it is applied once.",
    },
];

pub fn doc(code: &str) -> Option<&'static ErrorDoc> {
    DOCS.iter().find(|d| d.code == code)
}

/// The page as HTML. All its text is static; `code` is one of ours.
pub fn page(doc: &ErrorDoc) -> String {
    let err = samples()
        .into_iter()
        .find(|e| e.kind().1 == doc.code)
        .expect("every documented code has a sample");
    let (kind, code) = err.kind();
    let status = err.status();
    let [meaning, action, retry] = [doc.meaning, doc.action, doc.retry].map(escape);
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
    let mut table = String::from(
        "| HTTP | type | code | what it means | retry? |\n| --- | --- | --- | --- | --- |\n",
    );
    for err in samples() {
        let (kind, code) = err.kind();
        let doc = doc(code).expect("every code has a page");
        let [meaning, retry] =
            [doc.meaning, doc.retry].map(|text| escape(text).replace('|', "\\|"));
        table += &format!(
            "| {} | `{kind}` | `{code}` | {meaning} | {retry} |\n",
            err.status()
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
    match doc(&code) {
        Some(doc) => page(doc)
            .with_content_type("text/html; charset=utf-8")
            .into_response(),
        None => super::error::error_response(Error::NotFound("no such error code".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_the_service_can_return_has_a_page_that_says_whether_to_retry() {
        for err in samples() {
            let code = err.kind().1;
            let doc = doc(code).unwrap_or_else(|| panic!("no page for {code}"));
            assert!(!doc.retry.is_empty(), "{code}: say whether to retry");
            let page = page(doc);
            assert!(page.contains("<h2>Retry?</h2>"), "{code}");
            assert!(page.contains(&format!("HTTP {}", err.status())), "{code}");
        }
    }

    #[test]
    fn no_page_for_a_code_the_service_cannot_return() {
        let codes: Vec<&str> = samples().iter().map(|e| e.kind().1).collect();
        for doc in DOCS {
            assert!(codes.contains(&doc.code), "{} is never returned", doc.code);
        }
        assert_eq!(DOCS.len(), codes.len(), "one page per code");
    }
}
