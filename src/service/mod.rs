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
    config::{Config, ProviderChoice},
    document::DocumentFetcher,
    error::{Error, Result},
    group_commit::Writer,
    metrics::Metrics,
    provider::{
        instrumented::Instrumented, sandbox::SandboxProvider, stripe::StripeProvider,
        PayoutProvider,
    },
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
    pub sandbox: Arc<SandboxProvider>,
    /// The sandbox provider behind metrics and logging; what operations use.
    provider: Arc<dyn PayoutProvider>,
    /// Stripe Connect behind metrics and logging, when configured, and
    /// whether its key is a live one.
    stripe: Option<(Arc<dyn PayoutProvider>, bool)>,
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
        let stripe = match &config.provider {
            ProviderChoice::Sandbox => None,
            ProviderChoice::Stripe(stripe) => {
                let live = stripe.is_live();
                let client: Arc<dyn PayoutProvider> = Arc::new(Instrumented::new(
                    Arc::new(StripeProvider::new(stripe.clone())),
                    metrics.clone(),
                ));
                Some((client, live))
            }
        };
        Self(Arc::new(AppInner {
            db,
            read_db,
            writer,
            documents,
            sandbox,
            provider,
            stripe,
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
        let name = match &org.provider {
            Some(name) => name.as_str(),
            None => self.default_provider(org.mode),
        };
        self.provider_in_mode(name, org.mode)
    }

    /// Which provider a new account of this mode goes to: Stripe for live
    /// organizations; for sandbox ones, Stripe when its key is a test key
    /// (Stripe's test mode), else the sandbox.
    fn default_provider(&self, mode: OrgMode) -> &'static str {
        match (mode, &self.stripe) {
            (OrgMode::Live, _) => crate::provider::stripe::NAME,
            (OrgMode::Sandbox, Some((_, false))) => crate::provider::stripe::NAME,
            (OrgMode::Sandbox, _) => crate::provider::sandbox::NAME,
        }
    }

    /// The provider `name` for an organization of `mode`, if it may serve it.
    pub fn provider_in_mode(&self, name: &str, mode: OrgMode) -> Result<Arc<dyn PayoutProvider>> {
        let found = match (name, mode, &self.stripe) {
            (crate::provider::sandbox::NAME, OrgMode::Sandbox, _) => Some(self.provider.clone()),
            (crate::provider::stripe::NAME, OrgMode::Live, Some((stripe, true)))
            | (crate::provider::stripe::NAME, OrgMode::Sandbox, Some((stripe, false))) => {
                Some(stripe.clone())
            }
            _ => None,
        };
        found.ok_or_else(|| {
            Error::ProviderNotConfigured(match mode {
                OrgMode::Live => format!(
                    "no payout provider is configured for live organizations on this service \
                     (needs PAYOUTS_PROVIDER=stripe with an sk_live_ key; the account's provider is {name})"
                ),
                OrgMode::Sandbox => format!(
                    "the payout provider holding this organization's account ({name}) is not configured on this service"
                ),
            })
        })
    }

    /// The provider named in a webhook path.
    pub fn provider_named(&self, name: &str) -> Option<Arc<dyn PayoutProvider>> {
        if name == self.provider.name() {
            return Some(self.provider.clone());
        }
        self.stripe
            .as_ref()
            .filter(|(stripe, _)| stripe.name() == name)
            .map(|(stripe, _)| stripe.clone())
    }

    /// The service refuses to start when the Stripe key's mode does not
    /// match the organizations whose accounts Stripe holds: a test key with
    /// live accounts (their payouts would go to test mode), or a live key
    /// with sandbox accounts (sandbox organizations would move real money).
    pub async fn check_provider_keys(&self) -> anyhow::Result<()> {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let Some((_, live)) = &self.stripe else {
            return Ok(());
        };
        let wrong_mode = if *live {
            OrgMode::Sandbox
        } else {
            OrgMode::Live
        };
        let mismatched = organization::Entity::find()
            .filter(organization::Column::Provider.eq(crate::provider::stripe::NAME))
            .filter(organization::Column::Mode.eq(wrong_mode))
            .count(&self.db)
            .await?;
        if mismatched > 0 {
            let key = if *live {
                "a live key (sk_live_)"
            } else {
                "a test key (sk_test_)"
            };
            let mode = wrong_mode.as_str();
            anyhow::bail!(
                "STRIPE_SECRET_KEY is {key} but {mismatched} {mode} organization(s) hold their account at Stripe in the other mode; \
                 a live key serves live organizations only and a test key sandbox organizations only: use the matching key"
            );
        }
        Ok(())
    }
}
