//! The API's error: the transport failures (a request that could not be
//! read as an operation's input, or was refused before one ran) and the
//! service's error, joined by one `From`. It answers with the contract's
//! envelope, as an OpenAPI response (documented on every operation) and as a
//! plain poem response for failures that happen before a handler runs
//! (routing, extractors, body limits). Each case's code, status and `type`
//! come from `api::error_codes`.
use poem::{
    error::{MethodNotAllowedError, NotFoundError, ReadBodyError},
    http::StatusCode,
    IntoResponse, Response,
};
use poem_openapi::{
    error::{
        AuthorizationError, ContentTypeError, ParseMultipartError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    },
    payload::Json,
    registry::{MetaResponses, Registry},
    ApiResponse, Object,
};

use super::{
    error_codes::{self, ErrorCode},
    settings::{max_body_bytes, public_url},
};
use crate::error::{Error, FieldError};

/// `Retry-After` of a 503: capacity frees up as fetches finish, within seconds.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("invalid or missing API key (send it in the x-api-key header)")]
    Unauthorized,
    /// An operator route without a valid operator token.
    #[error("invalid or missing operator token (send it as Authorization: Bearer <token>)")]
    OperatorUnauthorized,
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("request headers are too large (at most {max_count} headers, {max_bytes} bytes)")]
    HeadersTooLarge { max_count: usize, max_bytes: usize },
    #[error("the request body was not received in time")]
    RequestTimeout,
    #[error("request body must be sent as application/json")]
    UnsupportedMediaType,
    #[error("too many requests; retry after {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    /// `param` names where the version was given (`Commet-Version`, or
    /// the spec's `version` query parameter).
    #[error("{param} {malformed}")]
    InvalidApiVersion {
        param: &'static str,
        malformed: crate::domain::api_version::Malformed,
    },
    #[error(transparent)]
    Service(#[from] Error),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::field(field, message).into()
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Error::internal(err).into()
    }

    /// The code's entry. No wildcard: a new variant does not compile until
    /// it is given a code.
    pub fn code(&self) -> &'static ErrorCode {
        use error_codes as c;
        match self {
            ApiError::InvalidJson(_) => &c::INVALID_JSON,
            ApiError::Unauthorized | ApiError::OperatorUnauthorized => &c::UNAUTHORIZED,
            ApiError::MethodNotAllowed => &c::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => &c::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge { .. } => &c::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::RequestTimeout => &c::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => &c::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => &c::RATE_LIMITED,
            ApiError::InvalidApiVersion { .. } => &c::INVALID_API_VERSION,
            ApiError::Service(err) => match err {
                Error::Validation(_) => &c::VALIDATION_ERROR,
                Error::NotFound(_) | Error::UnknownCursor(_) => &c::NOT_FOUND,
                Error::PayoutAccountRequired => &c::PAYOUT_ACCOUNT_REQUIRED,
                Error::PayoutAccountNotVerified(_) => &c::PAYOUT_ACCOUNT_NOT_VERIFIED,
                Error::NoDefaultBankAccount => &c::NO_DEFAULT_BANK_ACCOUNT,
                Error::InsufficientBalance { .. } => &c::INSUFFICIENT_BALANCE,
                Error::PayoutNotCancelable(_) => &c::PAYOUT_NOT_CANCELABLE,
                Error::BankAccountIsDefault => &c::BANK_ACCOUNT_IS_DEFAULT,
                Error::BankAccountInUse => &c::BANK_ACCOUNT_IN_USE,
                Error::IdempotencyKeyMismatch => &c::IDEMPOTENCY_KEY_MISMATCH,
                Error::IdempotencyInProgress => &c::IDEMPOTENCY_IN_PROGRESS,
                Error::ExternalIdConflict(_) => &c::EXTERNAL_ID_CONFLICT,
                Error::HoldResolved(_) => &c::HOLD_ALREADY_RESOLVED,
                Error::InvalidSignature(_) => &c::INVALID_SIGNATURE,
                Error::MalformedEvent(_) => &c::INVALID_JSON,
                Error::Busy(_) => &c::SERVICE_UNAVAILABLE,
                Error::Provider(_) => &c::PROVIDER_ERROR,
                Error::ProviderNotConfigured(_) => &c::PROVIDER_NOT_CONFIGURED,
                Error::Internal(_) => &c::INTERNAL_ERROR,
            },
        }
    }

    fn details(&self) -> Option<&[FieldError]> {
        match self {
            ApiError::Service(err) => err.details(),
            _ => None,
        }
    }

    /// The field or header at fault: the first bad field, or the header.
    fn param(&self) -> Option<String> {
        match self {
            ApiError::InvalidApiVersion { param, .. } => Some(param.to_string()),
            ApiError::Service(Error::UnknownCursor(_)) => Some("cursor".to_string()),
            _ => self
                .details()
                .and_then(|d| d.first())
                .map(|d| d.field.clone()),
        }
    }

    /// Seconds for the `Retry-After` header, where the client should wait.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after } => Some(*retry_after),
            ApiError::Service(Error::Busy(_)) => Some(BUSY_RETRY_AFTER_SECS),
            _ => None,
        }
    }
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct FieldErrorDetail {
    pub field: String,
    pub message: String,
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct ErrorBody {
    /// `validation_error`, `authentication_error`, `not_found_error`, …
    #[oai(rename = "type")]
    pub kind: String,
    pub code: String,
    pub message: String,
    /// The first bad field, dotted for nested fields (`bank.accountNumber`).
    #[oai(nullable)]
    pub param: Option<String>,
    /// Every bad field, for validation errors.
    #[oai(nullable)]
    pub details: Option<Vec<FieldErrorDetail>>,
    #[oai(rename = "doc_url")]
    pub doc_url: String,
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct ErrorEnvelope {
    pub success: bool,
    pub error: ErrorBody,
}

/// Every error status an operation can answer, each with the envelope: what
/// the spec documents. `ApiError` answers as this.
#[derive(ApiResponse, Debug)]
pub enum ErrorResponse {
    /// Body is not JSON, a webhook signature is invalid, or Commet-Version is not a date.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Missing, unknown or revoked API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorEnvelope>),
    /// Amount over the available balance.
    #[oai(status = 402)]
    PaymentRequired(Json<ErrorEnvelope>),
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// Missing payout account, not verified, no default bank account, a payout that
    /// can no longer be canceled, a bank account that cannot be deleted, or an
    /// idempotency conflict.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorEnvelope>),
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorEnvelope>),
    /// A field is missing, mistyped or out of range.
    #[oai(status = 422)]
    UnprocessableEntity(Json<ErrorEnvelope>),
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorEnvelope>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        i64,
    ),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The payout provider refused or failed.
    #[oai(status = 502)]
    BadGateway(Json<ErrorEnvelope>),
    /// Over capacity (too many identity documents in flight); retry shortly.
    #[oai(status = 503)]
    ServiceUnavailable(
        Json<ErrorEnvelope>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        i64,
    ),
}

