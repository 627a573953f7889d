//! The spec's examples, which Swagger UI's "Try it out" sends and shows.
//! Request examples work against the sandbox as the README's quickstart
//! sets it up (identity document served on 127.0.0.1:8000, allow-listed;
//! the sandbox's test routing and account numbers, which verify and pay).
//! `tests/spec.rs` checks that each example validates against its schema.
//! Request bodies are serialized only for these examples, and skip absent
//! fields (`skip_serializing_if_is_none`), so they show no `null` where the
//! schema does not allow it.
use chrono::{NaiveDate, TimeZone, Utc};
use poem_openapi::types::{Email, Example, ParseFromJSON, ToJSON};
use serde_json::{json, Value};

use super::{
    error::{ErrorBody, ErrorEnvelope, FieldErrorDetail},
    error_codes::{self, ErrorCode},
    models::*,
};

/// The identity document the README's quickstart serves.
pub const DOCUMENT_URL: &str = "http://127.0.0.1:8000/example-id.png";
const ROUTING_NUMBER: &str = "110000000";
/// Pays in the sandbox (`000111111116` and friends fail).
const ACCOUNT_NUMBER: &str = "000123456789";

fn at(hour: u32, minute: u32) -> Timestamp {
    Timestamp(Utc.with_ymd_and_hms(2026, 6, 12, hour, minute, 0).unwrap())
}

/// A sandbox provider event (delivered signed, with `Stripe-Signature`).
pub fn provider_event() -> Value {
    json!({
        "id": "evt_4e07408562bedb8b60ce05c1",
        "object": "event",
        "type": "payout.paid",
        "created": 1781258700,
        "data": {"object": {
            "id": "tr_2c26b46b68ffc68ff99b453c",
            "status": "paid",
            "amount": 2500,
            "currency": "usd",
            "metadata": {"payout_id": "po_5bWn8Kq2Xr7TzL1mVc4Hy9Dg"},
        }},
    })
}

impl<T: ParseFromJSON + ToJSON + Example> Example for Success<T> {
    fn example() -> Self {
        Success::new(T::example())
    }
}

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
            date_of_birth: Date(NaiveDate::from_ymd_opt(1990, 12, 10).unwrap()),
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
            account_number: ACCOUNT_NUMBER.into(),
            account_holder_name: "Ada Lovelace".into(),
            routing_number: Some(ROUTING_NUMBER.into()),
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
            status: PayoutAccountStatus::PendingVerification,
            transfers_enabled: false,
            business_type: BusinessType::Individual,
            country: "US".into(),
            created_at: at(10, 0),
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

impl Example for BankAccountCreateRequest {
    fn example() -> Self {
        Self {
            account_number: ACCOUNT_NUMBER.into(),
            account_holder_name: "Ada Lovelace".into(),
            routing_number: Some(ROUTING_NUMBER.into()),
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
            created_at: at(10, 5),
        }
    }
}

impl Example for PayoutCreateRequest {
    fn example() -> Self {
        Self {
            amount: 2500,
            description: Some("Weekly payout".into()),
        }
    }
}

impl Example for Payout {
    fn example() -> Self {
        Self {
            object: "payout".into(),
            livemode: false,
            id: "po_5bWn8Kq2Xr7TzL1mVc4Hy9Dg".into(),
            status: PayoutStatus::Pending,
            amount: 2500,
            fee: 0,
            net_amount: 2500,
            currency: "usd".into(),
            description: Some("Weekly payout".into()),
            provider_transfer_id: Some("tr_2c26b46b68ffc68ff99b453c".into()),
            failure_code: None,
            failure_message: None,
            created_at: at(10, 10),
        }
    }
}

impl Example for Balance {
    fn example() -> Self {
        Self {
            object: "balance".into(),
            livemode: false,
            available: 47500,
            pending: 0,
            in_payout: 2500,
            paid_out: 0,
            currency: "usd".into(),
        }
    }
}

impl Example for BalanceTransaction {
    fn example() -> Self {
        Self {
            object: "balance_transaction".into(),
            id: "txn_8PzR3nW6Kq1Xv5Tm9Ls2Hc7J".into(),
            kind: BalanceTransactionType::Payout,
            amount: 2500,
            currency: "usd".into(),
            payout_id: Some("po_5bWn8Kq2Xr7TzL1mVc4Hy9Dg".into()),
            created_at: at(10, 10),
        }
    }
}

impl Example for BalanceTransactionList {
    fn example() -> Self {
        let credit = BalanceTransaction {
            id: "txn_1Aq9Zr4Xm7Kt2Wn5Lp8Hs3Vc".into(),
            kind: BalanceTransactionType::Credit,
            amount: 50000,
            payout_id: None,
            created_at: at(9, 55),
            ..BalanceTransaction::example()
        };
        Self {
            success: true,
            data: vec![BalanceTransaction::example(), credit],
            has_more: false,
            next_cursor: None,
        }
    }
}

impl Example for WebhookReceipt {
    fn example() -> Self {
        Self {
            received: true,
            result: "applied".into(),
        }
    }
}

impl Example for FieldErrorDetail {
    fn example() -> Self {
        Self {
            field: "amount".into(),
            message: "must be at least 1000".into(),
        }
    }
}

/// The envelope `entry`'s code answers with, for the spec's error examples.
pub fn error_envelope(entry: &ErrorCode) -> ErrorEnvelope {
    let field = (entry.code == error_codes::VALIDATION_ERROR.code).then(FieldErrorDetail::example);
    ErrorEnvelope {
        success: false,
        error: ErrorBody {
            kind: entry.kind.into(),
            code: entry.code.into(),
            message: entry.example.into(),
            param: field.as_ref().map(|f| f.field.clone()),
            details: field.map(|f| vec![f]),
            doc_url: format!("http://127.0.0.1:8080/docs/errors/{}", entry.code),
        },
    }
}

impl Example for ErrorBody {
    fn example() -> Self {
        error_envelope(&error_codes::VALIDATION_ERROR).error
    }
}

impl Example for ErrorEnvelope {
    fn example() -> Self {
        Self {
            success: false,
            error: ErrorBody::example(),
        }
    }
}
