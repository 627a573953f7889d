//! The contract's error envelope, as an OpenAPI response (documented on
//! every operation) and as a plain poem response for failures that happen
//! before a handler runs (routing, extractors, body limits).
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
    ApiResponse, Object,
};

use crate::error::Error;

/// `Retry-After` of a 503: capacity frees up as fetches finish, within seconds.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

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

/// Every error status an operation can answer, each with the envelope.
#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// Body is not JSON, or a webhook signature is invalid.
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
    /// Missing payout account, not verified, no default bank account, or an idempotency conflict.
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

pub fn envelope(err: &Error) -> ErrorEnvelope {
    let (kind, code) = err.kind();
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
            param: err
                .details()
                .and_then(|d| d.first())
                .map(|d| d.field.clone()),
            details,
            doc_url: format!("{}/docs/errors/{code}", crate::api::public_url()),
        },
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        if let Error::Internal(detail) = &err {
            tracing::error!(%detail, "internal error");
        }
        let body = Json(envelope(&err));
        match err.status() {
            400 => Self::BadRequest(body),
            401 => Self::Unauthorized(body),
            402 => Self::PaymentRequired(body),
            404 => Self::NotFound(body),
            409 => Self::Conflict(body),
            413 => Self::PayloadTooLarge(body),
            415 => Self::UnsupportedMediaType(body),
            422 => Self::UnprocessableEntity(body),
            429 => match err {
                Error::RateLimited { retry_after } => {
                    Self::TooManyRequests(body, retry_after as i64)
                }
                _ => Self::TooManyRequests(body, 1),
            },
            502 => Self::BadGateway(body),
            503 => Self::ServiceUnavailable(body, BUSY_RETRY_AFTER_SECS as i64),
            _ => Self::Internal(body),
        }
    }
}

/// Lets extractors fail with our error; the catch-all renders it.
impl From<Error> for poem::Error {
    fn from(err: Error) -> Self {
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        poem::Error::new(err, status)
    }
}

/// Renders an error as the envelope with its status.
pub fn error_response(err: Error) -> Response {
    let retry_after = match &err {
        Error::RateLimited { retry_after } => Some(*retry_after),
        Error::Busy(_) => Some(BUSY_RETRY_AFTER_SECS),
        _ => None,
    };
    // 405 is not an operation's documented response, so it has no variant.
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = ApiError::from(err).into_response();
    response.set_status(status);
    if let Some(seconds) = retry_after {
        response.headers_mut().insert("retry-after", seconds.into());
    }
    response
}

/// The one place every failure becomes the envelope: errors the handlers
/// already rendered pass through; poem's and poem-openapi's own failures are
/// translated.
pub fn render(err: poem::Error) -> Response {
    if let Some(ours) = err.downcast_ref::<Error>() {
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
    let translated = if err.is::<NotFoundError>() {
        Error::NotFound("no such route".into())
    } else if err.is::<poem::error::ParsePathError>() {
        // A path segment that is not UTF-8 once percent-decoded (`%ff`)
        // names no resource.
        Error::NotFound("no such route (the path is not valid UTF-8)".into())
    } else if err.is::<MethodNotAllowedError>() {
        Error::MethodNotAllowed
    } else if err.is::<AuthorizationError>() {
        Error::Unauthorized
    } else if err.is::<ContentTypeError>() {
        Error::UnsupportedMediaType
    } else if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        Error::InvalidJson(format!("request body is invalid: {}", e.reason))
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        if e.name == "x-api-key" {
            Error::Unauthorized
        } else {
            Error::field(e.name, e.reason.clone())
        }
    } else if let Some(e) = err.downcast_ref::<ParsePathError>() {
        Error::NotFound(format!("no such route ({e})"))
    } else if err.is::<ParseMultipartError>() {
        Error::UnsupportedMediaType
    } else if let Some(e) = err.downcast_ref::<ReadBodyError>() {
        match e {
            ReadBodyError::PayloadTooLarge => Error::PayloadTooLarge(crate::api::max_body_bytes()),
            _ => Error::InvalidJson("request body could not be read".into()),
        }
    } else {
        match err.status() {
            status if status.is_server_error() => Error::internal(&err),
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

fn by_status(status: StatusCode) -> Error {
    match status.as_u16() {
        400 => Error::InvalidJson("bad request".into()),
        401 => Error::Unauthorized,
        404 => Error::NotFound("not found".into()),
        405 => Error::MethodNotAllowed,
        413 => Error::PayloadTooLarge(crate::api::max_body_bytes()),
        415 => Error::UnsupportedMediaType,
        _ => Error::internal(format!("unexpected status {status}")),
    }
}
