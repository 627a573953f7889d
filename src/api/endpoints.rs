//! The operations. Each handler parses, calls the service layer, and shapes
//! the response; the rules live in `service` and `domain`.
use entity::organization;
use poem::Request;
use poem_openapi::{
    auth::ApiKey,
    param::{Header, Path, Query},
    payload::Json,
    ApiResponse, OpenApi, SecurityScheme, Tags,
};

use super::{
    error::ApiError,
    models::*,
    validate::{RawJson, ValidJson},
    views::{bank_account_view, livemode, payout_account_view, payout_view},
};
use crate::{
    error::{Error, FieldError},
    service::{
        accounts::{self, BankInput, VerificationInput},
        funds, ledger, payouts, webhooks, App,
    },
};

type Result<T> = std::result::Result<T, ApiError>;

/// `Idempotency-Key`: the request is applied once per organization and key
/// for 24 hours; a repeat gets the first answer (`Idempotent-Replayed: true`).
/// The middleware in `api::idempotency` does the work; operations declare it
/// so the spec documents it.
type IdempotencyKey = Header<Option<String>>;

#[derive(Tags)]
enum Tag {
    /// Payout accounts, bank accounts and payouts.
    Payouts,
    /// The organization's balance.
    Balance,
    /// Events from payout providers (signed, no API key).
    Webhooks,
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
        .ok_or_else(|| ApiError::Unauthorized.into())
}

fn app(req: &Request) -> std::result::Result<&App, Error> {
    req.data::<App>()
        .ok_or_else(|| Error::internal("app state missing"))
}

#[derive(ApiResponse)]
enum VerificationResponse {
    /// The payout account was created; it is `pending_verification`.
    #[oai(status = 201)]
    Created(Json<Success<PayoutVerification>>),
    /// The organization already had a payout account; nothing was done.
    #[oai(status = 200)]
    AlreadyExists(Json<Success<PayoutVerification>>),
}

#[derive(ApiResponse)]
enum PayoutAccountResponse {
    #[oai(status = 200)]
    Ok(Json<Success<PayoutAccount>>),
}

#[derive(ApiResponse)]
enum BankAccountCreated {
    #[oai(status = 201)]
    Created(Json<Success<PayoutBankAccount>>),
}

#[derive(ApiResponse)]
enum PayoutCreated {
    #[oai(status = 201)]
    Created(Json<Success<Payout>>),
}

#[derive(ApiResponse)]
enum PayoutResponse {
    #[oai(status = 200)]
    Ok(Json<Success<Payout>>),
}

#[derive(ApiResponse)]
enum BalanceResponse {
    #[oai(status = 200)]
    Ok(Json<Success<Balance>>),
}

#[derive(ApiResponse)]
enum BalanceTransactionsResponse {
    #[oai(status = 200)]
    Ok(Json<BalanceTransactionList>),
}

#[derive(ApiResponse)]
enum WebhookResponse {
    #[oai(status = 200)]
    Ok(Json<Success<WebhookReceipt>>),
}

pub struct PayoutsApi;

