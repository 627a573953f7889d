//! Credits: money that arrived from outside (a customer's payment), once per
//! `externalId` for ever. To available, or to pending until a release date.
//! The CLI's `payouts balance credit` and the operator API both come here.
use chrono::{DateTime, Utc};
use entity::{credit, organization};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::{
    events,
    ledger::{self, get_balance, lock_balance, post},
    movements::{check, make_once, Applied, Movement},
};
use crate::{
    db,
    domain::ledger::{self as postings, credit as credit_posting},
    error::{Error, Result},
    group_commit::Writer,
    ids,
    queue::{self, Job, Outcome},
};
use entity::balance;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct NewCredit {
    pub external_id: String,
    pub amount: i64,
    pub description: Option<String>,
    /// Credited to pending and released by a job at this time.
    pub release_at: Option<DateTime<Utc>>,
    /// Credited to pending with no release date (released by hand).
    pub pending: bool,
}

impl Movement for credit::Model {
    const KIND: &'static str = "credit";

    type Entity = credit::Entity;
    const ORGANIZATION_ID: credit::Column = credit::Column::OrganizationId;
    const EXTERNAL_ID: credit::Column = credit::Column::ExternalId;

    fn describe(&self) -> String {
        format!("of {}", self.amount)
    }
}

/// Credits `new.amount` to `org` unless a credit with its `external_id`
/// exists: then that one is returned if it has the same amount, and the
/// request is a conflict otherwise. Concurrent requests with one external
/// id make one credit (the unique index decides; the losers read the winner).
///
/// Available money rises here (a debt, if any, is repaid first): the place
/// a `payout.available` event belongs (see the transaction below).
pub async fn create(
    writer: &Writer,
    org: &organization::Model,
    new: NewCredit,
) -> Result<Applied<credit::Model>> {
    check(&new.external_id, new.amount, new.description.as_deref())?;
    let (org_id, external_id) = (org.id.clone(), new.external_id.clone());
    let same = |found: &credit::Model| found.amount == new.amount;
    let (org, new) = (org.clone(), new.clone());
    make_once(writer, &org_id, &external_id, same, move |txn| {
        Box::pin(async move {
            let pending = new.pending || new.release_at.is_some();
            let transaction_id = ledger::post_with(
                txn,
                &org.id,
                &org.currency,
                &credit_posting(new.amount, pending),
                None,
                Some(&new.external_id),
            )
            .await?;
            let row = credit::Model {
                id: ids::new_id("cr"),
                organization_id: org.id.clone(),
                external_id: new.external_id.clone(),
                amount: new.amount,
                currency: org.currency.clone(),
                description: new.description.clone(),
                available_on: new.release_at.map(|at| at.date_naive()),
                transaction_id: transaction_id.clone(),
                created_at: Utc::now(),
            };
            credit::Entity::insert(credit::ActiveModel::from(row.clone()))
                .exec_without_returning(txn)
                .await?;
            if let Some(at) = new.release_at {
                let job = ReleaseFunds::new(&org.id, new.amount);
                queue::enqueue(txn, &format!("release_{transaction_id}"), &job, at).await?;
            }
            if !pending {
                events::record_funds_available(txn, &org.id).await?;
            }
            Ok(row)
        })
    })
    .await
}

/// Moves pending funds to available: `amount`, or all of them. Releasing
/// more than is pending releases what there is.
pub async fn release<C: ConnectionTrait>(
    conn: &C,
    org_id: &str,
    amount: Option<i64>,
) -> Result<balance::Model> {
    let current = lock_balance(conn, org_id).await?;
    let amount = std::cmp::min(amount.unwrap_or(current.pending), current.pending);
    if amount > 0 {
        post(
            conn,
            org_id,
            &current.currency,
            &postings::release(amount),
            None,
        )
        .await?;
        events::record_funds_available(conn, org_id).await?;
    }
    get_balance(conn, org_id).await
}

/// Releases funds credited with an `available_on` date, when it comes.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseFunds {
    organization_id: String,
    amount: i64,
}

impl ReleaseFunds {
    pub fn new(organization_id: &str, amount: i64) -> Self {
        Self {
            organization_id: organization_id.to_string(),
            amount,
        }
    }
}

#[async_trait::async_trait]
impl Job for ReleaseFunds {
    const KIND: &'static str = "release_funds";
    type Context = super::App;

    async fn run(self, app: &super::App, _attempt: i32) -> Outcome {
        let result = async {
            let txn = db::begin_write(&app.db).await?;
            release(&txn, &self.organization_id, Some(self.amount)).await?;
            txn.commit().await?;
            Ok::<_, Error>(())
        }
        .await;
        match result {
            Ok(()) => Outcome::Done,
            Err(err) => Outcome::Retry(err.to_string()),
        }
    }
}
