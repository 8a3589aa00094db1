//! Settings of `parkstream serve`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::parse::{
    parse_ca_file, parse_database_url, parse_duration, parse_duration_within, parse_log_filter,
    parse_name, parse_positive_duration, parse_retention, ranged,
};
use crate::auth::{PublicKeyAlgorithm, RoleClaim, Secret, Verification};

/// Settings of `parkstream serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// A TOML file of settings, keyed by the flags' long names (`max-clients = 20000`); flags
    /// and environment variables win over it (docs/operations.md, "Configuration file").
    #[arg(long, env = "PARKSTREAM_CONFIG", value_parser = parse_readable_file)]
    pub config: Option<std::path::PathBuf>,

    /// Address to listen on.
    #[arg(long, env = "PARKSTREAM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Database: `sqlite://FILE` (created on first start), `sqlite::memory:`, or
    /// `postgres://USER@HOST:PORT/DB` (needed to run several instances; see `--redis-url`).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://parkstream.db", value_parser = parse_database_url)]
    pub database_url: String,

    /// Redis, to run several instances on one PostgreSQL database: events flow through a
    /// Redis Stream to every instance (`redis://HOST:PORT`, `rediss://` for TLS). None: one
    /// instance, in-process fan-out.
    #[arg(long, env = "REDIS_URL", value_parser = parse_redis_url)]
    pub redis_url: Option<String>,

    /// PEM CA certificate(s) that sign a `rediss://` server's certificate (a private CA);
    /// without it the system's roots are trusted.
    #[arg(long, env = "REDIS_CA_FILE", requires = "redis_url", value_parser = parse_ca_file)]
    pub redis_ca_file: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub mqtt: super::mqtt::MqttFlags,

    #[command(flatten)]
    pub open_data: super::open_data::OpenDataFlags,

    /// The Redis Stream's key (instances of one deployment share it).
    #[arg(
        long,
        env = "PARKSTREAM_REDIS_STREAM",
        default_value = "parkstream:events",
        value_parser = parse_name
    )]
    pub redis_stream: String,

    /// About how many events the Redis Stream keeps (`MAXLEN ~`); an instance that falls
    /// further behind reads the rest from the database.
    #[arg(long, env = "PARKSTREAM_REDIS_STREAM_LENGTH", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub redis_stream_length: u64,

    /// Compress streams with gzip for clients that accept it (each event still flushed at
    /// once). Costs memory per compressed stream; see `--max-gzip-streams`.
    #[arg(long, env = "PARKSTREAM_STREAM_GZIP")]
    pub stream_gzip: bool,

    /// With `--stream-gzip`: most compressed streams at once; others get the plain stream.
    #[arg(long, env = "PARKSTREAM_MAX_GZIP_STREAMS", default_value_t = 100, value_parser = ranged(0..=1_000_000))]
    pub max_gzip_streams: usize,

    /// Threads that write to stream connections (0: one per core). API requests and commits
    /// run on threads of their own, so fanning out never queues them.
    #[arg(long, env = "PARKSTREAM_STREAM_WORKERS", default_value_t = 0, value_parser = ranged(0..=1_024))]
    pub stream_workers: usize,

    /// How many recent events are stored for clients resuming with `Last-Event-ID`.
    #[arg(long, env = "PARKSTREAM_HISTORY_SIZE", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub history_size: u64,

    /// How long per-minute occupancy rollups are kept (`7d`, `36h`; also the longest range a
    /// `step=1m` history query may span).
    #[arg(long, env = "PARKSTREAM_HISTORY_MINUTES_RETENTION", default_value = "7d",
          value_parser = parse_retention)]
    pub history_minutes_retention: Duration,

    /// How long per-hour occupancy rollups are kept (`400d`; also the longest range a
    /// `step=1h` history query may span).
    #[arg(long, env = "PARKSTREAM_HISTORY_HOURS_RETENTION", default_value = "400d",
          value_parser = parse_retention)]
    pub history_hours_retention: Duration,

    /// How long a gate event's `eventId` is remembered: a replay within it gets the first
    /// answer, after it the same id is a new event (`30m`, `24h`; 1s to 30 days).
    #[arg(long, env = "PARKSTREAM_IDEMPOTENCY_WINDOW", default_value = "24h",
          value_parser = parse_idempotency_window)]
    pub idempotency_window: Duration,

    /// Most gate `eventId` answers remembered (about 0.6 KB of memory each, and a row in
    /// the database); past it the oldest are forgotten first.
    #[arg(long, env = "PARKSTREAM_IDEMPOTENCY_MAX", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub idempotency_max: u64,

    /// Interval between `ping` events on every stream (`30s`, `500ms`, `2m`; a bare number is seconds).
    #[arg(long, env = "PARKSTREAM_PING_INTERVAL", default_value = "30s", value_parser = parse_positive_duration)]
    pub ping_interval: Duration,

    /// Most SSE streams open at once; above it a new stream is answered 503 with `Retry-After`.
    #[arg(long, env = "PARKSTREAM_MAX_CLIENTS", default_value_t = 10_000, value_parser = ranged(1..=10_000_000))]
    pub max_clients: usize,

    /// Events (of those it asked for) unread by one stream before it counts as too slow and
    /// is disconnected (it then resumes by id). Bounds how far a slow client lags.
    #[arg(long, env = "PARKSTREAM_CLIENT_BUFFER", default_value_t = 4_096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub client_buffer: u64,

    /// A camera that reported once and is silent this long raises `camera_offline`.
    #[arg(long, env = "PARKSTREAM_CAMERA_TIMEOUT", default_value = "60s", value_parser = parse_positive_duration)]
    pub camera_timeout: Duration,

    /// Most client connections open at once (streams, requests, idle keep-alives); above it
    /// a new connection is closed as soon as it is accepted. Default: the process's
    /// open-file limit less 64 descriptors kept for the database, Redis, the listeners and logs.
    #[arg(long, env = "PARKSTREAM_MAX_CONNECTIONS",
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub max_connections: Option<u64>,

    /// How long a new connection has, from its accept, to send its first request's head
    /// (the TLS handshake included); closed without an answer otherwise. 100ms to 10m.
    #[arg(long, env = "PARKSTREAM_HEADER_TIMEOUT", default_value = "10s",
          value_parser = parse_header_timeout)]
    pub header_timeout: Duration,

    /// A connection with no request in flight this long is closed: HTTP/1.1 between a
    /// response and the next request's complete head, HTTP/2 with no open stream. An open
    /// event stream is a request in flight. 1s to 1h.
    #[arg(long, env = "PARKSTREAM_IDLE_TIMEOUT", default_value = "60s",
          value_parser = parse_idle_timeout)]
    pub idle_timeout: Duration,

    /// Most streams open at once from one client address (0: no limit); 429 above.
    #[arg(long, env = "PARKSTREAM_MAX_STREAMS_PER_IP", default_value_t = 1_000, value_parser = ranged(0..=10_000_000))]
    pub max_streams_per_ip: usize,

    /// Writes (POST/PUT) per second from one client address, and as many in a burst
    /// (0: no limit); 429 with Retry-After above. Batch to send more events.
    #[arg(long, env = "PARKSTREAM_WRITE_RATE_PER_IP", default_value_t = 1_000)]
    pub write_rate_per_ip: u32,

    /// Origins allowed to call the API from a browser (CORS), comma-separated
    /// (`https://ops.example.com`); none by default. `*` alone allows any origin, without
    /// credentials (no cookies; tokens in the Authorization header still work).
    #[arg(long, env = "PARKSTREAM_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origin: Vec<String>,

    /// Reverse proxies whose word on the client's address is taken, comma-separated address
    /// blocks (`10.0.0.0/8,::1/128`; a bare address is itself). A request from one of them is
    /// counted and logged under the address its `X-Forwarded-For` (or, without it,
    /// `Forwarded: for=`) names, read from the right past every trusted hop. None by default:
    /// the TCP peer is the client.
    #[arg(long, env = "PARKSTREAM_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<crate::proxy::Cidr>,

    /// Where people reach the dashboard through a proxy (`https://ops.example.com/parking/`):
    /// the sign-in link printed at start, and the `Path` of the token cookie. Default: this
    /// server's own address, and `/`.
    #[arg(long, env = "PARKSTREAM_PUBLIC_URL")]
    pub public_url: Option<crate::proxy::PublicUrl>,

    /// How long a request's whole body may take to arrive once its head is read (408 after).
    #[arg(long, env = "PARKSTREAM_BODY_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub body_timeout: Duration,

    /// Most lot ids one stream may filter on (`lots=`); 400 above.
    #[arg(long, env = "PARKSTREAM_MAX_FILTER_LOTS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_filter_lots: u64,

    /// Largest request body accepted, in bytes (413 above).
    #[arg(long, env = "PARKSTREAM_MAX_BODY_BYTES", default_value_t = 1024 * 1024, value_parser = ranged(1..=1 << 30))]
    pub max_body_bytes: usize,

    /// Serve `/metrics` on this separate address only (default: on the main address).
    #[arg(long, env = "PARKSTREAM_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// How long shutdown waits for open requests and streams before it closes them.
    #[arg(long, env = "PARKSTREAM_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// On shutdown, streams close at random moments within this window, so that thousands
    /// of clients do not all reconnect in the same instant (at most --shutdown-grace).
    #[arg(long, env = "PARKSTREAM_SHUTDOWN_DRAIN", default_value = "1s", value_parser = parse_duration)]
    pub shutdown_drain: Duration,

    /// Let webhook endpoints be on this machine or private networks (loopback, private,
    /// link-local, unique-local, unspecified addresses); refused by default, when saved and
    /// again at every delivery.
    #[arg(long, env = "PARKSTREAM_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// The longest one webhook delivery attempt may take, connecting included (100ms to 60s).
    #[arg(long, env = "PARKSTREAM_WEBHOOK_TIMEOUT", default_value = "10s",
          value_parser = parse_webhook_timeout)]
    pub webhook_timeout: Duration,

    /// How long an endpoint's oldest undelivered event is retried (with exponential backoff)
    /// before the endpoint is disabled (`24h`, `3d`; 1s to 30 days).
    #[arg(long, env = "PARKSTREAM_WEBHOOK_RETRY_HORIZON", default_value = "24h",
          value_parser = parse_webhook_retry_horizon)]
    pub webhook_retry_horizon: Duration,

    /// The ISO 4217 code penalties are counted in (`EUR`, `INR`): the dashboard shows them as
    /// money in it. Without it, penalties are plain numbers.
    #[arg(long, env = "PARKSTREAM_CURRENCY")]
    pub currency: Option<super::Currency>,

    /// Log format.
    #[arg(long, env = "PARKSTREAM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to log, in `RUST_LOG`'s syntax: `warn`, `debug`, `info,parkstream::http=debug`.
    /// Without it, `RUST_LOG`; without that, `info` (each answered request is one line).
    #[arg(long, env = "PARKSTREAM_LOG_LEVEL", value_parser = parse_log_filter)]
    pub log_level: Option<String>,

    /// Also run the built-in simulator against this server, so the dashboard is alive at once
    /// (plain HTTP only: the simulator does not speak TLS).
    #[arg(long, env = "PARKSTREAM_DEMO", conflicts_with = "tls_cert")]
    pub demo: bool,

    /// PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1) instead of HTTP.
    #[arg(long, env = "PARKSTREAM_TLS_CERT", requires = "tls_key", value_parser = parse_readable_file)]
    pub tls_cert: Option<std::path::PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "PARKSTREAM_TLS_KEY", requires = "tls_cert", value_parser = parse_readable_file)]
    pub tls_key: Option<std::path::PathBuf>,

    /// `jwt` checks tokens on every endpoint but health, metrics and the OpenAPI document;
    /// `none` turns checks off (local development only).
    #[arg(long, env = "PARKSTREAM_AUTH", value_enum, default_value_t = AuthMode::Jwt)]
    pub auth: AuthMode,

    /// HS256 secret for tokens (16 characters or more). Without it and without a public key,
    /// the server generates one, keeps it in its database, and prints a dashboard URL that
    /// carries an admin token.
    #[arg(long, env = "PARKSTREAM_JWT_SECRET")]
    pub jwt_secret: Option<Secret>,

    /// PEM public key verifying tokens minted elsewhere (RS256 or ES256, see --jwt-algorithm).
    #[arg(long, env = "PARKSTREAM_JWT_PUBLIC_KEY", conflicts_with = "jwt_secret", value_parser = parse_readable_file)]
    pub jwt_public_key: Option<std::path::PathBuf>,

    /// The algorithm of --jwt-public-key.
    #[arg(long, env = "PARKSTREAM_JWT_ALGORITHM", value_enum, default_value_t = PublicKeyAlgorithm::Rs256)]
    pub jwt_algorithm: PublicKeyAlgorithm,

    /// An identity provider's JSON Web Key Set (`https://idp.example/.../certs`): tokens are
    /// verified with its keys, refetched every 5 minutes and when a token names a new key
    /// (at most once per 10 seconds). Until it is first fetched, requests are answered 503.
    #[arg(long, env = "PARKSTREAM_JWT_JWKS_URL", conflicts_with_all = ["jwt_secret", "jwt_public_key"],
          value_parser = parse_jwks_url)]
    pub jwt_jwks_url: Option<reqwest::Url>,

    /// Tokens must carry this issuer (`iss`); without it, the issuer is not checked.
    #[arg(long, env = "PARKSTREAM_JWT_ISSUER", value_parser = parse_claim_value)]
    pub jwt_issuer: Option<String>,

    /// Tokens must carry this audience (`aud`, or one of its values). Without it, a token
    /// that names an audience is refused.
    #[arg(long, env = "PARKSTREAM_JWT_AUDIENCE", value_parser = parse_claim_value)]
    pub jwt_audience: Option<String>,

    /// The claim that holds the role, a dotted path (`realm_access.roles`): a role name, or a
    /// list of names of which the most privileged parkstream role counts.
    #[arg(long, env = "PARKSTREAM_JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: RoleClaim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    Jwt,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl ServeSettings {
    /// How gate answers are kept, from `--idempotency-window` and `--idempotency-max`.
    pub fn answer_retention(&self) -> crate::domain::idempotency::Retention {
        crate::domain::idempotency::Retention {
            window: self.idempotency_window,
            max: usize::try_from(self.idempotency_max).unwrap_or(usize::MAX),
        }
    }

    /// How long occupancy rollups are kept, from `--history-minutes-retention` and
    /// `--history-hours-retention`.
    pub fn rollup_retention(&self) -> crate::store::RollupRetention {
        crate::store::RollupRetention {
            minutes: self.history_minutes_retention,
            hours: self.history_hours_retention,
        }
    }

    /// How webhooks are sent, from the `--webhook-…` flags.
    pub fn webhook_options(&self) -> crate::webhooks::WebhookOptions {
        crate::webhooks::WebhookOptions {
            allow_private: self.webhook_allow_private,
            timeout: self.webhook_timeout,
            retry_horizon: self.webhook_retry_horizon,
        }
    }

    /// What tokens must pass besides their signature.
    pub fn verification(&self) -> Verification {
        Verification {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            role_claim: self.jwt_role_claim.clone(),
        }
    }

    /// `--database-url` without its password, for logs.
    pub fn redacted_database_url(&self) -> String {
        redact(&self.database_url)
    }

    /// Checks what no single flag's parser can: combinations.
    ///
    /// # Errors
    /// A message naming the flags.
    pub fn check(&self) -> Result<(), String> {
        if self.cors_origin.len() > 1 && self.cors_origin.iter().any(|o| o == "*") {
            return Err("--cors-origin: `*` must stand alone (any origin, no credentials)".into());
        }
        Ok(())
    }
}

