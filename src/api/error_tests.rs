//! Every variant has a code in the table, and answers with the table's status.
use super::*;

/// One error of each variant. The match has no wildcard: a new variant
/// does not compile until it is listed here.
fn samples() -> Vec<ApiError> {
    let service = vec![
        Error::Validation(Vec::new()),
        Error::NotFound(String::new()),
        Error::UnknownCursor(""),
        Error::PayoutAccountRequired,
        Error::PayoutAccountNotVerified(String::new()),
        Error::NoDefaultBankAccount,
        Error::PayoutNotCancelable(String::new()),
        Error::BankAccountIsDefault,
        Error::BankAccountInUse,
        Error::InsufficientBalance {
            requested: 0,
            available: 0,
        },
        Error::IdempotencyKeyMismatch,
        Error::IdempotencyInProgress,
        Error::ExternalIdConflict(String::new()),
        Error::HoldResolved(String::new()),
        Error::InvalidSignature(String::new()),
        Error::MalformedEvent(String::new()),
        Error::Busy(String::new()),
        Error::Provider(String::new()),
        Error::ProviderNotConfigured(String::new()),
        Error::Internal(String::new()),
    ];
    let mut all = vec![
        ApiError::InvalidJson(String::new()),
        ApiError::Unauthorized,
        ApiError::OperatorUnauthorized,
        ApiError::MethodNotAllowed,
        ApiError::PayloadTooLarge(0),
        ApiError::HeadersTooLarge {
            max_count: 0,
            max_bytes: 0,
        },
        ApiError::RequestTimeout,
        ApiError::UnsupportedMediaType,
        ApiError::RateLimited { retry_after: 0 },
        ApiError::InvalidApiVersion {
            param: "Commet-Version",
            malformed: crate::domain::api_version::parse("x").unwrap_err(),
        },
    ];
    all.extend(service.into_iter().map(ApiError::from));
    for err in &all {
        match err {
            ApiError::InvalidJson(_)
            | ApiError::Unauthorized
            | ApiError::OperatorUnauthorized
            | ApiError::MethodNotAllowed
            | ApiError::PayloadTooLarge(_)
            | ApiError::HeadersTooLarge { .. }
            | ApiError::RequestTimeout
            | ApiError::UnsupportedMediaType
            | ApiError::RateLimited { .. }
            | ApiError::InvalidApiVersion { .. } => {}
            ApiError::Service(service) => match service {
                Error::Validation(_)
                | Error::NotFound(_)
                | Error::UnknownCursor(_)
                | Error::PayoutAccountRequired
                | Error::PayoutAccountNotVerified(_)
                | Error::NoDefaultBankAccount
                | Error::PayoutNotCancelable(_)
                | Error::BankAccountIsDefault
                | Error::BankAccountInUse
                | Error::InsufficientBalance { .. }
                | Error::IdempotencyKeyMismatch
                | Error::IdempotencyInProgress
                | Error::ExternalIdConflict(_)
                | Error::HoldResolved(_)
                | Error::InvalidSignature(_)
                | Error::MalformedEvent(_)
                | Error::Busy(_)
                | Error::Provider(_)
                | Error::ProviderNotConfigured(_)
                | Error::Internal(_) => {}
            },
        }
    }
    all
}

#[test]
fn every_code_in_the_table_is_one_some_error_answers_with() {
    let answered: Vec<&str> = samples().iter().map(|e| e.code().code).collect();
    for entry in error_codes::ALL {
        assert!(
            answered.contains(&entry.code),
            "{} is never returned",
            entry.code
        );
    }
}

/// The status each code had before the table existed: the table is the
/// only source now, so this pins it.
#[test]
fn statuses_and_types_of_the_contract() {
    let seen: Vec<(u16, &str, &str)> = samples()
        .iter()
        .map(|e| (e.code().status.as_u16(), e.code().kind, e.code().code))
        .collect();
    for expected in [
        (400, "validation_error", "invalid_json"),
        (401, "authentication_error", "unauthorized"),
        (405, "invalid_request_error", "method_not_allowed"),
        (413, "invalid_request_error", "payload_too_large"),
        (
            431,
            "invalid_request_error",
            "request_header_fields_too_large",
        ),
        (408, "invalid_request_error", "request_timeout"),
        (415, "validation_error", "unsupported_media_type"),
        (429, "rate_limit_error", "rate_limited"),
        (422, "validation_error", "validation_error"),
        (404, "not_found_error", "not_found"),
        (409, "invalid_request_error", "payout_account_required"),
        (409, "invalid_request_error", "payout_account_not_verified"),
        (409, "invalid_request_error", "no_default_bank_account"),
        (409, "invalid_request_error", "payout_not_cancelable"),
        (409, "invalid_request_error", "bank_account_is_default"),
        (409, "invalid_request_error", "bank_account_in_use"),
        (402, "billing_error", "insufficient_balance"),
        (409, "conflict_error", "idempotency_key_mismatch"),
        (409, "conflict_error", "idempotency_in_progress"),
        (409, "conflict_error", "external_id_conflict"),
        (409, "invalid_request_error", "hold_already_resolved"),
        (400, "invalid_request_error", "invalid_api_version"),
        (400, "invalid_request_error", "invalid_signature"),
        (400, "validation_error", "invalid_json"),
        (503, "api_error", "service_unavailable"),
        (503, "api_error", "provider_not_configured"),
        (502, "provider_error", "provider_error"),
        (500, "api_error", "internal_error"),
    ] {
        assert!(seen.contains(&expected), "{expected:?}");
    }
}

#[test]
fn the_rendered_status_is_the_tables() {
    for err in samples() {
        let response = error_response(err.clone());
        assert_eq!(response.status(), err.code().status, "{err:?}");
    }
}
