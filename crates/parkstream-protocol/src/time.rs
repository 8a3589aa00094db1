//! Timestamps as they travel on the wire.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
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
        f.write_str("expected an RFC 3339 time such as 2026-11-26T10:00:00.000Z")
    }
}

impl std::error::Error for InvalidTimestamp {}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| Self(t.with_timezone(&Utc)))
            .map_err(|_| InvalidTimestamp)
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
    fn seconds_since_is_never_negative() {
        let a: Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-11-26T11:30:00Z".parse().unwrap();
        assert_eq!(b.seconds_since(a), 5400);
        assert_eq!(a.seconds_since(b), 0);
    }
}
