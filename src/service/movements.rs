//! What the operator's movements of money (credits, debits, holds) share:
//! each is named by the operator's `externalId`, unique per organization and
//! kind for ever, so a retried or concurrent repeat finds the first one
//! instead of moving the money twice, and the same `externalId` with other
//! values is a conflict.
use sea_orm::{DatabaseTransaction, DbErr};

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

/// The movement a write made (`Created`), or the one already under its
/// external id (`Existing`): made before, or by the concurrent request that
/// won the race for it (the unique index refused ours), read back by `find`.
pub(super) async fn made_or_found<M, F>(
    writer: &Writer,
    what: &str,
    attempt: std::result::Result<Applied<M>, WriteError>,
    find: F,
) -> Result<Applied<M>>
where
    M: Send + 'static,
    F: for<'a> FnOnce(
            &'a DatabaseTransaction,
        ) -> BoxFuture<'a, std::result::Result<Option<M>, DbErr>>
        + Send
        + 'static,
{
    match attempt {
        Ok(applied) => Ok(applied),
        Err(err) => {
            err.lost_race()?;
            writer
                .write(find)
                .await?
                .map(Applied::Existing)
                .ok_or_else(|| {
                    Error::internal(format!("a {what}'s external id raced but is absent"))
                })
        }
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

/// The existing movement answers a repeat only when it is the same request.
pub(super) fn same_or_conflict<T>(
    existing: T,
    what: &str,
    external_id: &str,
    same: bool,
    differs: impl FnOnce(&T) -> String,
) -> Result<Applied<T>> {
    if same {
        Ok(Applied::Existing(existing))
    } else {
        Err(Error::ExternalIdConflict(format!(
            "externalId {external_id} was already used for a {what} {}",
            differs(&existing)
        )))
    }
}
