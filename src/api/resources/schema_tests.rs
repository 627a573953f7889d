//! The request bodies' rules as `api::validate` reports them: each bad
//! field by its dotted path and message, checked against the schema the
//! spec publishes. Here rather than in `validate`, which the resources use.
use poem_openapi::types::Type;
use serde_json::{json, Value};

use super::{
    bank_accounts::BankAccountCreateRequest, payout_account::VerificationRequest,
    payouts::PayoutCreateRequest, webhooks::WebhookCreateRequest,
};
use crate::api::validate::field_errors;

fn errors<T: Type + 'static>(value: Value) -> Vec<(String, String)> {
    field_errors::<T>(&value)
}

#[test]
fn amount_rules() {
    assert!(errors::<PayoutCreateRequest>(json!({"amount": 1000})).is_empty());
    assert_eq!(
        errors::<PayoutCreateRequest>(json!({"amount": 999})),
        vec![("amount".into(), "must be at least 1000".into())]
    );
    assert_eq!(errors::<PayoutCreateRequest>(json!({}))[0].1, "is required");
    assert_eq!(
        errors::<PayoutCreateRequest>(json!({"amount": 1000, "description": null})),
        vec![(
            "description".into(),
            "must not be null (omit it instead)".into()
        )]
    );
    assert_eq!(
        errors::<PayoutCreateRequest>(json!({"amount": 1000, "description": "a\u{0}"}))[0].1,
        "must not contain NUL characters"
    );
    assert_eq!(
        errors::<PayoutCreateRequest>(json!({"amount": "1000"}))[0].1,
        "must be an integer, not a string"
    );
    assert_eq!(
        errors::<PayoutCreateRequest>(json!({"amount": 1000.5}))[0].0,
        "amount"
    );
    let long = "x".repeat(501);
    assert_eq!(
        errors::<PayoutCreateRequest>(json!({"amount": 1000, "description": long})),
        vec![(
            "description".into(),
            "must be at most 500 characters long".into()
        )]
    );
    assert_eq!(
        errors::<PayoutCreateRequest>(json!({"amount": 1000, "description": 5}))[0].1,
        "must be a string, not a number"
    );
}

#[test]
fn blank_text_is_refused_whatever_the_whitespace() {
    let body = |name: &str| json!({"accountNumber": "1", "accountHolderName": name});
    assert!(errors::<BankAccountCreateRequest>(body(" Ada ")).is_empty());
    for blank in [" ", "\u{85}", "\u{a0}\u{3000}", "\t\u{2028}"] {
        assert_eq!(
            errors::<BankAccountCreateRequest>(body(blank))[0].0,
            "accountHolderName",
            "{blank:?}"
        );
    }
}

#[test]
fn nested_fields_are_named_by_path_and_all_reported() {
    let found = errors::<VerificationRequest>(json!({
        "email": "not-an-email",
        "businessType": "robot",
        "businessUrl": "https://example.com",
        "documentUrl": "https://example.com/id.pdf",
        "bank": {"accountNumber": "", "accountHolderName": "A\u{0}"},
        "individual": {"firstName": "A", "lastName": "B", "phone": "1", "dateOfBirth": "1990-13-01",
                       "address": {"line1": "x", "city": "y", "postalCode": "1", "country": "usa"}}
    }));
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "email",
            "businessType",
            "bank.accountNumber",
            "bank.accountHolderName",
            "individual.dateOfBirth",
            "individual.address.country"
        ]
    );
}

#[test]
fn texts_outside_an_enum_are_named_together_on_the_array() {
    let body = |events: Value| json!({"url": "https://example.com/hooks", "events": events});
    assert!(
        errors::<WebhookCreateRequest>(body(json!(["payout.paid", "payout.created"]))).is_empty()
    );
    let found = errors::<WebhookCreateRequest>(body(json!([
        "payout.paid",
        "invoice.created",
        "webhook.test",
        5
    ])));
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "events");
    assert_eq!(
        found[0].1,
        "has values not allowed here: invoice.created, webhook.test; allowed: \
         payout.created, payout.paid, payout.failed, payout.available"
    );
    assert_eq!(
        found[1],
        ("events[3]".into(), "must be a string, not a number".into())
    );
}
