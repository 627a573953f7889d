//! The operations, one module per resource: its handlers, its request and
//! response shapes, their examples and the `From<&Model>` views. Handlers
//! parse, call the service layer and shape the answer; the rules live in
//! `service` and `domain`. To add an endpoint, add it to its resource's
//! `Api` (or a new resource module listed in `Apis`).
pub mod balance;
pub mod bank_accounts;
pub mod payout_account;
pub mod payouts;
pub mod provider_webhooks;
#[cfg(test)]
mod schema_tests;
pub mod webhooks;

use entity::{organization, states::OrgMode};
use poem::Request;
use poem_openapi::{auth::ApiKey, SecurityScheme, Tags};

use crate::{error::Error, service::App};

/// Every resource's operations, in the spec's order.
pub type Apis = (
    payout_account::Api,
    bank_accounts::Api,
    payouts::Api,
    balance::Api,
    webhooks::Api,
    provider_webhooks::Api,
);

pub const APIS: Apis = (
    payout_account::Api,
    bank_accounts::Api,
    payouts::Api,
    balance::Api,
    webhooks::Api,
    provider_webhooks::Api,
);

type Result<T> = std::result::Result<T, super::error::ApiError>;

#[derive(Tags)]
enum Tag {
    /// Payout accounts, bank accounts and payouts.
    Payouts,
    /// The organization's balance.
    Balance,
    /// The organization's webhook endpoints, their deliveries and its events.
    Webhooks,
    /// Events from payout providers (signed, no API key).
    ProviderWebhooks,
}

/// The organization's secret API key (`ck_live_…` or `ck_test_…`).
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "x-api-key",
    key_in = "header",
    checker = "check_api_key"
)]
pub struct ApiKeyAuth(organization::Model);

/// The key was looked up once by `api::auth` for this request.
async fn check_api_key(req: &Request, _key: ApiKey) -> poem::Result<organization::Model> {
    super::auth::caller(req)
        .map(|caller| caller.org.clone())
        .ok_or_else(|| super::error::ApiError::Unauthorized.into())
}

fn app(req: &Request) -> std::result::Result<&App, Error> {
    req.data::<App>()
        .ok_or_else(|| Error::internal("app state missing"))
}

fn livemode(org: &organization::Model) -> bool {
    org.mode == OrgMode::Live
}
