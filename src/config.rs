//! Runtime configuration, from environment variables (and `serve` flags).
//!
//! One piece: every setting is read, checked and documented here, the one source of the README's configuration table.
use std::time::Duration;

use crate::{clock::Clock, crypto::Cipher, db::SqliteSync, domain::fees::FeeSchedule};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://payouts.db?mode=rwc";
/// Upper bound of `PAYOUTS_DOCUMENT_FETCHES_MAX` (tokio's semaphore allows far more;
/// this keeps a typo from allowing unbounded memory).
const MAX_DOCUMENT_FETCHES: usize = 4096;

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    /// SQLite's commit durability: `Full` unless explicitly opted out.
    pub sqlite_synchronous: SqliteSync,
    /// SQLite: commit concurrent write requests together (one fsync for
    /// several); see `group_commit`.
    pub sqlite_group_commit: bool,
    pub bind: String,
    /// Base URL others reach this service at (webhook callbacks, `doc_url`).
    pub public_url: String,
    pub sandbox_delay: Duration,
    /// `host:port` entries exempt from the public-address rule for identity
    /// documents. For development and tests only.
    pub document_allow_hosts: Vec<String>,
    pub document_max_bytes: usize,
    pub document_timeout: Duration,
    /// Identity documents fetched or held at once (each up to
    /// `document_max_bytes`); more are answered 503.
    pub document_fetches_max: usize,
    pub cipher: Cipher,
    /// Secret the sandbox provider signs its webhooks with.
    pub sandbox_webhook_secret: String,
    pub fees: FeeSchedule,
    pub max_body_bytes: usize,
    pub job_poll_interval: Duration,
    /// How long a claimed job is its worker's; after that (the worker died)
    /// another may run it. Jobs are idempotent, so a slow one run twice is safe.
    pub job_lease: Duration,
    /// First retry of a failed job; doubles on each further attempt.
    pub job_retry_base: Duration,
    /// How long a new payout waits before the safety-net job submits it,
    /// should the request's own provider call not have gone through.
    pub provider_retry_delay: Duration,
    /// Provider calls tried for a payout before it is failed and refunded.
    pub provider_max_attempts: i32,
    /// How long a request holds its Idempotency-Key before a repeat may take
    /// it over (its instance is then presumed dead).
    pub idempotency_lock: Duration,
    /// Deadline for receiving a request's whole body (slow clients get 408).
    pub request_read_timeout: Duration,
    /// Per-API-key token bucket: refill rate and capacity.
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: u32,
    /// Shares the rate-limit buckets between instances; in-process if unset.
    pub redis_url: Option<String>,
    /// Prefix of this service's Redis keys.
    pub redis_prefix: String,
    /// Where `/metrics` is served; unset, it is not served at all (it is
    /// never served on `bind`, which faces API clients).
    pub metrics_bind: Option<String>,
    /// The time the job queue reads: the system clock, or in tests a
    /// manual one they move.
    pub clock: Clock,
    /// How long a webhook receiver has to answer 2xx (10 s, as Commet;
    /// tests shorten it rather than wait).
    pub webhook_timeout: Duration,
    /// SHA-256 (hex) of each operator token (`PAYOUTS_OPERATOR_TOKENS`);
    /// empty, the operator API answers 401 to everything.
    pub operator_token_hashes: Vec<String>,
    /// Runs the background job worker. Tests that run due jobs themselves
    /// (`App::run_due_jobs`) turn it off.
    pub job_worker: bool,
    /// `PAYOUTS_PROVIDER`: the sandbox (default) or Stripe Connect.
    pub provider: ProviderChoice,
    /// A payout `pending` or `in_transit` at the provider for longer than
    /// this, or whose submission is uncertain, is looked up by the
    /// reconciliation sweep (`PAYOUTS_RECONCILE_AFTER_MS`).
    pub reconcile_after: Duration,
}

/// Which real provider serves organizations besides the sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderChoice {
    Sandbox,
    Stripe(StripeConfig),
}

pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const STRIPE_FILES_BASE: &str = "https://files.stripe.com";

/// Stripe Connect settings. Its `Debug` never shows the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// `sk_live_…` (serves live organizations) or `sk_test_…` (may serve
    /// sandbox organizations, in Stripe's test mode); `rk_` restricted keys too.
    pub secret_key: String,
    /// Every endpoint secret (`whsec_…`) an event may be signed with: more
    /// than one while a secret is rotated.
    pub webhook_secrets: Vec<String>,
    pub api_base: String,
    pub files_base: String,
    /// Per-request deadline; a call that passes it is "uncertain".
    pub timeout: Duration,
}

