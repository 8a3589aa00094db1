//! `serve`'s open occupancy feed flags (docs/operations.md, "Open data").

use std::time::Duration;

use clap::Args;

use super::parse::{parse_duration_within, ranged};

#[derive(Debug, Clone, Args)]
pub struct OpenDataFlags {
    /// Publish the occupancy of public lots, without a token, in DATEX II and APDS under
    /// `/api/open/` (off: those URLs answer 404).
    #[arg(long, env = "PARKSTREAM_OPEN_DATA")]
    pub open_data: bool,

    /// How often, at most, the open documents are rebuilt when lots change (1s to 1h):
    /// pollers in between get the same document, and 304 when they already have it.
    #[arg(long, env = "PARKSTREAM_OPEN_DATA_INTERVAL", default_value = "30s",
          value_parser = parse_open_data_interval)]
    pub open_data_interval: Duration,

    /// Open data requests per minute from one client address, and as many in a burst
    /// (0: no limit); 429 with Retry-After above.
    #[arg(long, env = "PARKSTREAM_OPEN_DATA_RATE", default_value_t = 60, value_parser = ranged(0..=1_000_000))]
    pub open_data_rate: usize,

    /// Who publishes the feed, as DATEX II names it: `COUNTRY:ID`, a two-letter ISO 3166-1
    /// country code and the publisher's national identifier (`nl:city-of-utrecht`).
    #[arg(long, env = "PARKSTREAM_OPEN_DATA_PUBLISHER", default_value = "zz:parkstream",
          value_parser = Publisher::parse)]
    pub open_data_publisher: Publisher,
}

/// The publication creator of the DATEX II documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// Two lower-case letters.
    pub country: String,
    pub national_identifier: String,
}

impl Publisher {
    /// `COUNTRY:ID`.
    ///
    /// # Errors
    /// When the country is not two letters or the identifier is empty, longer than 100
    /// characters, or has control characters or surrounding spaces.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (country, id) = s
            .split_once(':')
            .ok_or("must be COUNTRY:ID, such as nl:city-of-utrecht")?;
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!(
                "{country:?} is not a two-letter ISO 3166-1 country code"
            ));
        }
        if id.is_empty()
            || id.chars().count() > 100
            || id.trim() != id
            || id.chars().any(char::is_control)
        {
            return Err(
                "the identifier after the colon must have 1 to 100 characters, no surrounding \
                 spaces"
                    .into(),
            );
        }
        Ok(Self {
            country: country.to_ascii_lowercase(),
            national_identifier: id.to_owned(),
        })
    }
}

/// `--open-data-interval`: 1 second to 1 hour.
fn parse_open_data_interval(s: &str) -> Result<Duration, String> {
    parse_duration_within(
        s,
        (Duration::from_secs(1), "1s"),
        (Duration::from_secs(3600), "1h"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishers_are_a_country_and_an_identifier() {
        let p = Publisher::parse("NL:city of Utrecht").unwrap();
        assert_eq!(p.country, "nl");
        assert_eq!(p.national_identifier, "city of Utrecht");
        for bad in ["nl", "nld:x", "n1:x", "nl:", "nl: x", "nl:a\nb"] {
            assert!(Publisher::parse(bad).is_err(), "{bad:?}");
        }
    }
}
