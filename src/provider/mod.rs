//! The payout provider: where connected accounts, bank accounts and
//! transfers really live. One trait; the sandbox is the default.
pub mod instrumented;
pub mod sandbox;

use chrono::{DateTime, NaiveDate, Utc};
use entity::states::{BankAccountType, BusinessType};

use crate::{
    document::Document,
    domain::{account_status::AccountStatus, payout_status::PayoutStatus},
};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider said no; retrying the same call will not help.
    #[error("{0}")]
    Refused(String),
    /// Timeout, 5xx, connection failure: the call may be retried (with the
    /// same idempotency key).
    #[error("{0}")]
    Unavailable(String),
}

pub struct AccountRequest<'a> {
    /// Our payout account id: the provider's idempotency key.
    pub idempotency_key: &'a str,
    pub email: &'a str,
    pub business_type: BusinessType,
    pub country: &'a str,
    pub date_of_birth: Option<NaiveDate>,
    pub document_file_id: &'a str,
}

pub struct BankDetails<'a> {
    pub account_number: &'a str,
    pub routing_number: Option<&'a str>,
    pub holder_name: &'a str,
    pub account_type: Option<BankAccountType>,
    pub country: &'a str,
    pub currency: &'a str,
}

#[derive(Debug, Clone)]
pub struct ExternalAccount {
    pub id: String,
    pub bank_name: Option<String>,
}

/// The smallest transfer, in cents, a provider is asked to make: a payout
/// whose fee leaves less than this for the bank is refused up front.
pub const MIN_TRANSFER_CENTS: i64 = 1;

pub struct PayoutRequest<'a> {
    /// Our payout id: the provider's idempotency key, so a retried call
    /// never creates a second transfer.
    pub payout_id: &'a str,
    pub account_id: &'a str,
    pub external_account_id: &'a str,
    /// What the bank receives: the payout's `netAmount`. The fee stays with
    /// the platform, so it is never part of the transfer.
    pub net_amount: i64,
    /// The fee withheld, for the provider's records (metadata) only.
    pub fee: i64,
    pub currency: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventObject {
    Account {
        account_id: String,
        status: AccountStatus,
    },
    Payout {
        transfer_id: String,
        /// Our id, echoed back from the transfer's metadata.
        payout_id: Option<String>,
        status: PayoutStatus,
        failure_code: Option<String>,
        failure_message: Option<String>,
    },
    /// An event type this service does not act on.
    Other,
}

/// Why a webhook body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Missing, malformed, stale or wrong signature: nothing in the body is
    /// trusted, not even its shape.
    #[error("{0}")]
    Signature(String),
    /// Correctly signed, but not an event this provider sends.
    #[error("{0}")]
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    pub id: String,
    pub event_type: String,
    pub created: DateTime<Utc>,
    pub object: EventObject,
}

#[async_trait::async_trait]
pub trait PayoutProvider: Send + Sync {
    /// The `{provider}` of `POST /api/v1/provider-webhooks/{provider}`.
    fn name(&self) -> &'static str;
    async fn upload_document(&self, document: &Document) -> Result<String, ProviderError>;
    async fn create_account(&self, request: &AccountRequest<'_>) -> Result<String, ProviderError>;
    async fn add_external_account(
        &self,
        account_id: &str,
        bank: &BankDetails<'_>,
    ) -> Result<ExternalAccount, ProviderError>;
    async fn create_payout(&self, request: &PayoutRequest<'_>) -> Result<String, ProviderError>;
    /// Checks the signature and parses a webhook body.
    fn parse_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ProviderEvent, WebhookError>;
}
