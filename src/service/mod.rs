//! The service layer: business operations over the database and the
//! provider. No HTTP types here; the API layer calls these.
pub mod accounts;
pub mod api_keys;
pub mod credits;
pub mod debits;
pub mod events;
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
pub mod reconcile;
pub mod verification_claims;
pub mod webhooks;

use std::{ops::Deref, sync::Arc};

use sea_orm::DatabaseConnection;

use entity::{organization, states::OrgMode};

use crate::{
    clock::Clock,
    config::Config,
    document::DocumentFetcher,
    error::{Error, Result},
    group_commit::Writer,
    metrics::Metrics,
    provider::{registry::Providers, sandbox::SandboxProvider, PayoutProvider},
};

/// The longest description (payouts, credits, debits, holds, webhook
/// endpoints): one limit, read by the schema and by the service.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

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
    /// The sandbox itself (its event deliveries, tests' fault injection);
    /// operations reach it through `providers`.
    pub sandbox: Arc<SandboxProvider>,
    /// Every provider this service runs, behind metrics and logging.
    pub providers: Providers,
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
        let providers = Providers::new(layer(sandbox.clone()), &config.provider, &metrics);
        Self(Arc::new(AppInner {
            db,
            read_db,
            writer,
            documents,
            sandbox,
            providers,
            metrics,
            http,
            instance_id: crate::ids::new_id("inst"),
            clock: config.clock.clone(),
            config,
        }))
    }

    /// The provider that serves an organization: the one holding its
    /// account once it has one, else the one its mode gets. A live
    /// organization never gets the sandbox; with no live provider
    /// configured it gets `ProviderNotConfigured` (nothing is done).
    pub fn provider_for(&self, org: &organization::Model) -> Result<Arc<dyn PayoutProvider>> {
        match &org.provider {
            Some(name) => self.provider_in_mode(name, org.mode),
            None => self
                .providers
                .default_for(org.mode)
                .ok_or_else(|| not_configured(org.mode, None)),
        }
    }

    /// The provider `name` for an organization of `mode`, if it may serve it.
    pub fn provider_in_mode(&self, name: &str, mode: OrgMode) -> Result<Arc<dyn PayoutProvider>> {
        self.providers
            .in_mode(name, mode)
            .ok_or_else(|| not_configured(mode, Some(name)))
    }

    /// The provider named in a webhook path.
    pub fn provider_named(&self, name: &str) -> Option<Arc<dyn PayoutProvider>> {
        self.providers.named(name)
    }

    /// The service refuses to start when a provider's credentials serve one
    /// mode but organizations of the other hold their accounts there: a
    /// test key with live accounts (their payouts would go to test mode),
    /// or a live key with sandbox accounts (sandbox organizations would
    /// move real money).
    pub async fn check_provider_keys(&self) -> anyhow::Result<()> {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        for provider in self.providers.iter() {
            let Some(set_by) = provider.mode_set_by() else {
                continue;
            };
            let wrong_mode = match provider.mode() {
                OrgMode::Live => OrgMode::Sandbox,
                OrgMode::Sandbox => OrgMode::Live,
            };
            let mismatched = organization::Entity::find()
                .filter(organization::Column::Provider.eq(provider.name()))
                .filter(organization::Column::Mode.eq(wrong_mode))
                .count(&self.db)
                .await?;
            if mismatched > 0 {
                anyhow::bail!(
                    "{set_by} but {mismatched} {wrong_mode} organization(s) hold their account at {} in the other mode; \
                     a live key serves live organizations only and a test key sandbox organizations only: use the matching key",
                    provider.name()
                );
            }
        }
        Ok(())
    }
}

/// No configured provider may serve an organization of `mode` (`name`: the
/// one holding its account, if it has one).
fn not_configured(mode: OrgMode, name: Option<&str>) -> Error {
    Error::ProviderNotConfigured(match (mode, name) {
        (OrgMode::Live, None) => "no payout provider is configured for live organizations on this service \
             (needs PAYOUTS_PROVIDER=stripe with an sk_live_ key)"
            .to_string(),
        (OrgMode::Live, Some(name)) => format!(
            "no payout provider is configured for live organizations on this service \
             (needs PAYOUTS_PROVIDER=stripe with an sk_live_ key; the account's provider is {name})"
        ),
        (OrgMode::Sandbox, name) => format!(
            "the payout provider holding this organization's account ({}) is not configured on this service",
            name.unwrap_or("none")
        ),
    })
}
