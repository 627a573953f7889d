//! Payouts: request, submit to the provider, and move through the lifecycle.
//!
//! One piece: the three steps of a payout (eligibility, reservation, submit), its submit job and its lifecycle share one row and its invariants.
use chrono::{DateTime, Utc};
use entity::{bank_account, organization, payout, payout_account, states::BankAccountStatus};
use sea_orm::{
    sea_query::{Expr, Func},
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::{
    events, ledger,
    page::{self, Page},
    App,
};
use crate::{
    db,
    domain::{
        account_status::AccountStatus,
        fees::Fee,
        ledger::{payout_reserve, payout_transition},
        payout_status::{PayoutLifecycle, PayoutStatus, Submission, Transition},
    },
    error::{Error, Result},
    ids,
    provider::{
        failure_code, PayoutProvider, PayoutRequest, ProviderError, Submitted, MIN_TRANSFER_CENTS,
    },
    queue::{self, Job, Outcome},
};

pub const MIN_AMOUNT: i64 = 1000;
pub const MAX_AMOUNT: i64 = 100_000_000_000;

/// Requests a payout of `amount` cents to the default bank account, in three
/// steps: check eligibility, reserve (one transaction), submit. With an
/// idempotency key, a payout already made with it is returned instead.
pub async fn create(
    app: &App,
    org: &organization::Model,
    amount: i64,
    description: Option<String>,
    idempotency_key: Option<&str>,
) -> Result<payout::Model> {
    match create_reserved(app, org, amount, description, idempotency_key).await? {
        Reserved::New(row, destination) => submit_now(app, row, &destination).await,
        Reserved::Existing(row) => Ok(row),
    }
}

/// Steps 1 and 2 of `create` without the provider call: the payout is
/// reserved and its submit job queued, and nothing has been sent. This is
/// what a crash between the reservation and the call leaves behind, and
/// the one state in which a payout can still be canceled; tests race
/// `cancel` against the submission from here.
pub async fn create_unsubmitted(
    app: &App,
    org: &organization::Model,
    amount: i64,
    description: Option<String>,
) -> Result<payout::Model> {
    match create_reserved(app, org, amount, description, None).await? {
        Reserved::New(row, _) | Reserved::Existing(row) => Ok(row),
    }
}

enum Reserved {
    /// Ours, reserved, not sent yet.
    New(payout::Model, Box<Destination>),
    /// The one this idempotency key already made.
    Existing(payout::Model),
}

async fn create_reserved(
    app: &App,
    org: &organization::Model,
    amount: i64,
    description: Option<String>,
    idempotency_key: Option<&str>,
) -> Result<Reserved> {
    // Before anything: an organization no provider may serve changes nothing.
    let provider = app.provider_for(org)?;
    if let Some(key) = idempotency_key {
        if let Some(existing) = find_by_key(&app.read_db, &org.id, key).await? {
            return same_request(existing, amount, &description).map(Reserved::Existing);
        }
    }
    let (fee, destination) = check_eligibility(app, org, amount).await?;
    let now = Utc::now();
    let row = payout::Model {
        id: ids::new_id("po"),
        organization_id: org.id.clone(),
        bank_account_id: destination.bank.id.clone(),
        status: PayoutStatus::Pending,
        amount,
        fee: fee.fee,
        net_amount: fee.net_amount,
        currency: org.currency.clone(),
        description,
        provider: provider.name().to_string(),
        provider_transfer_id: None,
        provider_payout_id: None,
        failure_code: None,
        failure_message: None,
        idempotency_key: idempotency_key.map(str::to_string),
        created_at: now,
        updated_at: now,
        paid_at: None,
        failed_at: None,
        submitted_at: None,
    };
    match reserve(app, &row).await? {
        None => Ok(Reserved::New(row, Box::new(destination))),
        Some(theirs) => same_request(theirs, amount, &row.description).map(Reserved::Existing),
    }
}

/// Step 1: whether this organization may be paid `amount` now, and where
/// to. Reads only; nothing is held yet.
async fn check_eligibility(
    app: &App,
    org: &organization::Model,
    amount: i64,
) -> Result<(Fee, Destination)> {
    let fee = app.config.fees.apply(amount);
    if fee.net_amount < MIN_TRANSFER_CENTS {
        return Err(Error::field(
            "amount",
            format!(
                "leaves {} after the fee of {}; the amount sent to the bank must be at least {MIN_TRANSFER_CENTS}",
                fee.net_amount, fee.fee
            ),
        ));
    }
    let account = payout_account::Entity::find()
        .filter(payout_account::Column::OrganizationId.eq(org.id.clone()))
        .one(&app.read_db)
        .await?
        .ok_or(Error::PayoutAccountRequired)?;
    if account.status != AccountStatus::Verified {
        return Err(Error::PayoutAccountNotVerified(account.status.to_string()));
    }
    let bank = bank_account::Entity::find()
        .filter(bank_account::Column::OrganizationId.eq(org.id.clone()))
        .filter(bank_account::Column::IsDefault.eq(true))
        .filter(bank_account::Column::Status.eq(BankAccountStatus::Active))
        .one(&app.read_db)
        .await?
        .ok_or(Error::NoDefaultBankAccount)?;
    let destination = Destination {
        org: org.clone(),
        account,
        bank,
    };
    Ok((fee, destination))
}

/// Step 2: the reservation, the payout and its submit job commit together
/// before the provider hears of it: a crash after this point leaves a
/// payout the job will submit, never money reserved for nothing. Returns
/// the payout of a concurrent request with the same key that won the race
/// (ours then rolled back), if one did. Written through `app.writer`: on
/// SQLite it joins a group commit.
async fn reserve(app: &App, row: &payout::Model) -> Result<Option<payout::Model>> {
    let job = SubmitPayout::new(row.id.clone());
    // The request makes one provider call itself; this job is the safety
    // net for a crash or an outage, so it waits before its first run.
    let run_at = app.clock.now() + app.config.provider_retry_delay;
    let new_row = row.clone();
    let written = app
        .writer
        .write(move |txn| {
            Box::pin(async move {
                // The destination, still not deleted, held (shared) until
                // the payout is written: a concurrent delete waits for this
                // commit, then sees the payout in flight and refuses.
                bank_account::Entity::find_by_id(new_row.bank_account_id.clone())
                    .filter(bank_account::Column::DeletedAt.is_null())
                    .lock_shared()
                    .one(txn)
                    .await?
                    .ok_or(Reserve::Refused(Error::NoDefaultBankAccount))?;
                ledger::post(
                    txn,
                    &new_row.organization_id,
                    &new_row.currency,
                    &payout_reserve(new_row.amount),
                    Some(&new_row.id),
                )
                .await
                .map_err(Reserve::Refused)?;
                let submit_id = format!("submit_{}", new_row.id);
                payout::Entity::insert(payout::ActiveModel::from(new_row.clone()))
                    .exec_without_returning(txn)
                    .await?;
                queue::enqueue(txn, &submit_id, &job, run_at).await?;
                // payout.created, in the same transaction as the payout.
                events::record_payout(txn, &new_row)
                    .await
                    .map_err(Reserve::Refused)?;
                Ok(())
            })
        })
        .await;
    match written {
        Ok(()) => Ok(None),
        Err(Reserve::Refused(err)) => Err(err),
        Err(Reserve::Db(err)) => match &row.idempotency_key {
            Some(key) if db::is_unique_violation(&err) => {
                // The same key won a race: its payout is the answer; ours
                // rolled back.
                let existing = find_by_key(&app.db, &row.organization_id, key)
                    .await?
                    .ok_or_else(|| Error::internal(&err))?;
                Ok(Some(existing))
            }
            _ => Err(err.into()),
        },
    }
}

/// Step 3: one provider call now. Unavailable leaves the payout pending
/// for the submit job; a refusal fails it and gives the money back.
async fn submit_now(
    app: &App,
    mut row: payout::Model,
    destination: &Destination,
) -> Result<payout::Model> {
    match submit(app, &row, destination, 0).await {
        Ok(SubmitOutcome::Sent(submitted)) => {
            row.provider_transfer_id = Some(submitted.transfer_id);
            row.provider_payout_id = submitted.payout_id;
        }
        // Canceled before we could claim it: never sent; answer as it is now.
        Ok(SubmitOutcome::NotOpen) => {
            return payout::Entity::find_by_id(row.id.clone())
                .one(&app.db)
                .await?
                .ok_or_else(|| Error::internal("the payout vanished"));
        }
        // Still pending (or its fate unknown): the job will submit it, after
        // looking up whether this call made it.
        Err(ProviderError::Unavailable(_)) => {}
        Err(refused) => {
            let reason = refused.to_string();
            fail_refused(&app.db, &row.id, refused).await?;
            return Err(Error::Provider(reason));
        }
    }
    Ok(row)
}

/// Why the payout's write was refused: the ledger's verdict, or the
/// database (a unique key raced by a concurrent request among others).
enum Reserve {
    Refused(Error),
    Db(sea_orm::DbErr),
}

impl From<sea_orm::DbErr> for Reserve {
    fn from(err: sea_orm::DbErr) -> Self {
        Reserve::Db(err)
    }
}

/// Where a payout goes.
struct Destination {
    org: organization::Model,
    account: payout_account::Model,
    bank: bank_account::Model,
}

async fn load_destination(
    app: &App,
    payout: &payout::Model,
) -> std::result::Result<Destination, ProviderError> {
    let unavailable = |e: sea_orm::DbErr| ProviderError::Unavailable(e.to_string());
    let org = organization::Entity::find_by_id(payout.organization_id.clone())
        .one(&app.db)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ProviderError::Refused("organization is gone".into()))?;
    let bank = bank_account::Entity::find_by_id(payout.bank_account_id.clone())
        .one(&app.db)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ProviderError::Refused("bank account is gone".into()))?;
    let account = payout_account::Entity::find_by_id(bank.payout_account_id.clone())
        .one(&app.db)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ProviderError::Refused("payout account is gone".into()))?;
    Ok(Destination { org, account, bank })
}

