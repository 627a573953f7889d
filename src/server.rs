//! Starting the service: migrations, the job worker and the HTTP server.
use poem::{listener::TcpAcceptor, Server};
use std::time::Duration;
use tokio::sync::watch;

use crate::{
    api,
    config::Config,
    db, jobs,
    service::{App, ProviderLayer},
};

/// A started service.
pub struct Running {
    pub app: App,
    /// Where `/metrics` is served, when `metrics_bind` is set.
    pub metrics_addr: Option<std::net::SocketAddr>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    metrics_server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    worker: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests and the current job finish.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        if let Some(metrics) = self.metrics_server {
            let _ = metrics.await;
        }
        if let Some(worker) = self.worker {
            let _ = worker.await;
        }
    }

    /// Waits until the server ends on its own (it does on SIGINT/SIGTERM).
    pub async fn wait(self) -> std::io::Result<()> {
        let result = self.server.await.unwrap_or(Ok(()));
        let _ = self.shutdown.send(true);
        if let Some(metrics) = self.metrics_server {
            let _ = metrics.await;
        }
        if let Some(worker) = self.worker {
            let _ = worker.await;
        }
        result
    }
}

/// Connects, migrates, and serves on `listener` (already bound, so tests can
/// take a free port first).
pub async fn start(config: Config, listener: std::net::TcpListener) -> anyhow::Result<Running> {
    start_with_provider_layer(config, listener, Box::new(|provider| provider)).await
}

/// As `start`, with the provider wrapped by `layer` (see `App::with_provider_layer`).
pub async fn start_with_provider_layer(
    config: Config,
    listener: std::net::TcpListener,
    layer: ProviderLayer,
) -> anyhow::Result<Running> {
    config.validate()?;
    // Bound before anything else starts, so a bad address stops the start.
    let metrics_listener =
        match &config.metrics_bind {
            None => None,
            Some(addr) => Some(std::net::TcpListener::bind(addr).map_err(|e| {
                anyhow::anyhow!("PAYOUTS_METRICS_BIND: cannot listen on {addr}: {e}")
            })?),
        };
    if config.sqlite_synchronous == db::SqliteSync::Normal
        && config.database_url.starts_with("sqlite")
    {
        tracing::warn!(
            "PAYOUTS_SQLITE_SYNCHRONOUS=normal: commits are not fsynced; a power loss or OS crash can lose acknowledged payouts"
        );
    }
    let (writes, reads) =
        db::connect_pools(&config.database_url, config.sqlite_synchronous).await?;
    db::migrate(&writes).await?;
    let app = App::with_provider_layer(writes, reads, config, layer);
    app.check_provider_keys().await?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let worker = app
        .config
        .job_worker
        .then(|| tokio::spawn(jobs::worker(app.clone(), shutdown_rx.clone())));
    listener.set_nonblocking(true)?;
    let acceptor = TcpAcceptor::from_std(listener)?;
    let routes = api::routes(app.clone());
    let server = spawn_server(acceptor, routes, shutdown_rx, Duration::from_secs(30));
    let (metrics_addr, metrics_server) = match metrics_listener {
        None => (None, None),
        Some(listener) => {
            let addr = listener.local_addr()?;
            let server = serve_metrics(app.clone(), listener, shutdown.subscribe())?;
            (Some(addr), Some(server))
        }
    };
    Ok(Running {
        app,
        metrics_addr,
        shutdown,
        server,
        metrics_server,
        worker,
    })
}

/// `/metrics` alone, on its own listener (for Prometheus, not API clients).
fn serve_metrics(
    app: App,
    listener: std::net::TcpListener,
    stop: watch::Receiver<bool>,
) -> std::io::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    use poem::{get, EndpointExt, Route};
    listener.set_nonblocking(true)?;
    let acceptor = TcpAcceptor::from_std(listener)?;
    let routes = Route::new()
        .at("/metrics", get(crate::ops::metrics))
        .data(app)
        .catch_all_error(|err| async move { api::error::render(err) });
    Ok(spawn_server(acceptor, routes, stop, Duration::from_secs(5)))
}

/// Serves `routes` until `stop` changes or the process is told to
/// terminate, then lets requests in flight finish for up to `grace`.
fn spawn_server(
    acceptor: TcpAcceptor,
    routes: impl poem::Endpoint + 'static,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                routes,
                async move {
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = terminate_signal() => {}
                    }
                },
                Some(grace),
            )
            .await
    })
}

async fn terminate_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
