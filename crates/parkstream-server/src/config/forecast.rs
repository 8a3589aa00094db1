//! Settings of `parkstream forecast backtest` and `parkstream forecast generate`.

use clap::{Args, Subcommand};

use super::parse::parse_database_url;
use crate::domain::LotId;

#[derive(Debug, Subcommand)]
pub enum ForecastCommand {
    /// Replay a lot's stored history: forecast every 5 minutes from what was stored before,
    /// and print the mean absolute error (% of capacity) at +15, +30 and +60 minutes of the
    /// forecast and of persistence (the count stays as it is).
    Backtest(BacktestSettings),
    /// Write a generated history (weekday commute peaks, quieter weekends, noise) into a
    /// lot's stored rollups, ending before its first stored count: to try the forecast and
    /// the backtest where no real history is stored yet.
    Generate(GenerateSettings),
}

/// Settings of `parkstream forecast backtest`.
#[derive(Debug, Clone, Args)]
pub struct BacktestSettings {
    /// The lot to replay.
    #[arg(long, value_parser = parse_lot)]
    pub lot: String,

    /// How many days back from now to replay (1 to 400; per-minute rows are kept
    /// --history-minutes-retention, 7 days by default).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=400))]
    pub days: u32,

    /// The server's database (its --database-url); only its rollups are read.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://parkstream.db", value_parser = parse_database_url)]
    pub database_url: String,
}

/// Settings of `parkstream forecast generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateSettings {
    /// The lot, which must have a stored count (creating it stores one).
    #[arg(long, value_parser = parse_lot)]
    pub lot: String,

    /// How many days to generate (1 to 7, what per-minute rows are kept by default).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=7))]
    pub days: u32,

    /// Seed of the noise: the same seed writes the same history.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// The server's database (its --database-url).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://parkstream.db", value_parser = parse_database_url)]
    pub database_url: String,
}

fn parse_lot(s: &str) -> Result<String, String> {
    LotId::parse(s).map(|id| id.as_str().to_owned())
}
