//! Wire shapes: request bodies and response objects, camelCase on the wire.
//! The OpenAPI schema is derived from these; validation rules live in the
//! `validator(...)` attributes and are enforced by `validate::ValidJson`.
//! Each object has an example (`api::examples`).
use poem_openapi::{
    types::{Email, ParseFromJSON, ToJSON},
    Object,
};

pub use super::wire_types::{Date, Timestamp};
pub use entity::states::{
    AccountStatus, BankAccountStatus, BankAccountType, BusinessType, LedgerKind, PayoutStatus,
};

// ---------- common ----------

/// `{"success": true, "data": …}`
#[derive(Object, Debug)]
#[oai(example)]
pub struct Success<T: ParseFromJSON + ToJSON> {
    pub success: bool,
    pub data: T,
}

impl<T: ParseFromJSON + ToJSON> Success<T> {
    pub fn new(data: T) -> Self {
        Self {
            success: true,
            data,
        }
    }
}

// ---------- verification ----------
//
// Text patterns spell out Unicode's whitespace (the White_Space property) and
// exclude NUL: `\s` means different sets in Rust, ECMAScript and Python, so
// clients and schema-driven tools would disagree with this service on it;
// PostgreSQL cannot store NUL.

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct Address {
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub line1: String,
    #[oai(validator(max_length = 200, pattern = r"^[^\x00]*$"))]
    pub line2: Option<String>,
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub city: String,
    #[oai(validator(max_length = 100, pattern = r"^[^\x00]*$"))]
    pub state: Option<String>,
    #[oai(validator(
        min_length = 1,
        max_length = 20,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    #[oai(validator(pattern = "^[A-Z]{2}$"))]
    pub country: String,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct Individual {
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub first_name: String,
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub last_name: String,
    #[oai(validator(
        min_length = 1,
        max_length = 40,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub phone: String,
    /// YYYY-MM-DD
    pub date_of_birth: Date,
    #[oai(validator(pattern = "^[0-9]{4}$"))]
    pub ssn_last4: Option<String>,
    #[oai(validator(min_length = 1, max_length = 100, pattern = r"^[^\x00]*$"))]
    pub id_number: Option<String>,
    pub address: Address,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct Representative {
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub first_name: String,
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub last_name: String,
    #[oai(validator(max_length = 40, pattern = r"^[^\x00]*$"))]
    pub phone: Option<String>,
    pub email: Option<Email>,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct Company {
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub name: String,
    #[oai(validator(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub tax_id: String,
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
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub account_holder_name: String,
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
    #[oai(validator(
        max_length = 2048,
        pattern = r"^https?://[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000/?#]+[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    ))]
    pub business_url: String,
    /// Public https URL of the identity document (image or PDF).
    #[oai(validator(
        max_length = 2048,
        pattern = r"^https?://[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000/?#]+[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    ))]
    pub document_url: String,
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

// ---------- bank accounts ----------

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct BankAccountCreateRequest {
    /// The full account number. Stored encrypted; never returned.
    #[oai(validator(pattern = "^[0-9A-Za-z]{1,34}$"))]
    pub account_number: String,
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    ))]
    pub account_holder_name: String,
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

// ---------- payouts ----------

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct PayoutCreateRequest {
    /// Payout amount in cents. Minimum 1000 ($10).
    #[oai(validator(minimum(value = "1000"), maximum(value = "100000000000")))]
    pub amount: i64,
    #[oai(validator(max_length = 500, pattern = r"^[^\x00]*$"))]
    pub description: Option<String>,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct Payout {
    /// Always `payout`.
    pub object: String,
    pub livemode: bool,
    pub id: String,
    pub status: PayoutStatus,
    pub amount: i64,
    pub fee: i64,
    pub net_amount: i64,
    pub currency: String,
    #[oai(nullable)]
    pub description: Option<String>,
    /// Null until the provider has accepted the payout.
    #[oai(nullable)]
    pub provider_transfer_id: Option<String>,
    /// Set when `status` is `failed` (e.g. `no_account`).
    #[oai(nullable)]
    pub failure_code: Option<String>,
    #[oai(nullable)]
    pub failure_message: Option<String>,
    pub created_at: Timestamp,
}

// ---------- balance ----------

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct Balance {
    /// Always `balance`.
    pub object: String,
    pub livemode: bool,
    /// Can be paid out now.
    pub available: i64,
    /// Credited but not yet released.
    pub pending: i64,
    /// Reserved by payouts not final yet.
    pub in_payout: i64,
    /// Paid out, net of fees.
    pub paid_out: i64,
    pub currency: String,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct BalanceTransaction {
    /// Always `balance_transaction`.
    pub object: String,
    pub id: String,
    #[oai(rename = "type")]
    pub kind: LedgerKind,
    /// Cents moved.
    pub amount: i64,
    pub currency: String,
    #[oai(nullable)]
    pub payout_id: Option<String>,
    pub created_at: Timestamp,
}

/// `{"success": true, "data": [...], "hasMore": …, "nextCursor": …}`
#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct BalanceTransactionList {
    pub success: bool,
    pub data: Vec<BalanceTransaction>,
    pub has_more: bool,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

// ---------- webhooks ----------

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct WebhookReceipt {
    pub received: bool,
    /// `applied`, `ignored` (stale or not applicable) or `duplicate`.
    pub result: String,
}
