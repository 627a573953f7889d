//! sea-orm entities: one module per table. The schema itself lives in the
//! `migration` crate; these structs mirror it.
pub mod api_key;
pub mod balance;
pub mod bank_account;
pub mod credit;
pub mod debit;
pub mod hold;
pub mod idempotency_key;
pub mod job;
pub mod ledger_entry;
pub mod ledger_transaction;
pub mod organization;
pub mod payout;
pub mod payout_account;
pub mod provider_event;
pub mod states;
pub mod verification_claim;
pub mod webhook_delivery;
pub mod webhook_delivery_attempt;
pub mod webhook_endpoint;
pub mod webhook_event;