impl StripeConfig {
    pub fn new(secret_key: &str, webhook_secrets: Vec<String>) -> Self {
        Self {
            secret_key: secret_key.to_string(),
            webhook_secrets,
            api_base: STRIPE_API_BASE.into(),
            files_base: STRIPE_FILES_BASE.into(),
            timeout: Duration::from_secs(30),
        }
    }

    /// A live-mode key: it moves real money, for live organizations only.
    pub fn is_live(&self) -> bool {
        self.secret_key.starts_with("sk_live_") || self.secret_key.starts_with("rk_live_")
    }

    fn validate(&self) -> anyhow::Result<()> {
        let test =
            self.secret_key.starts_with("sk_test_") || self.secret_key.starts_with("rk_test_");
        if !self.is_live() && !test {
            anyhow::bail!(
                "STRIPE_SECRET_KEY must be a Stripe secret key (sk_live_… or sk_test_…, or an rk_ restricted key)"
            );
        }
        if self.webhook_secrets.is_empty() {
            anyhow::bail!("STRIPE_WEBHOOK_SECRET must be set (comma-separated whsec_… secrets) with PAYOUTS_PROVIDER=stripe");
        }
        if !self.webhook_secrets.iter().all(|s| s.starts_with("whsec_")) {
            // Likely the API key or a copy error: no event would ever verify.
            anyhow::bail!("STRIPE_WEBHOOK_SECRET must be comma-separated whsec_… secrets");
        }
        for (name, base) in [
            ("STRIPE_API_BASE", &self.api_base),
            ("STRIPE_FILES_BASE", &self.files_base),
        ] {
            let url =
                url::Url::parse(base).map_err(|e| anyhow::anyhow!("{name} is not a URL: {e}"))?;
            if !matches!(url.scheme(), "https" | "http") {
                anyhow::bail!("{name} must be an https (or http) URL");
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("live", &self.is_live())
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("api_base", &self.api_base)
            .field("files_base", &self.files_base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match env(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={raw:?} is not a valid value")),
    }
}

fn env_millis(name: &str, default: Duration) -> anyhow::Result<Duration> {
    Ok(Duration::from_millis(env_parse(
        name,
        default.as_millis() as u64,
    )?))
}

impl Config {
    /// Every setting at its default, for a database, an address and a key.
    pub fn new(database_url: &str, bind: &str, cipher: Cipher) -> Self {
        Config {
            database_url: database_url.to_string(),
            sqlite_synchronous: SqliteSync::Full,
            sqlite_group_commit: true,
            bind: bind.to_string(),
            public_url: format!("http://{bind}"),
            sandbox_delay: Duration::from_millis(2000),
            document_allow_hosts: Vec::new(),
            document_max_bytes: 10 * 1024 * 1024,
            document_timeout: Duration::from_secs(10),
            document_fetches_max: 16,
            // Every instance that shares the database shares the key, so
            // deriving the secret from it keeps them in agreement.
            sandbox_webhook_secret: cipher.derive_secret("sandbox-webhook-secret"),
            cipher,
            fees: FeeSchedule::default(),
            max_body_bytes: 1024 * 1024,
            job_poll_interval: Duration::from_millis(200),
            job_lease: Duration::from_secs(60),
            job_retry_base: Duration::from_millis(500),
            provider_retry_delay: Duration::from_secs(30),
            provider_max_attempts: 10,
            idempotency_lock: Duration::from_secs(90),
            request_read_timeout: Duration::from_secs(30),
            rate_limit_per_second: 100.0,
            rate_limit_burst: 200,
            redis_url: None,
            redis_prefix: "payouts:".into(),
            metrics_bind: None,
            clock: Clock::system(),
            webhook_timeout: Duration::from_secs(10),
            operator_token_hashes: Vec::new(),
            job_worker: true,
            provider: ProviderChoice::Sandbox,
            reconcile_after: Duration::from_secs(3 * 24 * 3600),
        }
    }

    /// Reads the environment. `bind` overrides `PAYOUTS_BIND` when given.
    pub fn from_env(bind: Option<String>) -> anyhow::Result<Self> {
        let database_url = env("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        // Before the key: a URL of another engine would otherwise be reported
        // as a missing PAYOUTS_ENCRYPTION_KEY.
        check_database_url(&database_url)?;
        let bind = bind
            .or_else(|| env("PAYOUTS_BIND"))
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let mut c = Config::new(&database_url, &bind, load_cipher(&database_url)?);
        if let Some(raw) = env("PAYOUTS_SQLITE_SYNCHRONOUS") {
            c.sqlite_synchronous = raw.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "PAYOUTS_SQLITE_SYNCHRONOUS={raw:?} is not a valid value (full or normal)"
                )
            })?;
        }
        if let Some(raw) = env("PAYOUTS_SQLITE_GROUP_COMMIT") {
            c.sqlite_group_commit = match raw.trim().to_ascii_lowercase().as_str() {
                "on" => true,
                "off" => false,
                _ => anyhow::bail!(
                    "PAYOUTS_SQLITE_GROUP_COMMIT={raw:?} is not a valid value (on or off)"
                ),
            };
        }
        if let Some(url) = env("PAYOUTS_PUBLIC_URL") {
            c.public_url = url.trim_end_matches('/').to_string();
        }
        if let Some(secret) = env("PAYOUTS_SANDBOX_WEBHOOK_SECRET") {
            c.sandbox_webhook_secret = secret;
        }
        c.fees = FeeSchedule {
            fixed_cents: env_parse("PAYOUTS_PAYOUT_FEE_FIXED_CENTS", 0)?,
            basis_points: env_parse("PAYOUTS_PAYOUT_FEE_BPS", 0)?,
        };
        c.sandbox_delay = env_millis("PAYOUTS_SANDBOX_DELAY_MS", c.sandbox_delay)?;
        if let Some(hosts) = env("PAYOUTS_DOCUMENT_ALLOW_HOSTS") {
            c.document_allow_hosts = hosts
                .split(',')
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .collect();
        }
        c.document_max_bytes = env_parse("PAYOUTS_DOCUMENT_MAX_BYTES", c.document_max_bytes)?;
        c.document_timeout = env_millis("PAYOUTS_DOCUMENT_TIMEOUT_MS", c.document_timeout)?;
        c.webhook_timeout = env_millis("PAYOUTS_WEBHOOK_TIMEOUT_MS", c.webhook_timeout)?;
        c.document_fetches_max = env_parse("PAYOUTS_DOCUMENT_FETCHES_MAX", c.document_fetches_max)?;
        c.max_body_bytes = env_parse("PAYOUTS_MAX_BODY_BYTES", c.max_body_bytes)?;
        c.job_poll_interval = env_millis("PAYOUTS_JOB_POLL_MS", c.job_poll_interval)?;
        c.job_lease = env_millis("PAYOUTS_JOB_LEASE_MS", c.job_lease)?;
        c.job_retry_base = env_millis("PAYOUTS_JOB_RETRY_BASE_MS", c.job_retry_base)?;
        c.provider_retry_delay =
            env_millis("PAYOUTS_PROVIDER_RETRY_DELAY_MS", c.provider_retry_delay)?;
        c.provider_max_attempts =
            env_parse("PAYOUTS_PROVIDER_MAX_ATTEMPTS", c.provider_max_attempts)?;
        c.idempotency_lock = env_millis("PAYOUTS_IDEMPOTENCY_LOCK_MS", c.idempotency_lock)?;
        c.request_read_timeout =
            env_millis("PAYOUTS_REQUEST_READ_TIMEOUT_MS", c.request_read_timeout)?;
        c.rate_limit_per_second =
            env_parse("PAYOUTS_RATE_LIMIT_PER_SECOND", c.rate_limit_per_second)?;
        c.rate_limit_burst = env_parse("PAYOUTS_RATE_LIMIT_BURST", c.rate_limit_burst)?;
        if let Some(raw) = env("PAYOUTS_OPERATOR_TOKENS") {
            c.operator_token_hashes = crate::crypto::operator_token::parse(&raw)
                .map_err(|e| anyhow::anyhow!("PAYOUTS_OPERATOR_TOKENS: {e}"))?;
        }
        c.redis_url = env("PAYOUTS_REDIS_URL");
        c.metrics_bind = env("PAYOUTS_METRICS_BIND");
        if let Some(prefix) = env("PAYOUTS_REDIS_PREFIX") {
            c.redis_prefix = prefix;
        }
        c.reconcile_after = env_millis("PAYOUTS_RECONCILE_AFTER_MS", c.reconcile_after)?;
        c.provider = match env("PAYOUTS_PROVIDER").as_deref().map(str::trim) {
            None | Some("sandbox") => ProviderChoice::Sandbox,
            Some("stripe") => {
                let secret_key = env("STRIPE_SECRET_KEY").ok_or_else(|| {
                    anyhow::anyhow!("PAYOUTS_PROVIDER=stripe needs STRIPE_SECRET_KEY")
                })?;
                let secrets = env("STRIPE_WEBHOOK_SECRET")
                    .unwrap_or_default()
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                let mut stripe = StripeConfig::new(secret_key.trim(), secrets);
                if let Some(base) = env("STRIPE_API_BASE") {
                    stripe.api_base = base.trim().trim_end_matches('/').to_string();
                }
                if let Some(base) = env("STRIPE_FILES_BASE") {
                    stripe.files_base = base.trim().trim_end_matches('/').to_string();
                }
                ProviderChoice::Stripe(stripe)
            }
            Some(other) => {
                anyhow::bail!("PAYOUTS_PROVIDER={other:?} is not a valid value (sandbox or stripe)")
            }
        };
        c.validate()?;
        Ok(c)
    }

    /// Every number and duration within its range (so no arithmetic on them
    /// can overflow), and the URLs parse. `from_env` runs it; an error names
    /// the variable.
    pub fn validate(&self) -> anyhow::Result<()> {
        const SECOND: u64 = 1000;
        const DAY: u64 = 86_400 * SECOND;
        const MIB: u64 = 1024 * 1024;
        let millis = [
            ("PAYOUTS_SANDBOX_DELAY_MS", self.sandbox_delay, 0u64, DAY),
            (
                "PAYOUTS_DOCUMENT_TIMEOUT_MS",
                self.document_timeout,
                1,
                600 * SECOND,
            ),
            (
                "PAYOUTS_WEBHOOK_TIMEOUT_MS",
                self.webhook_timeout,
                1,
                60 * SECOND,
            ),
            (
                "PAYOUTS_REQUEST_READ_TIMEOUT_MS",
                self.request_read_timeout,
                1,
                3600 * SECOND,
            ),
            (
                "PAYOUTS_JOB_POLL_MS",
                self.job_poll_interval,
                1,
                3600 * SECOND,
            ),
            ("PAYOUTS_JOB_LEASE_MS", self.job_lease, 1, DAY),
            (
                "PAYOUTS_JOB_RETRY_BASE_MS",
                self.job_retry_base,
                1,
                600 * SECOND,
            ),
            (
                "PAYOUTS_PROVIDER_RETRY_DELAY_MS",
                self.provider_retry_delay,
                0,
                DAY,
            ),
            (
                "PAYOUTS_RECONCILE_AFTER_MS",
                self.reconcile_after,
                1,
                30 * DAY,
            ),
            // Keys are kept 24 h; a longer hold would outlive the key.
            ("PAYOUTS_IDEMPOTENCY_LOCK_MS", self.idempotency_lock, 1, DAY),
        ];
        for (name, value, min, max) in millis {
            check_range(name, value.as_millis(), min.into(), max.into())?;
        }
        let counts = [
            (
                "PAYOUTS_DOCUMENT_MAX_BYTES",
                self.document_max_bytes as u64,
                1,
                100 * MIB,
            ),
            (
                "PAYOUTS_MAX_BODY_BYTES",
                self.max_body_bytes as u64,
                1024,
                100 * MIB,
            ),
            (
                "PAYOUTS_DOCUMENT_FETCHES_MAX",
                self.document_fetches_max as u64,
                1,
                MAX_DOCUMENT_FETCHES as u64,
            ),
            (
                "PAYOUTS_RATE_LIMIT_BURST",
                self.rate_limit_burst.into(),
                1,
                1_000_000,
            ),
        ];
        for (name, value, min, max) in counts {
            check_range(name, value, min, max)?;
        }
        check_range(
            "PAYOUTS_PROVIDER_MAX_ATTEMPTS",
            self.provider_max_attempts,
            1,
            1000,
        )?;
        let rate = self.rate_limit_per_second;
        if !(rate > 0.0 && rate <= 1_000_000.0) {
            anyhow::bail!("PAYOUTS_RATE_LIMIT_PER_SECOND={rate} is out of range (more than 0, at most 1000000)");
        }
        self.fees.validate().map_err(|e| {
            anyhow::anyhow!("PAYOUTS_PAYOUT_FEE_FIXED_CENTS / PAYOUTS_PAYOUT_FEE_BPS: {e}")
        })?;
        if let Some(url) = &self.redis_url {
            redis::Client::open(url.as_str())
                .map_err(|e| anyhow::anyhow!("PAYOUTS_REDIS_URL is not a Redis URL: {e}"))?;
        }
        // Before PAYOUTS_PUBLIC_URL, whose default is made of it.
        if !is_host_port(&self.bind) {
            anyhow::bail!("PAYOUTS_BIND (or --bind) {:?} is not host:port", self.bind);
        }
        url::Url::parse(&self.public_url)
            .map_err(|e| anyhow::anyhow!("PAYOUTS_PUBLIC_URL is not a URL: {e}"))?;
        check_database_url(&self.database_url)?;
        for entry in &self.document_allow_hosts {
            // Compared with a URL's `host:port`: an entry without a port never matches.
            if !is_host_port(entry) {
                anyhow::bail!(
                    "PAYOUTS_DOCUMENT_ALLOW_HOSTS: {entry:?} is not host:port (e.g. 127.0.0.1:8000)"
                );
            }
        }
        if let ProviderChoice::Stripe(stripe) = &self.provider {
            stripe.validate()?;
        }
        Ok(())
    }
}

/// `host:port`, with a host without spaces and a port number.
fn is_host_port(text: &str) -> bool {
    text.trim().rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
    })
}

