//! Every state and kind the service stores, once: the column type (text in
//! the database, read back strictly — an unknown value is a `DbErr`, never a
//! default), the domain's type (`src/domain` adds the rules) and, with the
//! `openapi` feature, the wire enum (the schema name is the `oai` name).
//! Each value's text is written once, in the `states!` list below.
use sea_orm::entity::prelude::*;

/// Declares a text-stored enum: `as_str`, `ALL`, `Display`, `FromStr` and
/// (with `openapi`) the wire enum, whose values are the stored texts, come
/// from the one list of `Variant = "text"` pairs.
macro_rules! states {
    ($(
        $(#[$meta:meta])*
        pub enum $name:ident { $($variant:ident = $text:tt,)+ }
    )+) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
        $(#[$meta])*
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name {
            $(
                #[sea_orm(string_value = $text)]
                #[cfg_attr(feature = "openapi", oai(rename = $text))]
                $variant,
            )+
        }

        impl $name {
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|value| value.as_str() == s)
                    .ok_or_else(|| format!(concat!("unknown ", stringify!($name), " {:?}"), s))
            }
        }
    )+};
}

// Wire enums carry `//` comments, not `///`: a doc comment would become a
// description in the published spec.
states! {
    // A payout's lifecycle (rules in `domain::payout_status`).
    pub enum PayoutStatus {
        Pending = "pending",
        InTransit = "in_transit",
        Paid = "paid",
        Failed = "failed",
        Canceled = "canceled",
    }

    // The payout account's verification, as the provider reports it (rules in
    // `domain::account_status`).
    #[cfg_attr(feature = "openapi", oai(rename = "PayoutAccountStatus"))]
    pub enum AccountStatus {
        PendingVerification = "pending_verification",
        Verified = "verified",
        Restricted = "restricted",
        Disabled = "disabled",
    }

    pub enum BankAccountStatus {
        Active = "active",
        Errored = "errored",
    }

    pub enum BankAccountType {
        Checking = "checking",
        Savings = "savings",
    }

    pub enum BusinessType {
        Individual = "individual",
        Company = "company",
    }

    // Live organizations use the configured provider and `ck_live_` keys.
    #[cfg_attr(feature = "openapi", oai(rename = "OrganizationMode"))]
    pub enum OrgMode {
        Live = "live",
        Sandbox = "sandbox",
    }

    // What a ledger transaction records; on the wire, a balance transaction's
    // `type`.
    #[cfg_attr(feature = "openapi", oai(rename = "BalanceTransactionType"))]
    pub enum LedgerKind {
        Credit = "credit",
        Release = "release",
        Payout = "payout",
        PayoutPaid = "payout_paid",
        PayoutFailed = "payout_failed",
        PayoutCanceled = "payout_canceled",
        PayoutReturned = "payout_returned",
        Debit = "debit",
        Hold = "hold",
        HoldRelease = "hold_release",
        HoldCapture = "hold_capture",
    }

    /// A Commet API version (a date, as Commet and Stripe name them): the
    /// wire shapes a client or a webhook endpoint is pinned to. Oldest
    /// first (`2026-07-11`: the seed page's `{success, data}` envelopes;
    /// `2026-07-24`: resources answered directly). The rules (parsing a
    /// date, resolving one this service does not know) are in
    /// `domain::api_version`; what each version changes, in `api::versions`.
    pub enum ApiVersion {
        V2026_07_11 = "2026-07-11",
        V2026_07_24 = "2026-07-24",
    }

    // What an organization's event reports (its `event` on the wire). Only
    // the payout events can be subscribed to; `webhook.test` is what
    // `POST /webhooks/{id}/test` sends.
    #[cfg_attr(feature = "openapi", oai(rename = "WebhookEventType"))]
    pub enum EventKind {
        PayoutCreated = "payout.created",
        PayoutPaid = "payout.paid",
        PayoutFailed = "payout.failed",
        PayoutAvailable = "payout.available",
        WebhookTest = "webhook.test",
    }

    // A webhook delivery: `pending` while attempts remain, then `delivered`
    // or `failed`.
    #[cfg_attr(feature = "openapi", oai(rename = "WebhookDeliveryStatus"))]
    pub enum DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }

    /// An organization's ledger accounts; `External` is the world outside.
    pub enum LedgerAccount {
        Available = "available",
        Pending = "pending",
        InPayout = "in_payout",
        PaidOut = "paid_out",
        Fees = "fees",
        External = "external",
        Held = "held",
    }

    // Why money is held back from available (operator API).
    pub enum HoldReason {
        Dispute = "dispute",
        Review = "review",
        Other = "other",
    }

    // A hold's lifecycle: `open` until released (money back to available)
    // or captured (money gone for good).
    pub enum HoldStatus {
        Open = "open",
        Released = "released",
        Captured = "captured",
    }

    // Why money is taken from available (operator API).
    pub enum DebitReason {
        Refund = "refund",
        Adjustment = "adjustment",
    }
}

/// Versions are dates: a later one is greater.
impl Ord for ApiVersion {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for ApiVersion {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    /// The stored text is `as_str`, every variant is in `ALL`, and text
    /// that is not a variant is refused.
    #[test]
    fn stored_text_round_trips_and_unknown_text_is_an_error() {
        fn check<E>(all: &[E], as_str: fn(&E) -> &'static str)
        where
            E: ActiveEnum<Value = String> + Iterable + PartialEq + std::fmt::Debug,
        {
            assert_eq!(E::iter().count(), all.len());
            for value in all {
                assert_eq!(value.to_value(), as_str(value));
                assert_eq!(&E::try_from_value(&value.to_value()).unwrap(), value);
            }
            assert!(E::try_from_value(&"nonsense".to_string()).is_err());
            assert!(E::try_from_value(&String::new()).is_err());
        }
        check(&PayoutStatus::ALL, |v| v.as_str());
        check(&AccountStatus::ALL, |v| v.as_str());
        check(&BankAccountStatus::ALL, |v| v.as_str());
        check(&BankAccountType::ALL, |v| v.as_str());
        check(&BusinessType::ALL, |v| v.as_str());
        check(&OrgMode::ALL, |v| v.as_str());
        check(&LedgerKind::ALL, |v| v.as_str());
        check(&LedgerAccount::ALL, |v| v.as_str());
        check(&ApiVersion::ALL, |v| v.as_str());
        check(&EventKind::ALL, |v| v.as_str());
        check(&DeliveryStatus::ALL, |v| v.as_str());
        check(&HoldReason::ALL, |v| v.as_str());
        check(&HoldStatus::ALL, |v| v.as_str());
        check(&DebitReason::ALL, |v| v.as_str());
        assert_eq!("in_transit".parse(), Ok(PayoutStatus::InTransit));
        assert!("PAID".parse::<PayoutStatus>().is_err());
    }
}
