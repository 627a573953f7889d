//! The payout account (verification) and its bank accounts.
//!
//! One piece: verification and bank accounts share the payout account row, its provider and its state machine.
use chrono::{NaiveDate, Utc};
use entity::{
    bank_account, organization, payout_account,
    states::{BankAccountStatus, BankAccountType, BusinessType},
};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{
    page::{self, Page},
    verification_claims as claims, App,
};
use crate::{
    db,
    document::{Document, DocumentError},
    domain::{
        account_status::AccountStatus,
        payout_status::{PayoutLifecycle, PayoutStatus},
    },
    error::{Error, Result},
    ids,
    provider::{
        AccountRequest, BankDetails, Company, ExternalAccount, PayoutProvider, Person,
        ProviderError,
    },
};

pub struct BankInput {
    pub account_number: String,
    pub holder_name: String,
    pub routing_number: Option<String>,
    pub account_type: Option<BankAccountType>,
}

pub struct VerificationInput {
    pub email: String,
    pub business_type: BusinessType,
    pub business_url: String,
    pub document_url: String,
    /// The country of the individual's or company's address.
    pub country: String,
    pub date_of_birth: Option<NaiveDate>,
    pub bank: BankInput,
    /// The individual's or the company's details, for the provider.
    pub individual: Option<Person>,
    pub company: Option<Company>,
}

pub struct Verification {
    pub account: payout_account::Model,
    pub already_existed: bool,
}

impl From<ProviderError> for Error {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::Invalid { field, message } => Error::field(field, message),
            ProviderError::Declined { message, .. }
            | ProviderError::Refused(message)
            | ProviderError::Unavailable(message) => Error::Provider(message),
        }
    }
}

impl From<DocumentError> for Error {
    fn from(err: DocumentError) -> Self {
        match err {
            DocumentError::Busy => Error::Busy(err.to_string()),
            err => Error::field("documentUrl", err.to_string()),
        }
    }
}

pub async fn find_account<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
) -> Result<Option<payout_account::Model>> {
    Ok(payout_account::Entity::find()
        .filter(payout_account::Column::OrganizationId.eq(org_id))
        .one(conn)
        .await?)
}

/// Provisions the organization's payout account: fetch the identity
/// document, upload it, create the connected account, register the bank
/// account as the default. Returns the existing account untouched if there
/// is one. Concurrent verifications of one organization wait for the one
/// holding its claim (see `verification_claims`) and then return its account.
pub async fn verify(
    app: &App,
    org: &organization::Model,
    input: VerificationInput,
) -> Result<Verification> {
    // Before anything: an organization no provider may serve changes nothing.
    let provider = app.provider_for(org)?;
    let lease = app.config.document_timeout + PROVIDER_CALLS_ALLOWANCE;
    let give_up = tokio::time::Instant::now() + lease + claims::POLL_INTERVAL * 10;
    let claim = loop {
        if let Some(account) = find_account(&app.db, &org.id).await? {
            return Ok(existing(account));
        }
        if let Some(claim) = claims::try_claim(&app.db, &org.id, lease).await? {
            break claim;
        }
        if tokio::time::Instant::now() > give_up {
            return Err(Error::IdempotencyInProgress);
        }
        tokio::time::sleep(claims::POLL_INTERVAL).await;
    };
    // The holder before us may have stored the account just before we claimed.
    if let Some(account) = find_account(&app.db, &org.id).await? {
        claims::finish(&app.db, &claim).await?;
        return Ok(existing(account));
    }
    let document = match app.documents.fetch(&input.document_url).await {
        Ok(document) => document,
        Err(err) => {
            // The provider never heard of this attempt: the claim goes, key and all.
            if let Err(err) = claims::abandon(&app.db, &claim).await {
                tracing::warn!(error = %err, "could not drop the verification claim");
            }
            return Err(err.into());
        }
    };
    let provisioned = provision(app, provider, org, input, &claim, document).await;
    if provisioned.is_err() {
        if let Err(err) = claims::release(&app.db, &claim).await {
            // It expires on its own after the lease.
            tracing::warn!(error = %err, "could not release the verification claim");
        }
    }
    provisioned
}

