//! The command line: subcommands and typed settings, each flag with an environment twin.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::{PublicKeyAlgorithm, Role, Secret};

/// parkstream: live parking-lot state, alerts and violations, pushed to dashboards over SSE.
#[derive(Debug, Parser)]
#[command(name = "parkstream", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: HTTP API, SSE stream, dashboard at `/`.
    Serve(Box<ServeSettings>),
    /// Drive realistic traffic (lots, contractors, gates, cameras) against a running server.
    Simulate(SimulateSettings),
    /// Print a signed access token (HS256, with the server's --jwt-secret).
    Token(TokenSettings),
    /// Open N streams to a running server, publish at a fixed rate, and report delivery
    /// latency, loss and duplicates (exits non-zero on any loss or duplicate).
    Loadtest(LoadtestSettings),
}

/// Settings of `parkstream loadtest`.
#[derive(Debug, Clone, Args)]
pub struct LoadtestSettings {
    /// The server, `http://host:port`.
    #[arg(long, env = "PARKSTREAM_URL")]
    pub url: String,

    /// Streams to open (each is one connection; mind the process's file limit).
    #[arg(long, default_value_t = 100)]
    pub clients: usize,

    /// Events published per second.
    #[arg(long, default_value_t = 100)]
    pub rate: u32,

    /// How long to publish (`10s`, `1m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// An admin token for the server (it creates the lot `loadtest`); none for `--auth none`.
    #[arg(long, env = "PARKSTREAM_TOKEN")]
    pub token: Option<Secret>,

    /// Measure ingest instead: post batches of gate events as fast as they are stored, for
    /// `--duration`, while `--clients` dashboards watch (`--rate` is not used).
    #[arg(long)]
    pub ingest: bool,

    /// With `--ingest`: lots the events spread over (each dashboard watches one).
    #[arg(long, default_value_t = 100, requires = "ingest")]
    pub lots: usize,

    /// With `--ingest`: gate events per request.
    #[arg(long, default_value_t = 200, requires = "ingest")]
    pub batch: usize,

    /// With `--ingest`: requests in flight.
    #[arg(long, default_value_t = 4, requires = "ingest")]
    pub publishers: usize,
}

/// Settings of `parkstream token`.
#[derive(Debug, Clone, Args)]
pub struct TokenSettings {
    /// What the token allows.
    #[arg(long, value_enum)]
    pub role: Role,

    /// The contractor, for `--role contractor`.
    #[arg(long, required_if_eq("role", "contractor"))]
    pub contractor: Option<String>,

    /// Only these lots are visible (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub lots: Option<Vec<String>>,

    /// How long the token is valid (`30m`, `12h`, `2592000`).
    #[arg(long, default_value = "12h", value_parser = parse_duration)]
    pub ttl: Duration,

    /// Who the token is for (the `sub` claim).
    #[arg(long, default_value = "parkstream-cli")]
    pub subject: String,

    /// The secret the server verifies with (its --jwt-secret).
    #[arg(long, env = "PARKSTREAM_JWT_SECRET")]
    pub jwt_secret: Secret,
}

/// Settings of `parkstream simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateSettings {
    /// The server to drive, `http://host:port`.
    #[arg(long, env = "PARKSTREAM_URL")]
    pub url: String,

    /// Seed of the scenario: the same seed sends the same requests.
    #[arg(long, env = "PARKSTREAM_SEED", default_value_t = 1)]
    pub seed: u64,

    /// Real time per tick; each tick is two simulated minutes (a day takes 720 ticks).
    /// The scenario's overstay is tuned for the default.
    #[arg(long, env = "PARKSTREAM_TICK", default_value = "500ms", value_parser = parse_duration)]
    pub tick: Duration,

    /// Stop after this many ticks (default: run until interrupted).
    #[arg(long, env = "PARKSTREAM_TICKS")]
    pub ticks: Option<u64>,

    /// An admin token for the server (see `parkstream token`); none for `--auth none`.
    #[arg(long, env = "PARKSTREAM_TOKEN")]
    pub token: Option<Secret>,
}

