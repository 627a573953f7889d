//! SSRF-safe fetching of the identity document behind a user-supplied `documentUrl`.
//!
//! Every hop (the initial URL and each redirect) is parsed, checked and resolved by us
//! (`address`); the HTTP client is then pinned to exactly the checked addresses, so a second
//! DNS answer (DNS rebinding) or a redirect can never steer the request to an internal
//! address. What arrives is bounded in size and checked by its bytes (`content`). At most
//! `max_in_flight` documents are held at once, which bounds their memory.
mod address;
mod content;
#[cfg(test)]
mod tests;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

pub use address::is_public_ip;

/// Checks one URL as every hop of a document fetch is checked (https, no
/// credentials, public addresses only unless `host:port` is in
/// `allow_hosts`, lower-cased) and returns the addresses a connection to it
/// must be pinned to (with `pinned_client`). Outgoing webhooks use it too.
pub async fn check_url(
    allow_hosts: &[String],
    url: &Url,
) -> Result<Vec<SocketAddr>, DocumentError> {
    address::check(allow_hosts, url).await
}

/// The allow-list as `check_url` compares it: trimmed and lower-cased.
pub fn normalize_allow_hosts(hosts: &[String]) -> Vec<String> {
    hosts
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect()
}

/// A client that connects to `url`'s host only at `addrs` (the checked
/// addresses: a second DNS answer cannot steer it elsewhere), follows no
/// redirect and uses no proxy.
pub fn pinned_client(
    url: &Url,
    addrs: &[SocketAddr],
    timeout: Duration,
) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(Policy::none()) // redirects are followed (and re-checked) by the caller, or not at all
        .no_proxy() // a proxy would resolve the name itself
        .connect_timeout(timeout)
        .timeout(timeout);
    if let Some(domain) = url.domain() {
        // Pin the name to the checked addresses so reqwest never resolves it again.
        builder = builder.resolve_to_addrs(domain, addrs);
    }
    builder.build()
}

const MAX_REDIRECTS: usize = 5;

pub struct DocumentFetcher {
    /// Lower-cased "host:port" entries exempt from the public-address and https rules.
    allow_hosts: Vec<String>,
    max_bytes: usize,
    timeout: Duration,
    /// One permit per document fetched or held (until uploaded).
    in_flight: Arc<Semaphore>,
}

/// A fetched document. It holds its share of the in-flight bound until dropped.
#[derive(Debug)]
pub struct Document {
    pub bytes: Vec<u8>,
    pub content_type: String,
    _permit: OwnedSemaphorePermit,
}

/// Messages are safe to show to API clients: they never contain resolved addresses, and
/// every network failure reads the same (the detail is logged), so refusals cannot be used
/// to map which hosts and ports answer.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("documentUrl is not a valid URL")]
    InvalidUrl,
    #[error("documentUrl must use https")]
    Scheme,
    #[error("documentUrl must not contain credentials")]
    Credentials,
    #[error("documentUrl resolves to a non-public address")]
    NonPublic,
    /// Name resolution, connection, TLS, timeout, HTTP status, redirects: all one answer.
    #[error("documentUrl could not be fetched")]
    Unreachable { detail: String },
    #[error("document must be a PNG, JPEG or PDF file")]
    ContentType,
    #[error("document content is not the PNG, JPEG or PDF file its Content-Type says")]
    ContentMismatch,
    #[error("document is larger than {0} bytes")]
    TooLarge(usize),
    #[error("too many identity documents are being fetched right now; retry shortly")]
    Busy,
}

impl DocumentError {
    fn unreachable(detail: impl Into<String>) -> Self {
        Self::Unreachable {
            detail: detail.into(),
        }
    }
}

impl DocumentFetcher {
    /// allow_hosts: entries "host:port" (e.g. "127.0.0.1:41234", "localhost:8080") that are
    /// exempt from the public-address rule and may use http. For development and tests only.
    pub fn new(
        allow_hosts: Vec<String>,
        max_bytes: usize,
        timeout: Duration,
        max_in_flight: usize,
    ) -> Self {
        let allow_hosts = normalize_allow_hosts(&allow_hosts);
        Self {
            allow_hosts,
            max_bytes,
            timeout,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
        }
    }

    pub async fn fetch(&self, url: &str) -> Result<Document, DocumentError> {
        // Refuse at once rather than queue: a queue would hold connections instead of memory.
        let permit = self
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| DocumentError::Busy)?;
        // One deadline for everything: DNS, every redirect hop and the body.
        let fetched = tokio::time::timeout(self.timeout, self.fetch_inner(url))
            .await
            .unwrap_or_else(|_| Err(DocumentError::unreachable("timed out")));
        match fetched {
            Ok((bytes, content_type)) => Ok(Document {
                bytes,
                content_type,
                _permit: permit,
            }),
            Err(err) => {
                if let DocumentError::Unreachable { detail } = &err {
                    // Only here: the client gets the one message.
                    tracing::info!(%detail, "identity document could not be fetched");
                }
                Err(err)
            }
        }
    }

    async fn fetch_inner(&self, url: &str) -> Result<(Vec<u8>, String), DocumentError> {
        let mut url = Url::parse(url).map_err(|_| DocumentError::InvalidUrl)?;
        for _ in 0..=MAX_REDIRECTS {
            let addrs = address::check(&self.allow_hosts, &url).await?;
            let mut response = self.send(&url, &addrs).await?;
            let status = response.status();

            if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                let location = response.headers().get(LOCATION);
                let location = location.and_then(|l| l.to_str().ok());
                // Relative locations resolve against the current URL; the next hop re-checks it.
                url = location
                    .and_then(|l| url.join(l).ok())
                    .ok_or_else(|| DocumentError::unreachable("redirect without a location"))?;
                continue;
            }
            if !status.is_success() {
                return Err(DocumentError::unreachable(format!("HTTP status {status}")));
            }
            let header = response.headers().get(CONTENT_TYPE);
            let declared = content::declared_type(header.and_then(|v| v.to_str().ok()))?;

            let too_large = DocumentError::TooLarge(self.max_bytes);
            if response.content_length().unwrap_or(0) > self.max_bytes as u64 {
                return Err(too_large);
            }
            // Content-Length may be absent (chunked) or lie, so also bound what actually arrives.
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(request_error)? {
                if bytes.len() + chunk.len() > self.max_bytes {
                    return Err(too_large);
                }
                bytes.extend_from_slice(&chunk);
            }
            content::check_bytes(declared, &bytes)?;
            return Ok((bytes, declared.to_string()));
        }
        Err(DocumentError::unreachable("too many redirects"))
    }

    async fn send(
        &self,
        url: &Url,
        addrs: &[SocketAddr],
    ) -> Result<reqwest::Response, DocumentError> {
        let client = pinned_client(url, addrs, self.timeout).map_err(request_error)?;
        client.get(url.clone()).send().await.map_err(request_error)
    }
}

fn request_error(err: reqwest::Error) -> DocumentError {
    DocumentError::unreachable(err.to_string())
}
