//! One page of a cursor list, newest first: what every list service returns.

/// `items` in the list's order; `has_more` when a page follows the last item.
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// From a query that fetched `limit + 1` rows: the extra row only says
    /// that another page exists.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u64) -> Self {
        let has_more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        Self {
            items: rows,
            has_more,
        }
    }
}

/// The keyset condition of a list ordered by `(created, id)` descending:
/// the rows that come after the cursor row's `(at, id)`.
pub fn after<C: sea_orm::ColumnTrait>(
    created: C,
    id_column: C,
    at: chrono::DateTime<chrono::Utc>,
    id: String,
) -> sea_orm::Condition {
    use sea_orm::{sea_query::Expr, ExprTrait};
    sea_orm::Condition::any()
        .add(created.lt(at))
        .add(Expr::col(created).eq(at).and(Expr::col(id_column).lt(id)))
}
