//! Business rules in plain Rust: no HTTP, no database.
pub mod account_status;
pub mod api_version;
pub mod fees;
pub mod ledger;
pub mod payout_status;
