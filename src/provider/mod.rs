//! The payout provider: where connected accounts, bank accounts and
//! transfers really live. One trait; what differs between providers is
//! behind its methods, so services never ask which provider they hold.
//! Every provider this service runs is in one registry (`registry.rs`).
pub mod instrumented;
pub mod registry;
pub mod sandbox;
pub mod stripe;

use chrono::{DateTime, NaiveDate, Utc};
use entity::states::{BankAccountStatus, BankAccountType, BusinessType, OrgMode};

use crate::{
    document::Document,
    domain::{account_status::AccountStatus, payout_status::PayoutStatus},
};

/// The failure codes this service gives a payout itself. A provider's own
/// codes (e.g. `account_closed`) pass through as they are.
pub mod failure_code {
    /// The transfer to the connected account was reversed at the provider:
    /// the money is back at the platform already, nothing is reclaimed.
    pub const TRANSFER_REVERSED: &str = "transfer_reversed";
    /// The provider refused the payout without a code of its own, or never
    /// accepted it.
    pub const PROVIDER_ERROR: &str = "provider_error";
    /// A failure that came with no code.
    pub const UNKNOWN: &str = "unknown";
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider said no; retrying the same call will not help.
    #[error("{0}")]
    Refused(String),
    /// The provider refused one of our fields (`field` is our wire name,
    /// e.g. `bank.routingNumber`): the caller's input is wrong.
    #[error("{field} {message}")]
    Invalid { field: String, message: String },
    /// The provider refused the payout with its own failure code (e.g.
    /// `account_closed`): the payout fails with that code.
    #[error("{message}")]
    Declined { code: String, message: String },
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
    pub business_url: &'a str,
    pub country: &'a str,
    pub date_of_birth: Option<NaiveDate>,
    pub document_file_id: &'a str,
    pub individual: Option<&'a Person>,
    pub company: Option<&'a Company>,
    /// The first bank account, registered with the account where the
    /// provider allows it (see `CreatedAccount::external_account`).
    pub bank: &'a BankDetails<'a>,
}

#[derive(Debug, Clone, Default)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, Default)]
pub struct Person {
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub ssn_last4: Option<String>,
    pub id_number: Option<String>,
    pub address: Option<Address>,
}

#[derive(Debug, Clone, Default)]
pub struct Company {
    pub name: String,
    pub tax_id: String,
    pub address: Address,
    pub representative: Person,
}

/// A created connected account.
#[derive(Debug, Clone)]
pub struct CreatedAccount {
    pub id: String,
    /// The bank account registered with it, if the provider did so in the
    /// same call; otherwise the caller registers it.
    pub external_account: Option<ExternalAccount>,
}

/// A payout the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The money's move to the connected account (Stripe `tr_…`); the
    /// sandbox's single id.
    pub transfer_id: String,
    /// The connected account's payout to the bank (Stripe `po_…`).
    pub payout_id: Option<String>,
}

/// Where a submitted payout stands at the provider (reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutState {
    pub status: PayoutStatus,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
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
    /// The provider's last four digits, when it says.
    pub last4: Option<String>,
}

/// The smallest transfer, in cents, a provider is asked to make: a payout
/// whose fee leaves less than this for the bank is refused up front.
pub const MIN_TRANSFER_CENTS: i64 = 1;

pub struct PayoutRequest<'a> {
    /// Our payout id: the provider's idempotency key, so a retried call
    /// never creates a second transfer.
    pub payout_id: &'a str,
    /// Which try this is (0: the request's own call; then the submit job's
    /// attempt): a retry first looks up what an earlier try may have made.
    pub attempt: i32,
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
    /// A bank account's status changed at the provider.
    BankAccount {
        external_account_id: String,
        status: BankAccountStatus,
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
    /// The `{provider}` of `POST /api/v1/provider-webhooks/{provider}`, and
    /// what payouts, accounts and organizations record as theirs.
    fn name(&self) -> &'static str;
    /// The organizations it may serve: the sandbox serves sandbox ones; a
    /// real provider those of its credentials' mode (Stripe: a live key,
    /// live organizations; a test key, sandbox ones in its test mode).
    fn mode(&self) -> OrgMode {
        OrgMode::Sandbox
    }
    /// What sets `mode`, for the startup check that refuses credentials of
    /// the wrong mode (e.g. "STRIPE_SECRET_KEY is a live key (sk_live_)").
    /// `None`: nothing does (the sandbox), nothing to check.
    fn mode_set_by(&self) -> Option<String> {
        None
    }
    /// Whether a payout is two objects here: a transfer to the connected
    /// account, then that account's payout to its bank (Stripe). Then a
    /// payout is submitted only once both ids are recorded (`Submitted`),
    /// and one that fails or is canceled after its transfer has its money
    /// taken back (`reclaim`). `false`: one object, the transfer id.
    fn two_step(&self) -> bool {
        false
    }
    /// `idempotency_key` is derived from our own ids.
    async fn upload_document(
        &self,
        document: &Document,
        idempotency_key: &str,
    ) -> Result<String, ProviderError>;
    async fn create_account(
        &self,
        request: &AccountRequest<'_>,
    ) -> Result<CreatedAccount, ProviderError>;
    /// `idempotency_key`: our bank account's id. `set_default` makes it the
    /// default for its currency at the provider.
    async fn add_external_account(
        &self,
        account_id: &str,
        bank: &BankDetails<'_>,
        idempotency_key: &str,
        set_default: bool,
    ) -> Result<ExternalAccount, ProviderError>;
    async fn create_payout(&self, request: &PayoutRequest<'_>) -> Result<Submitted, ProviderError>;
    /// Whether the provider already made this payout (after a timeout or a
    /// 5xx, whose outcome is unknown). `Ok(None)`: certainly not made.
    async fn find_payout(
        &self,
        _request: &PayoutRequest<'_>,
    ) -> Result<Option<Submitted>, ProviderError> {
        Ok(None)
    }
    /// Takes back, to the platform, the money of a payout the bank failed or
    /// that was canceled after it reached the connected account (Stripe:
    /// reverses the transfer). Idempotent per payout.
    async fn reclaim(&self, _transfer_id: &str, _payout_id: &str) -> Result<(), ProviderError> {
        Ok(())
    }
    /// Where a submitted payout stands (`None`: the provider cannot say;
    /// its events are the only source).
    async fn payout_state(
        &self,
        _account_id: &str,
        _submitted: &Submitted,
    ) -> Result<Option<PayoutState>, ProviderError> {
        Ok(None)
    }
    /// Checks the signature and parses a webhook body.
    fn parse_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ProviderEvent, WebhookError>;
}
