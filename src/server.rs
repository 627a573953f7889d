//! Starting the service: migrations, the job worker and the HTTP server.
use poem::{listener::TcpAcceptor, Server};
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
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    worker: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets in-flight requests and the current job finish.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        let _ = self.worker.await;
    }

    /// Waits until the server ends on its own (it does on SIGINT/SIGTERM).
    pub async fn wait(self) -> std::io::Result<()> {
        let result = self.server.await.unwrap_or(Ok(()));
        let _ = self.shutdown.send(true);
        let _ = self.worker.await;
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
    let (writes, reads) = db::connect_pools(&config.database_url).await?;
    db::migrate(&writes).await?;
    let app = App::with_provider_layer(writes, reads, config, layer);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let worker = tokio::spawn(jobs::worker(app.clone(), shutdown_rx.clone()));
    listener.set_nonblocking(true)?;
    let acceptor = TcpAcceptor::from_std(listener)?;
    let routes = api::routes(app.clone());
    let mut stop = shutdown_rx;
    let server = tokio::spawn(async move {
        Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                routes,
                async move {
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = terminate_signal() => {}
                    }
                },
                Some(std::time::Duration::from_secs(30)),
            )
            .await
    });
    Ok(Running {
        app,
        shutdown,
        server,
        worker,
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
