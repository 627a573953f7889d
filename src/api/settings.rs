//! Settings that rendering a response needs wherever it happens (middleware,
//! extractors, handlers), scoped to each request's task by `api::routes`.

#[derive(Clone)]
pub struct RequestSettings {
    pub public_url: String,
    pub max_body_bytes: usize,
}

tokio::task_local! {
    pub static SETTINGS: RequestSettings;
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
