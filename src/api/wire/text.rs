//! Text fields with the rules every free-text field shares, as types: the
//! schema (and so `validate::ValidJson`, which checks bodies against it)
//! gets its length and pattern from the type, written once here.
//!
//! The patterns spell out Unicode's whitespace (the White_Space property)
//! and exclude NUL: `\s` means different sets in Rust, ECMAScript and
//! Python, so clients and schema-driven tools would disagree with this
//! service on it; PostgreSQL cannot store NUL.
use std::{borrow::Cow, sync::LazyLock};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use regex::Regex;
use serde_json::Value;

/// At least one character that is not whitespace, and no NUL.
pub const NON_BLANK_PATTERN: &str = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$";
/// Anything but NUL.
pub const NO_NUL_PATTERN: &str = r"^[^\x00]*$";
/// An `http` or `https` URL with a host, and no whitespace or NUL.
pub const HTTP_URL_PATTERN: &str = r"^https?://[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000/?#]+[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

/// An `http` or `https` URL with a host and no credentials (no `@` before
/// the first `/`, `?` or `#`): one this service connects to. Whether http is
/// allowed and the host is public depends on configuration and DNS, so no
/// pattern states it.
pub const FETCH_URL_PATTERN: &str = r"^https?://[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000/?#@]+(?:[/?#][^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$";

static NON_BLANK: LazyLock<Regex> = LazyLock::new(|| Regex::new(NON_BLANK_PATTERN).unwrap());
static NO_NUL: LazyLock<Regex> = LazyLock::new(|| Regex::new(NO_NUL_PATTERN).unwrap());
static HTTP_URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(HTTP_URL_PATTERN).unwrap());
static FETCH_URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(FETCH_URL_PATTERN).unwrap());

/// Declares a `String` newtype with a length cap `MAX` (in characters) and
/// a pattern, as an inline `string` schema.
macro_rules! text_type {
    ($(#[$meta:meta])* $ty:ident, $name:literal, min = $min:expr, $pattern:ident, $regex:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty<const MAX: usize>(pub String);

        impl<const MAX: usize> $ty<MAX> {
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl<const MAX: usize> AsRef<str> for $ty<MAX> {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<const MAX: usize> From<&str> for $ty<MAX> {
            fn from(value: &str) -> Self {
                Self(value.to_string())
            }
        }

        impl<const MAX: usize> Type for $ty<MAX> {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                format!(concat!($name, "_{}"), MAX).into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    min_length: $min,
                    max_length: Some(MAX),
                    pattern: Some($pattern.to_string()),
                    ..MetaSchema::new("string")
                }))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl<const MAX: usize> ParseFromJSON for $ty<MAX> {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                let Some(Value::String(text)) = value else {
                    return Err(ParseError::expected_type(value.unwrap_or_default()));
                };
                let chars = text.chars().count();
                if chars < $min.unwrap_or(0) || chars > MAX || !$regex.is_match(&text) {
                    return Err(ParseError::custom(format!(
                        "must be at most {MAX} characters and match {}",
                        $pattern
                    )));
                }
                Ok(Self(text))
            }
        }

        impl<const MAX: usize> ToJSON for $ty<MAX> {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }
    };
}

text_type!(
    /// Required text: 1 to `MAX` characters, not only whitespace, no NUL.
    NonBlank,
    "non_blank",
    min = Some(1),
    NON_BLANK_PATTERN,
    NON_BLANK
);
text_type!(
    /// Optional text: at most `MAX` characters, no NUL (may be empty).
    NoNul,
    "no_nul",
    min = None::<usize>,
    NO_NUL_PATTERN,
    NO_NUL
);

text_type!(
    /// A URL the service will fetch or show: at most `MAX` characters.
    HttpUrl,
    "http_url",
    min = None::<usize>,
    HTTP_URL_PATTERN,
    HTTP_URL
);
text_type!(
    /// A URL the service connects to (identity documents, webhook
    /// endpoints): an `HttpUrl` without credentials.
    FetchUrl,
    "fetch_url",
    min = None::<usize>,
    FETCH_URL_PATTERN,
    FETCH_URL
);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: ParseFromJSON>(value: Value) -> bool {
        T::parse_from_json(Some(value)).is_ok()
    }

    #[test]
    fn non_blank_refuses_blank_nul_long_and_non_strings() {
        assert!(parse::<NonBlank<5>>("Ada".into()));
        assert!(parse::<NonBlank<5>>(" a ".into()));
        for refused in ["", " ", "\u{3000}\t", "a\0", "abcdef"] {
            assert!(!parse::<NonBlank<5>>(refused.into()), "{refused:?}");
        }
        assert!(!parse::<NonBlank<5>>(serde_json::json!(12)));
    }

    #[test]
    fn urls_are_http_with_a_host_and_no_whitespace() {
        assert!(parse::<HttpUrl<40>>("https://acme.example/a?b#c".into()));
        for refused in [
            "ftp://x",
            "https://",
            "https:///x",
            "https://a b",
            "https://a\0",
        ] {
            assert!(!parse::<HttpUrl<40>>(refused.into()), "{refused:?}");
        }
    }

    #[test]
    fn fetched_urls_carry_no_credentials() {
        assert!(parse::<FetchUrl<40>>("https://acme.example/a@b?c@d".into()));
        assert!(parse::<FetchUrl<40>>("http://127.0.0.1:8080/x".into()));
        for refused in [
            "https://user:pw@acme.example/",
            "https://user@x",
            "https://@x",
            "ftp://x",
        ] {
            assert!(!parse::<FetchUrl<40>>(refused.into()), "{refused:?}");
        }
    }

    #[test]
    fn no_nul_allows_empty_but_not_nul() {
        assert!(parse::<NoNul<3>>("".into()));
        assert!(parse::<NoNul<3>>("   ".into()));
        assert!(!parse::<NoNul<3>>("a\0".into()));
        assert!(!parse::<NoNul<3>>("abcd".into()));
    }
}
