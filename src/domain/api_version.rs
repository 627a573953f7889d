//! Commet API versions (`Commet-Version`): which wire shapes a request, or a
//! webhook delivery, gets. Versions are dates, as in Stripe; the known ones
//! are `ApiVersion::ALL` (oldest first). What each version changes on the
//! wire is `api::versions`'s.
//!
//! Resolution, as Commet documents it: the request's `Commet-Version`
//! header, else (webhooks) the endpoint's pin, else the organization's pin,
//! else `DEFAULT`. A well-formed date this service does not know resolves to
//! the nearest earlier known version (a client built against a later API
//! gets the newest shapes this service has); a date earlier than every known
//! version resolves to the oldest one, the seed page's shapes, which is what
//! Commet answered before it had versions.
use chrono::{Datelike, NaiveDate};

pub use entity::states::ApiVersion;

/// What a request gets when neither it nor its organization names a
/// version, and what `payouts org create` pins without `--api-version`: the
/// seed page's shapes.
pub const DEFAULT: ApiVersion = ApiVersion::V2026_07_11;

/// The newest version this service knows.
pub const LATEST: ApiVersion = ApiVersion::ALL[ApiVersion::ALL.len() - 1];

/// A version that is not a date `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a date written YYYY-MM-DD, such as {latest}; got {given:?}", latest = LATEST.as_str())]
pub struct Malformed {
    /// What was sent, cut to 40 characters.
    pub given: String,
}

/// The version a `Commet-Version` value names: a calendar date written
/// `YYYY-MM-DD` (year 0001 to 9999), resolved to a known version as the
/// module says. Anything else is `Malformed`.
pub fn parse(value: &str) -> Result<ApiVersion, Malformed> {
    let date = parse_date(value).ok_or_else(|| Malformed {
        given: value.chars().take(40).collect(),
    })?;
    Ok(resolve_date(date))
}

fn parse_date(value: &str) -> Option<NaiveDate> {
    let bytes = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes.get(range)?.iter().try_fold(0u32, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(0..4)?).ok()?,
        digits(5..7)?,
        digits(8..10)?,
    )?;
    (date.year() >= 1).then_some(date)
}

/// The known version in effect on `date`: the latest one not after it, or
/// the oldest one for a date before them all.
pub fn resolve_date(date: NaiveDate) -> ApiVersion {
    ApiVersion::ALL
        .into_iter()
        .rev()
        .find(|version| date_of(*version) <= date)
        .unwrap_or(ApiVersion::ALL[0])
}

/// The date a version is named for.
pub fn date_of(version: ApiVersion) -> NaiveDate {
    parse_date(version.as_str()).expect("a known version is a date")
}

/// An API request's version: its `Commet-Version` header, else its
/// organization's pin (none before authentication), else `DEFAULT`.
pub fn for_request(header: Option<ApiVersion>, org_pin: Option<ApiVersion>) -> ApiVersion {
    header.or(org_pin).unwrap_or(DEFAULT)
}

/// A webhook delivery's version (it has no header): the endpoint's pin,
/// else its organization's, else `DEFAULT`.
pub fn for_webhook_endpoint(
    endpoint_pin: Option<ApiVersion>,
    org_pin: Option<ApiVersion>,
) -> ApiVersion {
    endpoint_pin.or(org_pin).unwrap_or(DEFAULT)
}

/// From this version on, answers are the resource itself rather than the
/// `{success, data}` envelope (Commet's SDK v8).
pub const DIRECT_RESOURCES: ApiVersion = ApiVersion::V2026_07_24;

/// Whether `version` answers with the `{success, data}` envelope.
pub fn uses_envelope(version: ApiVersion) -> bool {
    version < DIRECT_RESOURCES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_versions_are_dates_in_order_and_the_default_is_the_seeds() {
        let dates: Vec<NaiveDate> = ApiVersion::ALL.into_iter().map(date_of).collect();
        assert!(dates.windows(2).all(|w| w[0] < w[1]), "{dates:?}");
        assert_eq!(DEFAULT.as_str(), "2026-07-11");
        assert_eq!(LATEST.as_str(), "2026-07-24");
        assert!(uses_envelope(DEFAULT));
        assert!(!uses_envelope(LATEST));
    }

    #[test]
    fn a_known_date_is_its_version() {
        for version in ApiVersion::ALL {
            assert_eq!(parse(version.as_str()), Ok(version));
        }
    }

    #[test]
    fn an_unknown_date_resolves_to_the_nearest_earlier_version() {
        let v = |s| parse(s).unwrap();
        assert_eq!(v("2026-07-23"), ApiVersion::V2026_07_11);
        assert_eq!(v("2026-07-25"), ApiVersion::V2026_07_24);
        assert_eq!(v("2026-08-27"), ApiVersion::V2026_07_24); // commet-sdk 9.7.0
        assert_eq!(v("9999-12-31"), ApiVersion::V2026_07_24);
        // Before every known version: the oldest, the seed's shapes.
        assert_eq!(v("2026-07-10"), ApiVersion::V2026_07_11);
        assert_eq!(v("0001-01-01"), ApiVersion::V2026_07_11);
    }

    #[test]
    fn anything_but_a_calendar_date_is_malformed() {
        for bad in [
            "",
            "latest",
            "2026-7-24",
            "2026-07-24 ",
            " 2026-07-24",
            "2026-07-24T00:00:00Z",
            "2026/07/24",
            "20260724",
            "2026-13-01",
            "2026-02-30",
            "0000-01-01",
            "+2026-07-24",
            "２０２６-07-24",
            "2026-07-2x",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let err = parse(&"x".repeat(100)).unwrap_err();
        assert_eq!(err.given.len(), 40);
    }

    #[test]
    fn the_header_wins_over_the_pins_and_the_pins_over_the_default() {
        use ApiVersion::*;
        assert_eq!(
            for_request(Some(V2026_07_24), Some(V2026_07_11)),
            V2026_07_24
        );
        assert_eq!(
            for_request(Some(V2026_07_11), Some(V2026_07_24)),
            V2026_07_11
        );
        assert_eq!(for_request(None, Some(V2026_07_24)), V2026_07_24);
        assert_eq!(for_request(None, None), DEFAULT);
        assert_eq!(
            for_webhook_endpoint(Some(V2026_07_11), Some(V2026_07_24)),
            V2026_07_11
        );
        assert_eq!(for_webhook_endpoint(None, Some(V2026_07_24)), V2026_07_24);
        assert_eq!(for_webhook_endpoint(None, None), DEFAULT);
    }
}
