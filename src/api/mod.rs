//! HTTP: routes, middleware and the OpenAPI document.
pub mod auth;
pub mod error;
pub mod error_codes;
pub mod error_docs;
pub mod idempotency;
pub mod limits;
pub mod operator;
pub mod paths;
pub mod rate_limit;
pub mod resources;
pub mod route_table;
pub mod settings;
pub mod spec;
pub mod validate;
pub mod versions;
pub mod wire;

use poem::{
    endpoint::make_sync, get, middleware::CatchPanic, web::Redirect, Endpoint, EndpointExt,
    IntoResponse, PathPattern, Request, Response, Route,
};
use tracing::Instrument;

use crate::service::App;

pub use paths::{API_BASE, OPERATOR_BASE};
pub use spec::{api_service, operator_service};

/// The OpenAPI document as committed in `openapi.yaml`.
pub fn spec_yaml() -> String {
    spec::document().yaml
}

/// The OpenAPI document of a version, as committed in `spec::file_name`.
pub fn spec_yaml_for(version: entity::states::ApiVersion) -> String {
    spec::document_for(version).yaml
}

/// The operator API's document as committed in `operator-openapi.yaml`.
pub fn operator_spec_yaml() -> String {
    spec::operator_document().yaml
}

fn sane_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// All routes, with the error envelope, `x-request-id` and `Allow` applied
/// to every response.
pub fn routes(app: App) -> impl Endpoint {
    let api = api_service();
    let documents = std::sync::Arc::new(spec::Documents::new());
    let swagger = api.swagger_ui();
    let yaml_documents = documents.clone();
    let operator = operator_service();
    let operator_swagger = operator.swagger_ui();
    let spec::Document {
        json: operator_json,
        yaml: operator_yaml,
    } = spec::operator_document();
    let table = route_table::RouteTable::from_specs(&[
        (API_BASE, &spec::document().json),
        (OPERATOR_BASE, &operator_json),
    ]);
    let routes = Route::new()
        .nest(API_BASE, api)
        .nest(OPERATOR_BASE, operator)
        .at(
            "/operator/openapi.json",
            get(make_sync(move |_| {
                operator_json.clone().with_content_type("application/json")
            })),
        )
        .at(
            "/operator/openapi.yaml",
            get(make_sync(move |_| {
                operator_yaml.clone().with_content_type("application/yaml")
            })),
        )
        .nest("/operator/docs", operator_swagger)
        .at(
            "/openapi.json",
            get(make_sync(move |req| {
                documents.serve(&req, spec::Format::Json)
            })),
        )
        .at(
            "/openapi.yaml",
            get(make_sync(move |req| {
                yaml_documents.serve(&req, spec::Format::Yaml)
            })),
        )
        .at("/", get(make_sync(|_| Redirect::see_other("/docs"))))
        .at("/healthz", get(crate::ops::healthz))
        .at("/readyz", get(crate::ops::readyz))
        .at("/docs/errors/:code", get(error_docs::error_page))
        .nest("/docs", swagger);
    with_middleware(app, routes, table)
}

/// `routes` behind the middleware every request goes through, outermost
/// last: request id, metrics and `Allow`; the API version (`Commet-Version`
/// read, every answer rendered for it); request limits; authentication;
/// the organization's version pin; rate limiting; idempotency; and a panic
/// anywhere below the outermost layer answered as a 500 in the envelope.
fn with_middleware(app: App, routes: Route, table: route_table::RouteTable) -> impl Endpoint {
    let settings = settings::RequestSettings {
        public_url: app.config.public_url.clone(),
        max_body_bytes: app.config.max_body_bytes,
    };
    let table = std::sync::Arc::new(table);
    let limiter = std::sync::Arc::new(rate_limit::RateLimiter::new(&app.config));
    let read_timeout = app.config.request_read_timeout;
    let auth_app = app.clone();
    let metrics = app.metrics.clone();

    routes
        .data(app.clone())
        .catch_all_error(|err| async move {
            // Keep the matched route for the metrics label.
            let pattern = err.data::<PathPattern>().cloned();
            let mut response = error::render(err);
            if let Some(pattern) = pattern {
                response.set_data(pattern);
            }
            response
        })
        // Inside idempotency, so a panicking request releases its key.
        .with(CatchPanic::new().with_handler(panic_response))
        .around(move |next, req: Request| {
            let app = app.clone();
            async move { Ok(idempotency::handle(next, req, &app).await) }
        })
        .around(move |next, req: Request| {
            let limiter = limiter.clone();
            async move { Ok(rate_limit::handle(next, req, &limiter).await) }
        })
        .around(|next, req: Request| async move { Ok(versions::pin(next, req).await) })
        .around(move |next, req: Request| {
            let app = auth_app.clone();
            async move { Ok(auth::handle(next, req, &app).await) }
        })
        .around(move |next, req: Request| async move {
            Ok(limits::handle(next, req, read_timeout).await)
        })
        .with(CatchPanic::new().with_handler(panic_response))
        .around(|next, req: Request| async move { Ok(versions::handle(next, req).await) })
        .around(move |next, req: Request| {
            let table = table.clone();
            let settings = settings.clone();
            let metrics = metrics.clone();
            async move {
                Ok(settings::SETTINGS
                    .scope(settings, finish_response(next, req, &table, &metrics))
                    .await)
            }
        })
}