/// Settings of `parkstream serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "PARKSTREAM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Database: `sqlite://FILE` (created on first start), `sqlite::memory:`, or
    /// `postgres://USER@HOST:PORT/DB` (needed to run several instances; see `--redis-url`).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://parkstream.db")]
    pub database_url: String,

    /// Redis, to run several instances on one PostgreSQL database: events flow through a
    /// Redis Stream to every instance (`redis://HOST:PORT`). None: one instance, in-process fan-out.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// The Redis Stream's key (instances of one deployment share it).
    #[arg(
        long,
        env = "PARKSTREAM_REDIS_STREAM",
        default_value = "parkstream:events"
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
    #[arg(long, env = "PARKSTREAM_MAX_GZIP_STREAMS", default_value_t = 100)]
    pub max_gzip_streams: usize,

    /// Threads that write to stream connections (0: one per core). API requests and commits
    /// run on threads of their own, so fanning out never queues them.
    #[arg(long, env = "PARKSTREAM_STREAM_WORKERS", default_value_t = 0)]
    pub stream_workers: usize,

    /// How many recent events are stored for clients resuming with `Last-Event-ID`.
    #[arg(long, env = "PARKSTREAM_HISTORY_SIZE", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub history_size: u64,

    /// Interval between `ping` events on every stream (`30s`, `500ms`, `2m`; a bare number is seconds).
    #[arg(long, env = "PARKSTREAM_PING_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// Most SSE streams open at once; above it a new stream is answered 503 with `Retry-After`.
    #[arg(long, env = "PARKSTREAM_MAX_CLIENTS", default_value_t = 10_000)]
    pub max_clients: usize,

    /// Events (of those it asked for) unread by one stream before it counts as too slow and
    /// is disconnected (it then resumes by id). Bounds how far a slow client lags.
    #[arg(long, env = "PARKSTREAM_CLIENT_BUFFER", default_value_t = 4_096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub client_buffer: u64,

    /// A camera that reported once and is silent this long raises `camera_offline`.
    #[arg(long, env = "PARKSTREAM_CAMERA_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
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
    #[arg(long, env = "PARKSTREAM_MAX_STREAMS_PER_IP", default_value_t = 1_000)]
    pub max_streams_per_ip: usize,

    /// Writes (POST/PUT) per second from one client address, and as many in a burst
    /// (0: no limit); 429 with Retry-After above. Batch to send more events.
    #[arg(long, env = "PARKSTREAM_WRITE_RATE_PER_IP", default_value_t = 1_000)]
    pub write_rate_per_ip: u32,

    /// Origins allowed to call the API from a browser (CORS), comma-separated; none by default.
    #[arg(long, env = "PARKSTREAM_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origin: Vec<String>,

    /// Largest request body accepted, in bytes (413 above).
    #[arg(long, env = "PARKSTREAM_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
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

    /// Log format.
    #[arg(long, env = "PARKSTREAM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Also run the built-in simulator against this server, so the dashboard is alive at once
    /// (plain HTTP only: the simulator does not speak TLS).
    #[arg(long, env = "PARKSTREAM_DEMO", conflicts_with = "tls_cert")]
    pub demo: bool,

    /// PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1) instead of HTTP.
    #[arg(long, env = "PARKSTREAM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "PARKSTREAM_TLS_KEY", requires = "tls_cert")]
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
    #[arg(long, env = "PARKSTREAM_JWT_PUBLIC_KEY", conflicts_with = "jwt_secret")]
    pub jwt_public_key: Option<std::path::PathBuf>,

    /// The algorithm of --jwt-public-key.
    #[arg(long, env = "PARKSTREAM_JWT_ALGORITHM", value_enum, default_value_t = PublicKeyAlgorithm::Rs256)]
    pub jwt_algorithm: PublicKeyAlgorithm,
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
    /// The settings with every default, as `parkstream serve` with no flags and no environment
    /// would have them (tests start from this).
    pub fn defaults() -> Self {
        let cli = Cli::parse_from(["parkstream", "serve"]);
        match cli.command {
            Command::Serve(settings) => *settings,
            _ => unreachable!("parsed serve"),
        }
    }
}

/// Parses `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 30s or 500ms"))?;
    let seconds = |per: u64| {
        n.checked_mul(per)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{s:?} is too long"))
    };
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    }
}

/// A duration between `min` and `max`, both named in the error.
fn parse_duration_within(
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

fn parse_header_timeout(s: &str) -> Result<Duration, String> {
    parse_duration_within(
        s,
        (Duration::from_millis(100), "100ms"),
        (Duration::from_secs(600), "10m"),
    )
}

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
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("99999999999999999h").is_err(), "overflow");
    }

    #[test]
    fn connection_limits_refuse_zero_and_absurd_values() {
        let serve = |args: &[&str]| {
            Cli::try_parse_from(["parkstream", "serve"].iter().chain(args)).map(|cli| {
                match cli.command {
                    Command::Serve(settings) => *settings,
                    _ => unreachable!("parsed serve"),
                }
            })
        };
        for bad in [
            &["--max-connections", "0"][..],
            &["--max-connections", "99999999999"],
            &["--max-connections=-1", "--bind", "127.0.0.1:1"],
            &["--header-timeout", "0"],
            &["--header-timeout", "50ms"],
            &["--header-timeout", "2h"],
            &["--idle-timeout", "0s"],
            &["--idle-timeout", "1000h"],
            &["--idle-timeout", "soon"],
        ] {
            let err = serve(bad).expect_err(&format!("{bad:?} is refused"));
            assert_eq!(err.exit_code(), 2, "{bad:?}");
            let flag = bad[0].split('=').next().unwrap();
            assert!(err.to_string().contains(flag), "{bad:?}: {err}");
        }
        let s = serve(&[
            "--max-connections",
            "500",
            "--header-timeout",
            "1s",
            "--idle-timeout",
            "5m",
        ])
        .expect("valid");
        assert_eq!(s.max_connections, Some(500));
        assert_eq!(s.header_timeout, Duration::from_secs(1));
        assert_eq!(s.idle_timeout, Duration::from_secs(300));
    }

    #[test]
    fn defaults_match_the_spec() {
        let s = ServeSettings::defaults();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.history_size, 10_000);
        assert_eq!(s.ping_interval, Duration::from_secs(30));
        assert!(s.database_url.starts_with("sqlite://parkstream.db"));
        assert_eq!(s.max_connections, None, "derived from the file limit");
        assert_eq!(s.header_timeout, Duration::from_secs(10));
        assert_eq!(s.idle_timeout, Duration::from_secs(60));
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
