//! The organization's balance and the ledger transactions behind it.
use entity::{ledger_transaction, states::LedgerKind};
use poem::Request;
use poem_openapi::{param::Query, payload::Json, types::Example, ApiResponse, Object, OpenApi};

use super::{app, livemode, ApiKeyAuth, Result, Tag};
use crate::{
    api::wire::{example_time, List, Success, Timestamp},
    service::{funds, ledger},
};

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct Balance {
    /// Always `balance`.
    pub object: String,
    pub livemode: bool,
    /// Can be paid out now. Negative when refunds or disputes took more
    /// than there was: later credits repay that first.
    pub available: i64,
    /// Credited but not yet released.
    pub pending: i64,
    /// Reserved by payouts not final yet.
    pub in_payout: i64,
    /// Paid out, net of fees.
    pub paid_out: i64,
    /// Held back while disputes or reviews are open.
    pub held: i64,
    pub currency: String,
}

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct BalanceTransaction {
    /// Always `balance_transaction`.
    pub object: String,
    pub id: String,
    #[oai(rename = "type")]
    pub kind: LedgerKind,
    /// Cents moved.
    pub amount: i64,
    pub currency: String,
    #[oai(nullable)]
    pub payout_id: Option<String>,
    pub created_at: Timestamp,
}

impl From<ledger_transaction::Model> for BalanceTransaction {
    fn from(row: ledger_transaction::Model) -> Self {
        Self {
            object: "balance_transaction".into(),
            id: row.id,
            kind: row.kind,
            amount: row.amount,
            currency: row.currency,
            payout_id: row.payout_id,
            created_at: row.created_at.into(),
        }
    }
}

#[derive(ApiResponse)]
enum BalanceResponse {
    #[oai(status = 200)]
    Ok(Json<Success<Balance>>),
}

#[derive(ApiResponse)]
enum BalanceTransactionsResponse {
    #[oai(status = 200)]
    Ok(Json<List<BalanceTransaction>>),
}

pub struct Api;

#[OpenApi]
impl Api {
    /// Get the balance
    ///
    /// Available, pending, reserved (in payout) and paid-out amounts, in cents.
    #[oai(
        path = "/balance",
        method = "get",
        tag = "Tag::Balance",
        operation_id = "getBalance"
    )]
    async fn get_balance(&self, req: &Request, auth: ApiKeyAuth) -> Result<BalanceResponse> {
        let balance = ledger::get_balance(&app(req)?.read_db, &auth.0.id).await?;
        Ok(BalanceResponse::Ok(Json(Success::new(Balance {
            object: "balance".into(),
            livemode: livemode(&auth.0),
            available: balance.available,
            pending: balance.pending,
            in_payout: balance.in_payout,
            paid_out: balance.paid_out,
            held: balance.held,
            currency: balance.currency,
        }))))
    }

    /// List balance transactions
    ///
    /// The ledger transactions behind the balance, newest first. Pass the
    /// previous page's `nextCursor` as `cursor` for the next page.
    #[oai(
        path = "/balance/transactions",
        method = "get",
        tag = "Tag::Balance",
        operation_id = "listBalanceTransactions"
    )]
    async fn list_balance_transactions(
        &self,
        req: &Request,
        auth: ApiKeyAuth,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// The `nextCursor` of the previous page.
        #[oai(validator(min_length = 1, max_length = 64))]
        cursor: Query<Option<String>>,
    ) -> Result<BalanceTransactionsResponse> {
        let limit = limit.0.unwrap_or(20) as u64;
        let page =
            funds::transactions(&app(req)?.read_db, &auth.0.id, limit, cursor.0.as_deref()).await?;
        Ok(BalanceTransactionsResponse::Ok(Json(List::from_page(
            page,
            |row| row.id.clone(),
            Into::into,
        ))))
    }
}

impl Example for Balance {
    fn example() -> Self {
        Self {
            object: "balance".into(),
            livemode: false,
            available: 47500,
            pending: 0,
            in_payout: 2500,
            paid_out: 0,
            held: 0,
            currency: "usd".into(),
        }
    }
}

impl Example for BalanceTransaction {
    fn example() -> Self {
        Self {
            object: "balance_transaction".into(),
            id: "txn_8PzR3nW6Kq1Xv5Tm9Ls2Hc7J".into(),
            kind: LedgerKind::Payout,
            amount: 2500,
            currency: "usd".into(),
            payout_id: Some("po_5bWn8Kq2Xr7TzL1mVc4Hy9Dg".into()),
            created_at: example_time(10, 10),
        }
    }
}