/// `sqlite:` or `postgres://`, the engines the service runs on.
fn check_database_url(url: &str) -> anyhow::Result<()> {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if !known.iter().any(|scheme| url.starts_with(scheme)) {
        anyhow::bail!("DATABASE_URL must be a sqlite: or postgres:// URL");
    }
    Ok(())
}

fn check_range<T: PartialOrd + std::fmt::Display>(
    name: &str,
    value: T,
    min: T,
    max: T,
) -> anyhow::Result<()> {
    if value < min || value > max {
        anyhow::bail!("{name}={value} is out of range ({min} to {max})");
    }
    Ok(())
}

/// `PAYOUTS_ENCRYPTION_KEY`, or for SQLite a development key generated once
/// and kept in a file beside the database.
fn load_cipher(database_url: &str) -> anyhow::Result<Cipher> {
    if let Some(key) = env("PAYOUTS_ENCRYPTION_KEY") {
        return Cipher::from_encoded_key(&key)
            .map_err(|e| anyhow::anyhow!("PAYOUTS_ENCRYPTION_KEY: {e}"));
    }
    let Some(path) = sqlite_file(database_url) else {
        anyhow::bail!(
            "PAYOUTS_ENCRYPTION_KEY must be set (64 hex characters) for a non-SQLite database"
        );
    };
    let key_path = format!("{path}.key");
    let key = match std::fs::read_to_string(&key_path) {
        Ok(key) => key,
        Err(_) => {
            let key = Cipher::generate_key_hex();
            write_private(&key_path, &key)?;
            tracing::warn!(
                key_file = %key_path,
                "PAYOUTS_ENCRYPTION_KEY is not set: generated a development key; set the variable in production"
            );
            key
        }
    };
    Cipher::from_encoded_key(&key).map_err(|e| anyhow::anyhow!("{key_path}: {e}"))
}

