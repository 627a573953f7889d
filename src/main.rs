//! `payouts`: the service and its operator commands. Each command prints JSON.
#![recursion_limit = "256"]
use clap::{Parser, Subcommand};
use payouts::{
    config::Config,
    db,
    domain::api_version::{self, ApiVersion},
    server,
    service::{api_keys, funds, ledger, orgs},
};
use serde_json::json;

#[derive(Parser)]
#[command(name = "payouts", version, about = "Self-hostable payouts API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations and serve the API.
    Serve {
        /// Address to listen on (default: PAYOUTS_BIND or 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply pending migrations.
    Migrate,
    /// Organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// API keys (stored hashed; a new key is shown only once).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Balances.
    Balance {
        #[command(subcommand)]
        command: BalanceCommand,
    },
    /// The ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Operator tokens for the operator API (`/operator/v1`).
    OperatorToken {
        #[command(subcommand)]
        command: OperatorTokenCommand,
    },
    /// Print the OpenAPI document (YAML), as committed in openapi.yaml
    /// (with --api-version, that version's, as in openapi-<version>.yaml;
    /// with --operator, the operator API's, as in operator-openapi.yaml).
    Spec {
        #[arg(long, value_parser = parse_api_version)]
        api_version: Option<ApiVersion>,
        #[arg(long)]
        operator: bool,
    },
    /// Ask the provider about payouts whose submission is uncertain or that
    /// are pending/in transit too long; apply and print what changed.
    Reconcile {
        /// Only this organization's payouts.
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Subcommand)]
enum OperatorTokenCommand {
    /// Print a new random operator token (shown only here) and the
    /// `sha256:` entry to put in PAYOUTS_OPERATOR_TOKENS instead of it.
    Create,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Check the ledger's invariants; exits 1 if any is violated.
    Verify,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization and its first API key (shown only here).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "US")]
        country: String,
        #[arg(long, default_value = "usd")]
        currency: String,
        /// A live organization (default: sandbox).
        #[arg(long)]
        live: bool,
        /// The Commet API version (YYYY-MM-DD) its requests get when they
        /// send no Commet-Version header; a date between known versions
        /// pins the earlier one. Default: 2026-07-11, the seed's envelope.
        #[arg(long, value_parser = parse_api_version)]
        api_version: Option<ApiVersion>,
    },
}

fn parse_api_version(value: &str) -> Result<ApiVersion, String> {
    api_version::parse(value).map_err(|err| err.to_string())
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create another API key for an organization; prints it once.
    Create {
        #[arg(long)]
        org: String,
    },
    /// List an organization's keys (ids and prefixes, never the keys).
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a key, by id or by its listed prefix. Effective at once.
    Revoke {
        #[arg(long, required_unless_present = "prefix", conflicts_with = "prefix")]
        key_id: Option<String>,
        #[arg(long)]
        prefix: Option<String>,
    },
}

fn key_json(key: &entity::api_key::Model) -> serde_json::Value {
    json!({"keyId": key.id, "organizationId": key.organization_id, "prefix": key.prefix,
           "createdAt": key.created_at.to_rfc3339(), "revokedAt": key.revoked_at.map(|t| t.to_rfc3339())})
}

