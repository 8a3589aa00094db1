//! Settings of `parkstream simulate`.

use std::time::Duration;

use clap::Args;

use super::parse::{parse_http_url, parse_positive_duration};
use crate::auth::Secret;

/// Settings of `parkstream simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateSettings {
    /// The server to drive, `http://host:port`.
    #[arg(long, env = "PARKSTREAM_URL", value_parser = parse_http_url)]
    pub url: String,

    /// Seed of the scenario: the same seed sends the same requests.
    #[arg(long, env = "PARKSTREAM_SEED", default_value_t = 1)]
    pub seed: u64,

    /// Real time per tick; each tick is two simulated minutes (a day takes 720 ticks).
    /// The scenario's overstay is tuned for the default.
    #[arg(long, env = "PARKSTREAM_TICK", default_value = "500ms", value_parser = parse_positive_duration)]
    pub tick: Duration,

    /// Stop after this many ticks (default: run until interrupted).
    #[arg(long, env = "PARKSTREAM_TICKS", value_parser = clap::value_parser!(u64).range(1..))]
    pub ticks: Option<u64>,

    /// An admin token for the server (see `parkstream token`); none for `--auth none`.
    #[arg(long, env = "PARKSTREAM_TOKEN")]
    pub token: Option<Secret>,
}
