//! `serve`'s MQTT ingest flags (docs/operations.md, "MQTT sensors").

use std::fmt;

use clap::Args;

use super::parse::parse_ca_file;
use super::topic::TopicPattern;

#[derive(Debug, Clone, Args)]
pub struct MqttFlags {
    /// Take camera counts and gate events from this MQTT broker: `mqtt://HOST:1883`, or
    /// `mqtts://HOST:8883` (TLS).
    #[arg(long, env = "PARKSTREAM_MQTT_URL", value_parser = parse_mqtt_url)]
    pub mqtt_url: Option<String>,

    /// PEM CA certificate(s) that sign an `mqtts://` broker's certificate; without it the
    /// system's roots are trusted.
    #[arg(long, env = "PARKSTREAM_MQTT_CA_FILE", requires = "mqtt_url", value_parser = parse_ca_file)]
    pub mqtt_ca_file: Option<std::path::PathBuf>,

    /// The user name at the broker.
    #[arg(long, env = "PARKSTREAM_MQTT_USERNAME", requires = "mqtt_url", value_parser = parse_text)]
    pub mqtt_username: Option<String>,

    /// The password at the broker (with --mqtt-username).
    #[arg(long, env = "PARKSTREAM_MQTT_PASSWORD", requires = "mqtt_username", value_parser = parse_password)]
    pub mqtt_password: Option<Password>,

    /// This instance's session at the broker (its messages wait there while it is away): each
    /// instance of a cluster needs its own.
    #[arg(long, env = "PARKSTREAM_MQTT_CLIENT_ID", default_value = "parkstream", value_parser = parse_client_id)]
    pub mqtt_client_id: String,

    /// Where cameras publish counts (the body of POST /api/monitor/lot); `{lot}` is the lot.
    #[arg(long, env = "PARKSTREAM_MQTT_COUNT_TOPIC", default_value = "parking/{lot}/count", value_parser = TopicPattern::parse)]
    pub mqtt_count_topic: TopicPattern,

    /// Where gates publish entries and exits (the body of POST /api/monitor/gate).
    #[arg(long, env = "PARKSTREAM_MQTT_GATE_TOPIC", default_value = "parking/{lot}/gate", value_parser = TopicPattern::parse)]
    pub mqtt_gate_topic: TopicPattern,

    /// Where refused messages are republished with their error.
    #[arg(long, env = "PARKSTREAM_MQTT_DEAD_LETTER_TOPIC", default_value = "parking/dead-letter", value_parser = parse_publish_topic)]
    pub mqtt_dead_letter_topic: String,
}

/// A password, kept out of `Debug` output and logs.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

fn parse_password(s: &str) -> Result<Password, String> {
    parse_text(s).map(Password)
}

fn parse_mqtt_url(s: &str) -> Result<String, String> {
    broker_address(s)?;
    Ok(s.to_owned())
}

/// Whether `url` asks for TLS, and its host and port (1883, or 8883 for `mqtts://`, when it
/// names none): `mqtt://HOST[:PORT]`, `mqtts://[IPv6]:PORT`.
///
/// # Errors
/// Another scheme, a path, credentials (they go in `--mqtt-username`), or a bad port.
pub fn broker_address(url: &str) -> Result<(bool, String, u16), String> {
    const SHAPE: &str =
        "must be mqtt://HOST:PORT or mqtts://HOST:PORT (credentials go in --mqtt-username)";
    let (tls, authority) = match url.split_once("://") {
        Some(("mqtt", rest)) => (false, rest),
        Some(("mqtts", rest)) => (true, rest),
        _ => return Err(SHAPE.into()),
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
        return Err(SHAPE.into());
    }
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']').ok_or(SHAPE)?;
        match rest.strip_prefix(':') {
            Some(port) => (host, port),
            None if rest.is_empty() => (host, ""),
            None => return Err(SHAPE.into()),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, port),
            None => (authority, ""),
        }
    };
    let port = if port.is_empty() {
        default_port
    } else {
        port.parse::<u16>().ok().filter(|&p| p > 0).ok_or(SHAPE)?
    };
    if host.is_empty() {
        return Err(SHAPE.into());
    }
    Ok((tls, host.to_owned(), port))
}

/// Text of 1 to 256 characters without control characters.
fn parse_text(s: &str) -> Result<String, String> {
    if s.is_empty() || s.chars().count() > 256 || s.chars().any(char::is_control) {
        return Err("must be 1 to 256 characters without control characters".into());
    }
    Ok(s.to_owned())
}

/// 1 to 128 characters: letters, digits, `-`, `_`, `.` (what every broker accepts).
fn parse_client_id(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        return Err("must be 1 to 128 letters, digits, '-', '_' or '.'".into());
    }
    Ok(s.to_owned())
}

/// A topic to publish to: no wildcards, no empty level.
fn parse_publish_topic(s: &str) -> Result<String, String> {
    if s.is_empty()
        || s.contains(['+', '#'])
        || s.split('/').any(str::is_empty)
        || s.starts_with('$')
    {
        return Err(
            "must be a topic without wildcards or empty levels, e.g. parking/dead-letter".into(),
        );
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_addresses_are_read_with_their_default_ports() {
        assert_eq!(
            broker_address("mqtt://broker.example.com"),
            Ok((false, "broker.example.com".into(), 1883))
        );
        assert_eq!(
            broker_address("mqtts://10.0.0.5:8884/"),
            Ok((true, "10.0.0.5".into(), 8884))
        );
        assert_eq!(
            broker_address("mqtts://[::1]"),
            Ok((true, "::1".into(), 8883))
        );
        for bad in [
            "tcp://x:1883",
            "mqtt://",
            "mqtt://user:pw@host:1883",
            "mqtt://host:0",
            "mqtt://host:99999",
            "mqtt://host:1883/path",
            "mqtt://[::1",
        ] {
            assert!(broker_address(bad).is_err(), "{bad}");
        }
    }
}
