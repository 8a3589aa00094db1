//! Value parsers shared by the subcommands' settings.

use std::time::Duration;

/// The longest duration any flag takes: ten years. Longer ones are typing errors, and would
/// overflow the clock arithmetic they feed (a deadline, a token's expiry).
const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Parses `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds (at most ten years).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 30s or 500ms"))?;
    let duration = match unit {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    match duration {
        Some(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(format!("{s:?} is longer than ten years")),
    }
}

/// A duration above zero (an interval, a timeout, a lifetime).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let duration = parse_duration(s)?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

/// A retention: a duration as [`parse_duration`] takes it or a number of days (`7d`), from
/// one second to ten years.
pub fn parse_retention(s: &str) -> Result<Duration, String> {
    let trimmed = s.trim();
    let retention = match trimmed.strip_suffix('d') {
        Some(days) => {
            let days: u64 = days
                .parse()
                .map_err(|_| format!("{trimmed:?} is not a duration such as 7d or 12h"))?;
            days.checked_mul(86_400)
                .map(Duration::from_secs)
                .filter(|d| *d <= MAX_DURATION)
                .ok_or_else(|| format!("{trimmed:?} is longer than ten years"))?
        }
        None => parse_duration(trimmed)?,
    };
    if retention < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(retention)
}

/// An integer flag in `range`, as a `usize`.
pub(super) fn ranged(
    range: std::ops::RangeInclusive<u64>,
) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(range)
}

/// A non-empty name without surrounding space (a subject, a key, an id).
pub(super) fn parse_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.trim() != s || s.len() > 256 {
        return Err("must be 1 to 256 characters, without leading or trailing spaces".into());
    }
    Ok(s.to_owned())
}

/// `http://host[:port]` or `https://...`.
pub(super) fn parse_http_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("names no host".into());
    }
    Ok(s.trim_end_matches('/').to_owned())
}

/// `sqlite://FILE`, `sqlite::memory:`, or `postgres://...` (`postgresql://`).
pub(super) fn parse_database_url(s: &str) -> Result<String, String> {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if !known.iter().any(|scheme| s.starts_with(scheme)) || s.ends_with("//") {
        return Err(
            "must be sqlite://FILE, sqlite::memory: or postgres://USER@HOST:PORT/DB".into(),
        );
    }
    Ok(s.to_owned())
}

/// A readable file holding at least one PEM certificate (checked now, not at first connect).
pub(super) fn parse_ca_file(s: &str) -> Result<std::path::PathBuf, String> {
    use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer};
    let certs = CertificateDer::pem_file_iter(s)
        .map_err(|err| format!("cannot read {s:?}: {err}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("{s:?} is not PEM: {err}"))?;
    if certs.is_empty() {
        return Err(format!("{s:?} holds no PEM certificate"));
    }
    Ok(s.into())
}

/// A log filter in `RUST_LOG`'s syntax. A bare word must be a level: the syntax would read
/// `--log-level loud` as "everything of the module `loud`", which is never what was meant.
pub(super) fn parse_log_filter(s: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let bare_word_not_a_level = s.split(',').any(|directive| {
        let directive = directive.trim();
        !directive.contains(['=', '['])
            && !LEVELS.contains(&directive.to_ascii_lowercase().as_str())
    });
    if bare_word_not_a_level {
        return Err(
            "must be a level (off, error, warn, info, debug, trace) or directives \
                    like info,parkstream::http=debug"
                .into(),
        );
    }
    tracing_subscriber::EnvFilter::builder()
        .with_regex(false)
        .parse(s)
        .map_err(|err| err.to_string())?;
    Ok(s.to_owned())
}

/// A duration between `min` and `max`, both named in the error.
pub(super) fn parse_duration_within(
    s: &str,
    min: (Duration, &str),
    max: (Duration, &str),
) -> Result<Duration, String> {
    let duration = parse_duration(s)?;
    if duration < min.0 || duration > max.0 {
        return Err(format!("must be between {} and {}", min.1, max.1));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retentions_take_days_and_refuse_less_than_a_second() {
        assert_eq!(parse_retention("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_retention("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert!(parse_retention("500ms").is_err());
        assert!(parse_retention("0d").is_err());
        assert!(parse_retention("5000d").is_err());
        assert!(parse_retention("d").is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("18446744073709551615h").is_err(), "no wrap");
        assert!(parse_duration("87601h").is_err(), "over ten years");
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_positive_duration("0ms").is_err());
        assert!(parse_duration("99999999999999999h").is_err(), "overflow");
    }
}
