//! The local HTTP servers tests run on loopback, all served the same way
//! (`serve`): identity documents, a trap that must never be called, and a
//! webhook receiver that records what it gets. (The fake Stripe API is in
//! `fake_stripe`, served by `serve` too.)
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use serde_json::Value;

/// Serves `endpoint` on `listener` until the returned task is aborted (or
/// the test's runtime ends).
pub fn serve(
    listener: std::net::TcpListener,
    endpoint: impl poem::Endpoint + 'static,
) -> tokio::task::JoinHandle<()> {
    listener.set_nonblocking(true).unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_std(listener).unwrap();
    tokio::spawn(async move {
        poem::Server::new_with_acceptor(acceptor)
            .run(endpoint)
            .await
            .ok();
    })
}

/// Serves identity documents on loopback (allow-listed for the tests) and
/// counts the requests it gets.
pub struct DocumentServer {
    pub host: String,
    pub hits: Arc<AtomicUsize>,
}

impl DocumentServer {
    pub async fn start() -> Self {
        use poem::{
            get, handler,
            web::{Path, Query},
            Endpoint, EndpointExt, IntoResponse, Response, Route,
        };
        #[derive(serde::Deserialize)]
        struct Target {
            to: Option<String>,
        }
        #[handler]
        async fn document(Path(name): Path<String>, Query(target): Query<Target>) -> Response {
            match name.as_str() {
                "id.pdf" => b"%PDF-1.4 identity document"
                    .to_vec()
                    .with_content_type("application/pdf")
                    .into_response(),
                // A slow document server: concurrent verifications overlap.
                "slow.pdf" => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    b"%PDF-1.4 identity document"
                        .to_vec()
                        .with_content_type("application/pdf")
                        .into_response()
                }
                // Ten zero bytes that claim to be a PNG.
                "zeros.png" => vec![0u8; 10].with_content_type("image/png").into_response(),
                "page.html" => "<html></html>"
                    .with_content_type("text/html")
                    .into_response(),
                "redirect" => {
                    poem::web::Redirect::temporary(target.to.unwrap_or_default()).into_response()
                }
                _ => poem::http::StatusCode::NOT_FOUND.into_response(),
            }
        }
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let routes = Route::new()
            .at("/:name", get(document))
            .around(move |next, req| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Ok(next.get_response(req).await)
                }
            });
        serve(listener, routes);
        Self { host, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }
}

/// A loopback listener that is NOT allow-listed; it counts every connection
/// so a test can prove the service never connected to it.
pub struct Trap {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
}

impl Trap {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self { port, connections }
    }

    pub fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// How the webhook receiver answers.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Status(u16),
    /// Answers 200 after this long (longer than the delivery timeout: a timeout).
    Slow(Duration),
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
    }
}

/// A webhook receiver on loopback: records every request and answers as
/// its mode says. Stopped and restarted on the same port to be "down".
pub struct Receiver {
    pub port: u16,
    pub mode: Arc<Mutex<Mode>>,
    pub got: Arc<Mutex<Vec<Received>>>,
    /// Requests that arrived (a slow one is recorded only when it ends).
    pub arrived: Arc<AtomicUsize>,
    server: Option<tokio::task::JoinHandle<()>>,
}

type State = (
    Arc<Mutex<Mode>>,
    Arc<Mutex<Vec<Received>>>,
    Arc<AtomicUsize>,
);

impl Receiver {
    pub async fn start() -> Receiver {
        let mut receiver = Receiver {
            port: super::free_port(),
            mode: Arc::new(Mutex::new(Mode::Status(200))),
            got: Arc::default(),
            arrived: Arc::default(),
            server: None,
        };
        receiver.up().await;
        receiver
    }

    pub async fn up(&mut self) {
        use poem::{handler, http::StatusCode, web::Data, EndpointExt, Route};
        #[handler]
        async fn receive(req: &poem::Request, body: String, state: Data<&State>) -> StatusCode {
            state.0 .2.fetch_add(1, Ordering::SeqCst);
            let mode = *state.0 .0.lock().unwrap();
            // A slow answer comes after the sender gave up: it counts as none (0).
            let (status, answered) = match mode {
                Mode::Status(status) => (status, status),
                Mode::Slow(wait) => {
                    tokio::time::sleep(wait).await;
                    (200, 0)
                }
            };
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            state.0 .1.lock().unwrap().push(Received {
                headers,
                body,
                answered,
            });
            StatusCode::from_u16(status).unwrap()
        }
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        let routes = Route::new().at("/*path", poem::post(receive)).data((
            self.mode.clone(),
            self.got.clone(),
            self.arrived.clone(),
        ));
        self.server = Some(serve(listener, routes));
    }

    pub fn down(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.host())
    }

    /// Requests that have arrived so far (a slow one counts at once).
    pub fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The requests answered with a 2xx, in the order they came.
    pub fn delivered(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }
}
