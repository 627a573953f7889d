//! Commet API versions on the wire (`Commet-Version`), in one layer.
//!
//! Handlers and middleware answer in one shape, the oldest version's:
//! `wire::Success`'s `{success: true, data}`, `wire::List`'s `{success: true,
//! data, hasMore, nextCursor}`, errors' `{success: false, error}`. It is
//! also what the idempotency middleware stores. `handle`, which every
//! request goes through (inside only the request-id layer), resolves the
//! request's version and renders the answer for it by applying, in order,
//! each of `changes::CHANGES` from the versions after the oldest up to it,
//! then says which version it used in the `Commet-Version` response header.
//! So a handler never looks at the version, an idempotent replay is the
//! stored answer rendered for the replaying request's version, and the
//! spec module publishes each version's document by applying the same
//! changes' document edits (`render_document`).
//!
//! The version is resolved (`domain::api_version`) from the header, else
//! the caller's organization's pin (read by `pin`, which runs after
//! authentication), else the default. A malformed header is refused with
//! 400 `invalid_api_version` before anything else runs.
mod changes;

use entity::states::ApiVersion;
use poem::{
    http::{header, HeaderValue},
    Endpoint, Request, Response,
};

pub use changes::{Change, CHANGES};

use super::error::{error_response, ApiError};
use crate::domain::api_version;

/// The request and response header.
pub const HEADER_NAME: &str = "Commet-Version";

/// The header's version, if the request sent one (set by `handle`, read by
/// `pin`).
#[derive(Clone, Copy, Debug)]
struct Requested(Option<ApiVersion>);

/// The version `pin` resolved for the request, carried back on its answer.
#[derive(Clone, Copy, Debug)]
struct Resolved(ApiVersion);

tokio::task_local! {
    static CURRENT: ApiVersion;
}

/// The version of the request being handled (inside the API's middleware;
/// `DEFAULT` elsewhere). Nothing needs it to render an answer; it is for a
/// rule that depends on the caller's version, such as the version a new
/// webhook endpoint is pinned to when it names none.
pub fn current() -> ApiVersion {
    CURRENT.try_with(|v| *v).unwrap_or(api_version::DEFAULT)
}

/// The `Commet-Version` a request sent: none, or one well-formed date.
pub fn requested(req: &Request) -> Result<Option<ApiVersion>, ApiError> {
    let mut values = req.headers().get_all(HEADER_NAME).iter();
    let (first, second) = (values.next(), values.next());
    let Some(first) = first else { return Ok(None) };
    let text = match (first.to_str(), second) {
        (Ok(text), None) => text,
        // Two versions are ambiguous: refused like a malformed one.
        (Ok(_), Some(_)) => "(sent more than once)",
        (Err(_), _) => "(not ASCII)",
    };
    api_version::parse(text)
        .map(Some)
        .map_err(|malformed| ApiError::InvalidApiVersion {
            param: HEADER_NAME,
            malformed,
        })
}

/// The outer layer: reads the header, lets the request run, and renders
/// its answer for the version it resolved to.
pub async fn handle<E: Endpoint>(next: E, mut req: Request) -> Response {
    let requested = match requested(&req) {
        Ok(requested) => requested,
        Err(err) => return with_header(error_response(err), api_version::DEFAULT),
    };
    req.extensions_mut().insert(Requested(requested));
    let is_api = req.uri().path().starts_with(super::paths::API_BASE);
    // Boxed: the rest of the stack's future is large, and a debug build
    // would otherwise grow this layer's frame by all of it.
    let response = Box::pin(next.get_response(req)).await;
    // Answers given before authentication (413, 431, …) have no organization.
    let version = response
        .data::<Resolved>()
        .map(|r| r.0)
        .unwrap_or_else(|| api_version::for_request(requested, None));
    // Everything under the API base answers in the wire types; elsewhere
    // only errors do (the spec, health checks and docs are not versioned).
    let response = if is_api || !response.status().is_success() {
        render_response(response, version).await
    } else {
        response
    };
    with_header(response, version)
}