/// Time allowed for the provider calls of one verification, beyond the
/// document fetch, before its claim is presumed dead.
const PROVIDER_CALLS_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(30);

fn existing(account: payout_account::Model) -> Verification {
    Verification {
        account,
        already_existed: true,
    }
}

async fn provision(
    app: &App,
    provider: std::sync::Arc<dyn PayoutProvider>,
    org: &organization::Model,
    input: VerificationInput,
    claim: &claims::Claim,
    document: Document,
) -> Result<Verification> {
    let file_id = provider
        .upload_document(&document, &claim.account_id)
        .await?;
    drop(document);
    let bank_details = bank_details(org, &input.bank);
    let created = provider
        .create_account(&AccountRequest {
            idempotency_key: &claim.account_id,
            email: &input.email,
            business_type: input.business_type,
            business_url: &input.business_url,
            country: &input.country,
            date_of_birth: input.date_of_birth,
            document_file_id: &file_id,
            individual: input.individual.as_ref(),
            company: input.company.as_ref(),
            bank: &bank_details,
        })
        .await?;
    let provider_account_id = created.id;
    // Derived from the claim, so a retried verification registers the same bank.
    let bank_id = format!(
        "pba_{}",
        &crate::crypto::sha256_hex(claim.account_id.as_bytes())[..24]
    );
    let external = match created.external_account {
        Some(external) => external,
        None => {
            register_bank(
                provider.as_ref(),
                &provider_account_id,
                org,
                &input.bank,
                &bank_id,
                true,
            )
            .await?
        }
    };

    let now = Utc::now();
    let account = payout_account::Model {
        id: claim.account_id.clone(),
        organization_id: org.id.clone(),
        provider: provider.name().to_string(),
        provider_account_id,
        status: AccountStatus::PendingVerification,
        transfers_enabled: false,
        business_type: input.business_type,
        country: input.country,
        email: input.email,
        business_url: input.business_url,
        last_event_at: None,
        created_at: now,
        updated_at: now,
    };
    let bank = new_bank_row(app, org, &account.id, &bank_id, &input.bank, external, true);
    let txn = db::begin_write(&app.db).await?;
    let inserted =
        payout_account::Entity::insert(payout_account::ActiveModel::from(account.clone()))
            .exec_without_returning(&txn)
            .await;
    match inserted {
        Ok(_) => {}
        // An attempt that took over our expired claim stored it first.
        Err(err) if db::is_unique_violation(&err) => {
            drop(txn);
            let account = find_account(&app.db, &org.id)
                .await?
                .ok_or_else(|| Error::internal(err))?;
            return Ok(existing(account));
        }
        Err(err) => return Err(err.into()),
    }
    bank_account::Entity::insert(bank_account::ActiveModel::from(bank))
        .exec_without_returning(&txn)
        .await?;
    // The organization is this provider's from now on: its payouts go here.
    organization::Entity::update_many()
        .col_expr(organization::Column::Provider, Expr::value(provider.name()))
        .filter(organization::Column::Id.eq(org.id.clone()))
        .filter(organization::Column::Provider.is_null())
        .exec(&txn)
        .await?;
    claims::finish(&txn, claim).await?;
    txn.commit().await?;
    Ok(Verification {
        account,
        already_existed: false,
    })
}

fn bank_details<'a>(org: &'a organization::Model, bank: &'a BankInput) -> BankDetails<'a> {
    BankDetails {
        account_number: &bank.account_number,
        routing_number: bank.routing_number.as_deref(),
        holder_name: &bank.holder_name,
        account_type: bank.account_type,
        country: &org.country,
        currency: &org.currency,
    }
}

async fn register_bank(
    provider: &dyn PayoutProvider,
    provider_account_id: &str,
    org: &organization::Model,
    bank: &BankInput,
    bank_id: &str,
    set_default: bool,
) -> Result<ExternalAccount> {
    Ok(provider
        .add_external_account(
            provider_account_id,
            &bank_details(org, bank),
            bank_id,
            set_default,
        )
        .await?)
}

