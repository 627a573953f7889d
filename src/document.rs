//! SSRF-safe fetching of the identity document behind a user-supplied `documentUrl`.
//!
//! Every hop (the initial URL and each redirect) is parsed, checked and resolved by us; the
//! HTTP client is then pinned to exactly the checked addresses, so a second DNS answer
//! (DNS rebinding) or a redirect can never steer the request to an internal address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;
use url::{Host, Url};

const MAX_REDIRECTS: usize = 5;
const ALLOWED_TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
];

pub struct DocumentFetcher {
    /// Lower-cased "host:port" entries exempt from the public-address and https rules.
    allow_hosts: Vec<String>,
    max_bytes: usize,
    timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// Messages are safe to show to API clients: they never contain resolved addresses.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("documentUrl is not a valid URL")]
    InvalidUrl,
    #[error("documentUrl must use https")]
    Scheme,
    #[error("documentUrl must not contain credentials")]
    Credentials,
    #[error("documentUrl host could not be resolved")]
    Resolve,
    #[error("documentUrl resolves to a non-public address")]
    NonPublic,
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("documentUrl returned HTTP status {0}")]
    Status(u16),
    #[error("document must be an image (png, jpeg, gif, webp) or a PDF")]
    ContentType,
    #[error("document is larger than {0} bytes")]
    TooLarge(usize),
    #[error("documentUrl timed out")]
    Timeout,
    #[error("documentUrl could not be fetched")]
    Fetch,
}

impl DocumentFetcher {
    /// allow_hosts: entries "host:port" (e.g. "127.0.0.1:41234", "localhost:8080") that are
    /// exempt from the public-address rule and may use http. For development and tests only.
    pub fn new(allow_hosts: Vec<String>, max_bytes: usize, timeout: Duration) -> Self {
        let allow_hosts = allow_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        Self {
            allow_hosts,
            max_bytes,
            timeout,
        }
    }

    pub async fn fetch(&self, url: &str) -> Result<Document, DocumentError> {
        // One deadline for everything: DNS, every redirect hop and the body.
        tokio::time::timeout(self.timeout, self.fetch_inner(url))
            .await
            .unwrap_or(Err(DocumentError::Timeout))
    }

    async fn fetch_inner(&self, url: &str) -> Result<Document, DocumentError> {
        let mut url = Url::parse(url).map_err(|_| DocumentError::InvalidUrl)?;
        for _ in 0..=MAX_REDIRECTS {
            let addrs = self.check(&url).await?;
            let mut response = self.send(&url, &addrs).await?;
            let status = response.status();

            if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                let location = response.headers().get(LOCATION);
                let location = location.and_then(|l| l.to_str().ok());
                // Relative locations resolve against the current URL; the next hop re-checks it.
                url = location
                    .and_then(|l| url.join(l).ok())
                    .ok_or(DocumentError::Fetch)?;
                continue;
            }
            if !status.is_success() {
                return Err(DocumentError::Status(status.as_u16()));
            }

            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(|v| v.trim().to_ascii_lowercase())
                .filter(|ct| ALLOWED_TYPES.contains(&ct.as_str()))
                .ok_or(DocumentError::ContentType)?;

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
            return Ok(Document {
                bytes,
                content_type,
            });
        }
        Err(DocumentError::TooManyRedirects)
    }

    /// Validates one hop and returns the addresses the connection must be pinned to.
    async fn check(&self, url: &Url) -> Result<Vec<SocketAddr>, DocumentError> {
        let http = match url.scheme() {
            "https" => false,
            "http" => true,
            _ => return Err(DocumentError::Scheme),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(DocumentError::Credentials);
        }
        let host = url.host().ok_or(DocumentError::InvalidUrl)?;
        let port = url
            .port_or_known_default()
            .ok_or(DocumentError::InvalidUrl)?;
        // `Host` displays IPv6 as "[::1]", matching how allow-list entries are written.
        let allowed = self.allow_hosts.contains(&format!("{host}:{port}"));
        if http && !allowed {
            return Err(DocumentError::Scheme);
        }

        let addrs: Vec<SocketAddr> = match host {
            Host::Ipv4(ip) => vec![SocketAddr::new(ip.into(), port)],
            Host::Ipv6(ip) => vec![SocketAddr::new(ip.into(), port)],
            Host::Domain(name) => tokio::net::lookup_host((name, port))
                .await
                .map_err(|_| DocumentError::Resolve)?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(DocumentError::Resolve);
        }
        // Refuse if ANY address is internal: the client could pick any of them.
        if !allowed && !addrs.iter().all(|a| is_public_ip(a.ip())) {
            tracing::warn!(host = %host, "documentUrl refused: non-public address");
            return Err(DocumentError::NonPublic);
        }
        Ok(addrs)
    }

    async fn send(
        &self,
        url: &Url,
        addrs: &[SocketAddr],
    ) -> Result<reqwest::Response, DocumentError> {
        let mut builder = reqwest::Client::builder()
            .redirect(Policy::none()) // redirects are followed (and re-checked) by us
            .no_proxy() // a proxy would resolve the name itself
            .connect_timeout(self.timeout)
            .timeout(self.timeout);
        if let Some(domain) = url.domain() {
            // Pin the name to the checked addresses so reqwest never resolves it again.
            builder = builder.resolve_to_addrs(domain, addrs);
        }
        let client = builder.build().map_err(request_error)?;
        client.get(url.clone()).send().await.map_err(request_error)
    }
}

