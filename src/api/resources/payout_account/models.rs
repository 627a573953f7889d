//! The payout account's wire shapes: the verification request (KYC and the
//! first bank account), the account, and their examples.
use entity::{
    organization, payout_account,
    states::{AccountStatus, BankAccountType, BusinessType},
};
use poem_openapi::{
    types::{Email, Example},
    Object,
};

use crate::api::{
    resources::{bank_accounts::SANDBOX_BANK, livemode},
    wire::{example_time, Date, FetchUrl, HttpUrl, NoNul, NonBlank, Timestamp},
};

/// Served by the README's quickstart (allow-listed in the sandbox).
pub const DOCUMENT_URL: &str = "http://127.0.0.1:8000/example-id.png";

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct Address {
    pub line1: NonBlank<200>,
    pub line2: Option<NoNul<200>>,
    pub city: NonBlank<100>,
    pub state: Option<NoNul<100>>,
    pub postal_code: NonBlank<20>,
    /// ISO 3166-1 alpha-2, upper case.
    #[oai(validator(pattern = "^[A-Z]{2}$"))]
    pub country: String,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct Individual {
    pub first_name: NonBlank<100>,
    pub last_name: NonBlank<100>,
    pub phone: NonBlank<40>,
    /// YYYY-MM-DD
    pub date_of_birth: Date,
    #[oai(validator(pattern = "^[0-9]{4}$"))]
    pub ssn_last4: Option<String>,
    #[oai(validator(min_length = 1))]
    pub id_number: Option<NoNul<100>>,
    pub address: Address,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct Representative {
    pub first_name: NonBlank<100>,
    pub last_name: NonBlank<100>,
    pub phone: Option<NoNul<40>>,
    pub email: Option<Email>,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct Company {
    pub name: NonBlank<200>,
    pub tax_id: NonBlank<50>,
    pub address: Address,
    pub representative: Representative,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct VerificationBank {
    /// The full account number. Stored encrypted; never returned.
    #[oai(validator(pattern = "^[0-9A-Za-z]{1,34}$"))]
    pub account_number: String,
    pub account_holder_name: NonBlank<200>,
    #[oai(validator(pattern = "^[0-9A-Za-z]{1,34}$"))]
    pub routing_number: Option<String>,
    pub account_type: Option<BankAccountType>,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct VerificationRequest {
    pub email: Email,
    pub business_type: BusinessType,
    pub business_url: HttpUrl<2048>,
    /// Public https URL of the identity document (image or PDF), without
    /// credentials.
    pub document_url: FetchUrl<2048>,
    pub bank: VerificationBank,
    /// Required when `businessType` is `individual`.
    pub individual: Option<Individual>,
    /// Required when `businessType` is `company`.
    pub company: Option<Company>,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct PayoutAccount {
    /// Always `payout_account`.
    pub object: String,
    pub livemode: bool,
    pub id: String,
    pub provider_account_id: String,
    pub status: AccountStatus,
    pub transfers_enabled: bool,
    pub business_type: BusinessType,
    pub country: String,
    pub created_at: Timestamp,
}

/// The verification call's answer: the payout account, and whether it
/// existed before the call (then nothing was done).
#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct PayoutVerification {
    #[oai(flatten)]
    pub account: PayoutAccount,
    pub already_exists: bool,
}

impl PayoutAccount {
    pub fn view(org: &organization::Model, account: &payout_account::Model) -> Self {
        Self {
            object: "payout_account".into(),
            livemode: livemode(org),
            id: account.id.clone(),
            provider_account_id: account.provider_account_id.clone(),
            status: account.status,
            transfers_enabled: account.transfers_enabled,
            business_type: account.business_type,
            country: account.country.clone(),
            created_at: account.created_at.into(),
        }
    }
}

// ---------- examples (Swagger UI's "Try it out" sends the requests) ----------

impl Example for Address {
    fn example() -> Self {
        Self {
            line1: "1 Market St".into(),
            line2: Some("Suite 300".into()),
            city: "San Francisco".into(),
            state: Some("CA".into()),
            postal_code: "94105".into(),
            country: "US".into(),
        }
    }
}

impl Example for Individual {
    fn example() -> Self {
        Self {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            phone: "+14155550123".into(),
            date_of_birth: Date(chrono::NaiveDate::from_ymd_opt(1990, 12, 10).unwrap()),
            ssn_last4: Some("0000".into()),
            id_number: None,
            address: Address::example(),
        }
    }
}

impl Example for Representative {
    fn example() -> Self {
        Self {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            phone: Some("+14155550123".into()),
            email: Some(Email("ada@acme.example".into())),
        }
    }
}

impl Example for Company {
    fn example() -> Self {
        Self {
            name: "Acme Inc.".into(),
            tax_id: "12-3456789".into(),
            address: Address::example(),
            representative: Representative::example(),
        }
    }
}

impl Example for VerificationBank {
    fn example() -> Self {
        Self {
            account_number: SANDBOX_BANK.account_number.into(),
            account_holder_name: "Ada Lovelace".into(),
            routing_number: Some(SANDBOX_BANK.routing_number.into()),
            account_type: Some(BankAccountType::Checking),
        }
    }
}

impl Example for VerificationRequest {
    fn example() -> Self {
        Self {
            email: Email("ada@acme.example".into()),
            business_type: BusinessType::Individual,
            business_url: "https://acme.example".into(),
            document_url: DOCUMENT_URL.into(),
            bank: VerificationBank::example(),
            individual: Some(Individual::example()),
            company: None,
        }
    }
}

impl Example for PayoutAccount {
    fn example() -> Self {
        Self {
            object: "payout_account".into(),
            livemode: false,
            id: "pacct_3kTqXv9LmN2pR7sW1yZb4cDe".into(),
            provider_account_id: "acct_9f86d081884c7d659a2feaa0".into(),
            status: AccountStatus::PendingVerification,
            transfers_enabled: false,
            business_type: BusinessType::Individual,
            country: "US".into(),
            created_at: example_time(10, 0),
        }
    }
}

impl Example for PayoutVerification {
    fn example() -> Self {
        Self {
            account: PayoutAccount::example(),
            already_exists: false,
        }
    }
}