/// A panic is a bug: logged (inside the request's span, so with its
/// request id) and answered 500 in the envelope, never a dropped connection.
fn panic_response(panic: Box<dyn std::any::Any + Send>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into());
    error::error_response(crate::error::Error::Internal(format!(
        "handler panicked: {message}"
    )))
}

async fn finish_response<E: Endpoint>(
    next: E,
    req: Request,
    table: &route_table::RouteTable,
    metrics: &crate::metrics::Metrics,
) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| crate::ids::new_id("req"));
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %request_id, %method, %path);
    let started = std::time::Instant::now();
    let mut response = next.get_response(req).instrument(span.clone()).await;
    if response.status() == 405 {
        if let Some(methods) = table.allow(&path) {
            if let Ok(value) = methods.parse() {
                response.headers_mut().insert("allow", value);
            }
        }
    }
    if let Ok(value) = request_id.parse() {
        response.headers_mut().insert("x-request-id", value);
    }
    let elapsed = started.elapsed();
    // The matched template bounds the label set; anything unmatched is one
    // label (an unknown path under the API base matches only the nest).
    // Answers given before routing (429, 413, …) take the route the path
    // would have matched.
    let route = match response.data::<PathPattern>() {
        Some(p) if &*p.0 != API_BASE => p.0.to_string(),
        _ => table.label(&path).unwrap_or("unmatched").to_string(),
    };
    metrics.observe_request(method.as_str(), &route, response.status().as_u16(), elapsed);
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            %route,
            elapsed_ms = elapsed.as_millis() as u64,
            "request"
        )
    });
    response
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use poem::{handler, http::StatusCode};

    use super::*;

    #[handler]
    fn boom() -> &'static str {
        panic!("boom at the test route")
    }

    /// Writes log lines into a shared buffer.
    #[derive(Clone)]
    struct Logs(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Logs {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A route that panics (it exists only in this test) behind the real
    /// middleware: 500 in the envelope, with the request id, and logged.
    #[tokio::test]
    async fn a_panic_is_a_500_in_the_envelope_with_the_request_id_and_logged() {
        let logs = Logs(Arc::new(Mutex::new(Vec::new())));
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let cipher =
            crate::crypto::Cipher::from_encoded_key(&crate::crypto::Cipher::generate_key_hex())
                .unwrap();
        let app = App::new(
            db,
            crate::config::Config::new("sqlite::memory:", "127.0.0.1:1", cipher),
        );
        let table = route_table::RouteTable::from_spec(&spec::document().json);
        let endpoint = with_middleware(app, Route::new().at("/boom", get(boom)), table);

        let request = Request::builder()
            .uri("/boom".parse().unwrap())
            .header("x-request-id", "req-panic-1")
            .finish();
        let mut response = endpoint.get_response(request).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["x-request-id"], "req-panic-1");
        let body: serde_json::Value =
            serde_json::from_slice(&response.take_body().into_vec().await.unwrap()).unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "internal_error");
        assert_eq!(body["error"]["message"], "internal error");

        let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let line = logged
            .lines()
            .find(|line| line.contains("boom at the test route"))
            .unwrap_or_else(|| panic!("panic not logged: {logged}"));
        assert!(line.contains("req-panic-1"), "{line}");
    }
}
