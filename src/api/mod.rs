//! HTTP: routes, middleware and the OpenAPI document.
pub mod auth;
pub mod endpoints;
pub mod error;
pub mod error_docs;
pub mod examples;
pub mod idempotency;
pub mod limits;
pub mod models;
pub mod rate_limit;
pub mod spec;
pub mod validate;
pub mod views;
pub mod wire_types;

use poem::{
    endpoint::make_sync, get, http::Method, web::Redirect, Endpoint, EndpointExt, IntoResponse,
    PathPattern, Request, Response, Route,
};
use poem_openapi::{OpenApiService, ServerObject};
use tracing::Instrument;

use crate::service::App;

pub const API_BASE: &str = "/api/v1";

/// Settings the error rendering needs, scoped to each request's task.
#[derive(Clone)]
struct RequestSettings {
    public_url: String,
    max_body_bytes: usize,
}

tokio::task_local! {
    static SETTINGS: RequestSettings;
}

/// Base URL for links in responses (`doc_url`).
pub fn public_url() -> String {
    SETTINGS
        .try_with(|s| s.public_url.clone())
        .unwrap_or_default()
}

pub fn max_body_bytes() -> usize {
    SETTINGS
        .try_with(|s| s.max_body_bytes)
        .unwrap_or(1024 * 1024)
}

/// Reads a whole body, refusing more than the configured cap. `limits`
/// reads every body first (with a deadline); later readers get it from
/// memory, with the same cap and the same errors.
pub async fn read_capped(body: poem::Body) -> Result<Vec<u8>, crate::error::Error> {
    use crate::error::Error;
    let limit = max_body_bytes();
    let bytes = body
        .into_bytes_limit(limit)
        .await
        .map_err(|err| match err {
            poem::error::ReadBodyError::PayloadTooLarge => Error::PayloadTooLarge(limit),
            _ => Error::InvalidJson("request body could not be read".into()),
        })?;
    Ok(bytes.to_vec())
}

pub fn api_service() -> OpenApiService<(endpoints::PayoutsApi, endpoints::WebhooksApi), ()> {
    OpenApiService::new(
        (endpoints::PayoutsApi, endpoints::WebhooksApi),
        "Payouts API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Self-hostable payouts API, wire-compatible with the Commet payouts API. \
         Amounts are integer cents; every failure answers with the error envelope \
         `{success: false, error: {type, code, message, param, details, doc_url}}`.",
    )
    .server(ServerObject::new(API_BASE))
}

/// The OpenAPI document as committed in `openapi.yaml`.
pub fn spec_yaml() -> String {
    spec::document().yaml
}

/// Paths of the spec as (regex, methods), to answer 405 with `Allow`.
struct AllowTable(Vec<(regex::Regex, String)>);

impl AllowTable {
    fn from_spec(spec_json: &str) -> Self {
        let spec: serde_json::Value =
            serde_json::from_str(spec_json).expect("the generated spec is JSON");
        let mut rows = Vec::new();
        let param = regex::Regex::new(r"\{[^}]+\}").expect("static regex");
        if let Some(paths) = spec["paths"].as_object() {
            for (path, item) in paths {
                let pattern = param
                    .replace_all(
                        &regex::escape(&format!("{API_BASE}{path}"))
                            .replace(r"\{", "{")
                            .replace(r"\}", "}"),
                        "[^/]+",
                    )
                    .to_string();
                let methods: Vec<String> = item
                    .as_object()
                    .map(|ops| ops.keys().map(|m| m.to_uppercase()).collect())
                    .unwrap_or_default();
                rows.push((
                    regex::Regex::new(&format!("^{pattern}$")).expect("path regex"),
                    methods.join(", "),
                ));
            }
        }
        for path in [
            "/openapi.json",
            "/openapi.yaml",
            "/docs",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            rows.push((
                regex::Regex::new(&format!("^{}$", regex::escape(path))).expect("path regex"),
                "GET".into(),
            ));
        }
        rows.push((
            regex::Regex::new("^/docs/errors/[^/]+$").expect("static regex"),
            "GET".into(),
        ));
        Self(rows)
    }

    fn allow(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(re, _)| re.is_match(path))
            .map(|(_, methods)| methods.as_str())
    }
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
    let settings = RequestSettings {
        public_url: app.config.public_url.clone(),
        max_body_bytes: app.config.max_body_bytes,
    };
    let api = api_service();
    let spec::Document {
        json: spec_json,
        yaml: spec_yaml,
    } = spec::document();
    let allow = std::sync::Arc::new(AllowTable::from_spec(&spec_json));
    let swagger = api.swagger_ui();
    let limiter = std::sync::Arc::new(rate_limit::RateLimiter::new(&app.config));
    let read_timeout = app.config.request_read_timeout;
    let auth_app = app.clone();
    let metrics = app.metrics.clone();

    Route::new()
        .nest(API_BASE, api)
        .at(
            "/openapi.json",
            get(make_sync(move |_| {
                spec_json.clone().with_content_type("application/json")
            })),
        )
        .at(
            "/openapi.yaml",
            get(make_sync(move |_| {
                spec_yaml.clone().with_content_type("application/yaml")
            })),
        )
        .at("/", get(make_sync(|_| Redirect::see_other("/docs"))))
        .at("/healthz", get(crate::ops::healthz))
        .at("/readyz", get(crate::ops::readyz))
        .at("/metrics", get(crate::ops::metrics))
        .at("/docs/errors/:code", get(error_docs::error_page))
        .nest("/docs", swagger)
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
        .around(move |next, req: Request| {
            let app = app.clone();
            async move { Ok(idempotency::handle(next, req, &app).await) }
        })
        .around(move |next, req: Request| {
            let limiter = limiter.clone();
            async move { Ok(rate_limit::handle(next, req, &limiter).await) }
        })
        .around(move |next, req: Request| {
            let app = auth_app.clone();
            async move { Ok(auth::handle(next, req, &app).await) }
        })
        .around(move |next, req: Request| async move {
            Ok(limits::handle(next, req, read_timeout).await)
        })
        .around(move |next, req: Request| {
            let allow = allow.clone();
            let settings = settings.clone();
            let metrics = metrics.clone();
            async move {
                Ok(SETTINGS
                    .scope(settings, finish_response(next, req, &allow, &metrics))
                    .await)
            }
        })
}

async fn finish_response<E: Endpoint>(
    next: E,
    req: Request,
    allow: &AllowTable,
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
    if response.status() == 405 && method != Method::OPTIONS {
        if let Some(methods) = allow.allow(&path) {
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
    let route = match response.data::<PathPattern>() {
        Some(p) if &*p.0 != API_BASE => p.0.to_string(),
        _ => "unmatched".to_string(),
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