#[OpenApi]
impl PayoutsApi {
    /// Complete payout verification
    ///
    /// Provision the organization's payout account in a single call with the
    /// full KYC + bank payload. Uploads the identity document, persists the
    /// destination bank, and creates the connected account through the org's
    /// payout provider. The account starts `pending_verification` and flips to
    /// `verified` via the provider's webhook. Idempotent: returns the existing
    /// account if the org already has one.
    #[oai(
        path = "/payouts/verification",
        method = "post",
        tag = "Tag::Payouts",
        operation_id = "completePayoutVerification"
    )]
    async fn verification(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        body: ValidJson<VerificationRequest>,
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$")
        )]
        _idempotency_key: IdempotencyKey,
    ) -> Result<VerificationResponse> {
        let org = auth.0;
        let input = verification_input(body.0)?;
        let result = accounts::verify(app(req)?, &org, input).await?;
        let data = PayoutVerification {
            account: payout_account_view(&org, &result.account)?,
            already_exists: result.already_existed,
        };
        Ok(if result.already_existed {
            VerificationResponse::AlreadyExists(Json(Success::new(data)))
        } else {
            VerificationResponse::Created(Json(Success::new(data)))
        })
    }

    /// Get the payout account
    ///
    /// The organization's payout account and its verification status.
    #[oai(
        path = "/payouts/account",
        method = "get",
        tag = "Tag::Payouts",
        operation_id = "getPayoutAccount"
    )]
    async fn get_account(&self, req: &Request, auth: ApiKeyAuth) -> Result<PayoutAccountResponse> {
        let account = accounts::find_account(&app(req)?.read_db, &auth.0.id)
            .await?
            .ok_or_else(|| Error::NotFound("the organization has no payout account".into()))?;
        let data = payout_account_view(&auth.0, &account)?;
        Ok(PayoutAccountResponse::Ok(Json(Success::new(data))))
    }

    /// Add a payout bank account
    ///
    /// Registers a bank account with the payout provider. Needs an existing
    /// payout account. `setDefault: true` makes it the default; the first
    /// bank account is the default anyway.
    #[oai(
        path = "/payouts/bank-accounts",
        method = "post",
        tag = "Tag::Payouts",
        operation_id = "addPayoutBankAccount"
    )]
    async fn add_bank_account(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        body: ValidJson<BankAccountCreateRequest>,
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$")
        )]
        _idempotency_key: IdempotencyKey,
    ) -> Result<BankAccountCreated> {
        let body = body.0;
        let bank = BankInput {
            account_number: body.account_number,
            holder_name: body.account_holder_name,
            routing_number: body.routing_number,
            account_type: body.account_type.map(|t| t.as_str().to_string()),
        };
        let row =
            accounts::add_bank_account(app(req)?, &auth.0, bank, body.set_default.unwrap_or(false))
                .await?;
        Ok(BankAccountCreated::Created(Json(Success::new(
            bank_account_view(&auth.0, &row),
        ))))
    }

    /// Request a payout
    ///
    /// Withdraw available balance to the organization's verified payout
    /// account. `amount` is in cents (minimum 1000 = $10). The payout is
    /// created in `pending` and settles to `paid` asynchronously as provider
    /// webhooks arrive.
    #[oai(
        path = "/payouts",
        method = "post",
        tag = "Tag::Payouts",
        operation_id = "requestPayout"
    )]
    async fn create_payout(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        body: ValidJson<PayoutCreateRequest>,
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$")
        )]
        idempotency_key: IdempotencyKey,
    ) -> Result<PayoutCreated> {
        let body = body.0;
        let key = idempotency_key.0.as_deref();
        let row = payouts::create(app(req)?, &auth.0, body.amount, body.description, key).await?;
        Ok(PayoutCreated::Created(Json(Success::new(payout_view(
            &auth.0, &row,
        )?))))
    }

    /// Get a payout
    #[oai(
        path = "/payouts/:id",
        method = "get",
        tag = "Tag::Payouts",
        operation_id = "getPayout"
    )]
    async fn get_payout(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
    ) -> Result<PayoutResponse> {
        let row = payouts::find(&app(req)?.read_db, &auth.0.id, &id.0).await?;
        Ok(PayoutResponse::Ok(Json(Success::new(payout_view(
            &auth.0, &row,
        )?))))
    }

    /// Get the balance
    ///
    /// Available, pending, reserved (in payout) and paid-out amounts, in cents.
    #[oai(
        path = "/balance",
        method = "get",
        tag = "Tag::Balance",
        operation_id = "getBalance"
    )]
    async fn get_balance(&self, req: &Request, auth: ApiKeyAuth) -> Result<BalanceResponse> {
        let balance = ledger::get_balance(&app(req)?.read_db, &auth.0.id).await?;
        Ok(BalanceResponse::Ok(Json(Success::new(Balance {
            object: "balance".into(),
            livemode: livemode(&auth.0),
            available: balance.available,
            pending: balance.pending,
            in_payout: balance.in_payout,
            paid_out: balance.paid_out,
            currency: balance.currency,
        }))))
    }

    /// List balance transactions
    ///
    /// The ledger transactions behind the balance, newest first. Pass the
    /// previous page's `nextCursor` as `cursor` for the next page.
    #[oai(
        path = "/balance/transactions",
        method = "get",
        tag = "Tag::Balance",
        operation_id = "listBalanceTransactions"
    )]
    async fn list_balance_transactions(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// The `nextCursor` of the previous page.
        #[oai(validator(min_length = 1, max_length = 64))]
        cursor: Query<Option<String>>,
    ) -> Result<BalanceTransactionsResponse> {
        let limit = limit.0.unwrap_or(20) as u64;
        let page =
            funds::transactions(&app(req)?.read_db, &auth.0.id, limit, cursor.0.as_deref()).await?;
        let next_cursor = if page.has_more {
            page.items.last().map(|t| t.id.clone())
        } else {
            None
        };
        let data = page
            .items
            .into_iter()
            .map(|t| {
                Ok(BalanceTransaction {
                    object: "balance_transaction".into(),
                    kind: BalanceTransactionType::parse(&t.kind).ok_or_else(|| {
                        Error::internal(format!("unknown ledger kind {}", t.kind))
                    })?,
                    id: t.id,
                    amount: t.amount,
                    currency: t.currency,
                    payout_id: t.payout_id,
                    created_at: t.created_at.into(),
                })
            })
            .collect::<std::result::Result<Vec<_>, Error>>()?;
        Ok(BalanceTransactionsResponse::Ok(Json(
            BalanceTransactionList {
                success: true,
                data,
                has_more: page.has_more,
                next_cursor,
            },
        )))
    }
}

