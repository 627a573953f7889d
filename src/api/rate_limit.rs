//! Per-API-key rate limiting: a token bucket of `rate_limit_burst` tokens
//! refilled at `rate_limit_per_second`. Each request with a valid key takes
//! one token; with none left the answer is 429 `rate_limited` with
//! `Retry-After`. Every answer to such a request carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` (seconds until full).
//!
//! With `PAYOUTS_REDIS_URL` the buckets live in Redis, updated by one Lua
//! script (atomic, and timed by Redis' clock), so every instance shares them.
//! Without it they live in this process: right for a single instance only.
//!
//! Requests without a valid key are not counted (they get 401 anyway), so
//! made-up keys cannot fill the store.
use std::{collections::HashMap, sync::Mutex, time::Instant};

use poem::{Endpoint, Request, Response};

use super::error::{error_response, ApiError};
use crate::config::Config;

/// The state after one request: was it allowed, and what is left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset: u64,
    /// Seconds until the next token (only meaningful when refused).
    pub retry_after: u64,
}

/// Refill `tokens` for `elapsed` seconds, then try to take one. Returns the
/// new token count and whether a token was taken.
fn take(tokens: f64, elapsed: f64, rate: f64, burst: f64) -> (f64, bool) {
    let tokens = (tokens + elapsed.max(0.0) * rate).min(burst);
    if tokens >= 1.0 {
        (tokens - 1.0, true)
    } else {
        (tokens, false)
    }
}

fn decision(allowed: bool, tokens: f64, rate: f64, burst: u32) -> Decision {
    Decision {
        allowed,
        limit: burst,
        remaining: tokens.floor().max(0.0) as u64,
        reset: ((burst as f64 - tokens) / rate).ceil().max(0.0) as u64,
        retry_after: ((1.0 - tokens) / rate).ceil().max(1.0) as u64,
    }
}

/// The same arithmetic as `take`, in Redis. Keys expire once full again.
const SCRIPT: &str = r#"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"#;

enum Store {
    Memory(Mutex<HashMap<String, (f64, Instant)>>),
    Redis {
        conn: redis::aio::ConnectionManager,
        script: redis::Script,
        prefix: String,
    },
}

pub struct RateLimiter {
    rate: f64,
    burst: u32,
    store: Store,
}

impl RateLimiter {
    /// Must run inside the Tokio runtime; Redis connects lazily.
    pub fn new(config: &Config) -> Self {
        let store = match &config.redis_url {
            None => Store::Memory(Mutex::new(HashMap::new())),
            Some(url) => {
                let client = redis::Client::open(url.as_str()).expect("checked in Config");
                // Bounded waits: a stuck Redis must not stall the API.
                let options = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
                    .set_response_timeout(Some(std::time::Duration::from_secs(2)))
                    .set_number_of_retries(1);
                let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, options)
                    .expect("a lazy Redis connection manager");
                Store::Redis {
                    conn,
                    script: redis::Script::new(SCRIPT),
                    prefix: config.redis_prefix.clone(),
                }
            }
        };
        Self {
            rate: config.rate_limit_per_second,
            burst: config.rate_limit_burst,
            store,
        }
    }

    /// Takes a token from the bucket of `id` (an API key's id).
    pub async fn check(&self, id: &str) -> Result<Decision, redis::RedisError> {
        let burst = self.burst as f64;
        let (tokens, allowed) = match &self.store {
            Store::Memory(buckets) => {
                let now = Instant::now();
                let mut buckets = buckets.lock().unwrap_or_else(|e| e.into_inner());
                let (tokens, last) = buckets.get(id).copied().unwrap_or((burst, now));
                let elapsed = now.duration_since(last).as_secs_f64();
                let (tokens, allowed) = take(tokens, elapsed, self.rate, burst);
                buckets.insert(id.to_string(), (tokens, now));
                (tokens, allowed)
            }
            Store::Redis {
                conn,
                script,
                prefix,
            } => {
                let (allowed, tokens): (i64, String) = script
                    .key(format!("{prefix}ratelimit:{id}"))
                    .arg(self.rate)
                    .arg(self.burst)
                    .invoke_async(&mut conn.clone())
                    .await?;
                (tokens.parse().unwrap_or(0.0), allowed == 1)
            }
        };
        Ok(decision(allowed, tokens, self.rate, self.burst))
    }
}

pub async fn handle<E: Endpoint>(next: E, req: Request, limiter: &RateLimiter) -> Response {
    // Unauthenticated requests are not counted: the operation answers 401.
    let Some(key_id) = super::auth::caller(&req).map(|c| c.key_id.clone()) else {
        return next.get_response(req).await;
    };
    let decision = match limiter.check(&key_id).await {
        Ok(decision) => decision,
        Err(err) => {
            // Fail open: the limiter protects capacity, not money, and a
            // Redis outage should not take the payouts API down with it.
            tracing::error!(error = %err, "rate limiter unavailable; request not counted");
            return next.get_response(req).await;
        }
    };
    let mut response = if decision.allowed {
        next.get_response(req).await
    } else {
        tracing::info!(%key_id, "rate limited");
        error_response(ApiError::RateLimited {
            retry_after: decision.retry_after,
        })
    };
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", decision.limit.into());
    headers.insert("ratelimit-remaining", decision.remaining.into());
    headers.insert("ratelimit-reset", decision.reset.into());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_at_the_rate_and_caps_at_the_burst() {
        let (tokens, ok) = take(0.0, 0.0, 2.0, 3.0);
        assert!(!ok);
        assert_eq!(tokens, 0.0);
        // Half a second at 2/s refills one token, which is then taken.
        let (tokens, ok) = take(0.0, 0.5, 2.0, 3.0);
        assert!(ok);
        assert_eq!(tokens, 0.0);
        // A long pause refills only up to the burst.
        let (tokens, ok) = take(0.0, 100.0, 2.0, 3.0);
        assert!(ok);
        assert_eq!(tokens, 2.0);
    }

    #[test]
    fn headers_are_whole_seconds() {
        let d = decision(false, 0.25, 0.5, 4);
        assert_eq!((d.remaining, d.retry_after, d.reset), (0, 2, 8));
        let d = decision(true, 3.0, 100.0, 4);
        assert_eq!((d.remaining, d.reset, d.retry_after), (3, 1, 1));
    }
}
