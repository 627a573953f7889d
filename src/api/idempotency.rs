//! The `Idempotency-Key` middleware for POSTs under `/api/v1`: claims the
//! key, runs the request once, stores its answer, and replays it to repeats
//! with `Idempotent-Replayed: true`.
use poem::{http::Method, Body, Endpoint, Request, Response};

use poem::http::StatusCode;

use super::{error::error_response, limits::read_capped, paths::API_BASE, wire::IdempotencyKey};
use crate::{
    crypto,
    service::{idempotency, App},
};

pub const HEADER: &str = "idempotency-key";
/// Marks a stored answer encrypted with the service's key.
const SEALED: &str = "sealed:";

/// Same JSON, same hash, whatever the key order or spacing.
fn request_hash(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => crypto::sha256_hex(value.to_string().as_bytes()),
        Err(_) => crypto::sha256_hex(body),
    }
}

fn applies_to(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == Method::POST
        && (path.starts_with(API_BASE) || super::auth::is_operator_path(path))
        && !path.starts_with(&format!("{API_BASE}/provider-webhooks/"))
        && req.headers().contains_key(HEADER)
}

/// Answers worth storing: the request ran and its result is the result.
/// Requests refused before they started (malformed, unauthenticated, rate
/// limited) and server errors store nothing, so a retry really retries.
fn should_store(status: StatusCode) -> bool {
    status.is_success()
        || matches!(
            status,
            StatusCode::PAYMENT_REQUIRED | StatusCode::NOT_FOUND | StatusCode::CONFLICT
        )
}

/// The status a stored answer is replayed with; one that is not an HTTP
/// status is an unreadable row (500), never replayed as 200.
fn stored_status(status: u16) -> Result<StatusCode, crate::error::Error> {
    StatusCode::from_u16(status).map_err(|_| {
        crate::error::Error::internal(format!("stored idempotent answer: status {status}"))
    })
}

pub async fn handle<E: Endpoint>(next: E, mut req: Request, app: &App) -> Response {
    if !applies_to(&req) {
        return next.get_response(req).await;
    }
    let key = match req
        .headers()
        .get(HEADER)
        .map(|v| IdempotencyKey::parse(v.as_bytes()))
    {
        Some(Ok(key)) => key.as_str().to_string(),
        Some(Err(err)) => return error_response(err),
        None => return next.get_response(req).await,
    };
    // Operator requests share one scope; their answers (which may carry a
    // new API key) are stored encrypted.
    let operator = super::auth::operator(&req).is_some();
    let scope = if operator {
        super::auth::OPERATOR_SCOPE.to_string()
    } else if let Some(caller) = super::auth::caller(&req) {
        caller.org.id.clone()
    } else {
        // Unauthenticated: the operation itself answers 401.
        return next.get_response(req).await;
    };
    let body = match read_capped(req.take_body()).await {
        Ok(body) => body,
        Err(err) => return error_response(err),
    };
    let route = format!("POST {}", req.uri().path());
    match idempotency::claim(
        &app.db,
        &scope,
        &key,
        &route,
        &request_hash(&body),
        app.config.idempotency_lock,
    )
    .await
    {
        Err(err) => error_response(err),
        Ok(idempotency::Claim::Replay { status, body }) => {
            // Stored encrypted (an answer can carry a secret shown once: a
            // webhook endpoint's signing secret, an operator's new API key);
            // rows stored in clear by an older version are replayed as they are.
            let body = match body.strip_prefix(SEALED) {
                Some(sealed) => match app.config.cipher.decrypt(sealed) {
                    Ok(body) => body,
                    Err(err) => {
                        return error_response(crate::error::Error::internal(format!(
                            "stored idempotent answer: {err}"
                        )))
                    }
                },
                None => body,
            };
            let status = match stored_status(status) {
                Ok(status) => status,
                Err(err) => return error_response(err),
            };
            let mut response = Response::builder()
                .status(status)
                .content_type("application/json; charset=utf-8")
                .header("idempotent-replayed", "true")
                .body(body);
            response.headers_mut().remove("content-length");
            response
        }
        Ok(idempotency::Claim::Run) => {
            req.set_body(Body::from(body));
            let mut response = next.get_response(req).await;
            let status = response.status();
            if should_store(status) {
                let bytes = response.take_body().into_bytes().await.unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                let text = format!("{SEALED}{}", app.config.cipher.encrypt(&text));
                if let Err(err) =
                    idempotency::complete(&app.db, &scope, &key, status.as_u16(), &text).await
                {
                    // The answer still goes out; a repeat after the lock
                    // expires runs again, and the payout itself is keyed too.
                    tracing::warn!(error = %err, "could not store an idempotent response");
                }
                response.set_body(bytes);
            } else if let Err(err) = idempotency::release(&app.db, &scope, &key).await {
                tracing::warn!(error = %err, "could not release an idempotency key");
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_status_that_is_no_status_is_an_error() {
        assert_eq!(stored_status(201).unwrap(), StatusCode::CREATED);
        assert_eq!(stored_status(409).unwrap(), StatusCode::CONFLICT);
        for unreadable in [0, 42, 1000, u16::MAX] {
            assert!(stored_status(unreadable).is_err(), "{unreadable}");
        }
    }

    #[test]
    fn what_is_stored() {
        for status in [200, 201, 402, 404, 409] {
            assert!(
                should_store(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
        for status in [400, 401, 413, 415, 422, 429, 500, 502, 503] {
            assert!(
                !should_store(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }
}