pub struct WebhooksApi;

#[OpenApi]
impl WebhooksApi {
    /// Receive a provider event
    ///
    /// Called by the payout provider, not by API clients. The body must carry
    /// the provider's signature (`Stripe-Signature: t=…,v1=…`, 5 minutes
    /// tolerance). Each event id is applied at most once.
    #[oai(
        path = "/webhooks/:provider",
        method = "post",
        tag = "Tag::Webhooks",
        operation_id = "receiveProviderWebhook"
    )]
    async fn receive(
        &self,
        req: &Request,
        provider: Path<String>,
        #[oai(name = "Stripe-Signature")] signature: Header<Option<String>>,
        body: RawJson,
    ) -> Result<WebhookResponse> {
        let applied =
            webhooks::handle(app(req)?, &provider.0, signature.0.as_deref(), &body.0).await?;
        let result = match applied {
            webhooks::Applied::Applied => "applied",
            webhooks::Applied::Ignored => "ignored",
            webhooks::Applied::Duplicate => "duplicate",
        };
        Ok(WebhookResponse::Ok(Json(Success::new(WebhookReceipt {
            received: true,
            result: result.into(),
        }))))
    }
}

/// Cross-field rules the schema cannot say.
fn verification_input(body: VerificationRequest) -> std::result::Result<VerificationInput, Error> {
    let mut errors = Vec::new();
    let (country, date_of_birth) = match body.business_type {
        BusinessType::Individual => match &body.individual {
            None => {
                errors.push(FieldError::new(
                    "individual",
                    "is required when businessType is individual",
                ));
                (String::new(), None)
            }
            Some(person) => {
                if person.date_of_birth.0 > chrono::Utc::now().date_naive() {
                    errors.push(FieldError::new(
                        "individual.dateOfBirth",
                        "must not be in the future",
                    ));
                }
                (person.address.country.clone(), Some(person.date_of_birth.0))
            }
        },
        BusinessType::Company => match &body.company {
            None => {
                errors.push(FieldError::new(
                    "company",
                    "is required when businessType is company",
                ));
                (String::new(), None)
            }
            Some(company) => (company.address.country.clone(), None),
        },
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(VerificationInput {
        email: body.email.0,
        business_type: body.business_type.as_str().to_string(),
        business_url: body.business_url,
        document_url: body.document_url,
        country,
        date_of_birth,
        bank: BankInput {
            account_number: body.bank.account_number,
            holder_name: body.bank.account_holder_name,
            routing_number: body.bank.routing_number,
            account_type: body.bank.account_type.map(|t| t.as_str().to_string()),
        },
    })
}