fn last4(account_number: &str) -> String {
    let chars: Vec<char> = account_number.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

fn new_bank_row(
    app: &App,
    org: &organization::Model,
    payout_account_id: &str,
    id: &str,
    bank: &BankInput,
    external: ExternalAccount,
    is_default: bool,
) -> bank_account::Model {
    bank_account::Model {
        id: id.to_string(),
        organization_id: org.id.clone(),
        payout_account_id: payout_account_id.to_string(),
        provider_external_account_id: Some(external.id),
        holder_name: bank.holder_name.clone(),
        last4: external
            .last4
            .unwrap_or_else(|| last4(&bank.account_number)),
        account_number_encrypted: app.config.cipher.encrypt(&bank.account_number),
        routing_number: bank.routing_number.clone(),
        bank_name: external.bank_name,
        account_type: bank.account_type,
        country: org.country.clone(),
        currency: org.currency.clone(),
        is_default,
        status: BankAccountStatus::Active,
        created_at: Utc::now(),
        deleted_at: None,
    }
}

/// Adds a bank account to the organization's payout account. It becomes the
/// default when asked to, or when there is no default yet.
pub async fn add_bank_account(
    app: &App,
    org: &organization::Model,
    bank: BankInput,
    set_default: bool,
) -> Result<bank_account::Model> {
    let provider = app.provider_for(org)?;
    let account = find_account(&app.db, &org.id)
        .await?
        .ok_or(Error::PayoutAccountRequired)?;
    let id = ids::new_id("pba");
    let external = register_bank(
        provider.as_ref(),
        &account.provider_account_id,
        org,
        &bank,
        &id,
        set_default,
    )
    .await?;
    let mut row = new_bank_row(app, org, &account.id, &id, &bank, external, false);

    let txn = db::begin_write(&app.db).await?;
    // One bank-account change per organization at a time.
    payout_account::Entity::find_by_id(account.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?;
    let has_default = bank_account::Entity::find()
        .filter(bank_account::Column::OrganizationId.eq(org.id.clone()))
        .filter(bank_account::Column::IsDefault.eq(true))
        .one(&txn)
        .await?
        .is_some();
    if set_default || !has_default {
        // Clear the old default first: the unique index allows one per org.
        bank_account::Entity::update_many()
            .col_expr(bank_account::Column::IsDefault, Expr::value(false))
            .filter(bank_account::Column::OrganizationId.eq(org.id.clone()))
            .filter(bank_account::Column::IsDefault.eq(true))
            .exec(&txn)
            .await?;
        row.is_default = true;
    }
    bank_account::Entity::insert(bank_account::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(row)
}

/// The organization's bank accounts (deleted ones are gone), newest first,
/// `limit` at a time; `cursor` is the id of the last one of the previous page.
pub async fn list_bank_accounts(
    conn: &DatabaseConnection,
    org_id: &str,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<bank_account::Model>> {
    let mut query = live_banks(org_id)
        .order_by_desc(bank_account::Column::CreatedAt)
        .order_by_desc(bank_account::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        let after = find_bank(conn, org_id, cursor)
            .await
            .map_err(|e| e.for_cursor("bank account"))?;
        query = query.filter(page::after(
            bank_account::Column::CreatedAt,
            bank_account::Column::Id,
            after.created_at,
            after.id,
        ));
    }
    Ok(Page::from_overfetch(query.all(conn).await?, limit))
}

/// The organization's bank accounts that are not deleted.
fn live_banks(org_id: &str) -> sea_orm::Select<bank_account::Entity> {
    bank_account::Entity::find()
        .filter(bank_account::Column::OrganizationId.eq(org_id))
        .filter(bank_account::Column::DeletedAt.is_null())
}

/// A bank account of this organization, not deleted, or 404 (also for
/// another organization's, and for ids of a form never issued).
async fn find_bank<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    bank_id: &str,
) -> Result<bank_account::Model> {
    if !ids::is_own_id("pba", bank_id) {
        return Err(Error::NotFound("no such bank account".into()));
    }
    live_banks(org_id)
        .filter(bank_account::Column::Id.eq(bank_id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("no such bank account".into()))
}

/// Begins a bank-account change of this organization: one at a time, like
/// `add_bank_account` (the payout account's row is the lock).
async fn lock_bank_changes(app: &App, org_id: &str) -> Result<DatabaseTransaction> {
    let txn = db::begin_write(&app.db).await?;
    payout_account::Entity::find()
        .filter(payout_account::Column::OrganizationId.eq(org_id))
        .lock_exclusive()
        .one(&txn)
        .await?;
    Ok(txn)
}

/// Makes a bank account the default, where payouts go (the old default
/// stops being one). Already the default: nothing changes.
pub async fn set_default_bank_account(
    app: &App,
    org_id: &str,
    bank_id: &str,
) -> Result<bank_account::Model> {
    let txn = lock_bank_changes(app, org_id).await?;
    let mut bank = find_bank(&txn, org_id, bank_id).await?;
    if !bank.is_default {
        // Clear the old default first: the unique index allows one per org.
        bank_account::Entity::update_many()
            .col_expr(bank_account::Column::IsDefault, Expr::value(false))
            .filter(bank_account::Column::OrganizationId.eq(org_id))
            .filter(bank_account::Column::IsDefault.eq(true))
            .exec(&txn)
            .await?;
        bank_account::Entity::update_many()
            .col_expr(bank_account::Column::IsDefault, Expr::value(true))
            .filter(bank_account::Column::Id.eq(bank_id))
            .exec(&txn)
            .await?;
        bank.is_default = true;
    }
    txn.commit().await?;
    Ok(bank)
}

/// Deletes a bank account: refused for the default one and for one with
/// payouts still pending or in transit. One that payouts name (settled
/// ones) is kept, hidden, for their history, with its encrypted number
/// erased; one no payout names is removed. Returns the deleted account.
///
/// A payout being reserved for this account holds its row (shared) until
/// it commits (`payouts::reserve`), so the check below, which reads after
/// taking the row exclusively, sees it; and a reservation after this
/// commit finds the account gone and is refused.
pub async fn delete_bank_account(
    app: &App,
    org_id: &str,
    bank_id: &str,
) -> Result<bank_account::Model> {
    let txn = lock_bank_changes(app, org_id).await?;
    let bank = find_bank(&txn, org_id, bank_id).await?;
    bank_account::Entity::find_by_id(bank.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?;
    if bank.is_default {
        return Err(Error::BankAccountIsDefault);
    }
    let named_by = |statuses: Vec<PayoutStatus>| {
        entity::payout::Entity::find()
            .filter(entity::payout::Column::BankAccountId.eq(bank.id.clone()))
            .filter(entity::payout::Column::Status.is_in(statuses))
    };
    let in_flight: Vec<PayoutStatus> = PayoutStatus::ALL
        .into_iter()
        .filter(|s| s.holds_reservation())
        .collect();
    if named_by(in_flight).count(&txn).await? > 0 {
        return Err(Error::BankAccountInUse);
    }
    if named_by(PayoutStatus::ALL.to_vec()).count(&txn).await? > 0 {
        bank_account::Entity::update_many()
            .col_expr(bank_account::Column::DeletedAt, Expr::value(Utc::now()))
            .col_expr(
                bank_account::Column::AccountNumberEncrypted,
                Expr::value(""),
            )
            .filter(bank_account::Column::Id.eq(bank.id.clone()))
            .exec(&txn)
            .await?;
    } else {
        bank_account::Entity::delete_by_id(bank.id.clone())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(bank)
}

#[cfg(test)]
mod tests {
    #[test]
    fn last4_keeps_only_the_end() {
        assert_eq!(super::last4("000123456789"), "6789");
        assert_eq!(super::last4("12"), "12");
    }
}
