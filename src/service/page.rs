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