/// The URL without its password.
pub(super) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// `redis://HOST:PORT[/DB]`, or `rediss://` (TLS).
fn parse_redis_url(s: &str) -> Result<String, String> {
    match s.strip_prefix("redis://").or(s.strip_prefix("rediss://")) {
        Some(rest) if !rest.is_empty() => Ok(s.to_owned()),
        _ => Err("must be redis://HOST:PORT or rediss://HOST:PORT".into()),
    }
}

/// An `http://` or `https://` URL.
fn parse_jwks_url(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL".into());
    }
    Ok(url)
}

/// An issuer or audience: not empty, no surrounding spaces.
pub(super) fn parse_claim_value(s: &str) -> Result<String, String> {
    if s.is_empty() || s.trim() != s {
        return Err("must be a non-empty value without surrounding spaces".into());
    }
    Ok(s.to_owned())
}

/// A browser origin, `scheme://host[:port]` with nothing after it, or `*`.
fn parse_origin(s: &str) -> Result<String, String> {
    if s == "*" {
        return Ok(s.to_owned());
    }
    let (scheme, rest) = s
        .split_once("://")
        .ok_or("an origin is scheme://host[:port], or *")?;
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if !valid {
        return Err("an origin is scheme://host[:port] with no path, or *".into());
    }
    Ok(s.to_owned())
}