/// The provider a payout was made with (never another: a payout always
/// goes through the provider holding its organization's account). One that
/// is not configured now is "unavailable": the payout waits, it is never
/// failed for it (its money may be at the provider).
pub(crate) fn payout_provider(
    app: &App,
    payout: &payout::Model,
    org: &organization::Model,
) -> std::result::Result<std::sync::Arc<dyn PayoutProvider>, ProviderError> {
    app.provider_in_mode(&payout.provider, org.mode)
        .map_err(|err| ProviderError::Unavailable(err.to_string()))
}

/// What a provider is asked for a payout.
fn payout_request<'a>(
    payout: &'a payout::Model,
    to: &'a Destination,
    attempt: i32,
) -> std::result::Result<PayoutRequest<'a>, ProviderError> {
    let external_account_id = to
        .bank
        .provider_external_account_id
        .as_deref()
        .ok_or_else(|| {
            ProviderError::Refused("bank account is not registered with the provider".into())
        })?;
    Ok(PayoutRequest {
        payout_id: &payout.id,
        attempt,
        account_id: &to.account.provider_account_id,
        external_account_id,
        net_amount: payout.net_amount,
        fee: payout.fee,
        currency: &payout.currency,
    })
}

/// What a submission did.
enum SubmitOutcome {
    /// The provider accepted it: its ids (recorded).
    Sent(Submitted),
    /// The payout no longer holds its reservation (canceled, failed):
    /// the provider was not called.
    NotOpen,
}