pub fn envelope(err: &ApiError) -> ErrorEnvelope {
    let ErrorCode { kind, code, .. } = err.code();
    let details = err.details().map(|details| {
        details
            .iter()
            .map(|d| FieldErrorDetail {
                field: d.field.clone(),
                message: d.message.clone(),
            })
            .collect::<Vec<_>>()
    });
    ErrorEnvelope {
        success: false,
        error: ErrorBody {
            kind: kind.to_string(),
            code: code.to_string(),
            message: err.to_string(),
            param: err.param(),
            details,
            doc_url: format!("{}/docs/errors/{code}", public_url()),
        },
    }
}

impl From<&ApiError> for ErrorResponse {
    fn from(err: &ApiError) -> Self {
        let body = Json(envelope(err));
        let retry_after = err.retry_after().unwrap_or(1) as i64;
        match err.code().status.as_u16() {
            400 => Self::BadRequest(body),
            401 => Self::Unauthorized(body),
            402 => Self::PaymentRequired(body),
            404 => Self::NotFound(body),
            409 => Self::Conflict(body),
            413 => Self::PayloadTooLarge(body),
            415 => Self::UnsupportedMediaType(body),
            422 => Self::UnprocessableEntity(body),
            429 => Self::TooManyRequests(body, retry_after),
            502 => Self::BadGateway(body),
            503 => Self::ServiceUnavailable(body, retry_after),
            // Statuses no operation documents (405, 408, 431) take their
            // own status in `error_response`.
            _ => Self::Internal(body),
        }
    }
}

