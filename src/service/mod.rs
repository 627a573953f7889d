//! The service layer: business operations over the database and the
//! provider. No HTTP types here; the API layer calls these.
pub mod accounts;
pub mod api_keys;
pub mod credits;
pub mod debits;
pub mod funds;
pub mod holds;
pub mod idempotency;
pub mod ledger;
pub mod ledger_export;
pub mod movements;
pub mod orgs;
pub mod page;
pub mod payouts;
pub mod provider_events;
pub mod verification_claims;

use std::{ops::Deref, sync::Arc};

use sea_orm::DatabaseConnection;

use crate::{
    clock::Clock,
    config::Config,
    document::DocumentFetcher,
    group_commit::Writer,
    metrics::Metrics,
    provider::{instrumented::Instrumented, sandbox::SandboxProvider, PayoutProvider},
};

pub struct AppInner {
    /// For anything that may write.
    pub db: DatabaseConnection,
    /// For plain reads: on SQLite a separate pool, so reads never queue
    /// behind the single writer connection.
    pub read_db: DatabaseConnection,
    /// Runs write transactions on `db`, grouping their commits on SQLite.
    pub writer: Writer,
    pub config: Config,
    pub documents: DocumentFetcher,
    pub sandbox: Arc<SandboxProvider>,
    /// The sandbox provider behind metrics and logging; what operations use.
    provider: Arc<dyn PayoutProvider>,
    pub metrics: Arc<Metrics>,
    /// Client for outgoing calls (webhook deliveries).
    pub http: reqwest::Client,
    /// Names this process as a job lease owner.
    pub instance_id: String,
    /// What the job queue reads the time from (see `Config::clock`).
    pub clock: Clock,
}

/// Wraps the provider before operations use it: a decorator over the
/// sandbox (tests record and count provider calls through one).
pub type ProviderLayer = Box<dyn FnOnce(Arc<dyn PayoutProvider>) -> Arc<dyn PayoutProvider> + Send>;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    /// One pool for everything.
    pub fn new(db: DatabaseConnection, config: Config) -> Self {
        Self::with_pools(db.clone(), db, config)
    }

    /// `db` for anything that may write, `read_db` for plain reads (see
    /// `db::connect_pools`). Never hold a write transaction while waiting
    /// for `db`: on SQLite it is a single connection.
    pub fn with_pools(db: DatabaseConnection, read_db: DatabaseConnection, config: Config) -> Self {
        Self::with_provider_layer(db, read_db, config, Box::new(|provider| provider))
    }

    /// As `with_pools`, with the provider wrapped by `layer` (inside the
    /// metrics and logging, so those still see every call).
    pub fn with_provider_layer(
        db: DatabaseConnection,
        read_db: DatabaseConnection,
        config: Config,
        layer: ProviderLayer,
    ) -> Self {
        let writer = Writer::new(db.clone(), config.sqlite_group_commit);
        let documents = DocumentFetcher::new(
            config.document_allow_hosts.clone(),
            config.document_max_bytes,
            config.document_timeout,
            config.document_fetches_max,
        );
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("an HTTP client with default TLS settings builds");
        let metrics = Arc::new(Metrics::new());
        let sandbox = Arc::new(SandboxProvider::new(
            writer.clone(),
            &config,
            http.clone(),
            metrics.clone(),
        ));
        let provider = Arc::new(Instrumented::new(layer(sandbox.clone()), metrics.clone()));
        Self(Arc::new(AppInner {
            db,
            read_db,
            writer,
            documents,
            sandbox,
            provider,
            metrics,
            http,
            instance_id: crate::ids::new_id("inst"),
            clock: config.clock.clone(),
            config,
        }))
    }

    /// The provider that serves an organization. Only the sandbox provider
    /// exists so far, so live organizations use it too.
    pub fn provider_for(&self, _org: &entity::organization::Model) -> Arc<dyn PayoutProvider> {
        self.provider.clone()
    }

    /// The provider named in a webhook path.
    pub fn provider_named(&self, name: &str) -> Option<Arc<dyn PayoutProvider>> {
        (name == self.provider.name()).then(|| self.provider.clone())
    }
}
