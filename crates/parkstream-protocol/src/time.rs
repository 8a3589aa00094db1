//! Timestamps as they travel on the wire.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, serialized as RFC 3339 UTC with milliseconds (`2026-11-26T10:00:00.000Z`),
/// the form JavaScript's `Date.prototype.toISOString` prints, so browsers parse it unchanged.
///
/// Parsing accepts any RFC 3339 time (any offset, any sub-second precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(Utc::now())
    }

    /// Wraps a chrono time.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at)
    }

    /// The chrono time inside.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The time at `millis` milliseconds since the Unix epoch; `None` when out of range.
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(millis).map(Self)
    }

    /// Whole seconds from `earlier` to `self`, never negative.
    pub fn seconds_since(&self, earlier: Timestamp) -> u64 {
        (self.0 - earlier.0).num_seconds().max(0) as u64
    }
}

/// Why a string is not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTimestamp;

impl fmt::Display for InvalidTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "expected an RFC 3339 time from 2000-01-01 to 9999-12-31, such as 2026-11-26T10:00:00.000Z",
        )
    }
}

impl std::error::Error for InvalidTimestamp {}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    /// Years before 2000 are refused (no camera or gate reports them; year `0000` is a broken
    /// clock), and so are those after 9999 (RFC 3339 has four digits). A leap second
    /// (`23:59:60`) is read as the last millisecond of its minute, which every reader of the
    /// printed form (JavaScript's `Date` among them) understands.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut at = DateTime::parse_from_rfc3339(s)
            .map_err(|_| InvalidTimestamp)?
            .with_timezone(&Utc);
        if !(2000..=9999).contains(&at.year()) {
            return Err(InvalidTimestamp);
        }
        if at.nanosecond() >= 1_000_000_000 {
            at = at.with_nanosecond(999_000_000).ok_or(InvalidTimestamp)?;
        }
        Ok(Self(at))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// On the wire a timestamp is an RFC 3339 string.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some(
                "RFC 3339 time; answers use UTC with milliseconds (2026-11-26T10:00:00.000Z)",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_javascript_date() {
        let t: Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-26T10:00:00.000Z");
        let t: Timestamp = "2026-11-26T12:00:00.123456+02:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-26T10:00:00.123Z");
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in [
            "",
            "yesterday",
            "2026-11-26",
            "2026-11-26 10:00:00",
            "1700000000",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn refuses_years_outside_2000_to_9999() {
        for bad in [
            "0000-01-01T00:00:00Z",
            "1999-12-31T23:59:59.999Z",
            "9999-12-31T23:00:00-05:00",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad:?} parsed");
        }
        assert!("2000-01-01T00:00:00Z".parse::<Timestamp>().is_ok());
        assert!("9999-12-31T23:59:59Z".parse::<Timestamp>().is_ok());
    }

    #[test]
    fn reads_a_leap_second_as_the_last_millisecond_of_its_minute() {
        let t: Timestamp = "2016-12-31T23:59:60Z".parse().unwrap();
        assert_eq!(t.to_string(), "2016-12-31T23:59:59.999Z");
        let t: Timestamp = "2016-12-31T23:59:60.5+00:00".parse().unwrap();
        assert_eq!(t.to_string(), "2016-12-31T23:59:59.999Z");
    }

    #[test]
    fn seconds_since_is_never_negative() {
        let a: Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-11-26T11:30:00Z".parse().unwrap();
        assert_eq!(b.seconds_since(a), 5400);
        assert_eq!(a.seconds_since(b), 0);
    }
}
