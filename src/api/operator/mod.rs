//! The operator API, `/operator/v1`: what the platform that runs this
//! service does over the network instead of the CLI (organizations, their
//! keys, and money in and out: credits, holds, debits, the ledger export).
//! Its own OpenAPI document (`/operator/openapi.json`, committed as
//! `operator-openapi.yaml`) and Swagger UI (`/operator/docs`); the same
//! envelope, error table, `Idempotency-Key` and cursor lists as the public
//! API. Only an operator token opens it (`api::auth`). Handlers parse, call
//! `service` and shape the answer.
pub mod funds;
pub mod ledger;
pub mod organizations;

use poem::Request;
use poem_openapi::{auth::Bearer, SecurityScheme, Tags};

use crate::{error::Error, service::App};

pub type Apis = (organizations::Api, funds::Api, ledger::Api);
pub const APIS: Apis = (organizations::Api, funds::Api, ledger::Api);

type Result<T> = std::result::Result<T, super::error::ApiError>;

#[derive(Tags)]
enum Tag {
    /// Organizations and their API keys.
    Organizations,
    /// Money in and out of an organization's balance.
    Funds,
    /// The ledger, for accounting.
    Ledger,
}

/// An operator token (`PAYOUTS_OPERATOR_TOKENS`; `payouts operator-token
/// create` makes one), as `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_operator_token")]
pub struct OperatorAuth(());

/// The token was checked once by `api::auth` for this request.
async fn check_operator_token(req: &Request, _token: Bearer) -> poem::Result<()> {
    super::auth::operator(req)
        .map(|_| ())
        .ok_or_else(|| super::error::ApiError::OperatorUnauthorized.into())
}

fn app(req: &Request) -> std::result::Result<&App, Error> {
    req.data::<App>()
        .ok_or_else(|| Error::internal("app state missing"))
}
