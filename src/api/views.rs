//! Stored rows as wire objects.
use entity::{bank_account, organization, payout, payout_account};

use super::models::*;
use crate::{
    domain::{account_status::AccountStatus, payout_status::PayoutStatus as DomainPayoutStatus},
    error::Error,
};

pub fn livemode(org: &organization::Model) -> bool {
    org.mode == "live"
}

pub fn payout_account_view(
    org: &organization::Model,
    account: &payout_account::Model,
) -> std::result::Result<PayoutAccount, Error> {
    let status = match account
        .status
        .parse::<AccountStatus>()
        .map_err(Error::internal)?
    {
        AccountStatus::PendingVerification => PayoutAccountStatus::PendingVerification,
        AccountStatus::Verified => PayoutAccountStatus::Verified,
        AccountStatus::Restricted => PayoutAccountStatus::Restricted,
        AccountStatus::Disabled => PayoutAccountStatus::Disabled,
    };
    Ok(PayoutAccount {
        object: "payout_account".into(),
        livemode: livemode(org),
        id: account.id.clone(),
        provider_account_id: account.provider_account_id.clone(),
        status,
        transfers_enabled: account.transfers_enabled,
        business_type: if account.business_type == "company" {
            BusinessType::Company
        } else {
            BusinessType::Individual
        },
        country: account.country.clone(),
        created_at: account.created_at.into(),
    })
}

pub fn bank_account_view(
    org: &organization::Model,
    row: &bank_account::Model,
) -> PayoutBankAccount {
    PayoutBankAccount {
        object: "payout_bank_account".into(),
        livemode: livemode(org),
        id: row.id.clone(),
        provider_external_account_id: row.provider_external_account_id.clone(),
        holder_name: row.holder_name.clone(),
        last4: row.last4.clone(),
        bank_name: row.bank_name.clone(),
        country: row.country.clone(),
        currency: row.currency.clone(),
        account_type: row.account_type.as_deref().and_then(BankAccountType::parse),
        is_default: row.is_default,
        status: if row.status == "errored" {
            BankAccountStatus::Errored
        } else {
            BankAccountStatus::Active
        },
        created_at: row.created_at.into(),
    }
}

pub fn payout_view(
    org: &organization::Model,
    row: &payout::Model,
) -> std::result::Result<Payout, Error> {
    let status = match row
        .status
        .parse::<DomainPayoutStatus>()
        .map_err(Error::internal)?
    {
        DomainPayoutStatus::Pending => PayoutStatus::Pending,
        DomainPayoutStatus::InTransit => PayoutStatus::InTransit,
        DomainPayoutStatus::Paid => PayoutStatus::Paid,
        DomainPayoutStatus::Failed => PayoutStatus::Failed,
        DomainPayoutStatus::Canceled => PayoutStatus::Canceled,
    };
    Ok(Payout {
        object: "payout".into(),
        livemode: livemode(org),
        id: row.id.clone(),
        status,
        amount: row.amount,
        fee: row.fee,
        net_amount: row.net_amount,
        currency: row.currency.clone(),
        description: row.description.clone(),
        provider_transfer_id: row.provider_transfer_id.clone(),
        failure_code: row.failure_code.clone(),
        failure_message: row.failure_message.clone(),
        created_at: row.created_at.into(),
    })
}