#[derive(Subcommand)]
enum BalanceCommand {
    /// Credit funds that arrived from outside (customer payments).
    Credit {
        #[arg(long)]
        org: String,
        /// Amount in cents.
        #[arg(long)]
        amount: i64,
        /// Credit to pending instead of available.
        #[arg(long)]
        pending: bool,
        /// Credit to pending, released to available on this date (YYYY-MM-DD, UTC).
        #[arg(long)]
        available_on: Option<chrono::NaiveDate>,
        /// Your id of the payment (as the operator API's `externalId`): the
        /// same id again is the same credit, another amount under it an error.
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Release pending funds to available.
    Release {
        #[arg(long)]
        org: String,
        /// Amount in cents (default: all pending funds).
        #[arg(long)]
        amount: Option<i64>,
    },
}

fn balance_json(balance: &entity::balance::Model) -> serde_json::Value {
    json!({"organizationId": balance.organization_id, "available": balance.available, "pending": balance.pending,
           "inPayout": balance.in_payout, "held": balance.held, "paidOut": balance.paid_out, "currency": balance.currency})
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // Logs go to stderr: stdout is for the commands' JSON. A one-shot
    // command says only what went wrong (no migration chatter).
    let default = match cli.command {
        Command::Serve { .. } => "info",
        _ => "warn",
    };
    let logging = payouts::logging::from_env(default)
        .and_then(|(format, filter)| payouts::logging::init(format, filter, std::io::stderr));
    if let Err(err) = logging {
        eprintln!("error: {err:#}");
        std::process::exit(2);
    }
    if let Err(err) = run(cli).await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Spec { operator: true, .. } => print!("{}", payouts::api::operator_spec_yaml()),
        Command::Spec { api_version, .. } => print!(
            "{}",
            payouts::api::spec_yaml_for(api_version.unwrap_or(api_version::DEFAULT))
        ),
        Command::OperatorToken {
            command: OperatorTokenCommand::Create,
        } => {
            use payouts::crypto::operator_token;
            let token = operator_token::generate();
            let entry = operator_token::hash_entry(&token);
            println!(
                "{}",
                json!({"token": token, "hash": entry,
                       "configure": format!("PAYOUTS_OPERATOR_TOKENS={entry} (comma-separate several; the token itself also works, the hash keeps it out of the configuration)"),
                       "use": "Authorization: Bearer <token> on /operator/v1/..."})
            );
        }
        Command::Serve { bind } => {
            let config = Config::from_env(bind)?;
            let listener = std::net::TcpListener::bind(&config.bind).map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {} (--bind or PAYOUTS_BIND): {e}",
                    config.bind
                )
            })?;
            let public_url = config.public_url.clone();
            let running = server::start(config, listener).await?;
            if let Some(addr) = running.metrics_addr {
                tracing::info!(metrics = %format!("http://{addr}/metrics"), "metrics listening");
            }
            tracing::info!(url = %public_url, docs = %format!("{public_url}/docs"), "payouts API listening");
            println!(
                "{}",
                json!({"listening": public_url, "docs": format!("{public_url}/docs")})
            );
            running.wait().await?;
        }
        Command::Migrate => {
            let config = Config::from_env(None)?;
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            println!("{}", json!({"migrated": true}));
        }
        Command::Org {
            command:
                OrgCommand::Create {
                    name,
                    country,
                    currency,
                    live,
                    api_version,
                },
        } => {
            if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
                anyhow::bail!("--country must be an ISO 3166-1 alpha-2 code such as US");
            }
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
                anyhow::bail!("--currency must be an ISO 4217 code such as usd");
            }
            let conn = connect_migrated().await?;
            let api_version = api_version.unwrap_or(api_version::DEFAULT);
            let created =
                orgs::create_pinned(&conn, &name, &country, &currency, live, api_version).await?;
            let org = &created.organization;
            println!(
                "{}",
                json!({"organizationId": org.id, "apiKey": created.api_key, "mode": org.mode.as_str(),
                       "apiVersion": org.api_version.as_str()})
            );
        }
        Command::Key { command } => {
            let conn = connect_migrated().await?;
            let out = match command {
                KeyCommand::Create { org } => {
                    let (row, key) = api_keys::create(&conn, &org).await?;
                    let mut out = key_json(&row);
                    out["apiKey"] = json!(key);
                    out
                }
                KeyCommand::List { org } => {
                    orgs::find(&conn, &org)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no organization {org}"))?;
                    let keys = api_keys::list(&conn, &org).await?;
                    json!({"organizationId": org, "keys": keys.iter().map(key_json).collect::<Vec<_>>()})
                }
                KeyCommand::Revoke { key_id, prefix } => {
                    let selector = match (&key_id, &prefix) {
                        (Some(id), _) => api_keys::Selector::Id(id),
                        (None, Some(prefix)) => api_keys::Selector::Prefix(prefix),
                        (None, None) => anyhow::bail!("give --key-id or --prefix"),
                    };
                    key_json(&api_keys::revoke(&conn, selector).await?)
                }
            };
            println!("{out}");
        }
        Command::Reconcile { org } => {
            let config = Config::from_env(None)?;
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            let app = payouts::service::App::new(conn, config);
            app.check_provider_keys().await?;
            let changes = payouts::service::reconcile::run(&app, org.as_deref()).await?;
            println!("{}", json!({"changed": changes.len(), "changes": changes}));
        }
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            let conn = connect_migrated().await?;
            let problems = ledger::verify(&conn).await?;
            println!(
                "{}",
                json!({"ok": problems.is_empty(), "problems": problems})
            );
            if !problems.is_empty() {
                std::process::exit(1);
            }
        }
        Command::Balance {
            command:
                BalanceCommand::Credit {
                    org,
                    amount,
                    pending,
                    available_on,
                    external_id,
                },
        } => {
            let conn = connect_migrated().await?;
            let org = orgs::find(&conn, &org)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no organization {org}"))?;
            let available_on = available_on.map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
            let balance =
                funds::credit_with(&conn, &org, amount, pending, available_on, external_id).await?;
            println!("{}", balance_json(&balance));
        }
        Command::Balance {
            command: BalanceCommand::Release { org, amount },
        } => {
            if amount.is_some_and(|a| a <= 0) {
                anyhow::bail!("--amount must be a positive number of cents");
            }
            let conn = connect_migrated().await?;
            let org = orgs::find(&conn, &org)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no organization {org}"))?;
            let txn = db::begin_write(&conn).await?;
            let balance = funds::release(&txn, &org.id, amount).await?;
            txn.commit().await?;
            println!("{}", balance_json(&balance));
        }
    }
    Ok(())
}

async fn connect_migrated() -> anyhow::Result<sea_orm::DatabaseConnection> {
    let config = Config::from_env(None)?;
    let conn = db::connect(&config.database_url).await?;
    db::migrate(&conn).await?;
    Ok(conn)
}
