//! Bank accounts that payouts are sent to.
use entity::{
    bank_account, organization,
    states::{BankAccountStatus, BankAccountType},
};
use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    types::Example,
    ApiResponse, Object, OpenApi,
};

use super::{app, livemode, ApiKeyAuth, Result, Tag};
use crate::{
    api::{
        validate::ValidJson,
        wire::{example_time, IdempotencyKey, List, NonBlank, Success, Timestamp},
    },
    service::accounts::{self, BankInput},
};

/// The sandbox's test bank: these numbers verify and pay (the sandbox's
/// `000111111116` and friends fail). The request examples use them, so
/// Swagger UI's "Try it out" works against the sandbox.
pub struct SandboxBank {
    pub routing_number: &'static str,
    pub account_number: &'static str,
}

pub const SANDBOX_BANK: SandboxBank = SandboxBank {
    routing_number: "110000000",
    account_number: "000123456789",
};

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct BankAccountCreateRequest {
    /// The full account number. Stored encrypted; never returned.
    #[oai(validator(pattern = "^[0-9A-Za-z]{1,34}$"))]
    pub account_number: String,
    pub account_holder_name: NonBlank<200>,
    #[oai(validator(pattern = "^[0-9A-Za-z]{1,34}$"))]
    pub routing_number: Option<String>,
    pub account_type: Option<BankAccountType>,
    /// Make this the default bank account (the old default stops being one).
    pub set_default: Option<bool>,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct PayoutBankAccount {
    /// Always `payout_bank_account`.
    pub object: String,
    pub livemode: bool,
    pub id: String,
    #[oai(nullable)]
    pub provider_external_account_id: Option<String>,
    pub holder_name: String,
    pub last4: String,
    #[oai(nullable)]
    pub bank_name: Option<String>,
    pub country: String,
    pub currency: String,
    #[oai(nullable)]
    pub account_type: Option<BankAccountType>,
    pub is_default: bool,
    pub status: BankAccountStatus,
    pub created_at: Timestamp,
}

impl PayoutBankAccount {
    pub fn view(org: &organization::Model, row: &bank_account::Model) -> Self {
        Self {
            object: "payout_bank_account".into(),
            livemode: livemode(org),
            id: row.id.clone(),
            provider_external_account_id: row.provider_external_account_id.clone(),
            holder_name: row.holder_name.clone(),
            last4: row.last4.clone(),
            bank_name: row.bank_name.clone(),
            country: row.country.clone(),
            currency: row.currency.clone(),
            account_type: row.account_type,
            is_default: row.is_default,
            status: row.status,
            created_at: row.created_at.into(),
        }
    }
}

#[derive(ApiResponse)]
enum BankAccountCreated {
    #[oai(status = 201)]
    Created(Json<Success<PayoutBankAccount>>),
}

#[derive(ApiResponse)]
enum BankAccountResponse {
    #[oai(status = 200)]
    Ok(Json<Success<PayoutBankAccount>>),
}

#[derive(ApiResponse)]
enum BankAccountList {
    #[oai(status = 200)]
    Ok(Json<List<PayoutBankAccount>>),
}

/// What a delete answers: the id of what is gone.
#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct DeletedBankAccount {
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
    /// Always `payout_bank_account`.
    pub object: String,
    pub livemode: bool,
}

#[derive(ApiResponse)]
enum BankAccountDeleted {
    #[oai(status = 200)]
    Ok(Json<Success<DeletedBankAccount>>),
}

pub struct Api;

#[OpenApi]
impl Api {
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
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<BankAccountCreated> {
        let body = body.0;
        let bank = BankInput {
            account_number: body.account_number,
            holder_name: body.account_holder_name.into_inner(),
            routing_number: body.routing_number,
            account_type: body.account_type,
        };
        let row =
            accounts::add_bank_account(app(req)?, &auth.0, bank, body.set_default.unwrap_or(false))
                .await?;
        Ok(BankAccountCreated::Created(Json(Success::new(
            PayoutBankAccount::view(&auth.0, &row),
        ))))
    }

