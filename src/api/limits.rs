//! Request limits applied before anything else runs: header size and count,
//! and the body, read here once with a size cap and a deadline.
//!
//! Reading the body up front means a client that announces a body and then
//! trickles it (or never sends it: slow loris) is cut off after
//! `request_read_timeout` with 408, and a chunked body without
//! `Content-Length` is refused with 413 as soon as it passes the cap. The
//! handlers then read from memory and cannot be held up by the client. No
//! handler future is ever cancelled half-way, which matters for money.
use std::time::Duration;

use poem::{http::header, Endpoint, Request, Response};

use super::{
    error::{error_response, ApiError},
    settings::max_body_bytes,
};

/// hyper itself refuses more than 100 headers or ~400 KiB of head with a
/// bare 431; below that, these limits answer with the envelope.
pub const MAX_HEADER_COUNT: usize = 64;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

fn header_bytes(req: &Request) -> usize {
    req.headers()
        .iter()
        // "name: value\r\n"
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// An answer given before the body was read in full. The unread rest of the
/// body is still on the wire, so the connection cannot carry another request:
/// say so, or a client reusing it from its pool gets a reset instead of a reply.
fn refuse_and_close(err: ApiError) -> Response {
    let mut response = error_response(err);
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

pub async fn handle<E: Endpoint>(next: E, mut req: Request, read_timeout: Duration) -> Response {
    if req.headers().len() > MAX_HEADER_COUNT || header_bytes(&req) > MAX_HEADER_BYTES {
        return refuse_and_close(ApiError::HeadersTooLarge {
            max_count: MAX_HEADER_COUNT,
            max_bytes: MAX_HEADER_BYTES,
        });
    }
    let limit = max_body_bytes();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return refuse_and_close(ApiError::PayloadTooLarge(limit));
    }
    match tokio::time::timeout(read_timeout, read_capped(req.take_body())).await {
        Err(_elapsed) => refuse_and_close(ApiError::RequestTimeout),
        Ok(Err(err)) => refuse_and_close(err),
        Ok(Ok(body)) => {
            req.set_body(body);
            next.get_response(req).await
        }
    }
}

/// Reads a whole body, refusing more than the configured cap. `handle`
/// reads every body first (with a deadline); later readers get it from
/// memory, with the same cap and the same errors.
pub async fn read_capped(body: poem::Body) -> Result<Vec<u8>, ApiError> {
    let limit = max_body_bytes();
    let bytes = body
        .into_bytes_limit(limit)
        .await
        .map_err(|err| match err {
            poem::error::ReadBodyError::PayloadTooLarge => ApiError::PayloadTooLarge(limit),
            _ => ApiError::InvalidJson("request body could not be read".into()),
        })?;
    Ok(bytes.to_vec())
}
