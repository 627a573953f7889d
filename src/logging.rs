//! Logging setup: `PAYOUTS_LOG` (env-filter syntax) and `PAYOUTS_LOG_FORMAT`
//! (`text` or `json`). Lines logged while a request is handled carry its
//! `request_id` through the request span (`api::finish_response`).
use tracing_subscriber::{fmt::MakeWriter, EnvFilter};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => anyhow::bail!("PAYOUTS_LOG_FORMAT={other:?} is not valid: use text or json"),
        }
    }
}

/// Reads and checks `PAYOUTS_LOG` and `PAYOUTS_LOG_FORMAT`; without
/// `PAYOUTS_LOG`, the filter is `default`.
pub fn from_env(default: &str) -> anyhow::Result<(LogFormat, EnvFilter)> {
    let format = std::env::var("PAYOUTS_LOG_FORMAT")
        .unwrap_or_default()
        .parse()?;
    let filter = match std::env::var("PAYOUTS_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec)
            .map_err(|e| anyhow::anyhow!("PAYOUTS_LOG={spec:?} is not a valid filter: {e}"))?,
        _ => EnvFilter::new(default),
    };
    Ok((format, filter))
}

/// Installs the global subscriber writing to `writer`.
pub fn init<W>(format: LogFormat, filter: EnvFilter, writer: W) -> anyhow::Result<()>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
