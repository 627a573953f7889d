//! The service layer's error: the business cases, bad input the service
//! refuses, and `Internal`. No HTTP here (no status, no transport failure):
//! `api::error::ApiError` wraps it, and imports nothing back from this side.

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

/// What went wrong in an operation, in the service's terms. It knows
/// nothing of HTTP: `api::error` wraps it with the transport failures and
/// `api::error_codes` gives each case its code, status and documentation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{}", validation_message(.0))]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    /// A list's `cursor` names no object of this organization's (the
    /// object's kind inside): not found, and the cursor is to blame.
    #[error("no such {0} (cursor)")]
    UnknownCursor(&'static str),
    #[error("the organization has no payout account yet; complete payout verification first")]
    PayoutAccountRequired,
    #[error("the payout account is not verified (status: {0})")]
    PayoutAccountNotVerified(String),
    #[error("the payout account has no active default bank account")]
    NoDefaultBankAccount,
    /// The payout is not `pending`, or was already sent to the provider.
    #[error("{0}")]
    PayoutNotCancelable(String),
    #[error(
        "the default bank account cannot be deleted; make another bank account the default first"
    )]
    BankAccountIsDefault,
    #[error(
        "payouts to this bank account are still in flight; delete it once they are paid or failed"
    )]
    BankAccountInUse,
    #[error("amount {requested} exceeds the available balance of {available}")]
    InsufficientBalance { requested: i64, available: i64 },
    #[error("this Idempotency-Key was already used with another request")]
    IdempotencyKeyMismatch,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyInProgress,
    /// An operator's `externalId` already names another request (a
    /// different amount or reason).
    #[error("{0}")]
    ExternalIdConflict(String),
    /// A hold released or captured already cannot go the other way.
    #[error("{0}")]
    HoldResolved(String),
    #[error("webhook signature verification failed: {0}")]
    InvalidSignature(String),
    /// A provider event that is signed but cannot be read.
    #[error("the event could not be read: {0}")]
    MalformedEvent(String),
    /// Temporarily over capacity; retry after a second.
    #[error("{0}")]
    Busy(String),
    #[error("the payout provider refused the request: {0}")]
    Provider(String),
    /// No provider may serve this organization (a live organization with
    /// no live provider configured): nothing was done.
    #[error("{0}")]
    ProviderNotConfigured(String),
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

    /// The lookup of a list's cursor failed: its not-found is the
    /// cursor's (`UnknownCursor`); any other error passes unchanged.
    pub fn for_cursor(self, kind: &'static str) -> Self {
        match self {
            Error::NotFound(_) => Error::UnknownCursor(kind),
            other => other,
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
