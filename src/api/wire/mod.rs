//! What every resource's wire shapes share: the success envelope (the error
//! envelope is `api::error`'s; its examples are here beside this one), dates,
//! text types, the events an endpoint subscribes to and the
//! `Idempotency-Key` header.
//!
//! `Success` and `List` are the oldest API version's shapes. Handlers answer
//! with them whatever the caller's version: `api::versions` renders every
//! answer for the request's `Commet-Version` (the resource itself, `{object:
//! "list", …}`), so a new route needs nothing to serve every version.
mod dates;
mod events;
pub mod idempotency_key;
mod text;

use poem_openapi::{
    types::{Example, ParseFromJSON, ToJSON},
    Object,
};

pub use dates::{Date, Timestamp};
pub use events::SubscribableEvent;
pub use idempotency_key::IdempotencyKey;
pub use text::{FetchUrl, HttpUrl, NoNul, NonBlank};

use super::{
    error::{ErrorBody, ErrorEnvelope, FieldErrorDetail},
    error_codes::{self, ErrorCode},
};

/// `{"success": true, "data": …}`
#[derive(Object, Debug)]
#[oai(example)]
pub struct Success<T: ParseFromJSON + ToJSON> {
    pub success: bool,
    pub data: T,
}

impl<T: ParseFromJSON + ToJSON> Success<T> {
    pub fn new(data: T) -> Self {
        Self {
            success: true,
            data,
        }
    }
}

impl<T: ParseFromJSON + ToJSON + Example> Example for Success<T> {
    fn example() -> Self {
        Success::new(T::example())
    }
}

/// A cursor list: `{"success": true, "data": [...], "hasMore": …, "nextCursor": …}`.
/// Every list route answers with this shape.
#[derive(Object, Debug)]
#[oai(example, rename_all = "camelCase")]
pub struct List<T: ParseFromJSON + ToJSON> {
    pub success: bool,
    pub data: Vec<T>,
    pub has_more: bool,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

impl<T: ParseFromJSON + ToJSON> List<T> {
    /// The wire page of a service page; `cursor_of` names the item a next
    /// page starts after (its id).
    pub fn from_page<M>(
        page: crate::service::page::Page<M>,
        cursor_of: impl Fn(&M) -> String,
        render: impl Fn(M) -> T,
    ) -> Self {
        let rendered: Result<Self, std::convert::Infallible> =
            Self::try_from_page(page, cursor_of, |item| Ok(render(item)));
        match rendered {
            Ok(list) => list,
        }
    }

    /// `from_page` for a view that can fail (a stored value it cannot read).
    pub fn try_from_page<M, E>(
        page: crate::service::page::Page<M>,
        cursor_of: impl Fn(&M) -> String,
        render: impl Fn(M) -> Result<T, E>,
    ) -> Result<Self, E> {
        let next_cursor = if page.has_more {
            page.items.last().map(&cursor_of)
        } else {
            None
        };
        Ok(Self {
            success: true,
            data: page
                .items
                .into_iter()
                .map(render)
                .collect::<Result<_, E>>()?,
            has_more: page.has_more,
            next_cursor,
        })
    }
}

impl<T: ParseFromJSON + ToJSON + Example> Example for List<T> {
    fn example() -> Self {
        Self {
            success: true,
            data: vec![T::example()],
            has_more: false,
            next_cursor: None,
        }
    }
}

/// A fixed example time: 2026-06-12 at `hour:minute` UTC.
pub fn example_time(hour: u32, minute: u32) -> Timestamp {
    use chrono::TimeZone;
    Timestamp(
        chrono::Utc
            .with_ymd_and_hms(2026, 6, 12, hour, minute, 0)
            .unwrap(),
    )
}

impl Example for FieldErrorDetail {
    fn example() -> Self {
        Self {
            field: "amount".into(),
            message: "must be at least 1000".into(),
        }
    }
}

/// The envelope `entry`'s code answers with, for the spec's error examples.
pub fn error_envelope(entry: &ErrorCode) -> ErrorEnvelope {
    let field = (entry.code == error_codes::VALIDATION_ERROR.code).then(FieldErrorDetail::example);
    ErrorEnvelope {
        success: false,
        error: ErrorBody {
            kind: entry.kind.into(),
            code: entry.code.into(),
            message: entry.example.into(),
            param: field.as_ref().map(|f| f.field.clone()),
            details: field.map(|f| vec![f]),
            doc_url: format!("http://127.0.0.1:8080/docs/errors/{}", entry.code),
        },
    }
}

impl Example for ErrorBody {
    fn example() -> Self {
        error_envelope(&error_codes::VALIDATION_ERROR).error
    }
}

impl Example for ErrorEnvelope {
    fn example() -> Self {
        Self {
            success: false,
            error: ErrorBody::example(),
        }
    }
}