fn request_error(err: reqwest::Error) -> DocumentError {
    if err.is_timeout() {
        return DocumentError::Timeout;
    }
    tracing::debug!(error = %err, "document fetch failed");
    DocumentError::Fetch
}

/// IPv4 ranges that are not globally routable unicast.
const BLOCKED_V4: [(Ipv4Addr, u32); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),  // "this network", incl. unspecified
    (Ipv4Addr::new(10, 0, 0, 0), 8), // private
    (Ipv4Addr::new(100, 64, 0, 0), 10), // CGNAT
    (Ipv4Addr::new(127, 0, 0, 0), 8), // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16), // link-local (cloud metadata)
    (Ipv4Addr::new(172, 16, 0, 0), 12), // private
    (Ipv4Addr::new(192, 0, 0, 0), 24), // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24), // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24), // deprecated 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16), // private
    (Ipv4Addr::new(198, 18, 0, 0), 15), // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24), // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4), // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4), // reserved, incl. broadcast
];

/// IPv6 ranges that are not globally routable unicast. Addresses that embed an IPv4
/// address (mapped, compatible, NAT64, 6to4, Teredo) are refused whatever they embed.
const BLOCKED_V6: [(Ipv6Addr, u32); 16] = [
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96), // IPv4-compatible, incl. :: and ::1
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96), // IPv4-mapped
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96), // NAT64
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64), // discard
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32), // Teredo
    (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48), // benchmarking
    (Ipv6Addr::new(0x2001, 0x10, 0, 0, 0, 0, 0, 0), 28), // ORCHID
    (Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28), // ORCHIDv2
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), // unique-local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10), // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), // site-local
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8), // multicast
];

/// true only for globally routable unicast addresses.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let ip = u32::from(ip);
            !BLOCKED_V4
                .iter()
                .any(|&(net, len)| in_prefix(ip.into(), u32::from(net).into(), len + 96))
        }
        IpAddr::V6(ip) => {
            let ip = u128::from(ip);
            // Only 2000::/3 is allocated as global unicast; everything else is refused too.
            in_prefix(ip, 0x2000 << 112, 3)
                && !BLOCKED_V6
                    .iter()
                    .any(|&(net, len)| in_prefix(ip, net.into(), len))
        }
    }
}

