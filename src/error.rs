//! The one error type. Every failure in the service ends up here and is
//! rendered as the contract's error envelope by `api::error`.

/// One bad field of a request: `field` is the dotted JSON path
/// (`bank.accountNumber`), `message` says what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    /// `message` says what is wrong with the field; a message that begins
    /// with the field's name (as `DocumentError`'s do) loses that prefix, so
    /// the envelope's "{field} {message}" names the field once.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let mut message = message.into();
        if let Some(rest) = message.strip_prefix(&format!("{field} ")) {
            message = rest.to_string();
        }
        Self { field, message }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{}", validation_message(.0))]
    Validation(Vec<FieldError>),
    #[error("invalid or missing API key (send it in the x-api-key header)")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error(
        "request headers are too large (at most {} headers, {} bytes)",
        crate::api::limits::MAX_HEADER_COUNT,
        crate::api::limits::MAX_HEADER_BYTES
    )]
    HeadersTooLarge,
    #[error("the request body was not received in time")]
    RequestTimeout,
    #[error("request body must be sent as application/json")]
    UnsupportedMediaType,
    #[error("the organization has no payout account yet; complete payout verification first")]
    PayoutAccountRequired,
    #[error("the payout account is not verified (status: {0})")]
    PayoutAccountNotVerified(String),
    #[error("the payout account has no active default bank account")]
    NoDefaultBankAccount,
    #[error("amount {requested} exceeds the available balance of {available}")]
    InsufficientBalance { requested: i64, available: i64 },
    #[error("this Idempotency-Key was already used with another request")]
    IdempotencyKeyMismatch,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyInProgress,
    #[error("too many requests; retry after {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("webhook signature verification failed: {0}")]
    InvalidSignature(String),
    /// Temporarily over capacity; retry after a second.
    #[error("{0}")]
    Busy(String),
    #[error("the payout provider refused the request: {0}")]
    Provider(String),
    /// The inner text is logged, never sent to the client.
    #[error("internal error")]
    Internal(String),
}

fn validation_message(errors: &[FieldError]) -> String {
    match errors.first() {
        Some(e) => format!("{} {}", e.field, e.message),
        None => "invalid request".to_string(),
    }
}

impl Error {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// (`type`, `code`) of the contract's error table.
    pub fn kind(&self) -> (&'static str, &'static str) {
        use Error::*;
        match self {
            InvalidJson(_) => ("validation_error", "invalid_json"),
            Validation(_) => ("validation_error", "validation_error"),
            Unauthorized => ("authentication_error", "unauthorized"),
            NotFound(_) => ("not_found_error", "not_found"),
            MethodNotAllowed => ("invalid_request_error", "method_not_allowed"),
            PayloadTooLarge(_) => ("invalid_request_error", "payload_too_large"),
            UnsupportedMediaType => ("validation_error", "unsupported_media_type"),
            HeadersTooLarge => ("invalid_request_error", "request_header_fields_too_large"),
            RequestTimeout => ("invalid_request_error", "request_timeout"),
            PayoutAccountRequired => ("invalid_request_error", "payout_account_required"),
            PayoutAccountNotVerified(_) => ("invalid_request_error", "payout_account_not_verified"),
            NoDefaultBankAccount => ("invalid_request_error", "no_default_bank_account"),
            InsufficientBalance { .. } => ("billing_error", "insufficient_balance"),
            IdempotencyKeyMismatch => ("conflict_error", "idempotency_key_mismatch"),
            IdempotencyInProgress => ("conflict_error", "idempotency_in_progress"),
            RateLimited { .. } => ("rate_limit_error", "rate_limited"),
            InvalidSignature(_) => ("invalid_request_error", "invalid_signature"),
            Provider(_) => ("provider_error", "provider_error"),
            Busy(_) => ("api_error", "service_unavailable"),
            Internal(_) => ("api_error", "internal_error"),
        }
    }

    /// HTTP status of the contract's error table.
    pub fn status(&self) -> u16 {
        use Error::*;
        match self {
            InvalidJson(_) | InvalidSignature(_) => 400,
            Unauthorized => 401,
            InsufficientBalance { .. } => 402,
            NotFound(_) => 404,
            MethodNotAllowed => 405,
            PayoutAccountRequired
            | PayoutAccountNotVerified(_)
            | NoDefaultBankAccount
            | IdempotencyKeyMismatch
            | IdempotencyInProgress => 409,
            PayloadTooLarge(_) => 413,
            UnsupportedMediaType => 415,
            HeadersTooLarge => 431,
            RequestTimeout => 408,
            Validation(_) => 422,
            RateLimited { .. } => 429,
            Internal(_) => 500,
            Provider(_) => 502,
            Busy(_) => 503,
        }
    }

    pub fn details(&self) -> Option<&[FieldError]> {
        match self {
            Error::Validation(errors) => Some(errors),
            _ => None,
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        Error::Internal(format!("database: {err}"))
    }
}

impl<E: std::fmt::Display> From<sea_orm::TransactionError<E>> for Error
where
    Error: From<E>,
    E: std::error::Error,
{
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(e) => e.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_name_the_field_once() {
        let err = Error::field("documentUrl", "documentUrl must use https");
        assert_eq!(err.to_string(), "documentUrl must use https");
        assert_eq!(err.details().unwrap()[0].message, "must use https");
        let err = Error::field("amount", "must be at least 1000");
        assert_eq!(err.to_string(), "amount must be at least 1000");
        // Only a whole leading word is the field's name.
        let err = Error::field("document", "documentUrl is wrong");
        assert_eq!(err.to_string(), "document documentUrl is wrong");
    }
}
