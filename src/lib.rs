//! A self-hostable payouts API, wire-compatible with Commet's.
// The middleware stack nests deeply; release builds need a higher limit to
// compute the server future's layout.
#![recursion_limit = "256"]
pub mod api;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod document;
pub mod domain;
pub mod error;
pub mod group_commit;
pub mod ids;
pub mod jobs;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod provider;
pub mod queue;
pub mod server;
pub mod service;