    /// List payout bank accounts
    ///
    /// The organization's bank accounts, newest first (deleted ones are
    /// not listed). Only the last four digits of each number are shown.
    #[oai(
        path = "/payouts/bank-accounts",
        method = "get",
        tag = "Tag::Payouts",
        operation_id = "listPayoutBankAccounts"
    )]
    async fn list_bank_accounts(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// The `nextCursor` of the previous page.
        #[oai(validator(min_length = 1, max_length = 64))]
        cursor: Query<Option<String>>,
    ) -> Result<BankAccountList> {
        let limit = limit.0.unwrap_or(20) as u64;
        let page = accounts::list_bank_accounts(
            &app(req)?.read_db,
            &auth.0.id,
            limit,
            cursor.0.as_deref(),
        )
        .await?;
        let org = &auth.0;
        Ok(BankAccountList::Ok(Json(List::from_page(
            page,
            |row| row.id.clone(),
            |row| PayoutBankAccount::view(org, &row),
        ))))
    }

    /// Make a bank account the default
    ///
    /// Payouts go to the default bank account; the old default stops being
    /// one. Already the default: nothing changes.
    #[oai(
        path = "/payouts/bank-accounts/:id/default",
        method = "post",
        tag = "Tag::Payouts",
        operation_id = "setDefaultPayoutBankAccount"
    )]
    async fn set_default_bank_account(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<BankAccountResponse> {
        let row = accounts::set_default_bank_account(app(req)?, &auth.0.id, &id.0).await?;
        Ok(BankAccountResponse::Ok(Json(Success::new(
            PayoutBankAccount::view(&auth.0, &row),
        ))))
    }

    /// Delete a bank account
    ///
    /// Refused (409) for the default bank account
    /// (`bank_account_is_default`) and for one with payouts still pending or
    /// in transit (`bank_account_in_use`). Settled payouts keep their
    /// history.
    #[oai(
        path = "/payouts/bank-accounts/:id",
        method = "delete",
        tag = "Tag::Payouts",
        operation_id = "deletePayoutBankAccount"
    )]
    async fn delete_bank_account(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        id: Path<String>,
    ) -> Result<BankAccountDeleted> {
        let row = accounts::delete_bank_account(app(req)?, &auth.0.id, &id.0).await?;
        Ok(BankAccountDeleted::Ok(Json(Success::new(
            DeletedBankAccount {
                id: row.id,
                deleted: true,
                object: "payout_bank_account".into(),
                livemode: livemode(&auth.0),
            },
        ))))
    }
}

impl Example for DeletedBankAccount {
    fn example() -> Self {
        Self {
            id: "pba_7HgT2mQx9LpV4sN8kZr1wYcB".into(),
            deleted: true,
            object: "payout_bank_account".into(),
            livemode: false,
        }
    }
}

impl Example for BankAccountCreateRequest {
    fn example() -> Self {
        Self {
            account_number: SANDBOX_BANK.account_number.into(),
            account_holder_name: "Ada Lovelace".into(),
            routing_number: Some(SANDBOX_BANK.routing_number.into()),
            account_type: Some(BankAccountType::Savings),
            set_default: Some(true),
        }
    }
}

impl Example for PayoutBankAccount {
    fn example() -> Self {
        Self {
            object: "payout_bank_account".into(),
            livemode: false,
            id: "pba_7HgT2mQx9LpV4sN8kZr1wYcB".into(),
            provider_external_account_id: Some("ba_Jd83kLq0Zt5xWm2vNp7rYs4Q_ok".into()),
            holder_name: "Ada Lovelace".into(),
            last4: "6789".into(),
            bank_name: Some("STRIPE TEST BANK".into()),
            country: "US".into(),
            currency: "usd".into(),
            account_type: Some(BankAccountType::Savings),
            is_default: true,
            status: BankAccountStatus::Active,
            created_at: example_time(10, 5),
        }
    }
}
