//! The `Idempotency-Key` header: its rule, its schema and its parsing, once.
//! Operations declare it (`Header<Option<IdempotencyKey>>`) so the spec
//! documents it; `api::idempotency` parses it with the same rule before the
//! operation runs and does the work.
use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromParameter, ParseResult, Type},
};

use crate::error::Error;

pub const NAME: &str = "Idempotency-Key";
pub const MAX_LENGTH: usize = 255;
/// Printable ASCII, no space at either end (HTTP would trim it anyway).
pub const PATTERN: &str = r"^[!-~]([ -~]*[!-~])?$";

/// A request is applied once per organization and key for 24 hours; a
/// repeat gets the first answer (`Idempotent-Replayed: true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// 1 to `MAX_LENGTH` printable ASCII characters, no space at either end.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let printable = |b: &u8| (b' '..=b'~').contains(b);
        let ends_ok = bytes.first().is_some_and(|b| *b != b' ') && bytes.last() != Some(&b' ');
        if bytes.is_empty() || bytes.len() > MAX_LENGTH {
            return Err(Error::field(
                NAME,
                format!("must be 1 to {MAX_LENGTH} characters long"),
            ));
        }
        if !bytes.iter().all(printable) || !ends_ok {
            return Err(Error::field(
                NAME,
                "must be printable ASCII with no space at either end",
            ));
        }
        Ok(Self(String::from_utf8_lossy(bytes).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Type for IdempotencyKey {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "idempotency_key".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: Some(1),
            max_length: Some(MAX_LENGTH),
            pattern: Some(PATTERN.to_string()),
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

impl ParseFromParameter for IdempotencyKey {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Self::parse(value.as_bytes()).map_err(|err| ParseError::custom(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_and_the_published_pattern_agree() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        let long = "k".repeat(MAX_LENGTH);
        let too_long = "k".repeat(MAX_LENGTH + 1);
        let cases: &[(&[u8], bool)] = &[
            (b"a", true),
            (b"order-42 retry", true),
            (long.as_bytes(), true),
            (too_long.as_bytes(), false),
            (b"", false),
            (b"a\nb", false),
            (b"a\tb", false),
            (b" a", false),
            (b"a ", false),
            ("caf\u{e9}".as_bytes(), false),
        ];
        for (key, ok) in cases {
            assert_eq!(IdempotencyKey::parse(key).is_ok(), *ok, "{key:?}");
            let text = String::from_utf8_lossy(key);
            let by_schema = pattern.is_match(&text) && text.chars().count() <= MAX_LENGTH;
            assert_eq!(by_schema, *ok, "schema disagrees on {key:?}");
        }
    }
}
