//! The ledger for the operator's accounting: every entry (one leg of a
//! transaction) with its organization, account, amount and the operator's
//! external id, oldest first, read page by page from one snapshot (so a
//! long export sees one consistent ledger while payouts go on).
use chrono::{DateTime, Utc};
use entity::{
    ledger_entry, ledger_transaction,
    states::{LedgerAccount, LedgerKind},
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::{db, error::Result};

const PAGE: u64 = 1000;

/// One ledger entry, with what its transaction says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub transaction_id: String,
    pub created_at: DateTime<Utc>,
    pub organization_id: String,
    pub kind: LedgerKind,
    pub account: LedgerAccount,
    /// Signed: what the entry added to (or took from) the account.
    pub amount: i64,
    pub currency: String,
    pub payout_id: Option<String>,
    pub external_id: Option<String>,
}

/// The entries created in `[from, to)` (either bound optional), in pages.
pub struct Pages {
    snapshot: Option<DatabaseTransaction>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: i64,
}

pub async fn pages(
    db: &DatabaseConnection,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Pages> {
    Ok(Pages {
        snapshot: Some(db::begin_snapshot(db).await?),
        from,
        to,
        after: 0,
    })
}

impl Pages {
    /// The next page, or `None` once every entry was read.
    pub async fn next(&mut self) -> Result<Option<Vec<ExportRow>>> {
        let Some(snapshot) = &self.snapshot else {
            return Ok(None);
        };
        let mut query = ledger_entry::Entity::find()
            .filter(ledger_entry::Column::Id.gt(self.after))
            .order_by_asc(ledger_entry::Column::Id)
            .limit(PAGE);
        if let Some(from) = self.from {
            query = query.filter(ledger_entry::Column::CreatedAt.gte(from));
        }
        if let Some(to) = self.to {
            query = query.filter(ledger_entry::Column::CreatedAt.lt(to));
        }
        let entries = query.all(snapshot).await?;
        if entries.is_empty() {
            if let Some(snapshot) = self.snapshot.take() {
                snapshot.commit().await?;
            }
            return Ok(None);
        }
        self.after = entries.last().map(|e| e.id).unwrap_or(self.after);
        let ids: Vec<&str> = entries.iter().map(|e| e.transaction_id.as_str()).collect();
        let transactions: std::collections::HashMap<String, ledger_transaction::Model> =
            ledger_transaction::Entity::find()
                .filter(ledger_transaction::Column::Id.is_in(ids))
                .all(snapshot)
                .await?
                .into_iter()
                .map(|t| (t.id.clone(), t))
                .collect();
        let mut rows = Vec::with_capacity(entries.len());
        for entry in entries {
            let t = transactions.get(&entry.transaction_id).ok_or_else(|| {
                crate::error::Error::internal(format!(
                    "entry {} has no transaction {}",
                    entry.id, entry.transaction_id
                ))
            })?;
            rows.push(ExportRow {
                transaction_id: t.id.clone(),
                created_at: t.created_at,
                organization_id: entry.organization_id,
                kind: t.kind,
                account: entry.account,
                amount: entry.amount,
                currency: t.currency.clone(),
                payout_id: t.payout_id.clone(),
                external_id: t.external_id.clone(),
            });
        }
        Ok(Some(rows))
    }
}
