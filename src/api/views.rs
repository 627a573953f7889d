//! Stored rows as wire objects.
use entity::{bank_account, organization, payout, payout_account};

use entity::states::OrgMode;

use super::models::*;
use crate::error::Error;

pub fn livemode(org: &organization::Model) -> bool {
    org.mode == OrgMode::Live
}

pub fn payout_account_view(
    org: &organization::Model,
    account: &payout_account::Model,
) -> std::result::Result<PayoutAccount, Error> {
    Ok(PayoutAccount {
        object: "payout_account".into(),
        livemode: livemode(org),
        id: account.id.clone(),
        provider_account_id: account.provider_account_id.clone(),
        status: account.status,
        transfers_enabled: account.transfers_enabled,
        business_type: account.business_type,
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
        account_type: row.account_type,
        is_default: row.is_default,
        status: row.status,
        created_at: row.created_at.into(),
    }
}

pub fn payout_view(
    org: &organization::Model,
    row: &payout::Model,
) -> std::result::Result<Payout, Error> {
    Ok(Payout {
        object: "payout".into(),
        livemode: livemode(org),
        id: row.id.clone(),
        status: row.status,
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
