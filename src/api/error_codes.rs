//! One entry per error code: its HTTP status, `type`, an example message,
//! what it means, what to do, whether to retry and whether only the
//! operator API answers with it. The status of every error response, the
//! `/docs/errors/{code}` pages, the error tables of `docs/contract.md` and
//! `docs/operator.md` and the spec's error examples are all generated from
//! this list.
//!
//! A new code is one entry here, plus the error variant that carries it
//! (in `crate::error::Error`, or `api::error::ApiError` for a transport
//! failure) and its arm in `ApiError::code`. This module imports nothing of
//! the application, so anything may read it.
use poem::http::StatusCode;

pub struct ErrorCode {
    pub code: &'static str,
    pub status: StatusCode,
    /// The envelope's `type`.
    pub kind: &'static str,
    /// A message as the service writes it, for the spec's example.
    pub example: &'static str,
    pub meaning: &'static str,
    pub action: &'static str,
    /// Whether the same request may succeed if sent again unchanged.
    pub retry: &'static str,
    /// Only the operator API answers with it: the public document does not
    /// show it, and `docs/operator.md` lists it.
    pub operator_only: bool,
}

const NO: &str = "No: the same request fails the same way. Fix it first.";

/// `pub const NAME: ErrorCode` for each entry, and `ALL` listing them in
/// order, so an entry cannot be left out of the list.
macro_rules! error_codes {
    ($($name:ident = $entry:expr;)*) => {
        $(pub const $name: ErrorCode = $entry;)*
        /// Every code, in the order the contract's table lists them.
        pub const ALL: &[ErrorCode] = &[$($name),*];
    };
}

