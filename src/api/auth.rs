//! Authenticates the `x-api-key` once per request, before rate limiting,
//! idempotency and the operation, which all read the result from the
//! request's extensions. Nothing is cached across requests, so a revoked key
//! stops at once.
//!
//! The operator API (`/operator/v1`) is authenticated apart: only an
//! operator token (`Authorization: Bearer …`) opens it, and there the
//! `x-api-key` is not even read; elsewhere only the `x-api-key` counts. So an
//! organization's key never opens an operator route, nor an operator token
//! an organization's.
use entity::organization;
use poem::{Endpoint, Request, Response};

use super::{error::error_response, paths::OPERATOR_BASE};
use crate::service::{orgs, App};

/// The authenticated caller of this request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: String,
    pub org: organization::Model,
}

/// A request made with a valid operator token.
#[derive(Clone, Debug)]
pub struct Operator;

/// What operator requests are scoped by where organizations' are by their
/// id (the idempotency keys' table).
pub const OPERATOR_SCOPE: &str = "operator";

pub fn is_operator_path(path: &str) -> bool {
    path == OPERATOR_BASE || path.starts_with(&format!("{OPERATOR_BASE}/"))
}

pub async fn handle<E: Endpoint>(next: E, mut req: Request, app: &App) -> Response {
    if is_operator_path(req.uri().path()) {
        if !operator_token_valid(&req, &app.config.operator_token_hashes) {
            return error_response(super::error::ApiError::OperatorUnauthorized);
        }
        req.extensions_mut().insert(Operator);
        return next.get_response(req).await;
    }
    let mut values = req.headers().get_all("x-api-key").iter();
    let presented = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok().map(str::to_string),
        // Two keys are ambiguous (a proxy may read the other one): refused
        // whichever they are, so neither authenticates the request.
        (Some(_), Some(_)) => return error_response(super::error::ApiError::Unauthorized),
        (None, _) => None,
    };
    if let Some(presented) = presented {
        match orgs::authenticate_key(&app.read_db, &presented).await {
            Ok(Some((key, org))) => {
                req.extensions_mut().insert(Caller {
                    key_id: key.id,
                    org,
                });
            }
            // Unknown or revoked: the operation answers 401.
            Ok(None) => {}
            Err(err) => return error_response(err),
        }
    }
    next.get_response(req).await
}

/// Exactly one `Authorization: Bearer <token>` naming a configured token.
fn operator_token_valid(req: &Request, hashes: &[String]) -> bool {
    let mut values = req.headers().get_all("authorization").iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Some(token) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    }) else {
        return false;
    };
    crate::crypto::operator_token::matches(hashes, token.trim())
}

pub fn operator(req: &Request) -> Option<&Operator> {
    req.extensions().get::<Operator>()
}

pub fn caller(req: &Request) -> Option<&Caller> {
    req.extensions().get::<Caller>()
}