/// A file that exists and can be read now (a certificate, a key).
fn parse_readable_file(s: &str) -> Result<std::path::PathBuf, String> {
    std::fs::File::open(s).map_err(|err| format!("cannot read {s:?}: {err}"))?;
    Ok(s.into())
}

/// Parses `--idempotency-window`: a duration from 1 second to 30 days.
fn parse_idempotency_window(s: &str) -> Result<Duration, String> {
    let window = parse_duration(s)?;
    if window < Duration::from_secs(1) || window > Duration::from_secs(30 * 86_400) {
        return Err(format!("{s:?} is not between 1s and 720h (30 days)"));
    }
    Ok(window)
}

/// `--webhook-timeout`: 100 ms to 60 s.
fn parse_webhook_timeout(s: &str) -> Result<Duration, String> {
    parse_duration_within(
        s,
        (Duration::from_millis(100), "100ms"),
        (Duration::from_secs(60), "60s"),
    )
}

/// `--webhook-retry-horizon`: 1 s to 30 days.
fn parse_webhook_retry_horizon(s: &str) -> Result<Duration, String> {
    let horizon = parse_retention(s)?;
    if horizon > Duration::from_secs(30 * 86_400) {
        return Err(format!("{s:?} is longer than 30 days"));
    }
    Ok(horizon)
}

/// `--header-timeout`: 100 ms to 10 minutes.
fn parse_header_timeout(s: &str) -> Result<Duration, String> {
    parse_duration_within(
        s,
        (Duration::from_millis(100), "100ms"),
        (Duration::from_secs(600), "10m"),
    )
}

/// `--idle-timeout`: 1 second to 1 hour.
fn parse_idle_timeout(s: &str) -> Result<Duration, String> {
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
    fn defaults_are_the_documented_ones() {
        let s = ServeSettings::defaults();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.history_size, 10_000);
        assert_eq!(s.ping_interval, Duration::from_secs(30));
        assert!(s.database_url.starts_with("sqlite://parkstream.db"));
        assert_eq!(
            s.answer_retention(),
            crate::domain::idempotency::Retention::DEFAULT
        );
        assert_eq!(s.max_connections, None, "derived from the file limit");
        assert_eq!(s.header_timeout, Duration::from_secs(10));
        assert_eq!(s.idle_timeout, Duration::from_secs(60));
    }

    #[test]
    fn redacts_database_passwords() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact("sqlite://parkstream.db"), "sqlite://parkstream.db");
    }
}
