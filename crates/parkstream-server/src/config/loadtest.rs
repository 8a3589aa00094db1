//! Settings of `parkstream loadtest`.

use std::time::Duration;

use clap::Args;

use super::parse::{parse_http_url, parse_positive_duration, ranged};
use crate::auth::Secret;

/// Settings of `parkstream loadtest`.
#[derive(Debug, Clone, Args)]
pub struct LoadtestSettings {
    /// The server, `http://host:port` (not needed with `--sub-url` and `--pub-url`). Several,
    /// comma-separated, are the instances of one cluster: streams and publisher connections
    /// are spread over them in turn (not with `--ingest`).
    #[arg(long, env = "PARKSTREAM_URL", value_parser = parse_http_url, value_delimiter = ',',
          required_unless_present = "sub_url")]
    pub url: Vec<String>,

    /// Streams to open (each is one connection; mind the process's file limit).
    #[arg(long, default_value_t = 100, value_parser = ranged(1..=1_000_000))]
    pub clients: usize,

    /// Events published per second.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate: u32,

    /// How long to publish (`10s`, `1m`).
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration)]
    pub duration: Duration,

    /// An admin token for the server (it creates the lot `loadtest`); none for `--auth none`.
    #[arg(long, env = "PARKSTREAM_TOKEN")]
    pub token: Option<Secret>,

    /// Measure ingest instead: post batches of gate events as fast as they are stored, for
    /// `--duration`, while `--clients` dashboards watch (`--rate` is not used).
    #[arg(long)]
    pub ingest: bool,

    /// With `--ingest`: lots the events spread over (each dashboard watches one).
    #[arg(long, default_value_t = 100, requires = "ingest", value_parser = ranged(1..=100_000))]
    pub lots: usize,

    /// With `--ingest`: gate events per request.
    #[arg(long, default_value_t = 200, requires = "ingest", value_parser = ranged(1..=100_000))]
    pub batch: usize,

    /// With `--ingest`: requests in flight.
    #[arg(long, default_value_t = 4, requires = "ingest", value_parser = ranged(1..=1_024))]
    pub publishers: usize,

    /// Drive any SSE server instead: the stream every client opens (GET). Needs `--pub-url`.
    #[arg(long, value_parser = parse_http_url, requires = "pub_url", conflicts_with_all = ["url", "ingest"])]
    pub sub_url: Option<String>,

    /// With `--sub-url`: where each event is published, one POST per event.
    #[arg(long, value_parser = parse_http_url, requires = "sub_url")]
    pub pub_url: Option<String>,

    /// With `--sub-url`: the body of each POST; `{seq}` becomes the sequence number.
    #[arg(long, default_value = r#"{"seq":{seq}}"#, requires = "sub_url", value_parser = parse_body_template)]
    pub body: String,

    /// With `--sub-url`: where the sequence number is in a received event's data, as
    /// `PREFIX(\d+)`: the digits right after the first PREFIX.
    #[arg(long, default_value = r#""seq":(\d+)"#, requires = "sub_url", value_parser = parse_seq_pattern)]
    pub seq_regex: String,

    /// Publisher connections: events are spread over them round-robin, each paced to its
    /// share of `--rate` (raise it when one connection cannot keep up with the rate).
    #[arg(long, default_value_t = 1, value_parser = ranged(1..=1_024))]
    pub pub_conns: usize,

    /// The server's process id: report its CPU time and resident memory over the run.
    /// Several, comma-separated, are summed (a cluster's instances).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4_194_304), value_delimiter = ',')]
    pub server_pid: Vec<u32>,

    /// With `--server-pid`: count the process and all its descendants (nginx's workers).
    #[arg(long, requires = "server_pid")]
    pub server_tree: bool,

    /// `NAME=PID`: also report this process's CPU and memory, with its descendants, under
    /// NAME (a cluster's `redis=PID`, `postgres=PID`); repeatable.
    #[arg(long, value_parser = parse_service_pid, conflicts_with_all = ["ingest", "idle"])]
    pub service_pid: Vec<(String, u32)>,

    /// Publish nothing: open `--clients` streams, hold them for `--duration` and report the
    /// server's memory per open stream (needs `--server-pid`).
    #[arg(long, requires = "server_pid", conflicts_with = "ingest")]
    pub idle: bool,

    /// Streams that are cut resume with `Last-Event-ID` (waiting out `Retry-After`), and
    /// publications are retried until stored: for restarting the server while the test runs.
    /// Reports the reconnections (when, how long away, every answer other than 200).
    #[arg(long, conflicts_with_all = ["ingest", "idle"])]
    pub reconnect: bool,
}

/// `NAME=PID` for `loadtest --service-pid`.
fn parse_service_pid(s: &str) -> Result<(String, u32), String> {
    let (name, pid) = s
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or("must be NAME=PID, as redis=1234")?;
    match pid.parse::<u32>() {
        Ok(pid) if pid > 0 => Ok((name.to_owned(), pid)),
        _ => Err(format!("{pid:?} is not a process id")),
    }
}

/// A publication body for `loadtest --body`: must carry the sequence number.
fn parse_body_template(s: &str) -> Result<String, String> {
    if !s.contains("{seq}") {
        return Err("must contain {seq}, where the sequence number goes".into());
    }
    Ok(s.to_owned())
}

/// `PREFIX(\d+)` for `loadtest --seq-regex`; returns PREFIX (the only form accepted: the
/// number is the digits right after a fixed text, which every server's framing allows).
fn parse_seq_pattern(s: &str) -> Result<String, String> {
    match s.strip_suffix(r"(\d+)") {
        Some(prefix) if !prefix.is_empty() && !prefix.contains(r"(\d+)") => Ok(prefix.to_owned()),
        _ => Err(r"must be PREFIX(\d+): a fixed text followed by (\d+)".into()),
    }
}