/// The inner layer, after authentication: resolves the version with the
/// caller's organization's pin and runs the rest of the request with it.
pub async fn pin<E: Endpoint>(next: E, req: Request) -> Response {
    let requested = req.extensions().get::<Requested>().and_then(|r| r.0);
    let org_pin = super::auth::caller(&req).map(|caller| caller.org.api_version);
    let version = api_version::for_request(requested, org_pin);
    let mut response = CURRENT
        .scope(version, Box::pin(next.get_response(req)))
        .await;
    response.set_data(Resolved(version));
    response
}

/// Says which version answered, unless the answer says it itself (the
/// OpenAPI document says whose shapes it describes).
fn with_header(mut response: Response, version: ApiVersion) -> Response {
    if !response.headers().contains_key(HEADER_NAME) {
        response
            .headers_mut()
            .insert(HEADER_NAME, HeaderValue::from_static(version.as_str()));
    }
    response
}

/// The changes from the canonical (oldest) shape to `version`'s, in order.
pub fn changes_to(version: ApiVersion) -> impl Iterator<Item = &'static Change> {
    CHANGES
        .iter()
        .filter(move |change| change.version <= version)
}

/// A JSON body in the canonical shape, rendered for `version`.
pub fn render(version: ApiVersion, body: &mut serde_json::Value) {
    for change in changes_to(version) {
        (change.body)(body);
    }
}

/// The OpenAPI document of the canonical shapes, edited into `version`'s.
pub fn render_document(version: ApiVersion, doc: &mut serde_norway::Value) {
    for change in changes_to(version) {
        (change.document)(doc);
    }
}

async fn render_response(mut response: Response, version: ApiVersion) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if changes_to(version).next().is_none() || !is_json {
        return response;
    }
    let bytes = match response.take_body().into_bytes().await {
        Ok(bytes) => bytes,
        Err(err) => return error_response(ApiError::internal(err)),
    };
    let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        response.set_body(bytes);
        return response;
    };
    render(version, &mut body);
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response.set_body(serde_json::to_vec(&body).expect("a JSON value serializes"));
    response
}

#[cfg(test)]
mod tests {
    use poem::{get, handler, EndpointExt, Route};

    use super::*;

    #[handler]
    fn version_here() -> poem::web::Json<serde_json::Value> {
        poem::web::Json(
            serde_json::json!({"success": true, "data": {"object": "v", "v": current().as_str()}}),
        )
    }

    /// Both layers around a route: the route sees the resolved version and
    /// its answer is rendered for it (no organization here: header, else
    /// the default).
    #[tokio::test]
    async fn a_handler_sees_the_version_it_is_rendered_for() {
        let endpoint = Route::new()
            .at("/api/v1/here", get(version_here))
            .around(|next, req| async move { Ok(pin(next, req).await) })
            .around(|next, req| async move { Ok(handle(next, req).await) });
        for (sent, want) in [
            (
                None,
                json!({"success": true, "data": {"object": "v", "v": "2026-07-11"}}),
            ),
            (
                Some("2026-09-01"),
                json!({"object": "v", "v": "2026-07-24"}),
            ),
        ] {
            let mut request = Request::builder().uri("/api/v1/here".parse().unwrap());
            if let Some(sent) = sent {
                request = request.header(HEADER_NAME, sent);
            }
            let mut response = endpoint.get_response(request.finish()).await;
            let body: serde_json::Value =
                serde_json::from_slice(&response.take_body().into_vec().await.unwrap()).unwrap();
            assert_eq!(body, want);
            assert_eq!(response.headers()[HEADER_NAME], want_header(&want));
        }
        assert_eq!(current(), api_version::DEFAULT, "outside a request");
    }

    fn want_header(body: &serde_json::Value) -> &str {
        body["v"].as_str().or(body["data"]["v"].as_str()).unwrap()
    }

    use serde_json::json;

    #[test]
    fn the_oldest_version_is_the_canonical_shape() {
        assert_eq!(changes_to(ApiVersion::ALL[0]).count(), 0);
        assert!(CHANGES.windows(2).all(|w| w[0].version <= w[1].version));
        assert!(CHANGES.iter().all(|c| c.version > ApiVersion::ALL[0]));
        // Every later version changes something (else it is not a version).
        for version in &ApiVersion::ALL[1..] {
            assert!(CHANGES.iter().any(|c| c.version == *version), "{version}");
        }
    }
}