error_codes! {
    INVALID_JSON = ErrorCode {
        code: "invalid_json",
        status: StatusCode::BAD_REQUEST,
        kind: "validation_error",
        example: "request body is not valid JSON: expected value at line 1 column 1",
        meaning: "The request body is not JSON, is not a JSON object, or could not be read.",
        action: "Send one JSON object as the body, with Content-Type: application/json.",
        retry: NO,
        operator_only: false,
    };
    VALIDATION_ERROR = ErrorCode {
        code: "validation_error",
        status: StatusCode::UNPROCESSABLE_ENTITY,
        kind: "validation_error",
        example: "amount must be at least 1000",
        meaning: "A field is missing, has the wrong type, or is out of range. `param` names \
                  the first bad field (dotted for nested fields, e.g. bank.accountNumber) \
                  and `details` lists every bad field with what is wrong with it.",
        action: "Correct the fields listed in `details`; the operation's schema in /openapi.json \
                 gives every rule.",
        retry: NO,
        operator_only: false,
    };
    UNAUTHORIZED = ErrorCode {
        code: "unauthorized",
        status: StatusCode::UNAUTHORIZED,
        kind: "authentication_error",
        example: "invalid or missing API key (send it in the x-api-key header)",
        meaning: "The x-api-key header is missing, or the key is unknown or revoked.",
        action: "Send the organization's secret key (ck_live_… or ck_test_…) in the x-api-key \
                 header. Keys are shown once, when created; create a new one if it is lost.",
        retry: "No: not with the same key.",
        operator_only: false,
    };
    NOT_FOUND = ErrorCode {
        code: "not_found",
        status: StatusCode::NOT_FOUND,
        kind: "not_found_error",
        example: "no such payout",
        meaning: "No such route, or no such resource in this organization (another \
                  organization's resources are not visible). When a list's `cursor` names \
                  nothing, `param` is `cursor`.",
        action: "Check the path, the id and the API key's organization; for a cursor, \
                 pass a `nextCursor` this organization's list returned.",
        retry: NO,
        operator_only: false,
    };
    METHOD_NOT_ALLOWED = ErrorCode {
        code: "method_not_allowed",
        status: StatusCode::METHOD_NOT_ALLOWED,
        kind: "invalid_request_error",
        example: "method not allowed on this path",
        meaning: "The path exists but does not accept this HTTP method.",
        action: "Use one of the methods the Allow response header lists.",
        retry: NO,
        operator_only: false,
    };
    PAYLOAD_TOO_LARGE = ErrorCode {
        code: "payload_too_large",
        status: StatusCode::PAYLOAD_TOO_LARGE,
        kind: "invalid_request_error",
        example: "request body is larger than 1048576 bytes",
        meaning: "The request body is over the service's size cap.",
        action: "Send a smaller body; no operation needs a large one.",
        retry: NO,
        operator_only: false,
    };
    UNSUPPORTED_MEDIA_TYPE = ErrorCode {
        code: "unsupported_media_type",
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        kind: "validation_error",
        example: "request body must be sent as application/json",
        meaning: "The body was not sent as application/json.",
        action: "Set Content-Type: application/json and send a JSON body.",
        retry: NO,
        operator_only: false,
    };
    PAYOUT_ACCOUNT_REQUIRED = ErrorCode {
        code: "payout_account_required",
        status: StatusCode::CONFLICT,
        kind: "invalid_request_error",
        example: "the organization has no payout account yet; complete payout verification first",
        meaning: "The organization has no payout account yet.",
        action: "Complete payout verification (POST /payouts/verification) first.",
        retry: "Only after the payout account exists.",
        operator_only: false,
    };
    PAYOUT_ACCOUNT_NOT_VERIFIED = ErrorCode {
        code: "payout_account_not_verified",
        status: StatusCode::CONFLICT,
        kind: "invalid_request_error",
        example: "the payout account is not verified (status: pending_verification)",
        meaning: "The payout account exists but is not verified (it is pending verification, \
                  restricted or disabled).",
        action: "Check GET /payouts/account. A pending account is verified by the provider \
                 shortly; a restricted or disabled one needs the provider's review.",
        retry: "Yes, once the account's status is verified.",
        operator_only: false,
    };
    NO_DEFAULT_BANK_ACCOUNT = ErrorCode {
        code: "no_default_bank_account",
        status: StatusCode::CONFLICT,
        kind: "invalid_request_error",
        example: "the payout account has no active default bank account",
        meaning: "The payout account has no active default bank account to send money to.",
        action: "Add one with POST /payouts/bank-accounts and setDefault: true.",
        retry: "Only after a default bank account is added.",
        operator_only: false,
    };
    PAYOUT_NOT_CANCELABLE = ErrorCode {
        code: "payout_not_cancelable",
        status: StatusCode::CONFLICT,
        kind: "invalid_request_error",
        example: "the payout was already sent to the payout provider; it can no longer be canceled",
        meaning: "Only a pending payout that the service has not yet sent to the payout \
                  provider can be canceled. This one is past that point: it is in transit, \
                  paid, failed or canceled already, or the provider has it (even if its answer \
                  has not come back yet). Nothing was changed.",
        action: "Check GET /payouts/{id}. A payout the provider has settles to paid or failed \
                 on its own; a failed one gives its amount back.",
        retry: NO,
        operator_only: false,
    };
    BANK_ACCOUNT_IS_DEFAULT = ErrorCode {
        code: "bank_account_is_default",
        status: StatusCode::CONFLICT,
        kind: "invalid_request_error",
        example: "the default bank account cannot be deleted; make another bank account the default first",
        meaning: "The bank account is the default one, where payouts go: it cannot be deleted. \
                  Nothing was changed.",
        action: "Make another bank account the default (POST /payouts/bank-accounts/{id}/default, \
                 or add one with setDefault: true), then delete this one.",
        retry: "Only after another bank account is the default.",
        operator_only: false,
    };
    BANK_ACCOUNT_IN_USE = ErrorCode {
        code: "bank_account_in_use",
        status: StatusCode::CONFLICT,
        kind: "invalid_request_error",
        example: "payouts to this bank account are still in flight; delete it once they are paid or failed",
        meaning: "Payouts to this bank account are still pending or in transit. Nothing was \
                  changed.",
        action: "Wait until those payouts are paid, failed or canceled (GET /payouts?status=pending \
                 and status=in_transit), then delete it.",
        retry: "Yes, once its payouts have settled.",
        operator_only: false,
    };
    INSUFFICIENT_BALANCE = ErrorCode {
        code: "insufficient_balance",
        status: StatusCode::PAYMENT_REQUIRED,
        kind: "billing_error",
        example: "amount 50000 exceeds the available balance of 12000",
        meaning: "The amount is over the organization's available balance.",
        action: "Request at most the available amount (GET /balance), or wait for more funds \
                 to become available.",
        retry: "Only once the available balance covers the amount.",
        operator_only: false,
    };
    IDEMPOTENCY_KEY_MISMATCH = ErrorCode {
        code: "idempotency_key_mismatch",
        status: StatusCode::CONFLICT,
        kind: "conflict_error",
        example: "this Idempotency-Key was already used with another request",
        meaning: "This Idempotency-Key was already used with a different body or route.",
        action: "Use a new Idempotency-Key for a new request; reuse a key only to repeat the \
                 very same request.",
        retry: "No: not with this key. Send the request with a new key.",
        operator_only: false,
    };
    IDEMPOTENCY_IN_PROGRESS = ErrorCode {
        code: "idempotency_in_progress",
        status: StatusCode::CONFLICT,
        kind: "conflict_error",
        example: "a request with this Idempotency-Key is still being processed",
        meaning: "A request with this Idempotency-Key is still being processed.",
        action: "Wait, then repeat the same request with the same key: it returns the first \
                 request's answer.",
        retry: "Yes, after a short wait, with the same key and body.",
        operator_only: false,
    };
    EXTERNAL_ID_CONFLICT = ErrorCode {
        code: "external_id_conflict",
        status: StatusCode::CONFLICT,
        kind: "conflict_error",
        example: "externalId pay_123 was already used for a credit of 5000",
        meaning: "Operator API: this externalId was already used for a credit, debit or hold \
                  of this organization with a different amount (or reason). An externalId \
                  names one movement of money for ever; the same request again returns it.",
        action: "Send the original amount to get the existing one back, or use the externalId \
                 of the payment you mean.",
        retry: "No: not with this externalId and these values.",
        operator_only: true,
    };
    HOLD_ALREADY_RESOLVED = ErrorCode {
        code: "hold_already_resolved",
        status: StatusCode::CONFLICT,
        kind: "invalid_request_error",
        example: "hold hold_8PzR3nW6Kq1Xv5Tm9Ls2Hc7J was already captured",
        meaning: "Operator API: the hold was already captured (it cannot be released) or \
                  released (it cannot be captured). Releasing a released hold, or capturing \
                  a captured one, returns it unchanged.",
        action: "Read the hold's status; nothing more can be done with it.",
        retry: NO,
        operator_only: true,
    };
    RATE_LIMITED = ErrorCode {
        code: "rate_limited",
        status: StatusCode::TOO_MANY_REQUESTS,
        kind: "rate_limit_error",
        example: "too many requests; retry after 1 seconds",
        meaning: "Too many requests in a short time.",
        action: "Slow down.",
        retry: "Yes, after the number of seconds in the Retry-After header.",
        operator_only: false,
    };
    REQUEST_HEADER_FIELDS_TOO_LARGE = ErrorCode {
        code: "request_header_fields_too_large",
        status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        kind: "invalid_request_error",
        example: "request headers are too large (at most 64 headers, 32768 bytes)",
        meaning: "The request's headers are too many or too large.",
        action: "Send fewer or smaller headers; the API needs only x-api-key, Content-Type \
                 and Idempotency-Key.",
        retry: NO,
        operator_only: false,
    };
    REQUEST_TIMEOUT = ErrorCode {
        code: "request_timeout",
        status: StatusCode::REQUEST_TIMEOUT,
        kind: "invalid_request_error",
        example: "the request body was not received in time",
        meaning: "The request body did not arrive in time.",
        action: "Send the whole body promptly; check the network between you and the service.",
        retry: "Yes, with the same Idempotency-Key.",
        operator_only: false,
    };
    INVALID_SIGNATURE = ErrorCode {
        code: "invalid_signature",
        status: StatusCode::BAD_REQUEST,
        kind: "invalid_request_error",
        example: "webhook signature verification failed: missing Stripe-Signature header",
        meaning: "A provider webhook's signature header is missing, malformed, too old \
                  (over 5 minutes) or does not match the body. Nothing was changed.",
        action: "Sign the exact raw body with the provider's webhook secret \
                 (Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"t.body\">).",
        retry: "Only with a valid, fresh signature.",
        operator_only: false,
    };
    INVALID_API_VERSION = ErrorCode {
        code: "invalid_api_version",
        status: StatusCode::BAD_REQUEST,
        kind: "invalid_request_error",
        example: "Commet-Version must be a date written YYYY-MM-DD, such as 2026-07-24; got \
                  \"latest\"",
        meaning: "The Commet-Version header is not a date written YYYY-MM-DD (or is sent \
                  twice). `param` is Commet-Version. Nothing was done.",
        action: "Send a version date such as 2026-07-24, or no header to get the \
                 organization's pinned version. A date between two versions gets the earlier \
                 one.",
        retry: NO,
        operator_only: false,
    };
    PROVIDER_ERROR = ErrorCode {
        code: "provider_error",
        status: StatusCode::BAD_GATEWAY,
        kind: "provider_error",
        example: "the payout provider refused the request: the bank account was closed",
        meaning: "The payout provider refused the request or failed to answer.",
        action: "Read the message for the provider's reason. A refusal needs the request \
                 changed; an outage passes.",
        retry: "Yes, with backoff, using the same Idempotency-Key so it is applied once.",
        operator_only: false,
    };
    PROVIDER_NOT_CONFIGURED = ErrorCode {
        code: "provider_not_configured",
        status: StatusCode::SERVICE_UNAVAILABLE,
        kind: "api_error",
        example: "no payout provider is configured for live organizations on this service",
        meaning: "No payout provider may serve this organization: a live organization is never \
                  served by the sandbox, and this service has no live provider (Stripe with an \
                  sk_live_ key) configured, or the provider holding the organization's account \
                  is not configured any more. Nothing was changed.",
        action: "Ask the operator to configure the provider (PAYOUTS_PROVIDER=stripe with \
                 STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET).",
        retry: "Only once the operator has configured the provider.",
        operator_only: false,
    };
    SERVICE_UNAVAILABLE = ErrorCode {
        code: "service_unavailable",
        status: StatusCode::SERVICE_UNAVAILABLE,
        kind: "api_error",
        example: "too many identity documents are being fetched right now; retry shortly",
        meaning: "The service is at capacity for this operation right now (for instance, too \
                  many identity documents are being fetched at once). Nothing was changed.",
        action: "Wait the number of seconds in the Retry-After header.",
        retry: "Yes, with the same Idempotency-Key.",
        operator_only: false,
    };
    INTERNAL_ERROR = ErrorCode {
        code: "internal_error",
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "api_error",
        example: "internal error",
        meaning: "Something failed inside the service. No detail is sent; the service logs it \
                  with the response's x-request-id.",
        action: "Report the x-request-id to the operator if it persists.",
        retry: "Yes, with backoff, using the same Idempotency-Key so it is applied once.",
        operator_only: false,
    };
}

pub fn by_code(code: &str) -> Option<&'static ErrorCode> {
    ALL.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_once_and_every_entry_complete() {
        for (i, entry) in ALL.iter().enumerate() {
            assert!(
                ALL[..i].iter().all(|other| other.code != entry.code),
                "{} listed twice",
                entry.code
            );
            assert!(
                entry.status.is_client_error() || entry.status.is_server_error(),
                "{}",
                entry.code
            );
            for text in [
                entry.kind,
                entry.example,
                entry.meaning,
                entry.action,
                entry.retry,
            ] {
                assert!(
                    !text.is_empty(),
                    "{}: every field says something",
                    entry.code
                );
            }
        }
    }
}