/// Sends a payout to the provider (idempotent: keyed by the payout id and
/// `attempt`) and records the provider's ids, which it returns. It first
/// claims the payout (`claim_submission`), so a payout canceled first is
/// never sent, and one sent is never canceled.
async fn submit(
    app: &App,
    payout: &payout::Model,
    to: &Destination,
    attempt: i32,
) -> std::result::Result<SubmitOutcome, ProviderError> {
    let request = payout_request(payout, to, attempt)?;
    let provider = payout_provider(app, payout, &to.org)?;
    if !claim_submission(app, &payout.id)
        .await
        .map_err(|e| ProviderError::Unavailable(e.to_string()))?
    {
        return Ok(SubmitOutcome::NotOpen);
    }
    let submitted = provider.create_payout(&request).await?;
    record_submitted(app, &payout.id, &submitted).await?;
    Ok(SubmitOutcome::Sent(submitted))
}

/// Records the provider's ids of a payout that has none yet.
pub(crate) async fn record_submitted(
    app: &App,
    payout_id: &str,
    submitted: &Submitted,
) -> std::result::Result<(), ProviderError> {
    let unavailable = |e: sea_orm::DbErr| ProviderError::Unavailable(e.to_string());
    let (payout_id, recorded) = (payout_id.to_string(), submitted.clone());
    app.writer
        .write(move |txn| {
            Box::pin(async move {
                payout::Entity::update_many()
                    .col_expr(
                        payout::Column::ProviderTransferId,
                        Expr::value(recorded.transfer_id),
                    )
                    .col_expr(
                        payout::Column::ProviderPayoutId,
                        Expr::value(recorded.payout_id),
                    )
                    .filter(payout::Column::Id.eq(payout_id))
                    .filter(
                        sea_orm::Condition::any()
                            .add(payout::Column::ProviderTransferId.is_null())
                            .add(payout::Column::ProviderPayoutId.is_null()),
                    )
                    .exec(txn)
                    .await
            })
        })
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Whether the provider has every object of this payout: its transfer, and
/// for a two-step provider the connected account's payout to the bank too.
pub fn is_submitted(app: &App, payout: &payout::Model) -> bool {
    payout.provider_transfer_id.is_some()
        && is_complete(app, &payout.provider, payout.provider_payout_id.as_deref())
}

/// Whether a payout at `provider` whose transfer exists is complete with
/// this bank payout id (a one-step provider has none).
fn is_complete(app: &App, provider: &str, bank_payout_id: Option<&str>) -> bool {
    bank_payout_id.is_some() || !app.providers.two_step(provider)
}

/// Looks up at the provider whether it made a payout whose submission is
/// uncertain; records it if so. `Ok(true)`: made (and complete), `Ok(false)`:
/// certainly not made.
pub(crate) async fn settle_uncertain(
    app: &App,
    payout: &payout::Model,
) -> std::result::Result<Option<Submitted>, ProviderError> {
    let to = load_destination(app, payout).await?;
    let request = payout_request(payout, &to, 0)?;
    let found = payout_provider(app, payout, &to.org)?
        .find_payout(&request)
        .await?;
    Ok(found)
}

/// Claims a payout for a provider call: a conditional update that succeeds
/// only while the payout still holds its reservation (`pending` or
/// `in_transit`), and marks it submitted (`submitted_at`, kept from the
/// first claim). `cancel` is the mirror image, a conditional update that
/// succeeds only on a pending payout not claimed yet; both update the same
/// row, so the database lets exactly one of them win. The claim commits
/// before the provider is called and is never undone: if the process dies
/// after it, the payout is not cancelable and the submit job (queued with
/// the reservation) sends it or, after its attempts, fails it with the
/// money back.
async fn claim_submission(app: &App, payout_id: &str) -> std::result::Result<bool, sea_orm::DbErr> {
    let id = payout_id.to_string();
    let open = PayoutStatus::holding_reservation();
    let now = Utc::now();
    app.writer
        .write(move |txn| {
            Box::pin(async move {
                let claimed = payout::Entity::update_many()
                    .col_expr(
                        payout::Column::SubmittedAt,
                        Func::coalesce([Expr::col(payout::Column::SubmittedAt), Expr::value(now)])
                            .into(),
                    )
                    .filter(payout::Column::Id.eq(id))
                    .filter(payout::Column::Status.is_in(open))
                    .exec(txn)
                    .await?;
                Ok(claimed.rows_affected == 1)
            })
        })
        .await
}

/// The background submit of a payout that has no provider transfer yet:
/// the safety net behind `create`'s own call.
#[derive(Debug, Serialize, Deserialize)]
pub struct SubmitPayout {
    payout_id: String,
}

impl SubmitPayout {
    pub fn new(payout_id: impl Into<String>) -> Self {
        Self {
            payout_id: payout_id.into(),
        }
    }
}

#[async_trait::async_trait]
impl Job for SubmitPayout {
    const KIND: &'static str = "payout_submit";
    type Context = App;

    async fn run(self, app: &App, attempt: i32) -> Outcome {
        let payout = match payout::Entity::find_by_id(self.payout_id.clone())
            .one(&app.db)
            .await
        {
            Ok(Some(payout)) => payout,
            Ok(None) => return Outcome::Done,
            Err(err) => return Outcome::Retry(err.to_string()),
        };
        // Events can move a payout on before its transfer id is recorded (the
        // provider answered, then this instance died): still submit it, again
        // and idempotently, so the provider finishes the job — unless it is over.
        let open = payout.status.holds_reservation();
        if is_submitted(app, &payout) || !open {
            return Outcome::Done;
        }
        let submitted = match load_destination(app, &payout).await {
            Ok(destination) => submit(app, &payout, &destination, attempt).await,
            Err(err) => Err(err),
        };
        let reason = match submitted {
            Ok(_) => return Outcome::Done,
            Err(ProviderError::Unavailable(reason))
                if attempt < app.config.provider_max_attempts =>
            {
                return Outcome::Retry(reason)
            }
            Err(ProviderError::Unavailable(reason)) => reason,
            Err(refused) => {
                return match fail_refused(&app.db, &payout.id, refused).await {
                    Ok(()) => Outcome::Done,
                    Err(err) => Outcome::Retry(err.to_string()),
                }
            }
        };
        // Before giving up: did an earlier try reach the provider after all?
        // A payout the provider made is never failed and refunded here; while
        // that cannot be known, the job keeps trying.
        match settle_uncertain(app, &payout).await {
            Ok(None) => {}
            Ok(Some(found)) => {
                // Made: recorded, and never failed here. A transfer without
                // its bank payout yet is finished by the next try.
                return match record_submitted(app, &payout.id, &found).await {
                    Ok(()) if is_complete(app, &payout.provider, found.payout_id.as_deref()) => Outcome::Done,
                    Ok(()) => Outcome::Retry(format!("{reason}; the transfer was made, the bank payout not yet")),
                    Err(err) => Outcome::Retry(err.to_string()),
                };
            }
            Err(err) => return Outcome::Retry(format!("{reason}; whether the provider made the payout is unknown ({err}), so it is not failed")),
        }
        match fail_unsubmitted(
            &app.db,
            &payout.id,
            &format!("provider unavailable: {reason}"),
        )
        .await
        {
            Ok(()) => Outcome::Done,
            Err(err) => Outcome::Retry(err.to_string()),
        }
    }
}

/// After a provider moved a payout to `failed` or `canceled` (its event, or
/// reconciliation), inside the same transaction (`conn`): at a two-step
/// provider the money it had sent to the connected account is taken back
/// by a job (`ReclaimTransfer`), so the refund here matches money back at
/// the platform. Not for a reversal the provider made itself.
pub async fn after_provider_failure<C: ConnectionTrait>(
    app: &App,
    conn: &C,
    payout_id: &str,
    to: PayoutStatus,
    failure_code: Option<&str>,
) -> Result<()> {
    let reversed = failure_code == Some(failure_code::TRANSFER_REVERSED);
    if !matches!(to, PayoutStatus::Failed | PayoutStatus::Canceled) || reversed {
        return Ok(());
    }
    let Some(row) = payout::Entity::find_by_id(payout_id).one(conn).await? else {
        return Ok(());
    };
    if !app.providers.two_step(&row.provider) || row.provider_transfer_id.is_none() {
        return Ok(());
    }
    let job = ReclaimTransfer {
        payout_id: payout_id.to_string(),
    };
    let run_at = app.clock.now();
    queue::enqueue(conn, &format!("reclaim_{payout_id}"), &job, run_at).await?;
    Ok(())
}

/// Takes a failed or canceled payout's money back from the connected
/// account to the platform (`PayoutProvider::reclaim`; Stripe reverses the
/// transfer, once per payout).
#[derive(Debug, Serialize, Deserialize)]
pub struct ReclaimTransfer {
    payout_id: String,
}

#[async_trait::async_trait]
impl Job for ReclaimTransfer {
    const KIND: &'static str = "payout_reclaim";
    type Context = App;

    async fn run(self, app: &App, _attempt: i32) -> Outcome {
        let payout = match payout::Entity::find_by_id(self.payout_id.clone())
            .one(&app.db)
            .await
        {
            Ok(Some(payout)) => payout,
            Ok(None) => return Outcome::Done,
            Err(err) => return Outcome::Retry(err.to_string()),
        };
        let Some(transfer_id) = payout.provider_transfer_id.clone() else {
            return Outcome::Done;
        };
        let org = match organization::Entity::find_by_id(payout.organization_id.clone())
            .one(&app.db)
            .await
        {
            Ok(Some(org)) => org,
            Ok(None) => return Outcome::Done,
            Err(err) => return Outcome::Retry(err.to_string()),
        };
        let provider = match payout_provider(app, &payout, &org) {
            Ok(provider) => provider,
            Err(err) => return Outcome::Retry(err.to_string()),
        };
        match provider.reclaim(&transfer_id, &payout.id).await {
            Ok(()) => Outcome::Done,
            Err(ProviderError::Unavailable(reason)) => Outcome::Retry(reason),
            Err(refused) => {
                // Already reversed, or the money is not there: an operator's call.
                tracing::warn!(payout = %payout.id, error = %refused, "the provider refused to reverse the transfer");
                Outcome::Done
            }
        }
    }
}

/// A payout the provider refused: failed with the provider's failure code
/// when it gave one (Stripe's `code`), else `provider_error`
/// (`failure_code::PROVIDER_ERROR`); money back.
async fn fail_refused(
    conn: &DatabaseConnection,
    payout_id: &str,
    refused: ProviderError,
) -> Result<()> {
    match refused {
        ProviderError::Declined { code, message } => {
            let txn = db::begin_write(conn).await?;
            apply_status(
                &txn,
                payout_id,
                PayoutStatus::Failed,
                Some((&code, &message)),
                Utc::now(),
            )
            .await?;
            txn.commit().await?;
            Ok(())
        }
        other => fail_unsubmitted(conn, payout_id, &other.to_string()).await,
    }
}

/// A payout the provider never accepted: failed, money back.
async fn fail_unsubmitted(conn: &DatabaseConnection, payout_id: &str, reason: &str) -> Result<()> {
    let txn = db::begin_write(conn).await?;
    apply_status(
        &txn,
        payout_id,
        PayoutStatus::Failed,
        Some((failure_code::PROVIDER_ERROR, reason)),
        Utc::now(),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Moves a payout to `to` if the lifecycle allows it, with its ledger
/// posting, inside the caller's transaction. The update is conditional on
/// the status read, so a concurrent move is detected and re-evaluated.
/// Returns whether the payout moved.
pub async fn apply_status<C: ConnectionTrait>(
    conn: &C,
    payout_id: &str,
    to: PayoutStatus,
    failure: Option<(&str, &str)>,
    at: DateTime<Utc>,
) -> Result<bool> {
    for _ in 0..5 {
        let Some(current) = payout::Entity::find_by_id(payout_id).one(conn).await? else {
            return Ok(false);
        };
        let from = current.status;
        if from.transition(to) != Transition::Move {
            return Ok(false);
        }
        let mut update = payout::Entity::update_many()
            .col_expr(payout::Column::Status, Expr::value(to))
            .col_expr(payout::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(payout::Column::Id.eq(payout_id))
            .filter(payout::Column::Status.eq(from));
        match to {
            PayoutStatus::Paid => update = update.col_expr(payout::Column::PaidAt, Expr::value(at)),
            PayoutStatus::Failed => {
                let (code, message) =
                    failure.unwrap_or((failure_code::UNKNOWN, "The payout failed."));
                update = update
                    .col_expr(payout::Column::FailedAt, Expr::value(at))
                    .col_expr(payout::Column::FailureCode, Expr::value(code))
                    .col_expr(payout::Column::FailureMessage, Expr::value(message));
            }
            _ => {}
        }
        if update.exec(conn).await?.rows_affected == 0 {
            continue; // moved under us: read again and re-decide
        }
        let mut funds_returned = false;
        if let Some(posting) = payout_transition(from, to, current.amount, current.fee) {
            funds_returned = posting.returns_funds();
            ledger::post(
                conn,
                &current.organization_id,
                &current.currency,
                &posting,
                Some(payout_id),
            )
            .await?;
        }
        // The organization hears of it in the same transaction: payout.paid
        // (this move happens once per payout), payout.failed, and
        // payout.available when the money came back.
        let moved = payout::Entity::find_by_id(payout_id)
            .one(conn)
            .await?
            .ok_or_else(|| Error::internal(format!("payout {payout_id} vanished")))?;
        events::record_payout(conn, &moved).await?;
        if funds_returned {
            events::record_funds_available(conn, &current.organization_id).await?;
        }
        return Ok(true);
    }
    Err(Error::internal(format!("payout {payout_id} kept changing")))
}

/// Cancels a payout the provider has not been sent: it becomes `canceled`
/// and its amount returns to the available balance, in one transaction.
/// The update is conditional on the payout being pending and unclaimed
/// (`claim_submission` is its mirror image), so a cancel and a submission
/// racing each other never both win. Otherwise `PayoutNotCancelable`, and
/// nothing changes.
pub async fn cancel(app: &App, org_id: &str, payout_id: &str) -> Result<payout::Model> {
    let current = find(&app.db, org_id, payout_id).await?;
    current
        .status
        .cancel(submission(&current))
        .map_err(not_cancelable)?;
    let (org, id) = (org_id.to_string(), payout_id.to_string());
    let canceled = app
        .writer
        .write(move |txn| {
            Box::pin(async move {
                let moved = payout::Entity::update_many()
                    .col_expr(payout::Column::Status, Expr::value(PayoutStatus::Canceled))
                    .col_expr(payout::Column::UpdatedAt, Expr::value(Utc::now()))
                    .filter(payout::Column::Id.eq(id.clone()))
                    .filter(payout::Column::OrganizationId.eq(org.clone()))
                    .filter(payout::Column::Status.eq(PayoutStatus::Pending))
                    .filter(payout::Column::SubmittedAt.is_null())
                    .filter(payout::Column::ProviderTransferId.is_null())
                    .exec(txn)
                    .await?;
                if moved.rows_affected == 0 {
                    return Ok::<_, Error>(None);
                }
                let row = find(txn, &org, &id).await?;
                let posting = payout_transition(
                    PayoutStatus::Pending,
                    PayoutStatus::Canceled,
                    row.amount,
                    row.fee,
                )
                .ok_or_else(|| Error::internal("a cancel moves no money"))?;
                ledger::post(
                    txn,
                    &row.organization_id,
                    &row.currency,
                    &posting,
                    Some(&id),
                )
                .await?;
                // Commet has no `payout.canceled`: the money back is the news.
                events::record_funds_available(txn, &row.organization_id).await?;
                Ok(Some(row))
            })
        })
        .await?;
    match canceled {
        Some(row) => Ok(row),
        // Claimed or moved between our read and our update: say why now.
        None => {
            let now = find(&app.db, org_id, payout_id).await?;
            Err(not_cancelable(
                now.status
                    .cancel(submission(&now))
                    .err()
                    .unwrap_or(crate::domain::payout_status::NotCancelable::Submitted),
            ))
        }
    }
}

fn submission(row: &payout::Model) -> Submission {
    if row.submitted_at.is_some() || row.provider_transfer_id.is_some() {
        Submission::Started
    } else {
        Submission::NotStarted
    }
}

fn not_cancelable(why: crate::domain::payout_status::NotCancelable) -> Error {
    Error::PayoutNotCancelable(why.to_string())
}

/// What `list` keeps: each filter given narrows the list.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<PayoutStatus>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created strictly before.
    pub created_to: Option<DateTime<Utc>>,
}

/// The organization's payouts, newest first, `limit` at a time. `cursor`
/// is the id of the last payout of the previous page (scoped to the
/// organization: another's id, or one of a form never issued, is not found).
pub async fn list(
    conn: &DatabaseConnection,
    org_id: &str,
    filter: &ListFilter,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<payout::Model>> {
    let mut query = payout::Entity::find()
        .filter(payout::Column::OrganizationId.eq(org_id))
        .order_by_desc(payout::Column::CreatedAt)
        .order_by_desc(payout::Column::Id)
        .limit(limit + 1);
    if let Some(status) = filter.status {
        query = query.filter(payout::Column::Status.eq(status));
    }
    // Bounds beyond years 0–9999 (an offset can push an RFC 3339 time there)
    // are clamped: no payout is outside, and SQLite compares stored times as
    // text, which only orders four-digit years.
    let clamp = |at: DateTime<Utc>| {
        let (first, last) = (
            DateTime::<Utc>::from_naive_utc_and_offset(
                chrono::NaiveDate::from_ymd_opt(0, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .expect("a valid date"),
                Utc,
            ),
            DateTime::<Utc>::from_naive_utc_and_offset(
                chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
                    .and_then(|d| d.and_hms_opt(23, 59, 59))
                    .expect("a valid date"),
                Utc,
            ),
        );
        at.clamp(first, last)
    };
    if let Some(from) = filter.created_from {
        query = query.filter(payout::Column::CreatedAt.gte(clamp(from)));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(payout::Column::CreatedAt.lt(clamp(to)));
    }
    if let Some(cursor) = cursor {
        let after = find(conn, org_id, cursor)
            .await
            .map_err(|e| e.for_cursor("payout"))?;
        query = query.filter(page::after(
            payout::Column::CreatedAt,
            payout::Column::Id,
            after.created_at,
            after.id,
        ));
    }
    Ok(Page::from_overfetch(query.all(conn).await?, limit))
}

async fn find_by_key(
    conn: &DatabaseConnection,
    org_id: &str,
    key: &str,
) -> Result<Option<payout::Model>> {
    Ok(payout::Entity::find()
        .filter(payout::Column::OrganizationId.eq(org_id))
        .filter(payout::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await?)
}

/// A key may only ever mean one payout.
fn same_request(
    existing: payout::Model,
    amount: i64,
    description: &Option<String>,
) -> Result<payout::Model> {
    if existing.amount == amount && &existing.description == description {
        Ok(existing)
    } else {
        Err(Error::IdempotencyKeyMismatch)
    }
}

/// A payout of this organization, or 404 (also for another organization's).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    payout_id: &str,
) -> Result<payout::Model> {
    if !crate::ids::is_own_id("po", payout_id) {
        return Err(Error::NotFound("no such payout".into()));
    }
    payout::Entity::find_by_id(payout_id)
        .filter(payout::Column::OrganizationId.eq(org_id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("no such payout".into()))
}
