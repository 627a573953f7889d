//! What the operator's movements of money (credits, debits, holds) share:
//! each is named by the operator's `externalId`, unique per organization and
//! kind for ever, so a retried or concurrent repeat finds the first one
//! instead of moving the money twice, and the same `externalId` with other
//! values is a conflict.
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};

use super::MAX_DESCRIPTION_CHARS;
use crate::{
    db,
    error::{Error, Result},
    group_commit::{BoxFuture, Writer},
    ids,
};

/// Largest amount one movement may carry (10^15 cents: far from overflowing
/// a balance, large enough for any bulk credit).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// Whether a request made the movement or found the one made before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied<T> {
    Created(T),
    Existing(T),
}

impl<T> Applied<T> {
    pub fn created(&self) -> bool {
        matches!(self, Applied::Created(_))
    }

    pub fn into_inner(self) -> T {
        match self {
            Applied::Created(row) | Applied::Existing(row) => row,
        }
    }
}

/// A write refused by the service's rules, or by the database (a unique
/// external id raced by a concurrent request among others).
pub(super) enum WriteError {
    Refused(Error),
    Db(DbErr),
}

impl From<DbErr> for WriteError {
    fn from(err: DbErr) -> Self {
        WriteError::Db(err)
    }
}

impl From<Error> for WriteError {
    fn from(err: Error) -> Self {
        WriteError::Refused(err)
    }
}

impl WriteError {
    /// `Ok(())` when the write lost a race for its external id (the winner
    /// is then to be read back), the error otherwise.
    pub(super) fn lost_race(self) -> Result<()> {
        match self {
            WriteError::Db(err) if db::is_unique_violation(&err) => Ok(()),
            WriteError::Db(err) => Err(err.into()),
            WriteError::Refused(err) => Err(err),
        }
    }
}

/// A kind of movement as stored: its table, the two columns that name it
/// (unique together), and how a conflicting repeat is told what the first
/// one was.
pub(super) trait Movement: sea_orm::FromQueryResult + Sized + Send + Sync + 'static {
    /// "credit", "debit", "hold": for messages.
    const KIND: &'static str;
    type Entity: EntityTrait<Model = Self>;
    const ORGANIZATION_ID: <Self::Entity as EntityTrait>::Column;
    const EXTERNAL_ID: <Self::Entity as EntityTrait>::Column;

    /// What the first movement under an external id was ("of 500 (refund)").
    fn describe(&self) -> String;
}

/// The movement of kind `M` that `org_id` made under `external_id`, if any.
async fn find_by_external<M: Movement>(
    txn: &DatabaseTransaction,
    org_id: &str,
    external_id: &str,
) -> std::result::Result<Option<M>, DbErr> {
    M::Entity::find()
        .filter(M::ORGANIZATION_ID.eq(org_id))
        .filter(M::EXTERNAL_ID.eq(external_id))
        .one(txn)
        .await
}

/// Makes a movement once per `external_id` of `org_id`: `make` runs in a
/// write transaction unless one exists already. A repeat (made before, or
/// by the concurrent request that won the race for the unique index) is
/// `Existing` when `same` says it is the same request, and a conflict
/// otherwise.
pub(super) async fn make_once<M, Make>(
    writer: &Writer,
    org_id: &str,
    external_id: &str,
    same: impl FnOnce(&M) -> bool,
    make: Make,
) -> Result<Applied<M>>
where
    M: Movement,
    Make: for<'a> FnOnce(&'a DatabaseTransaction) -> BoxFuture<'a, std::result::Result<M, WriteError>>
        + Send
        + 'static,
{
    let key = (org_id.to_owned(), external_id.to_owned());
    let attempt = {
        let (org_id, external_id) = key.clone();
        writer
            .write(move |txn| {
                Box::pin(async move {
                    if let Some(existing) =
                        find_by_external::<M>(txn, &org_id, &external_id).await?
                    {
                        return Ok(Applied::Existing(existing));
                    }
                    Ok::<_, WriteError>(Applied::Created(make(txn).await?))
                })
            })
            .await
    };
    let existing = match attempt {
        Ok(Applied::Created(row)) => return Ok(Applied::Created(row)),
        Ok(Applied::Existing(row)) => row,
        Err(err) => {
            err.lost_race()?;
            let (org_id, external_id) = key;
            writer
                .write(move |txn| {
                    Box::pin(async move { find_by_external::<M>(txn, &org_id, &external_id).await })
                })
                .await?
                .ok_or_else(|| {
                    Error::internal(format!("a {}'s external id raced but is absent", M::KIND))
                })?
        }
    };
    if same(&existing) {
        Ok(Applied::Existing(existing))
    } else {
        Err(Error::ExternalIdConflict(format!(
            "externalId {external_id} was already used for a {} {}",
            M::KIND,
            existing.describe()
        )))
    }
}

/// The rules every movement's fields share (the API's schema says the
/// same; the CLI reaches here directly).
pub(super) fn check(external_id: &str, amount: i64, description: Option<&str>) -> Result<()> {
    let mut errors = Vec::new();
    if !(1..=MAX_AMOUNT).contains(&amount) {
        errors.push(crate::error::FieldError::new(
            "amount",
            format!("must be 1 to {MAX_AMOUNT} cents"),
        ));
    }
    if !ids::is_external_id(external_id) {
        errors.push(crate::error::FieldError::new(
            "externalId",
            "must be 1 to 255 printable ASCII characters without spaces",
        ));
    }
    if let Some(text) = description {
        if text.chars().count() > MAX_DESCRIPTION_CHARS || text.contains('\0') {
            errors.push(crate::error::FieldError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters, without NUL"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}
