//! The fetcher against real local HTTP servers.
use super::*;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

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
    DocumentFetcher::new(allow.to_vec(), 1024, Duration::from_secs(5), 4)
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
    assert!(
        matches!(&err, DocumentError::Unreachable { detail } if detail == "too many redirects"),
        "{err:?}"
    );
    assert_eq!(server.hits() - before, 1 + MAX_REDIRECTS);
}

#[tokio::test]
async fn size_type_and_status_are_enforced() {
    let server = serve(|path| match path {
        "/declared" => {
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n".to_vec()
        }
        "/chunked" => {
            let mut r =
                b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_vec();
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
    assert!(
        matches!(&err, DocumentError::Unreachable { detail } if detail.contains("404")),
        "{err:?}"
    );
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
        4,
    );
    let err = f
        .fetch(&format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    // Our deadline or reqwest's (the same length) ends it; either way one answer.
    assert!(matches!(err, DocumentError::Unreachable { .. }), "{err:?}");
}

#[tokio::test]
async fn every_network_failure_reads_the_same() {
    // Nothing listens here (bound, then closed).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let server = serve(|path| match path {
        "/loop" => redirect("/loop"),
        "/error" => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec(),
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    })
    .await;
    let port = server.port;
    let f = DocumentFetcher::new(
        vec![
            format!("127.0.0.1:{port}"),
            format!("127.0.0.1:{closed_port}"),
            format!("127.0.0.1:{silent_port}"),
            "no-such-host.invalid:443".to_string(),
        ],
        1024,
        Duration::from_millis(500),
        4,
    );
    let urls = [
        "https://no-such-host.invalid/doc.pdf".to_string(),
        format!("http://127.0.0.1:{closed_port}/doc.pdf"),
        format!("http://127.0.0.1:{silent_port}/doc.pdf"),
        format!("http://127.0.0.1:{port}/missing"),
        format!("http://127.0.0.1:{port}/error"),
        format!("http://127.0.0.1:{port}/loop"),
    ];
    for url in urls {
        let err = f.fetch(&url).await.unwrap_err();
        assert!(
            matches!(err, DocumentError::Unreachable { .. }),
            "{url}: {err:?}"
        );
        assert_eq!(err.to_string(), "documentUrl could not be fetched", "{url}");
    }
}

#[tokio::test]
async fn bytes_must_be_what_the_content_type_says() {
    let server = serve(|path| match path {
        "/zeros.png" => ok("image/png", &[0u8; 10]),
        "/pdf-as-png" => ok("image/png", PDF),
        "/gif" => ok("image/gif", b"GIF89a\x01\0\x01\0"),
        "/png" => ok("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        _ => ok("application/pdf", PDF),
    })
    .await;
    let port = server.port;
    let f = fetcher(&[format!("127.0.0.1:{port}")]);
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    for path in ["/zeros.png", "/pdf-as-png"] {
        let err = f.fetch(&url(path)).await.unwrap_err();
        assert!(
            matches!(err, DocumentError::ContentMismatch),
            "{path}: {err:?}"
        );
    }
    let err = f.fetch(&url("/gif")).await.unwrap_err();
    assert!(matches!(err, DocumentError::ContentType), "{err:?}");
    assert_eq!(
        f.fetch(&url("/png")).await.unwrap().content_type,
        "image/png"
    );
    assert_eq!(
        f.fetch(&url("/doc.pdf")).await.unwrap().content_type,
        "application/pdf"
    );
}

#[tokio::test]
async fn documents_in_flight_are_bounded() {
    let server = serve(|_| ok("application/pdf", PDF)).await;
    let port = server.port;
    let f = DocumentFetcher::new(
        vec![format!("127.0.0.1:{port}")],
        1024,
        Duration::from_secs(5),
        1,
    );
    let url = format!("http://127.0.0.1:{port}/doc.pdf");
    let held = f.fetch(&url).await.unwrap();
    let hits = server.hits();
    let err = f.fetch(&url).await.unwrap_err();
    assert!(matches!(err, DocumentError::Busy), "{err:?}");
    assert_eq!(server.hits(), hits, "refused without connecting");
    drop(held);
    assert_eq!(f.fetch(&url).await.unwrap().bytes, PDF);
}