/// Handlers return `Result<_, ApiError>`: documented as `ErrorResponse`.
impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        ErrorResponse::meta()
    }

    fn register(registry: &mut Registry) {
        ErrorResponse::register(registry)
    }
}

/// Lets handlers and extractors fail with our error; the catch-all renders it.
impl From<ApiError> for poem::Error {
    fn from(err: ApiError) -> Self {
        let status = err.code().status;
        poem::Error::new(err, status)
    }
}

impl From<Error> for poem::Error {
    fn from(err: Error) -> Self {
        ApiError::from(err).into()
    }
}

/// Renders an error as the envelope with its status.
pub fn error_response(err: impl Into<ApiError>) -> Response {
    let err = err.into();
    if let ApiError::Service(Error::Internal(detail)) = &err {
        tracing::error!(%detail, "internal error");
    }
    let mut response = ErrorResponse::from(&err).into_response();
    response.set_status(err.code().status);
    if let Some(seconds) = err.retry_after() {
        response.headers_mut().insert("retry-after", seconds.into());
    }
    response
}

/// The one place every failure becomes the envelope: errors the handlers
/// already rendered pass through; poem's and poem-openapi's own failures are
/// translated.
pub fn render(err: poem::Error) -> Response {
    if let Some(ours) = err.downcast_ref::<ApiError>() {
        return error_response(ours.clone());
    }
    if !err.has_source() {
        let response = err.into_response();
        if response.status().is_client_error() || response.status().is_server_error() {
            if is_envelope(&response) {
                return response;
            }
            return error_response(by_status(response.status()));
        }
        return response;
    }
    let translated: ApiError = if err.is::<NotFoundError>() {
        Error::NotFound("no such route".into()).into()
    } else if err.is::<poem::error::ParsePathError>() {
        // A path segment that is not UTF-8 once percent-decoded (`%ff`)
        // names no resource.
        Error::NotFound("no such route (the path is not valid UTF-8)".into()).into()
    } else if err.is::<MethodNotAllowedError>() {
        ApiError::MethodNotAllowed
    } else if err.is::<AuthorizationError>() {
        ApiError::Unauthorized
    } else if err.is::<ContentTypeError>() {
        ApiError::UnsupportedMediaType
    } else if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        ApiError::InvalidJson(format!("request body is invalid: {}", e.reason))
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        if e.name == "x-api-key" {
            ApiError::Unauthorized
        } else {
            ApiError::field(e.name, e.reason.clone())
        }
    } else if let Some(e) = err.downcast_ref::<ParsePathError>() {
        Error::NotFound(format!("no such route ({e})")).into()
    } else if err.is::<ParseMultipartError>() {
        ApiError::UnsupportedMediaType
    } else if let Some(e) = err.downcast_ref::<ReadBodyError>() {
        match e {
            ReadBodyError::PayloadTooLarge => ApiError::PayloadTooLarge(max_body_bytes()),
            _ => ApiError::InvalidJson("request body could not be read".into()),
        }
    } else {
        match err.status() {
            status if status.is_server_error() => ApiError::internal(&err),
            status => by_status(status),
        }
    };
    error_response(translated)
}

fn is_envelope(response: &Response) -> bool {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn by_status(status: StatusCode) -> ApiError {
    match status.as_u16() {
        400 => ApiError::InvalidJson("bad request".into()),
        401 => ApiError::Unauthorized,
        404 => Error::NotFound("not found".into()).into(),
        405 => ApiError::MethodNotAllowed,
        413 => ApiError::PayloadTooLarge(max_body_bytes()),
        415 => ApiError::UnsupportedMediaType,
        _ => ApiError::internal(format!("unexpected status {status}")),
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