fn write_private(path: &str, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create key file {path}: {e}"))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// The file path of a `sqlite://` URL (`None` for in-memory or other engines).
pub fn sqlite_file(database_url: &str) -> Option<String> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_settings_are_checked_and_never_shown() {
        let secrets = vec!["whsec_a".to_string(), "whsec_b".to_string()];
        let live = StripeConfig::new("sk_live_secretvalue", secrets.clone());
        assert!(live.is_live() && live.validate().is_ok());
        let test = StripeConfig::new("sk_test_secretvalue", secrets.clone());
        assert!(!test.is_live() && test.validate().is_ok());
        assert!(StripeConfig::new("pk_live_x", secrets.clone())
            .validate()
            .is_err());
        assert!(StripeConfig::new("sk_live_x", Vec::new())
            .validate()
            .is_err());
        let shown = format!("{live:?}");
        assert!(
            !shown.contains("secretvalue") && !shown.contains("whsec_"),
            "{shown}"
        );
    }

    #[test]
    fn sqlite_file_paths() {
        assert_eq!(
            sqlite_file("sqlite://payouts.db?mode=rwc").as_deref(),
            Some("payouts.db")
        );
        assert_eq!(
            sqlite_file("sqlite:///tmp/x.db").as_deref(),
            Some("/tmp/x.db")
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/x"), None);
    }
}