/// Compares the top `len` bits; IPv4 values are widened into the low 32 bits (so len + 96).
fn in_prefix(ip: u128, net: u128, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    ip & mask == net & mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::net::{TcpListener, TcpStream};

    #[test]
    fn public_ip_table() {
        let cases = [
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("93.184.216.34", true),
            ("2606:4700::1111", true),
            ("2a00:1450:4001::200e", true),
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("224.0.0.1", false),
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("255.255.255.255", false),
            ("192.0.2.1", false),
            ("198.51.100.1", false),
            ("203.0.113.1", false),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("240.0.0.1", false),
            ("192.0.0.8", false),
            ("::1", false),
            ("::", false),
            ("fe80::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:8.8.8.8", false),
            ("::127.0.0.1", false),
            ("64:ff9b::a00:1", false),
            ("2002:7f00:1::", false),
            ("2001::1", false),
            ("100::1", false),
        ];
        for (ip, public) in cases {
            assert_eq!(is_public_ip(ip.parse().unwrap()), public, "{ip}");
        }
        // Neighbours just outside the blocked ranges stay public.
        for ip in ["172.32.0.1", "100.128.0.1", "198.20.0.1", "11.0.0.1"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    struct TestServer {
        port: u16,
        hits: Arc<AtomicUsize>,
    }

    impl TestServer {
        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    /// Minimal HTTP/1.1 server on 127.0.0.1 answering each request with `respond(path)`.
    async fn serve(respond: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let (counter, respond) = (hits.clone(), Arc::new(respond));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let respond = respond.clone();
                tokio::spawn(async move {
                    if let Some(path) = read_path(&stream).await {
                        write_all(&stream, &respond(&path)).await;
                    }
                });
            }
        });
        TestServer { port, hits }
    }

    // Plain try_read/try_write: tokio's io-util feature is not among the crate's declared features.
    async fn read_path(stream: &TcpStream) -> Option<String> {
        let (mut req, mut buf) = (Vec::new(), [0u8; 1024]);
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            stream.readable().await.ok()?;
            match stream.try_read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => req.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return None,
            }
        }
        let req = String::from_utf8_lossy(&req);
        req.split_whitespace().nth(1).map(str::to_owned)
    }

    async fn write_all(stream: &TcpStream, mut data: &[u8]) {
        while !data.is_empty() && stream.writable().await.is_ok() {
            match stream.try_write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }

    fn ok(content_type: &str, body: &[u8]) -> Vec<u8> {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        [head.as_bytes(), body].concat()
    }

    fn redirect(location: &str) -> Vec<u8> {
        format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .into_bytes()
    }

    const PDF: &[u8] = b"%PDF-1.4 test document";

    fn fetcher(allow: &[String]) -> DocumentFetcher {
        DocumentFetcher::new(allow.to_vec(), 1024, Duration::from_secs(5))
    }

    #[tokio::test]
    async fn allow_listed_host_serves_pdf() {
        let server = serve(|_| ok("Application/PDF; charset=binary", PDF)).await;
        let port = server.port;
        let doc = fetcher(&[format!("127.0.0.1:{port}")])
            .fetch(&format!("http://127.0.0.1:{port}/doc.pdf"))
            .await
            .unwrap();
        assert_eq!(doc.bytes, PDF);
        assert_eq!(doc.content_type, "application/pdf");

        // A name goes through our resolver and the pinned-address path.
        let doc = fetcher(&[format!("LocalHost:{port}")])
            .fetch(&format!("http://localhost:{port}/doc.pdf"))
            .await
            .unwrap();
        assert_eq!(doc.bytes, PDF);
    }

    #[tokio::test]
    async fn non_public_targets_are_refused_without_connecting() {
        let server = serve(|_| ok("application/pdf", PDF)).await;
        let port = server.port;
        // Allow-listing is per host:port, so another port on the same host does not help.
        let f = fetcher(&["127.0.0.1:1".to_string()]);
        let refused = [
            format!("https://127.0.0.1:{port}/"),
            format!("https://localhost:{port}/"),
            format!("https://[::1]:{port}/"),
            format!("https://[::ffff:127.0.0.1]:{port}/"),
            format!("https://[::ffff:7f00:1]:{port}/"),
            format!("https://0.0.0.0:{port}/"),
            format!("https://2130706433:{port}/"), // 127.0.0.1 as a single number
            format!("https://0x7f.1:{port}/"),
            "https://10.0.0.1/".to_string(),
            "https://169.254.169.254/latest/meta-data/".to_string(),
            "https://[fd00::1]/".to_string(),
        ];
        for url in &refused {
            let err = f.fetch(url).await.unwrap_err();
            assert!(matches!(err, DocumentError::NonPublic), "{url}: {err:?}");
        }
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
            format!("ftp://127.0.0.1:{port}/"),
        ] {
            let err = f.fetch(&url).await.unwrap_err();
            assert!(matches!(err, DocumentError::Scheme), "{url}: {err:?}");
        }
        assert_eq!(server.hits(), 0);
    }

    #[tokio::test]
    async fn bad_urls_are_refused_before_any_network_access() {
        let f = fetcher(&[]);
        let cases = [
            ("http://93.184.216.34/doc.pdf", "documentUrl must use https"),
            ("ftp://example.com/doc.pdf", "documentUrl must use https"),
            ("file:///etc/passwd", "documentUrl must use https"),
            (
                "https://user:pass@example.com/",
                "documentUrl must not contain credentials",
            ),
            ("not a url", "documentUrl is not a valid URL"),
            ("https://", "documentUrl is not a valid URL"),
        ];
        for (url, message) in cases {
            assert_eq!(
                f.fetch(url).await.unwrap_err().to_string(),
                message,
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn redirects_are_rechecked() {
        let other = serve(|_| ok("application/pdf", PDF)).await;
        let other_port = other.port;
        let server = serve(move |path| match path {
            "/to-http" => redirect(&format!("http://127.0.0.1:{other_port}/")),
            "/to-https" => redirect(&format!("https://127.0.0.1:{other_port}/")),
            "/relative" => redirect("doc.pdf"),
            "/loop" => redirect("/loop"),
            _ => ok("application/pdf", PDF),
        })
        .await;
        let port = server.port;
        let f = fetcher(&[format!("127.0.0.1:{port}")]);
        let url = |path: &str| format!("http://127.0.0.1:{port}{path}");

        let err = f.fetch(&url("/to-http")).await.unwrap_err();
        assert!(matches!(err, DocumentError::Scheme), "{err:?}");
        let err = f.fetch(&url("/to-https")).await.unwrap_err();
        assert!(matches!(err, DocumentError::NonPublic), "{err:?}");
        assert_eq!(other.hits(), 0);

        assert_eq!(f.fetch(&url("/relative")).await.unwrap().bytes, PDF);
        let before = server.hits();
        let err = f.fetch(&url("/loop")).await.unwrap_err();
        assert!(matches!(err, DocumentError::TooManyRedirects), "{err:?}");
        assert_eq!(server.hits() - before, 1 + MAX_REDIRECTS);
    }

    #[tokio::test]
    async fn size_type_and_status_are_enforced() {
        let server = serve(|path| match path {
            "/declared" => {
                b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n".to_vec()
            }
            "/chunked" => {
                let mut r = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for _ in 0..8 {
                    r.extend_from_slice(b"200\r\n");
                    r.extend_from_slice(&[0u8; 0x200]);
                    r.extend_from_slice(b"\r\n");
                }
                [r, b"0\r\n\r\n".to_vec()].concat()
            }
            "/html" => ok("text/html", b"<html></html>"),
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        })
        .await;
        let port = server.port;
        let f = fetcher(&[format!("127.0.0.1:{port}")]);
        let url = |path: &str| format!("http://127.0.0.1:{port}{path}");

        let err = f.fetch(&url("/declared")).await.unwrap_err();
        assert_eq!(err.to_string(), "document is larger than 1024 bytes");
        let err = f.fetch(&url("/chunked")).await.unwrap_err();
        assert!(matches!(err, DocumentError::TooLarge(1024)), "{err:?}");
        let err = f.fetch(&url("/html")).await.unwrap_err();
        assert!(matches!(err, DocumentError::ContentType), "{err:?}");
        let err = f.fetch(&url("/missing")).await.unwrap_err();
        assert!(matches!(err, DocumentError::Status(404)), "{err:?}");
    }

    #[tokio::test]
    async fn whole_fetch_is_time_bounded() {
        // The kernel completes the handshake, but nobody ever answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let f = DocumentFetcher::new(
            vec![format!("127.0.0.1:{port}")],
            1024,
            Duration::from_millis(300),
        );
        let err = f
            .fetch(&format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert!(matches!(err, DocumentError::Timeout), "{err:?}");
    }
}
