//! Authenticates the `x-api-key` once per request, before rate limiting,
//! idempotency and the operation, which all read the result from the
//! request's extensions. Nothing is cached across requests, so a revoked key
//! stops at once.
use entity::organization;
use poem::{Endpoint, Request, Response};

use super::error::error_response;
use crate::service::{orgs, App};

/// The authenticated caller of this request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: String,
    pub org: organization::Model,
}

pub async fn handle<E: Endpoint>(next: E, mut req: Request, app: &App) -> Response {
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

pub fn caller(req: &Request) -> Option<&Caller> {
    req.extensions().get::<Caller>()
}
