//! The payout account: verification (KYC, the first bank account, the
//! provider's connected account) and reading it back.
mod models;

use entity::states::BusinessType;
use poem::Request;
use poem_openapi::{param::Header, payload::Json, ApiResponse, OpenApi};

pub use models::*;

use super::{app, ApiKeyAuth, Result, Tag};
use crate::{
    api::{
        validate::ValidJson,
        wire::{IdempotencyKey, Success},
    },
    error::{Error, FieldError},
    provider::{self, Person},
    service::accounts::{self, BankInput, VerificationInput},
};

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

pub struct Api;

#[OpenApi]
impl Api {
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
        #[oai(name = "Idempotency-Key")] _idempotency_key: Header<Option<IdempotencyKey>>,
    ) -> Result<VerificationResponse> {
        let org = auth.0;
        let input = verification_input(body.0)?;
        let result = accounts::verify(app(req)?, &org, input).await?;
        let data = PayoutVerification {
            account: PayoutAccount::view(&org, &result.account),
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
        let data = PayoutAccount::view(&auth.0, &account);
        Ok(PayoutAccountResponse::Ok(Json(Success::new(data))))
    }
}

fn address(a: Address) -> provider::Address {
    provider::Address {
        line1: a.line1.into_inner(),
        line2: a.line2.map(|l| l.into_inner()),
        city: a.city.into_inner(),
        state: a.state.map(|s| s.into_inner()),
        postal_code: a.postal_code.into_inner(),
        country: a.country,
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
    let individual = body.individual.map(|p| Person {
        first_name: p.first_name.into_inner(),
        last_name: p.last_name.into_inner(),
        phone: Some(p.phone.into_inner()),
        email: None,
        date_of_birth: Some(p.date_of_birth.0),
        ssn_last4: p.ssn_last4,
        id_number: p.id_number.map(|n| n.into_inner()),
        address: Some(address(p.address)),
    });
    let company = body.company.map(|c| provider::Company {
        name: c.name.into_inner(),
        tax_id: c.tax_id.into_inner(),
        address: address(c.address),
        representative: Person {
            first_name: c.representative.first_name.into_inner(),
            last_name: c.representative.last_name.into_inner(),
            phone: c.representative.phone.map(|p| p.into_inner()),
            email: c.representative.email.map(|e| e.0),
            ..Person::default()
        },
    });
    Ok(VerificationInput {
        individual,
        company,
        email: body.email.0,
        business_type: body.business_type,
        business_url: body.business_url.into_inner(),
        document_url: body.document_url.into_inner(),
        country,
        date_of_birth,
        bank: BankInput {
            account_number: body.bank.account_number,
            holder_name: body.bank.account_holder_name.into_inner(),
            routing_number: body.bank.routing_number,
            account_type: body.bank.account_type,
        },
    })
}
